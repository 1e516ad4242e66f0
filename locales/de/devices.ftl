# Ein Gerät im Browser verknüpfen (die QR-Code-Seite) und die Liste der verknüpften Geräte.
link-title = Gerät verknüpfen
link-scope = Die Verknüpfung gilt für Ihr gesamtes Konto: Jeder eSpace, privat und geschäftlich, öffnet sich in der App mit demselben Gerät.
link-step-open = Öffnen Sie die MyPortal-App auf Ihrem Telefon und wählen Sie <strong>Ihr Gerät verknüpfen</strong>.
link-step-name = Geben Sie einen Namen für das Gerät ein, wählen Sie <strong>QR-Code</strong> und fahren Sie fort.
link-step-scan = Erlauben Sie den Kamerazugriff und scannen Sie diesen Code.
link-qr-alt = QR-Code zum Scannen mit der MyPortal-App
link-offline = Der Server ist gerade nicht erreichbar; neuer Versuch…
link-status-waiting = Warten darauf, dass Ihr Telefon den Code scannt.
link-status-scanned = Gescannt von „{ $device }“. Schließen Sie die Verknüpfung in der App ab.
link-status-linked = „{ $device }“ ist jetzt mit Ihrem Konto verknüpft.
link-status-expired = Dieser QR-Code ist abgelaufen. Erzeugen Sie einen neuen QR-Code.
link-status-cancelled = Dieser QR-Code wurde storniert. Es wurde nichts verknüpft.
link-status-too-late = Zu spät zum Abbrechen: „{ $device }“ wurde bereits mit Ihrem Konto verknüpft. Wenn Sie das nicht waren, entfernen Sie es jetzt.
link-a-device = ein Gerät
link-hint-once = Dieser Code verknüpft genau ein Gerät, ein einziges Mal.
link-hint-expires = Er läuft in { $countdown } ab.
link-minutes = { $minutes ->
    [one] { $minutes } Minute
   *[other] { $minutes } Minuten
}
link-hint-animated = Das Bild ändert sich alle paar Sekunden: Ein Foto oder Bildschirmfoto davon funktioniert bald nicht mehr.
link-not-me = Das war ich nicht — abbrechen
link-new-code = Neuen QR-Code erzeugen
link-unlink-my-device = Mein Gerät entfernen
link-back-account = Zurück zu meinem Konto
link-check-status = Status prüfen
link-refresh = Aktualisieren
link-noscript = Ihr Browser führt keine Skripte aus, daher erneuert sich dieser Code nicht.
link-noscript-static = { $minutes ->
    [one] Einen Code anzeigen, der { $minutes } Minute gültig bleibt
   *[other] Einen Code anzeigen, der { $minutes } Minuten gültig bleibt
}
link-frame-not-found = Diesen QR-Code gibt es nicht.
link-frame-not-signed-in = Melden Sie sich erneut an, um ein Gerät zu verknüpfen.
link-frame-csrf = Laden Sie die Seite neu und versuchen Sie es erneut.
link-landing-title = Öffnen Sie die MyPortal-App
link-landing-heading = Scannen Sie diesen Code mit der MyPortal-App
link-landing-body = Dieser QR-Code verknüpft ein Telefon mit einem MyPortal-Konto. Er funktioniert nur in der MyPortal-App: Öffnen Sie die App, wählen Sie <strong>Ihr Gerät verknüpfen</strong>, dann <strong>QR-Code</strong>, und scannen Sie den Code erneut.
link-landing-warning = Wenn Ihnen jemand diesen Code geschickt und Sie gebeten hat, ihn zu scannen, tun Sie es nicht: Diese Person erhielte Zugang zu Ihrem Konto.
devices-title = Meine verknüpften Geräte
devices-unlinked-notice = { $count ->
    [one] 1 Gerät entfernt. Es kann die App für Ihr Konto nicht mehr öffnen.
   *[other] { $count } Geräte entfernt. Sie können die App für Ihr Konto nicht mehr öffnen.
}
devices-none = Mit Ihrem Konto ist kein Gerät verknüpft.
devices-intro = Kreuzen Sie die Geräte an, die Sie entfernen möchten, zum Beispiel ein verlorenes oder gestohlenes Telefon. Das Gerät selbst brauchen Sie dafür nicht.
devices-col-unlink = Entfernen
devices-col-device = Gerät
devices-col-state = Status
devices-col-biometrics = Biometrie
devices-col-method = Verknüpft mit
devices-col-linked-on = Verknüpft am
devices-col-last-used = Zuletzt verwendet
devices-unlink-one = { $device } entfernen
devices-state-locked = Gesperrt
devices-unlock = Dieses Gerät entsperren
devices-unlocked-notice = Das Gerät ist entsperrt. Öffnen Sie die App und geben Sie Ihren Geheimcode ein.
devices-not-locked-notice = Dieses Gerät ist nicht gesperrt.
devices-renamed-notice = Das Gerät wurde umbenannt.
devices-not-found-notice = Dieses Gerät ist nicht mehr mit Ihrem Konto verknüpft.
devices-rename = Umbenennen
devices-rename-label = Neuer Name für { $device }
devices-rename-save = Namen speichern
devices-locked-hint = Ein gesperrtes Gerät öffnet die App wieder, sobald Sie es hier entsperren. Wenn Sie den Geheimcode vergessen haben, wählen Sie in der App „Code vergessen?“ und bestätigen Sie mit LuxTrust.
devices-state-active = Aktiv
devices-biometrics-on = Ein
devices-biometrics-off = Aus
devices-method-unknown = Unbekannt
devices-never-used = Nie
devices-unlink-selected = Ausgewählte Geräte entfernen
devices-link-another = Weiteres Gerät verknüpfen
devices-activity = Letzte Aktivitäten
devices-activity-hint = Erkennen Sie etwas nicht wieder? Entfernen Sie das Gerät oben und wenden Sie sich an den Support.
devices-activity-filter = Aktivitäten anzeigen von
devices-activity-all = Allen Geräten und dem Konto
devices-activity-filter-submit = Anzeigen
devices-activity-none = Nichts anzuzeigen.
devices-activity-pages = Seiten der Aktivitäten
devices-activity-newer = Neuere
devices-activity-older = Ältere
devices-activity-page = Seite { $number }
devices-col-when = Wann
devices-col-what = Was
devices-col-ip = Netzwerkadresse
devices-col-agent = Browser oder App
devices-user-agent = { $browser } unter { $os }
devices-confirm-title = Geräte entfernen
devices-confirm-heading = { $count ->
    [one] Dieses Gerät entfernen?
   *[other] Diese { $count } Geräte entfernen?
}
devices-confirm-linked-on = verknüpft am { $date }
devices-confirm-body = { $count ->
    [one] Es kann die App für Ihr Konto ab sofort nicht mehr öffnen. Um es wieder zu nutzen, verknüpfen Sie es erneut.
   *[other] Sie können die App für Ihr Konto ab sofort nicht mehr öffnen. Um eines wieder zu nutzen, verknüpfen Sie es erneut.
}
devices-confirm-submit = Entfernen
devices-confirm-cancel = Abbrechen
devices-event-a-device = ein Gerät
devices-event-another-portal = ein anderes Portal
devices-event-signed-in = Beim Portal angemeldet ({ $product })
devices-event-registered = Beim Portal registriert
devices-event-signed-out = Abgemeldet
devices-event-reauthenticated = Identität bestätigt, um Geräte zu verwalten
devices-event-qr-scanned = QR-Code gescannt von „{ $device }“
devices-event-linked = Gerät „{ $device }“ verknüpft
devices-event-unlinked-app = Gerät „{ $device }“ entfernt (in der App)
devices-event-unlinked-browser = Gerät „{ $device }“ entfernt (im Browser)
devices-event-unlocked = App auf „{ $device }“ geöffnet
devices-event-unlocked-browser = Gerät „{ $device }“ im Browser entsperrt
devices-event-renamed = Gerät umbenannt in „{ $device }“
devices-event-code-failed = Falscher Geheimcode auf „{ $device }“
devices-event-locked = Gerät „{ $device }“ nach falschen Geheimcodes gesperrt
devices-event-link-cancelled = Verknüpfung abgebrochen
devices-event-link-abandoned = Verknüpfung aufgegeben
devices-event-link-refused = Verknüpfung abgelehnt
devices-event-luxtrust = LuxTrust hat eine Geräteverknüpfung bestätigt
devices-event-portal-sign-in = Mit devicelink bei { $portal } angemeldet
devices-event-portal-consent = { $portal } erlaubt, Ihre Daten zu erhalten
devices-event-link-started = Verknüpfung begonnen
devices-event-code-changed = Geheimcode von „{ $device }“ geändert
devices-event-code-reset = Neuer Geheimcode auf „{ $device }“ nach LuxTrust
devices-event-bio-on = Biometrie für „{ $device }“ eingeschaltet
devices-event-bio-off = Biometrie für „{ $device }“ ausgeschaltet
devices-event-email-changed = E-Mail-Adresse geändert
devices-event-token-reused = Ein bereits verwendetes Token von „{ $device }“ wurde erneut vorgelegt; seine Sitzungen wurden beendet
