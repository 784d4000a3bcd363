//! Association rules from frequent itemsets, with mlxtend's metric definitions.
//!
//! Every frequent itemset of two or more items yields one candidate rule per
//! non-empty proper subset (the antecedent); the rest is the consequent. Supports of
//! both sides are looked up among the itemsets (they are frequent by the downward
//! closure). The metrics follow mlxtend's formulas term for term, including its
//! conventions for the degenerate cases (conviction = inf when confidence is 1,
//! zhangs_metric = 0 and certainty = 0 when their denominators vanish).

use std::collections::HashMap;

use rayon::prelude::*;

use crate::error::{CrmError, Result};

/// Metric columns in mlxtend's order.
pub const METRICS: [&str; 12] = [
    "antecedent support",
    "consequent support",
    "support",
    "confidence",
    "lift",
    "representativity",
    "leverage",
    "conviction",
    "zhangs_metric",
    "jaccard",
    "certainty",
    "kulczynski",
];

#[derive(Debug, Default, Clone)]
pub struct Rules {
    pub antecedent_offsets: Vec<i64>,
    pub antecedent_items: Vec<u32>,
    pub consequent_offsets: Vec<i64>,
    pub consequent_items: Vec<u32>,
    /// One vector per entry of `METRICS`.
    pub metrics: Vec<Vec<f64>>,
}

impl Rules {
    pub fn len(&self) -> usize {
        self.antecedent_offsets.len().saturating_sub(1)
    }
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// All twelve metrics of rule A -> C from the supports of A, C and A u C.
pub fn metrics(s_ac: f64, s_a: f64, s_c: f64) -> [f64; 12] {
    let confidence = s_ac / s_a;
    let lift = confidence / s_c;
    let leverage = s_ac - s_a * s_c;
    let conviction = if confidence < 1.0 { (1.0 - s_c) / (1.0 - confidence) } else { f64::INFINITY };
    let zhang_den = f64::max(s_ac * (1.0 - s_a), s_a * (s_c - s_ac));
    let zhangs = if zhang_den == 0.0 { 0.0 } else { leverage / zhang_den };
    let jaccard = s_ac / (s_a + s_c - s_ac);
    let cert_den = 1.0 - s_c;
    let certainty = if cert_den == 0.0 { 0.0 } else { (confidence - s_c) / cert_den };
    let kulczynski = (s_ac / s_a + s_ac / s_c) / 2.0;
    [s_a, s_c, s_ac, confidence, lift, 1.0, leverage, conviction, zhangs, jaccard, certainty, kulczynski]
}

/// Rules whose `metric` (one of `METRICS`) is at least `min_threshold`.
/// Itemset `k` is `items[offsets[k]..offsets[k+1]]` with support `support[k]`.
pub fn association_rules(
    offsets: &[i64],
    items: &[u32],
    support: &[f64],
    metric: &str,
    min_threshold: f64,
    max_rules: usize,
) -> Result<Rules> {
    let m = METRICS
        .iter()
        .position(|&x| x == metric)
        .ok_or_else(|| CrmError::invalid(format!("metric must be one of {METRICS:?}, found '{metric}'")))?;
    let n = support.len();
    if offsets.len() != n + 1 || offsets.first() != Some(&0) || offsets.last() != Some(&(items.len() as i64)) {
        return Err(CrmError::invalid("itemset offsets do not match the items and supports"));
    }
    if offsets.windows(2).any(|w| w[0] > w[1]) {
        return Err(CrmError::invalid("itemset offsets must not decrease"));
    }
    let sets: Vec<Vec<u32>> = (0..n)
        .map(|k| {
            let mut s = items[offsets[k] as usize..offsets[k + 1] as usize].to_vec();
            s.sort_unstable();
            s
        })
        .collect();
    let mut lookup: HashMap<&[u32], f64> = HashMap::with_capacity(n);
    for (k, s) in sets.iter().enumerate() {
        if s.windows(2).any(|w| w[0] == w[1]) {
            return Err(CrmError::invalid(format!("itemset {k} repeats an item")));
        }
        if s.is_empty() {
            return Err(CrmError::invalid(format!("itemset {k} is empty")));
        }
        if !(support[k] > 0.0 && support[k] <= 1.0) {
            return Err(CrmError::invalid(format!("support of itemset {k} must lie in (0, 1], found {}", support[k])));
        }
        if lookup.insert(s.as_slice(), support[k]).is_some() {
            return Err(CrmError::invalid(format!("itemset {k} appears more than once")));
        }
    }
    // Bound the candidate count before generating anything.
    let mut candidates: u128 = 0;
    for s in &sets {
        if s.len() >= 2 {
            if s.len() > 40 {
                return Err(CrmError::TooLarge(format!(
                    "an itemset of {} items would yield 2^{} candidate rules; mine with max_len",
                    s.len(),
                    s.len()
                )));
            }
            candidates += (1u128 << s.len()) - 2;
        }
    }
    if candidates > (max_rules as u128).saturating_mul(64).max(1 << 26) {
        return Err(CrmError::TooLarge(format!(
            "the itemsets yield {candidates} candidate rules; mine with a higher min_support or max_len"
        )));
    }

    type Part = (Vec<u32>, Vec<u32>, Vec<u32>, Vec<u32>, Vec<[f64; 12]>);
    let parts: Vec<Result<Part>> = sets
        .par_iter()
        .zip(support.par_iter())
        .map(|(s, &s_ac)| {
            let mut part: Part = Default::default();
            let k = s.len();
            if k < 2 {
                return Ok(part);
            }
            let mut a = Vec::with_capacity(k);
            let mut c = Vec::with_capacity(k);
            for mask in 1u64..((1u64 << k) - 1) {
                a.clear();
                c.clear();
                for (j, &x) in s.iter().enumerate() {
                    if mask >> j & 1 == 1 {
                        a.push(x)
                    } else {
                        c.push(x)
                    }
                }
                let missing = |side: &[u32]| {
                    CrmError::invalid(format!(
                        "the support of a rule side ({} item(s)) is not among the itemsets; pass the full \
                         output of frequent_itemsets (every subset of a frequent itemset must be present)",
                        side.len()
                    ))
                };
                let s_a = *lookup.get(a.as_slice()).ok_or_else(|| missing(&a))?;
                let s_c = *lookup.get(c.as_slice()).ok_or_else(|| missing(&c))?;
                let row = metrics(s_ac, s_a, s_c);
                if row[m] >= min_threshold {
                    part.0.push(a.len() as u32);
                    part.1.extend_from_slice(&a);
                    part.2.push(c.len() as u32);
                    part.3.extend_from_slice(&c);
                    part.4.push(row);
                }
            }
            Ok(part)
        })
        .collect();
    let mut out = Rules {
        antecedent_offsets: vec![0],
        consequent_offsets: vec![0],
        metrics: vec![Vec::new(); 12],
        ..Default::default()
    };
    for part in parts {
        let (alen, aitems, clen, citems, rows) = part?;
        for l in alen {
            let last = *out.antecedent_offsets.last().unwrap_or(&0);
            out.antecedent_offsets.push(last + l as i64);
        }
        for l in clen {
            let last = *out.consequent_offsets.last().unwrap_or(&0);
            out.consequent_offsets.push(last + l as i64);
        }
        out.antecedent_items.extend(aitems);
        out.consequent_items.extend(citems);
        for row in rows {
            for (j, v) in row.iter().enumerate() {
                out.metrics[j].push(*v);
            }
        }
        if out.len() > max_rules {
            return Err(CrmError::TooLarge(format!(
                "more than max_rules={max_rules} rules pass {metric} >= {min_threshold}; raise min_threshold"
            )));
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn textbook_rule() {
        // {0}: 0.6, {1}: 0.5, {0,1}: 0.4
        let r = association_rules(&[0, 1, 2, 4], &[0, 1, 0, 1], &[0.6, 0.5, 0.4], "confidence", 0.0, 100).unwrap();
        assert_eq!(r.len(), 2);
        let conf = &r.metrics[3];
        let mut got: Vec<f64> = conf.clone();
        got.sort_by(|a, b| a.partial_cmp(b).unwrap());
        assert!((got[0] - 0.4 / 0.6).abs() < 1e-15 && (got[1] - 0.8).abs() < 1e-15);
        let lift = r.metrics[4][0];
        assert!((lift - 0.4 / (0.6 * 0.5)).abs() < 1e-12);
    }

    #[test]
    fn degenerate_metrics_follow_conventions() {
        let m = metrics(0.5, 0.5, 1.0);
        assert!(m[7].is_infinite());
        assert_eq!(m[10], 0.0);
    }

    #[test]
    fn missing_subset_is_an_error() {
        let r = association_rules(&[0, 1, 3], &[0, 0, 1], &[0.6, 0.4], "confidence", 0.0, 100);
        assert!(r.is_err());
        assert!(association_rules(&[0, 1], &[0], &[0.6], "nope", 0.0, 100).is_err());
    }
}
