//! End-to-end tests of the `slate` binary: one test binary, one module per area.

mod cli;
