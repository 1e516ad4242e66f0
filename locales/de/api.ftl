# Die Sätze der Geräte-API (`error_description`) und der Seiten, die die App sieht.
# Fehlercodes und Feldnamen werden nie übersetzt.

api-link-not-found = Diese Verknüpfungsanfrage gibt es nicht. Beginnen Sie die Verknüpfung in der App neu.
api-link-expired = Diese Verknüpfungsanfrage ist abgelaufen oder wurde abgebrochen. Beginnen Sie die Verknüpfung in der App neu.
api-device-already-linked = Dieses Gerät ist bereits mit einem Konto verknüpft. Heben Sie die Verknüpfung zuerst in der App oder im Browser auf, bevor Sie es erneut verknüpfen.
api-qr-code-invalid = Dies ist kein gültiger QR-Code zum Verknüpfen eines Geräts. Scannen Sie den QR-Code, der in Ihrem Browser angezeigt wird.
api-qr-code-expired = Dieser QR-Code ist abgelaufen. Erzeugen Sie in Ihrem Browser einen neuen QR-Code und scannen Sie ihn erneut.
api-qr-code-already-used = Dieser QR-Code wurde bereits verwendet. Um ein weiteres Gerät zu verknüpfen, erzeugen Sie in Ihrem Browser einen neuen QR-Code.
api-passkey-already-registered = Dieser Passkey ist bereits registriert. Erstellen Sie auf diesem Gerät einen neuen.
api-invalid-product = Bei der Methode luxtrust muss das Produkt luxtrust_mobile oder luxtrust_scan sein.
api-passkey-options-first = Fragen Sie zuerst die Passkey-Optionen ab (POST .../passkey/options).
api-link-passkey-invalid = Der Passkey konnte nicht geprüft werden. Biometrie (Benutzerüberprüfung) ist erforderlich; versuchen Sie es erneut oder überspringen Sie diesen Schritt.
api-luxtrust-cancelled = Sie haben die Authentifizierung bei eAccess abgebrochen. Es wurde nichts verknüpft.
api-luxtrust-unverified = Die Antwort von eAccess konnte nicht geprüft werden. Es wurde nichts verknüpft; bitte versuchen Sie es erneut.
api-luxtrust-not-fresh = Die Authentifizierung ist nicht aktuell genug. Beginnen Sie die Verknüpfung neu und authentifizieren Sie sich sofort.
api-luxtrust-wrong-product = Sie haben sich mit einem anderen Produkt als dem gewählten authentifiziert. Nur LuxTrust Mobile oder LuxTrust Scan, wie in der App gewählt, kann dieses Gerät verknüpfen.
api-account-not-registered = Sie müssen sich zuerst in einem Webbrowser beim Portal registrieren; in der App ist keine Registrierung möglich.
api-product-never-used = Sie können Ihr Gerät nicht mit einem LuxTrust-Produkt verknüpfen, mit dem Sie sich noch nie beim Portal angemeldet haben. Melden Sie sich zuerst einmal im Browser damit an.
api-invalid-luxtrust-result = Dieses Ergebnis ist für diese Verknüpfung nicht gültig oder wurde bereits verwendet. Beginnen Sie die Verknüpfung neu.
api-luxtrust-link-expired-title = Diese Verknüpfungsanfrage ist abgelaufen
api-luxtrust-link-expired = Diese Anfrage zum Verknüpfen eines Geräts ist abgelaufen oder wurde bereits verwendet. Beginnen Sie in der MyPortal-App neu.
api-device-locked = Zu Ihrer Sicherheit ist dieses Gerät gesperrt. Verknüpfen Sie es erneut über Ihren Browser oder mit LuxTrust.
api-invalid-device = Dieses Gerät ist mit keinem Konto verknüpft (oder die Verknüpfung wurde aufgehoben). Verknüpfen Sie es erneut über Ihren Browser oder mit LuxTrust.
api-biometrics-not-enabled = Biometrie ist auf diesem Gerät nicht aktiviert. Öffnen Sie die App mit Ihrem Geheimcode oder aktivieren Sie die Biometrie in den Einstellungen der App.
api-no-pending-ceremony = Fragen Sie zuerst die WebAuthn-Optionen ab; sie gelten fünf Minuten lang und für einen Versuch.
api-unlock-passkey-invalid = Die biometrische Prüfung konnte für dieses Gerät nicht bestätigt werden. Versuchen Sie es erneut oder verwenden Sie Ihren Geheimcode.
api-passkey-invalid = Der Passkey konnte nicht geprüft werden. Biometrie (Benutzerüberprüfung) ist erforderlich.
api-secret-code-format = Der Geheimcode muss genau 6 Ziffern haben.
api-weak-secret-code = Dieser Geheimcode ist zu leicht zu erraten. Vermeiden Sie wiederholte Ziffern, Folgen wie 123456 und gängige Codes.
api-unlock-required = Geben Sie Ihren Geheimcode ein, um fortzufahren.
api-auth-use-dpop = Senden Sie das Zugriffstoken als `Authorization: DPoP <token>`.
api-auth-one-header = Senden Sie genau einen Authorization-Header.
api-auth-unreadable = Der Authorization-Header ist nicht lesbar.
api-auth-bound-token = Dieses Zugriffstoken ist an den Geräteschlüssel gebunden: Verwenden Sie das DPoP-Schema mit einem Nachweis, nicht Bearer.
api-auth-empty = Das Zugriffstoken ist leer.
api-token-revoked = Dieses Zugriffstoken wurde widerrufen: Das Gerät wurde gesperrt oder die Verknüpfung aufgehoben, oder seine Tokens wurden zurückgezogen. Öffnen Sie die App erneut.
api-dpop-replayed = Dieser DPoP-Nachweis wurde bereits verwendet; erstellen Sie für jede Anfrage einen neuen Nachweis.
api-not-found = Unter dieser Adresse gibt es nichts.
api-internal-error = Bei uns ist ein Fehler aufgetreten. Bitte versuchen Sie es später erneut.
api-service-unavailable = Der Dienst ist vorübergehend nicht verfügbar. Bitte versuchen Sie es gleich noch einmal.
api-payload-too-large = Der Anfragetext ist zu groß.
api-send-json = Senden Sie den Anfragetext als JSON mit dem Header Content-Type: application/json.
api-body-unreadable = Der Anfragetext konnte nicht gelesen werden.
api-unsupported-media-type = Der Anfragetext hat einen Inhaltstyp, den dieser Endpunkt nicht annimmt.
api-uri-too-long = Die Anfrage-URL ist zu lang.
api-headers-too-large = Die Anfrage-Header sind zu groß.
api-method-not-allowed = Diese Adresse nimmt diese HTTP-Methode nicht an.
api-invalid-request = Die Anfrage konnte nicht gelesen werden.
api-rate-limited = Zu viele Versuche. Bitte warten Sie einen Moment, bevor Sie es erneut versuchen.
api-approval-pending-title = Noch nicht bestätigt
api-approval-pending = Scannen Sie den Code mit der App auf Ihrem verknüpften Telefon und bestätigen Sie dort; diese Seite geht dann von selbst weiter.
api-approval-qr-expired = Dieser QR-Code ist abgelaufen. Scannen Sie den in Ihrem Browser angezeigten Code erneut.
api-invalid-approval = Dieser Anmeldecode ist unbekannt, abgelaufen oder wurde bereits verwendet. Beginnen Sie im Browser neu.
api-approval-not-shown = Dieser Anmeldecode wird nicht mehr angezeigt. Beginnen Sie beim Portal neu.
api-invalid-link-state = Dieser Schritt ist jetzt nicht möglich: Die Verknüpfung ist im Zustand `{ $state }`.
api-invalid-secret-code = Der Geheimcode ist falsch. { $attempts ->
    [one] Noch ein Versuch
   *[other] Noch { $attempts } Versuche
}, bevor dieses Gerät gesperrt wird.
api-invalid-query = Die Abfragezeichenfolge ist nicht gültig: { $detail }
api-invalid-body = Der Anfragetext ist nicht gültig: { $detail }.
api-invalid-form = Das Formular ist nicht gültig: { $detail }.
api-method-not-allowed-use = Diese Adresse nimmt diese HTTP-Methode nicht an; verwenden Sie { $allow }.
api-eaccess-unavailable = eAccess ist im Moment nicht erreichbar. Bitte versuchen Sie es in ein paar Minuten erneut.
