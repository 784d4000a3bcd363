//! behaviour kernels: pure Rust, no pyo3.
