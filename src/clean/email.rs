//! E-mail cleaning: NFKC, trim, lower-case, syntax check (RFC 5321 dot-atom subset).

use super::text::{is_placeholder, normalize_into};

fn valid_local(local: &str) -> bool {
    if local.is_empty() || local.len() > 64 || local.starts_with('.') || local.ends_with('.') || local.contains("..") {
        return false;
    }
    local.chars().all(|c| {
        c.is_ascii_alphanumeric() || "!#$%&'*+/=?^_`{|}~.-".contains(c) || (!c.is_ascii() && c.is_alphanumeric())
    })
}

fn valid_domain(domain: &str) -> bool {
    if domain.is_empty() || domain.len() > 253 {
        return false;
    }
    let labels: Vec<&str> = domain.split('.').collect();
    if labels.len() < 2 {
        return false;
    }
    for l in &labels {
        if l.is_empty() || l.len() > 63 || l.starts_with('-') || l.ends_with('-') {
            return false;
        }
        if !l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || (!c.is_ascii() && c.is_alphanumeric())) {
            return false;
        }
    }
    let tld = labels[labels.len() - 1];
    tld.chars().count() >= 2 && tld.chars().all(|c| c.is_alphabetic() || c == '-') || tld.starts_with("xn--")
}

/// Cleans an e-mail address: `None` when it is a placeholder or not a syntactically valid address.
pub fn clean_email(s: &str) -> Option<String> {
    let mut norm = String::with_capacity(s.len());
    normalize_into(s, true, &mut norm);
    if is_placeholder(&norm) {
        return None;
    }
    let mut v = norm.as_str();
    if let Some(rest) = v.strip_prefix("mailto:") {
        v = rest;
    }
    let v = v.trim_matches(|c: char| c == '<' || c == '>' || c == ' ' || c == '"' || c == '\'' || c == ';' || c == ',');
    if v.contains(' ') || v.len() > 254 {
        return None;
    }
    let (local, domain) = v.rsplit_once('@')?;
    if valid_local(local) && valid_domain(domain) {
        Some(v.to_string())
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails() {
        assert_eq!(clean_email(" John.Smith@Example.COM ").as_deref(), Some("john.smith@example.com"));
        assert_eq!(clean_email("ｚｈａｎｇ＠ｑｑ．ｃｏｍ").as_deref(), Some("zhang@qq.com"));
        assert_eq!(clean_email("mailto:a+b@x.cn").as_deref(), Some("a+b@x.cn"));
        assert_eq!(clean_email("user@例子.中国").as_deref(), Some("user@例子.中国"));
        for bad in
            ["a@b", "@x.com", "a@@x.com", "a..b@x.com", "a b@x.com", "a@-x.com", "a@x.c", "a@x.123", "plain", "N/A"]
        {
            assert_eq!(clean_email(bad), None, "{bad}");
        }
    }
}
