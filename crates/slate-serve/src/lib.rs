//! slate's Arrow Flight SQL server: records, scorecards and slate's SQL functions for BI tools.
//!
//! Power BI, Tableau, Superset, pandas, Polars and DuckDB reach a Flight SQL server through the
//! ADBC and JDBC drivers; this crate is that server, read-only, over slate's DataFusion session:
//!
//! - `records`: the input dataset ([`slate_engine::Input`]), with `sla_hist`, `sla_bucket` and
//!   the `hist_*` readers registered, so a client asks new questions with slate's exact
//!   functions;
//! - each served scorecard and its ledger (Parquet or Arrow IPC, held in memory: they are small);
//! - `scorecard(policy, window, by, from, to)`: a table function that computes a policy's
//!   scorecard from `records` exactly as `slate run` does (one plan, [`slate_engine::Plan`]),
//!   so nobody writes histogram SQL for the common question; results are memoised (the input
//!   does not change while served);
//! - live tables ([`LiveTable`]): a set of batches swapped whole, so each query sees one
//!   emission of `slate stream`, never half of one.
//!
//! **Why arrow-flight's `FlightSqlService` directly, not `datafusion-flight-sql-server`.** That
//! crate depends on `datafusion` with its default features and on `datafusion-substrait`:
//! feature unification would rebuild the whole of DataFusion with features slate does not use
//! (compression codecs, nested functions, ...) for every build of the workspace, and add
//! Substrait's generated protobuf code. It also leaves out what slate needs to control here:
//! authentication, refusing writes, a per-query memory pool, a timeout that cancels, and
//! GetSqlInfo (which it does not implement). The protocol part is a few hundred lines over
//! arrow-flight's trait.
//!
//! **Security.** A bearer token, compared in constant time ([`auth`]); [`check_bind`] refuses a
//! non-loopback address without one. Writes (DDL, DML, COPY, SET) are refused by DataFusion's
//! `SQLOptions` before anything runs. Each query runs under its own memory pool and a
//! deadline, `scorecard(...)` included; at most `max_concurrent` run at once, so the server's
//! memory is bounded by `max_concurrent x memory_limit` plus the served tables and the
//! `scorecard(...)` cache ([`ScorecardCacheLimits`]). String functions whose result can dwarf
//! their input (`repeat`, `lpad`, `rpad`, `replace`, `regexp_replace`) are slate's capped ones
//! ([`slate_engine::udf::capped_udfs`]), since memory a function allocates is outside the pool.
//! What spills to disk goes where [`SpillOptions`] says, up to its limit.

pub mod auth;
mod catalog;
mod live;
mod service;

use std::net::SocketAddr;
use std::time::Duration;

pub use catalog::{Catalog, CatalogError, ScorecardCacheLimits, SpillOptions};
pub use live::{LiveServer, LiveTable};
pub use service::{ServeError, serve};

/// How the server runs queries.
#[derive(Debug, Clone)]
pub struct ServeOptions {
    /// The bearer token clients must send; `None`: no authentication (loopback only).
    pub token: Option<String>,
    /// Memory one query may hold in DataFusion's pool (aggregations, sorts, joins), bytes.
    pub memory_limit: usize,
    /// A query still running after this is cancelled.
    pub query_timeout: Duration,
    /// Queries executing at once; more wait for a slot (within their timeout).
    pub max_concurrent: usize,
}

impl Default for ServeOptions {
    fn default() -> Self {
        ServeOptions {
            token: None,
            memory_limit: 1 << 30,
            query_timeout: Duration::from_secs(300),
            max_concurrent: 16,
        }
    }
}

/// Reads a bearer token from the first line of `path` (a regular file of at most 16 MiB); a
/// token must be at least 16 characters.
pub fn read_token_file(path: &std::path::Path) -> Result<String, ServeError> {
    let text =
        slate_io::textfile::read_text_file(path).map_err(|source| ServeError::TokenRead {
            path: path.display().to_string(),
            source,
        })?;
    let token = text.lines().next().unwrap_or("").trim().to_string();
    if token.len() < 16 {
        return Err(ServeError::Token {
            path: path.display().to_string(),
            reason: format!(
                "the token must be at least 16 characters (e.g. `openssl rand -hex 32 > {}`)",
                path.display()
            ),
        });
    }
    Ok(token)
}

/// Refuses to listen beyond this machine without a token, unless `allow_open` says so
/// explicitly (a trusted network behind other access control).
pub fn check_bind(addr: &SocketAddr, has_token: bool, allow_open: bool) -> Result<(), ServeError> {
    if has_token || allow_open || addr.ip().is_loopback() {
        Ok(())
    } else {
        Err(ServeError::OpenBind(*addr))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn without_a_token_only_loopback_binds() {
        let lo = SocketAddr::from(([127, 0, 0, 1], 50051));
        let lo6 = SocketAddr::from((std::net::Ipv6Addr::LOCALHOST, 50051));
        let any = SocketAddr::from(([0, 0, 0, 0], 50051));
        assert!(check_bind(&lo, false, false).is_ok());
        assert!(check_bind(&lo6, false, false).is_ok());
        let e = check_bind(&any, false, false).err().map(|e| e.to_string());
        assert!(e.is_some_and(|e| e.contains("Pass `token`") && e.contains("`allow_open`")));
        assert!(check_bind(&any, true, false).is_ok());
        assert!(check_bind(&any, false, true).is_ok());
    }
}
