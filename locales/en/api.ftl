# The sentences of the device API (`error_description`) and of the app-facing pages.
# Error codes and field names are never translated.

api-link-not-found = This link request does not exist. Start linking again in the app.
api-link-expired = This link request has expired or was cancelled. Start linking again in the app.
api-device-already-linked = This device is already linked to an account. Unlink it first, in the app or in your browser, before linking it again.
api-qr-code-invalid = This is not a valid QR code for linking a device. Scan the QR code shown in your browser.
api-qr-code-expired = This QR code has expired. Generate a new QR code in your browser and scan it again.
api-qr-code-already-used = This QR code has already been used. To link another device, generate a new QR code in your browser.
api-passkey-already-registered = This passkey is already registered. Create a new one on this device.
api-invalid-product = With the luxtrust method, product must be luxtrust_mobile or luxtrust_scan.
api-passkey-options-first = Ask for passkey options first (POST .../passkey/options).
api-link-passkey-invalid = The passkey could not be verified. Biometrics (user verification) are required; try again or skip this step.
api-luxtrust-cancelled = You cancelled the authentication at eAccess. Nothing was linked.
api-luxtrust-unverified = The answer from eAccess could not be verified. Nothing was linked; please try again.
api-luxtrust-not-fresh = The authentication is not recent enough. Please start linking again and authenticate right away.
api-luxtrust-wrong-product = You authenticated with another product than the one you chose. Only LuxTrust Mobile or LuxTrust Scan, as chosen in the app, can link this device.
api-account-not-registered = You must first register on the portal in a web browser; registration is not possible in the app.
api-product-never-used = You cannot link your device with a LuxTrust product that you have never used to sign in to the portal. Sign in once in your browser with it first.
api-invalid-luxtrust-result = This result is not valid for this link, or was already used. Start linking again.
api-luxtrust-link-expired-title = This link request has expired
api-luxtrust-link-expired = This request to link a device has expired or was already used. Start again in the MyPortal app.
api-device-locked = For your security this device is locked. Link it again from your browser or with LuxTrust.
api-invalid-device = This device is not linked to an account (or was unlinked). Link it again from your browser or with LuxTrust.
api-biometrics-not-enabled = Biometrics are not turned on for this device. Open the app with your secret code, or turn biometrics on in the app's settings.
api-no-pending-ceremony = Ask for WebAuthn options first; they are valid for five minutes and for one attempt.
api-unlock-passkey-invalid = The biometric check could not be verified for this device. Try again or use your secret code.
api-passkey-invalid = The passkey could not be verified. Biometrics (user verification) are required.
api-secret-code-format = The secret code must be exactly 6 digits.
api-weak-secret-code = This secret code is too easy to guess. Avoid repeated digits, sequences like 123456 and common codes.
api-unlock-required = Enter your secret code to continue.
api-auth-use-dpop = Send the access token as `Authorization: DPoP <token>`.
api-auth-one-header = Send exactly one Authorization header.
api-auth-unreadable = The Authorization header is not readable.
api-auth-bound-token = This access token is bound to the device key: use the DPoP scheme with a proof, not Bearer.
api-auth-empty = The access token is empty.
api-token-revoked = This access token was revoked: the device was locked or unlinked, or its tokens were withdrawn. Open the app again.
api-dpop-replayed = This DPoP proof was already used; make a new proof for every request.
api-not-found = There is nothing at this address.
api-internal-error = Something went wrong on our side. Please try again later.
api-service-unavailable = The service is temporarily unavailable. Please try again in a moment.
api-payload-too-large = The request body is too large.
api-send-json = Send the request body as JSON with the header Content-Type: application/json.
api-body-unreadable = The request body could not be read.
api-unsupported-media-type = The request body has a content type this endpoint does not take.
api-uri-too-long = The request URL is too long.
api-headers-too-large = The request headers are too large.
api-method-not-allowed = This address does not take this HTTP method.
api-invalid-request = The request could not be read.
api-rate-limited = Too many attempts. Please wait a moment before trying again.
api-approval-pending-title = Not approved yet
api-approval-pending = Scan the code with the app on your linked phone and approve there; this page then continues by itself.
api-approval-qr-expired = This QR code has expired. Scan the code shown in your browser again.
api-invalid-approval = This sign-in code is unknown, expired or already used. Start again in the browser.
api-approval-not-shown = This sign-in code is no longer shown. Start again at the portal.
api-invalid-link-state = This step cannot be done now: the link is in state `{ $state }`.
api-invalid-secret-code = The secret code is wrong. { $attempts ->
    [one] One attempt is
   *[other] { $attempts } attempts are
} left before this device is locked.
api-invalid-query = The query string is not valid: { $detail }
api-invalid-body = The request body is not valid: { $detail }.
api-invalid-form = The form is not valid: { $detail }.
api-method-not-allowed-use = This address does not take this HTTP method; use { $allow }.
api-eaccess-unavailable = eAccess cannot be reached right now. Please try again in a few minutes.
