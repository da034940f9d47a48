//! Errors of the core crate.

/// A failure in slate's domain model: a bad policy, threshold, zone or window.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A policy field is missing or has a value slate cannot use.
    #[error("policy {policy:?}, measure {measure:?}, field `{field}`: {reason}")]
    InvalidPolicy {
        /// Name of the policy.
        policy: String,
        /// Id of the measure, or empty for a policy-level field.
        measure: String,
        /// The offending field.
        field: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The policy text is not valid TOML or has unknown fields.
    #[error("policy {origin}: {reason}")]
    PolicySyntax {
        /// Where the policy came from (file path or `builtin:NAME`).
        origin: String,
        /// The parser's message.
        reason: String,
    },
    /// No built-in policy has that name.
    #[error("no built-in policy named {0:?} (try `slate policy list`)")]
    UnknownBuiltin(String),
    /// A duration such as `15m` could not be parsed.
    #[error("invalid duration {text:?}: {reason}")]
    InvalidDuration {
        /// The text given.
        text: String,
        /// Why it was rejected.
        reason: String,
    },
    /// The time zone name is not in the IANA database.
    #[error("unknown time zone {0:?} (use an IANA name such as Europe/London)")]
    UnknownTimeZone(String),
    /// No built-in working-day calendar has that name and no such file exists.
    #[error(
        "unknown calendar {0:?}: use england-and-wales, scotland, northern-ireland or a calendar .toml file"
    )]
    UnknownCalendar(String),
    /// A calendar file is unreadable or holds a bad field.
    #[error("calendar {origin}: {reason}")]
    InvalidCalendar {
        /// The file.
        origin: String,
        /// What is wrong.
        reason: String,
    },
    /// A date outside the years a calendar covers.
    #[error("calendar {calendar}: {date} is outside the years it covers (2000-2035)")]
    OutsideCalendar {
        /// The calendar.
        calendar: String,
        /// The date.
        date: String,
    },
    /// An encoded histogram cell is corrupt.
    #[error("corrupt histogram cell: {0}")]
    CorruptCell(String),
    /// A batch read back as a scorecard or ledger lacks a column or has a bad value.
    #[error("not a slate {what}: {reason}")]
    BadScorecard {
        /// `scorecard` or `ledger`.
        what: String,
        /// What is wrong.
        reason: String,
    },
    /// The ledger given with a scorecard is not that scorecard's ledger.
    #[error("the ledger does not belong to this scorecard (is it from another run?): {0}")]
    LedgerMismatch(String),
    /// Arrow failed while building an output batch.
    #[error(transparent)]
    Arrow(#[from] arrow_schema::ArrowError),
}

/// Result with the core [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// A message that names request parameters (`from`, `force`). A library says it with its own
/// parameter names; a front end that calls them something else (the CLI's `--from`) renders it
/// with [`ParamMessage::render`], so flag names stay in the argument parser (ripgrep's rule).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ParamMessage(Vec<Part>);

#[derive(Debug, Clone, PartialEq, Eq)]
enum Part {
    Text(String),
    Param(&'static str),
}

impl ParamMessage {
    /// An empty message, to build with [`ParamMessage::text`] and [`ParamMessage::param`].
    pub fn new() -> Self {
        Self::default()
    }

    /// Appends text.
    #[must_use]
    pub fn text(mut self, text: impl Into<String>) -> Self {
        self.0.push(Part::Text(text.into()));
        self
    }

    /// Appends another message.
    #[must_use]
    pub fn append(mut self, other: ParamMessage) -> Self {
        self.0.extend(other.0);
        self
    }

    /// Appends a parameter's name.
    #[must_use]
    pub fn param(mut self, name: &'static str) -> Self {
        self.0.push(Part::Param(name));
        self
    }

    /// The message with each parameter called `name(parameter)`.
    pub fn render(&self, name: &dyn Fn(&'static str) -> String) -> String {
        self.0
            .iter()
            .map(|p| match p {
                Part::Text(t) => t.clone(),
                Part::Param(n) => name(n),
            })
            .collect()
    }
}

impl std::fmt::Display for ParamMessage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.render(&|n| format!("`{n}`")))
    }
}
