# Die Fehlerseiten, die jede Browserseite zeigen kann.

page-not-found-title = Seite nicht gefunden
page-not-found = Unter dieser Adresse gibt es keine Seite. Prüfen Sie den Link oder kehren Sie zur Startseite zurück.
page-internal-error-title = Etwas ist schiefgelaufen
page-internal-error = Bei uns ist ein Fehler aufgetreten. Bitte versuchen Sie es in ein paar Minuten erneut.
page-unavailable-title = Vorübergehend nicht verfügbar
page-rate-limited-title = Zu viele Versuche
page-invalid-link-title = Dieser Link ist nicht gültig
page-invalid-link = Die Adresse, der Sie gefolgt sind, ist unvollständig oder beschädigt. Gehen Sie zurück und versuchen Sie es erneut.
page-invalid-form-title = Das Formular konnte nicht gelesen werden
page-invalid-form = Was gesendet wurde, ist unvollständig oder beschädigt. Gehen Sie zurück, laden Sie die Seite neu und versuchen Sie es erneut.
page-bad-request-title = Diese Anfrage konnte nicht bearbeitet werden
page-bad-request = Was gesendet wurde, ist zu groß, unvollständig oder beschädigt. Gehen Sie zurück, laden Sie die Seite neu und versuchen Sie es erneut.
page-method-not-allowed = Diese Adresse nimmt diese Art von Anfrage nicht an. Gehen Sie zurück, laden Sie die Seite neu und versuchen Sie es erneut.
page-rate-limited = Zu viele Versuche. Bitte warten Sie { $seconds } Sekunden, bevor Sie es erneut versuchen.
page-csrf-title = Dieses Formular ist abgelaufen
page-csrf = Zu Ihrer Sicherheit kann dieses Formular nicht mehr gesendet werden. Gehen Sie zurück, laden Sie die Seite neu und versuchen Sie es erneut.
page-invalid-language-title = Unbekannte Sprache
page-invalid-language = Diese Sprache wird nicht angeboten. Wählen Sie Französisch, Deutsch oder Englisch.
page-eaccess-unavailable-title = eAccess ist nicht erreichbar
page-eaccess-unavailable = Das staatliche Authentifizierungsportal (eAccess) ist im Moment nicht erreichbar. Bitte versuchen Sie es in ein paar Minuten erneut.
