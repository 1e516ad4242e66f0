//! Authentication products, their level of assurance (`acr`), methods (`amr`), and the
//! product restriction a relying party may ask for with `acr_values` / `product_hint`.

use serde::{Deserialize, Serialize};

/// `acr` of products at eIDAS level "substantial".
pub const ACR_SUBSTANTIAL: &str = "urn:eaccess:loa:substantial";
/// `acr` of products at eIDAS level "high".
pub const ACR_HIGH: &str = "urn:eaccess:loa:high";
/// Prefix of the product-specific values accepted in `acr_values`.
pub const ACR_PRODUCT_PREFIX: &str = "urn:eaccess:product:";

/// The authentication products offered by eAccess.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ProductKind {
    LuxtrustMobile,
    LuxtrustScan,
    LuxtrustToken,
    EidCard,
}

/// Level of assurance, ordered: a higher level satisfies a request for a lower one.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Loa {
    Substantial,
    High,
}

impl Loa {
    pub fn acr(self) -> &'static str {
        match self {
            Self::Substantial => ACR_SUBSTANTIAL,
            Self::High => ACR_HIGH,
        }
    }
}

impl ProductKind {
    pub const ALL: [Self; 4] = [
        Self::LuxtrustMobile,
        Self::LuxtrustScan,
        Self::LuxtrustToken,
        Self::EidCard,
    ];

    /// The wire name, as in `product_hint` and the `eaccess_product` claim.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::LuxtrustMobile => "luxtrust_mobile",
            Self::LuxtrustScan => "luxtrust_scan",
            Self::LuxtrustToken => "luxtrust_token",
            Self::EidCard => "eid_card",
        }
    }

    pub fn parse(value: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|kind| kind.as_str() == value)
    }

    /// What the login page calls it, in the current language (the brand names stay; the
    /// identity card has the one name devicelink's pages use too).
    pub fn label(self) -> String {
        crate::i18n::t(match self {
            Self::LuxtrustMobile => "product-luxtrust-mobile",
            Self::LuxtrustScan => "product-luxtrust-scan",
            Self::LuxtrustToken => "product-luxtrust-token",
            Self::EidCard => "product-eid-card",
        })
    }

    pub fn loa(self) -> Loa {
        match self {
            Self::LuxtrustMobile | Self::LuxtrustScan | Self::LuxtrustToken => Loa::Substantial,
            Self::EidCard => Loa::High,
        }
    }

    /// Authentication method references, RFC 8176 values.
    pub fn amr(self) -> &'static [&'static str] {
        match self {
            Self::LuxtrustMobile => &["mfa", "swk"],
            Self::LuxtrustScan | Self::LuxtrustToken => &["mfa", "otp", "hwk"],
            Self::EidCard => &["mfa", "sc", "pin"],
        }
    }

    /// Whether the product step shows a one-time code the user must type back.
    pub fn shows_code(self) -> bool {
        matches!(self, Self::LuxtrustScan | Self::LuxtrustToken)
    }
}

/// Every value the provider understands in `acr_values` (advertised in discovery).
pub fn acr_values_supported() -> Vec<String> {
    let mut values = vec![ACR_SUBSTANTIAL.to_owned(), ACR_HIGH.to_owned()];
    values.extend(
        ProductKind::ALL
            .iter()
            .map(|kind| format!("{ACR_PRODUCT_PREFIX}{}", kind.as_str())),
    );
    values
}

/// The products a request allows, from `acr_values` and `product_hint`, in display order.
///
/// `acr_values` (OIDC Core §3.1.2.1) is a list of alternatives: a level admits every product
/// at that level or higher, `urn:eaccess:product:<kind>` admits that product. Values the
/// provider does not know are ignored, as the claim is voluntary; if none is known, the
/// request is not restricted by it. `product_hint` (space-separated kinds) is an eAccess
/// extension and strict: an unknown kind is an error. Both restrictions apply together.
pub fn allowed_products(
    acr_values: Option<&str>,
    product_hint: Option<&str>,
) -> Result<Vec<ProductKind>, String> {
    let mut by_acr: Vec<ProductKind> = Vec::new();
    for value in acr_values.unwrap_or_default().split_ascii_whitespace() {
        let admitted: Vec<ProductKind> = if value == ACR_SUBSTANTIAL {
            at_least(Loa::Substantial)
        } else if value == ACR_HIGH {
            at_least(Loa::High)
        } else if let Some(kind) = value
            .strip_prefix(ACR_PRODUCT_PREFIX)
            .and_then(ProductKind::parse)
        {
            vec![kind]
        } else {
            continue;
        };
        by_acr.extend(admitted);
    }
    if by_acr.is_empty() {
        by_acr = ProductKind::ALL.to_vec();
    }

    let mut by_hint: Vec<ProductKind> = Vec::new();
    for value in product_hint.unwrap_or_default().split_ascii_whitespace() {
        let kind = ProductKind::parse(value)
            .ok_or_else(|| format!("product_hint names an unknown product: {value}"))?;
        by_hint.push(kind);
    }
    if by_hint.is_empty() {
        by_hint = ProductKind::ALL.to_vec();
    }

    let allowed: Vec<ProductKind> = ProductKind::ALL
        .into_iter()
        .filter(|kind| by_acr.contains(kind) && by_hint.contains(kind))
        .collect();
    if allowed.is_empty() {
        return Err("no authentication product satisfies both acr_values and product_hint".into());
    }
    Ok(allowed)
}

fn at_least(level: Loa) -> Vec<ProductKind> {
    ProductKind::ALL
        .into_iter()
        .filter(|kind| kind.loa() >= level)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use ProductKind::{EidCard, LuxtrustMobile, LuxtrustScan, LuxtrustToken};

    #[test]
    fn no_restriction_allows_every_product() {
        assert_eq!(allowed_products(None, None), Ok(ProductKind::ALL.to_vec()));
    }

    #[test]
    fn level_high_allows_only_the_identity_card() {
        assert_eq!(allowed_products(Some(ACR_HIGH), None), Ok(vec![EidCard]));
    }

    #[test]
    fn level_substantial_also_allows_higher_levels() {
        assert_eq!(
            allowed_products(Some(ACR_SUBSTANTIAL), None),
            Ok(vec![LuxtrustMobile, LuxtrustScan, LuxtrustToken, EidCard])
        );
    }

    #[test]
    fn product_values_and_hints_intersect() {
        let acr = "urn:eaccess:product:luxtrust_scan urn:eaccess:product:eid_card";
        assert_eq!(
            allowed_products(Some(acr), Some("luxtrust_scan luxtrust_mobile")),
            Ok(vec![LuxtrustScan])
        );
    }

    #[test]
    fn unknown_acr_values_are_ignored() {
        assert_eq!(
            allowed_products(Some("urn:other:loa"), Some("eid_card")),
            Ok(vec![EidCard])
        );
    }

    #[test]
    fn an_unknown_hint_or_an_empty_intersection_is_an_error() {
        assert!(allowed_products(None, Some("password")).is_err());
        assert!(allowed_products(Some(ACR_HIGH), Some("luxtrust_mobile")).is_err());
    }
}
