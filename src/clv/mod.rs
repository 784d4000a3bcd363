//! clv kernels: pure Rust, no pyo3.
