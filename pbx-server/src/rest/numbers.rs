//! Checks shared by the handlers of numbering-plan entries (queues, ring groups): a new
//! number is digits that no feature code takes (the store refuses one that an extension,
//! queue or ring group has), and names are short printable text.

use super::session::ApiUser;
use super::{ApiError, ApiResult, RestState};
use crate::calls::FeatureCodes;

/// Longest number (as extension numbers).
const MAX_NUMBER: usize = 32;
/// Longest name.
const MAX_NAME: usize = 200;

/// `name`: at most 200 characters, no control characters.
pub(super) fn check_name(field: &str, v: &str) -> ApiResult<()> {
    if v.chars().count() > MAX_NAME || v.chars().any(char::is_control) {
        return Err(ApiError::BadRequest(format!(
            "{field}: at most {MAX_NAME} characters, none of them control characters"
        )));
    }
    Ok(())
}

/// Digits only, 1 to 32.
pub(super) fn check_digits(number: &str) -> ApiResult<()> {
    if number.is_empty() || number.len() > MAX_NUMBER || !number.bytes().all(|b| b.is_ascii_digit())
    {
        return Err(ApiError::BadRequest(format!(
            "number: 1 to {MAX_NUMBER} digits"
        )));
    }
    Ok(())
}

/// `number` is free for a new queue or ring group as far as the feature codes go (they come
/// first in the numbering plan: `888`, the park slots, `811<destination>`...).
pub(super) fn check_not_feature(codes: &FeatureCodes, number: &str) -> ApiResult<()> {
    match codes.parse(number, "") {
        Some((service, _)) => Err(ApiError::Conflict(format!(
            "{number} is taken by the feature code of {service}"
        ))),
        None => Ok(()),
    }
}

/// A new queue or ring group number of the caller's tenant.
pub(super) async fn check_new_number(s: &RestState, user: &ApiUser, number: &str) -> ApiResult<()> {
    check_digits(number)?;
    let cfg = s.store().call_center_config(&user.domain).await?;
    check_not_feature(&FeatureCodes::with_overrides(&cfg.feature_codes), number)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_and_names() {
        assert!(check_digits("610").is_ok());
        for bad in ["", "6a", "*9", "+39", &"1".repeat(33)] {
            assert!(check_digits(bad).is_err(), "{bad}");
        }
        let codes = FeatureCodes::default();
        assert!(check_not_feature(&codes, "610").is_ok());
        for taken in ["888", "890", "811203", "870"] {
            assert!(
                matches!(check_not_feature(&codes, taken), Err(ApiError::Conflict(_))),
                "{taken}"
            );
        }
        let moved = FeatureCodes::with_overrides(&[("park".into(), "610".into())]);
        assert!(check_not_feature(&moved, "610").is_err());
        assert!(check_name("name", "Vendite è").is_ok());
        assert!(check_name("name", "a\nb").is_err());
        assert!(check_name("name", &"x".repeat(201)).is_err());
    }
}
