//! Comparison levels per field kind. Level 0 is "disagree", the top level is "exact";
//! `NULL_LEVEL` marks a pair where either value is missing (it carries no evidence).

use super::compare::{damerau, dice_of_sorted, jaro_winkler};
use super::keys::pinyin_of;
use crate::clean::{date::parse_date, name::has_cjk};
use crate::error::{CrmError, Result};

pub const NULL_LEVEL: u8 = u8::MAX;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Name,
    Phone,
    Email,
    Date,
    Address,
    Postcode,
    Text,
    Exact,
}

impl Kind {
    pub fn parse(s: &str) -> Result<Kind> {
        Ok(match s {
            "name" => Kind::Name,
            "phone" => Kind::Phone,
            "email" => Kind::Email,
            "date" => Kind::Date,
            "address" => Kind::Address,
            "postcode" => Kind::Postcode,
            "text" => Kind::Text,
            "exact" => Kind::Exact,
            other => {
                return Err(CrmError::invalid(format!(
                    "unknown field kind '{other}'; expected one of name, phone, email, date, address, postcode, text, exact"
                )))
            }
        })
    }

    /// Number of levels, exact agreement being `n_levels() - 1`.
    pub fn n_levels(self) -> usize {
        match self {
            Kind::Name => 5,
            Kind::Email | Kind::Date | Kind::Address | Kind::Text => 4,
            Kind::Phone | Kind::Postcode => 3,
            Kind::Exact => 2,
        }
    }

    pub fn level_names(self) -> &'static [&'static str] {
        match self {
            Kind::Name => &[
                "different",
                "jaro-winkler >= 0.70",
                "jaro-winkler >= 0.88",
                "jaro-winkler >= 0.94 or same pinyin",
                "exact",
            ],
            Kind::Email => &["different", "similar (jaro-winkler >= 0.92)", "same user, other domain", "exact"],
            Kind::Date => &["different", "within a year", "one typo or day/month swapped", "exact"],
            Kind::Address => &["different", "similar (>= 0.70)", "very similar (>= 0.90)", "exact"],
            Kind::Text => &["different", "similar (jaro-winkler >= 0.80)", "very similar (>= 0.94)", "exact"],
            Kind::Phone | Kind::Postcode => &["different", "one edit", "exact"],
            Kind::Exact => &["different", "exact"],
        }
    }
}

/// A field value prepared once per record for fast repeated comparisons.
#[derive(Debug, Clone)]
pub struct Prepared {
    pub text: String,
    pub chars: Vec<char>,
    /// Toneless pinyin of a CJK name.
    pub pinyin: Option<Vec<char>>,
    /// Days since 1970-01-01 for dates.
    pub day: Option<i32>,
    /// Sorted character-bigram codes (addresses), for q-gram similarity without allocating.
    pub grams: Vec<u64>,
    /// The words sorted and re-joined, when the value has several words (names, addresses).
    pub sorted_words: Option<Vec<char>>,
    /// Names: the name as romanised letters in both orders (surname first and last),
    /// from pinyin for a CJK name and from the words for a Latin one, so 王丽 and
    /// "Li Wang" can be recognised as one spelling of the other. E-mails: the letters of
    /// the user part ("zhang_yu88" -> "zhangyu"), to tell when it only spells the name.
    /// Addresses: their digit groups ("12 5 1301"), which tell neighbours apart.
    pub roman: Vec<String>,
    pub is_cjk: bool,
}

fn roman_keys(text: &str, cjk: bool) -> Vec<String> {
    use crate::clean::name::is_cjk;
    if cjk {
        let chars: Vec<char> = text.chars().filter(|c| is_cjk(*c)).collect();
        if chars.len() < 2 {
            return Vec::new();
        }
        let sur = pinyin_of(&chars[..1].iter().collect::<String>());
        let given = pinyin_of(&chars[1..].iter().collect::<String>());
        vec![format!("{sur}{given}"), format!("{given}{sur}")]
    } else {
        let words: Vec<String> = text
            .split(|c: char| c.is_whitespace() || c == ',' || c == '-')
            .map(|w| w.chars().filter(|c| c.is_ascii_alphabetic()).collect::<String>())
            .filter(|w| !w.is_empty())
            .collect();
        if words.len() != 2 {
            return Vec::new();
        }
        vec![format!("{}{}", words[0], words[1]), format!("{}{}", words[1], words[0])]
    }
}

fn bigrams(chars: &[char]) -> Vec<u64> {
    let mut g: Vec<u64> = chars.windows(2).map(|w| ((w[0] as u64) << 32) | w[1] as u64).collect();
    g.sort_unstable();
    g
}

/// A place name as compared: a Chinese one as pinyin without its administrative suffix
/// (上海市, 上海 and Shanghai agree; 西安 and Xi'an too), others without punctuation.
fn place_text(text: &str) -> String {
    if has_cjk(text) {
        let mut t = text.trim();
        for suffix in ["市", "省", "县"] {
            if let Some(rest) = t.strip_suffix(suffix) {
                if rest.chars().count() >= 2 {
                    t = rest;
                }
                break;
            }
        }
        pinyin_of(t)
    } else {
        let mut out = String::with_capacity(text.len());
        for c in text.chars() {
            if c.is_alphanumeric() || c == ' ' {
                out.push(c);
            }
        }
        out.split_whitespace().collect::<Vec<_>>().join(" ")
    }
}

pub fn prepare(kind: Kind, v: &str) -> Option<Prepared> {
    let mut text = v.trim().to_lowercase();
    if kind == Kind::Text {
        text = place_text(&text);
    }
    if text.is_empty() {
        return None;
    }
    let chars: Vec<char> = text.chars().collect();
    let pinyin = if kind == Kind::Name && has_cjk(&text) { Some(pinyin_of(&text).chars().collect()) } else { None };
    let day = if kind == Kind::Date { Some(parse_date(&text)?) } else { None };
    let grams = if kind == Kind::Address { bigrams(&chars) } else { Vec::new() };
    let sorted_words = if matches!(kind, Kind::Name | Kind::Address) && text.contains(' ') {
        let mut w: Vec<&str> = text.split_whitespace().collect();
        w.sort_unstable();
        Some(w.join(" ").chars().collect())
    } else {
        None
    };
    let is_cjk = pinyin.is_some();
    let roman = match kind {
        Kind::Name => roman_keys(&text, is_cjk),
        Kind::Address => {
            // The address's numbers (house, building, room), which tell neighbours apart.
            let groups: Vec<String> = text
                .split(|c: char| !c.is_ascii_digit())
                .filter(|g| !g.is_empty())
                .map(|g| g.trim_start_matches('0').to_string())
                .collect();
            if groups.is_empty() {
                Vec::new()
            } else {
                vec![groups.join(" ")]
            }
        }
        Kind::Email => {
            let user = text.split('@').next().unwrap_or("");
            let letters: String = user.chars().filter(|c| c.is_ascii_alphabetic()).collect();
            if letters.is_empty() {
                Vec::new()
            } else {
                vec![letters]
            }
        }
        _ => Vec::new(),
    };
    Some(Prepared { text, chars, pinyin, day, grams, sorted_words, roman, is_cjk })
}

fn digits_of_day(day: i32) -> [char; 8] {
    let (y, m, d) = crate::clean::date::civil_from_days(day);
    let y = y.clamp(0, 9999) as u32;
    let digit = |v: u32| char::from(b'0' + (v % 10) as u8);
    [digit(y / 1000), digit(y / 100), digit(y / 10), digit(y), digit(m / 10), digit(m), digit(d / 10), digit(d)]
}

/// The comparison level of two prepared values of one kind.
pub fn level(kind: Kind, a: &Prepared, b: &Prepared) -> u8 {
    let top = (kind.n_levels() - 1) as u8;
    if kind == Kind::Date {
        let (da, db) = match (a.day, b.day) {
            (Some(x), Some(y)) => (x, y),
            _ => return NULL_LEVEL,
        };
        if da == db {
            return top;
        }
        let (ya, ma, dda) = crate::clean::date::civil_from_days(da);
        let (yb, mb, ddb) = crate::clean::date::civil_from_days(db);
        if ya == yb && ma == ddb && dda == mb {
            return 2;
        }
        let (sa, sb) = (digits_of_day(da), digits_of_day(db));
        if damerau(&sa, &sb) <= 1 {
            return 2;
        }
        return if (da - db).abs() <= 366 { 1 } else { 0 };
    }
    if a.text == b.text {
        return top;
    }
    match kind {
        Kind::Name => {
            if let (Some(pa), Some(pb)) = (&a.pinyin, &b.pinyin) {
                if pa == pb {
                    return 3;
                }
            }
            if a.is_cjk != b.is_cjk && !a.roman.is_empty() && a.roman.iter().any(|k| b.roman.contains(k)) {
                return 3;
            }
            let mut s = jaro_winkler(&a.chars, &b.chars);
            if let (Some(pa), Some(pb)) = (&a.pinyin, &b.pinyin) {
                // Pinyin similarity, a little discounted: it hears, it does not read.
                s = s.max(jaro_winkler(pa, pb) - 0.04);
            }
            if a.sorted_words.is_some() || b.sorted_words.is_some() {
                let wa = a.sorted_words.as_deref().unwrap_or(&a.chars);
                let wb = b.sorted_words.as_deref().unwrap_or(&b.chars);
                s = s.max(jaro_winkler(wa, wb));
            }
            if s >= 0.94 {
                3
            } else if s >= 0.88 {
                2
            } else if s >= 0.70 {
                1
            } else {
                0
            }
        }
        Kind::Phone | Kind::Postcode => u8::from(damerau(&a.chars, &b.chars) <= 1),
        Kind::Email => {
            let la = a.text.split('@').next().unwrap_or("");
            let lb = b.text.split('@').next().unwrap_or("");
            if !la.is_empty() && la == lb {
                2
            } else if jaro_winkler(&a.chars, &b.chars) >= 0.92 {
                1
            } else {
                0
            }
        }
        Kind::Address => {
            // Cheapest first: the bigram overlap (a merge of sorted codes) often decides.
            let mut s = if a.grams.is_empty() && b.grams.is_empty() { 0.0 } else { dice_of_sorted(&a.grams, &b.grams) };
            if s < 0.90 {
                s = s.max(jaro_winkler(&a.chars, &b.chars));
            }
            if s < 0.90 && (a.sorted_words.is_some() || b.sorted_words.is_some()) {
                let wa = a.sorted_words.as_deref().unwrap_or(&a.chars);
                let wb = b.sorted_words.as_deref().unwrap_or(&b.chars);
                s = s.max(jaro_winkler(wa, wb));
            }
            // Two addresses with different numbers are neighbours, not one address
            // written twice: at most "similar".
            let numbers_differ = matches!((a.roman.first(), b.roman.first()), (Some(x), Some(y)) if x != y);
            if s >= 0.90 && !numbers_differ {
                2
            } else if s >= 0.70 {
                1
            } else {
                0
            }
        }
        Kind::Text => {
            let s = jaro_winkler(&a.chars, &b.chars);
            if s >= 0.94 {
                2
            } else if s >= 0.80 {
                1
            } else {
                0
            }
        }
        Kind::Exact => 0,
        Kind::Date => 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lv(kind: Kind, a: &str, b: &str) -> u8 {
        match (prepare(kind, a), prepare(kind, b)) {
            (Some(x), Some(y)) => level(kind, &x, &y),
            _ => NULL_LEVEL,
        }
    }

    #[test]
    fn levels() {
        assert_eq!(lv(Kind::Name, "张伟", "张伟"), 4);
        assert_eq!(lv(Kind::Name, "张伟", "张玮"), 3);
        assert_eq!(lv(Kind::Name, "张伟", "李娜"), 0);
        assert_eq!(lv(Kind::Name, "john smith", "smith john"), 3);
        assert_eq!(lv(Kind::Name, "王丽", "wang li"), 3);
        assert_eq!(lv(Kind::Name, "陈思杰", "sijie chen"), 3);
        assert_eq!(lv(Kind::Name, "陈思杰", "chen si"), 0);
        assert_eq!(lv(Kind::Date, "1990-03-05", "1990-05-03"), 2);
        assert_eq!(lv(Kind::Date, "1990-03-05", "1990-03-06"), 2);
        assert_eq!(lv(Kind::Date, "1990-03-05", "1990-08-25"), 1);
        assert_eq!(lv(Kind::Date, "1990-03-05", "1970-01-01"), 0);
        assert_eq!(lv(Kind::Date, "1990-03-05", "garbage"), NULL_LEVEL);
        assert_eq!(lv(Kind::Phone, "+8613812345678", "+8613812345679"), 1);
        assert_eq!(lv(Kind::Email, "a.b@x.com", "a.b@y.com"), 2);
        assert_eq!(lv(Kind::Exact, "f", "m"), 0);
        assert_eq!(lv(Kind::Text, "上海市", "shanghai"), 3);
        assert_eq!(lv(Kind::Text, "西安", "xi'an"), 3);
        assert_eq!(lv(Kind::Text, "北京", "上海"), 0);
        assert_eq!(lv(Kind::Address, "北京市海淀区花园路139号4栋1301室", "海淀区花园路139号4栋1301室"), 2);
        assert_eq!(lv(Kind::Address, "北京市海淀区花园路139号4栋1301室", "北京市海淀区花园路139号4栋1302室"), 1);
        assert!(Kind::parse("nope").is_err());
    }

    #[test]
    fn email_spelling_the_name() {
        let (e, n) = (prepare(Kind::Email, "zhang_yu88@163.com"), prepare(Kind::Name, "张宇"));
        let (e, n) = (e.unwrap_or_else(|| panic!("email")), n.unwrap_or_else(|| panic!("name")));
        assert!(email_spells_name(&e, &n));
        let other = prepare(Kind::Email, "zy1990@163.com").unwrap_or_else(|| panic!("email"));
        assert!(!email_spells_name(&other, &n));
        let latin = prepare(Kind::Name, "john smith").unwrap_or_else(|| panic!("name"));
        let le = prepare(Kind::Email, "john.smith@gmail.com").unwrap_or_else(|| panic!("email"));
        assert!(email_spells_name(&le, &latin));
        let initial = prepare(Kind::Email, "jsmith42@gmail.com").unwrap_or_else(|| panic!("email"));
        assert!(email_spells_name(&initial, &latin));
        // A character without a pinyin reading (龼) is multi-byte: no slicing inside it.
        let rare = prepare(Kind::Name, "レ龼〢ぶコ亪〚").unwrap_or_else(|| panic!("name"));
        assert!(!email_spells_name(&le, &rare));
    }
}

/// True when an e-mail's user part only spells the record's own name (`zhangyu88@...`
/// for 张宇, `john.smith@...` for John Smith): such user parts are shared by different
/// people of the same name, so beyond the name they carry little evidence.
pub fn email_spells_name(email: &Prepared, name: &Prepared) -> bool {
    let letters = match email.roman.first() {
        Some(l) => l.as_str(),
        None => return false,
    };
    if name.roman.iter().any(|k| k == letters) {
        return true;
    }
    // A word and the other word's initial, in either order ("jsmith", "smithj", "wangx").
    let words: Vec<String> = if name.is_cjk {
        let chars: Vec<char> = name.text.chars().filter(|c| crate::clean::name::is_cjk(*c)).collect();
        if chars.len() < 2 {
            return false;
        }
        vec![pinyin_of(&chars[..1].iter().collect::<String>()), pinyin_of(&chars[1..].iter().collect::<String>())]
    } else {
        name.text
            .split(|c: char| c.is_whitespace() || c == ',' || c == '-')
            .map(|w| w.chars().filter(|c| c.is_ascii_alphabetic()).collect::<String>())
            .filter(|w| !w.is_empty())
            .collect()
    };
    if words.len() != 2 || words.iter().any(|w| w.is_empty()) {
        return false;
    }
    let (a, b) = (&words[0], &words[1]);
    // First characters, not bytes: a CJK character without a pinyin reading stays itself.
    let (ia, ib): (String, String) = (a.chars().take(1).collect(), b.chars().take(1).collect());
    [format!("{ia}{b}"), format!("{b}{ia}"), format!("{ib}{a}"), format!("{a}{ib}")].iter().any(|k| k == letters)
}
