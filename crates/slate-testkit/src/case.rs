//! Random questions for differential tests: policies, windows, groups, zones and periods.

use chrono::NaiveDate;
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use slate_core::WindowKind;

use crate::oracle::{Case, OKind, OMeasure};
use crate::pred::Pred;
use crate::records::CLOCKS;

/// A random case from a seed; the data is expected to cover 2019-2021.
pub fn random_case(seed: u64) -> Case {
    let mut rng = SmallRng::seed_from_u64(seed);
    let n = rng.random_range(1..=4);
    let measures = (0..n)
        .map(|i| {
            // Mostly forward pairs; sometimes any pair, which makes negative durations.
            let (a, b) = if rng.random_bool(0.8) {
                let a = rng.random_range(0..CLOCKS.len() - 1);
                (a, rng.random_range(a + 1..CLOCKS.len()))
            } else {
                let a = rng.random_range(0..CLOCKS.len());
                let mut b = rng.random_range(0..CLOCKS.len());
                if b == a {
                    b = (a + 1) % CLOCKS.len();
                }
                (a, b)
            };
            let n_ps = rng.random_range(1..=4);
            let mut percentiles: Vec<f64> = (0..n_ps)
                .map(|_| match rng.random_range(0..6) {
                    0 => 0.0,
                    1 => 1.0,
                    2 => 0.5,
                    3 => 0.9,
                    4 => 0.999,
                    _ => (rng.random_range(1..100) as f64) / 100.0,
                })
                .collect();
            percentiles.sort_by(f64::total_cmp);
            percentiles.dedup();
            let exclusions = (0..rng.random_range(0..=2))
                .map(|j| (format!("ex{j}"), Pred::random(&mut rng, 1)))
                .collect();
            // Mostly durations; working days, deadlines (lateness of either sign, since any
            // pair can come out) and shares too.
            let kind = match rng.random_range(0..20) {
                0..=11 => OKind::Duration,
                12..=14 => OKind::WorkingDays,
                15..=17 => OKind::Deadline,
                _ => OKind::Share(Pred::random(&mut rng, 1)),
            };
            let threshold_s = match kind {
                OKind::WorkingDays => [0, 1, 2, 5][rng.random_range(0..4)],
                OKind::Deadline => [0, 60, 900, 3600][rng.random_range(0..4)],
                OKind::Share(_) => 0,
                OKind::Duration => [10, 30, 60, 720, 900, 3600, 86_400][rng.random_range(0..7)],
            };
            if matches!(kind, OKind::Share(_)) {
                percentiles.clear();
            }
            OMeasure {
                id: format!("m{i}"),
                stop: if matches!(kind, OKind::Share(_)) {
                    CLOCKS[a]
                } else {
                    CLOCKS[b]
                },
                kind,
                start: CLOCKS[a],
                where_: rng.random_bool(0.7).then(|| Pred::random(&mut rng, 2)),
                threshold_s,
                target: rng
                    .random_bool(0.5)
                    .then(|| [0.75, 0.9, 0.5][rng.random_range(0..3)]),
                percentiles,
                exclusions,
            }
        })
        .collect();
    let window = WindowKind::ALL[rng.random_range(0..WindowKind::ALL.len())];
    let all_groups = ["borough", "grade", "channel"];
    let group_by = all_groups
        .into_iter()
        .filter(|_| rng.random_bool(0.5))
        .collect();
    let tz = [
        chrono_tz::Europe::London,
        chrono_tz::America::Los_Angeles,
        chrono_tz::UTC,
    ][rng.random_range(0..3)];
    let date = |y, m, d| NaiveDate::from_ymd_opt(y, m, d).expect("valid");
    let (from, to) = match rng.random_range(0..4) {
        0 => (Some(date(2019, 3, 17)), Some(date(2021, 2, 10))),
        1 => (Some(date(2019, 4, 1)), Some(date(2021, 4, 1))),
        2 => (None, Some(date(2020, 10, 25))),
        _ => (None, None),
    };
    Case {
        seed,
        measures,
        window,
        group_by,
        tz,
        from,
        to,
        nearest_rank: rng.random_bool(0.3),
        naive: false,
    }
}
