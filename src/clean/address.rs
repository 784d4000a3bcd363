//! Chinese addresses to (province, city, district, detail, adcode).
//!
//! The administrative-division table (6-digit GB/T 2260 codes and names) is not part of
//! crmkit: the Python wrapper reads it from an installed registry package and hands it to
//! `Divisions::build`. Parsing is then:
//!
//! 1. normalise: NFKC (full-width to half-width), whitespace removed, leading "中国";
//! 2. find every division name in the text with one Aho-Corasick automaton over the full
//!    names and their usual short forms (suffix dropped: 广东, 深圳, 南山; autonomous
//!    regions and prefectures without the ethnic part: 广西, 恩施);
//! 3. group the matches into runs of adjacent names (addresses write divisions from the
//!    top, one after the other) and choose, per run, the largest set of names that lie on
//!    one path of the tree, from the larger unit to the smaller;
//! 4. a part is reported only when every best reading agrees on it — an ambiguous short
//!    name (朝阳区 alone: Beijing or Changchun?) leaves the province null rather than guess.
//!
//! Latin text is matched word by word against the pinyin of the division names
//! ("Shenzhen", "Guangdong Province"), again only where the reading is unambiguous.

use std::collections::HashMap;

use aho_corasick::{AhoCorasick, AhoCorasickBuilder, AhoCorasickKind, MatchKind};
use polars::prelude::PlHashMap;
use unicode_normalization::UnicodeNormalization;

/// Parsed parts; every field is optional (unknown is null, never a guess). Names borrow
/// from the division table; `adcode` is the 6-digit code of the smallest part found.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Address<'a> {
    pub province: Option<&'a str>,
    pub city: Option<&'a str>,
    pub district: Option<&'a str>,
    pub detail: Option<String>,
    pub adcode: Option<&'a str>,
}

#[derive(Debug, Clone)]
struct Division {
    code: u32,
    /// The code as the 6-digit text reported in `adcode`.
    code_text: String,
    name: String,
    /// 1 province-level, 2 prefecture-level (or a county-level city directly under a
    /// province), 3 county-level.
    depth: u8,
    province: u32,
    city: Option<u32>,
    district: Option<u32>,
}

#[derive(Debug, Clone, Copy)]
struct Candidate {
    div: u32,
    /// The text spelt the full name (not a short form).
    full: bool,
}

/// One pattern of the automaton: the divisions it may name, or a placeholder to skip.
#[derive(Debug, Clone, Default)]
struct Key {
    cands: Vec<Candidate>,
    /// "市辖区", "县", "中国", ...: consumed between names, names nothing.
    skip: bool,
    /// The pattern is a short form somewhere: a following 路/街/村... makes it a street name.
    short_any: bool,
}

/// The division table, compiled for matching.
pub struct Divisions {
    divs: Vec<Division>,
    keys: Vec<Key>,
    ac: AhoCorasick,
    latin: PlHashMap<String, Vec<Candidate>>,
}

const MUNICIPALITIES: [u32; 4] = [11, 12, 31, 50];
const PLACEHOLDERS: [&str; 5] = ["市辖区", "县", "省直辖县级行政区划", "自治区直辖县级行政区划", "直辖县级行政区划"];
const SKIP_WORDS: [&str; 6] = ["中国", "中华人民共和国", "市辖区", "省直辖县级行政区划", "自治区直辖县级行政区划", "郊县"];
/// Characters that, right after a short name, show it is part of a street or place name.
const STREET_AFTER: [char; 14] = ['路', '街', '道', '巷', '弄', '桥', '号', '村', '镇', '乡', '里', '门', '大', '园'];
const SUFFIXES: [&str; 15] = [
    "特别行政区", "自治区", "自治州", "自治县", "自治旗", "地区", "新区", "林区", "省", "市", "区", "县", "盟", "旗", "州",
];
/// Latin words that say what kind of place a name is, never a name themselves.
const LATIN_NOISE: [&str; 16] = [
    "province", "city", "district", "county", "prefecture", "autonomous", "region", "sar", "shi", "sheng", "qu",
    "xian", "municipality", "china", "prc", "pr",
];

impl Divisions {
    /// Builds the matcher from (code, name) rows. Codes may have 6 or 12 digits (the
    /// 12-digit form pads the 6-digit GB/T 2260 code with zeros). `nations` are the
    /// ethnic-group names (汉族, 壮族, ...) stripped from autonomous-area names to get
    /// their short forms. Rows with unparsable codes are skipped.
    pub fn build(codes: &[String], names: &[String], nations: &[String]) -> Result<Divisions, String> {
        if codes.len() != names.len() {
            return Err(format!("{} codes but {} names", codes.len(), names.len()));
        }
        let mut raw: Vec<(u32, &str)> = Vec::with_capacity(codes.len());
        for (c, n) in codes.iter().zip(names) {
            let digits = c.trim();
            let code6 = match digits.len() {
                6 => digits.parse::<u32>().ok(),
                12 => digits[..6].parse::<u32>().ok(),
                _ => None,
            };
            if let Some(code) = code6 {
                let name = n.trim();
                if !name.is_empty() && !PLACEHOLDERS.contains(&name) {
                    raw.push((code, name));
                }
            }
        }
        raw.sort_by_key(|r| r.0);
        raw.dedup_by_key(|r| r.0);
        let provinces: std::collections::HashSet<u32> = raw.iter().map(|r| r.0).filter(|c| c % 10_000 == 0).collect();
        raw.retain(|r| provinces.contains(&(r.0 / 10_000 * 10_000)));
        if raw.is_empty() {
            return Err("division table: no province-level rows (codes NN0000)".to_string());
        }
        let index: HashMap<u32, usize> = raw.iter().enumerate().map(|(i, r)| (r.0, i)).collect();
        let mut divs: Vec<Division> = Vec::with_capacity(raw.len());
        for (i, &(code, name)) in raw.iter().enumerate() {
            let prov_code = code / 10_000 * 10_000;
            let p = index.get(&prov_code).copied().unwrap_or(i); // present: rows were filtered above
            let municipality = MUNICIPALITIES.contains(&(code / 10_000));
            let (depth, city, district) = if code == prov_code {
                (1, if municipality { Some(p as u32) } else { None }, None)
            } else if municipality {
                (3, Some(p as u32), Some(i as u32))
            } else if code % 100 == 0 {
                (2, Some(i as u32), None)
            } else {
                match index.get(&(code / 100 * 100)) {
                    Some(&c) => (3, Some(c as u32), Some(i as u32)),
                    // A county-level city directly under its province (仙桃市, 济源市):
                    // it stands in the city slot.
                    None => (2, Some(i as u32), None),
                }
            };
            divs.push(Division {
                code,
                code_text: format!("{code:06}"),
                name: name.to_string(),
                depth,
                province: p as u32,
                city,
                district,
            });
        }

        let nations: Vec<String> = nations.iter().map(|s| s.trim().to_string()).filter(|s| !s.is_empty()).collect();
        let mut key_index: HashMap<String, usize> = HashMap::new();
        let mut keys: Vec<Key> = Vec::new();
        let mut add = |pattern: &str, cand: Option<Candidate>, keys: &mut Vec<Key>| {
            let k = *key_index.entry(pattern.to_string()).or_insert_with(|| {
                keys.push(Key::default());
                keys.len() - 1
            });
            match cand {
                Some(c) => {
                    if !c.full {
                        keys[k].short_any = true;
                    }
                    if !keys[k].cands.iter().any(|x| x.div == c.div) {
                        keys[k].cands.push(c);
                    }
                }
                None => keys[k].skip = true,
            }
        };
        let mut latin: PlHashMap<String, Vec<Candidate>> = PlHashMap::default();
        for (i, d) in divs.iter().enumerate() {
            let i = i as u32;
            add(&d.name, Some(Candidate { div: i, full: true }), &mut keys);
            for short in short_forms(&d.name, &nations) {
                add(&short, Some(Candidate { div: i, full: false }), &mut keys);
                // 山西 and 陕西 are both "shanxi" in plain pinyin; 陕西 is spelt Shaanxi.
                if d.code / 10_000 == 61 && d.depth == 1 {
                    continue;
                }
                for py in pinyin_readings(&short) {
                    if py.len() >= 4 {
                        let list = latin.entry(py).or_default();
                        if !list.iter().any(|c| c.div == i) {
                            list.push(Candidate { div: i, full: false });
                        }
                    }
                }
            }
        }
        // Conventional spellings the plain pinyin of the name does not give.
        for (word, code) in [
            ("shaanxi", 610000u32),
            ("chongqing", 500000),
            ("xiamen", 350200),
            ("hongkong", 810000),
            ("macau", 820000),
            ("macao", 820000),
            ("innermongolia", 150000),
            ("tibet", 540000),
            ("peking", 110000),
        ] {
            if let Some(&r) = index.get(&code) {
                latin.entry(word.to_string()).or_default().push(Candidate { div: r as u32, full: false });
            }
        }
        for w in SKIP_WORDS {
            add(w, None, &mut keys);
        }
        let patterns: Vec<String> = {
            let mut p = vec![String::new(); keys.len()];
            for (s, &k) in &key_index {
                p[k] = s.clone();
            }
            p
        };
        let ac = AhoCorasickBuilder::new()
            .match_kind(MatchKind::LeftmostLongest)
            // Measured here on ~10k names: contiguous NFA 1.0 us per address, DFA 3.0
            // (its tables miss the cache), non-contiguous NFA 9.3.
            .kind(Some(AhoCorasickKind::ContiguousNFA))
            .build(&patterns)
            .map_err(|e| format!("division table: {e}"))?;
        Ok(Divisions { divs, keys, ac, latin })
    }

    /// Number of divisions loaded.
    pub fn len(&self) -> usize {
        self.divs.len()
    }

    pub fn is_empty(&self) -> bool {
        self.divs.is_empty()
    }

    /// The province-level division whose name (full or short) is `name`.
    pub fn province_named(&self, name: &str) -> Option<u32> {
        let t = normalise(name);
        self.divs
            .iter()
            .position(|d| d.depth == 1 && (d.name == t || short_forms(&d.name, &[]).iter().any(|s| *s == t)))
            .map(|i| i as u32)
    }

    /// Parses one address. `default_province` (an index from `province_named`) settles
    /// readings the text leaves open and fills the province when the text names none.
    pub fn parse(&self, raw: &str, default_province: Option<u32>) -> Option<Address<'_>> {
        let text = normalise(raw);
        if text.is_empty() {
            return None;
        }
        if !text.chars().any(is_cjk) {
            return Some(self.parse_latin(raw, default_province));
        }
        // Division names come first; once a run of two or more has ended, the rest is
        // detail and is not scanned.
        let mut found: Vec<(usize, usize, usize)> = Vec::with_capacity(8);
        let (mut run_len, mut last_end) = (0usize, usize::MAX);
        for m in self.ac.find_iter(&text) {
            if m.start() != last_end {
                if run_len >= 2 {
                    break;
                }
                run_len = 0;
            }
            let k = m.pattern().as_usize();
            if !self.keys[k].skip {
                run_len += 1;
            }
            last_end = m.end();
            found.push((m.start(), m.end(), k));
        }
        let mut matches: Vec<Match<'_>> = Vec::with_capacity(found.len());
        for (n, &(start, end, k)) in found.iter().enumerate() {
            let key = &self.keys[k];
            let next = text[end..].chars().next();
            // A short name followed by 路/街/村... is a street name (中山路), unless another
            // division name starts right there (庆阳镇原县: 庆阳 then 镇原县).
            let followed = found.get(n + 1).is_some_and(|f| f.0 == end);
            let street = key.short_any && !followed && next.is_some_and(|c| STREET_AFTER.contains(&c));
            let all_short = key.cands.iter().all(|c| !c.full);
            if !key.skip && street && all_short {
                continue;
            }
            // A short name followed by another suffix (梁平区 for 梁平县 after a renaming,
            // 恩施州) is still that name; the suffix belongs to it, not to the detail.
            let mut end = end;
            if !key.skip && all_short && !followed {
                if let Some(c) = next.filter(|c| ['省', '市', '区', '县', '州', '盟', '旗'].contains(c)) {
                    end += c.len_utf8();
                }
            }
            matches.push(Match { start, end, cands: &key.cands, street, skip: key.skip });
        }
        // Runs of adjacent names.
        let mut best: Option<Resolution> = None;
        let mut i = 0;
        while i < matches.len() {
            let mut j = i + 1;
            while j < matches.len() && matches[j].start == matches[j - 1].end {
                j += 1;
            }
            let run: Vec<&Match<'_>> = matches[i..j].iter().filter(|m| !m.skip).take(8).collect();
            if !run.is_empty() {
                let r = self.resolve(&run, true, default_province);
                if r.used > 0 && best.as_ref().is_none_or(|b| r.used > b.used) {
                    best = Some(r);
                }
            }
            i = j;
        }
        let mut out = Address::default();
        let detail_from = match &best {
            Some(r) => {
                self.fill(&mut out, r.path);
                // Placeholders right after the last name ("市辖区") belong to it.
                let mut end = r.end;
                while let Some(m) = matches.iter().find(|m| m.skip && m.start == end) {
                    end = m.end;
                }
                end
            }
            None => {
                if let Some(p) = default_province {
                    self.fill(&mut out, Path { province: Some(p), city: None, district: None });
                }
                0
            }
        };
        let detail = text[detail_from..].trim_start_matches([',', '，', '、', '-', '/', ':', ';', '(', ')', '#', '.']);
        out.detail = if detail.is_empty() { None } else { Some(detail.to_string()) };
        Some(out)
    }

    /// A column that holds only a place name (a province, a city or a district).
    pub fn region(&self, raw: &str, default_province: Option<u32>) -> Option<Address<'_>> {
        let mut a = self.parse(raw, default_province)?;
        a.detail = None;
        if a.province.is_none() && a.city.is_none() {
            return None;
        }
        Some(a)
    }

    fn parse_latin(&self, raw: &str, default_province: Option<u32>) -> Address<'_> {
        let detail = normalise_latin(raw);
        let words: Vec<String> = detail
            .split(|c: char| !c.is_ascii_alphanumeric())
            .filter(|w| !w.is_empty())
            .map(|w| w.to_ascii_lowercase())
            .collect();
        let mut matches: Vec<Match<'_>> = Vec::new();
        let mut k = 0;
        while k < words.len() {
            let mut hit = None;
            // Two words first ("hong kong", "inner mongolia", "guang dong"), then one.
            for n in [2usize, 1] {
                if k + n > words.len() {
                    continue;
                }
                let w: String = words[k..k + n].concat();
                if n == 1 && LATIN_NOISE.contains(&w.as_str()) {
                    continue;
                }
                if let Some(c) = self.latin.get(&w) {
                    let c: &[Candidate] = c;
                    let after = words.get(k + n).map(String::as_str).unwrap_or("");
                    let street = matches!(
                        after,
                        "road" | "rd" | "street" | "st" | "avenue" | "ave" | "lu" | "jie" | "dadao" | "lane" | "ln" | "blvd"
                            | "boulevard" | "dajie" | "hutong" | "alley"
                    );
                    if !street {
                        hit = Some((n, c));
                    }
                    break;
                }
            }
            match hit {
                Some((n, cands)) => {
                    matches.push(Match { start: k, end: k + n, cands, street: false, skip: false });
                    k += n;
                }
                None => k += 1,
            }
        }
        let mut out = Address::default();
        let run: Vec<&Match<'_>> = matches.iter().take(8).collect();
        if !run.is_empty() {
            let r = self.resolve(&run, false, default_province);
            if r.used > 0 {
                self.fill(&mut out, r.path);
            }
        } else if let Some(p) = default_province {
            self.fill(&mut out, Path { province: Some(p), city: None, district: None });
        }
        out.detail = if detail.is_empty() { None } else { Some(detail) };
        out
    }

    fn fill<'a>(&'a self, out: &mut Address<'a>, p: Path) {
        let name = |i: Option<u32>| i.map(|i| self.divs[i as usize].name.as_str());
        out.province = name(p.province);
        out.city = name(p.city);
        out.district = name(p.district);
        let deepest = p.district.or(p.city).or(p.province);
        out.adcode = deepest.map(|i| self.divs[i as usize].code_text.as_str());
    }

    /// The reading of a run of names: the most names on one path of the tree (in order
    /// from larger to smaller units when `ordered`), then the most full names, then the
    /// larger units; parts on which the best readings disagree are left unknown.
    fn resolve(&self, run: &[&Match<'_>], ordered: bool, default_province: Option<u32>) -> Resolution {
        let mut best: Vec<(Score, Path, usize)> = Vec::new();
        let mut chosen: Vec<(u32, usize, bool)> = Vec::with_capacity(run.len());
        self.search(run, 0, ordered, &mut chosen, &mut best);
        if let Some(dp) = default_province {
            let in_default: Vec<(Score, Path, usize)> =
                best.iter().copied().filter(|b| b.1.province == Some(dp) || b.1.province.is_none()).collect();
            if !in_default.is_empty() {
                best = in_default;
            }
        }
        let Some(first) = best.first().copied() else {
            return Resolution { used: 0, path: Path::default(), end: 0 };
        };
        let mut path = first.1;
        let mut end = first.2;
        for b in &best[1..] {
            if path.province != b.1.province {
                path.province = None;
            }
            if path.city != b.1.city {
                path.city = None;
            }
            if path.district != b.1.district {
                path.district = None;
            }
            end = end.max(b.2);
        }
        // A full name the reading left out that no reading of it fits (广东省杭州市: the
        // text contradicts itself) voids the parts it disagrees on.
        for m in run {
            let worst = m
                .cands
                .iter()
                .filter(|c| c.full)
                .map(|c| self.conflict(&path, c.div))
                .min();
            match worst {
                Some(1) => path = Path::default(),
                Some(2) => {
                    path.city = None;
                    path.district = None;
                }
                Some(3) => path.district = None,
                _ => {}
            }
        }
        // Keep the parts a tree: no city under an unknown province.
        if path.province.is_none() {
            path.city = None;
            path.district = None;
        } else if path.city.is_none() {
            path.district = None;
        }
        if path.province.is_none() {
            if let Some(dp) = default_province {
                path.province = Some(dp);
            }
        }
        Resolution { used: first.0.used, path, end }
    }

    /// The first level (1 province, 2 city, 3 district) at which division `d`
    /// disagrees with `path`, 0 when it fits.
    fn conflict(&self, path: &Path, d: u32) -> u8 {
        let div = &self.divs[d as usize];
        if path.province.is_some_and(|p| p != div.province) {
            1
        } else if matches!((path.city, div.city), (Some(a), Some(b)) if a != b) {
            2
        } else if matches!((path.district, div.district), (Some(a), Some(b)) if a != b) {
            3
        } else {
            0
        }
    }

    fn search(&self, run: &[&Match<'_>], at: usize, ordered: bool, chosen: &mut Vec<(u32, usize, bool)>, best: &mut Vec<(Score, Path, usize)>) {
        if at == run.len() {
            if chosen.is_empty() {
                return;
            }
            let mut path = Path::default();
            let mut full = 0;
            let mut depth_sum = 0u32;
            let mut end = 0;
            for &(d, e, f) in chosen.iter() {
                full += f as usize;
                let div = &self.divs[d as usize];
                path.province = Some(div.province);
                path.city = path.city.or(div.city);
                path.district = path.district.or(div.district);
                depth_sum += div.depth as u32;
                end = end.max(e);
            }
            let score = Score { used: chosen.len(), full, shallow: u32::MAX - depth_sum };
            match best.first().map(|b| b.0) {
                Some(s) if s > score => {}
                Some(s) if s == score => {
                    if !best.iter().any(|b| b.1 == path && b.2 == end) {
                        best.push((score, path, end));
                    }
                }
                _ => {
                    best.clear();
                    best.push((score, path, end));
                }
            }
            return;
        }
        let m = run[at];
        for c in m.cands.iter().filter(|c| c.full || !m.street) {
            if self.fits(chosen, c.div, ordered) {
                chosen.push((c.div, m.end, c.full));
                self.search(run, at + 1, ordered, chosen, best);
                chosen.pop();
            }
        }
        self.search(run, at + 1, ordered, chosen, best);
    }

    /// Whether division `d` lies on one path with every chosen division (and, when
    /// `ordered`, is smaller than the last one, or the same municipality again).
    fn fits(&self, chosen: &[(u32, usize, bool)], d: u32, ordered: bool) -> bool {
        let div = &self.divs[d as usize];
        for &(o, _, _) in chosen {
            let other = &self.divs[o as usize];
            if o == d {
                if ordered && div.depth == 1 && div.city.is_some() {
                    continue;
                }
                return false;
            }
            if other.province != div.province {
                return false;
            }
            if let (Some(a), Some(b)) = (other.city, div.city) {
                if a != b {
                    return false;
                }
            }
            if let (Some(a), Some(b)) = (other.district, div.district) {
                if a != b {
                    return false;
                }
            }
            if other.depth == div.depth {
                return false;
            }
        }
        if ordered {
            if let Some(&(last, _, _)) = chosen.last() {
                if self.divs[last as usize].depth >= div.depth && last != d {
                    return false;
                }
            }
        }
        true
    }
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Path {
    province: Option<u32>,
    city: Option<u32>,
    district: Option<u32>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct Score {
    used: usize,
    full: usize,
    shallow: u32,
}

struct Resolution {
    used: usize,
    path: Path,
    end: usize,
}

struct Match<'a> {
    start: usize,
    end: usize,
    cands: &'a [Candidate],
    /// Read as a street name: only full-name candidates count.
    street: bool,
    skip: bool,
}

fn is_cjk(c: char) -> bool {
    ('\u{4E00}'..='\u{9FFF}').contains(&c) || ('\u{3400}'..='\u{4DBF}').contains(&c)
}

/// NFKC, whitespace and invisible characters removed, a leading country name dropped.
fn normalise(s: &str) -> String {
    let keep = |c: &char| !c.is_whitespace() && !c.is_control() && *c != '\u{200b}' && *c != '\u{feff}';
    // Most addresses are ASCII and CJK unified ideographs only, which NFKC leaves as
    // they are: skip the (slow) normalisation check then.
    if s.chars().all(|c| c.is_ascii() || ('\u{4E00}'..='\u{9FFF}').contains(&c)) {
        let mut out = String::with_capacity(s.len());
        out.extend(s.chars().filter(keep));
        out
    } else if unicode_normalization::is_nfkc_quick(s.chars()) == unicode_normalization::IsNormalized::Yes {
        s.chars().filter(keep).collect()
    } else {
        s.nfkc().filter(keep).collect()
    }
}

/// The short forms people write for a division name: suffix dropped (广东省 → 广东,
/// 南山区 → 南山), and for autonomous areas the ethnic part too (广西壮族自治区 → 广西,
/// 恩施土家族苗族自治州 → 恩施). Forms under two characters are never used.
fn short_forms(name: &str, nations: &[String]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let Some(suffix) = SUFFIXES.iter().find(|s| name.ends_with(*s) && name.chars().count() > s.chars().count()) else {
        return out;
    };
    let mut base = name[..name.len() - suffix.len()].to_string();
    if suffix.starts_with("自治") || *suffix == "特别行政区" {
        // Every stage is written somewhere: 黔南布依族苗族, 黔南布依族, 黔南.
        if base.chars().count() >= 2 {
            out.push(base.clone());
        }
        let plain: Vec<String> = nations.iter().map(|n| n.trim_end_matches('族').to_string()).collect();
        loop {
            let before = base.len();
            for (n, p) in nations.iter().zip(&plain) {
                for form in [n.as_str(), p.as_str()] {
                    if !form.is_empty() && base.ends_with(form) && base.chars().count() > form.chars().count() + 1 {
                        base.truncate(base.len() - form.len());
                        break;
                    }
                }
                if base.len() != before {
                    break;
                }
            }
            if base.len() == before {
                break;
            }
            out.push(base.clone());
        }
        // 各族 ("all nationalities", as in 积石山保安族东乡族撒拉族自治县) is no nation name.
        if base.ends_with("各族") && base.chars().count() > 3 {
            base.truncate(base.len() - "各族".len());
        }
    }
    if base.chars().count() >= 2 && base != name {
        if *suffix == "自治州" {
            out.push(format!("{base}州"));
        }
        out.push(base);
    }
    out.retain(|f| f.chars().count() >= 2 && f != name);
    out.sort();
    out.dedup();
    out
}

/// Toneless pinyin spellings of a name, every reading of its polyphonic characters
/// (成都 is chengdu, not only the first reading chengdou), at most 16; empty when a
/// character has no pinyin.
fn pinyin_readings(name: &str) -> Vec<String> {
    use pinyin::ToPinyinMulti;
    let mut out = vec![String::new()];
    for c in name.chars() {
        let Some(multi) = c.to_pinyin_multi() else { return Vec::new() };
        let readings: Vec<&str> = multi.into_iter().map(|p| p.plain()).filter(|p| p.is_ascii()).collect();
        if readings.is_empty() {
            return Vec::new();
        }
        let mut next = Vec::with_capacity(out.len() * readings.len());
        for prefix in &out {
            for r in &readings {
                if next.len() < 16 {
                    next.push(format!("{prefix}{r}"));
                }
            }
        }
        out = next;
    }
    out.sort();
    out.dedup();
    out
}

/// Latin address text: NFKC, whitespace collapsed, words in Title Case when written all
/// upper or all lower, common abbreviations spelt out.
fn normalise_latin(s: &str) -> String {
    let t: String = s.nfkc().collect();
    let mut out: Vec<String> = Vec::new();
    for word in t.split_whitespace() {
        let (core, trail) = split_trailing_punct(word);
        let lower = core.to_ascii_lowercase();
        let bare = lower.trim_end_matches('.');
        let expanded = match bare {
            "rd" => Some("Road"),
            "st" => Some("Street"),
            "ave" | "av" => Some("Avenue"),
            "blvd" => Some("Boulevard"),
            "bldg" => Some("Building"),
            "rm" => Some("Room"),
            "fl" | "flr" => Some("Floor"),
            "apt" => Some("Apt"),
            "dist" => Some("District"),
            "ln" => Some("Lane"),
            "hwy" => Some("Highway"),
            "ste" => Some("Suite"),
            "no" => Some("No."),
            _ => None,
        };
        let w = match expanded {
            Some(e) => e.to_string(),
            None => {
                let alpha = core.chars().all(|c| c.is_alphabetic() || c == '\'' || c == '-');
                let all_upper = core.chars().all(|c| !c.is_lowercase());
                let all_lower = core.chars().all(|c| !c.is_uppercase());
                if alpha && (all_lower || (all_upper && core.chars().count() > 3)) {
                    title(core)
                } else {
                    core.to_string()
                }
            }
        };
        out.push(format!("{w}{trail}"));
    }
    out.join(" ")
}

fn split_trailing_punct(w: &str) -> (&str, &str) {
    let cut = w.trim_end_matches([',', ';', ':']);
    (cut, &w[cut.len()..])
}

fn title(w: &str) -> String {
    let mut out = String::with_capacity(w.len());
    let mut start = true;
    for c in w.chars() {
        if start {
            out.extend(c.to_uppercase());
        } else {
            out.extend(c.to_lowercase());
        }
        start = c == '-';
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table() -> Divisions {
        let rows = [
            ("110000", "北京市"),
            ("110100", "市辖区"),
            ("110105", "朝阳区"),
            ("110108", "海淀区"),
            ("220000", "吉林省"),
            ("220100", "长春市"),
            ("220104", "朝阳区"),
            ("220200", "吉林市"),
            ("440000", "广东省"),
            ("440300", "深圳市"),
            ("440305", "南山区"),
            ("442000", "中山市"),
            ("450000", "广西壮族自治区"),
            ("450100", "南宁市"),
            ("420000", "湖北省"),
            ("422800", "恩施土家族苗族自治州"),
            ("422801", "恩施市"),
            ("429004", "仙桃市"),
            ("330000", "浙江省"),
            ("330100", "杭州市"),
            ("330106", "西湖区"),
        ];
        let codes: Vec<String> = rows.iter().map(|r| r.0.to_string()).collect();
        let names: Vec<String> = rows.iter().map(|r| r.1.to_string()).collect();
        let nations: Vec<String> = ["壮族", "土家族", "苗族", "汉族"].iter().map(|s| s.to_string()).collect();
        Divisions::build(&codes, &names, &nations).unwrap()
    }

    fn parts<'a>(a: &'a Address<'_>) -> (Option<&'a str>, Option<&'a str>, Option<&'a str>, Option<&'a str>) {
        (a.province, a.city, a.district, a.detail.as_deref())
    }

    #[test]
    fn full_short_and_municipal_forms() {
        let t = table();
        let a = t.parse("广东省深圳市南山区科技园1号", None).unwrap();
        assert_eq!(parts(&a), (Some("广东省"), Some("深圳市"), Some("南山区"), Some("科技园1号")));
        assert_eq!(a.adcode, Some("440305"));
        let a = t.parse("深圳南山科技园", None).unwrap();
        assert_eq!(parts(&a), (Some("广东省"), Some("深圳市"), Some("南山区"), Some("科技园")));
        let a = t.parse("北京市北京市朝阳区建国路88号", None).unwrap();
        assert_eq!(parts(&a), (Some("北京市"), Some("北京市"), Some("朝阳区"), Some("建国路88号")));
        let a = t.parse("ＢＪ 北京 海淀区　中关村", None).unwrap();
        assert_eq!(parts(&a), (Some("北京市"), Some("北京市"), Some("海淀区"), Some("中关村")));
    }

    #[test]
    fn ambiguity_is_left_unknown_or_settled_by_default() {
        let t = table();
        let a = t.parse("朝阳区建国路88号", None).unwrap();
        assert_eq!(parts(&a), (None, None, None, Some("建国路88号")));
        let jl = t.province_named("吉林").unwrap();
        let a = t.parse("朝阳区建国路88号", Some(jl)).unwrap();
        assert_eq!(parts(&a), (Some("吉林省"), Some("长春市"), Some("朝阳区"), Some("建国路88号")));
        let a = t.parse("吉林省吉林市", None).unwrap();
        assert_eq!(parts(&a), (Some("吉林省"), Some("吉林市"), None, None));
        // A street named after a place is a street.
        let a = t.parse("杭州市中山路5号", None).unwrap();
        assert_eq!(parts(&a), (Some("浙江省"), Some("杭州市"), None, Some("中山路5号")));
    }

    #[test]
    fn autonomous_and_direct_counties() {
        let t = table();
        let a = t.parse("广西南宁市青秀区", None).unwrap();
        assert_eq!((a.province, a.city), (Some("广西壮族自治区"), Some("南宁市")));
        let a = t.parse("湖北恩施州恩施市某路", None).unwrap();
        assert_eq!((a.city, a.district), (Some("恩施土家族苗族自治州"), Some("恩施市")));
        let a = t.parse("湖北省仙桃市", None).unwrap();
        assert_eq!((a.province, a.city, a.adcode), (Some("湖北省"), Some("仙桃市"), Some("429004")));
    }

    #[test]
    fn contradictions_are_never_resolved_by_guessing() {
        let t = table();
        let a = t.parse("广东省杭州市西湖区", None).unwrap();
        assert!(a.province != Some("广东省") || a.city.is_none());
        assert!(a.city != Some("杭州市") || a.province == Some("浙江省"));
    }

    #[test]
    fn latin() {
        let t = table();
        let a = t.parse("88 JIANGUO RD, Chaoyang District, Beijing", None).unwrap();
        assert_eq!((a.province, a.city, a.district), (Some("北京市"), Some("北京市"), Some("朝阳区")));
        assert_eq!(a.detail.as_deref(), Some("88 Jianguo Road, Chaoyang District, Beijing"));
        let a = t.parse("221B Baker St, London", None).unwrap();
        assert_eq!((a.province, a.detail.as_deref()), (None, Some("221B Baker Street, London")));
    }

    #[test]
    fn never_panics_on_odd_text() {
        let t = table();
        for s in ["", " ", "省", "市市市", "北京北京北京北京北京北京北京北京北京北京", "\u{0}\u{feff}", "🙂广东🙂", "a,b,,", "中国"] {
            let _ = t.parse(s, None);
            let _ = t.region(s, None);
        }
    }
}

#[cfg(test)]
mod speed {
    //! `CRMKIT_ADCODES=path/to/adcodes.csv cargo test --release --lib address_speed -- --ignored --nocapture`
    use super::*;
    use std::time::Instant;

    #[test]
    #[ignore]
    fn address_speed() {
        let Ok(path) = std::env::var("CRMKIT_ADCODES") else { return };
        let text = std::fs::read_to_string(path).unwrap();
        let (mut codes, mut names) = (Vec::new(), Vec::new());
        for line in text.lines().skip(1) {
            let f: Vec<&str> = line.split(',').collect();
            codes.push(f[0].to_string());
            names.push(f[1].to_string());
        }
        let t = Instant::now();
        let d = Divisions::build(&codes, &names, &[]).unwrap();
        println!("build {:?}", t.elapsed());
        let streets = ["人民路12号", "中山大道88号3栋201室", "建设街5号", "科技园南区8栋"];
        let mut addrs = Vec::new();
        for (i, div) in d.divs.iter().enumerate().filter(|(_, v)| v.depth == 3) {
            let p = &d.divs[div.province as usize].name;
            let c = div.city.map(|c| d.divs[c as usize].name.as_str()).unwrap_or("");
            addrs.push(format!("{p}{}{}{}", if c == p { "" } else { c }, div.name, streets[i % 4]));
        }
        let n = addrs.len();
        for kind in [AhoCorasickKind::DFA, AhoCorasickKind::ContiguousNFA, AhoCorasickKind::NoncontiguousNFA] {
            let pats: Vec<String> = names.clone();
            let ac = AhoCorasickBuilder::new().match_kind(MatchKind::LeftmostLongest).kind(Some(kind)).build(&pats).unwrap();
            let t = Instant::now();
            let mut c = 0;
            for _ in 0..20 {
                for a in &addrs {
                    c += ac.find_iter(a).count();
                }
            }
            println!("{kind:?} scan {:.3} us/addr ({c})", t.elapsed().as_secs_f64() * 1e6 / (20 * n) as f64);
        }
        let t = Instant::now();
        for _ in 0..20 {
            for a in &addrs {
                std::hint::black_box(normalise(a));
            }
        }
        println!("normalise {:.3} us/addr", t.elapsed().as_secs_f64() * 1e6 / (20 * n) as f64);
        let t = Instant::now();
        for _ in 0..20 {
            for a in &addrs {
                std::hint::black_box(d.parse(a, None));
            }
        }
        println!("parse {:.3} us/addr over {n}", t.elapsed().as_secs_f64() * 1e6 / (20 * n) as f64);
    }
}
