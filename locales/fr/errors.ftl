# Les pages d'erreur que toute page du navigateur peut afficher.

page-not-found-title = Page introuvable
page-not-found = Il n'y a pas de page à cette adresse. Vérifiez le lien ou revenez à la page d'accueil.
page-internal-error-title = Une erreur s'est produite
page-internal-error = Une erreur s'est produite de notre côté. Veuillez réessayer dans quelques minutes.
page-unavailable-title = Momentanément indisponible
page-rate-limited-title = Trop de tentatives
page-invalid-link-title = Ce lien n'est pas valable
page-invalid-link = L'adresse que vous avez suivie est incomplète ou endommagée. Revenez en arrière et réessayez.
page-invalid-form-title = Le formulaire n'a pas pu être lu
page-invalid-form = Ce qui a été envoyé est incomplet ou endommagé. Revenez en arrière, rechargez la page et réessayez.
page-bad-request-title = Cette demande n'a pas pu être traitée
page-bad-request = Ce qui a été envoyé est trop volumineux, incomplet ou endommagé. Revenez en arrière, rechargez la page et réessayez.
page-method-not-allowed = Cette adresse n'accepte pas ce type de demande. Revenez en arrière, rechargez la page et réessayez.
page-rate-limited = Trop de tentatives. Veuillez patienter { $seconds } secondes avant de réessayer.
page-csrf-title = Ce formulaire a expiré
page-csrf = Pour votre sécurité, ce formulaire ne peut plus être envoyé. Revenez en arrière, rechargez la page et réessayez.
page-invalid-language-title = Langue inconnue
page-invalid-language = Cette langue n'est pas proposée. Choisissez le français, l'allemand ou l'anglais.
page-eaccess-unavailable-title = eAccess est injoignable
page-eaccess-unavailable = Le portail d'authentification de l'État (eAccess) est injoignable pour le moment. Veuillez réessayer dans quelques minutes.
