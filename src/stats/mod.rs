//! Statistics shared by every domain: special functions and distributions (used by CLV,
//! experiments and alerts) and the experiment kernels (sufficient statistics, two-arm
//! comparisons, classical tests, power). Pure Rust, no pyo3.

pub mod ab;
pub mod dist;
pub mod htest;
pub mod power;
pub mod special;
pub mod suff;
