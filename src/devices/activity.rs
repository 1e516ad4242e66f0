//! The account's activity as the device list shows it: each audit event in the page's
//! language, and user agents shortened for people.

use crate::i18n::{Arg, t, t_args, t1};

/// A user agent as a person reads it: "Chrome 156 on Linux", or the app's own name.
pub(super) fn short_user_agent(ua: &str) -> String {
    let version = |name: &str| {
        ua.split(name)
            .nth(1)
            .and_then(|rest| rest.split(['.', ' ', ';', ')']).next())
            .map(|v| format!("{} {v}", name.trim_end_matches('/')))
    };
    let browser = if ua.contains("Edg/") {
        version("Edg/").map(|b| b.replace("Edg", "Edge"))
    } else if ua.contains("Firefox/") {
        version("Firefox/")
    } else if ua.contains("Chrome/") {
        version("Chrome/")
    } else if ua.contains("Safari/") {
        version("Version/").map(|b| b.replace("Version", "Safari"))
    } else {
        None
    };
    let os = ["Android", "iPhone", "iPad", "Windows", "Mac OS X", "Linux"]
        .into_iter()
        .find(|os| ua.contains(os))
        .map(|os| if os == "Mac OS X" { "macOS" } else { os });
    match (browser, os) {
        (Some(b), Some(os)) => t_args(
            "devices-user-agent",
            &[("browser", Arg::from(b)), ("os", Arg::from(os))],
        ),
        (Some(b), None) => b,
        _ => ua.chars().take(48).collect(),
    }
}

/// What an audit event means to the citizen.
pub(super) fn describe(kind: &str, details: &serde_json::Value) -> String {
    let unnamed = t("devices-event-a-device");
    let device = details["device_name"].as_str().unwrap_or(&unnamed);
    let other_portal = t("devices-event-another-portal");
    let client = details["client_name"].as_str().unwrap_or(&other_portal);
    match kind {
        "signed_in" => t1(
            "devices-event-signed-in",
            "product",
            details["product"]
                .as_str()
                .and_then(|p| p.parse::<crate::accounts::ProductKind>().ok())
                .map_or_else(|| "eAccess".to_owned(), crate::accounts::ProductKind::label),
        ),
        "registered" => t("devices-event-registered"),
        "signed_out" => t("devices-event-signed-out"),
        "reauthenticated" => t("devices-event-reauthenticated"),
        "qr_code_scanned" => t1("devices-event-qr-scanned", "device", device),
        "device_linked" => t1("devices-event-linked", "device", device),
        "device_unlinked" if details["by"] == "app" => {
            t1("devices-event-unlinked-app", "device", device)
        }
        "device_unlinked" => t1("devices-event-unlinked-browser", "device", device),
        "device_unlocked" => t1("devices-event-unlocked", "device", device),
        "device_unlocked_in_browser" => t1("devices-event-unlocked-browser", "device", device),
        "device_renamed" => t1("devices-event-renamed", "device", device),
        "secret_code_failed" => t1("devices-event-code-failed", "device", device),
        "device_locked" => t1("devices-event-locked", "device", device),
        "link_cancelled" => t("devices-event-link-cancelled"),
        "link_abandoned" => t("devices-event-link-abandoned"),
        "link_refused" => t("devices-event-link-refused"),
        "luxtrust_vouched" | "luxtrust_link_bound" => t("devices-event-luxtrust"),
        "signed_in_to_portal" => t1("devices-event-portal-sign-in", "portal", client),
        "portal_consent_given" => t1("devices-event-portal-consent", "portal", client),
        other => other.replace('_', " "),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::i18n::{Lang, with_lang};

    #[test]
    fn user_agents_are_shortened_for_people() {
        let chrome = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/156.0.8078.108 Safari/537.36";
        assert_eq!(
            with_lang(Lang::En, || short_user_agent(chrome)),
            "Chrome 156 on Linux"
        );
        assert_eq!(
            with_lang(Lang::Fr, || short_user_agent(chrome)),
            "Chrome 156 sur Linux"
        );
        assert_eq!(
            with_lang(Lang::De, || short_user_agent(chrome)),
            "Chrome 156 unter Linux"
        );
        assert_eq!(
            short_user_agent("devicelink-reference-app/0.1.0"),
            "devicelink-reference-app/0.1.0"
        );
    }

    #[test]
    fn every_event_reads_in_each_language() {
        let details = serde_json::json!({"device_name": "Pixel", "by": "app"});
        for lang in Lang::ALL {
            let text = with_lang(lang, || describe("device_unlinked", &details));
            assert!(text.contains("Pixel"), "{lang:?}: {text}");
            assert!(!text.contains("devices-event"), "{lang:?}: {text}");
        }
        assert_eq!(
            with_lang(Lang::De, || describe("device_locked", &details)),
            "Gerät „Pixel“ nach falschen Geheimcodes gesperrt"
        );
    }
}
