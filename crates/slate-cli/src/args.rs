//! Arguments shared by several commands.

use std::sync::Arc;

use anyhow::Result;
use chrono::NaiveDate;
use clap::Args;
use slate_core::TzRules;

/// The zone option.
#[derive(Debug, Clone, Default, Args)]
pub(crate) struct TzArgs {
    /// Zone for calendar windows and for timestamps without a zone (IANA name). Default: a
    /// mapped source's `tz` (which this overrides for reading it too), else Europe/London.
    #[arg(long, value_name = "ZONE")]
    pub(crate) tz: Option<String>,
}

impl TzArgs {
    /// A zone given by name.
    pub(crate) fn named(tz: &str) -> Self {
        TzArgs {
            tz: Some(tz.to_string()),
        }
    }

    /// The zone's name: the flag, else the mapped source's zone, else the default.
    pub(crate) fn name<'a>(&'a self, source_tz: Option<&'a str>) -> &'a str {
        self.tz
            .as_deref()
            .or(source_tz)
            .unwrap_or(slate_core::schema::DEFAULT_TZ)
    }

    /// The zone's rules (see [`TzArgs::name`]).
    pub(crate) fn rules_for(&self, source_tz: Option<&str>) -> Result<Arc<TzRules>> {
        Ok(Arc::new(TzRules::from_name(self.name(source_tz))?))
    }

    /// The zone's rules, for commands that read no mapped source.
    pub(crate) fn rules(&self) -> Result<Arc<TzRules>> {
        self.rules_for(None)
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

/// An error's message, with the flags that set the request parameters it names (the libraries
/// name their own parameters: `from`, `force`; the flags belong to the command line).
pub(crate) fn flagged(e: &(dyn std::error::Error + 'static)) -> String {
    let message = if let Some(e) = e.downcast_ref::<slate_engine::Error>() {
        e.param_message()
    } else if let Some(e) = e.downcast_ref::<slate_io::Error>() {
        e.param_message()
    } else if let Some(e) = e.downcast_ref::<slate_capacity::CapacityError>() {
        e.param_message()
    } else if let Some(e) = e.downcast_ref::<slate_stream::Error>() {
        e.param_message()
    } else if let Some(e) = e.downcast_ref::<slate_datagen::Error>() {
        e.param_message()
    } else {
        serve_message(e).or_else(|| cluster_message(e))
    };
    match message {
        Some(m) => m.render(&|param| {
            match param {
                "token" => "--token-file FILE",
                "allow_open" => "--allow-no-token",
                "beta" => "--staffing-beta",
                _ => return format!("--{}", param.replace('_', "-")),
            }
            .to_string()
        }),
        None => e.to_string(),
    }
}

#[cfg(feature = "cluster")]
fn cluster_message(e: &(dyn std::error::Error + 'static)) -> Option<slate_core::ParamMessage> {
    e.downcast_ref::<slate_cluster::Error>()?.param_message()
}

#[cfg(not(feature = "cluster"))]
fn cluster_message(_: &(dyn std::error::Error + 'static)) -> Option<slate_core::ParamMessage> {
    None
}

#[cfg(feature = "serve")]
fn serve_message(e: &(dyn std::error::Error + 'static)) -> Option<slate_core::ParamMessage> {
    e.downcast_ref::<slate_serve::ServeError>()?.param_message()
}

#[cfg(not(feature = "serve"))]
fn serve_message(_: &(dyn std::error::Error + 'static)) -> Option<slate_core::ParamMessage> {
    None
}

/// Percentile definitions on the command line.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub(crate) enum Method {
    /// Linear interpolation (DuckDB quantile_cont, numpy default).
    Linear,
    /// Nearest rank (DuckDB quantile_disc).
    NearestRank,
}

impl From<Method> for slate_core::PercentileMethod {
    fn from(m: Method) -> Self {
        match m {
            Method::Linear => slate_core::PercentileMethod::Linear,
            Method::NearestRank => slate_core::PercentileMethod::NearestRank,
        }
    }
}

/// Over-dispersion options on the command line.
#[derive(Debug, Clone, Copy, clap::ValueEnum, Default)]
pub(crate) enum OdArg {
    /// Plain binomial limits.
    #[default]
    None,
    /// Multiplicative phi from Winsorised z-scores.
    Phi,
    /// Additive between-group variance tau-squared.
    Tau2,
}

impl From<OdArg> for slate_core::disparity::Overdispersion {
    fn from(a: OdArg) -> Self {
        match a {
            OdArg::None => slate_core::disparity::Overdispersion::None,
            OdArg::Phi => slate_core::disparity::Overdispersion::Multiplicative,
            OdArg::Tau2 => slate_core::disparity::Overdispersion::Additive,
        }
    }
}

/// The command line, as `slate ARGS...`, for provenance.
pub(crate) fn command_line() -> String {
    std::env::args()
        .enumerate()
        .map(|(i, a)| if i == 0 { "slate".to_string() } else { a })
        .collect::<Vec<_>>()
        .join(" ")
}

/// Provenance with the version, the time and the command line filled in.
pub(crate) fn page_provenance() -> slate_report::Provenance {
    slate_report::Provenance {
        version: env!("CARGO_PKG_VERSION").to_string(),
        generated_at: chrono::Utc::now()
            .format("%Y-%m-%d %H:%M:%S UTC")
            .to_string(),
        command: Some(command_line()),
        ..slate_report::Provenance::default()
    }
}

/// What a scorecard is made of, for the commands that compute one (`run`, `stream`): the
/// window family, the groups, the percentile definition and whether rollups are computed.
#[derive(Debug, Clone, clap::Args)]
pub(crate) struct ScorecardArgs {
    /// Window family.
    #[arg(long, short, default_value = "month", value_parser = |s: &str| s.parse::<slate_core::WindowKind>())]
    pub(crate) window: slate_core::WindowKind,
    /// Group-by columns, comma-separated.
    #[arg(long, value_delimiter = ',', default_value = "borough,grade")]
    pub(crate) by: Vec<String>,
    /// Percentile definition.
    #[arg(long, value_enum, default_value = "linear")]
    pub(crate) percentile_method: Method,
    /// Only the most detailed level: no per-borough, per-grade or overall rollups.
    #[arg(long)]
    pub(crate) no_rollups: bool,
}

impl ScorecardArgs {
    /// The scorecard options in zone `tz` for the period `from`..`to`, on `threads`.
    pub(crate) fn options(
        &self,
        tz: std::sync::Arc<slate_core::TzRules>,
        from: Option<NaiveDate>,
        to: Option<NaiveDate>,
        threads: Option<usize>,
    ) -> slate_engine::ScorecardOptions {
        slate_engine::ScorecardOptions {
            window: self.window,
            group_by: self
                .by
                .iter()
                .map(|s| s.trim().to_string())
                .filter(|s| !s.is_empty())
                .collect(),
            tz,
            from,
            to,
            method: self.percentile_method.into(),
            rollups: !self.no_rollups,
            threads,
        }
    }
}
