//! How one person looks in one CRM record: the formats, typos, placeholders and
//! gaps that real exports from web forms, apps, stores and WeChat carry.

use super::rng::Rng;
// The cleaners' calendar: the generator writes exactly the dates they parse back.
use super::vocab::*;
pub use crate::clean::date::{civil_from_days, days_from_civil};

/// A person as they really are; records are renderings of this.
#[derive(Clone, Debug)]
pub struct Person {
    pub chinese: bool,
    pub male: bool,
    /// CJK name for Chinese persons ("张伟"); "First Last" for Latin names.
    pub name: String,
    pub surname: String,
    pub given: String,
    /// Pinyin of surname and given name (Chinese persons), lower case.
    pub surname_py: String,
    pub given_py: String,
    pub birth: (i32, u32, u32),
    /// Country calling code and national significant number.
    pub phone_cc: &'static str,
    pub phone_nsn: String,
    pub landline_area: Option<&'static str>,
    /// A second number some records carry instead (people change numbers).
    pub phone2_nsn: String,
    pub email: Option<String>,
    pub city: usize,
    pub address_cn: String,
    pub address_latin: Option<String>,
}

const FULLWIDTH_OFFSET: u32 = 0xFEE0;

/// ASCII letters, digits and common punctuation to their full-width forms.
pub fn to_fullwidth(s: &str) -> String {
    s.chars()
        .map(|c| match c {
            '!'..='~' => char::from_u32(c as u32 + FULLWIDTH_OFFSET).unwrap_or(c),
            ' ' => '\u{3000}',
            _ => c,
        })
        .collect()
}

fn digits(rng: &mut Rng, n: usize) -> String {
    (0..n).map(|_| char::from(b'0' + rng.below(10) as u8)).collect()
}

fn title(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_uppercase().collect::<String>() + c.as_str(),
        None => String::new(),
    }
}

/// A phone number (calling code, national number, landline area code) for a person
/// living in `city`: mostly CN mobiles, some landlines, some foreign numbers.
pub fn new_phone(rng: &mut Rng, chinese: bool, city: usize) -> (&'static str, String, Option<&'static str>) {
    if !chinese && rng.chance(0.35) {
        let (cc, start, len) = *rng.pick(INTL_PHONES);
        let mut nsn = start.to_string();
        if cc == "1" {
            // NANP: the exchange code starts with 2-9.
            nsn.push(char::from(b'2' + rng.below(8) as u8));
        }
        let rest = len - nsn.len();
        nsn.push_str(&digits(rng, rest));
        return (cc, nsn, None);
    }
    if rng.chance(0.04) {
        let area = CITIES[city].area_code;
        // Local numbers have 8 digits and do not start with 0 or 1.
        let first = char::from(b'2' + rng.below(7) as u8);
        let nsn = format!("{area}{first}{}", digits(rng, 7));
        return ("86", nsn, Some(area));
    }
    let prefix = rng.pick(CN_MOBILE_PREFIXES);
    ("86", format!("{prefix}{}", digits(rng, 8)), None)
}

/// Renders a phone number in one of the formats people type.
pub fn render_phone(rng: &mut Rng, p: &Person, nsn: &str) -> String {
    let cc = p.phone_cc;
    let s = if cc == "86" {
        match p.landline_area {
            Some(area) => {
                let local = &nsn[area.len()..];
                let base = match rng.below(5) {
                    0 => format!("0{area}-{local}"),
                    1 => format!("(0{area}){local}"),
                    2 => format!("+86 {area} {local}"),
                    3 => format!("0{area}{local}"),
                    _ => format!("0{area} {local}"),
                };
                if rng.chance(0.1) {
                    let ext = digits(rng, 3);
                    if rng.chance(0.5) {
                        format!("{base}转{ext}")
                    } else {
                        format!("{base} ext. {ext}")
                    }
                } else {
                    base
                }
            }
            None => {
                let (a, b, c) = (&nsn[..3], &nsn[3..7], &nsn[7..]);
                match rng.weighted(&[0.40, 0.52, 0.60, 0.68, 0.78, 0.86, 0.92, 1.0]) {
                    0 => nsn.to_string(),
                    1 => format!("+86 {a} {b} {c}"),
                    2 => format!("+86{nsn}"),
                    3 => format!("0086-{a}-{b}-{c}"),
                    4 => format!("{a}-{b}-{c}"),
                    5 => format!("{a} {b} {c}"),
                    6 => format!("(+86) {nsn}"),
                    _ => format!("0086 {nsn}"),
                }
            }
        }
    } else {
        let split = nsn.len() / 2;
        match rng.below(3) {
            0 => format!("+{cc} {nsn}"),
            1 => format!("+{cc} {} {}", &nsn[..split], &nsn[split..]),
            _ => format!("00{cc}-{nsn}"),
        }
    };
    if rng.chance(0.04) {
        to_fullwidth(&s)
    } else {
        s
    }
}

fn typo_latin(rng: &mut Rng, s: &str) -> String {
    let mut chars: Vec<char> = s.chars().collect();
    let letters: Vec<usize> = (0..chars.len()).filter(|&i| chars[i].is_ascii_alphabetic()).collect();
    if letters.len() < 3 {
        return s.to_string();
    }
    let i = letters[1 + rng.below(letters.len() - 1)];
    match rng.below(3) {
        0 => {
            let c = char::from(b'a' + rng.below(26) as u8);
            chars[i] = if chars[i].is_uppercase() { c.to_ascii_uppercase() } else { c };
        }
        1 if i + 1 < chars.len() && chars[i + 1].is_ascii_alphabetic() => chars.swap(i, i + 1),
        _ => {
            chars.remove(i);
        }
    }
    chars.into_iter().collect()
}

fn typo_cjk(rng: &mut Rng, s: &str) -> String {
    let chars: Vec<char> = s.chars().collect();
    let candidates: Vec<(usize, &str)> = chars
        .iter()
        .enumerate()
        .filter_map(|(i, c)| {
            let cs = c.to_string();
            CN_HOMOPHONES.iter().find(|(a, _)| *a == cs).map(|(_, b)| (i, *b))
        })
        .collect();
    if candidates.is_empty() {
        return s.to_string();
    }
    let (i, replacement) = candidates[rng.below(candidates.len())];
    chars.iter().enumerate().map(|(j, c)| if j == i { replacement.to_string() } else { c.to_string() }).collect()
}

fn placeholder(rng: &mut Rng) -> Option<String> {
    // Some exports write nothing, others a placeholder word.
    if rng.chance(0.5) {
        None
    } else {
        Some(rng.pick(PLACEHOLDERS).to_string())
    }
}

/// A record's name field. `dup` records carry more typos than a person's first record.
pub fn render_name(rng: &mut Rng, p: &Person, dup: bool) -> Option<String> {
    if rng.chance(0.02) {
        return placeholder(rng);
    }
    let typo_p = if dup { 0.10 } else { 0.01 };
    let mut s = if p.chinese {
        let base = if rng.chance(typo_p) { typo_cjk(rng, &p.name) } else { p.name.clone() };
        match rng.weighted(&[0.86, 0.90, 0.92, 0.94, 0.95, 0.97, 1.0]) {
            0 => base,
            1 => {
                let sl = p.surname.chars().count();
                let head: String = base.chars().take(sl).collect();
                let tail: String = base.chars().skip(sl).collect();
                format!("{head} {tail}")
            }
            2 => format!("{} {}", title(&p.surname_py), title(&p.given_py)),
            3 => format!("{} {}", title(&p.given_py), title(&p.surname_py)),
            4 => format!("{} {}", p.surname_py.to_uppercase(), title(&p.given_py)),
            5 => format!("{base}{}", if p.male { "先生" } else { "女士" }),
            _ => format!("{base}"),
        }
    } else {
        let base = if rng.chance(typo_p) { typo_latin(rng, &p.name) } else { p.name.clone() };
        let (first, last) = base.split_once(' ').unwrap_or((base.as_str(), ""));
        match rng.weighted(&[0.74, 0.78, 0.82, 0.87, 0.91, 0.95, 0.98, 1.0]) {
            0 => base.clone(),
            1 => format!("{last} {first}"),
            2 => format!("{last}, {first}"),
            3 => base.to_uppercase(),
            4 => base.to_lowercase(),
            5 => format!("{} {base}", if p.male { "Mr" } else { *rng.pick(&["Ms", "Mrs"]) }),
            6 => format!("{first}  {last}"),
            _ => to_fullwidth(&base),
        }
    };
    if rng.chance(0.04) {
        s = format!(" {s} ");
    }
    Some(s)
}

pub fn render_phone_field(rng: &mut Rng, p: &Person, dup: bool) -> Option<String> {
    let missing = if dup { 0.12 } else { 0.05 };
    if rng.chance(missing) {
        return None;
    }
    if rng.chance(0.03) {
        return placeholder(rng);
    }
    let nsn = if dup && rng.chance(0.05) { &p.phone2_nsn } else { &p.phone_nsn };
    let mut s = render_phone(rng, p, nsn);
    if dup && rng.chance(0.02) {
        // One mistyped digit.
        let mut chars: Vec<char> = s.chars().collect();
        let idx: Vec<usize> = (0..chars.len()).filter(|&i| chars[i].is_ascii_digit()).collect();
        if let Some(&i) = idx.last() {
            chars[i] = char::from(b'0' + ((chars[i] as u8 - b'0' + 1 + rng.below(8) as u8) % 10));
        }
        s = chars.into_iter().collect();
    }
    Some(s)
}

pub fn new_email(rng: &mut Rng, p: &Person) -> Option<String> {
    if rng.chance(0.12) {
        return None;
    }
    let year = p.birth.0 % 100;
    let local = if p.chinese {
        match rng.below(5) {
            0 => format!("{}{}", p.surname_py, p.given_py),
            1 => format!("{}.{}{}", p.given_py, p.surname_py, rng.below(100)),
            2 => format!("{}{}{:02}", p.surname_py, p.given_py, year),
            3 => digits(rng, 9).trim_start_matches('0').to_string() + "1",
            _ => format!("{}_{}{}", p.surname_py, p.given_py, rng.below(1000)),
        }
    } else {
        let (first, last) = p.name.split_once(' ').unwrap_or((p.name.as_str(), ""));
        let (first, last) = (first.to_lowercase(), last.to_lowercase().replace('\'', ""));
        match rng.below(3) {
            0 => format!("{first}.{last}"),
            1 => format!("{}{last}{}", &first[..1], rng.below(100)),
            _ => format!("{first}{last}{:02}", year),
        }
    };
    let domain = if p.chinese && rng.chance(0.85) { rng.pick(EMAIL_DOMAINS_CN) } else { rng.pick(EMAIL_DOMAINS_INTL) };
    Some(format!("{local}@{domain}"))
}

pub fn render_email(rng: &mut Rng, p: &Person, source: &str, dup: bool) -> Option<String> {
    let email = p.email.as_ref()?;
    let missing = if source == "store" {
        0.35
    } else if dup {
        0.15
    } else {
        0.05
    };
    if rng.chance(missing) {
        return None;
    }
    if rng.chance(0.03) {
        return placeholder(rng);
    }
    let mut s = email.clone();
    if rng.chance(0.15) {
        // Mixed case as typed on phones and by autocorrect.
        s = s.split('@').map(title).collect::<Vec<_>>().join("@");
        if rng.chance(0.3) {
            s = s.to_uppercase();
        }
    }
    if dup && rng.chance(0.02) {
        s = typo_latin(rng, &s);
    }
    if rng.chance(0.02) {
        s = s.replace('@', "＠");
    }
    if rng.chance(0.05) {
        s = format!(" {s}");
    }
    Some(s)
}

/// Days since 1899-12-30 (the spreadsheet epoch) of a civil date.
fn excel_serial(y: i32, m: u32, d: u32) -> i64 {
    days_from_civil(y, m, d) as i64 + 25_569
}

pub fn render_birth_date(rng: &mut Rng, p: &Person, dup: bool) -> Option<String> {
    if rng.chance(0.22) {
        return None;
    }
    if rng.chance(0.03) {
        return placeholder(rng);
    }
    let (y, mut m, mut d) = p.birth;
    if dup && d <= 12 && rng.chance(0.03) {
        std::mem::swap(&mut m, &mut d);
    }
    Some(match rng.weighted(&[0.40, 0.60, 0.70, 0.82, 0.92, 1.0]) {
        0 => format!("{y:04}-{m:02}-{d:02}"),
        1 => format!("{y}/{m}/{d}"),
        2 => format!("{d:02}.{m:02}.{y}"),
        3 => format!("{y}年{m}月{d}日"),
        4 => format!("{y:04}{m:02}{d:02}"),
        _ => excel_serial(y, m, d).to_string(),
    })
}

pub fn render_gender(rng: &mut Rng, p: &Person) -> Option<&'static str> {
    if rng.chance(0.2) {
        return None;
    }
    let options: [&'static str; 3] = if p.male { ["男", "M", "male"] } else { ["女", "F", "female"] };
    let w: &[f64] = if p.chinese { &[0.5, 0.85, 1.0] } else { &[0.05, 0.7, 1.0] };
    Some(options[rng.weighted(w)])
}

pub fn render_city(rng: &mut Rng, p: &Person) -> Option<String> {
    if rng.chance(0.15) {
        return None;
    }
    let c = &CITIES[p.city];
    Some(match rng.weighted(&[0.55, 0.8, 1.0]) {
        0 => c.name.to_string(),
        1 => format!("{}市", c.name),
        _ => c.latin.to_string(),
    })
}

pub fn new_addresses(rng: &mut Rng, chinese: bool, city: usize) -> (String, Option<String>) {
    let c = &CITIES[city];
    let district = rng.pick(c.districts);
    let street = rng.pick(STREETS);
    let number = 1 + rng.below(300);
    let building = 1 + rng.below(20);
    let room = (1 + rng.below(30)) * 100 + 1 + rng.below(4);
    let cn = format!("{}市{district}{street}{number}号{building}栋{room}室", c.name);
    let latin = if !chinese && rng.chance(0.5) {
        Some(format!("{number} {}, Apt {room}, {}", rng.pick(LATIN_STREETS), c.latin))
    } else {
        None
    };
    (cn, latin)
}

pub fn render_address(rng: &mut Rng, p: &Person, dup: bool) -> Option<String> {
    if rng.chance(if dup { 0.25 } else { 0.15 }) {
        return None;
    }
    if let Some(latin) = &p.address_latin {
        return Some(if rng.chance(0.2) { latin.to_uppercase() } else { latin.clone() });
    }
    let mut s = p.address_cn.clone();
    if rng.chance(0.3) {
        // Drop the city prefix ("上海市"), as many forms do.
        let prefix = format!("{}市", CITIES[p.city].name);
        s = s.trim_start_matches(prefix.as_str()).to_string();
    }
    if rng.chance(0.05) {
        s = to_fullwidth(&s);
    }
    if rng.chance(0.05) {
        s = format!("{s} ");
    }
    Some(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn civil_date_round_trip() {
        for z in [-25_000, -1, 0, 1, 10_957, 19_000, 20_453, 60_000] {
            let (y, m, d) = civil_from_days(z);
            assert_eq!(days_from_civil(y, m, d), z);
        }
        assert_eq!(days_from_civil(1970, 1, 1), 0);
        assert_eq!(days_from_civil(2000, 3, 1), 11_017);
        assert_eq!(excel_serial(1985, 3, 7), 31_113);
    }

    #[test]
    fn fullwidth_maps_ascii() {
        assert_eq!(to_fullwidth("+86 138"), "＋８６\u{3000}１３８");
    }

    #[test]
    fn cjk_typo_changes_one_character() {
        let mut rng = Rng::new(1, 1);
        let t = typo_cjk(&mut rng, "张伟");
        assert_eq!(t.chars().count(), 2);
        assert_ne!(t, "张伟");
    }
}
