//! Expression plugins for addresses: `crm_clean_address` and `crm_clean_region`, thin
//! entry points over `crate::clean::address`. The division table comes in the kwargs
//! (the Python wrapper reads it from an installed package); the compiled matcher is kept
//! per table key, so it is built once per process, not once per batch.

use std::sync::{Arc, Mutex};

use polars::prelude::*;
use pyo3_polars::derive::polars_expr;
use rayon::prelude::*;
use serde::Deserialize;

use crate::clean::address::{Address, Divisions};

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

static CACHE: Mutex<Option<(String, Arc<Divisions>)>> = Mutex::new(None);

fn divisions(kw: &AddressKwargs) -> PolarsResult<Arc<Divisions>> {
    let mut guard = CACHE.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    if let Some((key, d)) = guard.as_ref() {
        if *key == kw.table_key {
            return Ok(d.clone());
        }
    }
    let d = Arc::new(
        Divisions::build(&kw.codes, &kw.names, &kw.nations)
            .map_err(|e| polars_err!(ComputeError: "crmkit.clean.address: {}", e))?,
    );
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
        Some(p) => Some(table.province_named(p).ok_or_else(|| {
            polars_err!(ComputeError: "crmkit.clean.{}: default_province '{}' is not a province-level division", what, p)
        })?),
    };
    let table: &Divisions = &table;
    let parse = |v: Option<&str>| v.and_then(|t| if region { table.region(t, default) } else { table.parse(t, default) });
    let values: Vec<Option<&str>> = ca.iter().collect();
    let parsed: Vec<Option<Address>> = if values.len() <= PAR_SLICE {
        values.into_iter().map(parse).collect()
    } else {
        values.par_chunks(PAR_SLICE).flat_map_iter(|c| c.iter().map(|v| parse(*v)).collect::<Vec<_>>()).collect()
    };
    let n = parsed.len();
    let col = |f: &dyn for<'a> Fn(&'a Address<'a>) -> Option<&'a str>, name: &str| -> Series {
        let out: StringChunked = parsed.iter().map(|a| a.as_ref().and_then(f)).collect();
        out.with_name(name.into()).into_series()
    };
    let mut fields = vec![
        col(&|a| a.province, "province"),
        col(&|a| a.city, "city"),
        col(&|a| a.district, "district"),
    ];
    if !region {
        fields.push(col(&|a| a.detail.as_deref(), "detail"));
    }
    fields.push(col(&|a| a.adcode, "adcode"));
    let out = StructChunked::from_series(s.name().clone(), n, fields.iter())?;
    // A null input (or an empty one) is a null struct, not a struct of nulls.
    let validity: BooleanChunked = parsed.iter().map(|a| Some(a.is_some())).collect();
    let validity = validity.rechunk();
    let bits = validity.downcast_as_array().values().clone();
    Ok(out.with_outer_validity(Some(bits)).into_series())
}

#[polars_expr(output_type_func=address_type)]
fn crm_clean_address(inputs: &[Series], kwargs: AddressKwargs) -> PolarsResult<Series> {
    run(inputs, kwargs, "address", false)
}

#[polars_expr(output_type_func=region_type)]
fn crm_clean_region(inputs: &[Series], kwargs: AddressKwargs) -> PolarsResult<Series> {
    run(inputs, kwargs, "region", true)
}
