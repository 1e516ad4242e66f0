//! Errors at the HTTP edge. The device API and other JSON endpoints answer
//! `{"error": "snake_case_code", "error_description": "A sentence."}`; browser routes
//! answer a friendly HTML page. Internal causes are logged (with the request id) by the
//! request-id middleware and never reach the body.

use std::borrow::Cow;
use std::fmt;

use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderName, HeaderValue};
use actix_web::{HttpResponse, ResponseError};

use crate::db::StoreError;

/// An error of a JSON endpoint: HTTP status, stable code, a sentence a person understands.
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub description: Cow<'static, str>,
    /// Extra members of the JSON body (e.g. `attempts_remaining`).
    pub extra: Option<serde_json::Map<String, serde_json::Value>>,
    pub headers: Vec<(HeaderName, HeaderValue)>,
    /// What really went wrong, for the logs only.
    pub cause: Option<anyhow::Error>,
}

impl ApiError {
    pub fn new(
        status: StatusCode,
        code: &'static str,
        description: impl Into<Cow<'static, str>>,
    ) -> Self {
        Self {
            status,
            code,
            description: description.into(),
            extra: None,
            headers: Vec::new(),
            cause: None,
        }
    }

    pub fn bad_request(code: &'static str, description: impl Into<Cow<'static, str>>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, code, description)
    }

    pub fn not_found() -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "not_found",
            crate::i18n::t("api-not-found"),
        )
    }

    /// A failure on our side; the cause is logged, the citizen sees a plain sentence.
    pub fn internal(cause: impl Into<anyhow::Error>) -> Self {
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal_error",
            crate::i18n::t("api-internal-error"),
        )
        .with_cause(cause)
    }

    pub fn unavailable(cause: impl Into<anyhow::Error>) -> Self {
        Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "service_unavailable",
            crate::i18n::t("api-service-unavailable"),
        )
        .with_header(header::RETRY_AFTER, HeaderValue::from_static("5"))
        .with_cause(cause)
    }

    #[must_use]
    pub fn with_cause(mut self, cause: impl Into<anyhow::Error>) -> Self {
        self.cause = Some(cause.into());
        self
    }

    #[must_use]
    pub fn with_header(mut self, name: HeaderName, value: HeaderValue) -> Self {
        self.headers.push((name, value));
        self
    }

    #[must_use]
    pub fn with_field(mut self, key: &str, value: impl Into<serde_json::Value>) -> Self {
        self.extra
            .get_or_insert_with(serde_json::Map::new)
            .insert(key.to_owned(), value.into());
        self
    }
}

impl fmt::Debug for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {}: {}",
            self.status.as_u16(),
            self.code,
            self.description
        )?;
        if let Some(cause) = &self.cause {
            write!(f, " (cause: {cause:#})")?;
        }
        Ok(())
    }
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.code, self.description)
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        self.status
    }

    fn error_response(&self) -> HttpResponse {
        let mut body = self.extra.clone().unwrap_or_default();
        body.insert("error".into(), self.code.into());
        body.insert("error_description".into(), self.description.as_ref().into());
        let mut response = HttpResponse::build(self.status);
        response.insert_header((header::CACHE_CONTROL, "no-store"));
        for (name, value) in &self.headers {
            response.insert_header((name.clone(), value.clone()));
        }
        response.json(serde_json::Value::Object(body))
    }
}

impl From<StoreError> for ApiError {
    fn from(err: StoreError) -> Self {
        match err {
            StoreError::Unavailable(_) => Self::unavailable(err),
            other => Self::internal(other),
        }
    }
}

/// An error of a browser page, rendered as a friendly HTML page.
pub struct PageError {
    pub status: StatusCode,
    pub code: &'static str,
    pub title: Cow<'static, str>,
    pub message: Cow<'static, str>,
    pub headers: Vec<(HeaderName, HeaderValue)>,
    pub cause: Option<anyhow::Error>,
}

impl PageError {
    pub fn new(
        status: StatusCode,
        code: &'static str,
        title: impl Into<Cow<'static, str>>,
        message: impl Into<Cow<'static, str>>,
    ) -> Self {
        Self {
            status,
            code,
            title: title.into(),
            message: message.into(),
            headers: Vec::new(),
            cause: None,
        }
    }

    pub fn not_found() -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "not_found",
            crate::i18n::t("page-not-found-title"),
            crate::i18n::t("page-not-found"),
        )
    }

    pub fn internal(cause: impl Into<anyhow::Error>) -> Self {
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal_error",
            crate::i18n::t("page-internal-error-title"),
            crate::i18n::t("page-internal-error"),
        )
        .with_cause(cause)
    }

    pub fn unavailable(cause: impl Into<anyhow::Error>) -> Self {
        Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "service_unavailable",
            crate::i18n::t("page-unavailable-title"),
            crate::i18n::t("api-service-unavailable"),
        )
        .with_header(header::RETRY_AFTER, HeaderValue::from_static("5"))
        .with_cause(cause)
    }

    /// 429 with `Retry-After`: a browser route's rate limit (`http::rate_limit`).
    pub fn too_many_requests(retry_after_secs: i64) -> Self {
        let err = Self::new(
            StatusCode::TOO_MANY_REQUESTS,
            "rate_limited",
            crate::i18n::t("page-rate-limited-title"),
            crate::i18n::t_args("page-rate-limited", &[("seconds", retry_after_secs.into())]),
        );
        match HeaderValue::from_str(&retry_after_secs.to_string()) {
            Ok(value) => err.with_header(header::RETRY_AFTER, value),
            Err(_) => err,
        }
    }

    #[must_use]
    pub fn with_cause(mut self, cause: impl Into<anyhow::Error>) -> Self {
        self.cause = Some(cause.into());
        self
    }

    #[must_use]
    pub fn with_header(mut self, name: HeaderName, value: HeaderValue) -> Self {
        self.headers.push((name, value));
        self
    }
}

impl fmt::Debug for PageError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {}: {}",
            self.status.as_u16(),
            self.code,
            self.message
        )?;
        if let Some(cause) = &self.cause {
            write!(f, " (cause: {cause:#})")?;
        }
        Ok(())
    }
}

impl fmt::Display for PageError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.code, self.message)
    }
}

impl From<StoreError> for PageError {
    fn from(err: StoreError) -> Self {
        match err {
            StoreError::Unavailable(_) => Self::unavailable(err),
            other => Self::internal(other),
        }
    }
}

// The error page (`impl ResponseError for PageError`) is rendered by the web kit:
// crate::web::error.
