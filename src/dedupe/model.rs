//! Fellegi–Sunter model: u-probabilities from random record pairs, m-probabilities and
//! the match prior by EM over the candidate pairs (aggregated by agreement pattern, so the
//! fit is deterministic and independent of the thread count), and term-frequency
//! adjusted match weights at prediction time (agreeing on a rare value counts more
//! than agreeing on a common one).

use std::collections::HashMap;

use rayon::prelude::*;
use serde::Serialize;

use super::levels::{email_spells_name, level, prepare, Kind, Prepared, NULL_LEVEL};
use crate::error::{CrmError, Result};

/// One comparison field: its kind, prepared values and per-record term frequencies.
pub struct Field {
    pub name: String,
    pub kind: Kind,
    pub values: Vec<Option<Prepared>>,
    /// Share of non-null records holding this record's value (None: no TF adjustment).
    pub tf: Option<Vec<f32>>,
    /// Number of records with a (prepared) value.
    pub n_values: f64,
}

/// The romanised form of a name shared by its spellings: the smaller of its two
/// orders, or the text itself when the name has no romanised form.
fn roman_key(p: &Prepared) -> &str {
    p.roman.iter().min().map_or(p.text.as_str(), |s| s.as_str())
}

impl Field {
    pub fn new(name: &str, kind: Kind, raw: &[Option<&str>], term_frequency: bool) -> Field {
        // Preparing a million names (pinyin, phonetic keys) takes seconds: once an
        // interrupt is requested the rest are skipped, and the caller's check discards
        // the field.
        let values: Vec<Option<Prepared>> = raw
            .par_iter()
            .map(|v| if crate::interrupt::requested() { None } else { v.and_then(|s| prepare(kind, s)) })
            .collect();
        let tf = if term_frequency {
            let mut counts: HashMap<&str, u32> = HashMap::with_capacity(values.len() / 2 + 1);
            for p in values.iter().flatten() {
                *counts.entry(p.text.as_str()).or_insert(0) += 1;
            }
            let total: u64 = counts.values().map(|&c| c as u64).sum();
            let total = total.max(1) as f32;
            Some(
                values
                    .iter()
                    .map(|v| {
                        v.as_ref().map_or(0.0, |p| counts.get(p.text.as_str()).copied().unwrap_or(1) as f32 / total)
                    })
                    .collect(),
            )
        } else {
            None
        };
        let n_values = values.iter().filter(|v| v.is_some()).count() as f64;
        Field { name: name.to_string(), kind, values, tf, n_values }
    }

    #[inline]
    pub fn level(&self, i: usize, j: usize) -> u8 {
        match (&self.values[i], &self.values[j]) {
            (Some(a), Some(b)) => level(self.kind, a, b),
            _ => NULL_LEVEL,
        }
    }
}

/// Agreement levels of each pair, row-major: `levels[p * n_fields + f]`.
pub fn pair_levels(fields: &[Field], left: &[u32], right: &[u32]) -> Vec<u8> {
    let nf = fields.len();
    let mut out = vec![0u8; left.len() * nf];
    // Name fields are also compared across each other, so a given name and a surname
    // written in swapped columns still agree (the better of the two readings counts).
    let names: Vec<usize> = (0..nf).filter(|&f| fields[f].kind == Kind::Name).collect();
    let emails: Vec<usize> = (0..nf).filter(|&f| fields[f].kind == Kind::Email).collect();
    out.par_chunks_mut(nf.max(1) * 4096).enumerate().for_each(|(c, chunk)| {
        // An interrupted call discards the levels: skip the remaining chunks.
        if crate::interrupt::requested() {
            return;
        }
        let base = c * 4096;
        for (k, row) in chunk.chunks_mut(nf.max(1)).enumerate() {
            let (i, j) = (left[base + k] as usize, right[base + k] as usize);
            for (f, field) in fields.iter().enumerate() {
                row[f] = field.level(i, j);
            }
            if names.len() == 2 {
                let (f, g) = (names[0], names[1]);
                if row[f] != NULL_LEVEL && row[g] != NULL_LEVEL && row[f] < 3 && row[g] < 3 {
                    if let (Some(a1), Some(b1), Some(a2), Some(b2)) =
                        (&fields[f].values[i], &fields[g].values[j], &fields[g].values[i], &fields[f].values[j])
                    {
                        let x = level(Kind::Name, a1, b1);
                        let y = level(Kind::Name, a2, b2);
                        if x.min(y) > row[f].min(row[g]) && x.min(y) >= 3 {
                            row[f] = x.min(3);
                            row[g] = y.min(3);
                        }
                    }
                }
            }
            // Two records of one name whose e-mails merely spell that name (same user
            // part at other domains, or similar ones) would count the name twice: that
            // partial e-mail agreement is set to "no evidence". Exact e-mail agreement
            // keeps its (term-frequency) weight.
            if names.len() == 1 {
                let f = names[0];
                if row[f] != NULL_LEVEL && row[f] >= 3 {
                    for &e in &emails {
                        let top = (fields[e].kind.n_levels() - 1) as u8;
                        if row[e] != NULL_LEVEL && row[e] > 0 && row[e] < top {
                            if let (Some(ei), Some(ni), Some(ej), Some(nj)) =
                                (&fields[e].values[i], &fields[f].values[i], &fields[e].values[j], &fields[f].values[j])
                            {
                                if email_spells_name(ei, ni) && email_spells_name(ej, nj) {
                                    row[e] = NULL_LEVEL;
                                }
                            }
                        }
                    }
                }
            }
        }
    });
    out
}

/// How random pairs are drawn for estimating u.
#[derive(Clone, Copy, Debug)]
pub enum Sampling {
    /// Any two different records of `n`.
    Within { n: usize },
    /// One record of the first `n_left`, one of the rest (linking two sources).
    Across { n_left: usize, n: usize },
}

#[inline]
fn splitmix(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// Deterministic random record pairs for a seed.
pub fn random_pairs(sampling: Sampling, n_pairs: usize, seed: u64) -> (Vec<u32>, Vec<u32>) {
    let mut st = seed ^ 0x5EED_C4A1_u64;
    let mut l = Vec::with_capacity(n_pairs);
    let mut r = Vec::with_capacity(n_pairs);
    match sampling {
        Sampling::Within { n } if n >= 2 => {
            while l.len() < n_pairs {
                let i = (splitmix(&mut st) % n as u64) as u32;
                let j = (splitmix(&mut st) % n as u64) as u32;
                if i != j {
                    l.push(i);
                    r.push(j);
                }
            }
        }
        Sampling::Across { n_left, n } if n_left >= 1 && n > n_left => {
            for _ in 0..n_pairs {
                l.push((splitmix(&mut st) % n_left as u64) as u32);
                r.push((n_left as u64 + splitmix(&mut st) % (n - n_left) as u64) as u32);
            }
        }
        _ => {}
    }
    (l, r)
}

#[derive(Debug, Clone, Serialize, serde::Deserialize)]
pub struct Model {
    pub fields: Vec<String>,
    pub kinds: Vec<String>,
    pub level_names: Vec<Vec<String>>,
    /// Prior probability that a candidate pair is a match.
    pub lambda: f64,
    pub m: Vec<Vec<f64>>,
    pub u: Vec<Vec<f64>>,
    pub iterations: usize,
    pub converged: bool,
    pub n_random_pairs: usize,
    /// u of exact e-mail agreement between two records of one name whose e-mails only
    /// spell that name (see `name_email_collision_rate`); None without such records.
    #[serde(default)]
    pub name_email_u: Option<f64>,
}

/// How often two records of one name (by its romanised form), both with an e-mail that
/// only spells the name, hold the same e-mail: same-e-mail pairs over all pairs within
/// each name, summed over names. Common names, shared by many people, dominate the
/// sums, so this estimates how often different people of one name write the same
/// name-spelling address (zhangwei@163.com). None when no name has two such records.
pub fn name_email_collision_rate(fields: &[Field]) -> Option<f64> {
    let names: Vec<usize> = (0..fields.len()).filter(|&f| fields[f].kind == Kind::Name).collect();
    let emails: Vec<usize> = (0..fields.len()).filter(|&f| fields[f].kind == Kind::Email).collect();
    if names.len() != 1 || emails.len() != 1 {
        return None;
    }
    let (nf, ef) = (&fields[names[0]], &fields[emails[0]]);
    let mut groups: HashMap<&str, HashMap<&str, u64>> = HashMap::new();
    for (k, (n, e)) in nf.values.iter().zip(&ef.values).enumerate() {
        // An interrupted fit discards the model (fit_em checks after this).
        if k % 65_536 == 0 && crate::interrupt::requested() {
            return None;
        }
        if let (Some(n), Some(e)) = (n, e) {
            if email_spells_name(e, n) {
                *groups.entry(roman_key(n)).or_default().entry(e.text.as_str()).or_insert(0) += 1;
            }
        }
    }
    let (mut same, mut total) = (0f64, 0f64);
    for by_email in groups.values() {
        let k: u64 = by_email.values().sum();
        total += (k * k.saturating_sub(1) / 2) as f64;
        same += by_email.values().map(|&c| (c * c.saturating_sub(1) / 2) as f64).sum::<f64>();
    }
    if total < 1.0 {
        return None;
    }
    Some(((same + 0.5) / (total + 1.0)).clamp(FLOOR, 1.0))
}

const FLOOR: f64 = 1e-6;

/// u-probabilities: level shares among random pairs (light smoothing keeps them positive).
pub fn estimate_u(fields: &[Field], sampling: Sampling, n_pairs: usize, seed: u64) -> Vec<Vec<f64>> {
    let (l, r) = random_pairs(sampling, n_pairs, seed);
    let lv = pair_levels(fields, &l, &r);
    level_shares(fields, &lv)
}

/// Per field, the share of each agreement level among the given pairs (lightly
/// smoothed, floored): u from random pairs, m from labelled matching pairs.
pub fn level_shares(fields: &[Field], levels: &[u8]) -> Vec<Vec<f64>> {
    let nf = fields.len();
    fields
        .iter()
        .enumerate()
        .map(|(f, field)| {
            let k = field.kind.n_levels();
            let mut counts = vec![0f64; k];
            for row in levels.chunks(nf.max(1)) {
                if row[f] != NULL_LEVEL {
                    counts[row[f] as usize] += 1.0;
                }
            }
            let total: f64 = counts.iter().sum::<f64>() + 0.5 * k as f64;
            counts.iter().map(|c| ((c + 0.5) / total).max(FLOOR)).collect()
        })
        .collect()
}

/// EM for the prior and (unless `fixed_m` is given, from labelled pairs) the m-probabilities.
fn patterns<'a>(levels: &'a [u8], nf: usize, into: &mut HashMap<&'a [u8], f64>) {
    for (k, row) in levels.chunks(nf).enumerate() {
        // Tens of millions of candidate pairs take seconds to count: an interrupted
        // call stops counting here, and fit_em reports the interrupt.
        if k % 65_536 == 0 && crate::interrupt::requested() {
            return;
        }
        *into.entry(row).or_insert(0.0) += 1.0;
    }
}

fn sorted_patterns<'a>(map: HashMap<&'a [u8], f64>) -> Vec<(&'a [u8], f64)> {
    let mut pats: Vec<(&[u8], f64)> = map.into_iter().collect();
    pats.sort_unstable_by(|a, b| a.0.cmp(b.0));
    pats
}

/// Posterior match probability of one pattern.
fn posterior(pat: &[u8], lambda: f64, m: &[Vec<f64>], u: &[Vec<f64>]) -> f64 {
    let mut lm = lambda.ln();
    let mut lu = (1.0 - lambda).ln();
    for (f, &lv) in pat.iter().enumerate() {
        if lv != NULL_LEVEL {
            lm += m[f][lv as usize].ln();
            lu += u[f][lv as usize].ln();
        }
    }
    1.0 / (1.0 + (lu - lm).exp())
}

/// EM over the candidate pairs together with the random pairs (which anchor the
/// non-match class however well the blocking keys select), then the prior of a
/// candidate pair re-estimated on the candidates alone with m and u held.
#[allow(clippy::too_many_arguments)]
pub fn fit_em(
    fields: &[Field],
    levels: &[u8],
    random_levels: &[u8],
    u: Vec<Vec<f64>>,
    fixed_m: Option<Vec<Vec<f64>>>,
    max_iter: usize,
    tol: f64,
    n_random: usize,
    n_possible: Option<f64>,
) -> Result<Model> {
    let nf = fields.len();
    if nf == 0 {
        return Err(CrmError::invalid("dedupe needs at least one comparison field"));
    }
    let mut all = HashMap::new();
    patterns(levels, nf, &mut all);
    patterns(random_levels, nf, &mut all);
    crate::interrupt::check()?;
    let pats = sorted_patterns(all);
    let mut cand = HashMap::new();
    patterns(levels, nf, &mut cand);
    crate::interrupt::check()?;
    let cand = sorted_patterns(cand);
    let total: f64 = pats.iter().map(|p| p.1).sum();
    let train_m = fixed_m.is_none();
    let mut m: Vec<Vec<f64>> = fixed_m.unwrap_or_else(|| {
        fields
            .iter()
            .map(|field| {
                let k = field.kind.n_levels();
                let raw: Vec<f64> = (0..k).map(|l| if l + 1 == k { 20.0 } else { (1 << l) as f64 }).collect();
                let s: f64 = raw.iter().sum();
                raw.iter().map(|x| x / s).collect()
            })
            .collect()
    });
    let mut lambda = 0.3f64;
    let mut converged = false;
    let mut iterations = 0;
    if total > 0.0 {
        for it in 0..max_iter {
            crate::interrupt::check()?;
            iterations = it + 1;
            let mut m_acc: Vec<Vec<f64>> = m.iter().map(|v| vec![0.0; v.len()]).collect();
            let mut m_den = vec![0.0f64; nf];
            let mut w_sum = 0.0;
            for (pat, count) in &pats {
                let w = posterior(pat, lambda, &m, &u);
                let cw = w * count;
                w_sum += cw;
                for (f, &lv) in pat.iter().enumerate() {
                    if lv != NULL_LEVEL {
                        m_acc[f][lv as usize] += cw;
                        m_den[f] += cw;
                    }
                }
            }
            let new_lambda = (w_sum / total).clamp(1e-9, 1.0 - 1e-9);
            let mut delta = (new_lambda - lambda).abs();
            for f in 0..nf {
                if train_m && m_den[f] > 0.0 {
                    for l in 0..m[f].len() {
                        let v = (m_acc[f][l] / m_den[f]).max(FLOOR);
                        delta = delta.max((v - m[f][l]).abs());
                        m[f][l] = v;
                    }
                }
            }
            lambda = new_lambda;
            if delta < tol {
                converged = true;
                break;
            }
        }
    }
    // The prior is that of a pair drawn from all possible pairs (not of a candidate
    // pair): blocking on a field already enriches the candidates in agreement on that
    // field, and the field's Bayes factor must not be counted twice. The expected
    // number of matches is the EM posterior mass on the candidates.
    if let Some(n_possible) = n_possible {
        let expected: f64 = cand.iter().map(|(pat, c)| posterior(pat, lambda, &m, &u) * c).sum();
        if n_possible > 0.0 {
            lambda = (expected / n_possible).clamp(1e-12, 0.99);
        }
    }
    let name_email_u = name_email_collision_rate(fields);
    crate::interrupt::check()?;
    Ok(Model {
        fields: fields.iter().map(|f| f.name.clone()).collect(),
        kinds: fields.iter().map(|f| format!("{:?}", f.kind).to_lowercase()).collect(),
        level_names: fields.iter().map(|f| f.kind.level_names().iter().map(|s| s.to_string()).collect()).collect(),
        lambda,
        m,
        u,
        iterations,
        converged,
        n_random_pairs: n_random,
        name_email_u,
    })
}

/// The agreement levels of `levels` with the fields in `masked` set to missing, so an
/// EM session ignores them.
pub fn mask_levels(levels: &[u8], nf: usize, masked: &[usize]) -> Vec<u8> {
    let mut out = levels.to_vec();
    if nf == 0 {
        return out;
    }
    for row in out.chunks_mut(nf) {
        for &f in masked {
            if f < nf {
                row[f] = NULL_LEVEL;
            }
        }
    }
    out
}

/// Per pair: whether both records hold an e-mail that only spells their own name
/// (`zhangwei@163.com` for 张伟), with one name field and one e-mail field (else all
/// false). Such an e-mail and the name are one piece of evidence, not two.
pub fn spelled_email_pairs(fields: &[Field], left: &[u32], right: &[u32]) -> Vec<bool> {
    let names: Vec<usize> = (0..fields.len()).filter(|&f| fields[f].kind == Kind::Name).collect();
    let emails: Vec<usize> = (0..fields.len()).filter(|&f| fields[f].kind == Kind::Email).collect();
    if names.len() != 1 || emails.len() != 1 {
        return vec![false; left.len()];
    }
    let (nf, ef) = (&fields[names[0]], &fields[emails[0]]);
    let spells: Vec<bool> = nf
        .values
        .par_iter()
        .zip(ef.values.par_iter())
        .map(|(n, e)| matches!((n, e), (Some(n), Some(e)) if email_spells_name(e, n)))
        .collect();
    left.par_iter().zip(right.par_iter()).map(|(&i, &j)| spells[i as usize] && spells[j as usize]).collect()
}

/// The fields a session masks, closed under the name/e-mail dependence: when a
/// session's key forced the name to agree, an e-mail that only spells that name agrees
/// for the same reason (different people of one name write `zhangwei@163.com`), and
/// vice versa; left in, such pairs of different people look like matches to EM and
/// inflate the m of every disagreement (a different birth date, city or address),
/// the more so the more records share each name.
pub fn mask_session(fields: &[Field], levels: &[u8], masked: &[usize], spelled: &[bool]) -> Vec<u8> {
    let nf = fields.len();
    let mut out = mask_levels(levels, nf, masked);
    if nf == 0 {
        return out;
    }
    let names: Vec<usize> = (0..nf).filter(|&f| fields[f].kind == Kind::Name).collect();
    let emails: Vec<usize> = (0..nf).filter(|&f| fields[f].kind == Kind::Email).collect();
    if names.len() != 1 || emails.len() != 1 {
        return out;
    }
    let (n, e) = (names[0], emails[0]);
    let extra = match (masked.contains(&n), masked.contains(&e)) {
        (true, false) => e,
        (false, true) => n,
        _ => return out,
    };
    for (row, &sp) in out.chunks_mut(nf).zip(spelled) {
        if sp {
            row[extra] = NULL_LEVEL;
        }
    }
    out
}

/// m-probabilities from EM sessions, one per selective blocking key: a session fits EM
/// on the pairs of its key with the key's own fields masked (their agreement was forced
/// by the blocking, so it says nothing about m), and each field's m is the average over
/// the sessions that did not mask it. Fields every session masked keep `fallback`.
/// This keeps correlated fields (a name and an e-mail derived from it) from turning
/// the "match" class into "shares a popular value" (the approach of splink's
/// per-blocking-rule training sessions).
#[allow(clippy::too_many_arguments)]
pub fn m_from_sessions(
    fields: &[Field],
    sessions: &[(Vec<u8>, Vec<usize>, Vec<bool>)],
    random_levels: &[u8],
    u: &[Vec<f64>],
    fallback: &[Vec<f64>],
    max_iter: usize,
    tol: f64,
    n_random: usize,
) -> Result<Vec<Vec<f64>>> {
    let nf = fields.len();
    let mut sum: Vec<Vec<f64>> = fallback.iter().map(|v| vec![0.0; v.len()]).collect();
    let mut count = vec![0usize; nf];
    // Sessions are independent: fitted in parallel, combined in their fixed order.
    let fitted: Vec<Result<Option<(Vec<u8>, Model)>>> = sessions
        .par_iter()
        .map(|(levels, masked, spelled)| {
            if levels.is_empty() {
                return Ok(None);
            }
            let lv = mask_session(fields, levels, masked, spelled);
            let rv = mask_levels(random_levels, nf, masked);
            let model = fit_em(fields, &lv, &rv, u.to_vec(), None, max_iter, tol, n_random, None)?;
            Ok(Some((lv, model)))
        })
        .collect();
    for ((_, masked, _), fit) in sessions.iter().zip(fitted) {
        let (lv, model) = match fit? {
            Some(x) => x,
            None => continue,
        };
        for f in 0..nf {
            if masked.contains(&f) {
                continue;
            }
            // A field missing from every pair of the session learned nothing.
            if !lv.chunks(nf).any(|row| row[f] != NULL_LEVEL) {
                continue;
            }
            for (acc, v) in sum[f].iter_mut().zip(&model.m[f]) {
                *acc += v;
            }
            count[f] += 1;
        }
    }
    Ok((0..nf)
        .map(|f| {
            if count[f] == 0 {
                fallback[f].clone()
            } else {
                sum[f].iter().map(|v| (v / count[f] as f64).max(FLOOR)).collect()
            }
        })
        .collect())
}

/// Match weights (log2 Bayes factors) per pair and field, and each pair's total
/// log2-odds including the prior. Exact agreement on a field with term frequencies
/// uses the value's own frequency as u.
pub fn score(fields: &[Field], model: &Model, left: &[u32], right: &[u32], levels: &[u8]) -> (Vec<f64>, Vec<f64>) {
    let nf = fields.len();
    let names: Vec<usize> = (0..nf).filter(|&f| fields[f].kind == Kind::Name).collect();
    let name_at = if names.len() == 1 { Some(names[0]) } else { None };
    let prior = (model.lambda / (1.0 - model.lambda)).log2();
    let n = left.len();
    let mut weights = vec![0f64; n * nf];
    let mut logit = vec![0f64; n];
    weights.par_chunks_mut(nf.max(1)).zip(logit.par_iter_mut()).enumerate().for_each(|(p, (w, out))| {
        if crate::interrupt::requested() {
            return;
        }
        let mut total = prior;
        for (f, field) in fields.iter().enumerate() {
            let lv = levels[p * nf + f];
            let wf = if lv == NULL_LEVEL {
                0.0
            } else {
                let lvu = lv as usize;
                let top = field.kind.n_levels() - 1;
                let (i, j) = (left[p] as usize, right[p] as usize);
                let mut u = match (&field.tf, lvu == top) {
                    (Some(tf), true) => (tf[i] as f64).max(FLOOR),
                    _ => model.u[f][lvu],
                };
                // The same e-mail on two records of one name (or spellings of it), when
                // it only spells that name: what counts is how often different people
                // of one name share such an address, not how rare it is overall.
                if field.kind == Kind::Email && lvu == top {
                    if let (Some(fn_), Some(rate)) = (name_at, model.name_email_u) {
                        let nfield = &fields[fn_];
                        let name_lv = levels[p * nf + fn_];
                        if let (Some(e), Some(n1), Some(n2)) = (&field.values[i], &nfield.values[i], &nfield.values[j])
                        {
                            if name_lv != NULL_LEVEL
                                && name_lv >= 3
                                && (email_spells_name(e, n1) || email_spells_name(e, n2))
                            {
                                u = u.max(rate);
                            }
                        }
                    }
                }
                (model.m[f][lvu] / u).log2()
            };
            w[f] = wf;
            total += wf;
        }
        *out = total;
    });
    (logit, weights)
}

pub fn probability(logit: f64) -> f64 {
    1.0 / (1.0 + (-logit * std::f64::consts::LN_2).exp())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn em_separates_matches() {
        // 200 people, each twice (second copy with a typo in half the names), plus noise.
        let mut names = Vec::new();
        let mut dates = Vec::new();
        for i in 0..200 {
            names.push(format!("person{i:03}x"));
            dates.push(format!("19{:02}-0{}-1{}", 50 + i % 40, 1 + i % 9, i % 10));
        }
        for i in 0..200 {
            names.push(if i % 2 == 0 { format!("person{i:03}y") } else { format!("person{i:03}x") });
            dates.push(format!("19{:02}-0{}-1{}", 50 + i % 40, 1 + i % 9, i % 10));
        }
        let nr: Vec<Option<&str>> = names.iter().map(|s| Some(s.as_str())).collect();
        let dr: Vec<Option<&str>> = dates.iter().map(|s| Some(s.as_str())).collect();
        let fields = vec![Field::new("name", Kind::Name, &nr, true), Field::new("dob", Kind::Date, &dr, true)];
        let u = estimate_u(&fields, Sampling::Within { n: 400 }, 20000, 1);
        // Candidates: all true pairs plus 400 random non-matches.
        let mut l: Vec<u32> = (0..200).collect();
        let mut r: Vec<u32> = (200..400).collect();
        let (rl, rr) = random_pairs(Sampling::Within { n: 400 }, 400, 9);
        for (a, b) in rl.into_iter().zip(rr) {
            if a % 200 != b % 200 {
                l.push(a);
                r.push(b);
            }
        }
        let lv = pair_levels(&fields, &l, &r);
        let model = fit_em(&fields, &lv, &[], u, None, 200, 1e-8, 20000, None).unwrap_or_else(|e| panic!("{e}"));
        let (logit, _) = score(&fields, &model, &l, &r, &lv);
        let tp = (0..200).filter(|&p| probability(logit[p]) > 0.5).count();
        let fp = (200..l.len()).filter(|&p| probability(logit[p]) > 0.5).count();
        assert_eq!(tp, 200);
        assert_eq!(fp, 0);
        assert!(model.lambda > 0.2 && model.lambda < 0.6, "{}", model.lambda);
    }

    #[test]
    fn session_masking_follows_name_spelling_emails() {
        // Records 0 and 1: one name, e-mails that spell it; record 2: an unrelated e-mail.
        let nr = [Some("Wang Wei"), Some("Wang Wei"), Some("Wang Wei")];
        let er = [Some("wangwei@163.com"), Some("wangwei@163.com"), Some("lucky.star@163.com")];
        let fields = vec![Field::new("name", Kind::Name, &nr, true), Field::new("email", Kind::Email, &er, true)];
        let (l, r) = (vec![0u32, 0], vec![1u32, 2]);
        let spelled = spelled_email_pairs(&fields, &l, &r);
        assert_eq!(spelled, vec![true, false]);
        let lv = pair_levels(&fields, &l, &r);
        // Name exact (level 4), e-mail exact (level 3); second pair: same name, e-mails differ.
        assert_eq!(&lv[..3], &[4, 3, 4]);
        assert!(lv[3] < 3);
        // A name-keyed session: the spelled e-mail is masked with the name, the other kept.
        let by_name = mask_session(&fields, &lv, &[0], &spelled);
        assert_eq!(by_name, vec![NULL_LEVEL, NULL_LEVEL, NULL_LEVEL, lv[3]]);
        // An e-mail-keyed session: the name is masked where the e-mail spells it.
        let by_email = mask_session(&fields, &lv, &[1], &spelled);
        assert_eq!(by_email, vec![NULL_LEVEL, NULL_LEVEL, 4, NULL_LEVEL]);
        // A session on another field masks nothing more.
        assert_eq!(mask_session(&fields, &lv, &[], &spelled), lv);
    }
}
