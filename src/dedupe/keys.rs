//! Phonetic and pinyin keys for names.

use pinyin::ToPinyin;
use unicode_normalization::{char::is_combining_mark, UnicodeNormalization};

use crate::clean::name::is_cjk;

/// ASCII letters of `s` with accents removed (é -> e), lower-case.
pub fn fold_ascii(s: &str) -> String {
    if s.is_ascii() {
        return s.to_ascii_lowercase();
    }
    s.nfkd().filter(|c| !is_combining_mark(*c)).flat_map(char::to_lowercase).collect()
}

/// American Soundex of one word (letter + three digits), or `None` without a letter.
pub fn soundex(word: &str) -> Option<String> {
    let folded = fold_ascii(word);
    let letters: Vec<u8> = folded.bytes().filter(|b| b.is_ascii_lowercase()).collect();
    let first = *letters.first()?;
    let code = |b: u8| -> u8 {
        match b {
            b'b' | b'f' | b'p' | b'v' => b'1',
            b'c' | b'g' | b'j' | b'k' | b'q' | b's' | b'x' | b'z' => b'2',
            b'd' | b't' => b'3',
            b'l' => b'4',
            b'm' | b'n' => b'5',
            b'r' => b'6',
            b'h' | b'w' => b'h',
            _ => b'0',
        }
    };
    let mut out = vec![first.to_ascii_uppercase()];
    let mut last = code(first);
    for &b in &letters[1..] {
        let c = code(b);
        if c == b'h' {
            continue;
        }
        if c != b'0' && c != last {
            out.push(c);
            if out.len() == 4 {
                break;
            }
        }
        last = c;
    }
    while out.len() < 4 {
        out.push(b'0');
    }
    String::from_utf8(out).ok()
}

/// Toneless pinyin of the CJK characters of `s` (other letters kept, lower-case, no spaces).
pub fn pinyin_of(s: &str) -> String {
    let mut out = String::with_capacity(s.len() * 2);
    for c in s.chars() {
        if is_cjk(c) {
            match c.to_pinyin() {
                Some(p) => out.push_str(p.plain()),
                None => out.push(c),
            }
        } else if c.is_alphanumeric() {
            out.extend(c.to_lowercase());
        }
    }
    out
}

/// Blocking key of a name: toneless pinyin for a CJK name (homophone typos agree),
/// otherwise the Soundex codes of its words, sorted (word order does not matter).
pub fn name_key(s: &str) -> Option<String> {
    if s.chars().any(is_cjk) {
        let p = pinyin_of(s);
        return if p.is_empty() { None } else { Some(p) };
    }
    let mut codes: Vec<String> = s
        .split(|c: char| c.is_whitespace() || c == '-')
        .filter_map(soundex)
        .collect();
    if codes.is_empty() {
        return None;
    }
    codes.sort_unstable();
    Some(codes.join(" "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn soundex_reference() {
        for (w, code) in [("Robert", "R163"), ("Rupert", "R163"), ("Rubin", "R150"), ("Ashcraft", "A261"),
                          ("Tymczak", "T522"), ("Pfister", "P236"), ("Honeyman", "H555"), ("Müller", "M460")] {
            assert_eq!(soundex(w).as_deref(), Some(code), "{w}");
        }
        assert_eq!(soundex("123"), None);
    }

    #[test]
    fn pinyin_keys() {
        assert_eq!(pinyin_of("张伟"), "zhangwei");
        assert_eq!(name_key("张伟"), name_key("张玮"));
        assert_ne!(name_key("张伟"), name_key("李伟"));
        assert_eq!(name_key("John Smith"), name_key("smith jon"));
    }
}
