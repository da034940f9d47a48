//! `scan-floor --input DIR [--threads N]`: decodes the columns the built-in scorecard needs
//! and prints `{"rows": N, "secs": S}`; `scripts/bench` times it next to `slate run`.

use std::io::Write;
use std::time::Instant;

use anyhow::{Context, Result, bail};

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> Result<()> {
    let mut inputs = Vec::new();
    let mut threads = None;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--input" => inputs.push(args.next().context("--input needs a path")?),
            "--threads" => {
                let n = args.next().context("--threads needs a number")?;
                threads = Some(
                    n.parse::<usize>()
                        .with_context(|| format!("--threads {n}"))?,
                );
            }
            other => {
                bail!("unknown argument {other:?}; usage: scan-floor --input DIR [--threads N]")
            }
        }
    }
    if inputs.is_empty() {
        bail!("usage: scan-floor --input DIR [--threads N]");
    }
    let t0 = Instant::now();
    let rt = slate_engine::runtime(threads)?;
    let rows = rt.block_on(slate_bench::scan_floor(&inputs, threads))?;
    let secs = t0.elapsed().as_secs_f64();
    writeln!(
        std::io::stdout().lock(),
        "{{\"rows\": {rows}, \"secs\": {secs:.6}}}"
    )?;
    Ok(())
}
