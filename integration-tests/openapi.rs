//! `GET /api/v1/openapi.json`: the document is OpenAPI 3.1, it names every device-API
//! route the code mounts, every documented operation answers as documented, and the
//! contract check of [`crate::contract`] refuses what the contract does not describe.

use std::collections::BTreeSet;
use std::path::Path;
use std::sync::{Arc, Mutex};

use serde_json::{Value, json};

use crate::contract::{self, Contract, check_response};
use crate::helpers::{Backend, spawn_app};

/// `/api/v1/links/{link_id}` → `/api/v1/links/{}`: templates compared without names.
fn shape(template: &str) -> String {
    template
        .split('/')
        .map(|s| if s.starts_with('{') { "{}" } else { s })
        .collect::<Vec<_>>()
        .join("/")
}

/// Every `(METHOD, path)` the source mounts under `/api/v1` or at the JWKS: the actix
/// route macros (`#[post("/api/v1/...")]`) and `.route("/api/v1/...", web::post()...)`.
/// Test modules (after `#[cfg(test)]`) are left out.
fn routes_in_source() -> BTreeSet<(String, String)> {
    fn walk(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                walk(&path, out);
            } else if path.extension().is_some_and(|e| e == "rs") {
                out.push(path);
            }
        }
    }
    let mut files = Vec::new();
    walk(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("src"),
        &mut files,
    );
    let mut routes = BTreeSet::new();
    for file in files {
        let text = std::fs::read_to_string(&file).unwrap();
        let text = text.split("#[cfg(test)]").next().unwrap_or_default();
        for method in ["get", "post", "put", "delete", "patch"] {
            let marker = format!("#[{method}(\"");
            for (at, _) in text.match_indices(&marker) {
                let rest = &text[at + marker.len()..];
                let path = &rest[..rest.find('"').unwrap()];
                routes.insert((method.to_uppercase(), path.to_owned()));
            }
        }
        for (at, _) in text.match_indices(".route(") {
            let rest = &text[at + ".route(".len()..];
            // The path is the first argument, a literal (`format!` paths are no API).
            let Some(open) = rest.find('"').filter(|&i| rest[..i].trim().is_empty()) else {
                continue;
            };
            let path = &rest[open + 1..open + 1 + rest[open + 1..].find('"').unwrap()];
            let Some(web) = rest.find("web::") else {
                continue;
            };
            let method = &rest[web + "web::".len()..];
            let method = &method[..method.find('(').unwrap()];
            routes.insert((method.to_uppercase(), path.to_owned()));
        }
    }
    routes
        .into_iter()
        .filter(|(_, path)| contract::is_device_api(path))
        .map(|(method, path)| (method, shape(&path)))
        .collect()
}

#[test]
fn every_device_api_route_of_the_code_is_in_the_contract_and_nothing_else() {
    let mounted = routes_in_source();
    // The scan itself must find the routes it is for.
    assert!(mounted.contains(&("POST".into(), "/api/v1/links/{}/qr".into())));
    assert!(mounted.contains(&(
        "POST".into(),
        "/api/v1/provider/approvals/{}/approve".into()
    )));
    let documented: BTreeSet<(String, String)> = contract::contract()
        .operations()
        .into_iter()
        .map(|(method, template)| (method, shape(&template)))
        .collect();
    let undocumented: Vec<_> = mounted.difference(&documented).collect();
    assert!(
        undocumented.is_empty(),
        "routes without a contract: {undocumented:?}"
    );
    let unmounted: Vec<_> = documented.difference(&mounted).collect();
    assert!(
        unmounted.is_empty(),
        "documented but not mounted: {unmounted:?}"
    );
    assert_eq!(documented.len(), 24, "{documented:?}");
}

#[tokio::test]
async fn the_served_contract_is_an_openapi_3_1_document_for_this_server() {
    let app = spawn_app(Backend::Sqlite).await.unwrap();
    let res = app.get("/api/v1/openapi.json").await;
    let checked = check_response("GET", res).await;
    assert_eq!(checked.status, 200);
    assert_eq!(checked.headers["content-type"], "application/json");
    let doc = checked.json();
    assert!(
        doc["openapi"].as_str().unwrap().starts_with("3.1."),
        "{}",
        doc["openapi"]
    );
    assert_eq!(doc["servers"][0]["url"], app.address);
    assert_eq!(
        doc,
        devicelink::openapi::document(&app.settings.server.public_url)
    );

    let meta: Value = serde_json::from_str(include_str!("openapi/oas-3.1-schema.json")).unwrap();
    let validator = jsonschema::draft202012::new(&meta).expect("the meta-schema compiles");
    let errors: Vec<String> = validator.iter_errors(&doc).map(|e| e.to_string()).collect();
    assert!(errors.is_empty(), "not OpenAPI 3.1: {errors:?}");
    // The meta-schema is not toothless: it refuses a document without `info`.
    let mut broken = doc.clone();
    broken.as_object_mut().unwrap().remove("info");
    assert!(!validator.is_valid(&broken));

    // The security schemes of RFC 9449, and the headers an app needs.
    let schemes = &doc["components"]["securitySchemes"];
    assert_eq!(schemes["dpop_proof"]["name"], "DPoP");
    assert_eq!(schemes["dpop_token"]["scheme"], "DPoP");
    let unlock = &doc["paths"]["/api/v1/device/unlock"]["post"];
    assert!(unlock["responses"]["401"]["headers"]["DPoP-Nonce"].is_object());
    assert!(unlock["responses"]["401"]["headers"]["WWW-Authenticate"].is_object());
    let me = &doc["paths"]["/api/v1/me"]["get"];
    assert_eq!(
        me["security"],
        json!([{"dpop_token": [], "dpop_proof": []}])
    );
}

/// A request to `template` with every parameter filled in, no credentials, and a body
/// that is JSON (or a form) but empty.
fn request_without_credentials(
    app: &crate::helpers::TestApp,
    method: &str,
    template: &str,
) -> reqwest::RequestBuilder {
    let path = template
        .split('/')
        .map(|s| {
            if s.starts_with('{') {
                "6f1c1f0e-8a53-4a36-9d0a-2e0c7a3f1b55"
            } else {
                s
            }
        })
        .collect::<Vec<_>>()
        .join("/");
    let request = app.client.request(method.parse().unwrap(), app.url(&path));
    match (method, template) {
        ("POST", "/api/v1/device/token") => request.form(&[("grant_type", "refresh_token")]),
        ("POST" | "PUT", _) => request.json(&json!({})),
        _ => request,
    }
}

#[tokio::test]
async fn every_documented_operation_answers_as_documented_without_credentials() {
    let app = spawn_app(Backend::Sqlite).await.unwrap();
    let operations = contract::contract().operations();
    for (method, template) in &operations {
        let res = request_without_credentials(&app, method, template)
            .send()
            .await
            .unwrap();
        let checked = check_response(method, res).await;
        assert!(
            checked.status != 405 && !checked.text.contains("\"not_found\""),
            "{method} {template} is documented but not routed: {} {}",
            checked.status,
            checked.text
        );
    }
}

/// One answer as received: method, path, status, content type, body.
type Answer = (String, String, u16, Option<String>, String);

/// Captures what the reference client receives.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<Answer>>>);

impl Captured {
    fn observer(&self) -> devicelink::device_client::Observer {
        let seen = self.0.clone();
        Arc::new(move |e: &devicelink::device_client::Exchange<'_>| {
            seen.lock().unwrap().push((
                e.method.to_owned(),
                e.url.path().to_owned(),
                e.status,
                e.content_type.map(str::to_owned),
                e.body.to_owned(),
            ));
        })
    }
}

#[tokio::test]
async fn the_contract_check_refuses_answers_the_contract_does_not_describe() {
    let app = spawn_app(Backend::Sqlite).await.unwrap();
    let captured = Captured::default();
    let mut device = app.device();
    device.observe(captured.observer());
    device.start_qr_link("Marie's phone").await.unwrap();
    let refused = device.redeem_qr("not a code").await.unwrap_err();
    assert_eq!(refused.code(), Some("qr_code_invalid"));
    let seen = captured.0.lock().unwrap().clone();
    let [created, invalid] = &seen[..] else {
        panic!("two answers: {seen:?}")
    };
    let contract: &Contract = contract::contract();
    let check = |(method, path, status, content_type, body): &(
        String,
        String,
        u16,
        Option<String>,
        String,
    )| { contract.check(method, path, *status, content_type.as_deref(), body) };

    // The real answers pass.
    assert_eq!(check(created).unwrap(), "POST /api/v1/links");
    assert_eq!(check(invalid).unwrap(), "POST /api/v1/links/{link_id}/qr");

    let altered = |answer: &Answer, edit: &dyn Fn(&mut Value)| {
        let mut body: Value = serde_json::from_str(&answer.4).unwrap();
        edit(&mut body);
        let mut answer = answer.clone();
        answer.4 = body.to_string();
        check(&answer)
    };
    // A missing required member, an extra member, a wrong type, a value outside its enum.
    let missing = altered(created, &|b| {
        b.as_object_mut().unwrap().remove("state");
    });
    assert!(missing.unwrap_err().contains("state"), "missing member");
    assert!(
        altered(created, &|b| b["surprise"] = json!(1)).is_err(),
        "extra member"
    );
    assert!(
        altered(created, &|b| b["next"] = json!("redeem_qr_code")).is_err(),
        "wrong type"
    );
    assert!(
        altered(created, &|b| b["state"] = json!("half_linked")).is_err(),
        "not in the enum"
    );
    // An error code this operation does not answer (documented elsewhere), a missing
    // description, an undocumented member.
    let foreign = altered(invalid, &|b| b["error"] = json!("device_locked"));
    assert!(foreign.is_err(), "an undocumented error code");
    assert!(
        altered(invalid, &|b| {
            b.as_object_mut().unwrap().remove("error_description");
        })
        .is_err()
    );
    assert!(altered(invalid, &|b| b["attempts_remaining"] = json!(3)).is_err());
    // An undocumented status, content type, operation; a body where none is documented.
    let mut teapot = invalid.clone();
    teapot.2 = 418;
    assert!(check(&teapot).unwrap_err().contains("418"));
    let mut html = created.clone();
    html.3 = Some("text/html".into());
    assert!(check(&html).is_err());
    let mut elsewhere = created.clone();
    elsewhere.1 = "/api/v1/links/x/teleport".into();
    assert!(check(&elsewhere).is_err());
    assert!(
        contract
            .check(
                "DELETE",
                "/api/v1/links/x",
                204,
                Some("application/json"),
                "{}"
            )
            .is_err()
    );
    assert!(
        contract
            .check("DELETE", "/api/v1/links/x", 204, None, "")
            .is_ok()
    );
}
