//! Errors of the mock eAccess provider's own API (loading, starting, scripting).
//!
//! Protocol errors seen by relying parties (RFC 6749 §4.1.2.1 redirects, §5.2 JSON) are
//! not here: they are values in `authorize` and `token`, rendered by `routes`.

use std::path::PathBuf;

/// What can go wrong when loading, starting or scripting the mock provider.
#[derive(Debug, thiserror::Error)]
pub enum MockIdpError {
    /// A setting has an invalid value; `key` names it as written in the TOML file.
    #[error("mock IdP setting `{key}`: {message}")]
    Setting { key: String, message: String },
    /// The configuration file could not be read or deserialized.
    #[error("cannot load mock IdP settings from {path}")]
    Load {
        path: PathBuf,
        #[source]
        source: config::ConfigError,
    },
    /// The signing key file could not be read, created or written.
    #[error("mock IdP signing key file {path}")]
    KeyFile {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// The signing key file exists but does not hold a P-256 PKCS#8 key.
    #[error("mock IdP signing key file {path}: {message}")]
    KeyRejected { path: PathBuf, message: String },
    /// The HTTP server could not be started.
    #[error("cannot start the mock IdP server")]
    Server(#[source] std::io::Error),
    /// `script` met a page or response it did not expect.
    #[error("mock IdP login script: {0}")]
    Script(String),
    /// `script` could not talk to the mock provider.
    #[error("mock IdP login script: HTTP request failed")]
    Http(#[from] reqwest::Error),
}

impl MockIdpError {
    pub(crate) fn setting(key: impl Into<String>, message: impl Into<String>) -> Self {
        Self::Setting {
            key: key.into(),
            message: message.into(),
        }
    }
}
