//! Expression plugins for the column cleaners: thin entry points over `crate::clean`.
//! Large columns are cut into fixed slices and cleaned on rayon's pool; the result is
//! the same whatever the thread count.

use polars::prelude::*;
use pyo3_polars::derive::polars_expr;
use rayon::prelude::*;
use serde::Deserialize;

use crate::clean::{amount, date, email, name, phone, text};

const PAR_SLICE: usize = 16_384;

/// The input column as strings: String as is, Categorical/Enum and all-null columns cast,
/// integer columns cast when `integers_ok` (an integer phone number or date), anything
/// else rejected with a message naming the column and its dtype.
fn strings(inputs: &[Series], what: &str, integers_ok: bool) -> PolarsResult<StringChunked> {
    let s = inputs.first().ok_or_else(|| polars_err!(ComputeError: "crmkit.clean.{}: no input column", what))?;
    let dt = s.dtype();
    let ok = matches!(dt, DataType::String | DataType::Categorical(..) | DataType::Enum(..) | DataType::Null)
        || (integers_ok && dt.is_integer());
    if !ok {
        let hint = if integers_ok { "a string or integer column" } else { "a string column" };
        return Err(polars_err!(SchemaMismatch:
            "crmkit.clean.{}: column '{}' must be {}, found dtype {}; cast it first, e.g. pl.col('{}').cast(pl.String)",
            what, s.name(), hint, dt, s.name()));
    }
    Ok(s.cast(&DataType::String)?.str()?.clone())
}

/// Applies `f` to every non-null value, in parallel slices for long columns.
fn map_str<T, F>(ca: &StringChunked, f: F) -> Vec<Option<T>>
where
    T: Send,
    F: Fn(&str) -> Option<T> + Sync,
{
    let values: Vec<Option<&str>> = ca.iter().collect();
    if values.len() <= PAR_SLICE {
        return values.into_iter().map(|v| v.and_then(&f)).collect();
    }
    values
        .par_chunks(PAR_SLICE)
        .flat_map_iter(|chunk| chunk.iter().map(|v| v.and_then(&f)).collect::<Vec<_>>())
        .collect()
}

fn string_out(name: &PlSmallStr, values: Vec<Option<String>>) -> Series {
    let mut ca: StringChunked = values.into_iter().collect();
    ca.rename(name.clone());
    ca.into_series()
}

#[derive(Deserialize)]
struct TextKwargs {
    casefold: bool,
}

#[polars_expr(output_type=String)]
fn crm_clean_text(inputs: &[Series], kwargs: TextKwargs) -> PolarsResult<Series> {
    let ca = &strings(inputs, "text", false)?;
    let out = map_str(ca, |s| text::clean_text(s, kwargs.casefold));
    Ok(string_out(ca.name(), out))
}

#[polars_expr(output_type=String)]
fn crm_clean_name(inputs: &[Series]) -> PolarsResult<Series> {
    let ca = &strings(inputs, "name", false)?;
    let out = map_str(ca, name::clean_name);
    Ok(string_out(ca.name(), out))
}

#[polars_expr(output_type=String)]
fn crm_clean_email(inputs: &[Series]) -> PolarsResult<Series> {
    let ca = &strings(inputs, "email", false)?;
    let out = map_str(ca, email::clean_email);
    Ok(string_out(ca.name(), out))
}

#[derive(Deserialize)]
struct PhoneKwargs {
    region: String,
}

#[polars_expr(output_type=String)]
fn crm_clean_phone(inputs: &[Series], kwargs: PhoneKwargs) -> PolarsResult<Series> {
    let ca = &strings(inputs, "phone", true)?;
    let region = phone::region(&kwargs.region).map_err(|e| polars_err!(ComputeError: "crmkit.clean.phone: {}", e))?;
    let values: Vec<Option<&str>> = ca.iter().collect();
    let out: Vec<Option<String>> = if values.len() <= PAR_SLICE {
        let mut buf = String::new();
        values.into_iter().map(|v| v.and_then(|s| phone::clean_phone(s, region, &mut buf))).collect()
    } else {
        values
            .par_chunks(PAR_SLICE)
            .flat_map_iter(|chunk| {
                let mut buf = String::new();
                chunk.iter().map(|v| v.and_then(|s| phone::clean_phone(s, region, &mut buf))).collect::<Vec<_>>()
            })
            .collect()
    };
    Ok(string_out(ca.name(), out))
}

#[derive(Deserialize)]
struct DateKwargs {
    formats: Option<Vec<String>>,
}

#[polars_expr(output_type=Date)]
fn crm_clean_date(inputs: &[Series], kwargs: DateKwargs) -> PolarsResult<Series> {
    if let Some(s) = inputs.first() {
        match s.dtype() {
            DataType::Date => return Ok(s.clone()),
            DataType::Datetime(..) => return s.cast(&DataType::Date),
            _ => {}
        }
    }
    let ca = strings(inputs, "date", true)?;
    let ca = &ca;
    let formats = kwargs.formats.unwrap_or_default();
    let out = map_str(ca, |s| {
        if formats.is_empty() {
            date::parse_date(s)
        } else {
            let t = s.trim();
            formats.iter().find_map(|f| date::parse_with_format(t, f))
        }
    });
    let mut days: Int32Chunked = out.into_iter().collect();
    days.rename(ca.name().clone());
    Ok(days.into_date().into_series())
}

#[polars_expr(output_type=Float64)]
fn crm_clean_amount(inputs: &[Series]) -> PolarsResult<Series> {
    if let Some(s) = inputs.first() {
        if s.dtype().is_primitive_numeric() {
            let f = s.cast(&DataType::Float64)?;
            let ca = f.f64()?;
            let out: Float64Chunked = ca.iter().map(|v| v.filter(|x| x.is_finite())).collect();
            return Ok(out.with_name(s.name().clone()).into_series());
        }
    }
    let ca = strings(inputs, "amount", false)?;
    let ca = &ca;
    let out = map_str(ca, amount::parse_amount);
    let mut v: Float64Chunked = out.into_iter().collect();
    v.rename(ca.name().clone());
    Ok(v.into_series())
}

/// Blocking key of a name column: pinyin for CJK names, sorted Soundex codes otherwise.
#[polars_expr(output_type=String)]
fn crm_name_key(inputs: &[Series]) -> PolarsResult<Series> {
    let ca = &strings(inputs, "name_key", false)?;
    let out = map_str(ca, crate::dedupe::keys::name_key);
    Ok(string_out(ca.name(), out))
}
