//! Choosing the language of a request: the citizen's own choice (the `lang` cookie, which
//! the language switcher sets and sign-in restores from the account), otherwise the
//! browser's or app's `Accept-Language` (RFC 9110 section 12.5.4), otherwise French.

use super::{DEFAULT, Lang};

/// The cookie that carries the citizen's choice.
pub const COOKIE: &str = "lang";

/// At most this many language ranges of a header are read; the rest is ignored (a hostile
/// header must not cost more than a short one).
const MAX_RANGES: usize = 16;

/// The language for a request with this `lang` cookie and `Accept-Language` header.
pub fn negotiate(cookie: Option<&str>, accept_language: Option<&str>) -> Lang {
    cookie
        .and_then(Lang::from_code)
        .or_else(|| accept_language.and_then(from_accept_language))
        .unwrap_or(DEFAULT)
}

/// The best of our languages that `header` accepts, by its quality values; `None` when it
/// accepts none of them (or only with `q=0`). `*` means "any": French then.
pub fn from_accept_language(header: &str) -> Option<Lang> {
    let mut best: Option<(u16, usize, Lang)> = None;
    for (position, range) in header.split(',').take(MAX_RANGES).enumerate() {
        let mut parts = range.split(';');
        let tag = parts.next().unwrap_or("").trim();
        let quality = parts
            .find_map(|p| {
                p.trim()
                    .strip_prefix("q=")
                    .or_else(|| p.trim().strip_prefix("Q="))
            })
            .map_or(Some(1000), parse_quality);
        let Some(quality) = quality else { continue };
        if quality == 0 {
            continue;
        }
        let lang = if tag == "*" {
            Some(DEFAULT)
        } else {
            let primary = tag.split(['-', '_']).next().unwrap_or("");
            Lang::from_code(primary)
        };
        let Some(lang) = lang else { continue };
        // Higher quality wins; at equal quality, the earlier range.
        let better = match best {
            None => true,
            Some((q, _, _)) => quality > q,
        };
        if better {
            best = Some((quality, position, lang));
        }
    }
    best.map(|(_, _, lang)| lang)
}

/// The first of our languages in an OpenID Connect `ui_locales` value (Core 3.1.2.1: BCP 47
/// tags separated by spaces, most preferred first); `None` when it names none of them. Only
/// the first ranges are read, as for `Accept-Language`.
pub fn from_ui_locales(value: &str) -> Option<Lang> {
    value
        .split(' ')
        .filter(|tag| !tag.is_empty())
        .take(MAX_RANGES)
        .find_map(|tag| Lang::from_code(tag.split(['-', '_']).next().unwrap_or("")))
}

/// A quality value `0`, `0.5`, `1.000` as thousandths; `None` for anything else.
fn parse_quality(value: &str) -> Option<u16> {
    let value = value.trim();
    let (int, frac) = value.split_once('.').unwrap_or((value, ""));
    if frac.len() > 3 || !frac.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let int: u16 = match int {
        "0" => 0,
        "1" => 1,
        _ => return None,
    };
    let mut thousandths = 0u16;
    for (i, b) in frac.bytes().enumerate() {
        thousandths += u16::from(b - b'0') * [100, 10, 1][i];
    }
    let q = int * 1000 + thousandths;
    (q <= 1000).then_some(q)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cookie_wins_over_the_header() {
        assert_eq!(negotiate(Some("de"), Some("en")), Lang::De);
        assert_eq!(negotiate(Some("xx"), Some("en")), Lang::En);
        assert_eq!(negotiate(None, None), Lang::Fr);
    }

    #[test]
    fn accept_language_by_quality_then_order() {
        assert_eq!(
            from_accept_language("de-LU,de;q=0.9,en;q=0.8"),
            Some(Lang::De)
        );
        assert_eq!(
            from_accept_language("lb, en;q=0.5, fr;q=0.7"),
            Some(Lang::Fr)
        );
        assert_eq!(from_accept_language("en-GB, de"), Some(Lang::En));
        assert_eq!(from_accept_language("pt-PT, es"), None);
        assert_eq!(from_accept_language("*"), Some(Lang::Fr));
        assert_eq!(from_accept_language("en;q=0, de;q=0.1"), Some(Lang::De));
    }

    #[test]
    fn ui_locales_in_preference_order() {
        assert_eq!(from_ui_locales("de-LU fr"), Some(Lang::De));
        assert_eq!(from_ui_locales("lb pt en-GB fr"), Some(Lang::En));
        assert_eq!(from_ui_locales("  fr-LU"), Some(Lang::Fr));
        assert_eq!(from_ui_locales("lb pt"), None);
        assert_eq!(from_ui_locales(""), None);
        let long = "xx ".repeat(10_000) + "de";
        assert_eq!(from_ui_locales(&long), None, "only the first tags are read");
    }

    #[test]
    fn hostile_headers_are_ignored_not_fatal() {
        assert_eq!(from_accept_language(""), None);
        assert_eq!(from_accept_language("en;q=2"), None);
        assert_eq!(from_accept_language("en;q=0.12345"), None);
        assert_eq!(from_accept_language("en;q=abc, fr"), Some(Lang::Fr));
        let long = "xx,".repeat(10_000) + "de";
        assert_eq!(
            from_accept_language(&long),
            None,
            "only the first ranges are read"
        );
    }
}
