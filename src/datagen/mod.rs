//! datagen kernels: pure Rust, no pyo3.
