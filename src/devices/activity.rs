//! The account's activity as the device list shows it: each audit event in the page's
//! language, and user agents shortened for people.

use crate::i18n::{Arg, t, t_args, t1};

/// Rows of activity per page of the device list.
pub(super) const PAGE_SIZE: i64 = 10;
/// The last page anyone may ask for (an old account's history stays bounded work).
const MAX_PAGE: i64 = 500;

/// Which page of the activity to show: its number (1 = newest) and, if filtered, the
/// device whose events it shows. Anything out of range is clamped, anything else ignored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Page {
    pub number: i64,
    pub device: Option<String>,
    pub size: i64,
}

impl Page {
    /// The page a query asks for: a number in 1..=500, a device id that is a UUID.
    pub fn from_query(number: Option<i64>, device: Option<&str>) -> Self {
        Self {
            number: number.unwrap_or(1).clamp(1, MAX_PAGE),
            device: device
                .and_then(|d| uuid::Uuid::parse_str(d).ok())
                .map(|u| u.hyphenated().to_string()),
            size: PAGE_SIZE,
        }
    }

    /// The newest `size` events, unfiltered (the JSON list).
    pub fn newest(size: i64) -> Self {
        Self {
            number: 1,
            device: None,
            size,
        }
    }

    pub fn offset(&self) -> i64 {
        (self.number - 1) * self.size
    }

    /// The device list showing page `number` with this page's filter.
    fn url(&self, number: i64) -> String {
        let mut url = format!("/devices?activity_page={number}");
        if let Some(device) = &self.device {
            url.push_str("&activity_device=");
            url.push_str(device);
        }
        url.push_str("#activity-title");
        url
    }

    /// The link to newer events, unless this is the first page.
    pub fn newer(&self) -> Option<String> {
        (self.number > 1).then(|| self.url(self.number - 1))
    }

    /// The link to older events, when `loaded` rows (one more than a page when there are
    /// older ones) say they exist.
    pub fn older(&self, loaded: usize) -> Option<String> {
        let more = i64::try_from(loaded).unwrap_or(i64::MAX) > self.size;
        (more && self.number < MAX_PAGE).then(|| self.url(self.number + 1))
    }
}

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
        "secret_code_changed" => t1("devices-event-code-changed", "device", device),
        "secret_code_reset" => t1("devices-event-code-reset", "device", device),
        "biometrics_enabled" => t1("devices-event-bio-on", "device", device),
        "biometrics_disabled" => t1("devices-event-bio-off", "device", device),
        "refresh_token_reused" => t1("devices-event-token-reused", "device", device),
        "email_changed" => t("devices-event-email-changed"),
        "link_started" => t("devices-event-link-started"),
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
    fn pages_are_bounded_and_keep_their_filter() {
        let id = "6f1c0a37-8e2d-4b6a-9c41-7d0e2f8a1b93";
        let first = Page::from_query(None, None);
        assert_eq!((first.number, first.offset()), (1, 0));
        assert_eq!(first.newer(), None);
        assert_eq!(first.older(10), None, "exactly one page");
        assert_eq!(
            first.older(11).as_deref(),
            Some("/devices?activity_page=2#activity-title")
        );
        let third = Page::from_query(Some(3), Some(id));
        assert_eq!(third.offset(), 20);
        assert_eq!(
            third.newer(),
            Some(format!(
                "/devices?activity_page=2&activity_device={id}#activity-title"
            ))
        );
        assert_eq!(Page::from_query(Some(-5), Some("x'--")), first);
        assert_eq!(Page::from_query(Some(i64::MAX), None).number, 500);
        assert_eq!(Page::from_query(Some(500), None).older(11), None);
    }

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
