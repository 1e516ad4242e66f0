//! The module map's walls (docs/architecture.md, "Code map"), checked over the source
//! tree: a forbidden `crate::` path in a file fails the test with the file and line.
//! Each rule is also tried on a made-up line it must refuse, so a rule that matches
//! nothing cannot pass unnoticed.

use std::path::{Path, PathBuf};

/// The features: each owns its routes and pages, and uses no other feature's.
const FEATURES: &[&str] = &["portal", "devices", "linking", "provider", "tokens", "ops"];

/// Longest a source file may be (the generated diesel schema aside).
const MAX_LINES: usize = 600;

struct Source {
    /// Relative to `src/`, with `/` separators.
    path: String,
    text: String,
}

fn sources() -> Vec<Source> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        for entry in std::fs::read_dir(dir).expect("src/ is readable") {
            let path = entry.expect("directory entry").path();
            if path.is_dir() {
                walk(&path, out);
            } else if path.extension().is_some_and(|e| e == "rs") {
                out.push(path);
            }
        }
    }
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    walk(&root, &mut files);
    files.sort();
    files
        .into_iter()
        .map(|file| Source {
            path: file
                .strip_prefix(&root)
                .expect("under src/")
                .to_string_lossy()
                .replace('\\', "/"),
            text: std::fs::read_to_string(&file).expect("source is UTF-8"),
        })
        .collect()
}

/// Every `crate::a::b…` path in `text` (comments skipped), with its line number, as the
/// list of its segments. `crate::{a::b, c}` groups are expanded one level.
fn crate_paths(text: &str) -> Vec<(usize, Vec<String>)> {
    let mut found = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let code = line.split("//").next().unwrap_or("");
        let mut rest = code;
        while let Some(at) = rest.find("crate::") {
            // `devicelink_crate::` or `some_crate::` are other names.
            let before = rest[..at].chars().last();
            rest = &rest[at + "crate::".len()..];
            if before.is_some_and(|c| c.is_alphanumeric() || c == '_') {
                continue;
            }
            if let Some(group) = rest.strip_prefix('{') {
                let inner = group.split('}').next().unwrap_or("");
                for item in inner.split(',') {
                    found.push((n + 1, segments(item.trim())));
                }
            } else {
                found.push((n + 1, segments(rest)));
            }
        }
    }
    found
}

fn segments(path: &str) -> Vec<String> {
    let mut out = Vec::new();
    for part in path.split("::") {
        let name: String = part
            .chars()
            .take_while(|c| c.is_alphanumeric() || *c == '_')
            .collect();
        if name.is_empty() {
            break;
        }
        let whole = name.len() == part.len();
        out.push(name);
        if !whole {
            break;
        }
    }
    out
}

/// The feature a file belongs to, if any.
fn feature_of(path: &str) -> Option<&'static str> {
    FEATURES
        .iter()
        .copied()
        .find(|f| path.starts_with(&format!("{f}/")) || path == format!("{f}.rs"))
}

fn is_storage(path: &str) -> bool {
    path.starts_with("db/") || path.ends_with("/store.rs") || path.contains("/store/")
}

/// Why `segments` may not appear in the file at `path`, if it may not.
fn forbidden(path: &str, segments: &[String]) -> Option<String> {
    let first = segments.first().map(String::as_str)?;
    let second = segments.get(1).map(String::as_str);
    if first == "startup" && path != "startup.rs" && path != "lib.rs" {
        return Some("only start-up wires the application; features import crate::state".into());
    }
    if path.starts_with("config/") && !matches!(first, "config" | "protocol") {
        return Some(format!(
            "the configuration imports no feature (crate::{first}); a feature reads its settings from it"
        ));
    }
    if (path.starts_with("mock_idp/") || path.starts_with("device_client/"))
        && !matches!(first, "mock_idp" | "device_client" | "protocol")
    {
        return Some(format!(
            "the mock eAccess and the reference client stand outside the server: only crate::protocol is shared, not crate::{first}"
        ));
    }
    if is_storage(path)
        && matches!(first, "http" | "web" | "state" | "startup")
        && !(first == "web" && second == Some("store"))
    {
        return Some(format!(
            "the storage layer imports nothing of HTTP (crate::{first})"
        ));
    }
    if (path.starts_with("http/") || path.starts_with("web/")) && FEATURES.contains(&first) {
        return Some(format!(
            "the HTTP plumbing and the web kit sit below the features (crate::{first})"
        ));
    }
    if path.starts_with("http/") && matches!(first, "state" | "web") {
        return Some(format!(
            "crate::http is the lowest web layer; it cannot reach crate::{first}"
        ));
    }
    if let (Some(own), Some(second)) = (feature_of(path), second) {
        if first != own && FEATURES.contains(&first) && matches!(second, "routes" | "pages") {
            return Some(format!(
                "a feature never imports another feature's {second} (crate::{first}::{second}); shared page plumbing is in crate::web"
            ));
        }
    }
    None
}

fn check(path: &str, text: &str) -> Vec<String> {
    let mut problems = Vec::new();
    for (line, segments) in crate_paths(text) {
        // The storage layer's rule is also about the HTTP framework itself.
        if let Some(why) = forbidden(path, &segments) {
            problems.push(format!(
                "src/{path}:{line}: crate::{}: {why}",
                segments.join("::")
            ));
        }
    }
    if is_storage(path) {
        for (n, line) in text.lines().enumerate() {
            let code = line.split("//").next().unwrap_or("");
            if code.contains("actix_web") {
                problems.push(format!(
                    "src/{path}:{}: actix_web: the storage layer imports nothing of HTTP",
                    n + 1
                ));
            }
        }
    }
    problems
}

#[test]
fn the_source_tree_keeps_its_walls() {
    let sources = sources();
    assert!(
        sources.len() > 50,
        "the walk found only {} files",
        sources.len()
    );
    let problems: Vec<String> = sources
        .iter()
        .flat_map(|s| check(&s.path, &s.text))
        .collect();
    assert!(problems.is_empty(), "\n{}", problems.join("\n"));
}

#[test]
fn no_source_file_is_longer_than_a_newcomer_can_hold() {
    let long: Vec<String> = sources()
        .iter()
        .filter(|s| s.path != "db/schema.rs")
        .filter_map(|s| {
            let n = s.text.lines().count();
            (n > MAX_LINES).then(|| format!("src/{}: {n} lines", s.path))
        })
        .collect();
    assert!(
        long.is_empty(),
        "over {MAX_LINES} lines:\n{}",
        long.join("\n")
    );
}

#[test]
fn every_wall_refuses_what_it_is_for() {
    let refused = [
        ("devices/pages.rs", "use crate::portal::routes::html;"),
        ("linking/pages.rs", "use crate::portal::pages::NavUser;"),
        ("provider/flow.rs", "let x = crate::devices::routes::now();"),
        ("linking/luxtrust.rs", "use crate::startup::AppState;"),
        (
            "config/mod.rs",
            "pub provider: crate::provider::ProviderSettings,",
        ),
        (
            "mock_idp/authorize.rs",
            "crate::http::redirect_uri::is_registered(a, b)",
        ),
        ("device_client/client.rs", "use crate::tokens::PublicJwk;"),
        ("audit/store.rs", "use crate::http::RequestContext;"),
        ("db/mod.rs", "actix_web::web::block(move || f())"),
        (
            "mail/store.rs",
            "use crate::{db::DbConnection, http::ApiError};",
        ),
        ("http/metrics.rs", "use crate::state::AppState;"),
        ("web/page.rs", "use crate::portal::pages::HomePage;"),
    ];
    for (path, line) in refused {
        assert!(
            !check(path, line).is_empty(),
            "{path} should refuse `{line}`"
        );
    }
    let allowed = [
        ("devices/pages.rs", "use crate::web::{csrf_failed, html};"),
        ("devices/routes.rs", "use super::routes::now;"),
        (
            "provider/approval.rs",
            "use crate::tokens::access::published_keys;",
        ),
        (
            "portal/callback.rs",
            "crate::linking::complete_luxtrust_callback(&state)",
        ),
        ("web/store.rs", "use crate::db::{DbConnection, StoreError};"),
        ("linking/luxtrust.rs", "use crate::web::store::LoginState;"),
        (
            "mock_idp/flow.rs",
            "use crate::protocol::b64url_encode; // crate::http is not here",
        ),
        (
            "config/provider.rs",
            "crate::protocol::is_p256_coordinate(x)",
        ),
        ("startup.rs", "use crate::state::AppState;"),
    ];
    for (path, line) in allowed {
        assert_eq!(check(path, line), Vec::<String>::new(), "{path}: `{line}`");
    }
}
