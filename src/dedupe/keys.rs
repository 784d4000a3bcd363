//! Phonetic and pinyin keys for names.

use std::collections::HashSet;
use std::sync::OnceLock;

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

/// Every toneless pinyin syllable (from the readings of the CJK Unified Ideographs).
fn syllables() -> &'static HashSet<String> {
    static SET: OnceLock<HashSet<String>> = OnceLock::new();
    SET.get_or_init(|| ('\u{4E00}'..='\u{9FFF}').filter_map(|c| c.to_pinyin().map(|p| p.plain().to_string())).collect())
}

/// True when a lower-case ASCII word splits into pinyin syllables ("linping", "xiaoming").
pub fn is_pinyin_word(w: &str) -> bool {
    let b = w.as_bytes();
    if b.is_empty() || b.len() > 30 || !b.iter().all(|c| c.is_ascii_lowercase()) {
        return false;
    }
    let set = syllables();
    // ok[i]: the first i letters split into syllables (syllables have 1 to 6 letters).
    let mut ok = vec![false; b.len() + 1];
    ok[0] = true;
    for i in 1..=b.len() {
        ok[i] = (1..=6.min(i)).any(|k| ok[i - k] && set.contains(&w[i - k..i]));
    }
    ok[b.len()]
}

/// Blocking key of a name. A Chinese name written in characters or in pinyin gives its
/// pinyin words sorted ("张伟", "章玮", "Wei Zhang" and "ZHANG Wei" all give
/// "wei zhang"), so homophone typos and both scripts and orders share a key; other
/// names give the Soundex codes of their words, sorted (word order does not matter).
pub fn name_key(s: &str) -> Option<String> {
    let cjk: Vec<char> = s.chars().filter(|c| is_cjk(*c)).collect();
    if !cjk.is_empty() {
        // Surname (the first character) and given name, as pinyin words.
        let sur = pinyin_of(&cjk[..1].iter().collect::<String>());
        let given = pinyin_of(&cjk[1..].iter().collect::<String>());
        let mut words: Vec<String> = [sur, given].into_iter().filter(|w| !w.is_empty()).collect();
        words.sort_unstable();
        return if words.is_empty() { None } else { Some(words.join(" ")) };
    }
    let words: Vec<String> = s
        .split(|c: char| c.is_whitespace() || c == ',' || c == '-')
        .map(|w| fold_ascii(w).chars().filter(|c| c.is_ascii_alphabetic()).collect::<String>())
        .filter(|w| !w.is_empty())
        .collect();
    if words.len() == 2 && words.iter().all(|w| is_pinyin_word(w)) {
        let mut words = words;
        words.sort_unstable();
        return Some(words.join(" "));
    }
    let mut codes: Vec<String> = s.split(|c: char| c.is_whitespace() || c == '-').filter_map(soundex).collect();
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
        for (w, code) in [
            ("Robert", "R163"),
            ("Rupert", "R163"),
            ("Rubin", "R150"),
            ("Ashcraft", "A261"),
            ("Tymczak", "T522"),
            ("Pfister", "P236"),
            ("Honeyman", "H555"),
            ("Müller", "M460"),
        ] {
            assert_eq!(soundex(w).as_deref(), Some(code), "{w}");
        }
        assert_eq!(soundex("123"), None);
    }

    #[test]
    fn pinyin_words_and_cross_script_keys() {
        for w in ["zhang", "linping", "xiaoming", "er", "zhuang"] {
            assert!(is_pinyin_word(w), "{w}");
        }
        for w in ["smith", "thomas", "", "qx"] {
            assert!(!is_pinyin_word(w), "{w}");
        }
        assert_eq!(name_key("蒋琳萍").as_deref(), Some("jiang linping"));
        assert_eq!(name_key("Linping Jiang"), name_key("蒋琳萍"));
        assert_eq!(name_key("JIANG Linping"), name_key("蒋 琳萍"));
        assert_ne!(name_key("Thomas Davis"), None);
        assert_eq!(name_key("Davis, Thomas"), name_key("thomas davis"));
    }

    #[test]
    fn pinyin_keys() {
        assert_eq!(pinyin_of("张伟"), "zhangwei");
        assert_eq!(name_key("张伟"), name_key("张玮"));
        assert_ne!(name_key("张伟"), name_key("李伟"));
        assert_eq!(name_key("John Smith"), name_key("smith jon"));
    }
}
