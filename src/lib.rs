//! crmkit: customer analytics kernels in Rust, exposed to Python as `crmkit._core`.

use pyo3::prelude::*;
use pyo3_polars::PolarsAllocator;

pub mod basket;
pub mod behaviour;
pub mod clean;
pub mod clv;
pub mod datagen;
pub mod dedupe;
pub mod error;
pub mod interrupt;
pub mod ml;
pub mod forecast;
pub mod kpi;
pub mod rng;
pub mod segment;
pub mod stats;
pub mod churn;

mod expressions;
mod python;
#[cfg(test)]
mod proptests;

#[global_allocator]
static ALLOC: PolarsAllocator = PolarsAllocator::new();

#[pymodule]
fn _core(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    python::register(m)
}
