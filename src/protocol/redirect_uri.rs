//! Redirect-URI matching (RFC 6749 section 3.1.2.3, RFC 9700 section 4.1.3): the
//! presented URI must equal a registered one byte for byte. No normalisation (case,
//! percent-encoding, `..`, default ports, trailing slashes), so what was registered is
//! exactly what is reached; a fragment never matches (section 3.1.2).

/// Whether `presented` is, byte for byte, one of `registered`.
pub fn is_registered(registered: &[String], presented: &str) -> bool {
    !presented.contains('#')
        && registered
            .iter()
            .any(|r| r.as_bytes() == presented.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::is_registered;
    use proptest::prelude::*;

    fn registered() -> Vec<String> {
        vec![
            "https://app.example/cb".to_owned(),
            "lu.myportal.app:/link-callback".to_owned(),
        ]
    }

    #[test]
    fn only_the_exact_bytes_match() {
        let reg = registered();
        assert!(is_registered(&reg, "https://app.example/cb"));
        assert!(is_registered(&reg, "lu.myportal.app:/link-callback"));
        for near in [
            "https://app.example/cb/",
            "https://app.example/cb/.",
            "https://app.example/x/../cb",
            "https://app.example%2Fcb",
            "https://app.example/%63b",
            "https://APP.example/cb",
            "HTTPS://app.example/cb",
            "https://app.example:443/cb",
            "https://app.example:8443/cb",
            "https://evil@app.example/cb",
            "https://app.example/cb@evil.example",
            "https://app.example/cb#",
            "https://app.example/cb#frag",
            "https://app.example/cb?x=1",
            "https://app.example.evil.example/cb",
            " https://app.example/cb",
            "https://app.example/cb\n",
            "",
        ] {
            assert!(!is_registered(&reg, near), "{near:?} must not match");
        }
    }

    #[test]
    fn a_registered_uri_with_a_fragment_never_matches() {
        let reg = vec!["https://app.example/cb#x".to_owned()];
        assert!(!is_registered(&reg, "https://app.example/cb#x"));
    }

    proptest! {
        #[test]
        fn a_match_is_always_one_of_the_registered_strings(
            reg in proptest::collection::vec(".{0,40}", 0..4),
            presented in ".{0,40}",
        ) {
            if is_registered(&reg, &presented) {
                prop_assert!(reg.contains(&presented));
                prop_assert!(!presented.contains('#'));
            }
        }

        #[test]
        fn any_change_to_a_registered_uri_stops_it_matching(
            path in "[a-z/._%-]{0,20}",
            edit in prop_oneof![
                Just("/"), Just("#"), Just("#f"), Just("/.."), Just("%2F"), Just(":443"),
                Just("?"), Just("@evil"), Just(" "),
            ],
        ) {
            let uri = format!("https://app.example/{path}");
            let reg = vec![uri.clone()];
            prop_assert!(is_registered(&reg, &uri) || uri.contains('#'));
            let appended = format!("{uri}{edit}");
            prop_assert!(!is_registered(&reg, &appended));
            let upper = uri.to_uppercase();
            prop_assert_eq!(is_registered(&reg, &upper), upper == uri);
            let userinfo = uri.replacen("https://", "https://user@", 1);
            prop_assert!(!is_registered(&reg, &userinfo));
        }
    }
}
