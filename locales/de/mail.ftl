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
mail-locked-how = Entsperren Sie es in Ihrem Browser: Melden Sie sich an, öffnen Sie Meine Geräte und wählen Sie „Dieses Gerät entsperren“. Wenn Sie den Geheimcode vergessen haben, wählen Sie in der App „Code vergessen?“ und bestätigen Sie mit LuxTrust Mobile oder Scan: So legen Sie einen neuen Code fest, und das Gerät wird auch entsperrt.
mail-locked-if-not-you = Wenn Sie nicht versucht haben, die App zu öffnen, hat vielleicht jemand anderes Ihr Telefon. Prüfen Sie Ihre Geräte und entfernen Sie es, falls nötig:
mail-reset-subject = Der Geheimcode Ihres Mobilgeräts wurde geändert
mail-reset-intro = Auf Ihrem Mobilgerät wurde nach einer Authentifizierung mit { $product } ein neuer Geheimcode festgelegt („Code vergessen?“ in der App). Das Gerät bleibt verknüpft; seine bisherigen Sitzungen wurden beendet.
mail-label-reset = Geändert
mail-reset-if-you = Wenn Sie das waren, müssen Sie nichts weiter tun. Öffnen Sie die App mit Ihrem neuen Code.
mail-reset-if-not-you = Wenn Sie das nicht waren, entfernen Sie das Gerät jetzt und prüfen Sie Ihr Konto:
