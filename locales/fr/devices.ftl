# Lier un appareil dans le navigateur (la page du code QR) et la liste des appareils liés.
link-title = Lier un appareil
link-scope = La liaison vaut pour tout votre compte : chaque eSpace, privé et professionnel, s'ouvre dans l'application avec le même appareil.
link-step-open = Ouvrez l'application MyPortal sur votre téléphone et choisissez <strong>Lier votre appareil</strong>.
link-step-name = Saisissez un nom pour l'appareil, choisissez <strong>Code QR</strong> et continuez.
link-step-scan = Autorisez l'accès à la caméra et scannez ce code.
link-qr-alt = Code QR à scanner avec l'application MyPortal
link-offline = Le serveur est injoignable pour le moment ; nouvel essai…
link-status-waiting = En attente du scan du code par votre téléphone.
link-status-scanned = Scanné par « { $device } ». Terminez la liaison dans l'application.
link-status-linked = « { $device } » est maintenant lié à votre compte.
link-status-expired = Ce code QR a expiré. Générez un nouveau code QR.
link-status-cancelled = Ce code QR a été annulé. Aucun appareil n'a été lié.
link-status-too-late = Trop tard pour annuler : « { $device } » a déjà été lié à votre compte. Si ce n'était pas vous, déliez-le maintenant.
link-a-device = un appareil
link-hint-once = Ce code lie un seul appareil, une seule fois.
link-hint-expires = Il expire dans { $countdown }.
link-minutes = { $minutes ->
    [one] { $minutes } minute
   *[other] { $minutes } minutes
}
link-hint-animated = L'image change toutes les quelques secondes : une photo ou une capture d'écran cesse vite de fonctionner.
link-not-me = Ce n'était pas moi — annuler
link-new-code = Générer un nouveau code QR
link-unlink-my-device = Délier mon appareil
link-back-account = Retour à mon compte
link-check-status = Vérifier l'état
link-refresh = Actualiser
link-noscript = Votre navigateur n'exécute pas de scripts ; ce code ne se renouvelle donc pas.
link-noscript-static = { $minutes ->
    [one] Afficher un code valable { $minutes } minute
   *[other] Afficher un code valable { $minutes } minutes
}
link-frame-not-found = Ce code QR n'existe pas.
link-frame-not-signed-in = Reconnectez-vous pour lier un appareil.
link-frame-csrf = Rechargez la page et réessayez.
link-landing-title = Ouvrez l'application MyPortal
link-landing-heading = Scannez ce code avec l'application MyPortal
link-landing-body = Ce code QR lie un téléphone à un compte MyPortal. Il ne fonctionne que dans l'application MyPortal : ouvrez l'application, choisissez <strong>Lier votre appareil</strong>, puis <strong>Code QR</strong>, et scannez à nouveau le code.
link-landing-warning = Si quelqu'un vous a envoyé ce code en vous demandant de le scanner, ne le faites pas : cette personne aurait accès à votre compte.
devices-title = Mes appareils liés
devices-unlinked-notice = { $count ->
    [one] 1 appareil délié. Il ne peut plus ouvrir l'application sur votre compte.
   *[other] { $count } appareils déliés. Ils ne peuvent plus ouvrir l'application sur votre compte.
}
devices-none = Aucun appareil n'est lié à votre compte.
devices-intro = Cochez les appareils que vous voulez délier, par exemple un téléphone perdu ou volé. L'appareil lui-même n'est pas nécessaire.
devices-col-unlink = Délier
devices-col-device = Appareil
devices-col-state = État
devices-col-biometrics = Biométrie
devices-col-method = Lié avec
devices-col-linked-on = Lié le
devices-col-last-used = Dernière utilisation
devices-unlink-one = Délier { $device }
devices-state-locked = Bloqué
devices-unlock = Débloquer cet appareil
devices-unlocked-notice = L'appareil est débloqué. Ouvrez l'application et saisissez votre code secret.
devices-not-locked-notice = Cet appareil n'est pas bloqué.
devices-renamed-notice = L'appareil a été renommé.
devices-not-found-notice = Cet appareil n'est plus lié à votre compte.
devices-rename = Renommer
devices-rename-label = Nouveau nom pour { $device }
devices-rename-save = Enregistrer le nom
devices-locked-hint = Un appareil bloqué ouvre à nouveau l'application dès que vous le débloquez ici. Si vous avez oublié le code secret, choisissez « Code oublié ? » dans l'application et confirmez avec LuxTrust.
devices-state-active = Actif
devices-biometrics-on = Activée
devices-biometrics-off = Désactivée
devices-method-unknown = Inconnu
devices-never-used = Jamais
devices-unlink-selected = Délier les appareils sélectionnés
devices-link-another = Lier un autre appareil
devices-activity = Activité récente
devices-activity-hint = Vous ne reconnaissez pas quelque chose ? Déliez l'appareil ci-dessus et contactez le support.
devices-activity-filter = Afficher l'activité de
devices-activity-all = Tous les appareils et le compte
devices-activity-filter-submit = Afficher
devices-activity-none = Rien à afficher.
devices-activity-pages = Pages de l'activité
devices-activity-newer = Plus récentes
devices-activity-older = Plus anciennes
devices-activity-page = Page { $number }
devices-col-when = Quand
devices-col-what = Quoi
devices-col-ip = Adresse réseau
devices-col-agent = Navigateur ou application
devices-user-agent = { $browser } sur { $os }
devices-confirm-title = Délier des appareils
devices-confirm-heading = { $count ->
    [one] Délier cet appareil ?
   *[other] Délier ces { $count } appareils ?
}
devices-confirm-linked-on = lié le { $date }
devices-confirm-body = { $count ->
    [one] Il n'ouvrira plus l'application sur votre compte, avec effet immédiat. Pour l'utiliser à nouveau, liez-le à nouveau.
   *[other] Ils n'ouvriront plus l'application sur votre compte, avec effet immédiat. Pour en utiliser un à nouveau, liez-le à nouveau.
}
devices-confirm-submit = Délier
devices-confirm-cancel = Annuler
devices-event-a-device = un appareil
devices-event-another-portal = un autre portail
devices-event-signed-in = Connexion au portail ({ $product })
devices-event-registered = Enregistrement sur le portail
devices-event-signed-out = Déconnexion
devices-event-reauthenticated = Identité confirmée pour gérer les appareils
devices-event-qr-scanned = Code QR scanné par « { $device } »
devices-event-linked = Appareil « { $device } » lié
devices-event-unlinked-app = Appareil « { $device } » délié (depuis l'application)
devices-event-unlinked-browser = Appareil « { $device } » délié (depuis le navigateur)
devices-event-unlocked = Application ouverte sur « { $device } »
devices-event-unlocked-browser = Appareil « { $device } » débloqué dans le navigateur
devices-event-renamed = Appareil renommé en « { $device } »
devices-event-code-failed = Code secret erroné sur « { $device } »
devices-event-locked = Appareil « { $device } » bloqué après des codes secrets erronés
devices-event-link-cancelled = Liaison annulée
devices-event-link-abandoned = Liaison abandonnée
devices-event-link-refused = Liaison refusée
devices-event-luxtrust = LuxTrust a confirmé la liaison d'un appareil
devices-event-portal-sign-in = Connexion à { $portal } avec devicelink
devices-event-portal-consent = Autorisation donnée à { $portal } de recevoir vos données
devices-event-link-started = Liaison commencée
devices-event-code-changed = Code secret de « { $device } » changé
devices-event-code-reset = Nouveau code secret sur « { $device } » après LuxTrust
devices-event-bio-on = Biométrie activée pour « { $device } »
devices-event-bio-off = Biométrie désactivée pour « { $device } »
devices-event-email-changed = Adresse e-mail modifiée
devices-event-token-reused = Un jeton déjà utilisé de « { $device } » a été présenté à nouveau ; ses sessions ont été fermées
