//! Test-only helpers for slate: a naive row-by-row oracle that shares no code with the engine,
//! random questions for differential tests, and comparison of slate's Arrow output with it.
//!
//! - [`records`]: canonical batches as plain Rust records.
//! - [`pred`]: predicates as SQL and as three-valued Rust evaluators.
//! - [`oracle`]: every scorecard figure computed record by record (chrono-tz, sorted vectors).
//! - [`case`]: random policies, windows, groups, zones and periods from a seed.
//! - [`compare`]: slate's scorecard and ledger batches against the oracle.
//! - [`paths`]: the fixtures and the real-data samples beside the checkout.

pub mod case;
pub mod compare;
pub mod oracle;
pub mod paths;
pub mod pred;
pub mod records;

pub use case::random_case;
pub use oracle::{Case, Expected, expected};
pub use records::{Rec, records_of};
