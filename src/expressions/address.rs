//! Expression plugins for addresses: `crm_clean_address` and `crm_clean_region`, thin
//! entry points over `crate::clean::address`. The division table comes in the kwargs
//! (the Python wrapper reads it from an installed package); the compiled matcher is kept
//! per table key, so it is built once per process, not once per batch.

use std::sync::{Arc, Mutex};

use polars::prelude::*;
use pyo3_polars::derive::polars_expr;
use rayon::prelude::*;
use serde::Deserialize;

use crate::clean::address::{Divisions, Scratch};

const PAR_SLICE: usize = 16_384;

#[derive(Deserialize)]
struct AddressKwargs {
    /// Identifies the table (its source file and size): the cache key.
    table_key: String,
    codes: Vec<String>,
    names: Vec<String>,
    nations: Vec<String>,
    default_province: Option<String>,
}

/// The compiled matcher, and its names and codes as string columns: the output's name
/// fields are gathered from these by division index (no string is copied per row).
struct Table {
    divisions: Divisions,
    names: StringChunked,
    codes: StringChunked,
}

static CACHE: Mutex<Option<(String, Arc<Table>)>> = Mutex::new(None);

fn divisions(kw: &AddressKwargs) -> PolarsResult<Arc<Table>> {
    let mut guard = CACHE.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    if let Some((key, d)) = guard.as_ref() {
        if *key == kw.table_key {
            return Ok(d.clone());
        }
    }
    let divisions = Divisions::build(&kw.codes, &kw.names, &kw.nations)
        .map_err(|e| polars_err!(ComputeError: "crmkit.clean.address: {}", e))?;
    let n = divisions.len() as u32;
    let names: StringChunked = (0..n).map(|i| Some(divisions.name(i))).collect();
    let codes: StringChunked = (0..n).map(|i| Some(divisions.code(i))).collect();
    let d = Arc::new(Table { divisions, names, codes });
    *guard = Some((kw.table_key.clone(), d.clone()));
    Ok(d)
}

const FIELDS: [&str; 5] = ["province", "city", "district", "detail", "adcode"];

fn struct_type(input_fields: &[Field], with_detail: bool) -> PolarsResult<Field> {
    let name = input_fields.first().map(|f| f.name().clone()).unwrap_or_else(|| "address".into());
    let fields = FIELDS
        .iter()
        .filter(|f| with_detail || **f != "detail")
        .map(|f| Field::new((*f).into(), DataType::String))
        .collect();
    Ok(Field::new(name, DataType::Struct(fields)))
}

fn address_type(input_fields: &[Field]) -> PolarsResult<Field> {
    struct_type(input_fields, true)
}

fn region_type(input_fields: &[Field]) -> PolarsResult<Field> {
    struct_type(input_fields, false)
}

fn run(inputs: &[Series], kw: AddressKwargs, what: &str, region: bool) -> PolarsResult<Series> {
    let s = inputs.first().ok_or_else(|| polars_err!(ComputeError: "crmkit.clean.{}: no input column", what))?;
    if !matches!(s.dtype(), DataType::String | DataType::Categorical(..) | DataType::Enum(..) | DataType::Null) {
        return Err(polars_err!(SchemaMismatch:
            "crmkit.clean.{}: column '{}' must be a string column, found dtype {}", what, s.name(), s.dtype()));
    }
    let ca = s.cast(&DataType::String)?;
    let ca = ca.str()?;
    let table = divisions(&kw)?;
    let default = match kw.default_province.as_deref() {
        None => None,
        Some(p) => Some(table.divisions.province_named(p).ok_or_else(|| {
            polars_err!(ComputeError: "crmkit.clean.{}: default_province '{}' is not a province-level division", what, p)
        })?),
    };
    let table: &Table = &table;
    let name = s.name().clone();
    let n = ca.len();
    // Slices of the column parsed in parallel, each straight into its own struct chunk
    // (one scratch per slice: no allocation per row); chunks are appended in order, so
    // the output does not depend on the thread count.
    let slice = |start: usize| -> PolarsResult<StructChunked> {
        let len = PAR_SLICE.min(n - start);
        parse_slice(&ca.slice(start as i64, len), table, default, region, name.clone())
    };
    let starts: Vec<usize> = (0..n.max(1)).step_by(PAR_SLICE).collect();
    let parts: Vec<StructChunked> = if starts.len() == 1 {
        vec![slice(0)?]
    } else {
        starts.into_par_iter().map(slice).collect::<PolarsResult<Vec<_>>>()?
    };
    let mut parts = parts.into_iter();
    let mut out = parts.next().ok_or_else(|| polars_err!(ComputeError: "crmkit.clean.{}: no output", what))?;
    for p in parts {
        out.append_owned(p)?;
    }
    Ok(out.into_series())
}

/// One slice of the column parsed into a struct chunk of string fields.
fn parse_slice(
    ca: &StringChunked,
    table: &Table,
    default: Option<u32>,
    region: bool,
    name: PlSmallStr,
) -> PolarsResult<StructChunked> {
    let n = ca.len();
    let d = &table.divisions;
    let mut scratch = Scratch::default();
    let mut province: Vec<Option<IdxSize>> = Vec::with_capacity(n);
    let mut city: Vec<Option<IdxSize>> = Vec::with_capacity(n);
    let mut district: Vec<Option<IdxSize>> = Vec::with_capacity(n);
    let mut deepest: Vec<Option<IdxSize>> = Vec::with_capacity(n);
    let mut detail = StringChunkedBuilder::new("detail".into(), if region { 0 } else { n });
    let mut valid: Vec<bool> = Vec::with_capacity(n);
    let mut any_null = false;
    for v in ca.iter() {
        let parsed = v.and_then(|t| {
            if region {
                d.region_into(t, default, &mut scratch)
            } else {
                d.parse_into(t, default, &mut scratch)
            }
        });
        let p = parsed.unwrap_or_default();
        province.push(p.province.map(|i| i as IdxSize));
        city.push(p.city.map(|i| i as IdxSize));
        district.push(p.district.map(|i| i as IdxSize));
        deepest.push(p.deepest().map(|i| i as IdxSize));
        if !region {
            detail.append_option(parsed.and_then(|p| p.detail(&scratch)));
        }
        valid.push(parsed.is_some());
        any_null |= parsed.is_none();
    }
    let gather = |idx: Vec<Option<IdxSize>>, from: &StringChunked, field: &str| -> PolarsResult<Series> {
        let idx: IdxCa = idx.into_iter().collect();
        Ok(from.take(&idx)?.with_name(field.into()).into_series())
    };
    let mut fields = vec![
        gather(province, &table.names, "province")?,
        gather(city, &table.names, "city")?,
        gather(district, &table.names, "district")?,
    ];
    if !region {
        fields.push(detail.finish().into_series());
    }
    fields.push(gather(deepest, &table.codes, "adcode")?);
    let out = StructChunked::from_series(name, n, fields.iter())?;
    // A null input (or an empty one) is a null struct, not a struct of nulls.
    if !any_null {
        return Ok(out);
    }
    let valid = BooleanChunked::from_slice("valid".into(), &valid);
    let bits = valid.downcast_as_array().values().clone();
    Ok(out.with_outer_validity(Some(bits)))
}

#[polars_expr(output_type_func=address_type)]
fn crm_clean_address(inputs: &[Series], kwargs: AddressKwargs) -> PolarsResult<Series> {
    run(inputs, kwargs, "address", false)
}

#[polars_expr(output_type_func=region_type)]
fn crm_clean_region(inputs: &[Series], kwargs: AddressKwargs) -> PolarsResult<Series> {
    run(inputs, kwargs, "region", true)
}
