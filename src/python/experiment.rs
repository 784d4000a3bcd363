//! Bindings for the experiment kernels in `crate::stats`: sufficient statistics from
//! unit rows, vectorised comparisons, classical tests, p-value adjustment, power.

use numpy::{IntoPyArray, PyArray1, PyReadonlyArray1};
use polars::prelude::*;
use pyo3::prelude::*;
use pyo3_polars::{PyDataFrame, PySeries};

use crate::error::{CrmError, Result};
use crate::python::{run_detached, to_pyerr};
use crate::stats::ab::{self, Arm, Comparison, Kind, Mode, Options, Test};
use crate::stats::htest::{self, Alternative, Correction};
use crate::stats::{dist, power, suff};

fn alternative(s: &str) -> Result<Alternative> {
    Alternative::parse(s).ok_or_else(|| {
        CrmError::invalid(format!("alternative must be 'two-sided', 'larger' or 'smaller', found {s:?}"))
    })
}

fn float_col(df: &DataFrame, name: &str) -> Result<Vec<f64>> {
    match df.column(name) {
        Ok(c) => {
            let s = c.as_materialized_series().cast(&DataType::Float64)?;
            Ok(s.f64()?.iter().map(|v| v.unwrap_or(f64::NAN)).collect())
        }
        Err(_) => Ok(vec![0.0; df.height()]),
    }
}

fn out_col(name: &str, v: impl Iterator<Item = f64>) -> Column {
    Float64Chunked::from_iter_options(name.into(), v.map(|x| if x.is_nan() { None } else { Some(x) }))
        .into_series()
        .into_column()
}

/// Sufficient statistics per distinct combination of `keys` (String or Int64 series):
/// `n`, `sum_{i}`, `sumsq_{i}` per value series i (Float64) and `prod_{k}` per pair k.
#[pyfunction]
fn experiment_summarize(
    py: Python<'_>,
    keys: Vec<PySeries>,
    values: Vec<PySeries>,
    pairs: Vec<(usize, usize)>,
) -> PyResult<PyDataFrame> {
    let keys: Vec<Series> = keys.into_iter().map(|s| s.0).collect();
    let values: Vec<Series> = values.into_iter().map(|s| s.0).collect();
    let df = run_detached(py, move || summarize(&keys, &values, &pairs))?;
    Ok(PyDataFrame(df))
}

fn summarize(keys: &[Series], values: &[Series], pairs: &[(usize, usize)]) -> Result<DataFrame> {
    let n = keys.first().map(|s| s.len()).ok_or_else(|| CrmError::invalid("summarize needs a key column"))?;
    let mut encoded = Vec::with_capacity(keys.len());
    for s in keys {
        if s.len() != n {
            return Err(CrmError::invalid("key columns differ in length"));
        }
        let e = match s.dtype() {
            DataType::String => suff::encode_str(s.str()?)?,
            DataType::Int64 => suff::encode_int(s.i64()?)?,
            other => return Err(CrmError::schema(s.name(), "a String or Int64 key", format!("{other}"))),
        };
        encoded.push(e);
    }
    // Mixed-radix code of the key combination.
    let sizes: Vec<usize> = encoded.iter().map(|(_, k)| k.len().max(1)).collect();
    let n_groups: usize = sizes.iter().product();
    if n_groups > 50_000_000 {
        return Err(CrmError::TooLarge(format!("{n_groups} key combinations; summarise fewer keys at once")));
    }
    let codes: Vec<u32> = if encoded.len() == 1 {
        std::mem::take(&mut encoded[0].0)
    } else {
        use rayon::prelude::*;
        (0..n)
            .into_par_iter()
            .map(|r| {
                let mut code = 0usize;
                for (k, (c, _)) in encoded.iter().enumerate().rev() {
                    code = code * sizes[k] + c[r] as usize;
                }
                code as u32
            })
            .collect()
    };
    let floats: Vec<Float64Chunked> = values
        .iter()
        .map(|s| Ok(s.cast(&DataType::Float64)?.f64()?.rechunk().into_owned()))
        .collect::<Result<_>>()?;
    let slices: Vec<(String, Vec<f64>)> = floats
        .iter()
        .zip(values)
        .map(|(ca, s)| {
            let v: Vec<f64> = match ca.cont_slice() {
                Ok(sl) if ca.null_count() == 0 => sl.to_vec(),
                _ => ca.iter().map(|x| x.unwrap_or(f64::NAN)).collect(),
            };
            (s.name().to_string(), v)
        })
        .collect();
    let views: Vec<(&str, &[f64])> = slices.iter().map(|(n, v)| (n.as_str(), v.as_slice())).collect();
    let sums = suff::accumulate(&codes, n_groups, &views, pairs)?;
    let present: Vec<usize> = (0..n_groups).filter(|&g| sums.counts[g] > 0).collect();
    let mut columns = Vec::new();
    for (k, (s, (_, kv))) in keys.iter().zip(&encoded).enumerate() {
        let stride: usize = sizes[..k].iter().product();
        let idx = |g: usize| (g / stride) % sizes[k];
        let col = match kv {
            suff::KeyValues::Str(v) => {
                StringChunked::from_iter_values(s.name().clone(), present.iter().map(|&g| v[idx(g)].as_str()))
                    .into_series()
                    .into_column()
            }
            suff::KeyValues::Int(v) => {
                Int64Chunked::from_vec(s.name().clone(), present.iter().map(|&g| v[idx(g)]).collect())
                    .into_series()
                    .into_column()
            }
        };
        columns.push(col);
    }
    columns.push(
        Int64Chunked::from_vec("n".into(), present.iter().map(|&g| sums.counts[g] as i64).collect())
            .into_series()
            .into_column(),
    );
    for i in 0..values.len() {
        columns.push(out_col(&format!("sum_{i}"), present.iter().map(|&g| sums.sums[i][g])));
        columns.push(out_col(&format!("sumsq_{i}"), present.iter().map(|&g| sums.sum_sqs[i][g])));
    }
    for k in 0..pairs.len() {
        columns.push(out_col(&format!("prod_{k}"), present.iter().map(|&g| sums.prods[k][g])));
    }
    Ok(DataFrame::new(present.len(), columns)?)
}

fn kind_of(code: f64) -> Result<Kind> {
    match code as i64 {
        0 => Ok(Kind::Proportion),
        1 => Ok(Kind::Mean),
        2 => Ok(Kind::Ratio),
        other => Err(CrmError::invalid(format!("unknown metric kind code {other}"))),
    }
}

/// Compares control and treatment for every row of `table` (columns `kind`, `pre_kind`,
/// `c_n`, `c_sum`, `c_sum_sq`, `c_den`, `c_den_sq`, `c_prod`, `c_cov`, `c_cov_sq`,
/// `c_cov_prod`, the same with `t_`, optional `external_p`/`external_stat`).
#[pyfunction]
#[pyo3(signature = (table, alpha, alternative, test, mode, relative=true, prior_mean=0.0, prior_var=None, tuning=5000.0))]
#[allow(clippy::too_many_arguments)]
fn experiment_compare(
    py: Python<'_>,
    table: PyDataFrame,
    alpha: f64,
    alternative: &str,
    test: &str,
    mode: &str,
    relative: bool,
    prior_mean: f64,
    prior_var: Option<f64>,
    tuning: f64,
) -> PyResult<PyDataFrame> {
    let alt = alternative_py(alternative)?;
    let test = match test {
        "welch" => Test::Welch,
        "z" => Test::Z,
        "z-pooled" => Test::ZPooled,
        "chi2" => Test::Chi2,
        "fisher" => Test::Fisher,
        "external" => Test::External,
        other => return Err(to_pyerr(CrmError::invalid(format!("unknown test {other:?}")))),
    };
    let mode = match mode {
        "frequentist" => Mode::Frequentist,
        "bayes" => Mode::Bayes { relative, prior_mean, prior_var },
        "sequential" => Mode::Sequential { tuning },
        other => return Err(to_pyerr(CrmError::invalid(format!("unknown mode {other:?}")))),
    };
    let options = Options { alpha, alternative: alt, test, mode };
    let df = table.0;
    let out = run_detached(py, move || compare_table(&df, &options))?;
    Ok(PyDataFrame(out))
}

fn alternative_py(s: &str) -> PyResult<Alternative> {
    alternative(s).map_err(to_pyerr)
}

fn compare_table(df: &DataFrame, options: &Options) -> Result<DataFrame> {
    let h = df.height();
    let get = |n: &str| float_col(df, n);
    let kind = get("kind")?;
    let pre = match df.column("pre_kind") {
        Ok(_) => get("pre_kind")?,
        Err(_) => vec![-1.0; h],
    };
    let names = ["n", "sum", "sum_sq", "den", "den_sq", "prod", "cov", "cov_sq", "cov_prod"];
    let c: Vec<Vec<f64>> = names.iter().map(|n| get(&format!("c_{n}"))).collect::<Result<_>>()?;
    let t: Vec<Vec<f64>> = names.iter().map(|n| get(&format!("t_{n}"))).collect::<Result<_>>()?;
    let (ext_p, ext_s) = match (df.column("external_p"), df.column("external_stat")) {
        (Ok(_), Ok(_)) => (get("external_p")?, get("external_stat")?),
        _ => (vec![f64::NAN; h], vec![f64::NAN; h]),
    };
    let arm = |v: &Vec<Vec<f64>>, i: usize| Arm {
        n: v[0][i],
        sum: v[1][i],
        sum_sq: v[2][i],
        den_sum: v[3][i],
        den_sum_sq: v[4][i],
        prod: v[5][i],
        cov_sum: v[6][i],
        cov_sum_sq: v[7][i],
        cov_prod: v[8][i],
    };
    let items = (0..h)
        .map(|i| {
            Ok(Comparison {
                kind: kind_of(kind[i])?,
                cuped: if pre[i] < 0.0 || pre[i].is_nan() { None } else { Some(kind_of(pre[i])?) },
                control: arm(&c, i),
                treatment: arm(&t, i),
                external_p: ext_p[i],
                external_stat: ext_s[i],
            })
        })
        .collect::<Result<Vec<_>>>()?;
    let res = ab::compare_all(&items, options);
    macro_rules! f {
        ($name:literal, $field:ident) => {
            out_col($name, res.iter().map(|r| r.$field))
        };
    }
    let reason = StringChunked::from_iter_options("reason".into(), res.iter().map(|r| r.reason.or(r.lift_reason)))
        .into_series()
        .into_column();
    let cols = vec![
        f!("control_mean", control_mean),
        f!("mean", mean),
        f!("diff", diff),
        f!("diff_lower", diff_lower),
        f!("diff_upper", diff_upper),
        f!("diff_se", diff_se),
        f!("p_value", p_value),
        f!("statistic", statistic),
        f!("df", df),
        f!("lift", lift),
        f!("lift_lower", lift_lower),
        f!("lift_upper", lift_upper),
        f!("lift_se", lift_se),
        f!("lift_p_value", lift_p_value),
        f!("theta", theta),
        f!("variance_reduction", variance_reduction),
        f!("chance_to_win", chance_to_win),
        f!("risk_control", risk_control),
        f!("risk_treatment", risk_treatment),
        reason,
    ];
    Ok(DataFrame::new(h, cols)?)
}

/// Mann-Whitney U of x (treatment) vs y (control) as scipy: (U of x, p-value).
#[pyfunction]
fn experiment_mann_whitney(
    py: Python<'_>,
    x: PyReadonlyArray1<'_, f64>,
    y: PyReadonlyArray1<'_, f64>,
    alternative: &str,
) -> PyResult<(f64, f64)> {
    let alt = alternative_py(alternative)?;
    let (x, y) = (x.as_array().to_vec(), y.as_array().to_vec());
    run_detached(py, move || Ok(htest::mann_whitney(&x, &y, alt)))
}

/// Fisher's exact test of [[a, b], [c, d]] as scipy: (odds ratio, p-value).
#[pyfunction]
fn experiment_fisher(a: u64, b: u64, c: u64, d: u64, alternative: &str) -> PyResult<(f64, f64)> {
    Ok(htest::fisher_exact(a, b, c, d, alternative_py(alternative)?))
}

/// Adjusts p-values within each group code ("holm", "bonferroni", "bh", "none").
#[pyfunction]
fn experiment_adjust<'py>(
    py: Python<'py>,
    p: PyReadonlyArray1<'py, f64>,
    group: PyReadonlyArray1<'py, i64>,
    method: &str,
) -> PyResult<Bound<'py, PyArray1<f64>>> {
    let method = match method {
        "holm" => Correction::Holm,
        "bonferroni" => Correction::Bonferroni,
        "bh" | "fdr_bh" => Correction::BenjaminiHochberg,
        "none" => Correction::None,
        other => return Err(to_pyerr(CrmError::invalid(format!("unknown correction {other:?}")))),
    };
    let p = p.as_array().to_vec();
    let g = group.as_array().to_vec();
    let mut order: Vec<usize> = (0..p.len()).collect();
    order.sort_by_key(|&i| g[i]);
    let mut out = vec![f64::NAN; p.len()];
    let mut i = 0;
    while i < order.len() {
        let mut j = i;
        while j < order.len() && g[order[j]] == g[order[i]] {
            j += 1;
        }
        let members = &order[i..j];
        let ps: Vec<f64> = members.iter().map(|&k| p[k]).collect();
        for (k, v) in members.iter().zip(htest::adjust(&ps, method)) {
            out[*k] = v;
        }
        i = j;
    }
    Ok(out.into_pyarray(py))
}

/// Cochran's Q per group code: arrays (q, df, p, i2) aligned with the sorted unique codes.
#[pyfunction]
fn experiment_heterogeneity(
    est: Vec<f64>,
    var: Vec<f64>,
    group: Vec<i64>,
) -> (Vec<i64>, Vec<f64>, Vec<f64>, Vec<f64>, Vec<f64>) {
    let mut order: Vec<usize> = (0..est.len()).collect();
    order.sort_by_key(|&i| group[i]);
    let (mut gs, mut qs, mut dfs, mut ps, mut i2s) = (vec![], vec![], vec![], vec![], vec![]);
    let mut i = 0;
    while i < order.len() {
        let mut j = i;
        while j < order.len() && group[order[j]] == group[order[i]] {
            j += 1;
        }
        let e: Vec<f64> = order[i..j].iter().map(|&k| est[k]).collect();
        let v: Vec<f64> = order[i..j].iter().map(|&k| var[k]).collect();
        let (q, d, p, i2) = ab::heterogeneity(&e, &v);
        gs.push(group[order[i]]);
        qs.push(q);
        dfs.push(d);
        ps.push(p);
        i2s.push(i2);
        i = j;
    }
    (gs, qs, dfs, ps, i2s)
}

/// Power of a two-sample test ("normal": statsmodels NormalIndPower, "t": TTestIndPower).
#[pyfunction]
fn experiment_power(test: &str, effect_size: f64, nobs1: f64, alpha: f64, ratio: f64, alternative: &str) -> PyResult<f64> {
    let alt = alternative_py(alternative)?;
    Ok(match test {
        "normal" => power::normal_power(effect_size, nobs1, alpha, ratio, alt),
        "t" => power::t_power(effect_size, nobs1, alpha, ratio, alt),
        other => return Err(to_pyerr(CrmError::invalid(format!("unknown power test {other:?}")))),
    })
}

/// Solves the power equation for "nobs1" or "effect_size" (the other given); None when
/// no solution lies in the search range.
#[pyfunction]
#[allow(clippy::too_many_arguments)]
fn experiment_solve_power(
    py: Python<'_>,
    test: &str,
    unknown: &str,
    effect_size: f64,
    nobs1: f64,
    alpha: f64,
    power_target: f64,
    ratio: f64,
    alternative: &str,
) -> PyResult<Option<f64>> {
    let alt = alternative_py(alternative)?;
    let t_test = match test {
        "normal" => false,
        "t" => true,
        other => return Err(to_pyerr(CrmError::invalid(format!("unknown power test {other:?}")))),
    };
    let pw = move |d: f64, n: f64| {
        if t_test {
            power::t_power(d, n, alpha, ratio, alt)
        } else {
            power::normal_power(d, n, alpha, ratio, alt)
        }
    };
    let unknown = unknown.to_string();
    run_detached(py, move || {
        Ok(match unknown.as_str() {
            "nobs1" => {
                let lo = if t_test { 2.0 + 1e-9 } else { 1e-6 };
                power::solve_increasing(|n| pw(effect_size, n), power_target, lo, 1e13)
            }
            "effect_size" => {
                // Power grows with the effect in the direction of the alternative.
                let sign = if alt == Alternative::Smaller { -1.0 } else { 1.0 };
                power::solve_increasing(|d| pw(sign * d, nobs1), power_target, 0.0, 1e3).map(|d| sign * d)
            }
            other => return Err(CrmError::invalid(format!("cannot solve for {other:?}"))),
        })
    })
}

/// Vectorised distribution functions, for checking them against scipy and for the
/// Python layer: name in norm_cdf, norm_sf, norm_ppf, t_cdf, t_sf, t_ppf, chi2_sf,
/// chi2_cdf, beta_cdf, nct_cdf, gammainc, gammaincc, betainc.
#[pyfunction]
#[pyo3(signature = (name, x, a=f64::NAN, b=f64::NAN))]
fn stats_dist<'py>(py: Python<'py>, name: &str, x: PyReadonlyArray1<'py, f64>, a: f64, b: f64) -> PyResult<Bound<'py, PyArray1<f64>>> {
    let f: fn(f64, f64, f64) -> f64 = match name {
        "norm_cdf" => |x, _, _| dist::norm_cdf(x),
        "norm_sf" => |x, _, _| dist::norm_sf(x),
        "norm_ppf" => |x, _, _| dist::norm_ppf(x),
        "t_cdf" => |x, a, _| dist::t_cdf(x, a),
        "t_sf" => |x, a, _| dist::t_sf(x, a),
        "t_ppf" => |x, a, _| dist::t_ppf(x, a),
        "chi2_sf" => |x, a, _| dist::chi2_sf(x, a),
        "chi2_cdf" => |x, a, _| dist::chi2_cdf(x, a),
        "beta_cdf" => |x, a, b| dist::beta_cdf(x, a, b),
        "nct_cdf" => |x, a, b| power::nct_cdf(x, a, b),
        "gammainc" => |x, a, _| dist::gamma_pq(a, x).0,
        "gammaincc" => |x, a, _| dist::gamma_pq(a, x).1,
        "betainc" => |x, a, b| dist::beta_inc(a, b, x, 1.0 - x).0,
        other => return Err(to_pyerr(CrmError::invalid(format!("unknown distribution function {other:?}")))),
    };
    let out: Vec<f64> = x.as_array().iter().map(|&v| f(v, a, b)).collect();
    Ok(out.into_pyarray(py))
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(experiment_summarize, m)?)?;
    m.add_function(wrap_pyfunction!(experiment_compare, m)?)?;
    m.add_function(wrap_pyfunction!(experiment_mann_whitney, m)?)?;
    m.add_function(wrap_pyfunction!(experiment_fisher, m)?)?;
    m.add_function(wrap_pyfunction!(experiment_adjust, m)?)?;
    m.add_function(wrap_pyfunction!(experiment_heterogeneity, m)?)?;
    m.add_function(wrap_pyfunction!(experiment_power, m)?)?;
    m.add_function(wrap_pyfunction!(experiment_solve_power, m)?)?;
    m.add_function(wrap_pyfunction!(stats_dist, m)?)?;
    register_datagen(m)?;
    Ok(())
}

fn dt_us(name: &str, v: Vec<i64>) -> Result<Column> {
    Ok(Int64Chunked::from_vec(name.into(), v)
        .into_series()
        .cast(&DataType::Datetime(TimeUnit::Microseconds, None))?
        .into_column())
}

fn str_col(name: &str, v: &[&str]) -> Column {
    StringChunked::from_iter_values(name.into(), v.iter().copied()).into_series().into_column()
}

/// Campaigns with holdouts and planted effects on top of a generated world (see
/// `crate::datagen::campaigns`): returns (campaigns, campaign orders, truth) frames.
#[pyfunction]
#[allow(clippy::too_many_arguments)]
fn generate_campaigns(
    py: Python<'_>,
    customer_id: PyReadonlyArray1<'_, i64>,
    spend_rate: PyReadonlyArray1<'_, f64>,
    first_us: PyReadonlyArray1<'_, i64>,
    order_customer: PyReadonlyArray1<'_, i64>,
    order_us: PyReadonlyArray1<'_, i64>,
    seed: u64,
    n_campaigns: usize,
    first_send_day: i32,
    last_send_day: i32,
    window_days: f64,
    audience_share: f64,
    treatment_share: f64,
    spend_shape: f64,
) -> PyResult<(PyDataFrame, PyDataFrame, PyDataFrame)> {
    use crate::datagen::campaigns::{self, CampaignParams};
    let params = CampaignParams {
        seed,
        n_campaigns,
        first_send_day,
        last_send_day,
        window_days,
        audience_share,
        treatment_share,
        spend_shape,
    };
    let (ids, nu, first) = (customer_id.as_array().to_vec(), spend_rate.as_array().to_vec(), first_us.as_array().to_vec());
    let (oc, ot) = (order_customer.as_array().to_vec(), order_us.as_array().to_vec());
    let frames = run_detached(py, move || {
        let c = campaigns::generate(&params, (&ids, &nu, &first), (&oc, &ot))?;
        let n = c.campaign_id.len();
        let groups: Vec<&str> = c.treatment.iter().map(|&t| if t { "treatment" } else { "control" }).collect();
        let table = DataFrame::new(
            n,
            vec![
                Int64Chunked::from_vec("campaign_id".into(), c.campaign_id).into_series().into_column(),
                Int64Chunked::from_vec("customer_id".into(), c.customer_id).into_series().into_column(),
                str_col("group", &groups),
                dt_us("sent_at", c.sent_us)?,
                str_col("channel", &c.channel),
                Float64Chunked::from_vec("cost".into(), c.cost).into_series().into_column(),
                str_col("segment", &c.segment),
            ],
        )?;
        let m = c.order_campaign.len();
        let orders = DataFrame::new(
            m,
            vec![
                Int64Chunked::from_vec("campaign_id".into(), c.order_campaign).into_series().into_column(),
                Int64Chunked::from_vec("customer_id".into(), c.order_customer).into_series().into_column(),
                dt_us("order_date", c.order_us)?,
                Float64Chunked::from_vec("amount".into(), c.order_amount).into_series().into_column(),
            ],
        )?;
        let t = c.truth_campaign.len();
        let truth = DataFrame::new(
            t,
            vec![
                Int64Chunked::from_vec("campaign_id".into(), c.truth_campaign).into_series().into_column(),
                str_col("segment", &c.truth_segment),
                str_col("channel", &c.truth_channel),
                dt_us("sent_at", c.truth_sent_us)?,
                Int64Chunked::from_vec("customers".into(), c.truth_customers).into_series().into_column(),
                out_col("uplift", c.truth_uplift.into_iter()),
                out_col("incremental_response", c.truth_response.into_iter()),
                out_col("incremental_orders_per_customer", c.truth_orders.into_iter()),
                out_col("incremental_revenue_per_customer", c.truth_revenue.into_iter()),
            ],
        )?;
        Ok((table, orders, truth))
    })?;
    Ok((PyDataFrame(frames.0), PyDataFrame(frames.1), PyDataFrame(frames.2)))
}

pub fn register_datagen(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(generate_campaigns, m)?)?;
    Ok(())
}
