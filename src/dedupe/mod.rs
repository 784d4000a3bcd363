//! dedupe kernels: pure Rust, no pyo3.
//!
//! `compare`: Unicode-correct string similarities (by character, never by byte).
//! `keys`: phonetic (Soundex) and pinyin keys for blocking and comparing names.
//! `levels`: per-kind comparison levels (Fellegi–Sunter agreement vectors).
//! `model`: u from random pairs, m and the prior by EM, term-frequency aware scoring.
//! `cluster`: connected components of matched pairs with a safeguard against chains.

pub mod cluster;
pub mod compare;
pub mod keys;
pub mod levels;
pub mod model;
