//! Chinese addresses to (province, city, district, detail, adcode).
//!
//! The administrative-division table (6-digit GB/T 2260 codes and names) is not part of
//! crmkit: the Python wrapper reads it from an installed registry package and hands it to
//! `Divisions::build`. Parsing is then:
//!
//! 1. normalise: NFKC (full-width to half-width), whitespace removed, leading "中国";
//! 2. find the division names in the text — the full names and their usual short forms
//!    (suffix dropped: 广东, 深圳, 南山; autonomous regions and prefectures without the
//!    ethnic part: 广西, 恩施) — in a hash index keyed by a name's first bytes: the first
//!    name is the leftmost-longest one, the names that follow it are looked up at its end
//!    only (across separators such as "," "-" "/"), so the detail after a run of names is
//!    never scanned;
//! 3. group the matches into runs of adjacent names (addresses write divisions from the
//!    top, one after the other) and choose, per run, the largest set of names that lie on
//!    one path of the tree, from the larger unit to the smaller;
//! 4. a part is reported only when every best reading agrees on it — an ambiguous short
//!    name (朝阳区 alone: Beijing or Changchun?) leaves the province null rather than guess.
//!
//! Latin text is matched word by word against the pinyin of the division names
//! ("Shenzhen", "Guangdong Province"), again only where the reading is unambiguous.
//!
//! A column is parsed with one [`Scratch`] per thread: no allocation per row.

use std::collections::HashMap;

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

/// The parts found, as indices into the division table (see [`Divisions::name`]), and
/// the detail as a byte range of [`Scratch::text`] (Chinese text) or the normalised
/// Latin text in [`Scratch::latin`].
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Parsed {
    pub province: Option<u32>,
    pub city: Option<u32>,
    pub district: Option<u32>,
    detail: (usize, usize),
    latin: bool,
}

impl Parsed {
    /// The smallest part found.
    pub fn deepest(&self) -> Option<u32> {
        self.district.or(self.city).or(self.province)
    }

    /// The detail text (the address after its division names), if any.
    pub fn detail<'s>(&self, scratch: &'s Scratch) -> Option<&'s str> {
        let src = if self.latin { &scratch.latin } else { &scratch.text };
        let d = src.get(self.detail.0..self.detail.1).unwrap_or("");
        if d.is_empty() {
            None
        } else {
            Some(d)
        }
    }
}

/// Reusable buffers for [`Divisions::parse_into`]; one per thread.
#[derive(Default)]
pub struct Scratch {
    text: String,
    latin: String,
    found: Vec<Found>,
    matches: Vec<Match>,
    run: Vec<Match>,
    best: Vec<(Score, Path, usize)>,
    chosen: Vec<Chosen>,
    words: Vec<(usize, usize)>,
}

/// Where a division sits in the tree: indices of its province, city and district rows.
#[derive(Debug, Clone, Copy)]
struct Node {
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

/// A key as the matcher reads it: small and flat, so the lookups per match stay in cache.
#[derive(Debug, Clone, Copy, Default)]
struct KeyInfo {
    /// Its candidates: `cands[first..first + len]`.
    first: u32,
    len: u32,
    skip: bool,
    short_any: bool,
    /// Every candidate is a short form (no division is spelt exactly so).
    all_short: bool,
    /// A place below the table's smallest division (`AREA_ALIASES`): part of the detail.
    area: bool,
    /// The pattern is a full name ending in 市 (济南市: "济南市中区" is 济南 + 市中区).
    ends_shi: bool,
}

/// The division table, compiled for matching.
pub struct Divisions {
    names: Vec<String>,
    code_texts: Vec<String>,
    nodes: Vec<Node>,
    keys: Vec<KeyInfo>,
    cands: Vec<Candidate>,
    names_at: NameIndex,
    latin: PlHashMap<String, Vec<Candidate>>,
}

const MUNICIPALITIES: [u32; 4] = [11, 12, 31, 50];
const PLACEHOLDERS: [&str; 5] = ["市辖区", "县", "省直辖县级行政区划", "自治区直辖县级行政区划", "直辖县级行政区划"];
const SKIP_WORDS: [&str; 6] = ["中国", "中华人民共和国", "市辖区", "省直辖县级行政区划", "自治区直辖县级行政区划", "郊县"];
/// Characters that, right after a short name, show it is part of a street or place name.
const STREET_AFTER: [char; 14] = ['路', '街', '道', '巷', '弄', '桥', '号', '村', '镇', '乡', '里', '门', '大', '园'];
/// Compass words inside street names: 解放西路, 中山北路, 人民南街.
const COMPASS: [char; 5] = ['东', '西', '南', '北', '中'];
/// Characters written between division names ("广东省,深圳市", "广东-深圳-南山"): they
/// keep the names one run.
const SEPARATORS: [char; 18] = [',', '、', '-', '/', '|', '_', ';', ':', '.', '·', '>', '\\', '(', ')', '[', ']', '【', '】'];
const SUFFIXES: [&str; 15] = [
    "特别行政区", "自治区", "自治州", "自治县", "自治旗", "地区", "新区", "林区", "省", "市", "区", "县", "盟", "旗", "州",
];
/// Latin words that say what kind of place a name is, never a name themselves.
const LATIN_NOISE: [&str; 16] = [
    "province", "city", "district", "county", "prefecture", "autonomous", "region", "sar", "shi", "sheng", "qu",
    "xian", "municipality", "china", "prc", "pr",
];
/// Names people write that are neither the full name nor a suffix-dropped form: the
/// usual abbreviation of 内蒙古 and the traditional spellings of the divisions whose
/// addresses are mostly written in traditional characters.
const ALIASES: [(&str, u32); 6] =
    [("内蒙", 150000), ("台灣", 710000), ("臺灣", 710000), ("臺湾", 710000), ("台灣省", 710000), ("澳門", 820000)];
/// Places inside the province-level divisions the table does not subdivide (its rows for
/// 香港, 澳门 and 台湾 are province-level only): they settle the province, and their
/// text stays in the detail.
const AREA_ALIASES: [(&str, u32); 40] = [
    ("九龙", 810000), ("九龍", 810000), ("新界", 810000), ("香港岛", 810000), ("港岛", 810000), ("中环", 810000),
    ("中環", 810000), ("上环", 810000), ("湾仔", 810000), ("灣仔", 810000), ("铜锣湾", 810000), ("銅鑼灣", 810000),
    ("尖沙咀", 810000), ("旺角", 810000), ("油麻地", 810000), ("深水埗", 810000), ("观塘", 810000), ("觀塘", 810000),
    ("荃湾", 810000), ("屯门", 810000), ("將軍澳", 810000), ("将军澳", 810000),
    ("氹仔", 820000), ("路环", 820000), ("路氹", 820000),
    ("台北市", 710000), ("臺北市", 710000), ("台北", 710000), ("新北市", 710000), ("桃园市", 710000),
    ("桃園市", 710000), ("台中市", 710000), ("臺中市", 710000), ("台南市", 710000), ("臺南市", 710000),
    ("高雄市", 710000), ("高雄", 710000), ("基隆市", 710000), ("新竹市", 710000), ("嘉义市", 710000),
];
/// Conventional Latin spellings that the plain pinyin of the name does not give.
const LATIN_ALIASES: [(&str, u32); 19] = [
    ("shaanxi", 610000),
    ("chongqing", 500000),
    ("xiamen", 350200),
    ("hongkong", 810000),
    ("kowloon", 810000),
    ("macau", 820000),
    ("macao", 820000),
    ("innermongolia", 150000),
    ("tibet", 540000),
    ("peking", 110000),
    ("lhasa", 540100),
    ("urumqi", 650100),
    ("hohhot", 150100),
    ("harbin", 230100),
    ("taipei", 710000),
    ("kaohsiung", 710000),
    ("taichung", 710000),
    ("tainan", 710000),
    ("taipa", 820000),
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
                12 => digits.get(..6).and_then(|d| d.parse::<u32>().ok()),
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
        let mut nodes: Vec<Node> = Vec::with_capacity(raw.len());
        for (i, &(code, _)) in raw.iter().enumerate() {
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
            nodes.push(Node { depth, province: p as u32, city, district });
        }
        let div_names: Vec<String> = raw.iter().map(|r| r.1.to_string()).collect();
        let code_texts: Vec<String> = raw.iter().map(|r| format!("{:06}", r.0)).collect();

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
        for (i, (name, &(code, _))) in div_names.iter().zip(&raw).enumerate() {
            let i = i as u32;
            add(name, Some(Candidate { div: i, full: true }), &mut keys);
            for short in short_forms(name, &nations) {
                add(&short, Some(Candidate { div: i, full: false }), &mut keys);
                // 山西 and 陕西 are both "shanxi" in plain pinyin; 陕西 is spelt Shaanxi.
                if code / 10_000 == 61 && nodes[i as usize].depth == 1 {
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
        for (alias, code) in ALIASES.iter().chain(&AREA_ALIASES) {
            if let Some(&r) = index.get(code) {
                add(alias, Some(Candidate { div: r as u32, full: false }), &mut keys);
            }
        }
        let areas: std::collections::HashSet<&str> = AREA_ALIASES.iter().map(|a| a.0).collect();
        for (word, code) in LATIN_ALIASES {
            if let Some(&r) = index.get(&code) {
                let list = latin.entry(word.to_string()).or_default();
                if !list.iter().any(|c| c.div == r as u32) {
                    list.push(Candidate { div: r as u32, full: false });
                }
            }
        }
        for w in SKIP_WORDS {
            add(w, None, &mut keys);
        }
        let mut patterns: Vec<String> = vec![String::new(); keys.len()];
        for (s, &k) in &key_index {
            patterns[k] = s.clone();
        }
        let mut flat: Vec<Candidate> = Vec::new();
        let infos: Vec<KeyInfo> = keys
            .iter()
            .zip(&patterns)
            .map(|(k, p)| {
                let first = flat.len() as u32;
                flat.extend_from_slice(&k.cands);
                KeyInfo {
                    first,
                    len: k.cands.len() as u32,
                    skip: k.skip,
                    short_any: k.short_any,
                    all_short: k.cands.iter().all(|c| !c.full),
                    area: areas.contains(p.as_str()) && k.cands.iter().all(|c| !c.full),
                    ends_shi: p.ends_with('市') && k.cands.iter().any(|c| c.full),
                }
            })
            .collect();
        let names_at = NameIndex::build(&patterns);
        Ok(Divisions { names: div_names, code_texts, nodes, keys: infos, cands: flat, names_at, latin })
    }

    /// Number of divisions loaded.
    pub fn len(&self) -> usize {
        self.names.len()
    }

    pub fn is_empty(&self) -> bool {
        self.names.is_empty()
    }

    /// The canonical name of division `i` (an index from [`Parsed`]).
    pub fn name(&self, i: u32) -> &str {
        self.names.get(i as usize).map(String::as_str).unwrap_or("")
    }

    /// The 6-digit code of division `i`.
    pub fn code(&self, i: u32) -> &str {
        self.code_texts.get(i as usize).map(String::as_str).unwrap_or("")
    }

    fn cands(&self, k: &KeyInfo) -> &[Candidate] {
        &self.cands[k.first as usize..(k.first + k.len) as usize]
    }

    /// The province-level division whose name (full or short) is `name`.
    pub fn province_named(&self, name: &str) -> Option<u32> {
        let mut t = String::new();
        normalise_into(name, &mut t);
        self.names
            .iter()
            .zip(&self.nodes)
            .position(|(n, d)| d.depth == 1 && (*n == t || short_forms(n, &[]).iter().any(|s| *s == t)))
            .map(|i| i as u32)
    }

    /// Parses one address. `default_province` (an index from `province_named`) settles
    /// readings the text leaves open and fills the province when the text names none.
    pub fn parse(&self, raw: &str, default_province: Option<u32>) -> Option<Address<'_>> {
        let mut scratch = Scratch::default();
        let p = self.parse_into(raw, default_province, &mut scratch)?;
        Some(self.address(&p, &scratch))
    }

    /// `parse`'s result as names.
    pub fn address(&self, p: &Parsed, scratch: &Scratch) -> Address<'_> {
        let name = |i: Option<u32>| i.map(|i| self.name(i));
        Address {
            province: name(p.province),
            city: name(p.city),
            district: name(p.district),
            detail: p.detail(scratch).map(str::to_string),
            adcode: p.deepest().map(|i| self.code(i)),
        }
    }

    /// A column that holds only a place name (a province, a city or a district).
    pub fn region(&self, raw: &str, default_province: Option<u32>) -> Option<Address<'_>> {
        let mut scratch = Scratch::default();
        let p = self.region_into(raw, default_province, &mut scratch)?;
        Some(self.address(&p, &scratch))
    }

    /// `region` with reusable buffers: `None` also when no province or city is known.
    pub fn region_into(&self, raw: &str, default_province: Option<u32>, scratch: &mut Scratch) -> Option<Parsed> {
        let mut p = self.parse_into(raw, default_province, scratch)?;
        p.detail = (0, 0);
        if p.province.is_none() && p.city.is_none() {
            return None;
        }
        Some(p)
    }

    /// Parses one address with reusable buffers; `None` for empty text.
    pub fn parse_into(&self, raw: &str, default_province: Option<u32>, scratch: &mut Scratch) -> Option<Parsed> {
        let cjk = normalise_into(raw, &mut scratch.text);
        if scratch.text.is_empty() {
            return None;
        }
        if !cjk {
            return Some(self.parse_latin(raw, default_province, scratch));
        }
        let Scratch { text, found, matches, run, best, chosen, .. } = scratch;
        let text: &str = text;
        self.scan(text, found);
        matches.clear();
        for (n, f) in found.iter().enumerate() {
            let key = &self.keys[f.key as usize];
            let end = f.end;
            let next = text[end..].chars().next();
            // A short name followed by 路/街/村... (or 西路, 北街...) is a street name
            // (中山路, 解放西路), unless another division name starts right there
            // (庆阳镇原县: 庆阳 then 镇原县).
            let followed = found.get(n + 1).is_some_and(|g| g.start == end);
            let street = key.short_any && !followed && next.is_some_and(|c| is_street_start(&text[end..], c));
            if !key.skip && street && key.all_short {
                continue;
            }
            // A short name followed by another suffix (梁平区 for 梁平县 after a renaming,
            // 恩施州) is still that name; the suffix belongs to it, not to the detail.
            let mut end = end;
            if !key.skip && key.all_short && !followed {
                if let Some(c) = next.filter(|c| ['省', '市', '区', '县', '州', '盟', '旗'].contains(c)) {
                    end += c.len_utf8();
                }
            }
            matches.push(Match { start: f.start, end, key: f.key, street, skip: key.skip, area: key.area });
        }
        // Runs of adjacent names (separators between them allowed).
        let mut winner: Option<Resolution> = None;
        let mut i = 0;
        while i < matches.len() {
            let mut j = i + 1;
            while j < matches.len() && joined(text, matches[j - 1].end, matches[j].start) {
                j += 1;
            }
            run.clear();
            run.extend(matches[i..j].iter().filter(|m| !m.skip).take(8).copied());
            if !run.is_empty() {
                let r = self.resolve(run, true, default_province, best, chosen);
                if r.used > 0 && winner.as_ref().is_none_or(|b| r.used > b.used) {
                    winner = Some(r);
                }
            }
            i = j;
        }
        let mut out = Parsed::default();
        let detail_from = match &winner {
            Some(r) => {
                out.province = r.path.province;
                out.city = r.path.city;
                out.district = r.path.district;
                // Placeholders right after the last name ("市辖区") belong to it.
                let mut end = r.end;
                while let Some(m) = matches.iter().find(|m| m.skip && m.start == end) {
                    end = m.end;
                }
                end
            }
            None => {
                out.province = default_province;
                0
            }
        };
        let rest = &text[detail_from..];
        let detail = rest.trim_start_matches([',', '，', '、', '-', '/', ':', ';', '(', ')', '[', ']', '【', '】', '#', '.', '|', '_', '>']);
        out.detail = (text.len() - detail.len(), text.len());
        Some(out)
    }

    /// The division names of the text, in order: the first by an unanchored search, the
    /// ones right after it (or after separators) by anchored searches. The scan stops
    /// after the first run of two or more names, or at 32 names.
    fn scan(&self, text: &str, found: &mut Vec<Found>) {
        found.clear();
        let mut pos = 0;
        while pos < text.len() && found.len() < 32 {
            let Some(m) = self.names_at.find(text.as_bytes(), pos) else { break };
            let mut run_len = usize::from(!self.keys[m.key as usize].skip);
            found.push(m);
            let mut end = m.end;
            while found.len() < 32 {
                let at = skip_separators(text, end);
                if let Some(n) = self.anchored(text, at) {
                    run_len += usize::from(!self.keys[n.key as usize].skip);
                    end = n.end;
                    found.push(n);
                    continue;
                }
                // 济南市中区: 济南市 then nothing, but 济南 then 市中区.
                let last = found.len() - 1;
                if at == end && self.keys[found[last].key as usize].ends_shi {
                    let back = end - '市'.len_utf8();
                    if let Some(n) = self.anchored(text, back).filter(|n| n.end > end) {
                        if let Some(k) = self.short_key(&text[found[last].start..back]) {
                            found[last].end = back;
                            found[last].key = k;
                            run_len += usize::from(!self.keys[n.key as usize].skip);
                            end = n.end;
                            found.push(n);
                            continue;
                        }
                    }
                }
                break;
            }
            if run_len >= 2 {
                break;
            }
            pos = end;
        }
    }

    /// The longest name that starts at `at`.
    fn anchored(&self, text: &str, at: usize) -> Option<Found> {
        self.names_at.longest_at(text.as_bytes(), at)
    }

    /// The key spelt exactly `s`, if any.
    fn short_key(&self, s: &str) -> Option<u32> {
        self.anchored(s, 0).filter(|f| f.end == s.len()).map(|f| f.key)
    }

    fn parse_latin(&self, raw: &str, default_province: Option<u32>, scratch: &mut Scratch) -> Parsed {
        let Scratch { latin: detail, matches, run, best, chosen, words, .. } = scratch;
        normalise_latin_into(raw, detail);
        words.clear();
        let mut start = None;
        for (i, c) in detail.char_indices().chain(std::iter::once((detail.len(), ' '))) {
            match (c.is_ascii_alphanumeric(), start) {
                (true, None) => start = Some(i),
                (false, Some(s)) => {
                    words.push((s, i));
                    start = None;
                }
                _ => {}
            }
        }
        let word = |k: usize| -> String { detail[words[k].0..words[k].1].to_ascii_lowercase() };
        matches.clear();
        let mut latin_cands: Vec<&[Candidate]> = Vec::new();
        let mut k = 0;
        while k < words.len() {
            let mut hit = None;
            // Two words first ("hong kong", "inner mongolia", "guang dong"), then one.
            for n in [2usize, 1] {
                if k + n > words.len() {
                    continue;
                }
                let w: String = (k..k + n).map(word).collect();
                if n == 1 && LATIN_NOISE.contains(&w.as_str()) {
                    continue;
                }
                if let Some(c) = self.latin.get(&w) {
                    let c: &[Candidate] = c;
                    let after = if k + n < words.len() { word(k + n) } else { String::new() };
                    let street = matches!(
                        after.as_str(),
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
                    matches.push(Match {
                        start: k,
                        end: k + n,
                        key: latin_cands.len() as u32,
                        street: false,
                        skip: false,
                        area: false,
                    });
                    latin_cands.push(cands);
                    k += n;
                }
                None => k += 1,
            }
        }
        let mut out = Parsed { detail: (0, detail.len()), latin: true, ..Parsed::default() };
        run.clear();
        run.extend(matches.iter().take(8).copied());
        if !run.is_empty() {
            let r = self.resolve_with(run, false, default_province, best, chosen, &|m: &Match| latin_cands[m.key as usize]);
            if r.used > 0 {
                out.province = r.path.province;
                out.city = r.path.city;
                out.district = r.path.district;
            }
        } else {
            out.province = default_province;
        }
        out
    }

    fn resolve(
        &self,
        run: &[Match],
        ordered: bool,
        default_province: Option<u32>,
        best: &mut Vec<(Score, Path, usize)>,
        chosen: &mut Vec<Chosen>,
    ) -> Resolution {
        self.resolve_with(run, ordered, default_province, best, chosen, &|m: &Match| self.cands(&self.keys[m.key as usize]))
    }

    /// The reading of a run of names: the most names on one path of the tree (in order
    /// from larger to smaller units when `ordered`), then the most full names, then the
    /// larger units; parts on which the best readings disagree are left unknown.
    fn resolve_with<'c>(
        &self,
        run: &[Match],
        ordered: bool,
        default_province: Option<u32>,
        best: &mut Vec<(Score, Path, usize)>,
        chosen: &mut Vec<Chosen>,
        cands: &dyn Fn(&Match) -> &'c [Candidate],
    ) -> Resolution {
        best.clear();
        chosen.clear();
        // Most runs name one division per name, all on one path (广东省深圳市南山区):
        // that reading uses every name and is the only one that does.
        let mut single = true;
        for (at, m) in run.iter().enumerate() {
            let mut it = cands(m).iter().filter(|c| c.full || !m.street);
            match (it.next(), it.next()) {
                (Some(c), None) if self.fits(chosen, c.div, ordered) => {
                    chosen.push((c.div, if m.area { m.start } else { m.end }, c.full, at))
                }
                _ => {
                    single = false;
                    break;
                }
            }
        }
        if single && !chosen.is_empty() {
            self.record(chosen, best);
        } else {
            chosen.clear();
            self.search(run, 0, ordered, chosen, best, cands);
        }
        if let Some(dp) = default_province {
            if best.iter().any(|b| b.1.province == Some(dp) || b.1.province.is_none()) {
                best.retain(|b| b.1.province == Some(dp) || b.1.province.is_none());
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
        // text contradicts itself) voids the parts it disagrees on; except a county-level
        // name after a reading without one (深圳市龙华区: the table knows 龙华区 in 海口
        // only): a district the table does not have under that city, left to the detail.
        let depth = if path.district.is_some() { 3 } else if path.city.is_some() { 2 } else { 1 };
        for m in run {
            let mut full = cands(m).iter().filter(|c| c.full).peekable();
            if full.peek().is_none() {
                continue;
            }
            if m.start >= end && depth < 3 && cands(m).iter().filter(|c| c.full).all(|c| self.nodes[c.div as usize].depth == 3) {
                continue;
            }
            let worst = full.map(|c| self.conflict(&path, c.div)).min();
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
        let div = &self.nodes[d as usize];
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

    #[allow(clippy::too_many_arguments)]
    fn search<'c>(
        &self,
        run: &[Match],
        at: usize,
        ordered: bool,
        chosen: &mut Vec<Chosen>,
        best: &mut Vec<(Score, Path, usize)>,
        cands: &dyn Fn(&Match) -> &'c [Candidate],
    ) {
        if at == run.len() {
            if !chosen.is_empty() {
                self.record(chosen, best);
            }
            return;
        }
        // No reading from here can use as many names as the best one so far.
        if best.first().is_some_and(|b| chosen.len() + (run.len() - at) < b.0.used) {
            return;
        }
        let m = &run[at];
        for c in cands(m).iter().filter(|c| c.full || !m.street) {
            if self.fits(chosen, c.div, ordered) {
                chosen.push((c.div, if m.area { m.start } else { m.end }, c.full, at));
                self.search(run, at + 1, ordered, chosen, best, cands);
                chosen.pop();
            }
        }
        self.search(run, at + 1, ordered, chosen, best, cands);
    }

    /// Scores a complete reading and keeps it when it is among the best.
    fn record(&self, chosen: &[Chosen], best: &mut Vec<(Score, Path, usize)>) {
        let mut path = Path::default();
        let mut full = 0;
        let mut depth_sum = 0u32;
        let mut end = 0;
        for &(d, e, f, _) in chosen.iter() {
            full += f as usize;
            let div = &self.nodes[d as usize];
            path.province = Some(div.province);
            path.city = path.city.or(div.city);
            path.district = path.district.or(div.district);
            depth_sum += div.depth as u32;
            end = end.max(e);
        }
        let first = chosen.first().map_or(0, |c| c.3);
        let score = Score { used: chosen.len(), early: usize::MAX - first, full, shallow: u32::MAX - depth_sum };
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
    }

    /// Whether division `d` lies on one path with every chosen division (and, when
    /// `ordered`, is smaller than the last one, or the same municipality again).
    fn fits(&self, chosen: &[Chosen], d: u32, ordered: bool) -> bool {
        let div = &self.nodes[d as usize];
        for &(o, _, _, _) in chosen {
            let other = &self.nodes[o as usize];
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
            if let Some(&(last, _, _, _)) = chosen.last() {
                if self.nodes[last as usize].depth >= div.depth && last != d {
                    return false;
                }
            }
        }
        true
    }
}

/// A division chosen for a reading: (division, end of its name, spelt in full, index
/// of its name in the run).
type Chosen = (u32, usize, bool, usize);

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Path {
    province: Option<u32>,
    city: Option<u32>,
    district: Option<u32>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct Score {
    used: usize,
    /// Readings that start at an earlier name win: addresses are written from the
    /// larger unit down, and a name the table misses comes after the ones it knows
    /// (深圳龙华区: 深圳, not the other 龙华区 of the table).
    early: usize,
    full: usize,
    shallow: u32,
}

struct Resolution {
    used: usize,
    path: Path,
    end: usize,
}

/// A name found by the automaton: its byte range and key.
#[derive(Debug, Clone, Copy)]
struct Found {
    start: usize,
    end: usize,
    key: u32,
}

#[derive(Debug, Clone, Copy)]
struct Match {
    start: usize,
    end: usize,
    /// The key (Chinese text) or the index of the candidate list (Latin text).
    key: u32,
    /// Read as a street name: only full-name candidates count.
    street: bool,
    skip: bool,
    /// A place below the table's divisions: it settles the reading, the detail keeps it.
    area: bool,
}

/// The division names (and placeholder words) by their first bytes: the longest name
/// that starts at a position is one hash probe and a few byte comparisons away. Finding
/// the leftmost-longest name probes each position where a name can start; names after
/// it are probed at their position only. Measured here on the generated addresses of
/// tests/bench/bench_address.py, the same parser with a contiguous Aho-Corasick NFA over
/// these names (about 400 KB of states, which miss the cache on a busy machine) took
/// about 1.7 times as long per address; see the `address_speed` test.
struct NameIndex {
    /// Number of leading bytes hashed: the shortest name's length, at most 8.
    head: usize,
    /// Head bytes -> range of `entries`, longest names first.
    heads: PlHashMap<u64, (u32, u32)>,
    /// (key, start, length) of each name's bytes in `bytes`.
    entries: Vec<(u32, u32, u32)>,
    bytes: Vec<u8>,
    /// Bytes a name can start with.
    starts: [bool; 256],
}

impl NameIndex {
    fn build(patterns: &[String]) -> NameIndex {
        let head = patterns.iter().map(String::len).filter(|&l| l > 0).min().unwrap_or(1).min(8);
        let mut order: Vec<(u64, usize, u32)> = patterns
            .iter()
            .enumerate()
            .filter(|(_, p)| !p.is_empty())
            .map(|(k, p)| (pack(&p.as_bytes()[..head]), p.len(), k as u32))
            .collect();
        // Grouped by head, longest first within a group.
        order.sort_by(|a, b| a.0.cmp(&b.0).then(b.1.cmp(&a.1)).then(a.2.cmp(&b.2)));
        let mut heads: PlHashMap<u64, (u32, u32)> = PlHashMap::default();
        let mut entries = Vec::with_capacity(order.len());
        let mut bytes = Vec::new();
        let mut starts = [false; 256];
        for (h, len, k) in order {
            let p = patterns[k as usize].as_bytes();
            starts[usize::from(p[0])] = true;
            let slot = heads.entry(h).or_insert((entries.len() as u32, 0));
            slot.1 += 1;
            entries.push((k, bytes.len() as u32, len as u32));
            bytes.extend_from_slice(p);
        }
        NameIndex { head, heads, entries, bytes, starts }
    }

    /// The longest name that starts at byte `at` of `text`.
    fn longest_at(&self, text: &[u8], at: usize) -> Option<Found> {
        let rest = text.get(at..)?;
        let &(first, n) = self.heads.get(&pack(rest.get(..self.head)?))?;
        let group = self.entries.get(first as usize..(first + n) as usize)?;
        group.iter().find_map(|&(k, s, l)| {
            let name = self.bytes.get(s as usize..(s + l) as usize)?;
            rest.starts_with(name).then_some(Found { start: at, end: at + l as usize, key: k })
        })
    }

    /// The leftmost name at or after byte `pos` (the longest one there).
    fn find(&self, text: &[u8], pos: usize) -> Option<Found> {
        let last = text.len().checked_sub(self.head)?;
        (pos..=last).filter(|&i| self.starts[usize::from(text[i])]).find_map(|i| self.longest_at(text, i))
    }
}

/// Up to 8 bytes as one hash key.
fn pack(b: &[u8]) -> u64 {
    b.iter().take(8).fold(0u64, |acc, &x| (acc << 8) | u64::from(x))
}

fn is_cjk(c: char) -> bool {
    ('\u{4E00}'..='\u{9FFF}').contains(&c) || ('\u{3400}'..='\u{4DBF}').contains(&c)
}

/// Whether the text after a short name (`rest`, starting with `c`) reads as the rest of
/// a street or place name: 路, 街, 村..., or a compass word then one (西路, 北大街).
fn is_street_start(rest: &str, c: char) -> bool {
    if STREET_AFTER.contains(&c) {
        return true;
    }
    COMPASS.contains(&c) && rest[c.len_utf8()..].chars().next().is_some_and(|d| STREET_AFTER.contains(&d))
}

/// `to` follows `from` directly or with separators only between them.
fn joined(text: &str, from: usize, to: usize) -> bool {
    to >= from && text.get(from..to).is_some_and(|gap| gap.chars().all(|c| SEPARATORS.contains(&c)))
}

fn skip_separators(text: &str, at: usize) -> usize {
    // Most names are followed by another ideograph: no separator to skip.
    if text.as_bytes().get(at).is_none_or(|b| (0xE4..=0xE9).contains(b)) {
        return at;
    }
    let rest = text.get(at..).unwrap_or("");
    at + (rest.len() - rest.trim_start_matches(SEPARATORS).len())
}

/// NFKC, whitespace and invisible characters removed (into `out`); whether the text
/// holds a CJK ideograph.
///
/// Most addresses are ASCII, CJK ideographs, full-width ASCII and a few CJK punctuation
/// marks only: those are mapped byte by byte (NFKC leaves U+4000..U+9FFF and 、。〈〉《》
/// 「」『』【】 as they are and maps U+FF01..U+FF5E to ASCII); any other character sends
/// the whole text through the general normalisation.
fn normalise_into(s: &str, out: &mut String) -> bool {
    out.clear();
    if let Some(cjk) = normalise_fast(s, out) {
        return cjk;
    }
    out.clear();
    let keep = |c: &char| !c.is_whitespace() && !c.is_control() && *c != '\u{200b}' && *c != '\u{feff}';
    out.extend(s.nfkc().filter(keep));
    out.chars().any(is_cjk)
}

fn normalise_fast(s: &str, out: &mut String) -> Option<bool> {
    let b = s.as_bytes();
    let mut cjk = false;
    // Bytes from `kept` on are copied as they are, in one piece when the next change
    // (a dropped or mapped character) comes.
    let mut kept = 0;
    let mut i = 0;
    while let Some(&c) = b.get(i) {
        if c < 0x80 {
            if c.is_ascii_whitespace() || c.is_ascii_control() {
                out.push_str(s.get(kept..i)?);
                kept = i + 1;
            }
            i += 1;
            continue;
        }
        let (&c1, &c2) = (b.get(i + 1)?, b.get(i + 2)?);
        match c {
            // U+4000..U+9FFF: CJK ideographs (and the Yijing symbols, E4 B7 xx), unchanged by NFKC.
            0xE4..=0xE9 => cjk |= !(c == 0xE4 && c1 == 0xB7),
            // U+3001..U+3002, U+3008..U+3011: unchanged.
            0xE3 if c1 == 0x80 && (matches!(c2, 0x81 | 0x82) || (0x88..=0x91).contains(&c2)) => {}
            // U+3000 (ideographic space): dropped.
            0xE3 if c1 == 0x80 && c2 == 0x80 => {
                out.push_str(s.get(kept..i)?);
                kept = i + 3;
            }
            // U+FF01..U+FF5E: full-width ASCII.
            0xEF if (c1 == 0xBC && c2 >= 0x81) || (c1 == 0xBD && c2 <= 0x9E) => {
                out.push_str(s.get(kept..i)?);
                let ascii = if c1 == 0xBC { c2 - 0x80 + 0x20 } else { c2 - 0x80 + 0x60 };
                out.push(char::from(ascii));
                kept = i + 3;
            }
            _ => return None,
        }
        i += 3;
    }
    out.push_str(s.get(kept..)?);
    Some(cjk)
}

/// Latin address text (see `normalise_latin`) into `out`.
fn normalise_latin_into(s: &str, out: &mut String) {
    out.clear();
    out.push_str(&normalise_latin(s));
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
    fn separators_compass_streets_and_shi_overlap() {
        let t = table();
        for s in ["广东省,深圳市,南山区,科技园", "广东省-深圳市-南山区 科技园", "广东/深圳/南山/科技园", "广东省，深圳市，南山区，科技园"] {
            let a = t.parse(s, None).unwrap();
            assert_eq!(parts(&a), (Some("广东省"), Some("深圳市"), Some("南山区"), Some("科技园")), "{s}");
        }
        // 南山西路 is a street, not 南山区.
        let a = t.parse("深圳市南山西路1号", None).unwrap();
        assert_eq!(parts(&a), (Some("广东省"), Some("深圳市"), None, Some("南山西路1号")));
    }

    #[test]
    fn shi_zhong_qu_after_a_city_without_its_suffix() {
        let rows = [("370000", "山东省"), ("370100", "济南市"), ("370103", "市中区"), ("370400", "枣庄市"), ("370402", "市中区")];
        let codes: Vec<String> = rows.iter().map(|r| r.0.to_string()).collect();
        let names: Vec<String> = rows.iter().map(|r| r.1.to_string()).collect();
        let t = Divisions::build(&codes, &names, &[]).unwrap();
        let a = t.parse("山东济南市中区经七路", None).unwrap();
        assert_eq!(parts(&a), (Some("山东省"), Some("济南市"), Some("市中区"), Some("经七路")));
        let a = t.parse("济南市市中区经七路", None).unwrap();
        assert_eq!(parts(&a), (Some("山东省"), Some("济南市"), Some("市中区"), Some("经七路")));
        // Both 市中区 of this table are in 山东: the province is settled, the city is not.
        let a = t.parse("市中区经七路", None).unwrap();
        assert_eq!(parts(&a), (Some("山东省"), None, None, Some("经七路")));
    }

    #[test]
    fn scratch_reuse_gives_the_same_answers() {
        let t = table();
        let texts = ["广东省深圳市南山区科技园1号", "Nanshan, Shenzhen", "朝阳区建国路88号", "", "湖北恩施州恩施市某路", "ＢＪ 北京 海淀区　中关村"];
        let mut scratch = Scratch::default();
        for s in texts.iter().cycle().take(30) {
            let fresh = t.parse(s, None);
            let reused = t.parse_into(s, None, &mut scratch).map(|p| t.address(&p, &scratch));
            assert_eq!(fresh, reused, "{s}");
        }
    }

    /// Property: parsing never panics and always answers with one branch of the tree,
    /// on arbitrary Unicode text, text made of division names and affixes, and arbitrary
    /// bytes read lossily (a deterministic random stream: crmkit's own generator).
    #[test]
    fn property_never_panics_and_stays_on_the_tree() {
        let t = table();
        let mut rng = crate::rng::Rng::new(15, 0);
        let pieces: Vec<&str> = t
            .names
            .iter()
            .map(String::as_str)
            .chain(["省", "市", "区", "县", "州", "路", "西路", "号", ",", "-", "，", " ", "中国", "市辖区", "Ｘ", "１", "Rd", "Hong Kong"])
            .chain(["Beijing", "Nanshan", "\u{0}", "\u{feff}", "\u{200b}", "🙂", "ﬁ", "①", "㍿", "e\u{301}", "\u{10FFFF}"])
            .collect();
        let mut scratch = Scratch::default();
        for round in 0..20_000 {
            let len = rng.below(12);
            let mut s = String::new();
            for _ in 0..len {
                match rng.below(3) {
                    0 => s.push_str(pieces[rng.below(pieces.len())]),
                    1 => {
                        let c = rng.below(0x11_0000) as u32;
                        s.push(char::from_u32(c).unwrap_or('?'));
                    }
                    _ => {
                        let bytes: Vec<u8> = (0..rng.below(6)).map(|_| rng.below(256) as u8).collect();
                        s.push_str(&String::from_utf8_lossy(&bytes));
                    }
                }
            }
            let dp = if round % 3 == 0 { t.province_named("广东") } else { None };
            for a in [t.parse(&s, dp), t.region(&s, dp), t.parse_into(&s, dp, &mut scratch).map(|p| t.address(&p, &scratch))]
                .into_iter()
                .flatten()
            {
                assert!(a.province.is_some() || (a.city.is_none() && a.district.is_none()), "{s:?}: {a:?}");
                assert!(a.city.is_some() || a.district.is_none(), "{s:?}: {a:?}");
                // The parts are one branch of the tree: the adcode's division and its parents.
                match a.adcode {
                    None => assert!(a.province.is_none(), "{s:?}: {a:?}"),
                    Some(code) => {
                        let i = t.code_texts.iter().position(|c| c == code).expect("a code of the table");
                        let node = &t.nodes[i];
                        assert_eq!(a.province, Some(t.name(node.province)), "{s:?}: {a:?}");
                        assert_eq!(a.city, node.city.map(|c| t.name(c)).filter(|_| a.city.is_some()), "{s:?}: {a:?}");
                        assert_eq!(a.district, node.district.map(|d| t.name(d)), "{s:?}: {a:?}");
                        if a.district.is_none() {
                            assert!(node.depth <= 2, "{s:?}: {a:?}");
                        }
                    }
                }
            }
        }
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
    use aho_corasick::{AhoCorasickBuilder, AhoCorasickKind, MatchKind};
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
        for (i, div) in d.nodes.iter().enumerate().filter(|(_, v)| v.depth == 3) {
            let p = d.name(div.province);
            let c = div.city.map(|c| d.name(c)).unwrap_or("");
            addrs.push(format!("{p}{}{}{}", if c == p { "" } else { c }, d.name(i as u32), streets[i % 4]));
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
        let mut c = 0;
        for _ in 0..20 {
            for a in &addrs {
                let mut at = 0;
                while let Some(f) = d.names_at.find(a.as_bytes(), at) {
                    c += 1;
                    at = f.end;
                }
            }
        }
        println!("name index scan {:.3} us/addr ({c})", t.elapsed().as_secs_f64() * 1e6 / (20 * n) as f64);
        let t = Instant::now();
        for _ in 0..20 {
            for a in &addrs {
                let mut s = String::new();
                normalise_into(a, &mut s);
                std::hint::black_box(s);
            }
        }
        println!("normalise {:.3} us/addr", t.elapsed().as_secs_f64() * 1e6 / (20 * n) as f64);
        let t = Instant::now();
        let mut scratch = Scratch::default();
        for _ in 0..20 {
            for a in &addrs {
                std::hint::black_box(d.parse_into(a, None, &mut scratch));
            }
        }
        println!("parse {:.3} us/addr over {n}", t.elapsed().as_secs_f64() * 1e6 / (20 * n) as f64);
    }
}
