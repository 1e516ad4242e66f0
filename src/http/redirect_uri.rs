//! Redirect URI matching: exact string comparison, no normalisation (RFC 9700 section
//! 4.1.3; OIDC Core section 3.1.2.1).

/// Whether `presented` is byte for byte one of the `registered` redirect URIs. A URI
/// with a fragment never matches (RFC 6749 section 3.1.2).
pub fn is_registered(registered: &[String], presented: &str) -> bool {
    !presented.contains('#')
        && registered
            .iter()
            .any(|r| r.as_bytes() == presented.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::is_registered;

    #[test]
    fn only_an_exact_registered_uri_matches() {
        let registered = vec!["https://portal.example/cb".to_owned()];
        assert!(is_registered(&registered, "https://portal.example/cb"));
        for other in [
            "https://portal.example/cb/",
            "https://PORTAL.example/cb",
            "https://portal.example/cb?x=1",
            "https://portal.example/cb#",
            "https://portal.example:443/cb",
            "",
        ] {
            assert!(!is_registered(&registered, other), "{other}");
        }
    }
}
