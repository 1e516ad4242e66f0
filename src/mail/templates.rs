//! The message templates (askama): a plain-text and an HTML body for each kind of mail,
//! their sentences from `locales/<lang>/mail.ftl`. Each renders in the language it is
//! given (the account's, see [`super::Mail`]), with its times in Luxembourg time.
//! HTML bodies are auto-escaped; text bodies are not escaped but every value is first
//! reduced to one line, so a device name cannot forge lines of the message.

use askama::Template;
use chrono::NaiveDateTime;

use crate::i18n::{self, Lang};

use super::{
    DeviceLinkedMail, DeviceLockedMail, DeviceUnlinkedMail, SecretCodeResetMail, UnlinkedBy,
};

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

/// A notice about one device (locked, secret code reset): its sentences come from the
/// caller, so the two kinds share one layout.
#[derive(Template)]
#[template(path = "mail/device_notice.txt")]
struct NoticeText<'a> {
    display_name: &'a str,
    device_name: &'a str,
    when: &'a str,
    manage_url: &'a str,
    intro: &'a str,
    label: &'a str,
    how: &'a str,
    if_not_you: &'a str,
}

#[derive(Template)]
#[template(path = "mail/device_notice.html")]
struct NoticeHtml<'a> {
    subject: &'a str,
    display_name: &'a str,
    device_name: &'a str,
    when: &'a str,
    manage_url: &'a str,
    intro: &'a str,
    label: &'a str,
    how: &'a str,
    if_not_you: &'a str,
}

/// The sentences of a device notice, in the current language.
struct Notice {
    subject: String,
    intro: String,
    label: String,
    how: String,
    if_not_you: String,
}

pub(super) fn device_linked(
    lang: Lang,
    mail: &DeviceLinkedMail,
) -> Result<RenderedMail, askama::Error> {
    i18n::with_lang(lang, || render_linked(mail))
}

fn render_linked(mail: &DeviceLinkedMail) -> Result<RenderedMail, askama::Error> {
    let display_name = one_line(&mail.display_name);
    let device_name = one_line(&mail.device_name);
    let when = format_time(mail.linked_at);
    let method_label = one_line(&mail.method_label);
    let manage_url = mail.manage_url.to_string();
    Ok(RenderedMail {
        subject: i18n::t("mail-linked-subject"),
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

pub(super) fn device_unlinked(
    lang: Lang,
    mail: &DeviceUnlinkedMail,
) -> Result<RenderedMail, askama::Error> {
    i18n::with_lang(lang, || render_unlinked(mail))
}

fn render_unlinked(mail: &DeviceUnlinkedMail) -> Result<RenderedMail, askama::Error> {
    let display_name = one_line(&mail.display_name);
    let device_name = one_line(&mail.device_name);
    let when = format_time(mail.unlinked_at);
    let by = match mail.by {
        UnlinkedBy::Browser => i18n::t("mail-unlinked-by-browser"),
        UnlinkedBy::App => i18n::t("mail-unlinked-by-app"),
    };
    let manage_url = mail.manage_url.to_string();
    Ok(RenderedMail {
        subject: i18n::t("mail-unlinked-subject"),
        text_body: UnlinkedText {
            display_name: &display_name,
            device_name: &device_name,
            when: &when,
            by: &by,
            manage_url: &manage_url,
        }
        .render()?,
        html_body: UnlinkedHtml {
            display_name: &display_name,
            device_name: &device_name,
            when: &when,
            by: &by,
            manage_url: &manage_url,
        }
        .render()?,
    })
}

pub(super) fn device_locked(
    lang: Lang,
    mail: &DeviceLockedMail,
) -> Result<RenderedMail, askama::Error> {
    i18n::with_lang(lang, || render_locked(mail))
}

fn render_locked(mail: &DeviceLockedMail) -> Result<RenderedMail, askama::Error> {
    let notice = Notice {
        subject: i18n::t("mail-locked-subject"),
        intro: i18n::t("mail-locked-intro"),
        label: i18n::t("mail-label-locked"),
        how: i18n::t("mail-locked-how"),
        if_not_you: i18n::t("mail-locked-if-not-you"),
    };
    render_notice(
        &notice,
        &mail.display_name,
        &mail.device_name,
        mail.locked_at,
        &mail.manage_url,
    )
}

pub(super) fn secret_code_reset(
    lang: Lang,
    mail: &SecretCodeResetMail,
) -> Result<RenderedMail, askama::Error> {
    i18n::with_lang(lang, || {
        let notice = Notice {
            subject: i18n::t("mail-reset-subject"),
            intro: i18n::t1("mail-reset-intro", "product", mail.product_label.as_str()),
            label: i18n::t("mail-label-reset"),
            how: i18n::t("mail-reset-if-you"),
            if_not_you: i18n::t("mail-reset-if-not-you"),
        };
        render_notice(
            &notice,
            &mail.display_name,
            &mail.device_name,
            mail.reset_at,
            &mail.manage_url,
        )
    })
}

fn render_notice(
    notice: &Notice,
    display_name: &str,
    device_name: &str,
    at: NaiveDateTime,
    manage_url: &url::Url,
) -> Result<RenderedMail, askama::Error> {
    let display_name = one_line(display_name);
    let device_name = one_line(device_name);
    let when = format_time(at);
    let manage_url = manage_url.to_string();
    Ok(RenderedMail {
        subject: notice.subject.clone(),
        text_body: NoticeText {
            display_name: &display_name,
            device_name: &device_name,
            when: &when,
            manage_url: &manage_url,
            intro: &notice.intro,
            label: &notice.label,
            how: &notice.how,
            if_not_you: &notice.if_not_you,
        }
        .render()?,
        html_body: NoticeHtml {
            subject: &notice.subject,
            display_name: &display_name,
            device_name: &device_name,
            when: &when,
            manage_url: &manage_url,
            intro: &notice.intro,
            label: &notice.label,
            how: &notice.how,
            if_not_you: &notice.if_not_you,
        }
        .render()?,
    })
}

/// A moment as a citizen reads it, in Luxembourg time with the zone's name, e.g.
/// `27 novembre 2026 à 15:05 (CET)`: a mail may be read anywhere.
fn format_time(at: NaiveDateTime) -> String {
    i18n::time::datetime_with_zone(i18n::current(), at)
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
        let mail = device_linked(
            Lang::En,
            &DeviceLinkedMail {
                display_name: "Marie Dupont".into(),
                device_name: "Marie's Pixel 8".into(),
                method_label: "LuxTrust Scan".into(),
                linked_at: at(),
                manage_url: manage_url(),
            },
        )
        .unwrap();
        assert_eq!(mail.subject, "A mobile device was linked to your account");
        for body in [&mail.text_body, &mail.html_body] {
            assert!(body.contains("Marie Dupont"), "{body}");
            assert!(body.contains("LuxTrust Scan"), "{body}");
            assert!(body.contains("27 November 2026, 15:05 (CET)"), "{body}");
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
        let mail = device_linked(
            Lang::En,
            &DeviceLinkedMail {
                display_name: "<b>Jean</b>".into(),
                device_name: "<script>alert(1)</script>".into(),
                method_label: "QR code".into(),
                linked_at: at(),
                manage_url: manage_url(),
            },
        )
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
        let mail = device_locked(
            Lang::En,
            &DeviceLockedMail {
                display_name: "Luc".into(),
                device_name: "Phone\n\nClick https://evil.example now".into(),
                locked_at: at(),
                manage_url: manage_url(),
            },
        )
        .unwrap();
        assert!(
            mail.text_body
                .contains("Device: Phone  Click https://evil.example now\n")
        );
    }

    #[test]
    fn unlinked_and_locked_mails_render_both_bodies() {
        let unlinked = device_unlinked(
            Lang::En,
            &DeviceUnlinkedMail {
                display_name: "Sophie".into(),
                device_name: "iPhone <15>".into(),
                unlinked_at: at(),
                by: UnlinkedBy::App,
                manage_url: manage_url(),
            },
        )
        .unwrap();
        assert_eq!(
            unlinked.subject,
            "A mobile device was unlinked from your account"
        );
        assert!(unlinked.text_body.contains("iPhone <15>"));
        assert!(unlinked.html_body.contains("iPhone &#60;15&#62;"));
        assert!(unlinked.text_body.contains("from the app on the device"));
        assert!(unlinked.html_body.contains("from the app on the device"));

        let locked = device_locked(
            Lang::En,
            &DeviceLockedMail {
                display_name: "Sophie".into(),
                device_name: "iPhone".into(),
                locked_at: at(),
                manage_url: manage_url(),
            },
        )
        .unwrap();
        assert!(locked.subject.contains("locked"));
        for body in [&locked.text_body, &locked.html_body] {
            assert!(body.contains("Sophie") && body.contains("iPhone"));
            assert!(body.contains("27 November 2026, 15:05 (CET)"));
            assert!(!body.to_lowercase().contains("your secret code is"));
        }
    }

    #[test]
    fn a_mail_speaks_its_language_in_every_part_with_luxembourg_time() {
        // 2026-07-01 08:30 UTC is 10:30 summer time in Luxembourg.
        let summer = chrono::NaiveDate::from_ymd_opt(2026, 7, 1)
            .unwrap()
            .and_hms_opt(8, 30, 0)
            .unwrap();
        let linked = |lang| {
            device_linked(
                lang,
                &DeviceLinkedMail {
                    display_name: "Marie Dupont".into(),
                    device_name: "Pixel".into(),
                    method_label: "QR".into(),
                    linked_at: summer,
                    manage_url: manage_url(),
                },
            )
            .unwrap()
        };
        let fr = linked(Lang::Fr);
        assert_eq!(fr.subject, "Un appareil mobile a été lié à votre compte");
        for body in [&fr.text_body, &fr.html_body] {
            assert!(body.contains("Bonjour Marie Dupont,"), "{body}");
            assert!(body.contains("1 juillet 2026 à 10:30 (CEST)"), "{body}");
            assert!(!body.contains("Hello"), "{body}");
        }
        assert!(fr.html_body.contains("<html lang=\"fr\">"));
        assert!(
            fr.html_body.contains("Ce n&#39;était pas moi"),
            "{}",
            fr.html_body
        );

        let de = linked(Lang::De);
        assert_eq!(de.subject, "Ein Mobilgerät wurde mit Ihrem Konto verknüpft");
        for body in [&de.text_body, &de.html_body] {
            assert!(body.contains("Guten Tag Marie Dupont,"), "{body}");
            assert!(body.contains("1. Juli 2026, 10:30 (MESZ)"), "{body}");
        }
        assert!(de.html_body.contains("<html lang=\"de\">"));

        let locked = device_locked(
            Lang::De,
            &DeviceLockedMail {
                display_name: "Luc".into(),
                device_name: "iPhone".into(),
                locked_at: summer,
                manage_url: manage_url(),
            },
        )
        .unwrap();
        // The same words as the app's refusal and the device list's button.
        assert!(
            locked.text_body.contains("„Dieses Gerät entsperren“"),
            "{}",
            locked.text_body
        );
        let unlinked = device_unlinked(
            Lang::Fr,
            &DeviceUnlinkedMail {
                display_name: "Luc".into(),
                device_name: "iPhone".into(),
                unlinked_at: summer,
                by: UnlinkedBy::Browser,
                manage_url: manage_url(),
            },
        )
        .unwrap();
        assert!(
            unlinked
                .text_body
                .contains("depuis votre compte dans le navigateur")
        );
    }
}
