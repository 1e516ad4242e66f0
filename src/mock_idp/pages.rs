//! Server-rendered pages (askama, auto-escaped): login, product step, messages.

use askama::Template;

use super::products::ProductKind;
use super::settings::{MockIdentity, MockProduct};

/// The stylesheet served at `<base>/static/mock-idp.css` (CSP `style-src 'self'`).
pub const STYLESHEET: &str = include_str!("mock-idp.css");

pub struct IdentityOption {
    pub id: String,
    pub name: String,
    pub products: String,
    pub checked: bool,
}

pub struct ProductOption {
    pub kind: &'static str,
    pub label: String,
    pub checked: bool,
}

#[derive(Template)]
#[template(path = "mock_idp/login.html")]
struct LoginPage<'a> {
    title: &'a str,
    base_path: &'a str,
    error: &'a str,
    client_name: &'a str,
    request_id: &'a str,
    identities: Vec<IdentityOption>,
    products: Vec<ProductOption>,
}

#[derive(Template)]
#[template(path = "mock_idp/step.html")]
struct StepPage<'a> {
    title: &'a str,
    base_path: &'a str,
    error: &'a str,
    request_id: &'a str,
    intro: String,
    kind: &'a str,
    code: &'a str,
}

#[derive(Template)]
#[template(path = "mock_idp/message.html")]
struct MessagePage<'a> {
    title: &'a str,
    base_path: &'a str,
    error: &'a str,
    message: &'a str,
    detail: &'a str,
}

/// What the login page shows.
pub struct LoginView<'a> {
    pub base_path: &'a str,
    pub client_name: &'a str,
    pub request_id: &'a str,
    pub identities: &'a [MockIdentity],
    pub allowed_products: &'a [ProductKind],
    pub selected_identity: Option<&'a str>,
    pub selected_product: Option<ProductKind>,
    pub error: &'a str,
}

pub fn login(view: &LoginView<'_>) -> Result<String, askama::Error> {
    let selected_identity = view
        .selected_identity
        .filter(|id| view.identities.iter().any(|identity| identity.id == *id))
        .or_else(|| view.identities.first().map(|identity| identity.id.as_str()));
    let identities = view
        .identities
        .iter()
        .map(|identity| IdentityOption {
            id: identity.id.clone(),
            name: identity.name(),
            products: if identity.products.is_empty() {
                crate::i18n::t("idp-no-product")
            } else {
                identity
                    .products
                    .iter()
                    .map(|product| product.kind.label())
                    .collect::<Vec<_>>()
                    .join(", ")
            },
            checked: Some(identity.id.as_str()) == selected_identity,
        })
        .collect();
    let selected_product = view
        .selected_product
        .filter(|kind| view.allowed_products.contains(kind))
        .or_else(|| view.allowed_products.first().copied());
    let products = view
        .allowed_products
        .iter()
        .map(|&kind| ProductOption {
            kind: kind.as_str(),
            label: kind.label(),
            checked: Some(kind) == selected_product,
        })
        .collect();
    LoginPage {
        title: &crate::i18n::t("idp-login-title"),
        base_path: view.base_path,
        error: view.error,
        client_name: view.client_name,
        request_id: view.request_id,
        identities,
        products,
    }
    .render()
}

pub fn step(
    base_path: &str,
    request_id: &str,
    identity: &MockIdentity,
    product: &MockProduct,
    code: Option<&str>,
    error: &str,
) -> Result<String, askama::Error> {
    let label = product.kind.label();
    StepPage {
        title: &label,
        base_path,
        error,
        request_id,
        intro: crate::i18n::t_args(
            "idp-signing-in-as",
            &[
                ("name", identity.name().into()),
                ("product", label.as_str().into()),
                ("serial", product.serial.as_str().into()),
            ],
        ),
        kind: product.kind.as_str(),
        code: code.unwrap_or_default(),
    }
    .render()
}

/// A page with one sentence for the citizen and, when not empty, a technical `detail` for
/// the developers of the application that sent them.
pub fn message(
    base_path: &str,
    title: &str,
    message: &str,
    detail: &str,
) -> Result<String, askama::Error> {
    MessagePage {
        title,
        base_path,
        error: "",
        message,
        detail,
    }
    .render()
}
