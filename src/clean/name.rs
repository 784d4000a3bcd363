//! Person-name cleaning: text rules plus honorifics, Latin title case, CJK spacing.

use super::text::{is_placeholder, normalize_into, renormalize};

const LATIN_HONORIFICS: &[&str] = &["mr", "mrs", "ms", "miss", "dr", "mx", "prof", "sir", "madam"];
const CJK_HONORIFICS: &[&str] = &["先生", "女士", "小姐", "太太", "夫人", "老师", "同学"];

/// True for characters of the CJK ideograph blocks (Han), which names write without spaces.
#[inline]
pub fn is_cjk(c: char) -> bool {
    matches!(c,
        '\u{4E00}'..='\u{9FFF}' | '\u{3400}'..='\u{4DBF}' | '\u{20000}'..='\u{2A6DF}'
        | '\u{2A700}'..='\u{2EBEF}' | '\u{F900}'..='\u{FAFF}' | '\u{3005}' | '\u{3007}')
}

pub fn has_cjk(s: &str) -> bool {
    !s.is_ascii() && s.chars().any(is_cjk)
}

fn title_word(w: &str, out: &mut String) {
    let mut start = true;
    for c in w.chars() {
        if c.is_alphabetic() {
            if start {
                // The first letter of a multi-letter upper case (ß -> SS, ﬁ -> FI,
                // ῌ -> ΗΙ) with the rest lower-cased: Unicode's title case for most of
                // them, and stable when the name is cleaned again ("Ss", not "SS" -> "Ss").
                let mut upper = c.to_uppercase();
                if upper.len() == 1 {
                    out.extend(upper);
                } else if let Some(first) = upper.next() {
                    out.push(first);
                    for rest in upper {
                        out.extend(rest.to_lowercase());
                    }
                }
            } else {
                out.extend(c.to_lowercase());
            }
            start = false;
        } else {
            out.push(c);
            start = matches!(c, '-' | '\'' | '’' | '.');
        }
    }
}

/// Cleans a person's name. Returns `None` for placeholders and values with no letter.
pub fn clean_name(s: &str) -> Option<String> {
    let mut norm = String::with_capacity(s.len());
    normalize_into(s, false, &mut norm);
    if is_placeholder(&norm) {
        return None;
    }
    // Latin honorific tokens (with or without a trailing dot), anywhere at the start.
    let mut tokens: Vec<&str> = norm.split(' ').filter(|t| !t.is_empty()).collect();
    while tokens.len() > 1 {
        let t = tokens[0].trim_end_matches('.').to_lowercase();
        if LATIN_HONORIFICS.contains(&t.as_str()) {
            tokens.remove(0);
        } else {
            break;
        }
    }
    let mut joined = tokens.join(" ");
    // Chinese honorifics written after the name: 王先生 -> 王, 李 女士 -> 李.
    if has_cjk(&joined) {
        for h in CJK_HONORIFICS {
            if let Some(rest) = joined.strip_suffix(h) {
                let rest = rest.trim_end();
                if rest.chars().any(is_cjk) {
                    joined = rest.to_string();
                }
                break;
            }
        }
        // No spaces between two CJK characters (张 伟 -> 张伟); keep "·" of transliterations.
        let chars: Vec<char> = joined.chars().collect();
        let mut out = String::with_capacity(joined.len());
        for (i, &c) in chars.iter().enumerate() {
            if c == ' ' {
                let prev = chars[..i].iter().rev().find(|c| **c != ' ');
                let next = chars[i + 1..].iter().find(|c| **c != ' ');
                if matches!((prev, next), (Some(p), Some(n)) if is_cjk(*p) || is_cjk(*n)) {
                    continue;
                }
            }
            out.push(c);
        }
        joined = out;
    }
    if !joined.chars().any(char::is_alphabetic) {
        return None;
    }
    let mut out = String::with_capacity(joined.len());
    for (i, w) in joined.split(' ').enumerate() {
        if i > 0 {
            out.push(' ');
        }
        if w.chars().any(is_cjk) {
            out.push_str(w);
        } else {
            title_word(w, &mut out);
        }
    }
    // Case mapping can decompose (ΐ upper-cases to Ι + two combining marks).
    renormalize(&mut out);
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert_eq!(clean_name("  john   SMITH ").as_deref(), Some("John Smith"));
        assert_eq!(clean_name("Mr. john o'brien-smith").as_deref(), Some("John O'Brien-Smith"));
        assert_eq!(clean_name("张 伟").as_deref(), Some("张伟"));
        assert_eq!(clean_name("王先生").as_deref(), Some("王"));
        assert_eq!(clean_name("李娜 女士").as_deref(), Some("李娜"));
        assert_eq!(clean_name("ＬＩ　Ｎａ").as_deref(), Some("Li Na"));
        assert_eq!(clean_name("N/A"), None);
        assert_eq!(clean_name("12345"), None);
        assert_eq!(clean_name("Dr").as_deref(), Some("Dr"));
        assert_eq!(clean_name("阿卜杜拉·买买提").as_deref(), Some("阿卜杜拉·买买提"));
    }

    #[test]
    fn letters_with_a_multi_letter_upper_case_stay_stable() {
        assert_eq!(clean_name("ßmith").as_deref(), Some("Ssmith"));
        assert_eq!(clean_name("ῌ").as_deref(), Some("Ηι"));
        for raw in ["ßmith", "ῌ", "ﬁona", "ΐ", "ŉ", "ǆ"] {
            let once = clean_name(raw).expect("a name");
            assert_eq!(clean_name(&once).as_deref(), Some(once.as_str()), "{raw:?}");
        }
    }
}
