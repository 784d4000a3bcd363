//! Date parsing from mixed formats to days since 1970-01-01.
//!
//! Accepted without a format list: `YYYY-MM-DD`, `YYYY/M/D`, `YYYY.M.D`, `YYYY年M月D日`,
//! `YYYYMMDD`, `DD.MM.YYYY` and `DD-MM-YYYY` (day first), `MM/DD/YYYY` (month first unless the
//! first number exceeds 12), English month names (`5 Mar 2024`, `March 5, 2024`), a trailing
//! time of day, and Excel serial day numbers of five digits (10000..=99999, 1927..2173).
//! Impossible dates (2023-02-29, month 13) give `None`.

use super::text::normalize_into;

pub const MIN_YEAR: i32 = 1800;
pub const MAX_YEAR: i32 = 2200;

fn is_leap(y: i32) -> bool {
    (y % 4 == 0 && y % 100 != 0) || y % 400 == 0
}

fn days_in_month(y: i32, m: u32) -> u32 {
    match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if is_leap(y) => 29,
        2 => 28,
        _ => 0,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
pub fn days_from_civil(y: i32, m: u32, d: u32) -> i32 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = if y >= 0 { y } else { y - 399 } / 400;
    let yoe = y - era * 400;
    let m = m as i32;
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + d as i32 - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146097 + doe - 719468
}

/// (year, month, day) of days since 1970-01-01.
pub fn civil_from_days(z: i32) -> (i32, u32, u32) {
    let z = z + 719468;
    let era = if z >= 0 { z } else { z - 146096 } / 146097;
    let doe = z - era * 146097;
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

fn checked(y: i32, m: u32, d: u32) -> Option<i32> {
    if !(MIN_YEAR..=MAX_YEAR).contains(&y) || !(1..=12).contains(&m) || d == 0 || d > days_in_month(y, m) {
        return None;
    }
    Some(days_from_civil(y, m, d))
}

const MONTHS: [&str; 12] = ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"];

fn month_name(t: &str) -> Option<u32> {
    if t.len() < 3 || !t.is_ascii() {
        return None;
    }
    let p = &t[..3];
    let i = MONTHS.iter().position(|m| *m == p)?;
    let full = [
        "january",
        "february",
        "march",
        "april",
        "may",
        "june",
        "july",
        "august",
        "september",
        "october",
        "november",
        "december",
    ][i];
    if full.starts_with(t) || (t == "sept") {
        Some(i as u32 + 1)
    } else {
        None
    }
}

/// A format given by the user, in strftime subset: %Y %m %d %y %b %B and literal characters.
pub fn parse_with_format(s: &str, fmt: &str) -> Option<i32> {
    let (mut y, mut m, mut d) = (None, None, None);
    let sb = s.as_bytes();
    let mut i = 0usize;
    let mut f = fmt.chars().peekable();
    let num = |i: &mut usize, max: usize| -> Option<u32> {
        let start = *i;
        while *i < sb.len() && *i - start < max && sb[*i].is_ascii_digit() {
            *i += 1;
        }
        if *i == start {
            return None;
        }
        s[start..*i].parse().ok()
    };
    while let Some(c) = f.next() {
        if c == '%' {
            match f.next()? {
                'Y' => y = Some(num(&mut i, 4)? as i32),
                'y' => {
                    let v = num(&mut i, 2)? as i32;
                    y = Some(if v < 70 { 2000 + v } else { 1900 + v });
                }
                'm' => m = Some(num(&mut i, 2)?),
                'd' => d = Some(num(&mut i, 2)?),
                'b' | 'B' => {
                    let start = i;
                    while i < sb.len() && sb[i].is_ascii_alphabetic() {
                        i += 1;
                    }
                    m = Some(month_name(&s[start..i].to_ascii_lowercase())?);
                }
                '%' => {
                    if sb.get(i) != Some(&b'%') {
                        return None;
                    }
                    i += 1;
                }
                _ => return None,
            }
        } else {
            let mut buf = [0u8; 4];
            let lit = c.encode_utf8(&mut buf).as_bytes();
            if !sb[i..].starts_with(lit) {
                return None;
            }
            i += lit.len();
        }
    }
    if i != sb.len() {
        return None;
    }
    checked(y?, m?, d?)
}

/// Parses a date written in one of the common formats (see the module docs).
pub fn parse_date(raw: &str) -> Option<i32> {
    let mut norm = String::with_capacity(raw.len());
    normalize_into(raw, true, &mut norm);
    let s = norm.as_str();
    if s.is_empty() {
        return None;
    }
    // Drop a time of day: "2024-03-05 10:00:00", "2024-03-05t10:00".
    let s = match s.find(|c: char| c == 't' || c == ' ') {
        Some(p) if s[p + 1..].contains(':') && s[..p].bytes().any(|b| b.is_ascii_digit()) && !s[..p].contains(' ') => {
            &s[..p]
        }
        _ => s,
    };
    // Split into numeric and alphabetic tokens; remember separators.
    let mut nums: Vec<(u32, usize)> = Vec::with_capacity(3); // value, digit count
    let mut words: Vec<&str> = Vec::new();
    let mut seps = String::new();
    let bytes = s.as_bytes();
    let mut i = 0;
    let mut cjk = false;
    while i < s.len() {
        let c = s[i..].chars().next()?;
        if c.is_ascii_digit() {
            let st = i;
            while i < s.len() && bytes[i].is_ascii_digit() {
                i += 1;
            }
            if i - st > 9 {
                return None;
            }
            nums.push((s[st..i].parse().ok()?, i - st));
        } else if c.is_ascii_alphabetic() {
            let st = i;
            while i < s.len() && bytes[i].is_ascii_alphabetic() {
                i += 1;
            }
            words.push(&s[st..i]);
        } else {
            match c {
                '年' | '月' | '日' | '号' => cjk = true,
                '-' | '/' | '.' | ',' | ' ' => seps.push(c),
                _ => return None,
            }
            i += c.len_utf8();
        }
    }
    // Month names.
    let word_months: Vec<u32> = words.iter().filter_map(|w| month_name(w)).collect();
    let other_words =
        words.iter().filter(|w| month_name(w).is_none() && !matches!(**w, "st" | "nd" | "rd" | "th" | "of")).count();
    if other_words > 0 {
        return None;
    }
    if word_months.len() == 1 && nums.len() == 2 {
        let m = word_months[0];
        let (a, b) = (nums[0], nums[1]);
        return if a.1 == 4 {
            checked(a.0 as i32, m, b.0)
        } else if b.1 == 4 {
            checked(b.0 as i32, m, a.0)
        } else {
            None
        };
    }
    if !word_months.is_empty() {
        return None;
    }
    match nums.as_slice() {
        [(v, 8)] if seps.is_empty() && !cjk => checked((v / 10000) as i32, (v / 100) % 100, v % 100),
        [(v, 5)] if seps.is_empty() && !cjk => excel_serial(*v as i64),
        [(v, 5), (frac, _)] if seps == "." => {
            let _ = frac;
            excel_serial(*v as i64)
        }
        [(y, 4), (m, 1..=2), (d, 1..=2)] => checked(*y as i32, *m, *d),
        [(a, 1..=2), (b, 1..=2), (y, 4)] if !cjk => {
            let day_first = seps.starts_with('.') || seps.starts_with('-');
            let (d, m) = if *a > 12 || (day_first && *b <= 12) { (*a, *b) } else { (*b, *a) };
            checked(*y as i32, m, d)
        }
        _ => None,
    }
}

fn excel_serial(v: i64) -> Option<i32> {
    if !(10000..=99999).contains(&v) {
        return None;
    }
    // Excel's day 0 is 1899-12-30 (its 1900 leap-year bug is before day 60).
    let z = days_from_civil(1899, 12, 30) + v as i32;
    Some(z)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ymd(y: i32, m: u32, d: u32) -> Option<i32> {
        Some(days_from_civil(y, m, d))
    }

    #[test]
    fn civil_roundtrip() {
        assert_eq!(days_from_civil(1970, 1, 1), 0);
        assert_eq!(days_from_civil(2000, 3, 1), 11017);
        for z in [-100000, -1, 0, 1, 19787, 60000] {
            let (y, m, d) = civil_from_days(z);
            assert_eq!(days_from_civil(y, m, d), z);
        }
    }

    #[test]
    fn formats() {
        let want = ymd(2024, 3, 5);
        for s in [
            "2024-03-05",
            "2024/3/5",
            "05.03.2024",
            "2024年3月5日",
            "20240305",
            "45356",
            "45356.0",
            "2024-03-05 10:11:12",
            "2024-03-05T10:11:12",
            "5 Mar 2024",
            "March 5, 2024",
            "03/05/2024",
            "05-03-2024",
            "２０２４－０３－０５",
            "2024.3.5",
        ] {
            assert_eq!(parse_date(s), want, "{s}");
        }
        assert_eq!(parse_date("25/03/2024"), ymd(2024, 3, 25));
        assert_eq!(parse_with_format("05|03|24", "%d|%m|%y"), want);
    }

    #[test]
    fn impossible() {
        for s in
            ["2023-02-29", "2024-13-01", "2024-00-10", "31.04.2024", "hello", "", "2024", "0000-01-01", "99999999999"]
        {
            assert_eq!(parse_date(s), None, "{s}");
        }
        assert_eq!(parse_date("2024-02-29"), ymd(2024, 2, 29));
    }
}
