# Le portail de démonstration (src/demo_portal.rs, templates/demo_portal.html).

demo-brand = Portail de démonstration
demo-tagline = un client de devicelink
demo-home-title = Bienvenue
demo-intro = Ce portail connecte les citoyens via devicelink, qu'il trouve par son document de découverte. devicelink vous laisse choisir eAccess ou votre application mobile liée.
demo-sign-in = Se connecter avec devicelink
demo-signed-in-title = Connecté
demo-claims-intro = Le jeton d'identité a été vérifié avec les clés publiées par devicelink ; voici ses attributs et la réponse userinfo.
demo-sign-in-again = Se reconnecter
demo-sign-out = Se déconnecter
demo-signed-out = Vous êtes déconnecté du portail de démonstration et de devicelink.
demo-issuer = Émetteur : { $issuer }
demo-try-again = Réessayer
demo-back-home = Retour au portail de démonstration
demo-denied-title = Vous n'avez pas autorisé la connexion
demo-denied = Rien n'a été transmis au portail de démonstration. Vous pouvez vous reconnecter à tout moment.
demo-failed-title = La connexion a échoué
demo-refused = devicelink ne vous a pas connecté ({ $error }) : { $description }
demo-unknown-state = Cette connexion est inconnue ou a déjà été utilisée. Recommencez.
demo-other-issuer = La réponse ne vient pas de devicelink. Recommencez.
demo-no-code = La réponse ne contient pas de code d'autorisation. Recommencez.
demo-unreachable = devicelink n'a pas pu être joint ou a donné une réponse invérifiable. Réessayez dans un instant.
