//! The app's files, compiled into the binary: what each path is, its media type and how
//! long a cache may keep it. Pure lookups, unit-tested.

use sha2::{Digest, Sha256};

/// One file of the app.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Asset {
    pub content_type: &'static str,
    pub body: &'static [u8],
}

impl Asset {
    /// A strong validator (RFC 9110 section 8.8.3): the start of the body's SHA-256.
    pub fn etag(&self) -> String {
        let digest = Sha256::digest(self.body);
        format!("\"{}\"", hex::encode(&digest[..12]))
    }
}

const JS: &str = "text/javascript; charset=utf-8";

macro_rules! file {
    ($path:literal, $type:expr) => {
        Asset {
            content_type: $type,
            body: include_bytes!(concat!("../../static/app/", $path)),
        }
    };
}

/// The file at `/app/<path>`; `""` is the app's page.
pub fn find(path: &str) -> Option<Asset> {
    Some(match path {
        "" | "index.html" => file!("index.html", "text/html; charset=utf-8"),
        "app.css" => file!("app.css", "text/css; charset=utf-8"),
        "app.js" => file!("app.js", JS),
        "api.js" => file!("api.js", JS),
        "dpop.js" => file!("dpop.js", JS),
        "store.js" => file!("store.js", JS),
        "webauthn.js" => file!("webauthn.js", JS),
        "scanner.js" => file!("scanner.js", JS),
        "i18n.js" => file!("i18n.js", JS),
        "ui.js" => file!("ui.js", JS),
        "link.js" => file!("link.js", JS),
        "home.js" => file!("home.js", JS),
        "sw.js" => file!("sw.js", JS),
        "manifest.webmanifest" => file!("manifest.webmanifest", "application/manifest+json"),
        "icons/icon.svg" => file!("icons/icon.svg", "image/svg+xml"),
        "icons/icon-192.png" => file!("icons/icon-192.png", "image/png"),
        "icons/icon-512.png" => file!("icons/icon-512.png", "image/png"),
        "vendor/jsqr/jsQR.js" => file!("vendor/jsqr/jsQR.js", JS),
        "vendor/fluent-bundle/index.js" => file!("vendor/fluent-bundle/index.js", JS),
        "vendor/fluent-bundle/ast.js" => file!("vendor/fluent-bundle/ast.js", JS),
        "vendor/fluent-bundle/builtins.js" => file!("vendor/fluent-bundle/builtins.js", JS),
        "vendor/fluent-bundle/bundle.js" => file!("vendor/fluent-bundle/bundle.js", JS),
        "vendor/fluent-bundle/memoizer.js" => file!("vendor/fluent-bundle/memoizer.js", JS),
        "vendor/fluent-bundle/resolver.js" => file!("vendor/fluent-bundle/resolver.js", JS),
        "vendor/fluent-bundle/resource.js" => file!("vendor/fluent-bundle/resource.js", JS),
        "vendor/fluent-bundle/scope.js" => file!("vendor/fluent-bundle/scope.js", JS),
        "vendor/fluent-bundle/types.js" => file!("vendor/fluent-bundle/types.js", JS),
        _ => return None,
    })
}

/// The app's own texts in `lang` (Project Fluent), or `None` for another language.
pub fn locale(lang: &str) -> Option<Asset> {
    let body: &'static [u8] = match lang {
        "fr" => include_bytes!("../../locales/fr/app.ftl"),
        "de" => include_bytes!("../../locales/de/app.ftl"),
        "en" => include_bytes!("../../locales/en/app.ftl"),
        _ => return None,
    };
    Some(Asset {
        content_type: "text/plain; charset=utf-8",
        body,
    })
}

/// What the app's files may do (CSP level 3): its own scripts, styles, workers and
/// manifest; API calls to this origin only; images from the camera's canvas (`blob:`,
/// `data:`); no frames, no forms posted anywhere, no inline script.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; \
     style-src 'self'; img-src 'self' data: blob:; media-src 'self' blob:; \
     connect-src 'self'; worker-src 'self'; manifest-src 'self'; form-action 'none'; \
     frame-ancestors 'none'; base-uri 'none'";

/// The camera for scanning QR codes, WebAuthn for biometrics; nothing else.
pub const PERMISSIONS_POLICY: &str = "camera=(self), microphone=(), geolocation=(), \
     publickey-credentials-create=(self), publickey-credentials-get=(self)";

/// Every file revalidates (cheaply, with its `ETag`): the service worker keeps the app
/// usable offline, and a new server version reaches the phone at the next start.
pub const CACHE_CONTROL: &str = "no-cache";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_page_scripts_and_manifest_have_their_media_types() {
        assert_eq!(find("").unwrap().content_type, "text/html; charset=utf-8");
        assert_eq!(find("index.html"), find(""));
        assert_eq!(find("app.js").unwrap().content_type, JS);
        assert_eq!(find("sw.js").unwrap().content_type, JS);
        assert_eq!(
            find("manifest.webmanifest").unwrap().content_type,
            "application/manifest+json"
        );
        assert_eq!(
            find("icons/icon-192.png").unwrap().content_type,
            "image/png"
        );
    }

    #[test]
    fn unknown_paths_and_climbing_out_find_nothing() {
        for path in [
            "nope.js",
            "../Cargo.toml",
            "vendor/",
            "vendor/README.md",
            "/app.js",
        ] {
            assert_eq!(find(path), None, "{path}");
        }
    }

    #[test]
    fn the_three_languages_exist_and_no_other() {
        for lang in ["fr", "de", "en"] {
            let text = std::str::from_utf8(locale(lang).unwrap().body).unwrap();
            assert!(text.contains("app-link-your-device ="), "{lang}");
        }
        assert_eq!(locale("es"), None);
        assert_eq!(locale("../en"), None);
    }

    /// Each message of an `.ftl` file with the variables it uses, in order of the file.
    fn messages(lang: &str) -> Vec<(String, std::collections::BTreeSet<String>)> {
        let text = std::str::from_utf8(locale(lang).unwrap().body).unwrap();
        let mut out: Vec<(String, std::collections::BTreeSet<String>)> = Vec::new();
        for line in text.lines() {
            if line.starts_with('#') || line.trim().is_empty() {
                continue;
            }
            if !line.starts_with(' ') {
                let (id, _) = line.split_once(" =").expect("a message: `id = text`");
                out.push((id.to_owned(), std::collections::BTreeSet::new()));
            }
            let vars = &mut out.last_mut().expect("a message first").1;
            for part in line.split('$').skip(1) {
                let name: String = part
                    .chars()
                    .take_while(|c| c.is_ascii_alphanumeric() || *c == '_' || *c == '-')
                    .collect();
                vars.insert(name);
            }
        }
        out
    }

    #[test]
    fn the_three_languages_have_the_same_keys_and_variables() {
        let english = messages("en");
        assert!(english.len() > 50);
        assert!(english.iter().all(|(id, _)| id.starts_with("app-")));
        for lang in ["fr", "de"] {
            assert_eq!(messages(lang), english, "{lang} differs from en");
        }
    }

    #[test]
    fn every_file_has_a_stable_etag() {
        let a = find("app.js").unwrap();
        assert_eq!(a.etag(), a.etag());
        assert_ne!(a.etag(), find("api.js").unwrap().etag());
        assert_eq!(a.etag().len(), 26, "{}", a.etag());
    }
}
