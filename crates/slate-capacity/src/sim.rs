//! A seeded discrete-event simulation of the call queue: `n` agents, first come first served,
//! callers who hang up when their patience runs out. Pure: no I/O, no DataFusion.
//!
//! It checks the Erlang formulas where their assumptions hold and measures what a roster gives
//! where they do not (handling times that are not exponential, arrivals that are not Poisson).
//! Each replication simulates `warmup + horizon` seconds and measures the calls arriving after
//! the warm-up; the replications are independent, so their means give a Student-t interval.

use std::cmp::Reverse;
use std::collections::BinaryHeap;

use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use rand_distr::{Distribution, Exp, LogNormal};

use crate::error::{CapacityError, Result};

/// How calls arrive.
#[derive(Debug, Clone, PartialEq)]
pub enum Arrivals {
    /// A Poisson process with this rate, calls per second.
    Poisson {
        /// Calls per second.
        rate: f64,
    },
    /// Arrival instants replayed from history, seconds from the start of the period (sorted).
    /// Every replication replays the same instants; handling times and patience are redrawn.
    Replay(Vec<f64>),
}

/// How long a call takes to handle once answered.
#[derive(Debug, Clone, PartialEq)]
pub enum Handling {
    /// Exponential with this mean, seconds (Erlang's assumption).
    Exponential {
        /// Mean, seconds.
        mean: f64,
    },
    /// Log-normal with this mean and log-scale sigma (real handling times look like this).
    LogNormal {
        /// Mean, seconds.
        mean: f64,
        /// Standard deviation of the log.
        sigma: f64,
    },
    /// Drawn with replacement from observed handling times, seconds.
    Empirical(Vec<f64>),
}

impl Handling {
    /// Mean handling time, seconds.
    pub fn mean(&self) -> f64 {
        match self {
            Handling::Exponential { mean } | Handling::LogNormal { mean, .. } => *mean,
            Handling::Empirical(v) if !v.is_empty() => v.iter().sum::<f64>() / v.len() as f64,
            Handling::Empirical(_) => 0.0,
        }
    }
}

/// What to simulate.
#[derive(Debug, Clone, PartialEq)]
pub struct SimConfig {
    /// Agents (constant over the run).
    pub agents: u32,
    /// Arrivals.
    pub arrivals: Arrivals,
    /// Handling times.
    pub handling: Handling,
    /// Mean patience, seconds; `None` means callers wait for ever.
    pub patience: Option<f64>,
    /// Answer threshold for the service level, seconds.
    pub within: f64,
    /// Seconds measured per replication (ignored for `Replay`, which runs its whole span).
    pub horizon: f64,
    /// Seconds simulated before measuring, so the queue starts in its steady state (ignored for
    /// `Replay`, which starts empty as the history did).
    pub warmup: f64,
    /// Independent replications (at least 2 for an interval).
    pub replications: u32,
    /// Seed: the same seed gives the same result.
    pub seed: u64,
}

/// A figure with its 95% confidence interval over the replications.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Estimate {
    /// Mean over the replications.
    pub mean: f64,
    /// Half-width of the 95% interval (Student t with replications - 1 degrees of freedom).
    pub half_width: f64,
}

impl Estimate {
    /// Whether `x` lies in the interval.
    pub fn covers(&self, x: f64) -> bool {
        (x - self.mean).abs() <= self.half_width
    }
}

/// What the simulation measured.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SimResult {
    /// Share of answered calls answered within the threshold.
    pub service_level: Estimate,
    /// Share of offered calls answered within the threshold.
    pub answered_within_of_offered: Estimate,
    /// Share of calls that had to wait.
    pub p_wait: Estimate,
    /// Average speed of answer of answered calls, seconds.
    pub asa: Estimate,
    /// Share of calls that hung up before an answer.
    pub p_abandon: Estimate,
    /// Calls measured over all replications.
    pub calls: u64,
}

/// 97.5% quantiles of Student's t for 1..=30 degrees of freedom; above, the normal's 1.96.
const T975: [f64; 30] = [
    12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.160,
    2.145, 2.131, 2.120, 2.110, 2.101, 2.093, 2.086, 2.080, 2.074, 2.069, 2.064, 2.060, 2.056,
    2.052, 2.048, 2.045, 2.042,
];

fn estimate(xs: &[f64]) -> Estimate {
    let k = xs.len();
    let mean = xs.iter().sum::<f64>() / k.max(1) as f64;
    if k < 2 {
        return Estimate {
            mean,
            half_width: f64::INFINITY,
        };
    }
    let var = xs.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (k - 1) as f64;
    let t = T975.get(k - 2).copied().unwrap_or(1.96);
    Estimate {
        mean,
        half_width: t * (var / k as f64).sqrt(),
    }
}

fn validate(cfg: &SimConfig) -> Result<()> {
    let bad = |what: &str, v: f64| {
        Err(CapacityError::Invalid(format!(
            "simulation: {what} must be > 0 (got {v})"
        )))
    };
    if cfg.replications == 0 {
        return Err(CapacityError::Invalid(
            "simulation: replications must be at least 1".into(),
        ));
    }
    if let Arrivals::Poisson { rate } = cfg.arrivals {
        if !(rate.is_finite() && rate >= 0.0) {
            return bad("arrival rate", rate);
        }
        if !(cfg.horizon.is_finite() && cfg.horizon > 0.0) {
            return bad("horizon", cfg.horizon);
        }
        if !(cfg.warmup.is_finite() && cfg.warmup >= 0.0) {
            return bad("warm-up", cfg.warmup);
        }
    }
    match &cfg.handling {
        Handling::Exponential { mean } if !(*mean > 0.0 && mean.is_finite()) => {
            return bad("mean handling time", *mean);
        }
        Handling::LogNormal { mean, sigma } => {
            if !(*mean > 0.0 && mean.is_finite()) {
                return bad("mean handling time", *mean);
            }
            if !(*sigma > 0.0 && sigma.is_finite()) {
                return bad("handling time sigma", *sigma);
            }
        }
        Handling::Empirical(v)
            if v.is_empty() || v.iter().any(|x| !(x.is_finite() && *x >= 0.0)) =>
        {
            return Err(CapacityError::Invalid(
                "simulation: empirical handling times must be non-empty and >= 0".into(),
            ));
        }
        _ => {}
    }
    if let Some(p) = cfg.patience
        && !(p > 0.0 && p.is_finite())
    {
        return bad("mean patience", p);
    }
    Ok(())
}

enum Sampler {
    Exp(Exp<f64>),
    LogNormal(LogNormal<f64>),
    Empirical(Vec<f64>),
}

impl Sampler {
    fn new(h: &Handling) -> Result<Sampler> {
        let err = |e: &dyn std::fmt::Display| CapacityError::Invalid(format!("simulation: {e}"));
        Ok(match h {
            Handling::Exponential { mean } => {
                Sampler::Exp(Exp::new(1.0 / mean).map_err(|e| err(&e))?)
            }
            Handling::LogNormal { mean, sigma } => {
                // E[X] = exp(mu + sigma^2 / 2): choose mu so the mean is the one asked for.
                let mu = mean.ln() - sigma * sigma / 2.0;
                Sampler::LogNormal(LogNormal::new(mu, *sigma).map_err(|e| err(&e))?)
            }
            Handling::Empirical(v) => Sampler::Empirical(v.clone()),
        })
    }

    fn sample(&self, rng: &mut SmallRng) -> f64 {
        match self {
            Sampler::Exp(d) => d.sample(rng),
            Sampler::LogNormal(d) => d.sample(rng),
            Sampler::Empirical(v) => v[rng.random_range(0..v.len())],
        }
    }
}

#[derive(Default)]
struct Tally {
    offered: u64,
    waited: u64,
    answered: u64,
    within: u64,
    abandoned: u64,
    wait_sum: f64,
}

/// Runs the simulation.
pub fn simulate(cfg: &SimConfig) -> Result<SimResult> {
    validate(cfg)?;
    let handling = Sampler::new(&cfg.handling)?;
    let patience = match cfg.patience {
        Some(p) => Some(Exp::new(1.0 / p).map_err(|e| CapacityError::Invalid(format!("{e}")))?),
        None => None,
    };
    let mut per_rep: Vec<Tally> = Vec::with_capacity(cfg.replications as usize);
    let mut times: Vec<f64> = Vec::new();
    for r in 0..cfg.replications {
        let mut rng = SmallRng::seed_from_u64(
            cfg.seed ^ (u64::from(r) + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15),
        );
        let (from, to) = match &cfg.arrivals {
            Arrivals::Poisson { rate } => {
                times.clear();
                let end = cfg.warmup + cfg.horizon;
                if *rate > 0.0 {
                    let gap =
                        Exp::new(*rate).map_err(|e| CapacityError::Invalid(format!("{e}")))?;
                    let mut t = gap.sample(&mut rng);
                    while t < end {
                        times.push(t);
                        t += gap.sample(&mut rng);
                    }
                }
                (cfg.warmup, end)
            }
            Arrivals::Replay(v) => {
                if r == 0 {
                    times.clone_from(v);
                    times.sort_by(f64::total_cmp);
                }
                (f64::NEG_INFINITY, f64::INFINITY)
            }
        };
        per_rep.push(run_once(
            cfg,
            &times,
            from,
            to,
            &handling,
            patience.as_ref(),
            &mut rng,
        ));
    }
    let ratio = |f: &dyn Fn(&Tally) -> (f64, f64)| -> Vec<f64> {
        per_rep
            .iter()
            .filter_map(|t| {
                let (num, den) = f(t);
                (den > 0.0).then_some(num / den)
            })
            .collect()
    };
    Ok(SimResult {
        service_level: estimate(&ratio(&|t| (t.within as f64, t.answered as f64))),
        answered_within_of_offered: estimate(&ratio(&|t| (t.within as f64, t.offered as f64))),
        p_wait: estimate(&ratio(&|t| (t.waited as f64, t.offered as f64))),
        asa: estimate(&ratio(&|t| (t.wait_sum, t.answered as f64))),
        p_abandon: estimate(&ratio(&|t| (t.abandoned as f64, t.offered as f64))),
        calls: per_rep.iter().map(|t| t.offered).sum(),
    })
}

/// One replication. With FCFS, a call's answer time is the earliest moment an agent is free
/// after every earlier caller who stayed has been given one, so calls can be taken in arrival
/// order with a heap of agents' free times; a caller whose wait would exceed its patience hangs
/// up and takes no agent.
fn run_once(
    cfg: &SimConfig,
    arrivals: &[f64],
    from: f64,
    to: f64,
    handling: &Sampler,
    patience: Option<&Exp<f64>>,
    rng: &mut SmallRng,
) -> Tally {
    let mut free: BinaryHeap<Reverse<OrdF64>> = (0..cfg.agents)
        .map(|_| Reverse(OrdF64(f64::NEG_INFINITY)))
        .collect();
    let mut tally = Tally::default();
    for &t in arrivals {
        let measured = t >= from && t < to;
        let limit = patience.map_or(f64::INFINITY, |p| p.sample(rng));
        let service = handling.sample(rng);
        let Some(Reverse(OrdF64(earliest))) = free.peek().copied() else {
            // No agents: every call is abandoned (or waits for ever).
            if measured {
                tally.offered += 1;
                tally.waited += 1;
                tally.abandoned += u64::from(patience.is_some());
            }
            continue;
        };
        let wait = (earliest - t).max(0.0);
        if wait > limit {
            if measured {
                tally.offered += 1;
                tally.waited += 1;
                tally.abandoned += 1;
            }
            continue;
        }
        free.pop();
        free.push(Reverse(OrdF64(t + wait + service)));
        if measured {
            tally.offered += 1;
            tally.answered += 1;
            tally.waited += u64::from(wait > 0.0);
            tally.within += u64::from(wait <= cfg.within);
            tally.wait_sum += wait;
        }
    }
    tally
}

/// Arrivals over a period of consecutive intervals.
#[derive(Debug, Clone, PartialEq)]
pub enum PeriodArrivals {
    /// Poisson with a rate that is constant within each step of `step_s` seconds (the fitted
    /// profile: one step per planning interval, or finer steps to model a rate that varies
    /// within an interval). `rates` are calls per second; the steps must cover the period.
    Rates {
        /// Step length, seconds.
        step_s: f64,
        /// Calls per second in each step.
        rates: Vec<f64>,
    },
    /// Arrival instants replayed from history, seconds from the start of the period.
    Replay(Vec<f64>),
}

/// A roster simulated over consecutive intervals, with the queue carried across their
/// boundaries.
#[derive(Debug, Clone, PartialEq)]
pub struct PeriodConfig {
    /// Interval length, seconds.
    pub interval_s: f64,
    /// Agents on the phones in each interval.
    pub agents: Vec<u32>,
    /// Arrivals.
    pub arrivals: PeriodArrivals,
    /// Handling times.
    pub handling: Handling,
    /// Mean patience, seconds; `None` means callers wait for ever.
    pub patience: Option<f64>,
    /// Answer threshold for the service level, seconds.
    pub within: f64,
    /// Passes over the period before the measured one: 1 for a cyclic profile (a typical
    /// week), so Monday 00:00 starts with the queue Sunday night leaves; 0 to start empty.
    pub warmup_periods: u32,
    /// Independent replications (at least 2 for an interval).
    pub replications: u32,
    /// Seed: the same seed gives the same result.
    pub seed: u64,
}

/// What the simulation measured in one interval (calls counted in the interval they arrived).
/// A figure with nothing to measure in any replication (no calls, none answered) is NaN.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct IntervalSim {
    /// Calls offered, mean per replication.
    pub offered: f64,
    /// Share of answered calls answered within the threshold.
    pub service_level: Estimate,
    /// Average speed of answer of answered calls, seconds.
    pub asa: Estimate,
    /// Share of offered calls abandoned.
    pub p_abandon: Estimate,
}

/// A period's simulation: per interval and for the whole period.
#[derive(Debug, Clone, PartialEq)]
pub struct PeriodResult {
    /// Per interval, in order.
    pub intervals: Vec<IntervalSim>,
    /// The whole period (every call of the measured pass).
    pub whole: SimResult,
}

/// A caller in the queue.
struct Waiting {
    arrival: f64,
    deadline: f64,
    /// Interval of arrival in the measured pass, `None` in a warm-up pass.
    slot: Option<usize>,
}

/// Simulates a roster over consecutive intervals. Agents change at interval boundaries: an
/// agent whose interval ends finishes the call in hand and takes no more (calls are never cut
/// off); agents who join start on the queue at once. First come first served; a caller hangs up
/// when the wait reaches their patience. After the last interval no new calls arrive and the
/// last interval's agents clear the queue, so every measured call has an outcome.
pub fn simulate_period(cfg: &PeriodConfig) -> Result<PeriodResult> {
    let n = cfg.agents.len();
    let bad = |m: String| Err(CapacityError::Invalid(format!("period simulation: {m}")));
    if n == 0 {
        return bad("no intervals".into());
    }
    if !(cfg.interval_s > 0.0 && cfg.interval_s.is_finite()) {
        return bad(format!("interval must be > 0 s (got {})", cfg.interval_s));
    }
    let period = cfg.interval_s * n as f64;
    match &cfg.arrivals {
        PeriodArrivals::Rates { step_s, rates } => {
            if !(*step_s > 0.0 && step_s.is_finite()) {
                return bad(format!("rate step must be > 0 s (got {step_s})"));
            }
            let covered = step_s * rates.len() as f64;
            if (covered - period).abs() > 1e-6 * period {
                return bad(format!(
                    "{} rate steps of {step_s} s cover {covered} s, the period is {period} s",
                    rates.len()
                ));
            }
            if let Some(r) = rates.iter().find(|r| !(r.is_finite() && **r >= 0.0)) {
                return bad(format!("arrival rate must be >= 0 (got {r})"));
            }
        }
        PeriodArrivals::Replay(v) => {
            if let Some(t) = v
                .iter()
                .find(|t| !(t.is_finite() && **t >= 0.0 && **t < period))
            {
                return bad(format!(
                    "replayed arrival {t} s is outside the period [0, {period})"
                ));
            }
        }
    }
    // The per-interval checks of `simulate` (handling, patience, replications).
    validate(&SimConfig {
        agents: 1,
        arrivals: Arrivals::Replay(Vec::new()),
        handling: cfg.handling.clone(),
        patience: cfg.patience,
        within: cfg.within,
        horizon: 1.0,
        warmup: 0.0,
        replications: cfg.replications,
        seed: cfg.seed,
    })?;
    let handling = Sampler::new(&cfg.handling)?;
    let patience = match cfg.patience {
        Some(p) => Some(Exp::new(1.0 / p).map_err(|e| CapacityError::Invalid(format!("{e}")))?),
        None => None,
    };
    let passes = cfg.warmup_periods + 1;
    let measured_from = f64::from(cfg.warmup_periods) * period;
    let mut per_rep: Vec<(Vec<Tally>, Tally)> = Vec::with_capacity(cfg.replications as usize);
    let mut times: Vec<f64> = Vec::new();
    for r in 0..cfg.replications {
        let mut rng = SmallRng::seed_from_u64(
            cfg.seed ^ (u64::from(r) + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15),
        );
        times.clear();
        for pass in 0..passes {
            let off = f64::from(pass) * period;
            match &cfg.arrivals {
                PeriodArrivals::Rates { step_s, rates } => {
                    // Poisson arrivals are memoryless, so each step starts afresh.
                    for (j, &rate) in rates.iter().enumerate() {
                        if rate <= 0.0 {
                            continue;
                        }
                        let gap =
                            Exp::new(rate).map_err(|e| CapacityError::Invalid(format!("{e}")))?;
                        let (a, b) = (off + j as f64 * step_s, off + (j + 1) as f64 * step_s);
                        let mut t = a + gap.sample(&mut rng);
                        while t < b {
                            times.push(t);
                            t += gap.sample(&mut rng);
                        }
                    }
                }
                PeriodArrivals::Replay(v) => times.extend(v.iter().map(|t| off + t)),
            }
        }
        times.sort_by(f64::total_cmp);
        let mut slots: Vec<Tally> = (0..n).map(|_| Tally::default()).collect();
        let mut whole = Tally::default();
        run_period(
            cfg,
            &times,
            passes,
            measured_from,
            &handling,
            patience.as_ref(),
            &mut rng,
            &mut slots,
            &mut whole,
        );
        per_rep.push((slots, whole));
    }
    let ratio = |ts: &[&Tally], f: &dyn Fn(&Tally) -> (f64, f64)| -> Estimate {
        let xs: Vec<f64> = ts
            .iter()
            .filter_map(|t| {
                let (num, den) = f(t);
                (den > 0.0).then_some(num / den)
            })
            .collect();
        // Nothing to measure in any replication (no calls, or none answered): not a figure.
        if xs.is_empty() {
            return Estimate {
                mean: f64::NAN,
                half_width: f64::NAN,
            };
        }
        estimate(&xs)
    };
    let summarise = |ts: &[&Tally]| -> IntervalSim {
        IntervalSim {
            offered: ts.iter().map(|t| t.offered as f64).sum::<f64>() / ts.len().max(1) as f64,
            service_level: ratio(ts, &|t| (t.within as f64, t.answered as f64)),
            asa: ratio(ts, &|t| (t.wait_sum, t.answered as f64)),
            p_abandon: ratio(ts, &|t| (t.abandoned as f64, t.offered as f64)),
        }
    };
    let intervals = (0..n)
        .map(|k| summarise(&per_rep.iter().map(|(s, _)| &s[k]).collect::<Vec<_>>()))
        .collect();
    let w: Vec<&Tally> = per_rep.iter().map(|(_, w)| w).collect();
    let whole = SimResult {
        service_level: ratio(&w, &|t| (t.within as f64, t.answered as f64)),
        answered_within_of_offered: ratio(&w, &|t| (t.within as f64, t.offered as f64)),
        p_wait: ratio(&w, &|t| (t.waited as f64, t.offered as f64)),
        asa: ratio(&w, &|t| (t.wait_sum, t.answered as f64)),
        p_abandon: ratio(&w, &|t| (t.abandoned as f64, t.offered as f64)),
        calls: w.iter().map(|t| t.offered).sum(),
    };
    Ok(PeriodResult { intervals, whole })
}

/// One replication of a period: an event loop over arrivals, call ends and interval
/// boundaries (the heap of free times `run_once` uses cannot express agents leaving).
#[allow(clippy::too_many_arguments)]
fn run_period(
    cfg: &PeriodConfig,
    arrivals: &[f64],
    passes: u32,
    measured_from: f64,
    handling: &Sampler,
    patience: Option<&Exp<f64>>,
    rng: &mut SmallRng,
    slots: &mut [Tally],
    whole: &mut Tally,
) {
    let n = cfg.agents.len();
    let end = cfg.interval_s * (n as f64) * f64::from(passes);
    let boundaries = n * passes as usize;
    // Agents at time t: the interval's, and the last interval's after the end (draining).
    let agents_at = |t: f64| -> usize {
        if t >= end {
            return cfg.agents[n - 1] as usize;
        }
        let k = ((t / cfg.interval_s).floor() as usize).min(boundaries - 1) % n;
        cfg.agents[k] as usize
    };
    let slot_of = |t: f64| -> Option<usize> {
        (t >= measured_from).then(|| (((t - measured_from) / cfg.interval_s) as usize).min(n - 1))
    };
    let mut record = |w: &Waiting, outcome: Option<f64>| {
        let Some(k) = w.slot else { return };
        for t in [&mut slots[k], &mut *whole] {
            t.offered += 1;
            match outcome {
                Some(wait) => {
                    t.answered += 1;
                    t.waited += u64::from(wait > 0.0);
                    t.within += u64::from(wait <= cfg.within);
                    t.wait_sum += wait;
                }
                None => {
                    t.waited += 1;
                    // A caller with no patience limit who is never answered (no agents at
                    // the end) is unanswered, not abandoned.
                    t.abandoned += u64::from(w.deadline.is_finite());
                }
            }
        }
    };
    let mut busy: BinaryHeap<Reverse<OrdF64>> = BinaryHeap::new();
    let mut queue: std::collections::VecDeque<Waiting> = std::collections::VecDeque::new();
    let (mut ai, mut bi) = (0usize, 1usize);
    loop {
        let ta = arrivals.get(ai).copied().unwrap_or(f64::INFINITY);
        let tc = busy.peek().map_or(f64::INFINITY, |r| r.0.0);
        let tb = if bi < boundaries {
            bi as f64 * cfg.interval_s
        } else {
            f64::INFINITY
        };
        let t = ta.min(tc).min(tb);
        if t == f64::INFINITY {
            break;
        }
        if tc <= t {
            busy.pop();
        } else if tb <= t {
            bi += 1;
        } else {
            ai += 1;
            let limit = patience.map_or(f64::INFINITY, |p| p.sample(rng));
            queue.push_back(Waiting {
                arrival: t,
                deadline: t + limit,
                slot: slot_of(t),
            });
        }
        let free = agents_at(t);
        while busy.len() < free {
            let Some(w) = queue.pop_front() else { break };
            if w.deadline < t {
                record(&w, None);
                continue;
            }
            record(&w, Some(t - w.arrival));
            busy.push(Reverse(OrdF64(t + handling.sample(rng))));
        }
    }
    // Left only when the last interval has no agents.
    for w in queue {
        record(&w, None);
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
struct OrdF64(f64);

impl Eq for OrdF64 {}

impl PartialOrd for OrdF64 {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for OrdF64 {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.0.total_cmp(&other.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::queue::{ErlangA, ErlangC, Load};

    fn config(agents: u32, handling: Handling, patience: Option<f64>) -> SimConfig {
        SimConfig {
            agents,
            arrivals: Arrivals::Poisson {
                rate: 100.0 / 1800.0,
            },
            handling,
            patience,
            within: 20.0,
            horizon: 200_000.0,
            warmup: 5_000.0,
            replications: 20,
            seed: 7,
        }
    }

    fn check(name: &str, e: Estimate, want: f64) {
        assert!(
            e.covers(want),
            "{name}: simulated {} +- {}, formula {want}",
            e.mean,
            e.half_width
        );
        assert!(
            e.half_width < 0.1 * want.abs().max(0.02),
            "{name}: interval too wide {e:?}"
        );
    }

    #[test]
    fn agrees_with_erlang_c() {
        let load = Load::per(100.0, 1800.0, 180.0).expect("load");
        let want = ErlangC { load }.predict(14, 20.0);
        let got = simulate(&config(14, Handling::Exponential { mean: 180.0 }, None)).expect("sim");
        check("service level", got.service_level, want.service_level);
        check("p_wait", got.p_wait, want.p_wait);
        check("asa", got.asa, want.asa);
        assert_eq!(got.p_abandon.mean, 0.0);
    }

    #[test]
    fn agrees_with_erlang_a() {
        let load = Load::per(100.0, 1800.0, 180.0).expect("load");
        let want = ErlangA {
            load,
            patience: 300.0,
        }
        .predict(12, 20.0)
        .expect("erlang a");
        let got = simulate(&config(
            12,
            Handling::Exponential { mean: 180.0 },
            Some(300.0),
        ))
        .expect("sim");
        check("service level", got.service_level, want.service_level);
        check(
            "of offered",
            got.answered_within_of_offered,
            want.answered_within_of_offered,
        );
        check("p_wait", got.p_wait, want.p_wait);
        check("p_abandon", got.p_abandon, want.p_abandon);
        check("asa", got.asa, want.asa);
    }

    #[test]
    fn lognormal_handling_parts_from_erlang_c() {
        // Same mean (180 s) but log-normal with sigma 1 (coefficient of variation 1.31):
        // queues are longer than Erlang C assumes, and the simulation's interval excludes its
        // ASA.
        let load = Load::per(100.0, 1800.0, 180.0).expect("load");
        let want = ErlangC { load }.predict(12, 20.0);
        let got = simulate(&config(
            12,
            Handling::LogNormal {
                mean: 180.0,
                sigma: 1.0,
            },
            None,
        ))
        .expect("sim");
        assert!(
            !got.asa.covers(want.asa) && got.asa.mean > want.asa,
            "ASA simulated {:?}, Erlang C {}",
            got.asa,
            want.asa
        );
        // The service level at 20 s moves much less than the mean wait: the extra waiting is in
        // the tail (README, "Where the formulas and the simulation part").
        assert!(got.service_level.mean < want.service_level);
    }

    #[test]
    fn replay_is_deterministic_and_counts_everything() {
        let arrivals: Vec<f64> = (0..200).map(|i| f64::from(i) * 10.0).collect();
        let cfg = SimConfig {
            agents: 2,
            arrivals: Arrivals::Replay(arrivals),
            handling: Handling::Empirical(vec![5.0, 10.0]),
            patience: Some(60.0),
            within: 10.0,
            horizon: 0.0,
            warmup: 0.0,
            replications: 5,
            seed: 1,
        };
        let a = simulate(&cfg).expect("sim");
        let b = simulate(&cfg).expect("sim");
        assert_eq!(a, b);
        assert_eq!(a.calls, 1000);
        // Two agents, one call every 10 s, handling at most 10 s: nobody waits long.
        assert!(a.p_abandon.mean < 0.05);
    }

    fn period(agents: Vec<u32>, arrivals: PeriodArrivals, handling: Handling) -> PeriodConfig {
        PeriodConfig {
            interval_s: 1800.0,
            agents,
            arrivals,
            handling,
            patience: None,
            within: 20.0,
            warmup_periods: 1,
            replications: 20,
            seed: 11,
        }
    }

    #[test]
    fn period_with_steady_demand_and_staff_agrees_with_erlang_a() {
        // A day of 48 half-hours at 100 calls each, 12 agents throughout: the queue carried
        // across boundaries is the steady state, so Erlang A holds per interval and overall.
        let load = Load::per(100.0, 1800.0, 180.0).expect("load");
        let want = ErlangA {
            load,
            patience: 300.0,
        }
        .predict(12, 20.0)
        .expect("erlang a");
        let mut cfg = period(
            vec![12; 48],
            PeriodArrivals::Rates {
                step_s: 1800.0,
                rates: vec![100.0 / 1800.0; 48],
            },
            Handling::Exponential { mean: 180.0 },
        );
        cfg.patience = Some(300.0);
        let got = simulate_period(&cfg).expect("sim");
        check("service level", got.whole.service_level, want.service_level);
        check("p_abandon", got.whole.p_abandon, want.p_abandon);
        check("asa", got.whole.asa, want.asa);
        assert_eq!(got.intervals.len(), 48);
        // Per interval (20 replications of 100 calls): most intervals' intervals contain it.
        let inside = got
            .intervals
            .iter()
            .filter(|i| i.service_level.covers(want.service_level))
            .count();
        assert!(inside >= 40, "{inside} of 48");
        assert!((got.whole.calls as f64 / 20.0 - 4800.0).abs() < 200.0);
        assert_eq!(simulate_period(&cfg).expect("sim"), got);
    }

    #[test]
    fn queue_carries_across_boundaries_and_leaving_agents_finish_their_call() {
        // Intervals of 100 s. Agents [1, 0, 1]; every call takes 50 s.
        let mut cfg = period(
            vec![1, 0, 1],
            PeriodArrivals::Replay(vec![10.0, 20.0, 70.0, 120.0]),
            Handling::Empirical(vec![50.0]),
        );
        cfg.interval_s = 100.0;
        cfg.warmup_periods = 0;
        cfg.replications = 2;
        cfg.within = 10.0;
        let got = simulate_period(&cfg).expect("sim");
        // 10: answered at once, ends 60. 20: waits to 60 (40 s), ends 110 although the agent's
        // interval ends at 100. 70: waits into interval 1, which has nobody, and is answered
        // when interval 2 starts (200: 130 s). 120 (interval 1): answered at 250 (130 s).
        let i0 = got.intervals[0];
        assert_eq!(i0.offered, 3.0);
        assert!(
            (i0.asa.mean - (0.0 + 40.0 + 130.0) / 3.0).abs() < 1e-9,
            "{i0:?}"
        );
        assert!((i0.service_level.mean - 1.0 / 3.0).abs() < 1e-9);
        let i1 = got.intervals[1];
        assert_eq!((i1.offered, i1.asa.mean), (1.0, 130.0));
        assert_eq!(got.intervals[2].offered, 0.0);
        assert_eq!(got.whole.calls, 8);
        assert_eq!(got.whole.p_abandon.mean, 0.0);
        // Nobody at the end and no patience: the last caller is counted, never answered.
        cfg.agents = vec![1, 0, 0];
        let got = simulate_period(&cfg).expect("sim");
        assert_eq!(got.intervals[1].offered, 1.0);
        assert!(
            (got.whole.service_level.mean - 1.0 / 2.0).abs() < 1e-9,
            "{got:?}"
        );
    }

    #[test]
    fn arrivals_varying_within_the_interval_part_from_erlang_c() {
        // 150 calls an hour, but 75 in the first quarter-hour: Erlang C at the hourly mean
        // (7.5 Erlangs, 10 agents) promises far more than a roster of 10 gives.
        let load = Load::per(150.0, 3600.0, 180.0).expect("load");
        let want = ErlangC { load }.predict(10, 20.0);
        let q = |calls: f64| calls / 900.0;
        let rates: Vec<f64> = (0..24)
            .flat_map(|_| [q(75.0), q(25.0), q(25.0), q(25.0)])
            .collect();
        let mut cfg = period(
            vec![10; 24],
            PeriodArrivals::Rates {
                step_s: 900.0,
                rates,
            },
            Handling::Exponential { mean: 180.0 },
        );
        cfg.interval_s = 3600.0;
        let got = simulate_period(&cfg).expect("sim");
        assert!(
            got.whole.service_level.mean + got.whole.service_level.half_width
                < want.service_level - 0.05,
            "simulated {:?}, Erlang C {}",
            got.whole.service_level,
            want.service_level
        );
        // The same calls spread evenly agree with Erlang C.
        cfg.arrivals = PeriodArrivals::Rates {
            step_s: 3600.0,
            rates: vec![150.0 / 3600.0; 24],
        };
        let even = simulate_period(&cfg).expect("sim");
        check("even", even.whole.service_level, want.service_level);
    }

    #[test]
    fn bad_period_config_is_an_error_naming_the_problem() {
        let cfg = period(
            vec![2; 4],
            PeriodArrivals::Rates {
                step_s: 1800.0,
                rates: vec![0.01; 3],
            },
            Handling::Exponential { mean: 60.0 },
        );
        let e = simulate_period(&cfg).unwrap_err().to_string();
        assert!(e.contains("cover"), "{e}");
        let mut c2 = cfg.clone();
        c2.arrivals = PeriodArrivals::Replay(vec![7200.0]);
        assert!(
            simulate_period(&c2)
                .unwrap_err()
                .to_string()
                .contains("outside")
        );
        let mut c3 = cfg.clone();
        c3.agents.clear();
        assert!(simulate_period(&c3).is_err());
        let mut c4 = cfg;
        c4.arrivals = PeriodArrivals::Replay(vec![]);
        c4.replications = 0;
        assert!(simulate_period(&c4).is_err());
    }

    #[test]
    fn bad_config_is_an_error() {
        let mut c = config(3, Handling::Exponential { mean: -1.0 }, None);
        assert!(simulate(&c).is_err());
        c.handling = Handling::Empirical(vec![]);
        assert!(simulate(&c).is_err());
        c.handling = Handling::Exponential { mean: 10.0 };
        c.replications = 0;
        assert!(simulate(&c).is_err());
    }
}
