# Allen Bereichen gemeinsam: Sprachwahl, Anzahlen, Seitenrahmen.
lang-switcher-label = Sprache
lang-switcher-submit = Sprache wechseln
plural-devices = { $count ->
    [one] { $count } Gerät
   *[other] { $count } Geräte
}
base-skip = Zum Inhalt springen
base-nav-account = Konto
base-link-device = Gerät verknüpfen
base-my-devices = Meine Geräte
base-sign-out = Abmelden
base-footer = MyPortal · gesichert durch devicelink
# Authentication products (shared by the portal, the mock eAccess, the mails and the provider).
product-luxtrust-mobile = LuxTrust Mobile
product-luxtrust-scan = LuxTrust Scan
product-luxtrust-token = LuxTrust Token
product-eid-card = Personalausweis (eID)
link-method-qr = QR-Code aus Ihrem Browser
