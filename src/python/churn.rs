//! Bindings for the churn kernels: the per-customer order features as a polars frame.

use numpy::PyReadonlyArray1;
use polars::prelude::{Column, DataFrame};
use pyo3::prelude::*;
use pyo3_polars::PyDataFrame;

use crate::churn::features::{customer_features, Features, OrderRows};
use crate::error::CrmError;
use crate::python::{run_detached, to_pyerr};

fn contiguous<'a, T: numpy::Element>(a: &'a PyReadonlyArray1<'_, T>, what: &str) -> PyResult<&'a [T]> {
    a.as_slice()
        .map_err(|_| to_pyerr(CrmError::invalid(format!("churn.features: {what} must be a contiguous array"))))
}

fn frame(f: Features, windows: &[i64]) -> crate::error::Result<DataFrame> {
    let height = f.len();
    let mut cols = vec![
        Column::new("__first_row".into(), f.first_row),
        Column::new("frequency".into(), f.frequency),
        Column::new("recency".into(), f.recency),
        Column::new("tenure".into(), f.tenure),
        Column::new("monetary_sum".into(), f.monetary_sum),
        Column::new("monetary_mean".into(), f.monetary_mean),
        Column::new("monetary_max".into(), f.monetary_max),
        Column::new("purchase_days".into(), f.purchase_days),
        Column::new("interval_mean".into(), f.interval_mean),
        Column::new("interval_std".into(), f.interval_std),
        Column::new("interval_last".into(), f.interval_last),
        Column::new("__first_day".into(), f.first_day),
        Column::new("__last_day".into(), f.last_day),
        Column::new("__a_first".into(), f.first_day_spend),
        Column::new("weekend_share".into(), f.weekend_share),
        Column::new("weekday_concentration".into(), f.weekday_concentration),
    ];
    for ((w, o), s) in windows.iter().zip(f.window_orders).zip(f.window_spend) {
        cols.push(Column::new(format!("orders_{w}d").into(), o));
        cols.push(Column::new(format!("spend_{w}d").into(), s));
    }
    if !f.evening_share.is_empty() || !f.hour_mean.is_empty() {
        cols.push(Column::new("evening_share".into(), f.evening_share));
        cols.push(Column::new("hour_mean".into(), f.hour_mean));
    }
    if !f.discount_share.is_empty() {
        cols.push(Column::new("discount_share".into(), f.discount_share));
        cols.push(Column::new("discount_mean".into(), f.discount_mean));
    }
    if !f.n_channels.is_empty() {
        cols.push(Column::new("n_channels".into(), f.n_channels));
        for (j, s) in f.channel_share.into_iter().enumerate() {
            cols.push(Column::new(format!("__ch{j}").into(), s));
        }
    }
    Ok(DataFrame::new(height, cols)?)
}

/// Per-customer order features of the pre-cutoff rows (see `crate::churn::features`):
/// one row per customer code present, ascending, with `__first_row` the customer's
/// first input row. Discount and channel inputs are optional pairs.
#[pyfunction]
#[pyo3(signature = (key, key_offset, n_codes, us, amount, discount, discount_valid, channel, channel_map,
    n_channels, cutoff_us, windows, with_time))]
#[allow(clippy::too_many_arguments)]
fn churn_order_features<'py>(
    py: Python<'py>,
    key: PyReadonlyArray1<'py, i64>,
    key_offset: i64,
    n_codes: usize,
    us: PyReadonlyArray1<'py, i64>,
    amount: PyReadonlyArray1<'py, f64>,
    discount: Option<PyReadonlyArray1<'py, f64>>,
    discount_valid: Option<PyReadonlyArray1<'py, bool>>,
    channel: Option<PyReadonlyArray1<'py, i32>>,
    channel_map: Option<PyReadonlyArray1<'py, i32>>,
    n_channels: usize,
    cutoff_us: i64,
    windows: Vec<i64>,
    with_time: bool,
) -> PyResult<PyDataFrame> {
    let key_s = contiguous(&key, "customer keys")?;
    let us_s = contiguous(&us, "order times")?;
    let amount_s = contiguous(&amount, "amounts")?;
    let disc = match (&discount, &discount_valid) {
        (Some(d), Some(v)) => Some((contiguous(d, "discounts")?, contiguous(v, "discount flags")?)),
        _ => None,
    };
    let ch = match (&channel, &channel_map) {
        (Some(c), Some(m)) => Some((contiguous(c, "channel codes")?, contiguous(m, "channel map")?)),
        _ => None,
    };
    let rows = OrderRows {
        key: key_s,
        key_offset,
        n_codes,
        us: us_s,
        amount: amount_s,
        discount: disc,
        channel: ch,
        n_channels,
        cutoff_us,
        windows: &windows,
        with_time,
    };
    let df = run_detached(py, || frame(customer_features(&rows)?, &windows))?;
    Ok(PyDataFrame(df))
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(churn_order_features, m)?)?;
    Ok(())
}
