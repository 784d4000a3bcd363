//! segment kernels: pure Rust, no pyo3.
//!
//! RFM scoring, profiles and tags are polars queries composed in Python; the
//! kernels here are the parts polars cannot do: k-means and silhouette, and the
//! per-customer RFM pass over dense integer ids (no hashing, output in id order).

pub mod kmeans;
pub mod rfm;
pub mod silhouette;
