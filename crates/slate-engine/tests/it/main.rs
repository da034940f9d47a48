//! Integration tests of the batch engine: one binary (each links DataFusion), one module per area.

mod differential;
mod errors;
