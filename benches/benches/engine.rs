//! The engine end to end: the built-in policy's monthly scorecard by borough and grade over
//! seeded Parquet, and the `sla_hist` aggregate alone over an in-memory table (no decoding).
//! Ids are `engine/case/rows`; inputs are written or loaded before timing.

// `criterion_group!` defines a public function that cannot carry a doc comment.
#![allow(missing_docs)]

use std::hint::black_box;
use std::sync::Arc;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use datafusion::datasource::MemTable;
use slate_core::{PercentileMethod, SlaPolicy, WindowKind};
use slate_engine::{ScorecardOptions, run_scorecard, session};

fn options(window: WindowKind, threads: Option<usize>) -> ScorecardOptions {
    ScorecardOptions {
        window,
        group_by: vec!["borough".into(), "grade".into()],
        tz: slate_bench::london(),
        from: None,
        to: None,
        method: PercentileMethod::Linear,
        rollups: true,
        threads,
    }
}

fn scorecard(c: &mut Criterion) {
    let rt = slate_engine::runtime(None).expect("a tokio runtime");
    let policy = SlaPolicy::builtin("mps-promise-2008").expect("built-in policy");
    let mut g = c.benchmark_group("engine");
    g.sample_size(10);
    for rows in [10_000u64, 1_000_000] {
        let dir = tempfile::tempdir().expect("a temp dir");
        slate_bench::write_sample(dir.path(), rows).expect("sample written");
        let inputs = vec![dir.path().display().to_string()];
        g.throughput(Throughput::Elements(rows));
        for (name, window, threads) in [
            ("scorecard_month", WindowKind::Month, None),
            ("scorecard_month_1thread", WindowKind::Month, Some(1)),
            ("scorecard_day", WindowKind::Day, None),
        ] {
            let opts = options(window, threads);
            g.bench_function(format!("{name}/{rows}"), |b| {
                b.to_async(&rt).iter(|| async {
                    let card = run_scorecard(&inputs, &policy, &opts)
                        .await
                        .expect("scorecard");
                    black_box(card.scores.rows.len())
                })
            });
        }
    }
    g.finish();
}

fn sla_hist(c: &mut Criterion) {
    let rt = slate_engine::runtime(None).expect("a tokio runtime");
    let mut g = c.benchmark_group("engine");
    g.sample_size(10);
    let rows = 1_000_000u64;
    let batches =
        slate_datagen::generate_all(&slate_bench::sample_config(rows), &slate_bench::london());
    let schema = batches[0].schema();
    // Two partitions, as on the 2-core machine the figures are published from.
    let half = batches.len() / 2;
    let parts = vec![batches[..half].to_vec(), batches[half..].to_vec()];
    let table = Arc::new(MemTable::try_new(schema, parts).expect("mem table"));
    let ctx = session(slate_bench::london(), Some(2));
    ctx.register_table("t", table).expect("registered");
    let sql = "SELECT borough, grade, \
               sla_hist(call_received, arrived, CASE WHEN cancelled THEN 1 ELSE 0 END) AS h \
               FROM t GROUP BY borough, grade";
    g.throughput(Throughput::Elements(rows));
    g.bench_function(format!("sla_hist_by_borough_grade/{rows}"), |b| {
        b.to_async(&rt).iter(|| async {
            let out = ctx
                .sql(sql)
                .await
                .expect("plan")
                .collect()
                .await
                .expect("run");
            black_box(out.iter().map(|b| b.num_rows()).sum::<usize>())
        })
    });
    g.finish();
}

criterion_group!(benches, scorecard, sla_hist);
criterion_main!(benches);
