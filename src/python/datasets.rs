use pyo3::prelude::*;
use pyo3::types::PyDict;
use pyo3_polars::PyDataFrame;

use crate::datagen::{self, WorldParams};
use crate::python::run_detached;

/// Generates the synthetic CRM world; `crmkit.datasets.generate` documents the arguments.
#[pyfunction]
#[pyo3(signature = (
    n_customers, seed, start_day, end_day, r, alpha, a, b, p, q, gamma,
    records_per_person, event_days, funnel, n_products, bundle_rate, n_bundles
))]
#[allow(clippy::too_many_arguments)]
fn generate_world<'py>(
    py: Python<'py>,
    n_customers: usize,
    seed: u64,
    start_day: i32,
    end_day: i32,
    r: f64,
    alpha: f64,
    a: f64,
    b: f64,
    p: f64,
    q: f64,
    gamma: f64,
    records_per_person: [f64; 4],
    event_days: i32,
    funnel: [f64; 3],
    n_products: usize,
    bundle_rate: f64,
    n_bundles: usize,
) -> PyResult<Bound<'py, PyDict>> {
    let params = WorldParams {
        n_customers,
        seed,
        start_day,
        end_day,
        r,
        alpha,
        a,
        b,
        p,
        q,
        gamma,
        records_per_person,
        event_days,
        funnel,
        n_products,
        bundle_rate,
        n_bundles,
    };
    let world = run_detached(py, || datagen::generate(&params))?;
    let out = PyDict::new(py);
    out.set_item("customers", PyDataFrame(world.customers))?;
    out.set_item("orders", PyDataFrame(world.orders))?;
    out.set_item("items", PyDataFrame(world.items))?;
    out.set_item("events", PyDataFrame(world.events))?;
    out.set_item("truth_records", PyDataFrame(world.truth_records))?;
    out.set_item("truth_customers", PyDataFrame(world.truth_customers))?;
    out.set_item("bundles", world.bundles)?;
    Ok(out)
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(generate_world, m)?)?;
    Ok(())
}
