//! clean kernels: pure Rust, no pyo3. One file per cleaner; each takes `&str` and
//! returns the cleaned value or `None` (placeholder or invalid).

pub mod amount;
pub mod date;
pub mod email;
pub mod name;
pub mod phone;
pub mod text;
pub mod address;
