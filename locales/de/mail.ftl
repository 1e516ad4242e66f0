# E-Mails an Bürgerinnen und Bürger (src/mail/templates.rs, templates/mail/).

-brand = MyPortal
mail-hello = Guten Tag { $name },
mail-label-device = Gerät
mail-label-when = Zeitpunkt
mail-label-confirmed-with = Bestätigt mit
mail-label-unlinked = Entfernt
mail-label-locked = Gesperrt am
mail-not-me = Das war ich nicht
mail-copy-address = Oder kopieren Sie diese Adresse in Ihren Browser:
mail-footer = Diese Nachricht wurde automatisch wegen einer Änderung an Ihrem { -brand }-Konto gesendet. Bitte antworten Sie nicht darauf.
mail-footer-no-code = { -brand } wird Sie nie per E-Mail nach Ihrem Geheimcode fragen.

mail-linked-subject = Ein Mobilgerät wurde mit Ihrem Konto verknüpft
mail-linked-intro = Ein Mobilgerät wurde mit Ihrem { -brand }-Konto verknüpft. Damit kann man sich jetzt als Sie anmelden.
mail-linked-if-you = Wenn Sie dieses Gerät verknüpft haben, ist nichts weiter zu tun.
mail-linked-if-not-you = Wenn Sie das nicht waren, entfernen Sie das Gerät jetzt und prüfen Sie Ihr Konto:

mail-unlinked-subject = Ein Mobilgerät wurde von Ihrem Konto entfernt
mail-unlinked-intro = Ein Mobilgerät wurde von Ihrem { -brand }-Konto entfernt. Damit kann man sich nicht mehr als Sie anmelden.
mail-unlinked-by-browser = über Ihr Konto im Browser
mail-unlinked-by-app = über die App auf dem Gerät
mail-unlinked-if-you = Wenn Sie das waren, ist nichts weiter zu tun.
mail-unlinked-if-not-you = Wenn Sie das nicht waren, prüfen Sie die mit Ihrem Konto verknüpften Geräte:

mail-locked-subject = Ihr Mobilgerät wurde nach zu vielen falschen Geheimcodes gesperrt
mail-locked-intro = Ihr Mobilgerät wurde gesperrt, nachdem zu viele falsche Geheimcodes eingegeben wurden. Ihr Konto ist sicher: Mit dem Gerät kann man sich erst wieder anmelden, wenn es entsperrt ist.
mail-locked-how = Entsperren Sie es in Ihrem Browser: Melden Sie sich an, öffnen Sie Meine Geräte und wählen Sie „Dieses Gerät entsperren“. Wenn Sie den Geheimcode vergessen haben, entfernen Sie das Gerät dort und verknüpfen Sie es erneut.
mail-locked-if-not-you = Wenn Sie nicht versucht haben, die App zu öffnen, hat vielleicht jemand anderes Ihr Telefon. Prüfen Sie Ihre Geräte und entfernen Sie es, falls nötig:
