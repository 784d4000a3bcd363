//! dedupe kernels: pure Rust, no pyo3.
