# devicelink as OpenID provider: the pages a citizen sees while signing in to another
# portal (templates/provider_*.html, approve_landing.html, static/provider-approve.js).

provider-choose-title = Sign in to { $portal }
provider-choose-intro = { $portal } asks devicelink to confirm who you are. Choose how to sign in.
provider-sign-in-eaccess = Sign in with eAccess
provider-sign-in-app = Sign in with your mobile app
provider-cancel-back = Cancel and go back to { $portal }

provider-consent-title = Share your details with { $portal }?
provider-consent-intro = { $portal } would like to sign you in and receive:
provider-consent-allow = Allow and continue
provider-consent-deny = Do not allow
provider-consent-remember = We remember your answer for { $portal }; you can see each sign-in in your activity list.
provider-scope-sub = A stable identifier of your account
provider-scope-profile = Your name
provider-scope-email = Your e-mail address
provider-scope-offline = Access while you are away (until you sign out)

provider-app-title = Sign in to { $portal } with your mobile app
provider-app-step-open = Open the app on your linked phone and choose “Sign in to a portal”.
provider-app-step-scan = Scan this code. The app shows that { $portal } is asking.
provider-app-step-approve = Approve with your secret code or biometrics. This page then continues by itself.
provider-app-qr-alt = QR code to scan with the app
provider-app-static-once = The code works once and for { $minutes } minutes.
provider-app-animated = The code changes every few seconds, so that only a phone in front of this screen can use it. It works once, for { $minutes } minutes.
provider-app-noscript = Without JavaScript the code cannot change:
provider-app-noscript-static = show a code that stays the same
provider-app-continue = I approved in the app — continue
provider-app-cancel = Cancel
provider-app-shown = Waiting for your phone…
provider-app-scanned = Scanned. Approve on your phone with your secret code or biometrics.
provider-app-approved = Approved. Continuing…
provider-app-refused = Refused in the app. Returning to the portal…
provider-app-expired = The code has expired. Returning to the portal…
provider-app-locked = The app is locked. Returning to the portal…

provider-landing-title = Open the MyPortal app
provider-landing-heading = Scan this code with the MyPortal app
provider-landing-body = This QR code signs you in to a portal. It only works in the MyPortal app: open the app, choose “Sign in to a portal”, and scan the code again.
provider-landing-warning = If someone sent you this code and asked you to scan it, do not: it would sign them in as you.

# "I approved in the app — continue" before the app approved (no JavaScript).
provider-waiting-next = Approve on your linked phone, then check again here. Or go back to { $portal } without signing in.
provider-waiting-check-again = Check again
provider-waiting-show-code = Show the code again
# The provider's error pages.
provider-error-invalid-request-title = This sign-in request is not valid
provider-error-repeated-parameter = The portal sent a request with a repeated parameter. Go back to the portal and try again.
provider-error-unknown-portal-title = Unknown portal
provider-error-unknown-portal = The portal that sent you here is not registered with devicelink. Nothing was shared.
provider-error-expired-title = This sign-in request has expired
provider-error-expired = The portal's sign-in request was already used or is too old. Go back to the portal and start again.
provider-error-unregistered-redirect = The portal asked to send you back to an address it has not registered. Nothing was shared.
provider-error-logout-title = This sign-out request is not valid
provider-error-logout-repeated = The portal sent a request with a repeated parameter.
provider-error-logout-unverified = The portal sent a sign-out request devicelink cannot verify. You are still signed in.
provider-error-logout-client-mismatch = The portal named another client than the one of its ID token.
provider-error-logout-unregistered = The portal asked to send you back to an address it has not registered.
provider-gone-title = This sign-in is no longer valid
provider-gone = This sign-in has expired or was already completed. Go back to the portal and start again.
