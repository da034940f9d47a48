//! SQL-level tests of slate's functions: `.slt` files beside this runner, executed against a
//! DataFusion context with `sla_hist`, `sla_bucket` and the `hist_*` readers registered.

#![allow(clippy::unwrap_used, clippy::print_stdout)] // a test harness: it reports on stdout, a panic is a failure

use std::path::Path;
use std::sync::Arc;

use datafusion::arrow::array::RecordBatch;
use datafusion::arrow::util::display::{ArrayFormatter, FormatOptions};
use datafusion::prelude::SessionContext;
use sqllogictest::{DBOutput, DefaultColumnType};

struct Slate {
    ctx: SessionContext,
}

#[derive(Debug)]
struct SqlError(String);

impl std::fmt::Display for SqlError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for SqlError {}

fn rows_of(batches: &[RecordBatch]) -> Result<Vec<Vec<String>>, SqlError> {
    let opts = FormatOptions::default().with_null("NULL");
    let mut rows = Vec::new();
    for b in batches {
        let fmts: Vec<ArrayFormatter> = b
            .columns()
            .iter()
            .map(|c| ArrayFormatter::try_new(c.as_ref(), &opts))
            .collect::<Result<_, _>>()
            .map_err(|e| SqlError(e.to_string()))?;
        for i in 0..b.num_rows() {
            rows.push(fmts.iter().map(|f| f.value(i).to_string()).collect());
        }
    }
    Ok(rows)
}

#[async_trait::async_trait]
impl sqllogictest::AsyncDB for Slate {
    type Error = SqlError;
    type ColumnType = DefaultColumnType;

    async fn run(&mut self, sql: &str) -> Result<DBOutput<Self::ColumnType>, Self::Error> {
        let df = self
            .ctx
            .sql(sql)
            .await
            .map_err(|e| SqlError(e.to_string()))?;
        let schema = df.schema().clone();
        let batches = df.collect().await.map_err(|e| SqlError(e.to_string()))?;
        if schema.fields().is_empty() {
            return Ok(DBOutput::StatementComplete(0));
        }
        Ok(DBOutput::Rows {
            types: vec![DefaultColumnType::Any; schema.fields().len()],
            rows: rows_of(&batches)?,
        })
    }

    async fn shutdown(&mut self) {}

    fn engine_name(&self) -> &str {
        "slate-datafusion"
    }
}

fn main() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/slt");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .expect("tests/slt exists")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "slt"))
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no .slt files in {}", dir.display());
    let name = |p: &Path| {
        p.file_name()
            .and_then(|n| n.to_str())
            .unwrap_or("")
            .to_string()
    };
    // The libtest protocol that cargo-nextest speaks: `--list` names the tests, one per file;
    // a positional argument runs just that file.
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.iter().any(|a| a == "--list") {
        if !args.iter().any(|a| a == "--ignored") {
            for f in &files {
                println!("{}: test", name(f));
            }
        }
        return;
    }
    if let Some(filter) = args.iter().find(|a| !a.starts_with("--")) {
        let exact = args.iter().any(|a| a == "--exact");
        files.retain(|f| {
            if exact {
                name(f) == *filter
            } else {
                name(f).contains(filter.as_str())
            }
        });
    }
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let mut failed = 0;
    for f in &files {
        let mut runner = sqllogictest::Runner::new(|| async {
            let ctx = SessionContext::new();
            let tz = Arc::new(slate_core::TzRules::from_name("Europe/London").expect("zone"));
            slate_engine::udf::register_all(&ctx, tz);
            Ok(Slate { ctx })
        });
        match rt.block_on(runner.run_file_async(f)) {
            Ok(()) => println!("ok   {}", f.display()),
            Err(e) => {
                failed += 1;
                eprintln!("FAIL {}\n{e}", f.display());
            }
        }
    }
    println!("{} passed, {failed} failed", files.len() - failed);
    if failed > 0 {
        std::process::exit(1);
    }
}
