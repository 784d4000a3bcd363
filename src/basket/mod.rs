//! basket kernels: pure Rust, no pyo3.
