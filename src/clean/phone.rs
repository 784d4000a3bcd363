//! Phone numbers to E.164 with libphonenumber's metadata and validity rules
//! (through the `rlibphonenumber` port). Input is NFKC-normalised first, so
//! full-width digits and punctuation parse; extensions are dropped from the output.

use rlibphonenumber::{enums::Region, PhoneNumberFormat, PHONE_NUMBER_UTIL};
use unicode_normalization::UnicodeNormalization;

use crate::error::{CrmError, Result};

/// Resolves a two-letter region code ("CN", "us") to the metadata region.
pub fn region(code: &str) -> Result<Region> {
    let upper = code.trim().to_ascii_uppercase();
    let bad = || {
        CrmError::invalid(format!(
            "region '{code}' is not a region libphonenumber knows; pass an ISO 3166 two-letter code such as 'CN', 'US', 'GB'"
        ))
    };
    let r = Region::from_code(&upper).map_err(|_| bad())?;
    if PHONE_NUMBER_UTIL.get_country_code_for_region(r).is_none() {
        return Err(bad());
    }
    Ok(r)
}

/// The E.164 form of `raw` when it is a valid number for its region (numbers written
/// without a country code are read as numbers of `default_region`), else `None`.
pub fn clean_phone(raw: &str, default_region: Region, buf: &mut String) -> Option<String> {
    let s: &str = if raw.is_ascii() {
        raw
    } else {
        buf.clear();
        buf.extend(raw.nfkc());
        buf.as_str()
    };
    if s.len() > 250 {
        return None;
    }
    let number = PHONE_NUMBER_UTIL.parse(s, Some(default_region)).ok()?;
    if !PHONE_NUMBER_UTIL.is_valid_number(&number) {
        return None;
    }
    Some(PHONE_NUMBER_UTIL.format(&number, PhoneNumberFormat::E164).into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cn_and_international() {
        let cn = region("CN").unwrap_or_else(|e| panic!("{e}"));
        let mut buf = String::new();
        let mut p = |s: &str| clean_phone(s, cn, &mut buf);
        assert_eq!(p("13812345678").as_deref(), Some("+8613812345678"));
        assert_eq!(p("+86 138 1234 5678").as_deref(), Some("+8613812345678"));
        assert_eq!(p("0086-138-1234-5678").as_deref(), Some("+8613812345678"));
        assert_eq!(p("１３８１２３４５６７８").as_deref(), Some("+8613812345678"));
        assert_eq!(p("010-62345678").as_deref(), Some("+861062345678"));
        assert_eq!(p("+1 650-253-0000").as_deref(), Some("+16502530000"));
        assert_eq!(p("+44 20 7183 8750").as_deref(), Some("+442071838750"));
        assert_eq!(p("138123456").as_deref(), None);
        assert_eq!(p("12345678901").as_deref(), None);
        assert_eq!(p("not a phone"), None);
        assert!(region("XX").is_err());
    }
}
