# Les phrases de l'API des appareils (`error_description`) et des pages vues par l'app.
# Les codes d'erreur et les noms de champs ne sont jamais traduits.

api-link-not-found = Cette demande de liaison n'existe pas. Recommencez la liaison dans l'app.
api-link-expired = Cette demande de liaison a expiré ou a été annulée. Recommencez la liaison dans l'app.
api-device-already-linked = Cet appareil est déjà lié à un compte. Déliez-le d'abord, dans l'app ou dans votre navigateur, avant de le lier à nouveau.
api-qr-code-invalid = Ce n'est pas un code QR valable pour lier un appareil. Scannez le code QR affiché dans votre navigateur.
api-qr-code-expired = Ce code QR a expiré. Générez un nouveau code QR dans votre navigateur et scannez-le à nouveau.
api-qr-code-already-used = Ce code QR a déjà été utilisé. Pour lier un autre appareil, générez un nouveau code QR dans votre navigateur.
api-passkey-already-registered = Cette clé d'accès est déjà enregistrée. Créez-en une nouvelle sur cet appareil.
api-invalid-product = Avec la méthode luxtrust, le produit doit être luxtrust_mobile ou luxtrust_scan.
api-passkey-options-first = Demandez d'abord les options de la clé d'accès (POST .../passkey/options).
api-link-passkey-invalid = La clé d'accès n'a pas pu être vérifiée. La biométrie (vérification de l'utilisateur) est requise ; réessayez ou passez cette étape.
api-luxtrust-cancelled = Vous avez annulé l'authentification auprès d'eAccess. Aucun appareil n'a été lié.
api-luxtrust-unverified = La réponse d'eAccess n'a pas pu être vérifiée. Aucun appareil n'a été lié ; veuillez réessayer.
api-luxtrust-not-fresh = L'authentification n'est pas assez récente. Recommencez la liaison et authentifiez-vous immédiatement.
api-luxtrust-wrong-product = Vous vous êtes authentifié avec un autre produit que celui choisi. Seul LuxTrust Mobile ou LuxTrust Scan, tel que choisi dans l'app, peut lier cet appareil.
api-account-not-registered = Vous devez d'abord vous enregistrer sur le portail dans un navigateur ; l'enregistrement n'est pas possible dans l'app.
api-product-never-used = Vous ne pouvez pas lier votre appareil avec un produit LuxTrust que vous n'avez jamais utilisé pour vous connecter au portail. Connectez-vous d'abord une fois avec ce produit dans votre navigateur.
api-invalid-luxtrust-result = Ce résultat n'est pas valable pour cette liaison, ou a déjà été utilisé. Recommencez la liaison.
api-luxtrust-link-expired-title = Cette demande de liaison a expiré
api-luxtrust-link-expired = Cette demande de liaison d'un appareil a expiré ou a déjà été utilisée. Recommencez dans l'app MyPortal.
api-device-locked = Pour votre sécurité, cet appareil est verrouillé. Liez-le à nouveau depuis votre navigateur ou avec LuxTrust.
api-invalid-device = Cet appareil n'est lié à aucun compte (ou a été délié). Liez-le à nouveau depuis votre navigateur ou avec LuxTrust.
api-biometrics-not-enabled = La biométrie n'est pas activée sur cet appareil. Ouvrez l'app avec votre code secret, ou activez la biométrie dans les réglages de l'app.
api-no-pending-ceremony = Demandez d'abord les options WebAuthn ; elles sont valables cinq minutes et pour un seul essai.
api-unlock-passkey-invalid = La vérification biométrique n'a pas pu être validée pour cet appareil. Réessayez ou utilisez votre code secret.
api-passkey-invalid = La clé d'accès n'a pas pu être vérifiée. La biométrie (vérification de l'utilisateur) est requise.
api-secret-code-format = Le code secret doit comporter exactement 6 chiffres.
api-weak-secret-code = Ce code secret est trop facile à deviner. Évitez les chiffres répétés, les suites comme 123456 et les codes courants.
api-unlock-required = Saisissez votre code secret pour continuer.
api-auth-use-dpop = Envoyez le jeton d'accès sous la forme `Authorization: DPoP <token>`.
api-auth-one-header = Envoyez exactement un en-tête Authorization.
api-auth-unreadable = L'en-tête Authorization est illisible.
api-auth-bound-token = Ce jeton d'accès est lié à la clé de l'appareil : utilisez le schéma DPoP avec une preuve, et non Bearer.
api-auth-empty = Le jeton d'accès est vide.
api-token-revoked = Ce jeton d'accès a été révoqué : l'appareil a été verrouillé ou délié, ou ses jetons ont été retirés. Ouvrez l'app à nouveau.
api-dpop-replayed = Cette preuve DPoP a déjà été utilisée ; créez une nouvelle preuve pour chaque requête.
api-not-found = Il n'y a rien à cette adresse.
api-internal-error = Une erreur s'est produite de notre côté. Veuillez réessayer plus tard.
api-service-unavailable = Le service est momentanément indisponible. Veuillez réessayer dans un instant.
api-payload-too-large = Le corps de la requête est trop volumineux.
api-send-json = Envoyez le corps de la requête en JSON avec l'en-tête Content-Type: application/json.
api-body-unreadable = Le corps de la requête n'a pas pu être lu.
api-unsupported-media-type = Le corps de la requête a un type de contenu que ce point d'accès n'accepte pas.
api-uri-too-long = L'URL de la requête est trop longue.
api-headers-too-large = Les en-têtes de la requête sont trop volumineux.
api-method-not-allowed = Cette adresse n'accepte pas cette méthode HTTP.
api-invalid-request = La requête n'a pas pu être lue.
api-rate-limited = Trop de tentatives. Veuillez patienter un moment avant de réessayer.
api-approval-pending-title = Pas encore approuvé
api-approval-pending = Scannez le code avec l'app sur votre téléphone lié et approuvez-y la connexion ; cette page continue ensuite d'elle-même.
api-approval-qr-expired = Ce code QR a expiré. Scannez à nouveau le code affiché dans votre navigateur.
api-invalid-approval = Ce code de connexion est inconnu, expiré ou déjà utilisé. Recommencez dans le navigateur.
api-approval-not-shown = Ce code de connexion n'est plus affiché. Recommencez sur le portail.
api-invalid-link-state = Cette étape n'est pas possible maintenant : la liaison est dans l'état `{ $state }`.
api-invalid-secret-code = Le code secret est erroné. { $attempts ->
    [one] Il reste un essai
   *[other] Il reste { $attempts } essais
} avant que cet appareil ne soit verrouillé.
api-invalid-query = La chaîne de requête n'est pas valable : { $detail }
api-invalid-body = Le corps de la requête n'est pas valable : { $detail }.
api-invalid-form = Le formulaire n'est pas valable : { $detail }.
api-method-not-allowed-use = Cette adresse n'accepte pas cette méthode HTTP ; utilisez { $allow }.
api-eaccess-unavailable = eAccess est injoignable pour le moment. Veuillez réessayer dans quelques minutes.
