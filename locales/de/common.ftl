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
base-sign-out = Abmelden
base-footer = MyPortal · gesichert durch devicelink
