//! The `.ftl` files keep in step: every message exists in every language with the same
//! variables, every file parses, and every key the code or a template names exists.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use fluent_syntax::ast;

use super::{Arg, Lang};

type Messages = BTreeMap<String, BTreeSet<String>>;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).to_path_buf()
}

/// Every message (and term) of a language: its key (`key` or `key.attribute`) and variables.
fn messages(lang: Lang) -> Messages {
    let dir = root().join("locales").join(lang.code());
    let mut out = Messages::new();
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "ftl"))
        .collect();
    files.sort();
    assert!(!files.is_empty(), "{} has no .ftl file", dir.display());
    for file in files {
        let source = std::fs::read_to_string(&file).unwrap();
        let resource = fluent_syntax::parser::parse(source.as_str())
            .unwrap_or_else(|(_, errors)| panic!("{}: {errors:?}", file.display()));
        for entry in resource.body {
            let (id, value, attributes) = match entry {
                ast::Entry::Message(m) => (m.id.name.to_owned(), m.value, m.attributes),
                ast::Entry::Term(t) => (format!("-{}", t.id.name), Some(t.value), t.attributes),
                _ => continue,
            };
            let mut vars = BTreeSet::new();
            if let Some(pattern) = &value {
                pattern_vars(pattern, &mut vars);
            }
            let previous = out.insert(id.clone(), vars);
            assert!(
                previous.is_none(),
                "{}: {id} is defined twice",
                file.display()
            );
            for attribute in attributes {
                let mut vars = BTreeSet::new();
                pattern_vars(&attribute.value, &mut vars);
                out.insert(format!("{id}.{}", attribute.id.name), vars);
            }
        }
    }
    out
}

fn pattern_vars(pattern: &ast::Pattern<&str>, vars: &mut BTreeSet<String>) {
    for element in &pattern.elements {
        if let ast::PatternElement::Placeable { expression } = element {
            expression_vars(expression, vars);
        }
    }
}

fn expression_vars(expression: &ast::Expression<&str>, vars: &mut BTreeSet<String>) {
    match expression {
        ast::Expression::Select { selector, variants } => {
            inline_vars(selector, vars);
            for variant in variants {
                pattern_vars(&variant.value, vars);
            }
        }
        ast::Expression::Inline(inline) => inline_vars(inline, vars),
    }
}

fn inline_vars(inline: &ast::InlineExpression<&str>, vars: &mut BTreeSet<String>) {
    match inline {
        ast::InlineExpression::VariableReference { id } => {
            vars.insert(id.name.to_owned());
        }
        ast::InlineExpression::FunctionReference { arguments, .. } => {
            for arg in &arguments.positional {
                inline_vars(arg, vars);
            }
        }
        ast::InlineExpression::Placeable { expression } => expression_vars(expression, vars),
        _ => {}
    }
}

#[test]
fn every_message_exists_in_every_language_with_the_same_variables() {
    let english = messages(Lang::En);
    assert!(english.len() > 20, "the English catalogue looks empty");
    for lang in [Lang::Fr, Lang::De] {
        let other = messages(lang);
        for (key, vars) in &english {
            let theirs = other
                .get(key)
                .unwrap_or_else(|| panic!("{key} is missing in {lang}"));
            assert_eq!(
                theirs, vars,
                "{key} has other variables in {lang} than in en"
            );
        }
        for key in other.keys() {
            assert!(english.contains_key(key), "{key} of {lang} is not in en");
        }
    }
}

/// The string literals that follow `marker` in `text` (e.g. the keys of `t("…")`).
fn literals_after<'a>(text: &'a str, marker: &str) -> Vec<&'a str> {
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(i) = rest.find(marker) {
        let after = &rest[i + marker.len()..];
        // `t("` itself, not the end of another name (`get("`).
        let own = rest[..i]
            .chars()
            .next_back()
            .is_none_or(|c| !(c.is_alphanumeric() || c == '_'));
        if let (true, Some(end)) = (own, after.find('"')) {
            out.push(&after[..end]);
        }
        rest = after;
    }
    out
}

fn files_under(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            files_under(&path, out);
        } else {
            out.push(path);
        }
    }
}

#[test]
fn every_key_the_code_names_exists() {
    let english = messages(Lang::En);
    let mut files = Vec::new();
    files_under(&root().join("src"), &mut files);
    files_under(&root().join("templates"), &mut files);
    let mut checked = 0;
    for file in files {
        if file.ends_with("i18n/tests.rs") {
            continue;
        }
        let Ok(text) = std::fs::read_to_string(&file) else {
            continue;
        };
        for marker in ["t(\"", "t1(\"", "t_args(\""] {
            for key in literals_after(&text, marker) {
                if key.is_empty() || !key.contains('-') || key.contains(' ') {
                    continue; // not a message key (e.g. a test's `format!`).
                }
                checked += 1;
                assert!(
                    english.contains_key(key),
                    "{} names the message {key}, which no .ftl file defines",
                    file.display()
                );
            }
        }
    }
    assert!(checked > 0, "no message key found in the code");
}

#[test]
fn lookups_fall_back_to_english_then_to_the_key() {
    assert!(Lang::En.has("lang-switcher-label"));
    assert_eq!(
        Lang::Fr.t("no-such-message-anywhere"),
        "no-such-message-anywhere"
    );
    let n = Lang::En.t_args("plural-devices", &[("count", Arg::from(1))]);
    assert_eq!(n, "1 device");
    let n = Lang::En.t_args("plural-devices", &[("count", Arg::from(2))]);
    assert_eq!(n, "2 devices");
    let n = Lang::Fr.t_args("plural-devices", &[("count", Arg::from(2))]);
    assert_eq!(n, "2 appareils");
    let n = Lang::De.t_args("plural-devices", &[("count", Arg::from(1))]);
    assert_eq!(n, "1 Gerät");
}

#[test]
fn the_current_language_is_the_scope_s() {
    assert_eq!(super::current(), super::DEFAULT);
    let inside = super::with_lang(Lang::De, super::current);
    assert_eq!(inside, Lang::De);
}
