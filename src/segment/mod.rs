//! segment kernels: pure Rust, no pyo3.
//!
//! RFM scoring, profiles and tags are polars queries composed in Python; the
//! kernels here are the parts polars cannot do: k-means and silhouette.

pub mod kmeans;
pub mod rng;
pub mod silhouette;
