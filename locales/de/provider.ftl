# devicelink als OpenID-Provider: die Seiten bei der Anmeldung an einem anderen Portal.

provider-choose-title = Bei { $portal } anmelden
provider-choose-intro = { $portal } bittet devicelink, Ihre Identität zu bestätigen. Wählen Sie, wie Sie sich anmelden.
provider-sign-in-eaccess = Mit eAccess anmelden
provider-sign-in-app = Mit Ihrer mobilen App anmelden
provider-cancel-back = Abbrechen und zurück zu { $portal }

provider-consent-title = Ihre Angaben mit { $portal } teilen?
provider-consent-intro = { $portal } möchte Sie anmelden und Folgendes erhalten:
provider-consent-allow = Erlauben und fortfahren
provider-consent-deny = Nicht erlauben
provider-consent-remember = Wir merken uns Ihre Antwort für { $portal }; jede Anmeldung sehen Sie in Ihrer Aktivitätsliste.
provider-scope-sub = Eine dauerhafte Kennung Ihres Kontos
provider-scope-profile = Ihr Name
provider-scope-email = Ihre E-Mail-Adresse
provider-scope-offline = Zugriff in Ihrer Abwesenheit (bis Sie sich abmelden)

provider-app-title = Mit Ihrer mobilen App bei { $portal } anmelden
provider-app-step-open = Öffnen Sie die App auf Ihrem verknüpften Telefon und wählen Sie „Bei einem Portal anmelden“.
provider-app-step-scan = Scannen Sie diesen Code. Die App zeigt, dass { $portal } anfragt.
provider-app-step-approve = Bestätigen Sie mit Ihrem Geheimcode oder biometrisch. Diese Seite geht dann von selbst weiter.
provider-app-qr-alt = QR-Code zum Scannen mit der App
provider-app-static-once = Der Code funktioniert einmal, { $minutes } Minuten lang.
provider-app-animated = Der Code ändert sich alle paar Sekunden, damit nur ein Telefon vor diesem Bildschirm ihn nutzen kann. Er funktioniert einmal, { $minutes } Minuten lang.
provider-app-noscript = Ohne JavaScript kann sich der Code nicht ändern:
provider-app-noscript-static = einen gleichbleibenden Code zeigen
provider-app-continue = Ich habe in der App bestätigt — weiter
provider-app-cancel = Abbrechen
provider-app-shown = Warten auf Ihr Telefon…
provider-app-scanned = Gescannt. Bestätigen Sie auf Ihrem Telefon mit Ihrem Geheimcode oder biometrisch.
provider-app-approved = Bestätigt. Es geht weiter…
provider-app-refused = In der App abgelehnt. Zurück zum Portal…
provider-app-expired = Der Code ist abgelaufen. Zurück zum Portal…
provider-app-locked = Die App ist gesperrt. Zurück zum Portal…

provider-landing-title = Öffnen Sie die MyPortal-App
provider-landing-heading = Scannen Sie diesen Code mit der MyPortal-App
provider-landing-body = Dieser QR-Code meldet Sie bei einem Portal an. Er funktioniert nur in der MyPortal-App: Öffnen Sie die App, wählen Sie „Bei einem Portal anmelden“ und scannen Sie den Code erneut.
provider-landing-warning = Wenn Ihnen jemand diesen Code geschickt und Sie gebeten hat, ihn zu scannen: Tun Sie es nicht, sonst wäre diese Person als Sie angemeldet.

# "I approved in the app — continue" before the app approved (no JavaScript).
provider-waiting-next = Bestätigen Sie auf Ihrem verknüpften Telefon und prüfen Sie dann hier erneut. Oder gehen Sie ohne Anmeldung zurück zu { $portal }.
provider-waiting-check-again = Erneut prüfen
provider-waiting-show-code = Code erneut zeigen
# Die Fehlerseiten des Anbieters.
provider-error-invalid-request-title = Diese Anmeldeanfrage ist ungültig
provider-error-repeated-parameter = Das Portal hat eine Anfrage mit einem wiederholten Parameter gesendet. Kehren Sie zum Portal zurück und versuchen Sie es erneut.
provider-error-unknown-portal-title = Unbekanntes Portal
provider-error-unknown-portal = Das Portal, das Sie hierher geschickt hat, ist bei devicelink nicht registriert. Es wurde nichts weitergegeben.
provider-error-expired-title = Diese Anmeldeanfrage ist abgelaufen
provider-error-expired = Die Anmeldeanfrage des Portals wurde bereits verwendet oder ist zu alt. Kehren Sie zum Portal zurück und beginnen Sie erneut.
provider-error-unregistered-redirect = Das Portal wollte Sie an eine Adresse zurückschicken, die es nicht registriert hat. Es wurde nichts weitergegeben.
provider-error-logout-title = Diese Abmeldeanfrage ist ungültig
provider-error-logout-repeated = Das Portal hat eine Anfrage mit einem wiederholten Parameter gesendet.
provider-error-logout-unverified = Das Portal hat eine Abmeldeanfrage gesendet, die devicelink nicht prüfen kann. Sie sind weiterhin angemeldet.
provider-error-logout-client-mismatch = Das Portal hat einen anderen Client genannt als den seines ID-Tokens.
provider-error-logout-unregistered = Das Portal wollte Sie an eine Adresse zurückschicken, die es nicht registriert hat.
provider-gone-title = Diese Anmeldung ist nicht mehr gültig
provider-gone = Diese Anmeldung ist abgelaufen oder bereits abgeschlossen. Kehren Sie zum Portal zurück und beginnen Sie erneut.
