//! churn kernels: pure Rust, no pyo3.
//!
//! `churn.features` composes polars queries in Python; the per-customer order features
//! (about forty aggregations and the gaps between purchase days) are one pass here.

pub mod features;
