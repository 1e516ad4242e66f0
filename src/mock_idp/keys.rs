//! The provider's ES256 signing key: generated once, kept in a PKCS#8 PEM file (mode 0600),
//! published as a JWKS together with an optional retired key.

use std::io::Write;
use std::path::Path;

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header};
use ring::rand::SystemRandom;
use ring::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair};
use serde::Serialize;
use sha2::{Digest, Sha256};

use super::error::MockIdpError;

const PEM_BEGIN: &str = "-----BEGIN PRIVATE KEY-----";
const PEM_END: &str = "-----END PRIVATE KEY-----";

/// Public half of a P-256 key, as a JWK.
#[derive(Clone, Debug, Serialize)]
pub struct PublicJwk {
    pub kty: &'static str,
    pub crv: &'static str,
    pub x: String,
    pub y: String,
    pub kid: String,
    #[serde(rename = "use")]
    pub use_: &'static str,
    pub alg: &'static str,
}

/// The current signing key and the published set.
pub struct SigningKeys {
    current: PublicJwk,
    encoding: EncodingKey,
    previous: Option<PublicJwk>,
}

impl SigningKeys {
    /// Read `key_file`, or generate and store a new key if it does not exist yet.
    /// `previous_key_file`, when given, must exist; only its public part is published.
    pub fn load_or_generate(
        key_file: &Path,
        previous_key_file: Option<&Path>,
    ) -> Result<Self, MockIdpError> {
        let pkcs8 = match read_pkcs8(key_file) {
            Ok(pkcs8) => pkcs8,
            Err(MockIdpError::KeyFile { source, .. })
                if source.kind() == std::io::ErrorKind::NotFound =>
            {
                generate_and_store(key_file)?
            }
            Err(error) => return Err(error),
        };
        let current = public_jwk(key_file, &pkcs8)?;
        let previous = previous_key_file
            .map(|path| read_pkcs8(path).and_then(|der| public_jwk(path, &der)))
            .transpose()?;
        Ok(Self {
            current,
            encoding: EncodingKey::from_ec_der(&pkcs8),
            previous,
        })
    }

    /// Key id of the signing key (RFC 7638 thumbprint).
    pub fn kid(&self) -> &str {
        &self.current.kid
    }

    /// Sign claims as a compact JWS (ES256, `kid` set).
    pub fn sign<T: Serialize>(&self, claims: &T) -> Result<String, jsonwebtoken::errors::Error> {
        let mut header = Header::new(Algorithm::ES256);
        header.kid = Some(self.current.kid.clone());
        jsonwebtoken::encode(&header, claims, &self.encoding)
    }

    /// The JWKS document: current key first, then the retired one.
    pub fn jwks(&self) -> serde_json::Value {
        let keys: Vec<&PublicJwk> = std::iter::once(&self.current)
            .chain(self.previous.as_ref())
            .collect();
        serde_json::json!({ "keys": keys })
    }

    /// Verification key for `kid` (current or retired).
    pub fn decoding_key(&self, kid: &str) -> Option<DecodingKey> {
        std::iter::once(&self.current)
            .chain(self.previous.as_ref())
            .find(|jwk| jwk.kid == kid)
            .and_then(|jwk| DecodingKey::from_ec_components(&jwk.x, &jwk.y).ok())
    }
}

fn read_pkcs8(path: &Path) -> Result<Vec<u8>, MockIdpError> {
    let bytes = std::fs::read(path).map_err(|source| MockIdpError::KeyFile {
        path: path.to_owned(),
        source,
    })?;
    let rejected = |message: &str| MockIdpError::KeyRejected {
        path: path.to_owned(),
        message: message.to_owned(),
    };
    if !bytes.starts_with(b"-----") {
        return Ok(bytes);
    }
    let text = std::str::from_utf8(&bytes).map_err(|_| rejected("PEM is not UTF-8"))?;
    let body = text
        .trim()
        .strip_prefix(PEM_BEGIN)
        .and_then(|rest| rest.strip_suffix(PEM_END))
        .ok_or_else(|| rejected("expected a PEM \"PRIVATE KEY\" (PKCS#8) block"))?;
    let base64: String = body.split_whitespace().collect();
    STANDARD
        .decode(base64)
        .map_err(|_| rejected("PEM body is not base64"))
}

fn generate_and_store(path: &Path) -> Result<Vec<u8>, MockIdpError> {
    let io_error = |source| MockIdpError::KeyFile {
        path: path.to_owned(),
        source,
    };
    let document =
        EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &SystemRandom::new())
            .map_err(|_| MockIdpError::KeyRejected {
                path: path.to_owned(),
                message: "key generation failed".to_owned(),
            })?;
    let pkcs8 = document.as_ref().to_vec();
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent).map_err(io_error)?;
    }
    let mut pem = format!("{PEM_BEGIN}\n");
    for line in STANDARD.encode(&pkcs8).as_bytes().chunks(64) {
        pem.push_str(&String::from_utf8_lossy(line));
        pem.push('\n');
    }
    pem.push_str(PEM_END);
    pem.push('\n');

    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    match options.open(path) {
        Ok(mut file) => {
            file.write_all(pem.as_bytes())
                .and_then(|()| file.sync_all())
                .map_err(io_error)?;
            tracing::info!(path = %path.display(), "generated a new mock IdP signing key");
            Ok(pkcs8)
        }
        // Another process created it in the meantime: use theirs.
        Err(error) if error.kind() == std::io::ErrorKind::AlreadyExists => read_pkcs8(path),
        Err(error) => Err(io_error(error)),
    }
}

fn public_jwk(path: &Path, pkcs8: &[u8]) -> Result<PublicJwk, MockIdpError> {
    let pair = EcdsaKeyPair::from_pkcs8(
        &ECDSA_P256_SHA256_FIXED_SIGNING,
        pkcs8,
        &SystemRandom::new(),
    )
    .map_err(|error| MockIdpError::KeyRejected {
        path: path.to_owned(),
        message: format!("not a P-256 PKCS#8 key ({error})"),
    })?;
    // Uncompressed SEC1 point: 0x04 || x (32 bytes) || y (32 bytes).
    let point = pair.public_key().as_ref();
    let (x, y) = (
        URL_SAFE_NO_PAD.encode(&point[1..33]),
        URL_SAFE_NO_PAD.encode(&point[33..65]),
    );
    // RFC 7638 thumbprint: required members in lexicographic order, no whitespace.
    let canonical = format!(r#"{{"crv":"P-256","kty":"EC","x":"{x}","y":"{y}"}}"#);
    let kid = URL_SAFE_NO_PAD.encode(Sha256::digest(canonical.as_bytes()));
    Ok(PublicJwk {
        kty: "EC",
        crv: "P-256",
        x,
        y,
        kid,
        use_: "sig",
        alg: "ES256",
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_generated_key_is_reused_and_private_to_the_owner() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("nested/key.pem");
        let first = SigningKeys::load_or_generate(&path, None).unwrap();
        let second = SigningKeys::load_or_generate(&path, None).unwrap();
        assert_eq!(first.kid(), second.kid());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }

    #[test]
    fn a_retired_key_is_published_and_verifies() {
        let dir = tempfile::tempdir().unwrap();
        let old = SigningKeys::load_or_generate(&dir.path().join("old.pem"), None).unwrap();
        let token = old.sign(&serde_json::json!({"sub": "x"})).unwrap();
        let keys = SigningKeys::load_or_generate(
            &dir.path().join("new.pem"),
            Some(&dir.path().join("old.pem")),
        )
        .unwrap();
        assert_eq!(keys.jwks()["keys"].as_array().unwrap().len(), 2);
        let key = keys.decoding_key(old.kid()).unwrap();
        let mut validation = jsonwebtoken::Validation::new(Algorithm::ES256);
        validation.required_spec_claims.clear();
        jsonwebtoken::decode::<serde_json::Value>(&token, &key, &validation).unwrap();
    }
}
