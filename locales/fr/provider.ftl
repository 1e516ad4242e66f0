# devicelink comme fournisseur OpenID : les pages vues en se connectant à un autre portail.

provider-choose-title = Se connecter à { $portal }
provider-choose-intro = { $portal } demande à devicelink de confirmer votre identité. Choisissez comment vous connecter.
provider-sign-in-eaccess = Se connecter avec eAccess
provider-sign-in-app = Se connecter avec votre application mobile
provider-cancel-back = Annuler et revenir à { $portal }

provider-consent-title = Partager vos données avec { $portal } ?
provider-consent-intro = { $portal } souhaite vous connecter et recevoir :
provider-consent-allow = Autoriser et continuer
provider-consent-deny = Ne pas autoriser
provider-consent-remember = Nous retenons votre réponse pour { $portal } ; chaque connexion figure dans votre liste d'activité.
provider-scope-sub = Un identifiant stable de votre compte
provider-scope-profile = Votre nom
provider-scope-email = Votre adresse e-mail
provider-scope-offline = Un accès en votre absence (jusqu'à votre déconnexion)

provider-app-title = Se connecter à { $portal } avec votre application mobile
provider-app-step-open = Ouvrez l'application sur votre téléphone lié et choisissez « Se connecter à un portail ».
provider-app-step-scan = Scannez ce code. L'application indique que { $portal } fait la demande.
provider-app-step-approve = Approuvez avec votre code secret ou la biométrie. Cette page continue ensuite d'elle-même.
provider-app-qr-alt = Code QR à scanner avec l'application
provider-app-static-once = Le code fonctionne une fois, pendant { $minutes } minutes.
provider-app-animated = Le code change toutes les quelques secondes, pour que seul un téléphone devant cet écran puisse l'utiliser. Il fonctionne une fois, pendant { $minutes } minutes.
provider-app-noscript = Sans JavaScript, le code ne peut pas changer :
provider-app-noscript-static = afficher un code qui reste le même
provider-app-continue = J'ai approuvé dans l'application — continuer
provider-app-cancel = Annuler
provider-app-shown = En attente de votre téléphone…
provider-app-scanned = Scanné. Approuvez sur votre téléphone avec votre code secret ou la biométrie.
provider-app-approved = Approuvé. Suite en cours…
provider-app-refused = Refusé dans l'application. Retour au portail…
provider-app-expired = Le code a expiré. Retour au portail…
provider-app-locked = L'application est bloquée. Retour au portail…

provider-landing-title = Ouvrez l'application MyPortal
provider-landing-heading = Scannez ce code avec l'application MyPortal
provider-landing-body = Ce code QR vous connecte à un portail. Il ne fonctionne que dans l'application MyPortal : ouvrez l'application, choisissez « Se connecter à un portail » et scannez à nouveau le code.
provider-landing-warning = Si quelqu'un vous a envoyé ce code en vous demandant de le scanner, ne le faites pas : cela le connecterait en votre nom.

# "I approved in the app — continue" before the app approved (no JavaScript).
provider-waiting-next = Approuvez sur votre téléphone lié, puis vérifiez à nouveau ici. Ou revenez à { $portal } sans vous connecter.
provider-waiting-check-again = Vérifier à nouveau
provider-waiting-show-code = Afficher à nouveau le code
# Les pages d'erreur du fournisseur.
provider-error-invalid-request-title = Cette demande de connexion n'est pas valide
provider-error-repeated-parameter = Le portail a envoyé une demande avec un paramètre répété. Retournez au portail et réessayez.
provider-error-unknown-portal-title = Portail inconnu
provider-error-unknown-portal = Le portail qui vous a envoyé ici n'est pas enregistré auprès de devicelink. Rien n'a été partagé.
provider-error-expired-title = Cette demande de connexion a expiré
provider-error-expired = La demande de connexion du portail a déjà été utilisée ou est trop ancienne. Retournez au portail et recommencez.
provider-error-unregistered-redirect = Le portail a demandé à vous renvoyer vers une adresse qu'il n'a pas enregistrée. Rien n'a été partagé.
provider-error-logout-title = Cette demande de déconnexion n'est pas valide
provider-error-logout-repeated = Le portail a envoyé une demande avec un paramètre répété.
provider-error-logout-unverified = Le portail a envoyé une demande de déconnexion que devicelink ne peut pas vérifier. Vous êtes toujours connecté.
provider-error-logout-client-mismatch = Le portail a nommé un autre client que celui de son jeton d'identité.
provider-error-logout-unregistered = Le portail a demandé à vous renvoyer vers une adresse qu'il n'a pas enregistrée.
provider-gone-title = Cette connexion n'est plus valable
provider-gone = Cette connexion a expiré ou est déjà terminée. Retournez au portail et recommencez.
