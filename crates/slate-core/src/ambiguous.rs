//! Naive local clock readings in a repeated hour (clocks went back): which instant each means.
//!
//! A reading such as `01:30` on the night clocks go back happens twice. Reading every such
//! clock as the earlier instant (or the later, as DuckDB/ICU do) is wrong for some records:
//! a call created in the first pass of the hour and attended in the second gets a negative
//! response time one way, a handling time an hour too long the other. [`Ambiguous::Order`]
//! uses what the record itself says: the CAD lifecycle orders its clocks, so of the readings
//! that keep that order it takes the one that puts the clocks closest together.
//!
//! The decision is per record, over all of its clocks at once ([`resolve`]); readers carry
//! both possible instants of each clock ([`Reading`]) until the record is complete.

use std::fmt;
use std::str::FromStr;

/// How the ambiguous readings of a record are read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Ambiguous {
    /// Each as the earlier instant (the first pass of the hour).
    Earlier,
    /// Each as the later instant (the second pass).
    Later,
    /// The record is not read (rejected with reason [`AMBIGUOUS_REASON`]).
    Exclude,
    /// The readings that keep the record's clocks in lifecycle order, closest together;
    /// the earlier instant where no choice keeps order.
    #[default]
    Order,
}

/// The reason a record with an ambiguous reading is rejected under [`Ambiguous::Exclude`].
pub const AMBIGUOUS_REASON: &str = "ambiguous_local_time";

impl Ambiguous {
    /// Every rule, in the order they are documented.
    pub const ALL: [Ambiguous; 4] = [
        Ambiguous::Earlier,
        Ambiguous::Later,
        Ambiguous::Exclude,
        Ambiguous::Order,
    ];

    /// The rule's name as written in a mapping or on a command line.
    pub fn name(self) -> &'static str {
        match self {
            Ambiguous::Earlier => "earlier",
            Ambiguous::Later => "later",
            Ambiguous::Exclude => "exclude",
            Ambiguous::Order => "order",
        }
    }
}

impl fmt::Display for Ambiguous {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Ambiguous {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        Ambiguous::ALL
            .into_iter()
            .find(|a| a.name() == s)
            .ok_or_else(|| format!("{s:?} is not one of earlier, later, exclude, order"))
    }
}

/// The instants a clock reading may mean: `earlier == later` when it occurs once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Reading {
    /// The first instant the local reading names.
    pub earlier: i64,
    /// The second (equal to `earlier` unless the reading is in a repeated hour).
    pub later: i64,
}

impl Reading {
    /// A reading that names one instant.
    pub fn exact(t: i64) -> Self {
        Reading {
            earlier: t,
            later: t,
        }
    }

    /// Whether the reading names two instants.
    pub fn is_ambiguous(self) -> bool {
        self.earlier != self.later
    }

    /// The reading `d` later (a duration counted from this clock follows its reading).
    pub fn plus(self, d: i64) -> Self {
        Reading {
            earlier: self.earlier + d,
            later: self.later + d,
        }
    }

    fn pick(self, later: bool) -> i64 {
        if later { self.later } else { self.earlier }
    }
}

/// The clocks of one record and the order they must keep, as indices into `readings`.
#[derive(Debug)]
pub struct RecordClocks<'a> {
    /// Each clock's reading, or `None` when the record does not have it. [`resolve`] leaves
    /// every present reading exact (`earlier == later`), with the chosen instant.
    pub readings: &'a mut [Option<Reading>],
    /// For each clock, the clock it is a duration after: it takes that clock's choice.
    pub follows: &'a [Option<usize>],
    /// Clocks that may not go backwards, in lifecycle order (absent ones are passed over).
    pub chain: &'a [usize],
    /// Further pairs `(a, b)`: `b` not before `a` when both are present.
    pub pairs: &'a [(usize, usize)],
}

/// What [`resolve`] did with one record.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Resolved {
    /// Readings that named two instants (durations after such a clock are not counted).
    pub ambiguous: u64,
    /// Of those, read as the earlier instant because a rule said so or because that kept order.
    pub earlier: u64,
    /// Read as the later instant.
    pub later: u64,
    /// Under [`Ambiguous::Order`], in a record no choice keeps in order: read as earlier.
    pub unordered: u64,
    /// The record is to be rejected ([`Ambiguous::Exclude`] and at least one ambiguous reading).
    pub excluded: bool,
}

/// The lifecycle order a CAD record's clocks keep: indices into the six clocks in
/// [`crate::schema::CLOCKS`] order (`call_received` .. `closed`), each not before the one
/// before it. Every reader of naive clocks orders them by this chain.
pub const LIFECYCLE: [usize; 6] = [0, 1, 2, 3, 4, 5];

/// The index (in [`crate::schema::CLOCKS`]) `call_ended` must not precede: `call_answered`.
pub const CALL_ENDED_AFTER: usize = 1;

/// Decides the readings of the six lifecycle clocks of one record (no other clocks, none
/// a duration after another) under `rule`, in [`LIFECYCLE`] order.
pub fn resolve_lifecycle(rule: Ambiguous, readings: &mut [Option<Reading>; 6]) -> Resolved {
    resolve(
        rule,
        RecordClocks {
            readings,
            follows: &[None; 6],
            chain: &LIFECYCLE,
            pairs: &[],
        },
    )
}

/// What a rule decided over many records: [`Resolved`] summed.
/// `ambiguous == earlier + later + unordered + excluded`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Tally {
    /// Readings in a repeated hour.
    pub ambiguous: u64,
    /// Read as the earlier instant (the rule, or the choice that kept order).
    pub earlier: u64,
    /// Read as the later instant.
    pub later: u64,
    /// In records no choice kept in lifecycle order: read as the earlier instant.
    pub unordered: u64,
    /// In records rejected for them ([`Ambiguous::Exclude`]).
    pub excluded: u64,
    /// Records rejected for an ambiguous reading.
    pub excluded_records: u64,
}

impl Tally {
    /// Adds what the rule did with one record.
    pub fn add(&mut self, r: &Resolved) {
        self.ambiguous += r.ambiguous;
        self.earlier += r.earlier;
        self.later += r.later;
        self.unordered += r.unordered;
        if r.excluded {
            self.excluded += r.ambiguous;
            self.excluded_records += 1;
        }
    }

    /// Adds another tally.
    pub fn merge(&mut self, o: &Tally) {
        self.ambiguous += o.ambiguous;
        self.earlier += o.earlier;
        self.later += o.later;
        self.unordered += o.unordered;
        self.excluded += o.excluded;
        self.excluded_records += o.excluded_records;
    }

    /// What `rule` made of the readings, in words (`records` names what was decided on:
    /// records, updates).
    pub fn describe(&self, rule: Ambiguous, records: &str) -> String {
        match rule {
            Ambiguous::Earlier => "ambiguous = earlier: read as the earlier instant".into(),
            Ambiguous::Later => "ambiguous = later: read as the later instant".into(),
            Ambiguous::Exclude => format!(
                "ambiguous = exclude: {} {records} rejected as {AMBIGUOUS_REASON}",
                self.excluded_records
            ),
            Ambiguous::Order => format!(
                "ambiguous = order: {} kept in order as the earlier instant, {} as the later, {} could not be ordered (read as the earlier)",
                self.earlier, self.later, self.unordered
            ),
        }
    }
}

/// Most ambiguous clocks whose choices [`Ambiguous::Order`] tries together (2^N choices);
/// a record has at most a handful, so this only bounds malformed input.
const MAX_CHOICES: usize = 12;

/// Decides the ambiguous readings of one record under `rule`, in place.
pub fn resolve(rule: Ambiguous, c: RecordClocks<'_>) -> Resolved {
    let n = c.readings.len();
    // The clocks that choose (ambiguous, and not following another clock that chooses).
    let chooses = |i: usize| -> bool {
        let amb = c.readings[i].is_some_and(Reading::is_ambiguous);
        let led = c.follows[i].is_some_and(|b| c.readings[b].is_some_and(Reading::is_ambiguous));
        amb && !led
    };
    let free: Vec<usize> = (0..n).filter(|&i| chooses(i)).collect();
    let mut out = Resolved {
        ambiguous: free.len() as u64,
        ..Resolved::default()
    };
    if free.is_empty() {
        return out;
    }
    // later[i]: clock i's choice; a follower takes its leader's.
    let mut later = vec![false; n];
    match rule {
        Ambiguous::Earlier => out.earlier = out.ambiguous,
        Ambiguous::Later => {
            free.iter().for_each(|&i| later[i] = true);
            out.later = out.ambiguous;
        }
        Ambiguous::Exclude => {
            out.excluded = true;
            return out;
        }
        Ambiguous::Order => {
            // Clocks no constraint touches keep order either way: earlier.
            let constrained: Vec<usize> = free
                .iter()
                .copied()
                .filter(|&i| in_order(&c, i))
                .take(MAX_CHOICES)
                .collect();
            match best_order(&c, &constrained) {
                _ if constrained.is_empty() => out.earlier = out.ambiguous,
                Some(mask) => {
                    for (k, &i) in constrained.iter().enumerate() {
                        later[i] = mask >> k & 1 == 1;
                    }
                    out.later = later.iter().filter(|&&l| l).count() as u64;
                    out.earlier = out.ambiguous - out.later;
                }
                None => out.unordered = out.ambiguous,
            }
        }
    }
    for i in 0..n {
        let choice = match c.follows[i] {
            Some(b) if !free.contains(&i) => later[b],
            _ => later[i],
        };
        if let Some(r) = &mut c.readings[i] {
            *r = Reading::exact(r.pick(choice));
        }
    }
    out
}

/// Whether clock `i`'s reading (or a follower's) takes part in an order constraint.
fn in_order(c: &RecordClocks<'_>, i: usize) -> bool {
    let touches = |j: usize| c.chain.contains(&j) || c.pairs.iter().any(|&(a, b)| a == j || b == j);
    touches(i) || (0..c.follows.len()).any(|j| c.follows[j] == Some(i) && touches(j))
}

/// The choice (bit k: `constrained[k]` read as later) that keeps order with the smallest
/// total span, ties to the fewest later readings, then the lowest bits; `None` when no
/// choice keeps order.
fn best_order(c: &RecordClocks<'_>, constrained: &[usize]) -> Option<u32> {
    let mut best: Option<(i64, u32, u32)> = None;
    let mut later = vec![false; c.readings.len()];
    for mask in 0..(1u32 << constrained.len()) {
        later.iter_mut().for_each(|l| *l = false);
        for (k, &i) in constrained.iter().enumerate() {
            later[i] = mask >> k & 1 == 1;
        }
        let at = |i: usize| -> Option<i64> {
            let r = c.readings[i]?;
            let choice = match c.follows[i] {
                Some(b) if !r.is_ambiguous() || !constrained.contains(&i) => later[b],
                _ => later[i],
            };
            Some(r.pick(choice))
        };
        let mut span = 0i64;
        let mut ok = true;
        let chain: Vec<i64> = c.chain.iter().filter_map(|&i| at(i)).collect();
        for w in chain.windows(2) {
            ok &= w[0] <= w[1];
            span += w[1] - w[0];
        }
        for &(a, b) in c.pairs {
            if let (Some(x), Some(y)) = (at(a), at(b)) {
                ok &= x <= y;
                span += y - x;
            }
        }
        let key = (span, mask.count_ones(), mask);
        if ok && best.is_none_or(|b| key < b) {
            best = Some(key);
        }
    }
    best.map(|(_, _, mask)| mask)
}

#[cfg(test)]
mod tests {
    use super::*;

    const H: i64 = 3600;

    fn amb(t: i64) -> Option<Reading> {
        Some(Reading {
            earlier: t,
            later: t + H,
        })
    }

    fn ex(t: i64) -> Option<Reading> {
        Some(Reading::exact(t))
    }

    /// Six lifecycle clocks, then `call_ended` after `call_answered`.
    fn run(rule: Ambiguous, mut r: Vec<Option<Reading>>) -> (Vec<Option<i64>>, Resolved) {
        let follows = vec![None; r.len()];
        let out = resolve(
            rule,
            RecordClocks {
                readings: &mut r,
                follows: &follows,
                chain: &[0, 1, 2, 3, 4, 5],
                pairs: &[(1, 6)],
            },
        );
        (r.iter().map(|x| x.map(|x| x.earlier)).collect(), out)
    }

    #[test]
    fn names_round_trip() {
        for a in Ambiguous::ALL {
            assert_eq!(a.name().parse::<Ambiguous>(), Ok(a));
        }
        assert!("earliest".parse::<Ambiguous>().is_err());
        assert_eq!(Ambiguous::default(), Ambiguous::Order);
    }

    /// Created in the first pass of the hour, arrived in the second: earlier gives arrival
    /// before dispatch, order reads arrival as later.
    #[test]
    fn order_keeps_the_lifecycle() {
        // dispatched 01:50 first pass (exact stand-in), arrived 01:10 (ambiguous).
        let rec = vec![None, None, ex(100), ex(50 * 60), amb(10 * 60), None, None];
        let (v, r) = run(Ambiguous::Order, rec.clone());
        assert_eq!(v[4], Some(10 * 60 + H));
        assert_eq!((r.ambiguous, r.later, r.earlier, r.unordered), (1, 1, 0, 0));
        let (v, r) = run(Ambiguous::Earlier, rec.clone());
        assert_eq!((v[4], r.earlier), (Some(10 * 60), 1));
        let (v, r) = run(Ambiguous::Later, rec.clone());
        assert_eq!((v[4], r.later), (Some(10 * 60 + H), 1));
        let (_, r) = run(Ambiguous::Exclude, rec);
        assert!(r.excluded && r.ambiguous == 1);
    }

    /// Both choices keep order: the closer one wins (the 57.5 vs 7.5 minute call).
    #[test]
    fn order_takes_the_smallest_span() {
        let answered = amb(58 * 60 + 22); // 01:58:22, either pass
        // 02:05:54, once: 7 min 32 s after the second pass of 01:58:22.
        let ended = ex(58 * 60 + 22 + H + 452);
        let rec = vec![None, answered, None, None, None, None, ended];
        let (v, r) = run(Ambiguous::Order, rec);
        assert_eq!(v[1], Some(58 * 60 + 22 + H));
        assert_eq!((r.later, r.earlier), (1, 0));
        // Nothing to order: an ambiguous clock alone is read as earlier.
        let (v, r) = run(
            Ambiguous::Order,
            vec![None, None, amb(5), None, None, None, None],
        );
        assert_eq!((v[2], r.earlier), (Some(5), 1));
    }

    #[test]
    fn unorderable_records_fall_back_to_earlier() {
        // closed before received whatever the reading of arrived.
        let rec = vec![ex(1000), None, None, None, amb(2000), ex(10), None];
        let (v, r) = run(Ambiguous::Order, rec);
        assert_eq!(v[4], Some(2000));
        assert_eq!((r.ambiguous, r.unordered, r.earlier, r.later), (1, 1, 0, 0));
    }

    /// A duration after an ambiguous clock moves with it and is not a reading of its own.
    #[test]
    fn followers_take_their_leaders_choice() {
        let mut r = vec![ex(0), amb(100), amb(100).map(|x| x.plus(30))];
        let follows = [None, None, Some(1)];
        let out = resolve(
            Ambiguous::Later,
            RecordClocks {
                readings: &mut r,
                follows: &follows,
                chain: &[0, 1, 2],
                pairs: &[],
            },
        );
        assert_eq!(out.ambiguous, 1);
        assert_eq!(r[2], Some(Reading::exact(100 + H + 30)));
    }
}
