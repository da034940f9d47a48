//! Arguments shared by several commands.

use std::sync::Arc;

use anyhow::Result;
use chrono::NaiveDate;
use clap::Args;
use slate_core::TzRules;

/// The zone option.
#[derive(Debug, Clone, Args)]
pub(crate) struct TzArgs {
    /// Zone for calendar windows and for timestamps without a zone (IANA name).
    #[arg(long, default_value = slate_core::schema::DEFAULT_TZ, value_name = "ZONE")]
    pub(crate) tz: String,
}

impl TzArgs {
    pub(crate) fn rules(&self) -> Result<Arc<TzRules>> {
        Ok(Arc::new(TzRules::from_name(&self.tz)?))
    }
}

/// Parses `YYYY-MM-DD`.
pub(crate) fn parse_date(s: &str) -> Result<NaiveDate, String> {
    slate_core::calendar::parse_date(s)
}

/// Worker threads: the flag, else the machine's cores.
pub(crate) fn threads(flag: Option<usize>) -> usize {
    flag.unwrap_or_else(|| std::thread::available_parallelism().map_or(2, |n| n.get()))
}
