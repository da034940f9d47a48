//! A bounded-time fuzz driver for the two TOML readers users feed: source mappings
//! ([`slate_io::Mapping::from_toml`], then a small CSV read through each mapping that parses)
//! and SLA policies ([`slate_core::SlaPolicy::from_toml`]). cargo-fuzz needs a nightly
//! toolchain; this runs on stable, outside CI, through `scripts/fuzz`.
//!
//! Inputs start from the built-in mappings and policies and the TOML under `fixtures/`, and
//! are mutated: bytes flipped, inserted and deleted, lines spliced from other files, values
//! swapped for huge numbers, odd strftime patterns and odd Unicode, tables and keys
//! duplicated. Errors are fine; a panic is a bug: each one is caught, its input saved under
//! `--crashes DIR`, and the run ends with exit status 1.
//!
//! ```text
//! cargo run -p slate-io --example fuzz_toml -- [--seconds 60] [--seed 1] [--iterations N]
//!     [--crashes target/fuzz-crashes] [--replay FILE]
//! ```

use std::io::Write;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use slate_core::SlaPolicy;
use slate_io::source::{Reject, SourceSink};
use slate_io::{Mapping, read_source};

/// splitmix64: seeded, small, no dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            0
        } else {
            (self.next() % n as u64) as usize
        }
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
}

/// Values a mutation may put in place of another.
const VALUES: &[&str] = &[
    "0",
    "-1",
    "1e309",
    "-1e309",
    "nan",
    "inf",
    "18446744073709551616",
    "-9223372036854775809",
    "9223372036854775807",
    "4294967296",
    "0.0000000000000000000001",
    "\"\"",
    "\"99999999999999999999s\"",
    "\"9223372036854775807d\"",
    "\"1e9wd\"",
    "\"-5m\"",
    "\"1h30m30s15m\"",
    "\"2wd\"",
    "\"%\"",
    "\"%Y\"",
    "\"%-\"",
    "\"%E\"",
    "\"%:z\"",
    "\"%::::z\"",
    "\"%.3f%.9f\"",
    "\"%s\"",
    "\"%+\"",
    "\"%c%x%X\"",
    "\"%Y-%m-%d %H:%M:%S%#z\"",
    "\"%e %b %Y %I:%M:%S %p\"",
    "\"iso\"",
    "\"Europe/London\"",
    "\"Mars/Olympus\"",
    "\"UTC\"",
    "\"\\u0000\"",
    "\"\u{202e}evil\"",
    "\"\u{feff}Id\"",
    "\"é\u{301}\"",
    "\"🙂\"",
    "\"ＩＳＯ\"",
    "\"a\\\"b\"",
    "\"'; DROP TABLE x; --\"",
    "\"grade = 'I' OR\"",
    "\"(((((((((((\"",
    "true",
    "false",
    "[]",
    "[1, 2, 3]",
    "[0.5, 0.5, 1.5, -0.1]",
    "{}",
    "{ index = 4294967295 }",
    "{ index = -1 }",
    "{ index = 18446744073709551615 }",
    "1979-05-27T07:32:00Z",
];

/// Lines a mutation may insert (keys of both readers, tables, odd structure).
const LINES: &[&str] = &[
    "[columns.incident_id]",
    "[columns.call_received]",
    "[columns.call_ended]",
    "[columns.abandoned]",
    "[columns.grade]",
    "[incident]",
    "key = \"id\"",
    "window-rows = 18446744073709551615",
    "window-rows = 0",
    "[keep]",
    "[[measure]]",
    "[[measure.exclude]]",
    "kind = \"deadline\"",
    "kind = \"share\"",
    "calendar = \"england-and-wales\"",
    "calendar = \"/dev/null\"",
    "calendar = \"nowhere.toml\"",
    "percentiles = []",
    "percentiles = [1e308]",
    "target = 1.0000001",
    "grace = \"-1s\"",
    "threshold = \"0s\"",
    "after = \"call_received\"",
    "after = \"arrived\"",
    "seconds = \"x\"",
    "combine = \"max\"",
    "unknown-code = \"keep\"",
    "missing = [\"\", \"NULL\", \"\\u0000\"]",
    "true-values = []",
    "codes = { \"\" = \"\" }",
    "tz = \"America/Sao_Paulo\"",
    "tz = \"Australia/Lord_Howe\"",
    "[[",
    "]]",
    "a.b.c.d.e.f.g = 1",
    "\"\" = 1",
    "x = \"\"\"\nmulti\n\"\"\"",
];

/// Values of the CSV a parsed mapping reads.
const CELLS: &[&str] = &[
    "",
    "x",
    "0",
    "-1",
    "1e308",
    "NaN",
    "2024-03-31 01:30:00",
    "2024-10-27 01:30:00",
    "2024-06-01T10:00:00Z",
    "2024-06-01T10:00:00+14:00",
    "24-06-01",
    "01/06/2024 10:00",
    "1/6/24 10:00:00 PM",
    "10:00:05",
    "99999999999",
    "\"quoted, comma\"",
    "\u{feff}",
    "🙂",
    "9999-12-31 23:59:59",
    "0000-01-01 00:00:00",
    "true",
    "ABANDONED",
];

fn corpus(root: &Path) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for name in slate_io::mapping::builtin_names() {
        out.extend(slate_io::mapping::builtin_text(name).map(str::to_string));
    }
    for (name, _) in slate_core::policy::BUILTINS {
        out.extend(slate_core::policy::builtin_text(name).map(str::to_string));
    }
    let mut stack = vec![root.join("fixtures")];
    while let Some(dir) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else if p.extension().is_some_and(|x| x == "toml")
                && let Ok(text) = std::fs::read_to_string(&p)
            {
                out.push(text);
            }
        }
    }
    out
}

/// One mutation of `text`, some of whose lines may come from `other`.
fn mutate(rng: &mut Rng, text: &str, other: &str) -> String {
    let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
    // Half the inputs get structural mutations only (values, lines, keys), so more of them
    // still parse and reach the checks and the CSV read behind the parser.
    let structural = rng.below(2) == 0;
    let rounds = 1 + rng.below(3);
    for _ in 0..rounds {
        let n = lines.len().max(1);
        match rng.below(if structural { 6 } else { 9 }) {
            // Replace a value.
            0 | 1 => {
                let i = rng.below(n);
                if let Some(line) = lines.get_mut(i)
                    && let Some(eq) = line.find('=')
                {
                    *line = format!("{} = {}", &line[..eq].trim_end(), rng.pick(VALUES));
                }
            }
            // Insert a known line.
            2 => {
                let i = rng.below(n + 1).min(lines.len());
                lines.insert(i, rng.pick(LINES).to_string());
            }
            // Splice a line of another file.
            3 => {
                let o: Vec<&str> = other.lines().collect();
                if !o.is_empty() {
                    let i = rng.below(n + 1).min(lines.len());
                    lines.insert(i, rng.pick(&o).to_string());
                }
            }
            // Duplicate or delete a run of lines.
            4 => {
                let i = rng.below(n).min(lines.len().saturating_sub(1));
                let len = 1 + rng.below(8);
                let run: Vec<String> = lines.iter().skip(i).take(len).cloned().collect();
                if rng.below(2) == 0 {
                    for (k, l) in run.into_iter().enumerate() {
                        lines.insert((i + k).min(lines.len()), l);
                    }
                } else {
                    let end = (i + len).min(lines.len());
                    if i < end {
                        lines.drain(i..end);
                    }
                }
            }
            // Swap two lines.
            5 => {
                if lines.len() > 1 {
                    let (a, b) = (rng.below(lines.len()), rng.below(lines.len()));
                    lines.swap(a, b);
                }
            }
            // Byte-level: flip, insert or delete bytes (may break UTF-8: then lossy).
            _ => {
                let mut bytes = lines.join("\n").into_bytes();
                for _ in 0..1 + rng.below(6) {
                    let i = rng.below(bytes.len() + 1);
                    match rng.below(3) {
                        0 if i < bytes.len() => bytes[i] ^= 1 << rng.below(8),
                        1 => {
                            let b = *rng.pick(b"\"'=[]{},.#\\\n \t0123456789%-_aZ\x00\xff");
                            bytes.insert(i, b);
                        }
                        _ if i < bytes.len() => {
                            bytes.remove(i);
                        }
                        _ => {}
                    }
                }
                lines = String::from_utf8_lossy(&bytes)
                    .lines()
                    .map(str::to_string)
                    .collect();
            }
        }
    }
    lines.join("\n")
}

struct Null;

impl SourceSink for Null {
    fn batch(&mut self, _: arrow::array::RecordBatch) -> slate_io::Result<()> {
        Ok(())
    }
    fn reject(&mut self, _: &Reject) -> slate_io::Result<()> {
        Ok(())
    }
}

/// Quoted strings of a TOML text: the source column names a mapping may refer to.
fn quoted(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    for part in text.split('"').skip(1).step_by(2) {
        if !part.is_empty() && part.len() < 60 && !out.iter().any(|o| o == part) {
            out.push(part.replace(['\n', '\r'], " "));
        }
    }
    out.truncate(40);
    out
}

/// Feeds one input to both readers; a parsed mapping also reads a small CSV.
fn exercise(text: &str, csv_dir: &Path, rng: &mut Rng) -> (bool, bool) {
    let mapping = Mapping::from_toml(text, "fuzz").ok();
    if let Some(m) = &mapping {
        let _ = slate_io::record::output_schema(m);
        let mut header = quoted(text);
        header.extend(["id".to_string(), "x".to_string()]);
        let esc = |s: &str| format!("\"{}\"", s.replace('"', "\"\""));
        let mut csv = header.iter().map(|h| esc(h)).collect::<Vec<_>>().join(",");
        for _ in 0..1 + rng.below(6) {
            csv.push('\n');
            let row: Vec<String> = header
                .iter()
                .map(|_| {
                    let cell = CELLS[rng.below(CELLS.len())];
                    esc(cell)
                })
                .collect();
            csv += &row.join(",");
        }
        let path = csv_dir.join("in.csv");
        if std::fs::write(&path, csv).is_ok() {
            let _ = read_source(&[path], m, 1 + rng.below(4), &mut Null);
        }
    }
    let policy = SlaPolicy::from_toml(text, "fuzz").ok();
    if let Some(p) = &policy {
        let _ = p.clock_columns();
        for m in &p.measures {
            let _ = (m.rule(), m.unit(), m.kind.word(), format!("{m:?}"));
            for r in m.reasons() {
                let _ = m.reason_name(r);
            }
        }
    }
    (mapping.is_some(), policy.is_some())
}

/// The message of the last panic, set by the hook.
static PANIC: Mutex<Option<String>> = Mutex::new(None);

fn main() -> std::process::ExitCode {
    let mut seconds = 60u64;
    let mut seed = 1u64;
    let mut iterations = u64::MAX;
    let mut crashes = PathBuf::from("target/fuzz-crashes");
    let mut replay: Option<PathBuf> = None;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let mut value = || args.next().expect("a value after the flag");
        match a.as_str() {
            "--seconds" => seconds = value().parse().expect("--seconds N"),
            "--seed" => seed = value().parse().expect("--seed N"),
            "--iterations" => iterations = value().parse().expect("--iterations N"),
            "--crashes" => crashes = PathBuf::from(value()),
            "--replay" => replay = Some(PathBuf::from(value())),
            other => panic!("unknown argument {other:?}; see the file's docs"),
        }
    }
    std::panic::set_hook(Box::new(|info| {
        let at = info
            .location()
            .map(|l| format!(" at {}:{}", l.file(), l.line()))
            .unwrap_or_default();
        let msg = info
            .payload()
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| info.payload().downcast_ref::<String>().cloned())
            .unwrap_or_default();
        if let Ok(mut slot) = PANIC.lock() {
            *slot = Some(format!("{msg}{at}"));
        }
    }));
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let tmp = tempfile::tempdir().expect("a temporary folder");
    let mut rng = Rng(seed);
    let mut err = std::io::stderr().lock();
    if let Some(file) = replay {
        let text = std::fs::read_to_string(&file).expect("the input to replay");
        let got = catch_unwind(AssertUnwindSafe(|| exercise(&text, tmp.path(), &mut rng)));
        let _ = writeln!(err, "{}: {got:?}", file.display());
        return match got {
            Ok(_) => std::process::ExitCode::SUCCESS,
            Err(_) => std::process::ExitCode::FAILURE,
        };
    }
    let corpus = corpus(&root);
    let _ = writeln!(
        err,
        "fuzz: {} seed files, seed {seed}, up to {seconds} s",
        corpus.len()
    );
    let t0 = Instant::now();
    let (mut runs, mut mappings, mut policies, mut panics) = (0u64, 0u64, 0u64, 0u64);
    let mut seen: Vec<String> = Vec::new();
    while runs < iterations && t0.elapsed() < Duration::from_secs(seconds) {
        let base = rng.pick(&corpus).clone();
        let other = rng.pick(&corpus).clone();
        let mut text = mutate(&mut rng, &base, &other);
        // Sometimes mutate again, to get further from the seeds.
        for _ in 0..rng.below(3) {
            text = mutate(&mut rng, &text, &other);
        }
        runs += 1;
        match catch_unwind(AssertUnwindSafe(|| exercise(&text, tmp.path(), &mut rng))) {
            Ok((m, p)) => {
                mappings += u64::from(m);
                policies += u64::from(p);
            }
            Err(_) => {
                panics += 1;
                let msg = PANIC
                    .lock()
                    .ok()
                    .and_then(|mut s| s.take())
                    .unwrap_or_default();
                let _ = std::fs::create_dir_all(&crashes);
                let file = crashes.join(format!("crash-{seed}-{runs}.toml"));
                let _ = std::fs::write(&file, &text);
                if !seen.contains(&msg) {
                    let _ = writeln!(err, "PANIC: {msg}\n  input saved to {}", file.display());
                    seen.push(msg);
                }
            }
        }
    }
    let _ = writeln!(
        err,
        "fuzz: {runs} inputs in {:.1} s ({mappings} parsed as mappings, {policies} as policies); \
         {panics} panics ({} distinct)",
        t0.elapsed().as_secs_f64(),
        seen.len()
    );
    if panics > 0 {
        std::process::ExitCode::FAILURE
    } else {
        std::process::ExitCode::SUCCESS
    }
}
