//! Round axis ticks ("nice numbers"), the rule plotting libraries use: the step is the
//! smallest round step giving at most about `target` intervals, and the axis runs from a
//! multiple of the step below the data to one above it, so its ends are labelled too.
//!
//! Plain numbers (percentages, counts, working days) step by 1, 2 or 5 x 10^k. Durations
//! step by what a clock reader counts in: 1, 2, 5, 10, 20, 30 s; 1, 2, 5, 10, 15, 30 min;
//! 1, 2, 3, 6, 12 h; then 1, 2 or 5 x 10^k days; every label of an axis is in its step's unit
//! ("15 min", never "16.7 min"). Every chart axis of the report is laid out here.

/// An axis: its range (the data's, widened to whole steps) and its ticks with their labels.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Axis {
    pub(crate) lo: f64,
    pub(crate) hi: f64,
    pub(crate) ticks: Vec<(f64, String)>,
}

/// The smallest of 1, 2, 5 x 10^k at or above `raw` (> 0).
pub(crate) fn nice_step(raw: f64) -> f64 {
    let mag = 10f64.powf(raw.log10().floor());
    [1.0, 2.0, 5.0, 10.0]
        .into_iter()
        .map(|m| m * mag)
        // A relative tolerance: 0.3 / 3 is 0.09999999999999999, whose step is 0.1.
        .find(|s| *s >= raw * (1.0 - 1e-9))
        .unwrap_or(10.0 * mag)
}

/// `[lo, hi]` as whole multiples of `step`: the indices of the first and last tick.
fn span(lo: f64, hi: f64, step: f64) -> (i64, i64) {
    // The tolerance keeps 0.30000000000000004 / 0.1 from opening one more step.
    let first = (lo / step + 1e-9).floor() as i64;
    let last = (hi / step - 1e-9).ceil() as i64;
    (first, last.max(first + 1))
}

/// A data range made usable: finite, ordered and not empty.
fn usable(lo: f64, hi: f64) -> (f64, f64) {
    let (lo, hi) = match (lo.is_finite(), hi.is_finite()) {
        (true, true) => (lo.min(hi), lo.max(hi)),
        (true, false) => (lo, lo),
        (false, true) => (hi, hi),
        (false, false) => (0.0, 1.0),
    };
    if hi > lo {
        (lo, hi)
    } else if lo == 0.0 {
        (0.0, 1.0)
    } else {
        // One value: a range around it of a tenth of its size.
        (lo - lo.abs() * 0.05, hi + hi.abs() * 0.05)
    }
}

/// Decimals that show every multiple of `step` exactly (0 for steps of 1 and above).
fn decimals(step: f64) -> usize {
    (-(step.log10() + 1e-9).floor()).max(0.0) as usize
}

/// A number with `d` decimals, and no minus sign on zero.
pub(crate) fn number(v: f64, d: usize) -> String {
    let s = format!("{v:.d$}");
    if s.trim_start_matches('-')
        .chars()
        .all(|c| c == '0' || c == '.')
    {
        s.trim_start_matches('-').to_string()
    } else {
        s
    }
}

/// A 1/2/5 axis covering `[lo, hi]` with at most about `target` intervals, labelled by
/// `label(value, decimals)`.
pub(crate) fn linear(
    lo: f64,
    hi: f64,
    target: usize,
    label: impl Fn(f64, usize) -> String,
) -> Axis {
    let (lo, hi) = usable(lo, hi);
    let step = nice_step((hi - lo) / target.max(1) as f64);
    let d = decimals(step);
    stepped(lo, hi, step, |v| label(v, d))
}

/// The axis over `[lo, hi]` widened to whole multiples of `step`, each tick labelled.
fn stepped(lo: f64, hi: f64, step: f64, label: impl Fn(f64) -> String) -> Axis {
    let (first, last) = span(lo, hi, step);
    Axis {
        lo: first as f64 * step,
        hi: last as f64 * step,
        ticks: (first..=last)
            .map(|i| {
                let v = i as f64 * step;
                (v, label(v))
            })
            .collect(),
    }
}

/// A proportion axis in percent (`90%`, `92.5%`), never beyond `[0, 1]`: the range is
/// widened to whole steps, then clipped (0 and 100% are multiples of every step used).
pub(crate) fn percent(lo: f64, hi: f64, target: usize) -> Axis {
    let mut a = linear(lo * 100.0, hi * 100.0, target, |v, d| {
        format!("{}%", number(v, d))
    });
    a.ticks.retain(|t| (-1e-9..=100.0 + 1e-9).contains(&t.0));
    for t in &mut a.ticks {
        t.0 /= 100.0;
    }
    a.lo = (a.lo / 100.0).max(0.0);
    a.hi = (a.hi / 100.0).min(1.0);
    a
}

/// A count axis (`0`, `500`, `1,000`): whole numbers only, from `lo`.
pub(crate) fn counts(lo: f64, hi: f64, target: usize) -> Axis {
    let (lo, hi) = usable(lo, hi);
    let step = nice_step((hi - lo) / target.max(1) as f64).max(1.0);
    stepped(lo, hi, step, |v| thousands(v as i64))
}

fn thousands(n: i64) -> String {
    let s = n.unsigned_abs().to_string();
    let mut out = String::new();
    if n < 0 {
        out.push('-');
    }
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// Duration steps in seconds, with the unit their labels use.
const DURATION_STEPS: &[(f64, f64, &str)] = &[
    (1.0, 1.0, "s"),
    (2.0, 1.0, "s"),
    (5.0, 1.0, "s"),
    (10.0, 1.0, "s"),
    (20.0, 1.0, "s"),
    (30.0, 1.0, "s"),
    (60.0, 60.0, "min"),
    (120.0, 60.0, "min"),
    (300.0, 60.0, "min"),
    (600.0, 60.0, "min"),
    (900.0, 60.0, "min"),
    (1800.0, 60.0, "min"),
    (3600.0, 3600.0, "h"),
    (7200.0, 3600.0, "h"),
    (10800.0, 3600.0, "h"),
    (21600.0, 3600.0, "h"),
    (43200.0, 3600.0, "h"),
];

/// A duration axis over `[lo, hi]` seconds (negative: early, for lateness).
pub(crate) fn duration(lo: f64, hi: f64, target: usize) -> Axis {
    let (lo, hi) = usable(lo, hi);
    let raw = (hi - lo) / target.max(1) as f64;
    let (step, unit, name) = match DURATION_STEPS.iter().find(|s| s.0 >= raw * (1.0 - 1e-9)) {
        Some(&(step, unit, name)) if raw >= 1.0 => (step, unit, name),
        // Under a second per interval: 1/2/5 fractions of a second.
        _ if raw < 1.0 => (nice_step(raw), 1.0, "s"),
        // Half a day and more per interval: 1, 2 or 5 x 10^k days.
        _ => (nice_step(raw / 86_400.0) * 86_400.0, 86_400.0, "d"),
    };
    let d = decimals(step / unit);
    stepped(lo, hi, step, |v| format!("{} {name}", number(v / unit, d)))
}

/// The step, in windows, between labelled windows: the first of `steps` (calendar-round
/// counts for the window family, ascending) that gives at most `target` labels; beyond them,
/// multiples of the largest.
pub(crate) fn window_step(n: usize, target: usize, steps: &[usize]) -> usize {
    let target = target.max(1);
    let fits = |s: usize| n.div_ceil(s.max(1)) <= target;
    if let Some(s) = steps.iter().copied().find(|s| fits(*s)) {
        return s.max(1);
    }
    let big = steps.last().copied().unwrap_or(1).max(1);
    (1..).map(|k| k * big).find(|s| fits(*s)).unwrap_or(big)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn values(a: &Axis) -> Vec<f64> {
        a.ticks.iter().map(|t| t.0).collect()
    }

    fn labels(a: &Axis) -> Vec<&str> {
        a.ticks.iter().map(|t| t.1.as_str()).collect()
    }

    #[test]
    fn steps_are_one_two_or_five_times_a_power_of_ten() {
        for (raw, step) in [
            (0.7, 1.0),
            (1.0, 1.0),
            (1.01, 2.0),
            (2.2, 5.0),
            (5.1, 10.0),
            (0.03, 0.05),
            (0.3 / 3.0, 0.1),
            (1234.0, 2000.0),
        ] {
            assert!((nice_step(raw) - step).abs() < 1e-12, "{raw} -> {step}");
        }
    }

    #[test]
    fn durations_tick_in_round_minutes_not_thousands_of_seconds() {
        // The axis: percentiles up to 50 min ticked at 16.7, 33.3 and 50.0 min.
        let a = duration(0.0, 3000.0, 4);
        assert_eq!(
            labels(&a),
            ["0 min", "15 min", "30 min", "45 min", "60 min"]
        );
        assert_eq!((a.lo, a.hi), (0.0, 3600.0));
        // Seconds step by 1/2/5 x 10^k.
        let a = duration(0.0, 38.0, 5);
        assert_eq!(labels(&a), ["0 s", "10 s", "20 s", "30 s", "40 s"]);
        let a = duration(3.0, 11.0, 5);
        assert_eq!(labels(&a), ["2 s", "4 s", "6 s", "8 s", "10 s", "12 s"]);
        // Hours, and lateness below zero.
        let a = duration(0.0, 5.0 * 3600.0, 5);
        assert_eq!(labels(&a), ["0 h", "1 h", "2 h", "3 h", "4 h", "5 h"]);
        let a = duration(-700.0, 1000.0, 4);
        assert_eq!(
            labels(&a),
            ["-20 min", "-10 min", "0 min", "10 min", "20 min"]
        );
        // Days beyond twelve hours a step.
        let a = duration(0.0, 9.0 * 86_400.0, 4);
        assert_eq!(labels(&a), ["0 d", "5 d", "10 d"]);
        // Every label is a whole number of its unit.
        for hi in [7.0, 59.0, 61.0, 130.0, 899.0, 3601.0, 7300.0, 50_000.0] {
            for t in &duration(0.0, hi, 5).ticks {
                assert!(!t.1.contains('.'), "{hi}: {}", t.1);
            }
        }
    }

    #[test]
    fn percent_axes_are_round_and_stay_within_zero_and_one() {
        let a = percent(0.871, 0.931, 5);
        assert_eq!(labels(&a), ["86%", "88%", "90%", "92%", "94%"]);
        let a = percent(0.62, 0.99, 5);
        assert_eq!(labels(&a), ["60%", "70%", "80%", "90%", "100%"]);
        assert_eq!(a.hi, 1.0);
        let a = percent(0.0, 1.0, 5);
        assert_eq!(values(&a), [0.0, 0.2, 0.4, 0.6, 0.8, 1.0]);
        let a = percent(0.9012, 0.9047, 5);
        assert_eq!(labels(&a), ["90.1%", "90.2%", "90.3%", "90.4%", "90.5%"]);
        // One value, or nothing finite: still an axis.
        assert!(percent(0.5, 0.5, 5).ticks.len() >= 2);
        assert!(percent(f64::NAN, f64::NAN, 5).ticks.len() >= 2);
    }

    #[test]
    fn counts_are_whole_with_thousands_separators() {
        let a = counts(0.0, 6480.0, 6);
        assert_eq!(labels(&a), ["0", "2,000", "4,000", "6,000", "8,000"]);
        let a = counts(0.0, 3.2, 6);
        assert_eq!(labels(&a), ["0", "1", "2", "3", "4"]);
    }

    #[test]
    fn working_days_and_plain_numbers() {
        let a = linear(0.0, 1.5, 5, |v, d| format!("{} wd", number(v, d)));
        assert_eq!(labels(&a), ["0.0 wd", "0.5 wd", "1.0 wd", "1.5 wd"]);
        let a = linear(0.0, 12.0, 5, |v, d| format!("{} wd", number(v, d)));
        assert_eq!(labels(&a), ["0 wd", "5 wd", "10 wd", "15 wd"]);
        assert_eq!(number(-0.0001, 1), "0.0");
    }

    #[test]
    fn window_steps_are_calendar_round() {
        let months = [1, 2, 3, 6, 12];
        assert_eq!(window_step(36, 6, &months), 6);
        assert_eq!(window_step(5, 6, &months), 1);
        assert_eq!(window_step(120, 6, &months), 24);
        let weeks = [1, 2, 4, 13, 26, 52];
        assert_eq!(window_step(19, 5, &weeks), 4);
        assert_eq!(window_step(0, 5, &weeks), 1);
    }
}
