//! `scan-floor --input DIR [--threads N] [--exact [--radix]]`: decodes the columns the built-in
//! scorecard needs and prints `{"rows": N, "secs": S}`; `scripts/bench` times it next to
//! `slate run`. With `--exact`, also does the work exact percentiles need, plainly written
//! ([`slate_bench::exact_floor`]) and prints the values sorted too; `--radix` keeps them in
//! one packed vector a partition, radix-sorted at the end, instead of a vector a group. With
//! `--bound`, the same work written for speed ([`slate_bench::bound_floor`]), each phase timed;
//! `--no-keep` computes every second but keeps none (what keeping and ordering cost is the
//! difference).

use std::io::Write;
use std::time::Instant;

use anyhow::{Context, Result, bail};

const USAGE: &str =
    "scan-floor --input DIR [--threads N] [--exact [--radix] | --bound [--no-keep]]";

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> Result<()> {
    let mut inputs = Vec::new();
    let mut threads = None;
    let mut exact = false;
    let mut bound = false;
    let mut keep = true;
    let mut layout = slate_bench::ExactLayout::PerGroup;
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
            "--exact" => exact = true,
            "--radix" => layout = slate_bench::ExactLayout::Radix,
            "--bound" => bound = true,
            "--no-keep" => keep = false,
            other => {
                bail!("unknown argument {other:?}; usage: {USAGE}")
            }
        }
    }
    if inputs.is_empty() {
        bail!("usage: {USAGE}");
    }
    let t0 = Instant::now();
    let rt = slate_engine::runtime(threads)?;
    if exact {
        let (rows, values, _) = rt.block_on(slate_bench::exact_floor(&inputs, threads, layout))?;
        let secs = t0.elapsed().as_secs_f64();
        writeln!(
            std::io::stdout().lock(),
            "{{\"rows\": {rows}, \"values\": {values}, \"secs\": {secs:.6}}}"
        )?;
        return Ok(());
    }
    if bound {
        let f = rt.block_on(slate_bench::bound_floor(&inputs, threads, keep))?;
        let secs = t0.elapsed().as_secs_f64();
        writeln!(
            std::io::stdout().lock(),
            "{{\"rows\": {}, \"values\": {}, \"scan\": {:.6}, \"join\": {:.6}, \"order\": {:.6}, \"secs\": {secs:.6}}}",
            f.rows,
            f.values,
            f.scan_secs,
            f.join_secs,
            f.order_secs
        )?;
        return Ok(());
    }
    let rows = rt.block_on(slate_bench::scan_floor(&inputs, threads))?;
    let secs = t0.elapsed().as_secs_f64();
    writeln!(
        std::io::stdout().lock(),
        "{{\"rows\": {rows}, \"secs\": {secs:.6}}}"
    )?;
    Ok(())
}
