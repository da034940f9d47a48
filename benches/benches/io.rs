//! Parquet scan of the columns the built-in scorecard needs (the "scan floor"), against
//! reading every column. Ids are `io/case/rows`; the seeded files are written before timing.

// `criterion_group!` defines a public function that cannot carry a doc comment.
#![allow(missing_docs)]

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};

fn scan(c: &mut Criterion) {
    let rt = slate_engine::runtime(None).expect("a tokio runtime");
    let mut g = c.benchmark_group("io");
    g.sample_size(10);
    for rows in [10_000u64, 1_000_000] {
        let dir = tempfile::tempdir().expect("a temp dir");
        slate_bench::write_sample(dir.path(), rows).expect("sample written");
        let inputs = vec![dir.path().display().to_string()];
        g.throughput(Throughput::Elements(rows));
        g.bench_function(format!("scan_needed/{rows}"), |b| {
            b.to_async(&rt).iter(|| async {
                black_box(slate_bench::scan_floor(&inputs, None).await.expect("scan"))
            })
        });
        g.bench_function(format!("read_all_columns/{rows}"), |b| {
            b.iter(|| {
                let files = slate_io::expand_inputs(&inputs).expect("inputs");
                let n: usize = files
                    .iter()
                    .flat_map(|f| slate_io::parquet::read_file(f).expect("read"))
                    .map(|batch| batch.num_rows())
                    .sum();
                black_box(n)
            })
        });
    }
    g.finish();
}

criterion_group!(benches, scan);
criterion_main!(benches);
