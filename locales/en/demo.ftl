# The demo portal (src/demo_portal.rs, templates/demo_portal.html): a relying party of
# devicelink, as another public-sector portal would be.

demo-brand = Demo portal
demo-tagline = a relying party of devicelink
demo-home-title = Welcome
demo-intro = This portal signs citizens in through devicelink, which it finds by its discovery document. devicelink lets you choose eAccess or your linked mobile app.
demo-sign-in = Sign in with devicelink
demo-signed-in-title = Signed in
demo-claims-intro = The ID token was checked against devicelink's published keys; these are its claims and the userinfo answer.
demo-sign-in-again = Sign in again
demo-sign-out = Sign out
demo-signed-out = You have signed out of the demo portal and of devicelink.
demo-issuer = Issuer: { $issuer }
demo-try-again = Try again
demo-back-home = Back to the demo portal
demo-denied-title = You did not allow the sign-in
demo-denied = Nothing was shared with the demo portal. You can sign in again at any time.
demo-failed-title = Sign-in failed
demo-refused = devicelink did not sign you in ({ $error }): { $description }
demo-unknown-state = This sign-in is unknown or was already used. Start again.
demo-other-issuer = The answer does not come from devicelink. Start again.
demo-no-code = The answer carries no authorization code. Start again.
demo-unreachable = devicelink could not be reached or gave an answer that could not be checked. Try again in a moment.
