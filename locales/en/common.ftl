# Shared by every area: the language switcher, counts, the page frame.
lang-switcher-label = Language
lang-switcher-submit = Change language
plural-devices = { $count ->
    [one] { $count } device
   *[other] { $count } devices
}
base-skip = Skip to content
base-nav-account = Account
base-link-device = Link a device
base-my-devices = My devices
base-sign-out = Sign out
base-footer = MyPortal · secured by devicelink
# Authentication products (shared by the portal, the mock eAccess, the mails and the provider).
product-luxtrust-mobile = LuxTrust Mobile
product-luxtrust-scan = LuxTrust Scan
product-luxtrust-token = LuxTrust Token
product-eid-card = Identity card (eID)
link-method-qr = QR code from your browser
