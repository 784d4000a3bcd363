//! KPI kernels: the per-customer cell sums of `crmkit.kpi.compute` ([`cells`]) and the
//! monitoring's robust trailing baselines and anomaly flags for many series.
//!
//! Pure Rust (no pyo3): `crmkit.kpi.alerts` / `bands` lay the series out as flat
//! arrays with offsets and call [`baseline::run`] once; series run in parallel.

pub mod baseline;
pub mod cells;
