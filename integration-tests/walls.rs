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

/// `text` without comments and without the contents of string literals (a URL's `//` is
/// no comment), line breaks kept so line numbers stay right.
fn code_only(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    let (mut in_string, mut in_line_comment, mut block_depth) = (false, false, 0usize);
    while let Some(c) = chars.next() {
        if c == '\n' {
            in_line_comment = false;
            out.push('\n');
            continue;
        }
        if in_line_comment {
            continue;
        }
        if block_depth > 0 {
            if c == '*' && chars.peek() == Some(&'/') {
                chars.next();
                block_depth -= 1;
            } else if c == '/' && chars.peek() == Some(&'*') {
                chars.next();
                block_depth += 1;
            }
            continue;
        }
        if in_string {
            if c == '\\' {
                if chars.next() == Some('\n') {
                    out.push('\n');
                }
            } else if c == '"' {
                in_string = false;
                out.push('"');
            }
            continue;
        }
        match (c, chars.peek()) {
            ('/', Some('/')) => in_line_comment = true,
            ('/', Some('*')) => {
                chars.next();
                block_depth = 1;
            }
            ('"', _) => {
                in_string = true;
                out.push('"');
            }
            // A char literal such as '"' or '{' must not open a string or a group.
            ('\'', _) => {
                let rest: String = chars.clone().take(3).collect();
                let skip = if rest.starts_with('\\') {
                    rest.find('\'').map_or(0, |i| i + 1)
                } else if rest.chars().nth(1) == Some('\'') {
                    2
                } else {
                    0
                };
                for _ in 0..skip {
                    chars.next();
                }
                out.push('\'');
            }
            _ => out.push(c),
        }
    }
    out
}

/// The paths a use tree names: `a::{b, c::{d, e}}` gives `a::b`, `a::c::d`, `a::c::e`.
fn expand_use_tree(prefix: &[String], tree: &str, out: &mut Vec<Vec<String>>) {
    let tree = tree.trim();
    if tree.is_empty() {
        return;
    }
    match tree.find('{') {
        None => {
            let mut path = prefix.to_vec();
            path.extend(segments(tree));
            out.push(path);
        }
        Some(open) => {
            let mut path = prefix.to_vec();
            path.extend(segments(tree[..open].trim_end_matches("::")));
            let inner = &tree[open + 1..tree.rfind('}').unwrap_or(tree.len())];
            let (mut depth, mut start) = (0usize, 0usize);
            for (i, c) in inner.char_indices() {
                match c {
                    '{' => depth += 1,
                    '}' => depth = depth.saturating_sub(1),
                    ',' if depth == 0 => {
                        expand_use_tree(&path, &inner[start..i], out);
                        start = i + 1;
                    }
                    _ => {}
                }
            }
            expand_use_tree(&path, &inner[start..], out);
        }
    }
}

/// Every `crate::a::b…` path in `text`, with its line number, as the list of its
/// segments:
/// - `use` items are read whole, across lines, with their groups expanded at any depth
///   (`use crate::portal::{routes, pages};`, `use crate::{\n portal::routes,\n};`);
/// - other mentions (`crate::a::b(x)`) are read where they stand;
/// - a module imported by itself (`use crate::portal;`) is followed where its name is
///   used as a path (`portal::routes::html`).
fn crate_paths(text: &str) -> Vec<(usize, Vec<String>)> {
    let code = code_only(text);
    let line_of = |offset: usize| code[..offset].matches('\n').count() + 1;
    let mut found = Vec::new();
    let mut in_use = vec![false; code.len() + 1];
    let mut aliases = Vec::new();
    let mut from = 0;
    while let Some(at) = code[from..].find("use crate::") {
        let start = from + at;
        let before = code[..start].chars().last();
        let end = code[start..].find(';').map_or(code.len(), |e| start + e);
        from = end.min(code.len());
        if before.is_some_and(|c| c.is_alphanumeric() || c == '_') {
            continue;
        }
        in_use[start..end].iter_mut().for_each(|b| *b = true);
        let mut paths = Vec::new();
        expand_use_tree(&[], &code[start + "use crate::".len()..end], &mut paths);
        for path in paths {
            let path: Vec<String> = path.into_iter().filter(|s| s != "self").collect();
            if path.len() == 1 {
                aliases.push(path[0].clone());
            }
            found.push((line_of(start), path));
        }
    }
    let mut from = 0;
    while let Some(at) = code[from..].find("crate::") {
        let start = from + at;
        from = start + "crate::".len();
        let before = code[..start].chars().last();
        if in_use[start] || before.is_some_and(|c| c.is_alphanumeric() || c == '_') {
            continue;
        }
        found.push((line_of(start), segments(&code[from..])));
    }
    for alias in aliases {
        let needle = format!("{alias}::");
        let mut from = 0;
        while let Some(at) = code[from..].find(&needle) {
            let start = from + at;
            from = start + needle.len();
            let before = code[..start].chars().last();
            if in_use[start] || before.is_some_and(|c| c.is_alphanumeric() || c == '_' || c == ':')
            {
                continue;
            }
            found.push((line_of(start), segments(&code[start..])));
        }
    }
    found
}

fn segments(path: &str) -> Vec<String> {
    let mut out = Vec::new();
    for part in path.split("::") {
        let name: String = part
            .trim_start()
            .chars()
            .take_while(|c| c.is_alphanumeric() || *c == '_')
            .collect();
        if name.is_empty() {
            break;
        }
        let whole = name.len() == part.trim().len();
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
        // The reference client's CLI drives the mock's sign-in page (mock_idp::script).
        && !matches!(first, "mock_idp" | "device_client" | "protocol" | "i18n")
    {
        return Some(format!(
            "the mock eAccess and the reference client stand outside the server: only crate::protocol and crate::i18n are shared, not crate::{first}"
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
        for (n, code) in code_only(text).lines().enumerate() {
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
        ("devices/pages.rs", "use crate::portal::{pages, routes};"),
        (
            "devices/pages.rs",
            "use crate::{\n    db::StoreError,\n    linking::routes::x,\n};",
        ),
        (
            "devices/pages.rs",
            "use crate::{linking::{rules, pages::Page}};",
        ),
        (
            "devices/pages.rs",
            "use crate::portal;\nfn f() { portal::routes::html() }",
        ),
        (
            "devices/pages.rs",
            "let u = \"http://x\"; let p = crate::portal::routes::html;",
        ),
        (
            "config/mod.rs",
            "use crate::{\n    protocol,\n    tokens::PublicJwk,\n};",
        ),
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
        ("devices/pages.rs", "// use crate::portal::routes::html;"),
        (
            "devices/pages.rs",
            "/* crate::portal::routes */ let s = \"crate::portal::routes\";",
        ),
        (
            "devices/pages.rs",
            "use crate::devices::routes::x; let c = '{';",
        ),
        (
            "device_client/cli.rs",
            "crate::mock_idp::script::complete_login(a, b)",
        ),
    ];
    for (path, line) in allowed {
        assert_eq!(check(path, line), Vec::<String>::new(), "{path}: `{line}`");
    }
}
