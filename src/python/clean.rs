//! Bindings for the cleaning domain. The column cleaners themselves are expression
//! plugins (src/expressions/clean.rs); these helpers serve the Python wrappers.

use pyo3::prelude::*;

use crate::clean::phone;
use crate::dedupe::keys;
use crate::python::to_pyerr;

/// Raises CrmError when `region` is not a region libphonenumber's metadata knows.
#[pyfunction]
fn check_phone_region(region: &str) -> PyResult<()> {
    phone::region(region).map(|_| ()).map_err(to_pyerr)
}

/// Blocking key of a name: pinyin for CJK names, sorted Soundex codes otherwise.
#[pyfunction]
fn name_key(name: &str) -> Option<String> {
    keys::name_key(name)
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(check_phone_region, m)?)?;
    m.add_function(wrap_pyfunction!(name_key, m)?)?;
    Ok(())
}
