//! End-to-end tests of the `slate` binary: one test binary, one module per area.

#![allow(clippy::unwrap_used)] // tests may unwrap: a panic is the failure report

mod capacity;
mod cli;
#[cfg(feature = "cluster")]
mod cluster;
mod datasets;
mod docs;
mod inputs;
mod promises;
mod provenance;
mod realdata;
mod report;
mod s3;
#[cfg(feature = "serve")]
mod serve;
mod stream;
mod workdays;
