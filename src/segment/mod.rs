//! segment kernels: pure Rust, no pyo3.
