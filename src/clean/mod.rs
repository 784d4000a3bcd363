//! clean kernels: pure Rust, no pyo3.
