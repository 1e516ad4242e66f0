# Das Demo-Portal (src/demo_portal.rs, templates/demo_portal.html).

demo-brand = Demo-Portal
demo-tagline = ein Client von devicelink
demo-home-title = Willkommen
demo-intro = Dieses Portal meldet Bürgerinnen und Bürger über devicelink an, das es über sein Discovery-Dokument findet. Bei devicelink wählen Sie eAccess oder Ihre verknüpfte mobile App.
demo-sign-in = Mit devicelink anmelden
demo-signed-in-title = Angemeldet
demo-claims-intro = Das ID-Token wurde mit den veröffentlichten Schlüsseln von devicelink geprüft; hier sind seine Angaben und die Userinfo-Antwort.
demo-sign-in-again = Erneut anmelden
demo-sign-out = Abmelden
demo-signed-out = Sie sind vom Demo-Portal und von devicelink abgemeldet.
demo-issuer = Aussteller: { $issuer }
demo-try-again = Erneut versuchen
demo-back-home = Zurück zum Demo-Portal
demo-denied-title = Sie haben die Anmeldung nicht erlaubt
demo-denied = Dem Demo-Portal wurde nichts übermittelt. Sie können sich jederzeit erneut anmelden.
demo-failed-title = Anmeldung fehlgeschlagen
demo-refused = devicelink hat Sie nicht angemeldet ({ $error }): { $description }
demo-unknown-state = Diese Anmeldung ist unbekannt oder wurde bereits verwendet. Beginnen Sie neu.
demo-other-issuer = Die Antwort kommt nicht von devicelink. Beginnen Sie neu.
demo-no-code = Die Antwort enthält keinen Autorisierungscode. Beginnen Sie neu.
demo-unreachable = devicelink war nicht erreichbar oder gab eine nicht prüfbare Antwort. Versuchen Sie es gleich noch einmal.
