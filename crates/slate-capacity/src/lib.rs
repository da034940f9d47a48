//! Capacity planning for slate: how many call handlers, when, to keep an answer promise.
//!
//! - [`queue`]: Erlang B, Erlang C (M/M/n) and Erlang A (M/M/n+M) figures and the agents a
//!   service-level target needs; numerically stable for hundreds of agents. Pure.
//! - [`sim`]: a seeded discrete-event simulation of the call queue that checks the formulas and
//!   measures what they cannot (non-exponential handling, replayed arrivals). Pure.
//! - [`staffing`]: per-interval staffing tables, roster evaluation and what-if scenarios. Pure.
//! - [`plan`]: the whole plan as one request ([`plan::CapacityRequest`]): validate, scan,
//!   staff, what-if, roster, simulate, and every figure the CLI or a page shows.
//! - [`demand`]: the demand profile (offered, answered, abandoned, handling time, observed service
//!   level, patience) per interval from CAD history, computed with DataFusion SQL.
//!
//! The pure modules need no DataFusion, so the queueing maths is tested on its own.

pub mod demand;
pub mod error;
pub mod output;
pub mod plan;
pub mod queue;
pub mod sim;
pub mod staffing;

pub use error::{CapacityError, Result};
