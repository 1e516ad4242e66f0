# Les e-mails aux citoyens (src/mail/templates.rs, templates/mail/).

-brand = MyPortal
mail-hello = Bonjour { $name },
mail-label-device = Appareil
mail-label-when = Date
mail-label-confirmed-with = Confirmé avec
mail-label-unlinked = Délié
mail-label-locked = Bloqué le
mail-not-me = Ce n'était pas moi
mail-copy-address = Ou copiez cette adresse dans votre navigateur :
mail-footer = Ce message a été envoyé automatiquement suite à une modification de votre compte { -brand }. Merci de ne pas y répondre.
mail-footer-no-code = { -brand } ne vous demandera jamais votre code secret par e-mail.

mail-linked-subject = Un appareil mobile a été lié à votre compte
mail-linked-intro = Un appareil mobile a été lié à votre compte { -brand }. Il peut désormais servir à vous connecter en votre nom.
mail-linked-if-you = Si vous avez lié cet appareil, vous n'avez rien d'autre à faire.
mail-linked-if-not-you = Si ce n'était pas vous, déliez l'appareil maintenant et vérifiez votre compte :

mail-unlinked-subject = Un appareil mobile a été délié de votre compte
mail-unlinked-intro = Un appareil mobile a été délié de votre compte { -brand }. Il ne peut plus servir à vous connecter en votre nom.
mail-unlinked-by-browser = depuis votre compte dans le navigateur
mail-unlinked-by-app = depuis l'application sur l'appareil
mail-unlinked-if-you = Si c'était vous, vous n'avez rien d'autre à faire.
mail-unlinked-if-not-you = Si ce n'était pas vous, vérifiez les appareils liés à votre compte :

mail-locked-subject = Votre appareil mobile a été bloqué après trop de codes secrets erronés
mail-locked-intro = Votre appareil mobile a été bloqué après la saisie de trop de codes secrets erronés. Votre compte est en sécurité : l'appareil ne peut plus servir à vous connecter tant qu'il n'est pas débloqué.
mail-locked-how = Débloquez-le dans votre navigateur : connectez-vous, ouvrez Mes appareils et choisissez « Débloquer cet appareil ». Si vous avez oublié le code secret, choisissez « Code oublié ? » dans l'application et confirmez avec LuxTrust Mobile ou Scan : cela définit un nouveau code et débloque aussi l'appareil.
mail-locked-if-not-you = Si vous n'avez pas essayé d'ouvrir l'application, quelqu'un d'autre a peut-être votre téléphone. Vérifiez vos appareils et déliez-le si nécessaire :
mail-reset-subject = Le code secret de votre appareil mobile a été changé
mail-reset-intro = Un nouveau code secret a été défini sur votre appareil mobile après une authentification avec { $product } (« Code oublié ? » dans l'application). L'appareil reste lié ; ses sessions précédentes ont été fermées.
mail-label-reset = Changé
mail-reset-if-you = Si c'était vous, vous n'avez rien d'autre à faire. Ouvrez l'application avec votre nouveau code.
mail-reset-if-not-you = Si ce n'était pas vous, déliez l'appareil maintenant et vérifiez votre compte :
