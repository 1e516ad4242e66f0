//! Citizens' accounts, their eSpaces, and the authentication products they have used to
//! sign in to the portal in a browser (which decides who may link a device with LuxTrust).

pub mod store;

use std::fmt;
use std::str::FromStr;

pub use store::{Account, AuthProductRecord, Espace};

/// An eAccess authentication product, as named in the `eaccess_product` claim.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ProductKind {
    LuxtrustMobile,
    LuxtrustScan,
    LuxtrustToken,
    EidCard,
}

impl ProductKind {
    pub const ALL: [Self; 4] = [
        Self::LuxtrustMobile,
        Self::LuxtrustScan,
        Self::LuxtrustToken,
        Self::EidCard,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::LuxtrustMobile => "luxtrust_mobile",
            Self::LuxtrustScan => "luxtrust_scan",
            Self::LuxtrustToken => "luxtrust_token",
            Self::EidCard => "eid_card",
        }
    }

    /// The name a citizen knows the product by, in the current language.
    pub fn label(self) -> String {
        crate::i18n::t(match self {
            Self::LuxtrustMobile => "product-luxtrust-mobile",
            Self::LuxtrustScan => "product-luxtrust-scan",
            Self::LuxtrustToken => "product-luxtrust-token",
            Self::EidCard => "product-eid-card",
        })
    }

    /// Whether a device can be linked directly with this product (citizen journey, method 1).
    pub fn can_link_device(self) -> bool {
        matches!(self, Self::LuxtrustMobile | Self::LuxtrustScan)
    }
}

impl fmt::Display for ProductKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, thiserror::Error)]
#[error("unknown authentication product `{0}`")]
pub struct UnknownProduct(pub String);

impl FromStr for ProductKind {
    type Err = UnknownProduct;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|k| k.as_str() == s)
            .ok_or_else(|| UnknownProduct(s.chars().take(40).collect()))
    }
}

/// One concrete product: its kind and serial number.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthProduct {
    pub kind: ProductKind,
    pub serial: String,
}

/// The kind of an eSpace: every account has a private one, and may have business ones.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EspaceKind {
    Private,
    Business,
}

impl EspaceKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Private => "private",
            Self::Business => "business",
        }
    }
}

/// A validated business eSpace name: 2 to 80 printable characters, trimmed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EspaceName(String);

impl TryFrom<&str> for EspaceName {
    /// The message key of the refusal (`locales/*/portal.ftl`).
    type Error = &'static str;

    fn try_from(raw: &str) -> Result<Self, Self::Error> {
        let name = raw.trim();
        let count = name.chars().count();
        if !(2..=80).contains(&count) {
            return Err("portal-espace-length");
        }
        if name.chars().any(char::is_control) {
            return Err("portal-espace-control");
        }
        Ok(Self(name.to_owned()))
    }
}

impl EspaceName {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn product_kinds_round_trip_through_their_claim_names() {
        for kind in ProductKind::ALL {
            assert_eq!(kind.as_str().parse::<ProductKind>().unwrap(), kind);
        }
        assert!("luxtrust".parse::<ProductKind>().is_err());
    }

    #[test]
    fn only_luxtrust_mobile_and_scan_can_link_a_device() {
        let allowed: Vec<_> = ProductKind::ALL
            .into_iter()
            .filter(|k| k.can_link_device())
            .collect();
        assert_eq!(
            allowed,
            vec![ProductKind::LuxtrustMobile, ProductKind::LuxtrustScan]
        );
    }

    #[test]
    fn espace_names_are_trimmed_and_bounded() {
        assert_eq!(
            EspaceName::try_from("  Bakery Weber  ").unwrap().as_str(),
            "Bakery Weber"
        );
        assert!(EspaceName::try_from("x").is_err());
        assert!(EspaceName::try_from(&"x".repeat(81)[..]).is_err());
        assert!(EspaceName::try_from("bad\u{7}name").is_err());
    }
}
