//! The message templates (askama): a plain-text and an HTML body for each kind of mail.
//! HTML bodies are auto-escaped; text bodies are not escaped but every value is first
//! reduced to one line, so a device name cannot forge lines of the message.

use askama::Template;
use chrono::NaiveDateTime;

use super::{DeviceLinkedMail, DeviceLockedMail, DeviceUnlinkedMail, UnlinkedBy};

/// The subject and both bodies of a message, as stored in the outbox.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RenderedMail {
    pub subject: String,
    pub text_body: String,
    pub html_body: String,
}

#[derive(Template)]
#[template(path = "mail/device_linked.txt")]
struct LinkedText<'a> {
    display_name: &'a str,
    device_name: &'a str,
    when: &'a str,
    method_label: &'a str,
    manage_url: &'a str,
}

#[derive(Template)]
#[template(path = "mail/device_linked.html")]
struct LinkedHtml<'a> {
    display_name: &'a str,
    device_name: &'a str,
    when: &'a str,
    method_label: &'a str,
    manage_url: &'a str,
}

#[derive(Template)]
#[template(path = "mail/device_unlinked.txt")]
struct UnlinkedText<'a> {
    display_name: &'a str,
    device_name: &'a str,
    when: &'a str,
    by: &'a str,
    manage_url: &'a str,
}

#[derive(Template)]
#[template(path = "mail/device_unlinked.html")]
struct UnlinkedHtml<'a> {
    display_name: &'a str,
    device_name: &'a str,
    when: &'a str,
    by: &'a str,
    manage_url: &'a str,
}

#[derive(Template)]
#[template(path = "mail/device_locked.txt")]
struct LockedText<'a> {
    display_name: &'a str,
    device_name: &'a str,
    when: &'a str,
    manage_url: &'a str,
}

#[derive(Template)]
#[template(path = "mail/device_locked.html")]
struct LockedHtml<'a> {
    display_name: &'a str,
    device_name: &'a str,
    when: &'a str,
    manage_url: &'a str,
}

pub(super) const DEVICE_LINKED_SUBJECT: &str = "A mobile device was linked to your account";
pub(super) const DEVICE_UNLINKED_SUBJECT: &str = "A mobile device was unlinked from your account";
pub(super) const DEVICE_LOCKED_SUBJECT: &str =
    "Your mobile device was locked after too many wrong secret codes";

pub(super) fn device_linked(mail: &DeviceLinkedMail) -> Result<RenderedMail, askama::Error> {
    let display_name = one_line(&mail.display_name);
    let device_name = one_line(&mail.device_name);
    let when = format_time(mail.linked_at);
    let method_label = one_line(&mail.method_label);
    let manage_url = mail.manage_url.to_string();
    Ok(RenderedMail {
        subject: DEVICE_LINKED_SUBJECT.to_owned(),
        text_body: LinkedText {
            display_name: &display_name,
            device_name: &device_name,
            when: &when,
            method_label: &method_label,
            manage_url: &manage_url,
        }
        .render()?,
        html_body: LinkedHtml {
            display_name: &display_name,
            device_name: &device_name,
            when: &when,
            method_label: &method_label,
            manage_url: &manage_url,
        }
        .render()?,
    })
}

pub(super) fn device_unlinked(mail: &DeviceUnlinkedMail) -> Result<RenderedMail, askama::Error> {
    let display_name = one_line(&mail.display_name);
    let device_name = one_line(&mail.device_name);
    let when = format_time(mail.unlinked_at);
    let by = match mail.by {
        UnlinkedBy::Browser => "from your account in the browser",
        UnlinkedBy::App => "from the app on the device",
    };
    let manage_url = mail.manage_url.to_string();
    Ok(RenderedMail {
        subject: DEVICE_UNLINKED_SUBJECT.to_owned(),
        text_body: UnlinkedText {
            display_name: &display_name,
            device_name: &device_name,
            when: &when,
            by,
            manage_url: &manage_url,
        }
        .render()?,
        html_body: UnlinkedHtml {
            display_name: &display_name,
            device_name: &device_name,
            when: &when,
            by,
            manage_url: &manage_url,
        }
        .render()?,
    })
}

pub(super) fn device_locked(mail: &DeviceLockedMail) -> Result<RenderedMail, askama::Error> {
    let display_name = one_line(&mail.display_name);
    let device_name = one_line(&mail.device_name);
    let when = format_time(mail.locked_at);
    let manage_url = mail.manage_url.to_string();
    Ok(RenderedMail {
        subject: DEVICE_LOCKED_SUBJECT.to_owned(),
        text_body: LockedText {
            display_name: &display_name,
            device_name: &device_name,
            when: &when,
            manage_url: &manage_url,
        }
        .render()?,
        html_body: LockedHtml {
            display_name: &display_name,
            device_name: &device_name,
            when: &when,
            manage_url: &manage_url,
        }
        .render()?,
    })
}

/// A moment as a citizen reads it, e.g. `27 November 2026 at 14:05 UTC`.
fn format_time(at: NaiveDateTime) -> String {
    at.format("%-d %B %Y at %H:%M UTC").to_string()
}

/// The value with control characters (newlines, tabs, escapes) turned into spaces and
/// trimmed, at most 200 characters.
fn one_line(value: &str) -> String {
    let cleaned: String = value
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .take(200)
        .collect();
    cleaned.trim().to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mail::{DeviceLinkedMail, DeviceLockedMail, DeviceUnlinkedMail, UnlinkedBy};

    fn at() -> NaiveDateTime {
        chrono::NaiveDate::from_ymd_opt(2026, 11, 27)
            .unwrap()
            .and_hms_opt(14, 5, 9)
            .unwrap()
    }

    fn manage_url() -> url::Url {
        "https://myportal.example/devices".parse().unwrap()
    }

    #[test]
    fn a_linked_mail_renders_both_bodies_with_the_values() {
        let mail = device_linked(&DeviceLinkedMail {
            display_name: "Marie Dupont".into(),
            device_name: "Marie's Pixel 8".into(),
            method_label: "LuxTrust Scan".into(),
            linked_at: at(),
            manage_url: manage_url(),
        })
        .unwrap();
        assert_eq!(mail.subject, "A mobile device was linked to your account");
        for body in [&mail.text_body, &mail.html_body] {
            assert!(body.contains("Marie Dupont"), "{body}");
            assert!(body.contains("LuxTrust Scan"), "{body}");
            assert!(body.contains("27 November 2026 at 14:05 UTC"), "{body}");
            assert!(body.contains("https://myportal.example/devices"), "{body}");
        }
        assert!(mail.text_body.contains("Marie's Pixel 8"));
        assert!(
            mail.html_body.contains("Marie&#39;s Pixel 8"),
            "{}",
            mail.html_body
        );
        assert!(mail.html_body.contains("This was not me"));
        assert!(
            mail.html_body
                .contains("href=\"https://myportal.example/devices\"")
        );
    }

    #[test]
    fn html_in_a_device_name_is_escaped_in_the_html_body() {
        let mail = device_linked(&DeviceLinkedMail {
            display_name: "<b>Jean</b>".into(),
            device_name: "<script>alert(1)</script>".into(),
            method_label: "QR code".into(),
            linked_at: at(),
            manage_url: manage_url(),
        })
        .unwrap();
        assert!(!mail.html_body.contains("<script>"), "{}", mail.html_body);
        assert!(!mail.html_body.contains("<b>Jean"), "{}", mail.html_body);
        assert!(
            mail.html_body
                .contains("&#60;script&#62;alert(1)&#60;/script&#62;")
        );
        // The text body is plain text: shown as typed, never interpreted.
        assert!(mail.text_body.contains("<script>alert(1)</script>"));
    }

    #[test]
    fn a_device_name_cannot_forge_lines_of_the_text_body() {
        let mail = device_locked(&DeviceLockedMail {
            display_name: "Luc".into(),
            device_name: "Phone\n\nClick https://evil.example now".into(),
            locked_at: at(),
            manage_url: manage_url(),
        })
        .unwrap();
        assert!(
            mail.text_body
                .contains("Device:  Phone  Click https://evil.example now\n")
        );
    }

    #[test]
    fn unlinked_and_locked_mails_render_both_bodies() {
        let unlinked = device_unlinked(&DeviceUnlinkedMail {
            display_name: "Sophie".into(),
            device_name: "iPhone <15>".into(),
            unlinked_at: at(),
            by: UnlinkedBy::App,
            manage_url: manage_url(),
        })
        .unwrap();
        assert_eq!(
            unlinked.subject,
            "A mobile device was unlinked from your account"
        );
        assert!(unlinked.text_body.contains("iPhone <15>"));
        assert!(unlinked.html_body.contains("iPhone &#60;15&#62;"));
        assert!(unlinked.text_body.contains("from the app on the device"));
        assert!(unlinked.html_body.contains("from the app on the device"));

        let locked = device_locked(&DeviceLockedMail {
            display_name: "Sophie".into(),
            device_name: "iPhone".into(),
            locked_at: at(),
            manage_url: manage_url(),
        })
        .unwrap();
        assert!(locked.subject.contains("locked"));
        for body in [&locked.text_body, &locked.html_body] {
            assert!(body.contains("Sophie") && body.contains("iPhone"));
            assert!(body.contains("27 November 2026 at 14:05 UTC"));
            assert!(!body.to_lowercase().contains("your secret code is"));
        }
    }
}
