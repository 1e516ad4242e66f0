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
base-sign-out = Sign out
base-footer = MyPortal · secured by devicelink
