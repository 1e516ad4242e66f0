//! The `claims` request parameter (OIDC Core 5.5): an essential or voluntary `acr`, and
//! the individual user claims a portal asks for beyond its scopes. Pure.

use super::rules::AuthorizeError;

/// What a `claims` request parameter (OIDC Core 5.5) asks of the ID token's `acr`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AcrClaimRequest {
    pub values: Vec<String>,
    pub essential: bool,
}

/// The user claims devicelink can give, by name (OIDC Core 5.1).
pub const USER_CLAIMS: [&str; 5] = [
    "name",
    "given_name",
    "family_name",
    "email",
    "email_verified",
];

/// The user claims a `claims` parameter asks for, per target (OIDC Core 5.5): given
/// whatever the scopes say. Unknown names are ignored (5.5: claims not understood).
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct RequestedClaims {
    #[serde(default)]
    pub id_token: Vec<String>,
    #[serde(default)]
    pub userinfo: Vec<String>,
}

impl RequestedClaims {
    /// The user claims named under `id_token` and `userinfo` of a valid `claims` value.
    pub fn from_parameter(claims: &str) -> Self {
        let parsed: serde_json::Value = serde_json::from_str(claims).unwrap_or_default();
        let names = |member: &str| -> Vec<String> {
            parsed
                .get(member)
                .and_then(serde_json::Value::as_object)
                .map(|o| {
                    USER_CLAIMS
                        .iter()
                        .filter(|c| o.contains_key(**c))
                        .map(|c| (*c).to_owned())
                        .collect()
                })
                .unwrap_or_default()
        };
        Self {
            id_token: names("id_token"),
            userinfo: names("userinfo"),
        }
    }

    /// Stored form: `None` when nothing was asked.
    pub fn to_stored(&self) -> Option<String> {
        (!self.id_token.is_empty() || !self.userinfo.is_empty())
            .then(|| serde_json::to_string(self).unwrap_or_default())
    }

    pub fn from_stored(stored: Option<&str>) -> Self {
        stored
            .and_then(|s| serde_json::from_str(s).ok())
            .unwrap_or_default()
    }
}

/// Reads the `claims` parameter: a JSON object whose members `id_token` and `userinfo`
/// are objects (OIDC Core 5.5). Returns the `acr` request of `id_token`, if any.
/// `auth_time` is always in devicelink's ID tokens and the user claims follow the
/// scopes, so every other request is met as it is.
pub fn claims_acr(claims: &str) -> Result<Option<AcrClaimRequest>, AuthorizeError> {
    let bad = || AuthorizeError::new("invalid_request", "the claims parameter is not valid JSON");
    let parsed: serde_json::Value = serde_json::from_str(claims).map_err(|_| bad())?;
    let object = parsed.as_object().ok_or_else(bad)?;
    for member in ["id_token", "userinfo"] {
        if object.get(member).is_some_and(|m| !m.is_object()) {
            return Err(bad());
        }
    }
    let Some(acr) = object.get("id_token").and_then(|t| t.get("acr")) else {
        return Ok(None);
    };
    if acr.is_null() {
        return Ok(Some(AcrClaimRequest {
            values: Vec::new(),
            essential: false,
        }));
    }
    let acr = acr.as_object().ok_or_else(bad)?;
    let mut values: Vec<String> = Vec::new();
    if let Some(value) = acr.get("value") {
        values.push(value.as_str().ok_or_else(bad)?.to_owned());
    }
    if let Some(list) = acr.get("values") {
        for value in list.as_array().ok_or_else(bad)? {
            values.push(value.as_str().ok_or_else(bad)?.to_owned());
        }
    }
    let essential = match acr.get("essential") {
        None => false,
        Some(flag) => flag.as_bool().ok_or_else(bad)?,
    };
    Ok(Some(AcrClaimRequest { values, essential }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requested_user_claims_are_read_per_target_and_unknown_names_ignored() {
        let asked = RequestedClaims::from_parameter(
            r#"{"userinfo":{"email":{"essential":true},"phone_number":null},"id_token":{"given_name":null,"auth_time":null}}"#,
        );
        assert_eq!(asked.userinfo, ["email"]);
        assert_eq!(asked.id_token, ["given_name"]);
        let stored = asked.to_stored();
        assert_eq!(RequestedClaims::from_stored(stored.as_deref()), asked);
        assert_eq!(
            RequestedClaims::from_parameter(r#"{"id_token":{"acr":null}}"#).to_stored(),
            None
        );
        assert_eq!(
            RequestedClaims::from_stored(Some("garbage")),
            RequestedClaims::default()
        );
    }
}
