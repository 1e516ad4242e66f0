# E-mails to citizens (src/mail/templates.rs, templates/mail/). Rendered in the account's
# language when the event happens, then stored in the outbox as sent.

-brand = MyPortal
mail-hello = Hello { $name },
mail-label-device = Device
mail-label-when = When
mail-label-confirmed-with = Confirmed with
mail-label-unlinked = Unlinked
mail-label-locked = Locked
mail-not-me = This was not me
mail-copy-address = Or copy this address into your browser:
mail-footer = This message was sent automatically because of a change to your { -brand } account. Please do not reply to it.
mail-footer-no-code = { -brand } will never ask you for your secret code by e-mail.

mail-linked-subject = A mobile device was linked to your account
mail-linked-intro = A mobile device was linked to your { -brand } account. It can now be used to sign in as you.
mail-linked-if-you = If you linked this device, there is nothing more to do.
mail-linked-if-not-you = If this was not you, unlink the device now and check your account:

mail-unlinked-subject = A mobile device was unlinked from your account
mail-unlinked-intro = A mobile device was unlinked from your { -brand } account. It can no longer be used to sign in as you.
mail-unlinked-by-browser = from your account in the browser
mail-unlinked-by-app = from the app on the device
mail-unlinked-if-you = If you did this, there is nothing more to do.
mail-unlinked-if-not-you = If this was not you, check the devices linked to your account:

mail-locked-subject = Your mobile device was locked after too many wrong secret codes
mail-locked-intro = Your mobile device was locked after too many wrong secret codes were entered. Your account is safe: the device cannot be used to sign in until it is unlocked.
# The same words as the app's refusal (api-device-locked) and the device list's hint.
mail-locked-how = Unlock it in your browser: sign in, open My devices and choose “Unlock this device”. If you forgot the secret code, choose “Forgot your code?” in the app and confirm with LuxTrust Mobile or Scan: that sets a new code and unlocks the device too.
mail-locked-if-not-you = If you did not try to open the app, someone else may have your phone. Check your devices and unlink it if needed:
mail-reset-subject = The secret code of your mobile device was changed
mail-reset-intro = A new secret code was set on your mobile device after an authentication with { $product } (“Forgot your code?” in the app). The device stays linked; its earlier sessions were ended.
mail-label-reset = Changed
mail-reset-if-you = If you did this, there is nothing more to do. Open the app with your new code.
mail-reset-if-not-you = If this was not you, unlink the device now and check your account:
