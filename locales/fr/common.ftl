# Commun à toutes les zones : sélecteur de langue, nombres, cadre des pages.
lang-switcher-label = Langue
lang-switcher-submit = Changer de langue
plural-devices = { $count ->
    [one] { $count } appareil
   *[other] { $count } appareils
}
base-skip = Aller au contenu
base-nav-account = Compte
base-link-device = Lier un appareil
base-my-devices = Mes appareils
base-sign-out = Se déconnecter
base-footer = MyPortal · sécurisé par devicelink
# Authentication products (shared by the portal, the mock eAccess, the mails and the provider).
product-luxtrust-mobile = LuxTrust Mobile
product-luxtrust-scan = LuxTrust Scan
product-luxtrust-token = LuxTrust Token
product-eid-card = Carte d'identité (eID)
link-method-qr = Code QR depuis votre navigateur
