//! The citizen's language: French, German or English, with Project Fluent messages from
//! `locales/<lang>/<area>.ftl` (compiled into the binary by `fluent-templates`).
//!
//! - [`Lang`] is one of the three; [`negotiate`] picks one from a cookie value and an
//!   `Accept-Language` header, French when neither names one we speak.
//! - [`t`] and [`t_args`] look a message up in the *current* language: the one the request
//!   middleware ([`scope`]) chose for the request, or the one a background job set with
//!   [`with_lang`]. Outside both, French.
//! - A key missing in a language falls back to English, and the gap is logged; a key
//!   missing everywhere renders as the key itself (and is logged as an error). The
//!   `locales` unit test keeps every key in every language with the same variables.
//! - [`time`] shows stored UTC moments in Europe/Luxembourg time, in the language's format.
//!
//! This module is shared ground, like `protocol`: it imports nothing of the server, so the
//! mock eAccess and the demo portal use it too.

pub mod middleware;
pub mod negotiate;
pub mod time;

use std::borrow::Cow;
use std::collections::HashMap;

use fluent_templates::fluent_bundle::FluentValue;
use fluent_templates::{LanguageIdentifier, langid, static_loader};

pub use negotiate::negotiate;

static_loader! {
    static LOCALES = {
        locales: "./locales",
        fallback_language: "en",
        // No Unicode isolation marks around placeables: the values are names and numbers
        // in one script, and the marks would show in plain-text mail and JSON sentences.
        customise: |bundle| bundle.set_use_isolating(false),
    };
}

/// A language devicelink speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Lang {
    Fr,
    De,
    En,
}

/// The language when nothing says otherwise: Luxembourg's administration writes French first.
pub const DEFAULT: Lang = Lang::Fr;

impl Lang {
    /// Every language, in the order the language switcher lists them.
    pub const ALL: [Lang; 3] = [Lang::Fr, Lang::De, Lang::En];

    /// The BCP 47 tag (`<html lang>`, `Content-Language`, the cookie, the account column).
    pub fn code(self) -> &'static str {
        match self {
            Lang::Fr => "fr",
            Lang::De => "de",
            Lang::En => "en",
        }
    }

    /// The language's own name, as the switcher shows it.
    pub fn native_name(self) -> &'static str {
        match self {
            Lang::Fr => "Français",
            Lang::De => "Deutsch",
            Lang::En => "English",
        }
    }

    /// Exactly one of our codes (`fr`, `de`, `en`, any case); nothing else.
    pub fn from_code(code: &str) -> Option<Lang> {
        Lang::ALL
            .into_iter()
            .find(|lang| lang.code().eq_ignore_ascii_case(code.trim()))
    }

    fn id(self) -> LanguageIdentifier {
        match self {
            Lang::Fr => langid!("fr"),
            Lang::De => langid!("de"),
            Lang::En => langid!("en"),
        }
    }

    /// The message `key` in this language.
    pub fn t(self, key: &str) -> String {
        self.lookup(key, None)
    }

    /// The message `key` in this language, with its variables.
    pub fn t_args(self, key: &str, args: &[(&'static str, Arg<'_>)]) -> String {
        let map: HashMap<Cow<'static, str>, FluentValue<'_>> = args
            .iter()
            .map(|(name, value)| (Cow::Borrowed(*name), value.to_fluent()))
            .collect();
        self.lookup(key, Some(&map))
    }

    /// Whether `key` exists in this language itself (no fallback).
    pub fn has(self, key: &str) -> bool {
        LOCALES
            .lookup_no_default_fallback::<Cow<'static, str>>(&self.id(), key, None)
            .is_some()
    }

    fn lookup(
        self,
        key: &str,
        args: Option<&HashMap<Cow<'static, str>, FluentValue<'_>>>,
    ) -> String {
        if let Some(text) = LOCALES.lookup_no_default_fallback(&self.id(), key, args) {
            return text;
        }
        if self != Lang::En {
            if let Some(text) = LOCALES.lookup_no_default_fallback(&Lang::En.id(), key, args) {
                tracing::warn!(
                    key,
                    lang = self.code(),
                    "message missing in this language; English shown"
                );
                return text;
            }
        }
        tracing::error!(key, "message missing in every language; its key is shown");
        key.to_owned()
    }
}

impl std::fmt::Display for Lang {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.code())
    }
}

/// A value for a message variable: text, or a number (which selects plural forms and is
/// formatted by Fluent).
#[derive(Debug, Clone)]
pub enum Arg<'a> {
    Str(Cow<'a, str>),
    Num(f64),
}

impl Arg<'_> {
    fn to_fluent(&self) -> FluentValue<'_> {
        match self {
            Arg::Str(s) => FluentValue::from(s.as_ref()),
            Arg::Num(n) => FluentValue::from(*n),
        }
    }
}

impl<'a> From<&'a str> for Arg<'a> {
    fn from(s: &'a str) -> Self {
        Arg::Str(Cow::Borrowed(s))
    }
}
impl<'a> From<&&'a str> for Arg<'a> {
    fn from(s: &&'a str) -> Self {
        Arg::Str(Cow::Borrowed(s))
    }
}
impl<'a> From<&'a String> for Arg<'a> {
    fn from(s: &'a String) -> Self {
        Arg::Str(Cow::Borrowed(s.as_str()))
    }
}
impl From<String> for Arg<'_> {
    fn from(s: String) -> Self {
        Arg::Str(Cow::Owned(s))
    }
}
macro_rules! numeric_arg {
    ($($t:ty),*) => {$(
        impl From<$t> for Arg<'_> {
            #[allow(clippy::cast_precision_loss, clippy::cast_lossless)]
            fn from(n: $t) -> Self {
                Arg::Num(n as f64)
            }
        }
        impl From<&$t> for Arg<'_> {
            #[allow(clippy::cast_precision_loss, clippy::cast_lossless)]
            fn from(n: &$t) -> Self {
                Arg::Num(*n as f64)
            }
        }
    )*};
}
numeric_arg!(i32, i64, u32, u64, usize);

tokio::task_local! {
    static CURRENT: Lang;
}

/// Runs `fut` (a request's handling) with `lang` as the current language.
pub async fn scope<F: Future>(lang: Lang, fut: F) -> F::Output {
    CURRENT.scope(lang, fut).await
}

/// Runs `f` (rendering a mail, a background job) with `lang` as the current language.
pub fn with_lang<R>(lang: Lang, f: impl FnOnce() -> R) -> R {
    CURRENT.sync_scope(lang, f)
}

/// The current language: the request's or the job's, else [`DEFAULT`].
pub fn current() -> Lang {
    CURRENT.try_with(|lang| *lang).unwrap_or(DEFAULT)
}

/// The message `key` in the current language.
pub fn t(key: &str) -> String {
    current().t(key)
}

/// The message `key` in the current language with one variable (the common case in
/// templates: `{{ crate::i18n::t1("plural-devices", "count", count) }}`).
pub fn t1<'a>(key: &str, name: &'static str, value: impl Into<Arg<'a>>) -> String {
    current().t_args(key, &[(name, value.into())])
}

/// The message `key` in the current language, with its variables.
pub fn t_args(key: &str, args: &[(&'static str, Arg<'_>)]) -> String {
    current().t_args(key, args)
}

#[cfg(test)]
mod tests;
