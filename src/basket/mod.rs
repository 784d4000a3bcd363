//! basket kernels: pure Rust, no pyo3.
//!
//! - `fpgrowth`: frequent itemsets from long (basket, item) pairs.
//! - `rules`: association rules with mlxtend's metrics.

pub mod fpgrowth;
pub mod rules;
