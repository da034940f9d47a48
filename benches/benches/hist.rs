//! The histogram at the heart of `sla_hist`: update (one duration at a time, as the
//! `GroupsAccumulator` does), merge (day cells into a month, as the cube does), the binary
//! state DataFusion ships between partial and final aggregation, and reading percentiles.
//!
//! Ids are `hist/case/values`. Inputs are made outside the timed closures.

// `criterion_group!` defines a public function that cannot carry a doc comment.
#![allow(missing_docs)]

use std::hint::black_box;

use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use slate_core::stats::{PercentileMethod, Summary};
use slate_core::{Histogram, MeasureCell};

/// Log-normal-ish attendance times (median ~6.5 min, long right tail), from a fixed-seed
/// xorshift so the inputs are the same on every run.
fn durations(n: usize, seed: u64) -> Vec<i64> {
    let mut s = seed.max(1);
    (0..n)
        .map(|_| {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            // Sum of three uniforms ~ bell-shaped in log space.
            let u: f64 = (0..3)
                .map(|k| ((s >> (k * 20)) & 0xFFFFF) as f64 / 1_048_576.0)
                .sum::<f64>()
                / 3.0;
            (390.0 * ((u - 0.5) * 2.5).exp()).floor() as i64
        })
        .collect()
}

fn update(c: &mut Criterion) {
    let mut g = c.benchmark_group("hist/update");
    for n in [10_000usize, 1_000_000] {
        let values = durations(n, 7);
        // Nanosecond clock pairs, as the accumulator hands them to `MeasureCell::record`.
        let clocks: Vec<(i128, i128)> = values
            .iter()
            .enumerate()
            .map(|(i, &d)| {
                let a = 1_500_000_000_000_000_000i128 + i as i128 * 7_919_000_000;
                (a, a + i128::from(d) * 1_000_000_000 + 123_456_789)
            })
            .collect();
        g.throughput(Throughput::Elements(n as u64));
        g.bench_function(format!("add/{n}"), |b| {
            b.iter(|| {
                let mut h = Histogram::new();
                for &v in &values {
                    h.add(v);
                }
                h.fold();
                black_box(h.count())
            })
        });
        g.bench_function(format!("record/{n}"), |b| {
            b.iter(|| {
                let mut cell = MeasureCell::default();
                for &(a, z) in &clocks {
                    cell.record(Some(a), Some(z));
                }
                black_box(cell.n_eligible())
            })
        });
    }
    g.finish();
}

fn merge(c: &mut Criterion) {
    let mut g = c.benchmark_group("hist/merge");
    // A month of day cells for one group, ~30 records a day, and 3,650 day cells (ten years).
    for (cells, per_cell) in [(31usize, 30usize), (3_650, 30)] {
        let parts: Vec<Histogram> = (0..cells)
            .map(|i| Histogram::from_values(durations(per_cell, i as u64 + 1)))
            .collect();
        g.throughput(Throughput::Elements((cells * per_cell) as u64));
        g.bench_function(format!("cells/{cells}x{per_cell}"), |b| {
            b.iter(|| {
                let mut acc = Histogram::new();
                for p in &parts {
                    acc.merge(p);
                }
                black_box(acc.count())
            })
        });
    }
    g.finish();
}

fn state(c: &mut Criterion) {
    let mut g = c.benchmark_group("hist/state");
    let mut cell = MeasureCell::default();
    for v in durations(100_000, 3) {
        cell.hist.add(v);
    }
    cell.hist.fold();
    let mut bytes = Vec::new();
    cell.encode(&mut bytes);
    g.throughput(Throughput::Elements(100_000));
    g.bench_function("encode/100000", |b| {
        let mut buf = Vec::with_capacity(bytes.len());
        b.iter(|| {
            buf.clear();
            cell.encode(&mut buf);
            black_box(buf.len())
        })
    });
    g.bench_function("decode/100000", |b| {
        b.iter(|| black_box(MeasureCell::decode(&bytes).map(|c| c.n_eligible())))
    });
    g.finish();
}

fn percentile(c: &mut Criterion) {
    let mut g = c.benchmark_group("hist/percentile");
    for n in [10_000usize, 1_000_000] {
        let mut h = Histogram::from_values(durations(n, 11));
        h.fold();
        g.throughput(Throughput::Elements(n as u64));
        g.bench_function(format!("summary/{n}"), |b| {
            b.iter(|| {
                black_box(Summary::of(
                    &h,
                    720,
                    &[0.5, 0.9, 0.95, 0.99],
                    PercentileMethod::Linear,
                ))
            })
        });
        // Reading from a histogram with unfolded adds pays for the fold on each read.
        g.bench_function(format!("summary_unfolded/{n}"), |b| {
            b.iter_batched(
                || {
                    let mut h2 = h.clone();
                    h2.add(400);
                    h2
                },
                |h2| {
                    black_box(Summary::of(
                        &h2,
                        720,
                        &[0.5, 0.9, 0.95, 0.99],
                        PercentileMethod::Linear,
                    ))
                },
                BatchSize::LargeInput,
            )
        });
    }
    g.finish();
}

criterion_group!(benches, update, merge, state, percentile);
criterion_main!(benches);
