//! Money amounts from text: currency symbols and codes, thousands separators in either
//! convention, accounting negatives, full-width digits, 万/亿 multipliers.

use super::text::{is_placeholder, normalize_into};

const CODES: &[&str] = &[
    "rmb",
    "cny",
    "usd",
    "eur",
    "gbp",
    "jpy",
    "hkd",
    "twd",
    "sgd",
    "aud",
    "cad",
    "chf",
    "krw",
    "yuan",
    "元",
    "圆",
    "円",
    "块",
    "人民币",
    "美元",
    "欧元",
    "港币",
];

/// Parses a money amount. Returns `None` when no number can be read unambiguously.
pub fn parse_amount(raw: &str) -> Option<f64> {
    let mut norm = String::with_capacity(raw.len());
    normalize_into(raw, true, &mut norm);
    if is_placeholder(&norm) {
        return None;
    }
    let mut s = norm.as_str().to_string();
    for code in CODES {
        if s.contains(code) {
            s = s.replace(code, "");
        }
    }
    let mut negative = false;
    let mut multiplier = 1.0f64;
    let mut body = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '0'..='9' | '.' | ',' => body.push(c),
            '(' | ')' => negative = true,
            '-' | '\u{2212}' => negative = true,
            '+' | ' ' | '\'' | '’' | '_' | '$' | '€' | '£' | '¥' | '￥' | '₩' | '₹' | '₽' | '¢' => {}
            '万' => multiplier *= 1e4,
            '亿' => multiplier *= 1e8,
            'k' if !body.is_empty() => multiplier *= 1e3,
            _ => return None,
        }
    }
    if body.is_empty() || !body.bytes().any(|b| b.is_ascii_digit()) {
        return None;
    }
    let last_dot = body.rfind('.');
    let last_comma = body.rfind(',');
    let n_dot = body.matches('.').count();
    let n_comma = body.matches(',').count();
    let decimal: Option<char> = match (last_dot, last_comma) {
        (Some(d), Some(c)) => {
            if d > c {
                if n_dot > 1 {
                    return None;
                }
                Some('.')
            } else {
                if n_comma > 1 {
                    return None;
                }
                Some(',')
            }
        }
        (Some(_), None) => {
            if n_dot == 1 {
                Some('.')
            } else {
                None
            }
        }
        (None, Some(c)) => {
            let after = body.len() - c - 1;
            if n_comma == 1 && after != 3 {
                Some(',')
            } else {
                None
            }
        }
        (None, None) => None,
    };
    let mut digits = String::with_capacity(body.len());
    for c in body.chars() {
        if c.is_ascii_digit() {
            digits.push(c);
        } else if Some(c) == decimal {
            digits.push('.');
        }
    }
    // Thousands groups must be groups of three digits.
    let sep = match decimal {
        Some('.') => ',',
        Some(',') => '.',
        _ => {
            if n_comma > 0 {
                ','
            } else {
                '.'
            }
        }
    };
    let int_part = match decimal {
        Some(d) => body.rsplit_once(d).map(|(a, _)| a).unwrap_or(""),
        None => body.as_str(),
    };
    if int_part.contains(sep) {
        let groups: Vec<&str> = int_part.split(sep).collect();
        if groups[0].is_empty() || groups[0].len() > 3 || groups[1..].iter().any(|g| g.len() != 3) {
            return None;
        }
    }
    let v: f64 = digits.parse().ok()?;
    if !v.is_finite() {
        return None;
    }
    Some(if negative { -v * multiplier } else { v * multiplier })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amounts() {
        let cases = [
            ("¥1,234.50", 1234.5),
            ("1.234,50 €", 1234.5),
            ("$12", 12.0),
            ("１２３", 123.0),
            ("(12.00)", -12.0),
            ("-5", -5.0),
            ("12,5", 12.5),
            ("1,234", 1234.0),
            ("1.234.567", 1234567.0),
            ("RMB 88", 88.0),
            ("88元", 88.0),
            ("1.5万", 15000.0),
            ("1 234,50", 1234.5),
            ("0.5", 0.5),
            ("CNY1,000,000.00", 1e6),
        ];
        for (s, want) in cases {
            assert_eq!(parse_amount(s), Some(want), "{s}");
        }
        for bad in ["abc", "", "N/A", "1,23,4", "1.2.3,4,5", "12..5x", "--"] {
            assert_eq!(parse_amount(bad), None, "{bad}");
        }
    }
}
