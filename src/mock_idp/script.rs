//! Drive the mock's login pages over HTTP, as a browser user would (for tests, the demo
//! and reference clients). The `http` client must not follow redirects; give it a cookie
//! store to exercise single sign-on.

use reqwest::StatusCode;
use url::Url;

use super::error::MockIdpError;

/// PIN typed on the eID card step.
pub const SCRIPT_PIN: &str = "1234";

/// Open `authorize_url`, choose `identity` and `product`, complete the product step, and
/// return the redirect back to the relying party (with `code`, `state`, `iss`, or an error).
/// If the mock answers earlier with a redirect (SSO session, error, fault switch), that
/// redirect is returned.
pub async fn complete_login(
    http: &reqwest::Client,
    authorize_url: &Url,
    identity: &str,
    product: &str,
) -> Result<Url, MockIdpError> {
    let page = match fetch(http, authorize_url).await? {
        Step::Redirect(location) => return Ok(location),
        Step::Page(page) => page,
    };
    let login = LoginForm::find(&page, "/authorize/login")?;
    let step = match post(
        http,
        &login.action,
        &[
            ("request_id", login.request_id.as_str()),
            ("identity", identity),
            ("product", product),
            ("action", "continue"),
        ],
    )
    .await?
    {
        Step::Redirect(location) => return Ok(location),
        Step::Page(page) => page,
    };
    let confirm = LoginForm::find(&step, "/authorize/confirm").map_err(|_| {
        MockIdpError::Script(format!(
            "the login page was shown again: {}",
            alert(&step.html).unwrap_or_else(|| "no message".to_owned())
        ))
    })?;
    let mut fields = vec![
        ("request_id", confirm.request_id.clone()),
        ("action", "approve".to_owned()),
    ];
    if let Some(code) = output(&step.html, "scan-code").or_else(|| output(&step.html, "token-code"))
    {
        fields.push(("otp", code));
    }
    if step.html.contains(r#"name="pin""#) {
        fields.push(("pin", SCRIPT_PIN.to_owned()));
    }
    let fields: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
    match post(http, &confirm.action, &fields).await? {
        Step::Redirect(location) => Ok(location),
        Step::Page(page) => Err(MockIdpError::Script(format!(
            "the product step was refused: {}",
            alert(&page.html).unwrap_or_else(|| "no message".to_owned())
        ))),
    }
}

/// Open `authorize_url` and press Cancel; returns the redirect (`error=access_denied`).
pub async fn cancel_login(
    http: &reqwest::Client,
    authorize_url: &Url,
) -> Result<Url, MockIdpError> {
    let page = match fetch(http, authorize_url).await? {
        Step::Redirect(location) => return Ok(location),
        Step::Page(page) => page,
    };
    let login = LoginForm::find(&page, "/authorize/login")?;
    match post(
        http,
        &login.action,
        &[
            ("request_id", login.request_id.as_str()),
            ("action", "cancel"),
        ],
    )
    .await?
    {
        Step::Redirect(location) => Ok(location),
        Step::Page(_) => Err(MockIdpError::Script("cancel did not redirect".to_owned())),
    }
}

struct Page {
    url: Url,
    html: String,
}

enum Step {
    Page(Page),
    Redirect(Url),
}

async fn fetch(http: &reqwest::Client, url: &Url) -> Result<Step, MockIdpError> {
    read(url, http.get(url.clone()).send().await?).await
}

async fn post(
    http: &reqwest::Client,
    url: &Url,
    form: &[(&str, &str)],
) -> Result<Step, MockIdpError> {
    read(url, http.post(url.clone()).form(form).send().await?).await
}

async fn read(url: &Url, response: reqwest::Response) -> Result<Step, MockIdpError> {
    let status = response.status();
    if status.is_redirection() {
        let location = response
            .headers()
            .get(reqwest::header::LOCATION)
            .and_then(|value| value.to_str().ok())
            .ok_or_else(|| MockIdpError::Script(format!("{status} without Location")))?;
        let location = url
            .join(location)
            .map_err(|_| MockIdpError::Script("invalid Location".to_owned()))?;
        return Ok(Step::Redirect(location));
    }
    let html = response.text().await?;
    if status != StatusCode::OK {
        return Err(MockIdpError::Script(format!(
            "{url} answered {status}: {}",
            heading(&html).unwrap_or_default()
        )));
    }
    Ok(Step::Page(Page {
        url: url.clone(),
        html,
    }))
}

struct LoginForm {
    action: Url,
    request_id: String,
}

impl LoginForm {
    /// The form whose action ends with `action_suffix`, and its hidden `request_id`.
    fn find(page: &Page, action_suffix: &str) -> Result<Self, MockIdpError> {
        let missing = || {
            MockIdpError::Script(format!(
                "no form posting to {action_suffix} on {}",
                page.url
            ))
        };
        let action = tags(&page.html, "form")
            .filter_map(|tag| attribute(tag, "action"))
            .find(|action| action.ends_with(action_suffix))
            .ok_or_else(missing)?;
        let request_id = tags(&page.html, "input")
            .find(|tag| attribute(tag, "name").as_deref() == Some("request_id"))
            .and_then(|tag| attribute(tag, "value"))
            .ok_or_else(missing)?;
        let action = page.url.join(&action).map_err(|_| missing())?;
        Ok(Self { action, request_id })
    }
}

/// The opening tags `<name ...>` of a page.
fn tags<'h>(html: &'h str, name: &str) -> impl Iterator<Item = &'h str> {
    let open = format!("<{name} ");
    let found: Vec<&'h str> = html
        .match_indices(&open)
        .filter_map(|(start, _)| {
            let rest = &html[start..];
            rest.find('>').map(|end| &rest[..end])
        })
        .collect();
    found.into_iter()
}

/// The value of `name="..."` in a tag, unescaped.
fn attribute(tag: &str, name: &str) -> Option<String> {
    let marker = format!(" {name}=\"");
    let start = tag.find(&marker)? + marker.len();
    let end = tag[start..].find('"')? + start;
    Some(unescape(&tag[start..end]))
}

/// The text of `<output id="...">`.
fn output(html: &str, id: &str) -> Option<String> {
    between(html, &format!("<output id=\"{id}\">"), "</output>")
}

fn alert(html: &str) -> Option<String> {
    between(html, "role=\"alert\" id=\"form-error\">", "</p>")
}

fn heading(html: &str) -> Option<String> {
    between(html, "<h1>", "</h1>")
}

fn between(html: &str, open: &str, close: &str) -> Option<String> {
    let start = html.find(open)? + open.len();
    let end = html[start..].find(close)? + start;
    Some(unescape(html[start..end].trim()))
}

fn unescape(text: &str) -> String {
    text.replace("&#34;", "\"")
        .replace("&#39;", "'")
        .replace("&#60;", "<")
        .replace("&#62;", ">")
        .replace("&quot;", "\"")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&#38;", "&")
        .replace("&amp;", "&")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attributes_are_found_in_any_order_and_unescaped() {
        let html = r#"<form method="post" action="/a&#38;b/authorize/login"><input value="x&#34;y" name="request_id" type="hidden">"#;
        let page = Page {
            url: Url::parse("http://idp.test/authorize?x=1").unwrap(),
            html: html.to_owned(),
        };
        let form = LoginForm::find(&page, "/authorize/login").unwrap();
        assert_eq!(form.action.as_str(), "http://idp.test/a&b/authorize/login");
        assert_eq!(form.request_id, "x\"y");
    }
}
