//! behaviour kernels: pure Rust, no pyo3.
//!
//! - `funnel`: per-user windowFunnel levels and times over events grouped by user.

pub mod funnel;
