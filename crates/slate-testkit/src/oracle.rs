//! The naive oracle: every figure of a scorecard computed record by record with chrono-tz and
//! sorted vectors, sharing no code with slate's engine, cube or statistics.

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, Datelike, LocalResult, Months, NaiveDate, NaiveDateTime, TimeZone};
use chrono_tz::Tz;
use slate_core::WindowKind;

use crate::pred::Pred;
use crate::records::Rec;

/// What a measure counts, as the oracle sees it.
#[derive(Debug, Clone)]
pub enum OKind {
    /// Whole seconds from start to stop.
    Duration,
    /// Working days of England and Wales from the start's local date to the stop's.
    WorkingDays,
    /// Lateness of the stop after the deadline (`start`), in whole seconds, any sign;
    /// `threshold_s` is the grace.
    Deadline,
    /// Share of records where the predicate holds (`start` places them in windows).
    Share(Pred),
}

/// A measure as the oracle sees it.
#[derive(Debug, Clone)]
pub struct OMeasure {
    /// Id.
    pub id: String,
    /// What it counts.
    pub kind: OKind,
    /// Start clock (a deadline measure's deadline).
    pub start: &'static str,
    /// Stop clock.
    pub stop: &'static str,
    /// Applicability predicate.
    pub where_: Option<Pred>,
    /// Threshold in the measure's unit (seconds, working days, or a deadline's grace).
    pub threshold_s: i64,
    /// Target share.
    pub target: Option<f64>,
    /// Percentiles, ascending.
    pub percentiles: Vec<f64>,
    /// Named exclusions in order.
    pub exclusions: Vec<(String, Pred)>,
}

impl OMeasure {
    /// The unit of its figures: `s`, `wd` or `share`.
    pub fn unit(&self) -> &'static str {
        match self.kind {
            OKind::Duration | OKind::Deadline => "s",
            OKind::WorkingDays => "wd",
            OKind::Share(_) => "share",
        }
    }
}

/// A whole question: policy, window, groups, zone, period.
#[derive(Debug, Clone)]
pub struct Case {
    /// Seed it was drawn from.
    pub seed: u64,
    /// Measures.
    pub measures: Vec<OMeasure>,
    /// Window family.
    pub window: WindowKind,
    /// Group-by columns.
    pub group_by: Vec<&'static str>,
    /// Zone.
    pub tz: Tz,
    /// Period start (inclusive).
    pub from: Option<NaiveDate>,
    /// Period end (exclusive).
    pub to: Option<NaiveDate>,
    /// Nearest-rank instead of linear percentiles.
    pub nearest_rank: bool,
    /// Clocks are naive local wall times in `tz`.
    pub naive: bool,
}

impl Case {
    /// The policy TOML slate is given.
    pub fn policy_toml(&self) -> String {
        let mut s = String::from("name = \"random\"\n");
        for m in &self.measures {
            s += &format!("[[measure]]\nid = \"{}\"\n", m.id);
            s += &match &m.kind {
                OKind::Duration => format!(
                    "start = \"{}\"\nstop = \"{}\"\nthreshold = \"{}s\"\n",
                    m.start, m.stop, m.threshold_s
                ),
                OKind::WorkingDays => format!(
                    "start = \"{}\"\nstop = \"{}\"\nthreshold = \"{}wd\"\ncalendar = \"england-and-wales\"\n",
                    m.start, m.stop, m.threshold_s
                ),
                OKind::Deadline => format!(
                    "kind = \"deadline\"\ndeadline = \"{}\"\nstop = \"{}\"\ngrace = \"{}s\"\n",
                    m.start, m.stop, m.threshold_s
                ),
                OKind::Share(p) => format!(
                    "kind = \"share\"\nstart = \"{}\"\nsuccess = \"{}\"\n",
                    m.start,
                    p.sql()
                ),
            };
            if let Some(w) = &m.where_ {
                s += &format!("where = \"{}\"\n", w.sql());
            }
            if let Some(t) = m.target {
                s += &format!("target = {t}\n");
            }
            if !matches!(m.kind, OKind::Share(_)) {
                let ps: Vec<String> = m.percentiles.iter().map(|p| format!("{p}")).collect();
                s += &format!("percentiles = [{}]\n", ps.join(", "));
            }
            if !m.exclusions.is_empty() {
                let ex: Vec<String> = m
                    .exclusions
                    .iter()
                    .map(|(r, p)| format!("{{ reason = \"{r}\", where = \"{}\" }}", p.sql()))
                    .collect();
                s += &format!("exclude = [{}]\n", ex.join(", "));
            }
        }
        s
    }
}

/// The figures of one scorecard row.
#[derive(Debug, Clone, PartialEq)]
pub struct Figures {
    /// n_eligible.
    pub n_eligible: u64,
    /// n_measured.
    pub n_measured: u64,
    /// n_within.
    pub n_within: u64,
    /// n_excluded.
    pub n_excluded: u64,
    /// compliance.
    pub compliance: Option<f64>,
    /// met_target.
    pub met_target: Option<bool>,
    /// Wilson 95%.
    pub ci: Option<(f64, f64)>,
    /// (p, value) for the measure's percentiles.
    pub percentiles: Vec<(f64, Option<f64>)>,
    /// mean_s.
    pub mean_s: Option<f64>,
    /// min_s.
    pub min_s: Option<i64>,
    /// max_s.
    pub max_s: Option<i64>,
}

/// Key of a scorecard row: window start and end (days since 1970-01-01), level, groups, measure.
pub type RowKey = (i32, i32, String, Vec<Option<String>>, String);
/// Key of a ledger row: window (if any), level, groups, measure, reason.
pub type LedgerKey = (
    Option<(i32, i32)>,
    String,
    Vec<Option<String>>,
    String,
    String,
);

/// Per-measure accounting of every input row.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Account {
    /// Applicable and inside the period.
    pub eligible: u64,
    /// Measured.
    pub measured: u64,
    /// Excluded.
    pub excluded: u64,
    /// Applicable but outside the period.
    pub outside_period: u64,
}

/// Everything the oracle expects.
#[derive(Debug, Clone, Default)]
pub struct Expected {
    /// Scorecard rows.
    pub rows: BTreeMap<RowKey, Figures>,
    /// Ledger rows.
    pub ledger: BTreeMap<LedgerKey, u64>,
    /// Per-measure accounts.
    pub accounts: Vec<Account>,
}

fn epoch() -> NaiveDate {
    NaiveDate::from_ymd_opt(1970, 1, 1).expect("valid")
}

fn days(d: NaiveDate) -> i32 {
    (d - epoch()).num_days() as i32
}

fn month_start(d: NaiveDate) -> NaiveDate {
    d.with_day(1).expect("day 1 exists")
}

/// The instant (µs) and local date of a clock reading.
fn resolve(v: i64, tz: Tz, naive: bool) -> (i64, NaiveDate) {
    if naive {
        let local: NaiveDateTime = DateTime::from_timestamp_micros(v)
            .expect("in range")
            .naive_utc();
        let instant = match tz.from_local_datetime(&local) {
            LocalResult::Single(d) => d,
            LocalResult::Ambiguous(a, b) => a.min(b),
            LocalResult::None => panic!("test data has no skipped local times: {local}"),
        };
        (instant.timestamp_micros(), local.date())
    } else {
        let d = DateTime::from_timestamp_micros(v)
            .expect("in range")
            .with_timezone(&tz);
        (v, d.date_naive())
    }
}

/// The windows holding local date `d`, as `[start, end)` dates.
fn windows_of(kind: WindowKind, d: NaiveDate) -> Vec<(NaiveDate, NaiveDate)> {
    let m = month_start(d);
    let add = |x: NaiveDate, n: u32| x.checked_add_months(Months::new(n)).expect("in range");
    match kind {
        WindowKind::Day => vec![(d, d.succ_opt().expect("in range"))],
        WindowKind::Week => {
            let monday = d - chrono::Days::new(u64::from(d.weekday().num_days_from_monday()));
            vec![(monday, monday + chrono::Days::new(7))]
        }
        WindowKind::Month => vec![(m, add(m, 1))],
        WindowKind::Quarter => {
            let q =
                NaiveDate::from_ymd_opt(d.year(), (d.month() - 1) / 3 * 3 + 1, 1).expect("valid");
            vec![(q, add(q, 3))]
        }
        WindowKind::FiscalYear => {
            let y = if d.month() >= 4 {
                d.year()
            } else {
                d.year() - 1
            };
            let s = NaiveDate::from_ymd_opt(y, 4, 1).expect("valid");
            vec![(s, add(s, 12))]
        }
        WindowKind::Year => {
            let s = NaiveDate::from_ymd_opt(d.year(), 1, 1).expect("valid");
            vec![(s, add(s, 12))]
        }
        // The 12 windows whose last month is this month or one of the 11 after it.
        WindowKind::Rolling12m => (0..12)
            .map(|k| {
                let last = add(m, k);
                (
                    last.checked_sub_months(Months::new(11)).expect("in range"),
                    add(last, 1),
                )
            })
            .collect(),
    }
}

fn level_name(group_by: &[&str], mask: u32) -> String {
    let kept: Vec<&str> = group_by
        .iter()
        .enumerate()
        .filter(|(i, _)| mask & (1 << i) != 0)
        .map(|(_, c)| *c)
        .collect();
    if kept.is_empty() {
        "all".into()
    } else {
        kept.join("+")
    }
}

/// Percentile `p` of sorted values: linear interpolation (numpy's default), or nearest rank.
pub fn naive_percentile(sorted: &[i64], p: f64, nearest_rank: bool) -> f64 {
    let n = sorted.len();
    if nearest_rank {
        let k = (n as f64 * p).ceil() as usize;
        return sorted[k.max(1) - 1] as f64;
    }
    let h = (n - 1) as f64 * p;
    let (lo, hi) = (h.floor() as usize, h.ceil() as usize);
    sorted[lo] as f64 + (h - lo as f64) * (sorted[hi] - sorted[lo]) as f64
}

fn wilson(k: u64, n: u64) -> (f64, f64) {
    let z = 1.959_963_984_540_054_f64;
    let (k, n) = (k as f64, n as f64);
    let p = k / n;
    let a = p + z * z / (2.0 * n);
    let b = z * (p * (1.0 - p) / n + z * z / (4.0 * n * n)).sqrt();
    let d = 1.0 + z * z / n;
    (((a - b) / d).max(0.0), ((a + b) / d).min(1.0))
}

/// England and Wales bank holidays of 2018-2023 as published on gov.uk
/// (<https://www.gov.uk/bank-holidays>), typed in here rather than derived from rules.
const EW_BANK_HOLIDAYS: [(i32, u32, u32); 51] = [
    (2018, 1, 1),
    (2018, 3, 30),
    (2018, 4, 2),
    (2018, 5, 7),
    (2018, 5, 28),
    (2018, 8, 27),
    (2018, 12, 25),
    (2018, 12, 26),
    (2019, 1, 1),
    (2019, 4, 19),
    (2019, 4, 22),
    (2019, 5, 6),
    (2019, 5, 27),
    (2019, 8, 26),
    (2019, 12, 25),
    (2019, 12, 26),
    (2020, 1, 1),
    (2020, 4, 10),
    (2020, 4, 13),
    (2020, 5, 8),
    (2020, 5, 25),
    (2020, 8, 31),
    (2020, 12, 25),
    (2020, 12, 28),
    (2021, 1, 1),
    (2021, 4, 2),
    (2021, 4, 5),
    (2021, 5, 3),
    (2021, 5, 31),
    (2021, 8, 30),
    (2021, 12, 27),
    (2021, 12, 28),
    (2022, 1, 3),
    (2022, 4, 15),
    (2022, 4, 18),
    (2022, 5, 2),
    (2022, 6, 2),
    (2022, 6, 3),
    (2022, 8, 29),
    (2022, 9, 19),
    (2022, 12, 26),
    (2022, 12, 27),
    (2023, 1, 2),
    (2023, 4, 7),
    (2023, 4, 10),
    (2023, 5, 1),
    (2023, 5, 8),
    (2023, 5, 29),
    (2023, 8, 28),
    (2023, 12, 25),
    (2023, 12, 26),
];

/// Working days a record took, counted day by day: the working days after `start` up to and
/// including `stop`, a `stop` on a non-working day (other than `start`) counting as the next
/// working day, so that "at most N" is "by the end of the N-th working day after `start`".
pub fn england_and_wales_working_days(start: NaiveDate, stop: NaiveDate) -> i64 {
    assert!(
        start.year() >= 2018 && stop.year() <= 2023,
        "the oracle's holiday list covers 2018-2023: {start} .. {stop}"
    );
    let working = |d: NaiveDate| {
        let weekend = d.weekday().num_days_from_monday() >= 5;
        let holiday = EW_BANK_HOLIDAYS
            .iter()
            .any(|&(y, m, dd)| (d.year(), d.month(), d.day()) == (y, m, dd));
        !weekend && !holiday
    };
    let mut n = 0;
    let mut d = start;
    while d < stop {
        d = d.succ_opt().expect("in range");
        if working(d) {
            n += 1;
        }
    }
    if stop > start && !working(stop) {
        n += 1;
    }
    n
}

/// One measured-or-excluded observation.
enum Obs {
    Measured(i64),
    Excluded(String),
}

/// Computes everything, record by record.
pub fn expected(case: &Case, records: &[Rec]) -> Expected {
    let k = case.group_by.len();
    let masks: Vec<u32> = (0..(1u32 << k)).collect();
    let period = case.from.zip(case.to);
    let mut accounts = vec![Account::default(); case.measures.len()];
    // (window or None, measure index, groups) -> observations; levels are derived afterwards.
    type Bucket = (Option<NaiveDate>, usize, Vec<Option<String>>);
    let mut obs: HashMap<Bucket, Vec<Obs>> = HashMap::new();
    let mut months: Vec<NaiveDate> = Vec::new();
    for r in records {
        let groups: Vec<Option<String>> = case
            .group_by
            .iter()
            .map(|g| r.text(g).map(str::to_string))
            .collect();
        for (mi, m) in case.measures.iter().enumerate() {
            if let Some(w) = &m.where_
                && w.eval(r) != Some(true)
            {
                continue;
            }
            let start = r.clock(m.start).map(|v| resolve(v, case.tz, case.naive));
            let stop = r.clock(m.stop).map(|v| resolve(v, case.tz, case.naive));
            let date = start.map(|s| s.1);
            if let Some(d) = date {
                let before = case.from.is_some_and(|f| d < f);
                let after = case.to.is_some_and(|t| d >= t);
                if before || after {
                    accounts[mi].outside_period += 1;
                    continue;
                }
            }
            accounts[mi].eligible += 1;
            let o = if let Some((reason, _)) =
                m.exclusions.iter().find(|(_, p)| p.eval(r) == Some(true))
            {
                Obs::Excluded(reason.clone())
            } else {
                let ex = |r: &str| Obs::Excluded(r.to_string());
                match (&m.kind, start, stop) {
                    (OKind::Deadline, None, _) => ex("missing_deadline"),
                    (_, None, _) => ex("missing_start"),
                    (OKind::Share(p), Some(_), _) => match p.eval(r) {
                        Some(true) => Obs::Measured(0),
                        Some(false) => Obs::Measured(1),
                        None => ex("missing_outcome"),
                    },
                    (_, _, None) => ex("missing_stop"),
                    (OKind::Deadline, Some(a), Some(b)) => {
                        Obs::Measured((b.0 - a.0).div_euclid(1_000_000))
                    }
                    (_, Some(a), Some(b)) if b.0 < a.0 => ex("negative_duration"),
                    (OKind::WorkingDays, Some(a), Some(b)) => {
                        Obs::Measured(england_and_wales_working_days(a.1, b.1))
                    }
                    (_, Some(a), Some(b)) => Obs::Measured((b.0 - a.0).div_euclid(1_000_000)),
                }
            };
            match &o {
                Obs::Measured(_) => accounts[mi].measured += 1,
                Obs::Excluded(_) => accounts[mi].excluded += 1,
            }
            if let Some(d) = date {
                months.push(month_start(d));
            }
            obs.entry((date, mi, groups.clone())).or_default().push(o);
        }
    }
    let span = match (months.iter().min(), months.iter().max()) {
        (Some(lo), Some(hi)) => Some((
            *lo,
            hi.checked_add_months(Months::new(1)).expect("in range"),
        )),
        _ => None,
    };
    // Rolling windows must lie wholly inside the period (or the data's span of months).
    let rolling_ok = |w: (NaiveDate, NaiveDate)| match period.or(span) {
        Some((a, b)) => w.0 >= a && w.1 <= b,
        None => false,
    };

    // (window, level, groups, measure) -> (measured durations, exclusion counts by reason).
    type AccKey = (
        Option<(NaiveDate, NaiveDate)>,
        String,
        Vec<Option<String>>,
        usize,
    );
    type Acc = (Vec<i64>, BTreeMap<String, u64>);
    let mut acc: HashMap<AccKey, Acc> = HashMap::new();
    for ((date, mi, groups), list) in &obs {
        let windows: Vec<Option<(NaiveDate, NaiveDate)>> = match date {
            None => vec![None],
            Some(d) => windows_of(case.window, *d)
                .into_iter()
                .filter(|w| case.window != WindowKind::Rolling12m || rolling_ok(*w))
                .map(Some)
                .collect(),
        };
        for &mask in &masks {
            let key: Vec<Option<String>> = groups
                .iter()
                .enumerate()
                .map(|(i, g)| {
                    if mask & (1 << i) != 0 {
                        g.clone()
                    } else {
                        None
                    }
                })
                .collect();
            let level = level_name(&case.group_by, mask);
            for w in &windows {
                let e = acc
                    .entry((*w, level.clone(), key.clone(), *mi))
                    .or_default();
                for o in list {
                    match o {
                        Obs::Measured(d) => e.0.push(*d),
                        Obs::Excluded(r) => *e.1.entry(r.clone()).or_default() += 1,
                    }
                }
            }
        }
    }

    let mut out = Expected {
        accounts,
        ..Default::default()
    };
    for ((w, level, groups, mi), (mut durs, excl)) in acc {
        let m = &case.measures[mi];
        let wd = w.map(|(a, b)| (days(a), days(b)));
        for (reason, n) in &excl {
            out.ledger.insert(
                (
                    wd,
                    level.clone(),
                    groups.clone(),
                    m.id.clone(),
                    reason.clone(),
                ),
                *n,
            );
        }
        let Some((ws, we)) = wd else { continue };
        durs.sort_unstable();
        let n = durs.len() as u64;
        let n_excluded: u64 = excl.values().sum();
        let n_within = durs.iter().filter(|&&d| d <= m.threshold_s).count() as u64;
        let compliance = (n > 0).then(|| n_within as f64 / n as f64);
        let share = matches!(m.kind, OKind::Share(_));
        let figures = Figures {
            n_eligible: n + n_excluded,
            n_measured: n,
            n_within,
            n_excluded,
            compliance,
            met_target: m.target.zip(compliance).map(|(t, c)| c >= t),
            ci: (n > 0).then(|| wilson(n_within, n)),
            percentiles: m
                .percentiles
                .iter()
                .map(|&p| {
                    (
                        p,
                        (n > 0).then(|| naive_percentile(&durs, p, case.nearest_rank)),
                    )
                })
                .collect(),
            mean_s: (n > 0 && !share)
                .then(|| durs.iter().map(|&d| i128::from(d)).sum::<i128>() as f64 / n as f64),
            min_s: durs.first().copied().filter(|_| !share),
            max_s: durs.last().copied().filter(|_| !share),
        };
        out.rows
            .insert((ws, we, level, groups, m.id.clone()), figures);
    }
    out
}
