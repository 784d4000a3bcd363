//! Bindings for identity resolution: scoring candidate pairs and clustering them.

use polars::prelude::*;
use pyo3::prelude::*;
use pyo3_polars::{PyDataFrame, PySeries};

use crate::dedupe::cluster::{cluster, greedy_one_to_one};
use crate::dedupe::levels::{prepare, Kind, NULL_LEVEL};
use crate::dedupe::model::{
    fit_em, level_shares, m_from_sessions, pair_levels, probability, random_pairs, score, spelled_email_pairs, Field,
    Model, Sampling,
};
use crate::error::{CrmError, Result};
use crate::python::{run_detached, DropInBackground};

fn indices(s: &Series, what: &str, n: usize) -> Result<Vec<u32>> {
    let s = s.cast(&DataType::UInt32).map_err(|_| CrmError::invalid(format!("{what}: expected record indices")))?;
    let ca = s.u32()?;
    if ca.null_count() > 0 {
        return Err(CrmError::invalid(format!("{what}: record indices hold nulls")));
    }
    let v: Vec<u32> = ca.into_no_null_iter().collect();
    if let Some(bad) = v.iter().find(|&&i| i as usize >= n) {
        return Err(CrmError::invalid(format!("{what}: record index {bad} out of range (n = {n})")));
    }
    Ok(v)
}

/// Scores candidate pairs with a Fellegi–Sunter model fitted on the first `n_train` pairs.
/// Returns a frame (one row per pair: log2-odds, probability, level_<f>, weight_<f>)
/// and the fitted model as JSON.
#[pyfunction]
#[pyo3(signature = (columns, names, kinds, tf, left, right, n_train, n_left=None, labelled_left=None, labelled_right=None, n_random=300_000, seed=42, max_iter=200, tol=1e-7, sessions=None))]
#[allow(clippy::too_many_arguments)]
fn dedupe_score(
    py: Python<'_>,
    columns: Vec<PySeries>,
    names: Vec<String>,
    kinds: Vec<String>,
    tf: Vec<bool>,
    left: PySeries,
    right: PySeries,
    n_train: usize,
    n_left: Option<usize>,
    labelled_left: Option<PySeries>,
    labelled_right: Option<PySeries>,
    n_random: usize,
    seed: u64,
    max_iter: usize,
    tol: f64,
    sessions: Option<Vec<(PySeries, Vec<usize>)>>,
) -> PyResult<(PyDataFrame, String)> {
    let sessions: Vec<(Series, Vec<usize>)> = sessions.unwrap_or_default().into_iter().map(|(a, m)| (a.0, m)).collect();
    let columns: Vec<Series> = columns.into_iter().map(|c| c.0).collect();
    let (left, right) = (left.0, right.0);
    let labelled = match (labelled_left, labelled_right) {
        (Some(a), Some(b)) => Some((a.0, b.0)),
        _ => None,
    };
    run_detached(py, move || {
        if columns.len() != names.len() || names.len() != kinds.len() || kinds.len() != tf.len() {
            return Err(CrmError::invalid("dedupe_score: columns, names, kinds and tf differ in length"));
        }
        let n = columns.first().map_or(0, |c| c.len());
        // Freed off the caller's path: a million records' fields take about 0.5 s to drop.
        let mut fields = DropInBackground::new(Vec::with_capacity(columns.len()));
        for ((col, name), (kind, use_tf)) in columns.iter().zip(&names).zip(kinds.iter().zip(&tf)) {
            let kind = Kind::parse(kind)?;
            let ca = col.str().map_err(|_| CrmError::schema(name, "a string column", col.dtype().to_string()))?;
            let raw: Vec<Option<&str>> = ca.iter().collect();
            fields.push(Field::new(name, kind, &raw, *use_tf));
            crate::interrupt::check()?;
        }
        let l = indices(&left, "left", n)?;
        let r = indices(&right, "right", n)?;
        if l.len() != r.len() || n_train > l.len() {
            return Err(CrmError::invalid("dedupe_score: left/right lengths differ or n_train too large"));
        }
        let sampling = match n_left {
            Some(nl) => Sampling::Across { n_left: nl, n },
            None => Sampling::Within { n },
        };
        let levels = pair_levels(&fields, &l, &r);
        crate::interrupt::check()?;
        let (rl, rr) = random_pairs(sampling, n_random, seed);
        let random_levels = pair_levels(&fields, &rl, &rr);
        crate::interrupt::check()?;
        let u = level_shares(&fields, &random_levels);
        let fixed_m = match &labelled {
            Some((a, b)) => {
                let la = indices(a, "labelled left", n)?;
                let lb = indices(b, "labelled right", n)?;
                if la.is_empty() || la.len() != lb.len() {
                    return Err(CrmError::invalid("training pairs: need at least one labelled matching pair"));
                }
                Some(level_shares(&fields, &pair_levels(&fields, &la, &lb)))
            }
            None => None,
        };
        let n_possible = match sampling {
            Sampling::Within { n } => (n as f64) * (n as f64 - 1.0) / 2.0,
            Sampling::Across { n_left, n } => (n_left as f64) * ((n - n_left) as f64),
        };
        let fixed_m = match fixed_m {
            Some(m) => Some(m),
            None if !sessions.is_empty() => {
                // m from per-key sessions (see `m_from_sessions`); the full EM's m is the
                // fallback for fields every session masked.
                let full = fit_em(
                    &fields,
                    &levels[..n_train * fields.len()],
                    &random_levels,
                    u.clone(),
                    None,
                    max_iter,
                    tol,
                    n_random,
                    None,
                )?;
                let mut sess = Vec::with_capacity(sessions.len());
                let nf = fields.len();
                let spelled = spelled_email_pairs(&fields, &l, &r);
                crate::interrupt::check()?;
                for (at, masked) in &sessions {
                    // The session's pairs are candidate pairs: their levels are gathered.
                    let at = indices(at, "session pairs", l.len())?;
                    let mut lv = Vec::with_capacity(at.len() * nf);
                    let mut sp = Vec::with_capacity(at.len());
                    for &p in &at {
                        lv.extend_from_slice(&levels[p as usize * nf..(p as usize + 1) * nf]);
                        sp.push(spelled[p as usize]);
                    }
                    sess.push((lv, masked.clone(), sp));
                }
                Some(m_from_sessions(&fields, &sess, &random_levels, &u, &full.m, max_iter, tol, n_random)?)
            }
            None => None,
        };
        let model = fit_em(
            &fields,
            &levels[..n_train * fields.len()],
            &random_levels,
            u,
            fixed_m,
            max_iter,
            tol,
            n_random,
            Some(n_possible),
        )?;
        let (logit, weights) = score(&fields, &model, &l, &r, &levels);
        crate::interrupt::check()?;
        let nf = fields.len();
        let mut out: Vec<Column> = Vec::with_capacity(2 + 2 * nf);
        out.push(Column::new("match_weight".into(), &logit));
        let probs: Vec<f64> = logit.iter().map(|&x| probability(x)).collect();
        out.push(Column::new("match_probability".into(), probs));
        for f in 0..nf {
            let lv: Vec<Option<u8>> = (0..l.len())
                .map(|p| {
                    let v = levels[p * nf + f];
                    if v == NULL_LEVEL {
                        None
                    } else {
                        Some(v)
                    }
                })
                .collect();
            let w: Vec<f64> = (0..l.len()).map(|p| weights[p * nf + f]).collect();
            out.push(Column::new(format!("level_{f}").into(), lv));
            out.push(Column::new(format!("weight_{f}").into(), w));
        }
        let df = DataFrame::new_infer_height(out)?;
        let json = serde_json::to_string(&model).map_err(|e| CrmError::invalid(e.to_string()))?;
        Ok((PyDataFrame(df), json))
    })
}

/// Clusters pairs with probability >= threshold into entities (see `dedupe::cluster`).
/// Returns (entity index per record, best link probability per record, links, refused links).
#[pyfunction]
fn dedupe_cluster(
    py: Python<'_>,
    n: usize,
    left: PySeries,
    right: PySeries,
    prob: PySeries,
    threshold: f64,
    max_size: usize,
    strong: f64,
) -> PyResult<(PySeries, PySeries, usize, usize, usize)> {
    let (left, right, prob) = (left.0, right.0, prob.0);
    run_detached(py, move || {
        let l = indices(&left, "left", n)?;
        let r = indices(&right, "right", n)?;
        let p: Vec<f64> = prob.cast(&DataType::Float64)?.f64()?.iter().map(|v| v.unwrap_or(0.0)).collect();
        if l.len() != r.len() || r.len() != p.len() {
            return Err(CrmError::invalid("dedupe_cluster: left, right and prob differ in length"));
        }
        let c = cluster(n, &l, &r, &p, threshold, max_size.max(1), strong);
        let best: Vec<Option<f64>> = c.best.iter().map(|&b| if b.is_nan() { None } else { Some(b) }).collect();
        Ok((
            PySeries(Series::new("entity".into(), c.entity)),
            PySeries(Series::new("best".into(), best)),
            c.n_links,
            c.n_refused,
            c.n_unsupported,
        ))
    })
}

/// Greedy one-to-one selection over pairs sorted best first (dense record codes per side).
#[pyfunction]
fn greedy_one_to_one_py(py: Python<'_>, left: PySeries, right: PySeries) -> PyResult<PySeries> {
    let (left, right) = (left.0, right.0);
    run_detached(py, move || {
        let n = left.len().max(right.len()) + 1;
        let l = indices(&left, "left", n.max(u32::MAX as usize))?;
        let r = indices(&right, "right", n.max(u32::MAX as usize))?;
        if l.len() != r.len() {
            return Err(CrmError::invalid("greedy_one_to_one: left and right differ in length"));
        }
        Ok(PySeries(Series::new("keep".into(), greedy_one_to_one(&l, &r))))
    })
}


/// The text each value is compared and counted by (term frequencies count these), or
/// null when the value has nothing to compare. Lets a distributed caller (crmkit.spark)
/// count term frequencies over all records exactly as `Field::new` does.
#[pyfunction]
fn dedupe_prepared_text(py: Python<'_>, kind: &str, values: PySeries) -> PyResult<PySeries> {
    let kind = Kind::parse(kind).map_err(crate::python::to_pyerr)?;
    let values = values.0;
    run_detached(py, move || {
        let ca = values.str().map_err(|_| CrmError::schema(values.name().as_str(), "a string column", values.dtype().to_string()))?;
        let out: Vec<Option<String>> = ca.iter().map(|v| v.and_then(|s| prepare(kind, s)).map(|p| p.text)).collect();
        Ok(PySeries(Series::new(values.name().clone(), out)))
    })
}

/// Scores a batch of pairs with a fitted model (its JSON from `dedupe_score`): pair p
/// compares `left[f][p]` with `right[f][p]`; `tf_left[f]` is the term frequency of the
/// left value over all records (None: the field has no term-frequency adjustment).
/// The same levels and weights as `dedupe_score`, for pairs that live in separate
/// batches (crmkit.spark scores candidate pairs per partition).
#[pyfunction]
#[pyo3(signature = (model_json, kinds, left, right, tf_left))]
fn dedupe_score_pairs(
    py: Python<'_>,
    model_json: &str,
    kinds: Vec<String>,
    left: Vec<PySeries>,
    right: Vec<PySeries>,
    tf_left: Vec<Option<PySeries>>,
) -> PyResult<PyDataFrame> {
    let model: Model = serde_json::from_str(model_json)
        .map_err(|e| crate::python::to_pyerr(CrmError::invalid(format!("dedupe model: cannot read it ({e})"))))?;
    let left: Vec<Series> = left.into_iter().map(|s| s.0).collect();
    let right: Vec<Series> = right.into_iter().map(|s| s.0).collect();
    let tf_left: Vec<Option<Series>> = tf_left.into_iter().map(|s| s.map(|s| s.0)).collect();
    run_detached(py, move || {
        let nf = kinds.len();
        if left.len() != nf || right.len() != nf || tf_left.len() != nf || model.m.len() != nf || model.u.len() != nf {
            return Err(CrmError::invalid("dedupe_score_pairs: model, kinds, left, right and tf differ in field count"));
        }
        let m = left.first().map_or(0, |c| c.len());
        let mut fields = DropInBackground::new(Vec::with_capacity(nf));
        for f in 0..nf {
            let kind = Kind::parse(&kinds[f])?;
            if kind.n_levels() != model.m[f].len() {
                return Err(CrmError::invalid(format!("dedupe_score_pairs: field {f} has a different kind than the model's")));
            }
            let (a, b) = (&left[f], &right[f]);
            if a.len() != m || b.len() != m {
                return Err(CrmError::invalid("dedupe_score_pairs: columns differ in length"));
            }
            let ca = a.str().map_err(|_| CrmError::schema(a.name().as_str(), "a string column", a.dtype().to_string()))?;
            let cb = b.str().map_err(|_| CrmError::schema(b.name().as_str(), "a string column", b.dtype().to_string()))?;
            // Records 0..m are the left sides, m..2m the right sides.
            let raw: Vec<Option<&str>> = ca.iter().chain(cb.iter()).collect();
            let mut field = Field::new(&model.fields[f], kind, &raw, false);
            crate::interrupt::check()?;
            if let Some(t) = &tf_left[f] {
                let t = t.cast(&DataType::Float32)?;
                let t = t.f32()?;
                if t.len() != m {
                    return Err(CrmError::invalid("dedupe_score_pairs: tf column differs in length"));
                }
                let mut tf: Vec<f32> = t.iter().map(|v| v.unwrap_or(0.0)).collect();
                tf.resize(2 * m, 0.0);
                field.tf = Some(tf);
            }
            fields.push(field);
        }
        let l: Vec<u32> = (0..m as u32).collect();
        let r: Vec<u32> = (m as u32..2 * m as u32).collect();
        let levels = pair_levels(&fields, &l, &r);
        crate::interrupt::check()?;
        let (logit, weights) = score(&fields, &model, &l, &r, &levels);
        crate::interrupt::check()?;
        let mut out: Vec<Column> = Vec::with_capacity(2 + 2 * nf);
        let probs: Vec<f64> = logit.iter().map(|&x| probability(x)).collect();
        out.push(Column::new("match_weight".into(), &logit));
        out.push(Column::new("match_probability".into(), probs));
        for f in 0..nf {
            let lv: Vec<Option<u8>> =
                (0..m).map(|p| Some(levels[p * nf + f]).filter(|&v| v != NULL_LEVEL)).collect();
            let w: Vec<f64> = (0..m).map(|p| weights[p * nf + f]).collect();
            out.push(Column::new(format!("level_{f}").into(), lv));
            out.push(Column::new(format!("weight_{f}").into(), w));
        }
        Ok(PyDataFrame(DataFrame::new_infer_height(out)?))
    })
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(dedupe_prepared_text, m)?)?;
    m.add_function(wrap_pyfunction!(dedupe_score_pairs, m)?)?;
    m.add("greedy_one_to_one", wrap_pyfunction!(greedy_one_to_one_py, m)?)?;
    m.add_function(wrap_pyfunction!(dedupe_score, m)?)?;
    m.add_function(wrap_pyfunction!(dedupe_cluster, m)?)?;
    Ok(())
}
