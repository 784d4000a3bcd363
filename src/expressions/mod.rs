//! Thin #[polars_expr] entry points, one file per domain. polars finds them by
//! symbol name, so nothing needs registering here beyond the module list.

pub mod clean;
pub mod clv;
pub mod address;
