//! The OpenAPI contract as a test oracle: every device-API answer the tests receive
//! (through the reference client of [`crate::helpers::TestApp::device`], or a raw request
//! passed to [`check_response`]) is checked against the operation's response for that
//! status in `GET /api/v1/openapi.json`: the status must be documented, the content type
//! must be the documented one, and the JSON body must validate (draft 2020-12) against its
//! schema, so an undocumented error code or a missing or extra member fails the test.
//!
//! With `DEVICELINK_CONTRACT_LOG=<file>`, each checked answer appends a line
//! `<METHOD> <path template> <status> <error code or ->` to the file, to count them.

use std::collections::BTreeMap;
use std::io::Write as _;
use std::sync::{Arc, OnceLock};

use devicelink::device_client::{Exchange, Observer};
use serde_json::{Value, json};

/// One response of one operation.
struct Answer {
    /// Media types with their validators (`None`: the media type has no schema).
    content: Vec<(String, Option<jsonschema::Validator>)>,
}

/// One operation: method, path template and its answers by status.
struct Operation {
    method: String,
    template: String,
    segments: Vec<Option<String>>,
    answers: BTreeMap<u16, Answer>,
}

impl Operation {
    fn matches(&self, method: &str, path: &str) -> bool {
        if !self.method.eq_ignore_ascii_case(method) {
            return false;
        }
        let parts: Vec<&str> = path.trim_start_matches('/').split('/').collect();
        parts.len() == self.segments.len()
            && parts
                .iter()
                .zip(&self.segments)
                .all(|(part, seg)| match seg {
                    Some(fixed) => fixed == part,
                    None => !part.is_empty(),
                })
    }
}

/// The contract, compiled into validators.
pub struct Contract {
    operations: Vec<Operation>,
}

/// Paths the contract speaks for: a call to any other path is not checked (the OIDC
/// provider, the pages).
pub fn is_device_api(path: &str) -> bool {
    path.starts_with("/api/v1/") || path == "/.well-known/jwks.json"
}

impl Contract {
    /// Compiles `doc` (an OpenAPI 3.1 document); panics on a schema that does not compile.
    pub fn new(doc: &Value) -> Self {
        // `#/components/schemas/X` becomes `#/$defs/X` of each response's own schema.
        let text = doc
            .to_string()
            .replace("\"#/components/schemas/", "\"#/$defs/");
        let doc: Value = serde_json::from_str(&text).expect("the document is JSON");
        let defs = doc["components"]["schemas"].clone();
        let mut operations = Vec::new();
        for (template, item) in doc["paths"].as_object().expect("paths") {
            for (method, op) in item.as_object().expect("a path item") {
                let mut answers = BTreeMap::new();
                for (status, response) in op["responses"].as_object().expect("responses") {
                    let status: u16 = status.parse().expect("a numeric status");
                    let content = response["content"]
                        .as_object()
                        .map(|content| {
                            content
                                .iter()
                                .map(|(media, body)| {
                                    let validator = body.get("schema").map(|schema| {
                                        let schema = json!({
                                            "$schema": "https://json-schema.org/draft/2020-12/schema",
                                            "$defs": defs,
                                            "allOf": [schema],
                                        });
                                        jsonschema::draft202012::new(&schema).unwrap_or_else(|e| {
                                            panic!("{method} {template} {status}: schema: {e}")
                                        })
                                    });
                                    (media.clone(), validator)
                                })
                                .collect()
                        })
                        .unwrap_or_default();
                    answers.insert(status, Answer { content });
                }
                operations.push(Operation {
                    method: method.to_uppercase(),
                    template: template.clone(),
                    segments: template
                        .trim_start_matches('/')
                        .split('/')
                        .map(|s| (!s.starts_with('{')).then(|| s.to_owned()))
                        .collect(),
                    answers,
                });
            }
        }
        Self { operations }
    }

    /// The operations: `(METHOD, template)`.
    pub fn operations(&self) -> Vec<(String, String)> {
        self.operations
            .iter()
            .map(|o| (o.method.clone(), o.template.clone()))
            .collect()
    }

    /// Checks one answer; `Ok` names the operation (`METHOD template`).
    pub fn check(
        &self,
        method: &str,
        path: &str,
        status: u16,
        content_type: Option<&str>,
        body: &str,
    ) -> Result<String, String> {
        let op = self
            .operations
            .iter()
            .find(|o| o.matches(method, path))
            .ok_or_else(|| format!("{method} {path}: no such operation in the contract"))?;
        let name = format!("{} {}", op.method, op.template);
        let answer = op
            .answers
            .get(&status)
            .ok_or_else(|| format!("{name}: status {status} is not documented; body: {body}"))?;
        if answer.content.is_empty() {
            return if body.is_empty() {
                Ok(name)
            } else {
                Err(format!(
                    "{name} {status}: documented without a body, got: {body}"
                ))
            };
        }
        let media = content_type
            .and_then(|c| c.split(';').next())
            .map(str::trim)
            .ok_or_else(|| format!("{name} {status}: no Content-Type"))?;
        let (_, validator) = answer
            .content
            .iter()
            .find(|(documented, _)| documented.eq_ignore_ascii_case(media))
            .ok_or_else(|| format!("{name} {status}: Content-Type {media} is not documented"))?;
        if let Some(validator) = validator {
            let value: Value = serde_json::from_str(body)
                .map_err(|e| format!("{name} {status}: the body is not JSON ({e}): {body}"))?;
            let errors: Vec<String> = validator
                .iter_errors(&value)
                .map(|e| format!("{e} at {}", e.instance_path()))
                .collect();
            if !errors.is_empty() {
                return Err(format!(
                    "{name} {status}: the body does not match the contract: {}; body: {body}",
                    errors.join("; ")
                ));
            }
        }
        Ok(name)
    }
}

/// The contract of this build, compiled once.
pub fn contract() -> &'static Contract {
    static CONTRACT: OnceLock<Contract> = OnceLock::new();
    CONTRACT.get_or_init(|| {
        let url = "http://127.0.0.1:8080".parse().expect("a URL");
        Contract::new(&devicelink::openapi::document(&url))
    })
}

/// Checks one answer of the device API against the contract and counts it; panics
/// (failing the test) when the contract does not describe it.
pub fn check_answer(method: &str, path: &str, status: u16, content_type: Option<&str>, body: &str) {
    if !is_device_api(path) {
        return;
    }
    // What the router answers before any operation (docs/api.md, "Errors any API
    // endpoint can answer") at a path or method no operation has.
    let is_operation = contract()
        .operations
        .iter()
        .any(|o| o.matches(method, path));
    if !is_operation && matches!(status, 404 | 405 | 414 | 431) {
        return;
    }
    // The empty 502 of the fault tests' load balancer while an instance is down: not an
    // answer of devicelink, which never answers 502.
    if status == 502 && body.is_empty() {
        return;
    }
    match contract().check(method, path, status, content_type, body) {
        Ok(operation) => record(&operation, status, body),
        Err(problem) => panic!("OpenAPI contract: {problem}"),
    }
}

/// Appends the checked answer to `DEVICELINK_CONTRACT_LOG`, if set.
fn record(operation: &str, status: u16, body: &str) {
    let Some(path) = std::env::var_os("DEVICELINK_CONTRACT_LOG") else {
        return;
    };
    let code = serde_json::from_str::<Value>(body)
        .ok()
        .and_then(|v| v["error"].as_str().map(str::to_owned))
        .unwrap_or_else(|| "-".into());
    if let Ok(mut file) = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
    {
        // One write per line, so that parallel tests do not interleave their lines.
        let _ = file.write_all(format!("{operation} {status} {code}\n").as_bytes());
    }
}

/// The observer the test helpers give every reference client.
pub fn observer() -> Observer {
    Arc::new(|exchange: &Exchange<'_>| {
        check_answer(
            exchange.method,
            exchange.url.path(),
            exchange.status,
            exchange.content_type,
            exchange.body,
        );
    })
}

/// A raw answer, read and checked against the contract.
pub struct Checked {
    pub status: u16,
    pub headers: reqwest::header::HeaderMap,
    pub text: String,
}

impl Checked {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.text).expect("a JSON body")
    }
}

/// Reads a raw device-API answer (a request built by hand: hostile headers, tampered
/// proofs) and checks it against the contract.
pub async fn check_response(method: &str, response: reqwest::Response) -> Checked {
    let status = response.status().as_u16();
    let path = response.url().path().to_owned();
    let headers = response.headers().clone();
    let text = response.text().await.expect("the body is read");
    let content_type = headers
        .get(reqwest::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok());
    check_answer(method, &path, status, content_type, &text);
    Checked {
        status,
        headers,
        text,
    }
}
