//! One error type for every kernel. It carries no pyo3: kernels stay pure Rust and
//! `cargo test` exercises them without Python. `python/mod.rs` maps it onto
//! crmkit's Python exceptions.

use std::fmt;

#[derive(Debug, Clone, PartialEq)]
pub enum CrmError {
    /// A column is missing or has the wrong type.
    Schema { column: String, expected: String, found: String },
    /// A value or an argument lies outside what the algorithm accepts.
    InvalidInput(String),
    /// The work would exceed a safety limit (candidate pairs, itemsets, memory).
    TooLarge(String),
    /// An iterative fit stopped without converging.
    NotConverged(String),
    /// polars reported an error while building or reading a frame.
    Polars(String),
    /// The user interrupted the work (Ctrl-C, SIGINT): see `crate::interrupt`.
    Interrupted,
}

pub type Result<T> = std::result::Result<T, CrmError>;

impl CrmError {
    pub fn schema(column: &str, expected: impl Into<String>, found: impl Into<String>) -> Self {
        CrmError::Schema { column: column.to_string(), expected: expected.into(), found: found.into() }
    }

    pub fn invalid(message: impl Into<String>) -> Self {
        CrmError::InvalidInput(message.into())
    }
}

impl fmt::Display for CrmError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CrmError::Schema { column, expected, found } => {
                write!(f, "column '{column}': expected {expected}, found {found}")
            }
            CrmError::InvalidInput(m) | CrmError::TooLarge(m) | CrmError::NotConverged(m) | CrmError::Polars(m) => {
                f.write_str(m)
            }
            CrmError::Interrupted => f.write_str("interrupted"),
        }
    }
}

impl std::error::Error for CrmError {}

impl From<polars::prelude::PolarsError> for CrmError {
    fn from(e: polars::prelude::PolarsError) -> Self {
        CrmError::Polars(e.to_string())
    }
}
