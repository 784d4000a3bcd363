//! Unicode text cleaning: NFKC, control characters, whitespace, placeholders.

use unicode_normalization::UnicodeNormalization;

/// Values that mean "no value" in CRM exports (compared case-insensitively after NFKC).
pub const PLACEHOLDERS: &[&str] = &[
    "",
    "n/a",
    "na",
    "n.a.",
    "null",
    "none",
    "nil",
    "nan",
    "-",
    "--",
    "---",
    "—",
    "?",
    "??",
    "/",
    "unknown",
    "undefined",
    "not available",
    "无",
    "空",
    "不详",
    "未知",
    "暂无",
    "没有",
    "无效",
    "未填写",
    "null值",
    "(null)",
    "<null>",
    "#n/a",
];

#[inline]
fn is_invisible(c: char) -> bool {
    matches!(c, '\u{200B}'..='\u{200D}' | '\u{2060}' | '\u{FEFF}' | '\u{00AD}')
}

/// Writes the NFKC form of `s` with control characters dropped, whitespace trimmed and
/// collapsed to single spaces (and lower-cased when `casefold`) into `out`.
///
/// The result is a fixed point (normalising it again changes nothing): dropping an
/// invisible character between a letter and its combining mark, or lower-casing
/// ("Ｔ\u{308}" -> "t\u{308}", which NFKC composes to "ẗ"), can leave a string that
/// is not in NFKC, so such a rare result goes through the pass again.
pub fn normalize_into(s: &str, casefold: bool, out: &mut String) {
    normalize_pass(s, casefold, out);
    for _ in 0..3 {
        if out.is_ascii() || unicode_normalization::is_nfkc(out) {
            return;
        }
        let again = std::mem::take(out);
        normalize_pass(&again, casefold, out);
    }
}

/// Renormalises a result that a later step (title-casing) built from normalised text.
pub fn renormalize(out: &mut String) {
    if !out.is_ascii() && !unicode_normalization::is_nfkc(out) {
        *out = out.nfkc().collect();
    }
}

fn normalize_pass(s: &str, casefold: bool, out: &mut String) {
    out.clear();
    let mut pending_space = false;
    let mut push = |c: char, out: &mut String| {
        if c.is_whitespace() {
            pending_space = !out.is_empty();
            return;
        }
        if c.is_control() || is_invisible(c) {
            return;
        }
        if pending_space {
            out.push(' ');
            pending_space = false;
        }
        if casefold {
            if c.is_ascii() {
                out.push(c.to_ascii_lowercase());
            } else {
                out.extend(c.to_lowercase());
            }
        } else {
            out.push(c);
        }
    };
    if s.is_ascii() {
        for c in s.chars() {
            push(c, out);
        }
    } else {
        for c in s.nfkc() {
            push(c, out);
        }
    }
}

/// True when an already normalised value is a placeholder for "no value".
pub fn is_placeholder(normalized: &str) -> bool {
    if normalized.len() > 16 {
        return false;
    }
    if normalized.is_ascii() {
        let lower = normalized.to_ascii_lowercase();
        PLACEHOLDERS.contains(&lower.as_str())
    } else {
        let lower = normalized.to_lowercase();
        PLACEHOLDERS.contains(&lower.as_str())
    }
}

/// Cleans free text: NFKC, trim, collapse whitespace, drop control characters,
/// placeholders to `None`.
pub fn clean_text(s: &str, casefold: bool) -> Option<String> {
    let mut out = String::with_capacity(s.len());
    normalize_into(s, casefold, &mut out);
    if is_placeholder(&out) {
        None
    } else {
        Some(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nfkc_and_whitespace() {
        assert_eq!(clean_text("  ＡＢＣ　１２３ ", false).as_deref(), Some("ABC 123"));
        assert_eq!(clean_text("a\t\n b\u{0007}c", false).as_deref(), Some("a bc"));
        assert_eq!(clean_text("Hello World", true).as_deref(), Some("hello world"));
        assert_eq!(clean_text("ÄÖÜ", true).as_deref(), Some("äöü"));
        assert_eq!(clean_text("张\u{200B}伟", false).as_deref(), Some("张伟"));
    }

    #[test]
    fn results_are_fixed_points() {
        // Lower-casing and dropped invisible characters can leave text NFKC would compose.
        for (raw, casefold) in [("Ｔ\u{308}", true), ("e\u{200B}\u{301}", false), ("Å\u{200D}\u{301}", true)] {
            let once = clean_text(raw, casefold).expect("a value");
            assert_eq!(clean_text(&once, casefold).as_deref(), Some(once.as_str()), "{raw:?}");
        }
        assert_eq!(clean_text("Ｔ\u{308}", true).as_deref(), Some("ẗ"));
        assert_eq!(clean_text("e\u{200B}\u{301}", false).as_deref(), Some("é"));
    }

    #[test]
    fn placeholders() {
        for p in ["", "  ", "N/A", "null", "NULL", "None", "-", "无", "空", "不详", "ｎｕｌｌ"] {
            assert_eq!(clean_text(p, false), None, "{p}");
        }
        assert_eq!(clean_text("Nana", false).as_deref(), Some("Nana"));
    }
}
