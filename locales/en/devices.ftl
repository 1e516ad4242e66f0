# Linking a device in the browser (the QR code page) and the list of linked devices.
link-title = Link a device
link-scope = Linking covers your whole account: every eSpace, private and business, opens in the app with the same device.
link-step-open = Open the MyPortal app on your phone and choose <strong>Link your device</strong>.
link-step-name = Enter a name for the device, choose <strong>QR code</strong> and continue.
link-step-scan = Allow camera access and scan this code.
link-qr-alt = QR code to scan with the MyPortal app
link-offline = Cannot reach the server right now; retrying…
link-status-waiting = Waiting for your phone to scan the code.
link-status-scanned = Scanned by “{ $device }”. Finish linking in the app.
link-status-linked = “{ $device }” is now linked to your account.
link-status-expired = This QR code has expired. Generate a new QR code.
link-status-cancelled = This QR code was cancelled. Nothing was linked.
link-status-too-late = Too late to cancel: “{ $device }” was already linked to your account. If this was not you, unlink it now.
link-a-device = a device
link-hint-once = This code links exactly one device, once.
link-hint-expires = It expires in { $countdown }.
link-minutes = { $minutes ->
    [one] { $minutes } minute
   *[other] { $minutes } minutes
}
link-hint-animated = The picture changes every few seconds: a photo or screenshot of it soon stops working.
link-not-me = This was not me — cancel
link-new-code = Generate a new QR code
link-unlink-my-device = Unlink my device
link-back-account = Back to my account
link-check-status = Check the status
link-refresh = Refresh
link-noscript = Your browser does not run scripts, so this code does not refresh.
link-noscript-static = { $minutes ->
    [one] Show a code that stays valid for { $minutes } minute
   *[other] Show a code that stays valid for { $minutes } minutes
}
link-frame-not-found = This QR code does not exist.
link-frame-not-signed-in = Sign in again to link a device.
link-frame-csrf = Reload the page and try again.
link-landing-title = Open the MyPortal app
link-landing-heading = Scan this code with the MyPortal app
link-landing-body = This QR code links a phone to a MyPortal account. It only works in the MyPortal app: open the app, choose <strong>Link your device</strong>, then <strong>QR code</strong>, and scan the code again.
link-landing-warning = If someone sent you this code and asked you to scan it, do not: it would give them access to your account.
devices-title = My linked devices
devices-unlinked-notice = { $count ->
    [one] 1 device unlinked. It can no longer open the app on your account.
   *[other] { $count } devices unlinked. They can no longer open the app on your account.
}
devices-none = No device is linked to your account.
devices-intro = Tick the devices you want to unlink — for example a lost or stolen phone. You do not need the device itself.
devices-col-unlink = Unlink
devices-col-device = Device
devices-col-state = State
devices-col-biometrics = Biometrics
devices-col-method = Linked with
devices-col-linked-on = Linked on
devices-col-last-used = Last used
devices-unlink-one = Unlink { $device }
devices-state-locked = Locked
devices-unlock = Unlock this device
devices-unlocked-notice = The device is unlocked. Open the app and enter your secret code.
devices-not-locked-notice = This device is not locked.
devices-renamed-notice = The device was renamed.
devices-not-found-notice = This device is no longer linked to your account.
devices-rename = Rename
devices-rename-label = New name for { $device }
devices-rename-save = Save the name
devices-locked-hint = A locked device opens the app again once you unlock it here. If you forgot the secret code, choose “Forgot your code?” in the app and confirm with LuxTrust.
devices-state-active = Active
devices-biometrics-on = On
devices-biometrics-off = Off
devices-method-unknown = Unknown
devices-never-used = Never
devices-unlink-selected = Unlink the selected devices
devices-link-another = Link another device
devices-activity = Recent activity
devices-activity-hint = Anything you do not recognise? Unlink the device above and contact support.
devices-activity-filter = Show the activity of
devices-activity-all = All devices and the account
devices-activity-filter-submit = Show
devices-activity-none = Nothing to show.
devices-activity-pages = Pages of the activity
devices-activity-newer = Newer
devices-activity-older = Older
devices-activity-page = Page { $number }
devices-col-when = When
devices-col-what = What
devices-col-ip = Network address
devices-col-agent = Browser or app
devices-user-agent = { $browser } on { $os }
devices-confirm-title = Unlink devices
devices-confirm-heading = { $count ->
    [one] Unlink this device?
   *[other] Unlink these { $count } devices?
}
devices-confirm-linked-on = linked on { $date }
devices-confirm-body = { $count ->
    [one] It will no longer open the app on your account, at once. To use it again, link it again.
   *[other] They will no longer open the app on your account, at once. To use one again, link it again.
}
devices-confirm-submit = Unlink
devices-confirm-cancel = Cancel
devices-event-a-device = a device
devices-event-another-portal = another portal
devices-event-signed-in = Signed in to the portal ({ $product })
devices-event-registered = Registered on the portal
devices-event-signed-out = Signed out
devices-event-reauthenticated = Confirmed identity to manage devices
devices-event-qr-scanned = QR code scanned by “{ $device }”
devices-event-linked = Device “{ $device }” linked
devices-event-unlinked-app = Device “{ $device }” unlinked (from the app)
devices-event-unlinked-browser = Device “{ $device }” unlinked (from the browser)
devices-event-unlocked = App opened on “{ $device }”
devices-event-unlocked-browser = Device “{ $device }” unlocked in the browser
devices-event-renamed = Device renamed to “{ $device }”
devices-event-code-failed = Wrong secret code on “{ $device }”
devices-event-locked = Device “{ $device }” locked after wrong secret codes
devices-event-link-cancelled = Linking cancelled
devices-event-link-abandoned = Linking abandoned
devices-event-link-refused = Linking refused
devices-event-luxtrust = LuxTrust confirmed a device link
devices-event-portal-sign-in = Signed in to { $portal } with devicelink
devices-event-portal-consent = Allowed { $portal } to receive your details
devices-event-link-started = Linking started
devices-event-code-changed = Secret code of “{ $device }” changed
devices-event-code-reset = New secret code on “{ $device }” after LuxTrust
devices-event-bio-on = Biometrics turned on for “{ $device }”
devices-event-bio-off = Biometrics turned off for “{ $device }”
devices-event-email-changed = E-mail address changed
devices-event-token-reused = A used token of “{ $device }” was presented again; its sessions were ended
