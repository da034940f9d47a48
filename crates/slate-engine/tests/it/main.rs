//! Integration tests of the batch engine: one binary (each links DataFusion), one module per area.

#![allow(clippy::unwrap_used)] // tests may unwrap: a panic is the failure report

mod differential;
mod errors;
mod realdata;
