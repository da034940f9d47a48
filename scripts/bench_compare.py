#!/usr/bin/env python3
"""slate against DuckDB and Polars on the same scorecard question (driven by scripts/bench).

Subcommands:
  engine NAME   run one engine once in this process (duckdb, duckdb-plain, polars, pyarrow-scan);
                writes the scorecard and ledger normalised to slate's schema and prints {"secs": ...}
  compare       check that the engines agree, then time them and write docs/bench/*
  matrix        the same question over data of several shapes (slate gen's, and other writers'
                from scripts/gen_other_writers.py): check, time slate against DuckDB with and
                without rollups and against the scan floor, write docs/bench/matrix.{csv,md}
  capacity      `slate capacity`'s demand profile checked against DuckDB per channel and
                15-minute slot of the week, then timed against `slate run` on the same files
                (issue 15: the profile should cost no more than a scorecard); writes
                docs/bench/capacity.{csv,md}

The question is the one `slate run --policy builtin:mps-promise-2008 --window month
--by borough,grade` answers: the policy is read from slate's own TOML file, so the three
engines are given the same measures, predicates, thresholds and targets.
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import functools
import json
import math
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

try:
    import tomllib
except ImportError:  # Python < 3.11
    import tomli as tomllib  # type: ignore[no-redef]

ROOT = Path(__file__).resolve().parent.parent
POLICY_TOML = ROOT / "crates/slate-core/src/policies/mps-promise-2008.toml"
TZ = "Europe/London"
PERCENTILES = [0.5, 0.9, 0.95, 0.99]
PCOLS = ["p50_s", "p90_s", "p95_s", "p99_s"]
BUILTIN_REASONS = ["missing_start", "missing_stop", "negative_duration"]
LEVELS = {  # GROUPING(borough, grade) bits -> slate's level name
    0: "borough+grade",
    1: "borough",
    2: "grade",
    3: "all",
}
NEEDED = ["borough", "grade", "channel", "cancelled", "call_received", "call_answered", "arrived"]
Z95 = 1.959_963_984_540_054


# ---------------------------------------------------------------------------------------------
# The policy


def parse_secs(s: str) -> int:
    m = re.fullmatch(r"\s*(\d+)\s*(s|m|h)\s*", s)
    if not m:
        raise SystemExit(f"cannot read threshold {s!r}")
    return int(m.group(1)) * {"s": 1, "m": 60, "h": 3600}[m.group(2)]


def load_policy() -> list[dict]:
    doc = tomllib.loads(POLICY_TOML.read_text())
    out = []
    for m in doc["measure"]:
        out.append(
            {
                "id": m["id"],
                "start": m["start"],
                "stop": m["stop"],
                "where": m.get("where"),
                "threshold_s": parse_secs(m["threshold"]),
                "target": m.get("target"),
                "exclude": [(e["reason"], e["where"]) for e in m.get("exclude", [])],
            }
        )
    return out


def reasons_of(policy: list[dict]) -> list[str]:
    named = []
    for m in policy:
        for r, _ in m["exclude"]:
            if r not in named:
                named.append(r)
    return named + BUILTIN_REASONS


# ---------------------------------------------------------------------------------------------
# DuckDB: one SQL statement, GROUPING SETS for the rollups, quantile_cont and filtered counts


def naive_clocks(data: str) -> bool:
    """Whether the data's clocks are naive timestamps (no zone in the Parquet type)."""
    import pyarrow.parquet as pq

    first = next(iter(sorted(Path(data).rglob("*.parquet"))))
    return pq.read_schema(first).field("call_received").type.tz is None


@functools.lru_cache
def ambiguous_month_hours(tz: str, years: range = range(1970, 2038)) -> list[tuple[int, int]]:
    """(month, hour) of every local wall-clock reading in `years` that happens twice in `tz`
    (the hour repeated when clocks go back), from the system's zoneinfo. Steps of a day (no
    zone changes its clocks twice within one), then bisection to the second. (The equality
    check would show a repeated-hour reading outside `years` resolved differently.)"""
    from zoneinfo import ZoneInfo

    z = ZoneInfo(tz)
    utc = dt.timezone.utc
    out = set()

    def off(t):
        return dt.datetime.fromtimestamp(t, z).utcoffset().total_seconds()

    t = dt.datetime(years.start, 1, 1, tzinfo=utc).timestamp()
    end = dt.datetime(years.stop, 1, 1, tzinfo=utc).timestamp()
    step = 86400
    while t < end:
        a, b = off(t), off(t + step)
        if b < a:  # clocks went back between t and t + step: find the instant, to the second
            lo, hi = t, t + step
            while hi - lo > 1:
                mid = (lo + hi) // 2
                lo, hi = (mid, hi) if off(mid) == a else (lo, mid)
            # Readings in [hi + b, hi + a) local happen twice; note each hour they touch.
            r = hi + b
            while r < hi + a:
                w = dt.datetime.fromtimestamp(r, utc)  # local wall time, written as UTC
                out.add((w.month, w.hour))
                r = (r // 3600 + 1) * 3600
        t += step
    return sorted(out)


def local_instant_sql(c: str, tz: str, hours: list[tuple[int, int]] | None = None) -> str:
    """The instant of naive clock `c` read as wall time in `tz`, by slate's rule: a reading in
    the repeated hour is the EARLIER instant, one in the skipped hour is read with the offset
    before the change. DuckDB's `timezone(tz, c)` (ICU) agrees except in the repeated hour,
    where it gives the later instant; there (a (month, hour) prefilter keeps it off the other
    rows) the earlier candidate `e - (offset before - offset now)` is taken when it reads back
    as `c`. `hours` is `ambiguous_month_hours(tz)`, computed here when not given."""
    e = f"timezone('{tz}', {c})"
    hours = ambiguous_month_hours(tz) if hours is None else hours
    if not hours:
        return e
    test = " OR ".join(f"(month({c}) = {m} AND hour({c}) = {h})" for m, h in hours)
    p = f"({e} - INTERVAL 3 HOUR)"
    off_before = f"(epoch_us(timezone('{tz}', {p})) - epoch_us({p}))"
    off_now = f"(epoch_us({c}) - epoch_us({e}))"
    cand = f"({e} - to_microseconds({off_before} - {off_now}))"
    return (f"CASE WHEN ({test}) AND {off_before} > {off_now} AND timezone('{tz}', {cand}) = {c} "
            f"THEN {cand} ELSE {e} END")


def duckdb_sql(data: str, policy: list[dict], window: str, tz: str = TZ, rollups: bool = True,
               naive: bool = False, hours: list[tuple[int, int]] | None = None) -> str:
    """The question in DuckDB SQL. `rollups=False` is the query an analyst would write: one
    GROUP BY at the most detailed level. Naive clocks are read as wall time in `tz`, as
    `slate run --tz` reads them: `local_instant_sql` turns each into an instant first."""
    reasons = reasons_of(policy)
    branches = []
    for i, m in enumerate(policy):
        s, e = m["start"], m["stop"]
        whens = [f"WHEN ({w}) IS TRUE THEN '{r}'" for r, w in m["exclude"]]
        whens += [
            f"WHEN {s} IS NULL THEN 'missing_start'",
            f"WHEN {e} IS NULL THEN 'missing_stop'",
            f"WHEN {e} < {s} THEN 'negative_duration'",
        ]
        where = f"WHERE ({m['where']}) IS TRUE" if m["where"] else ""
        # Local calendar unit of the start clock; floor((stop - start) s) on the µs instants
        # (integer // floors, and negative durations are excluded before it is read).
        branches.append(
            f"SELECT {i} AS measure_idx, borough, grade, {m['threshold_s']} AS thr,\n"
            f"  date_trunc('{window}', timezone('{tz}', {s}))::DATE AS window_start,\n"
            f"  CASE {' '.join(whens)} END AS reason,\n"
            f"  (epoch_us({e}) - epoch_us({s})) // 1000000 AS dur\n"
            f"FROM src {where}"
        )
    counts = ",\n  ".join(f"count(*) FILTER (WHERE reason = '{r}') AS \"x_{r}\"" for r in reasons)
    union = "\nUNION ALL\n".join(branches)
    clocks = {m["start"] for m in policy} | {m["stop"] for m in policy}
    cols = ", ".join(f"{local_instant_sql(c, tz, hours)} AS {c}" if naive and c in clocks else c for c in NEEDED)
    if rollups:
        level = "GROUPING(borough, grade)"
        group_by = """GROUPING SETS (
  (measure_idx, window_start, borough, grade), (measure_idx, window_start, borough),
  (measure_idx, window_start, grade), (measure_idx, window_start))"""
    else:
        level = "0"
        group_by = "measure_idx, window_start, borough, grade"
    return f"""
WITH src AS (
  SELECT {cols} FROM read_parquet('{data}/**/*.parquet', hive_partitioning = false)
),
long AS (
{union}
)
SELECT measure_idx, {level} AS lvl, window_start, borough, grade,
  count(*) AS n_eligible,
  count(*) FILTER (WHERE reason IS NULL) AS n_measured,
  count(*) FILTER (WHERE reason IS NULL AND dur <= thr) AS n_within,
  {counts},
  quantile_cont(dur, {PERCENTILES}) FILTER (WHERE reason IS NULL) AS q,
  avg(dur) FILTER (WHERE reason IS NULL) AS mean_s,
  min(dur) FILTER (WHERE reason IS NULL) AS min_s,
  max(dur) FILTER (WHERE reason IS NULL) AS max_s
FROM long
GROUP BY {group_by}
"""


def run_duckdb(data: str, policy: list[dict], window: str, threads: int, tz: str = TZ,
               rollups: bool = True, hours: list[tuple[int, int]] | None = None) -> list[dict]:
    import duckdb

    naive = naive_clocks(data)
    con = duckdb.connect()
    con.execute(f"SET threads = {threads}")
    con.execute(f"SET TimeZone = '{tz}'")
    t = con.sql(duckdb_sql(data, policy, window, tz=tz, rollups=rollups, naive=naive, hours=hours)).to_arrow_table()
    rows = t.to_pylist()
    for r in rows:
        q = r.pop("q")
        for c, v in zip(PCOLS, q if q is not None else [None] * 4):
            r[c] = v
        r["level"] = LEVELS[r.pop("lvl")]
    return rows


# ---------------------------------------------------------------------------------------------
# Polars: the lazy API, one group_by per rollup level over one shared long frame


def run_polars(data: str, policy: list[dict], window: str, streaming: bool = False) -> list[dict]:
    import polars as pl

    reasons = reasons_of(policy)
    lf = pl.scan_parquet(f"{data}/**/*.parquet", hive_partitioning=False).select(NEEDED)
    every = {"month": "1mo", "day": "1d", "week": "1w"}[window]
    parts = []
    for i, m in enumerate(policy):
        s, e = pl.col(m["start"]), pl.col(m["stop"])
        reason = None
        for r, w in m["exclude"]:
            cond = pl.sql_expr(w).fill_null(False)
            reason = pl.when(cond).then(pl.lit(r)) if reason is None else reason.when(cond).then(pl.lit(r))
        for r, cond in [
            ("missing_start", s.is_null()),
            ("missing_stop", e.is_null()),
            ("negative_duration", e < s),
        ]:
            reason = pl.when(cond).then(pl.lit(r)) if reason is None else reason.when(cond).then(pl.lit(r))
        reason = reason.otherwise(pl.lit(None, dtype=pl.String))
        sel = lf.filter(pl.sql_expr(m["where"]).fill_null(False)) if m["where"] else lf
        parts.append(
            sel.select(
                pl.lit(i, dtype=pl.Int32).alias("measure_idx"),
                "borough",
                "grade",
                pl.lit(m["threshold_s"], dtype=pl.Int64).alias("thr"),
                s.dt.convert_time_zone(TZ).dt.date().dt.truncate(every).alias("window_start"),
                reason.alias("reason"),
                ((e.dt.epoch("us") - s.dt.epoch("us")) // 1_000_000).alias("dur"),
            )
        )
    long = pl.concat(parts).with_columns(
        # The measured duration: null when excluded, so the aggregates below skip it.
        pl.when(pl.col("reason").is_null()).then(pl.col("dur")).alias("dm")
    )
    aggs = [
        pl.len().alias("n_eligible"),
        pl.col("dm").count().alias("n_measured"),
        (pl.col("dm") <= pl.col("thr")).sum().alias("n_within"),
        *[(pl.col("reason") == r).sum().alias(f"x_{r}") for r in reasons],
        *[pl.col("dm").quantile(p, interpolation="linear").alias(c) for p, c in zip(PERCENTILES, PCOLS)],
        pl.col("dm").mean().alias("mean_s"),
        pl.col("dm").min().alias("min_s"),
        pl.col("dm").max().alias("max_s"),
    ]
    frames = []
    for lvl, keys in [(0, ["borough", "grade"]), (1, ["borough"]), (2, ["grade"]), (3, [])]:
        g = long.group_by(["measure_idx", "window_start", *keys]).agg(aggs)
        missing = [pl.lit(None, dtype=pl.String).alias(k) for k in ("borough", "grade") if k not in keys]
        frames.append(g.with_columns(*missing, pl.lit(LEVELS[lvl]).alias("level")))
    out = pl.concat(frames, how="diagonal").collect(engine="streaming" if streaming else "auto")
    return out.to_dicts()


# ---------------------------------------------------------------------------------------------
# From raw groups to slate's scorecard and ledger


def next_window(d: dt.date, window: str) -> dt.date:
    if window == "month":
        return dt.date(d.year + (d.month == 12), d.month % 12 + 1, 1)
    if window == "day":
        return d + dt.timedelta(days=1)
    if window == "week":
        return d + dt.timedelta(days=7)
    raise SystemExit(f"window {window} not supported here")


def wilson(k: int, n: int):
    # Same operations, in the same order, as slate_core::stats::wilson_95.
    if n == 0:
        return None, None
    nf = float(n)
    phat = k / nf
    z2 = Z95 * Z95
    denom = 1.0 + z2 / nf
    centre = (phat + z2 / (2.0 * nf)) / denom
    half = Z95 * math.sqrt((phat * (1.0 - phat) / nf) + z2 / (4.0 * nf * nf)) / denom
    return max(centre - half, 0.0), min(centre + half, 1.0)


def finish(raw: list[dict], policy: list[dict], window: str):
    reasons = reasons_of(policy)
    card, ledger = [], []
    for r in raw:
        m = policy[r["measure_idx"]]
        ws = r["window_start"]
        we = next_window(ws, window) if ws is not None else None
        key = {
            "window": window,
            "window_start": ws,
            "window_end": we,
            "level": r["level"],
            "borough": r["borough"],
            "grade": r["grade"],
            "measure": m["id"],
        }
        for reason in reasons:
            c = r.get(f"x_{reason}") or 0
            if c:
                ledger.append({**key, "reason": reason, "count": int(c)})
        if ws is None:
            continue
        n_m, n_w, n_e = int(r["n_measured"]), int(r["n_within"]), int(r["n_eligible"])
        comp = n_w / n_m if n_m else None
        lo, hi = wilson(n_w, n_m)
        row = {
            **key,
            "threshold_s": m["threshold_s"],
            "target": m["target"],
            "n_eligible": n_e,
            "n_measured": n_m,
            "n_within": n_w,
            "n_excluded": n_e - n_m,
            "compliance": comp,
            "met_target": None if m["target"] is None or comp is None else comp >= m["target"],
            "ci_low": lo,
            "ci_high": hi,
        }
        for c in PCOLS:
            row[c] = r[c]
        row["mean_s"] = r["mean_s"]
        row["min_s"] = None if r["min_s"] is None else int(r["min_s"])
        row["max_s"] = None if r["max_s"] is None else int(r["max_s"])
        card.append(row)
    return card, ledger


def write_rows(rows: list[dict], path: Path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    pq.write_table(pa.Table.from_pylist(rows), path)


def cmd_engine(a) -> None:
    policy = load_policy()
    t0 = time.perf_counter()
    if a.name == "pyarrow-scan":
        import pyarrow.dataset as ds

        t = ds.dataset(a.data, format="parquet").to_table(columns=NEEDED, use_threads=True)
        secs = time.perf_counter() - t0
        print(json.dumps({"secs": secs, "rows": t.num_rows}))
        return
    if a.name in ("duckdb", "duckdb-plain"):
        hours = None
        if a.ambiguous_hours is not None:  # from the matrix's parent process: not timed here
            hours = [tuple(int(x) for x in mh.split(":")) for mh in a.ambiguous_hours.split(",") if mh]
        raw = run_duckdb(a.data, policy, a.window, a.threads, tz=a.tz, rollups=a.name == "duckdb", hours=hours)
    elif a.name in ("polars", "polars-streaming"):
        raw = run_polars(a.data, policy, a.window, streaming=a.name == "polars-streaming")
    else:
        raise SystemExit(f"unknown engine {a.name}")
    query_secs = time.perf_counter() - t0
    card, ledger = finish(raw, policy, a.window)
    out = Path(a.out)
    write_rows(card, out)
    write_rows(ledger, out.with_name(out.stem + ".exclusions.parquet"))
    print(json.dumps({"secs": query_secs, "total_secs": time.perf_counter() - t0}))


# ---------------------------------------------------------------------------------------------
# Equality checks


def read_rows(path: Path) -> list[dict]:
    import pyarrow.parquet as pq

    return pq.read_table(path).to_pylist()


CARD_KEY = ("window_start", "level", "borough", "grade", "measure")
LEDGER_KEY = ("window_start", "level", "borough", "grade", "measure", "reason")


def same_value(x, y) -> bool:
    if x is None or y is None:
        return x is None and y is None
    if isinstance(x, bool) or isinstance(y, bool):
        return x == y
    if isinstance(x, float) or isinstance(y, float):
        fx, fy = float(x), float(y)
        return fx == fy or abs(fx - fy) <= 1e-9 * max(abs(fx), abs(fy))
    return x == y


def diff_tables(ref: list[dict], other: list[dict], key: tuple, cols: list[str]) -> list[str]:
    def index(rows):
        out = {}
        for r in rows:
            k = tuple(r[c] for c in key)
            if k in out:
                raise SystemExit(f"duplicate key {k}")
            out[k] = r
        return out

    a, b = index(ref), index(other)
    problems = []
    for k in sorted(set(a) - set(b), key=str)[:10]:
        problems.append(f"only in slate: {k}")
    for k in sorted(set(b) - set(a), key=str)[:10]:
        problems.append(f"missing from slate: {k} -> {b[k]}")
    n_bad = 0
    for k in sorted(set(a) & set(b), key=str):
        bad = [c for c in cols if not same_value(a[k].get(c), b[k].get(c))]
        if bad:
            n_bad += 1
            if n_bad <= 10:
                problems.append(
                    f"{k}: " + ", ".join(f"{c}: slate={a[k].get(c)!r} other={b[k].get(c)!r}" for c in bad)
                )
    if n_bad > 10:
        problems.append(f"... and {n_bad - 10} more differing rows")
    if len(set(a) ^ set(b)) > 20:
        problems.append(f"{len(set(a) - set(b))} rows only in slate, {len(set(b) - set(a))} only in the other")
    return problems


def check_equal(slate_out: Path, other_out: Path, name: str) -> tuple[int, int]:
    card_cols = [
        "window", "window_end", "threshold_s", "target", "n_eligible", "n_measured", "n_within",
        "n_excluded", "compliance", "met_target", "ci_low", "ci_high", *PCOLS, "mean_s", "min_s", "max_s",
    ]
    ref, oth = read_rows(slate_out), read_rows(other_out)
    problems = diff_tables(ref, oth, CARD_KEY, card_cols)
    lref = read_rows(slate_out.with_name(slate_out.stem + ".exclusions.parquet"))
    loth = read_rows(other_out.with_name(other_out.stem + ".exclusions.parquet"))
    problems += ["ledger " + p for p in diff_tables(lref, loth, LEDGER_KEY, ["window", "window_end", "count"])]
    if problems:
        print(f"\nMISMATCH: slate and {name} disagree ({slate_out} vs {other_out}):", file=sys.stderr)
        for p in problems:
            print("  " + p, file=sys.stderr)
        raise SystemExit(2)
    return len(ref), len(lref)


# ---------------------------------------------------------------------------------------------
# Timing


TIME = shutil.which("time", path="/usr/bin:/bin")


def measure_rss(cmd: list[str], env=None, fatal: bool = True) -> dict:
    """Runs a command: wall seconds, peak RSS and the JSON line it printed.

    The peak comes from GNU time (%M), which forks the command from its own small image:
    the ru_maxrss of a child forked straight from this Python process would include the
    parent's memory at fork time.
    """
    import tempfile

    rss_file = None
    if TIME:
        fd, rss_file = tempfile.mkstemp(prefix="slate-bench-rss-")
        os.close(fd)
        cmd = [TIME, "-f", "%M", "-o", rss_file, *cmd]
    t0 = time.perf_counter()
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    # Read both pipes without deadlock, then reap with wait4 for this child's own rusage.
    import threading

    bufs = {"out": b"", "err": b""}

    def drain(stream, k):
        bufs[k] = stream.read()

    ts = [threading.Thread(target=drain, args=(p.stdout, "out")), threading.Thread(target=drain, args=(p.stderr, "err"))]
    for t in ts:
        t.start()
    _, status, ru = os.wait4(p.pid, 0)
    wall = time.perf_counter() - t0
    for t in ts:
        t.join()
    p.returncode = os.waitstatus_to_exitcode(status)
    rss_kb = ru.ru_maxrss
    if rss_file:
        try:
            lines = Path(rss_file).read_text().split()
            rss_kb = int(lines[-1]) if lines and lines[-1].isdigit() else rss_kb
        finally:
            os.unlink(rss_file)
    if p.returncode != 0:
        lines = bufs["err"].decode(errors="replace").strip().splitlines()
        # The cause, not the backtrace: a panic or allocation failure line when there is one.
        why = [ln for ln in lines if re.search(r"panicked|memory allocation|out of memory|rror", ln)]
        msg = (why or lines[-1:] or [""])[0].strip()
        sys.stderr.write("\n".join(lines[-5:]) + "\n")
        if fatal:
            raise SystemExit(f"command failed ({p.returncode}): {' '.join(cmd)}")
        return {"error": f"exit {p.returncode} after {wall:.0f} s, peak RSS {rss_kb / 1024:.0f} MB: {msg[:160]}"}
    info = {}
    for line in bufs["out"].decode().splitlines()[::-1]:
        if line.startswith("{"):
            info = json.loads(line)
            break
    return {"wall": wall, "rss_mb": rss_kb / 1024.0, "info": info}


class Runner:
    def __init__(self, a):
        self.a = a
        self.py = sys.executable
        self.me = str(Path(__file__).resolve())
        self.work = Path(a.work)
        self.work.mkdir(parents=True, exist_ok=True)

    def cmd(self, engine: str, data: str, threads: int, window: str = "month", by: str = "borough,grade",
            mem_limit_gb: float | None = None):
        out = self.work / f"{engine}-{Path(data).name}-{window}-{threads}t.parquet"
        env = dict(os.environ)
        if engine == "slate":
            c = [self.a.slate, "run", "--input", data, "--policy", "builtin:mps-promise-2008", "--window", window,
                 "--by", by, "--tz", TZ, "--threads", str(threads), "--out", str(out)]
        elif engine == "scan-floor":
            c = [self.a.scan_floor, "--input", data, "--threads", str(threads)]
        elif engine in ("duckdb", "polars", "polars-streaming", "pyarrow-scan"):
            c = [self.py, self.me, "engine", engine, "--data", data, "--window", window, "--threads", str(threads),
                 "--out", str(out)]
            env["POLARS_MAX_THREADS"] = str(threads)
            # pyarrow's pool (pyarrow-scan) follows OMP_NUM_THREADS.
            env["OMP_NUM_THREADS"] = str(threads)
        else:
            raise SystemExit(engine)
        if threads < (os.cpu_count() or 1) and shutil.which("taskset"):
            # Fewer threads than cores: also pin to that many CPUs, so that no engine gets
            # help from helper threads (tokio workers, I/O pools) on the other cores.
            c = ["taskset", "-c", f"0-{threads - 1}", *c]
        if mem_limit_gb and shutil.which("prlimit"):
            c = ["prlimit", f"--as={int(mem_limit_gb * 2**30)}", *c]
        return c, env, out


def fmt_rows(n: int) -> str:
    for unit, div in (("B", 10**9), ("M", 10**6), ("K", 10**3)):
        if n >= div and n % div == 0:
            return f"{n // div}{unit}"
    return str(n)


def parquet_rows(data: str) -> int:
    import pyarrow.parquet as pq

    return sum(pq.read_metadata(p).num_rows for p in Path(data).rglob("*.parquet"))


def cmd_compare(a) -> None:
    r = Runner(a)
    results = []  # one dict per (size, engine, threads, window)
    checks = {}
    datasets = [d for d in a.data]
    for data in datasets:
        rows = parquet_rows(data)
        label = fmt_rows(rows)
        big = rows >= a.big_rows
        runs = a.runs_big if big else a.runs
        engines = ["slate", "duckdb", "polars", "scan-floor", "pyarrow-scan"]
        # At the big size the Python engines run under an address-space cap, so that an engine
        # that would exhaust the machine fails alone (and is reported) instead of the OOM killer
        # picking a victim.
        cap = a.big_mem_limit_gb if big else None
        samples = {e: [] for e in engines}
        failed = {}
        # 1. Equal figures before any timing.
        c_slate, env, out_s = r.cmd("slate", data, a.threads)
        first = measure_rss(c_slate, env)
        for other in ("duckdb", "polars"):
            c, env, out_o = r.cmd(other, data, a.threads, mem_limit_gb=cap)
            res = measure_rss(c, env, fatal=not big)
            if "error" in res:
                failed[other] = res["error"]
                print(f"[check] {label}: {other} FAILED: {res['error']}", flush=True)
                continue
            n_card, n_led = check_equal(out_s, out_o, other)
            checks[(label, other)] = f"identical ({n_card} scorecard rows, {n_led} ledger rows)"
            print(f"[check] {label}: slate == {other}: {n_card} scorecard rows, {n_led} ledger rows", flush=True)
            if big and runs == 1:
                samples[other].append(res)  # one run at the big size: the checked run is the timed run
        if big and runs == 1:
            samples["slate"].append(first)
        # 2. Timed runs, interleaved so that drift hits every engine alike.
        for i in range(runs):
            for e in engines:
                if e in failed or (big and runs == 1 and samples[e]):
                    continue
                c, env, _ = r.cmd(e, data, a.threads, mem_limit_gb=cap if e not in ("slate", "scan-floor") else None)
                res = measure_rss(c, env, fatal=not big)
                if "error" in res:
                    failed[e] = res["error"]
                    continue
                samples[e].append(res)
                print(f"[time] {label} {e} run {i + 1}/{runs}: {res['wall']:.3f} s, {res['rss_mb']:.0f} MB", flush=True)
        checks[(label, "slate")] = "reference"
        for e in engines:
            if samples[e]:
                results.append(summarise(label, rows, e, a.threads, "month", samples[e], checks.get((label, e))))
            else:
                results.append({"kind": "main", "rows": rows, "size": label, "engine": e, "threads": a.threads,
                                "window": "month", "by": "borough,grade", "runs": 0, "median_s": None,
                                "min_s": None, "max_s": None, "median_inner_s": None, "peak_rss_mb": None,
                                "rows_per_s": None, "check": f"FAILED: {failed.get(e, 'not run')}"})
    # 3. Thread scaling and cost growth on the size chosen for them.
    extra = []
    if a.scaling_data:
        data = a.scaling_data
        rows = parquet_rows(data)
        label = fmt_rows(rows)
        for threads in (1, 2):
            for e in ("slate", "duckdb", "polars", "scan-floor"):
                ss = []
                for _ in range(a.runs_scaling):
                    c, env, _ = r.cmd(e, data, threads)
                    ss.append(measure_rss(c, env))
                extra.append(summarise(label, rows, e, threads, "month", ss, None, kind="threads"))
                print(f"[threads] {label} {e} {threads}t: {extra[-1]['median_s']:.3f} s", flush=True)
        # Day windows: 10 years x 32 boroughs x 4 grades x 4 measures; checked equal first.
        c, env, out_s = r.cmd("slate", data, a.threads, window="day")
        subprocess.run(c, check=True, stdout=subprocess.DEVNULL, env=env)
        day_check = {}
        for e in ("duckdb", "polars"):
            c, env, out_o = r.cmd(e, data, a.threads, window="day")
            measure_rss(c, env)
            n_card, n_led = check_equal(out_s, out_o, f"{e} (day windows)")
            day_check[e] = f"identical ({n_card} scorecard rows, {n_led} ledger rows)"
            print(f"[check] {label} day: slate == {e}: {n_card} rows", flush=True)
        for e in ("slate", "duckdb", "polars"):
            ss = []
            for _ in range(a.runs_scaling):
                c, env, _ = r.cmd(e, data, a.threads, window="day")
                ss.append(measure_rss(c, env))
            extra.append(summarise(label, rows, e, a.threads, "day", ss, day_check.get(e), kind="growth"))
            print(f"[growth] {label} {e} day: {extra[-1]['median_s']:.3f} s", flush=True)
        for by in ("", "borough"):
            ss = []
            for _ in range(a.runs_scaling):
                c, env, _ = r.cmd("slate", data, a.threads, window="month", by=by)
                ss.append(measure_rss(c, env))
            rec = summarise(label, rows, "slate", a.threads, "month", ss, None, kind="growth")
            rec["by"] = by or "(none)"
            extra.append(rec)
            print(f"[growth] {label} slate month by={by!r}: {rec['median_s']:.3f} s", flush=True)
    write_outputs(a, results, extra)


def summarise(label, rows, engine, threads, window, samples, check, kind="main") -> dict:
    walls = [s["wall"] for s in samples]
    inner = [s["info"].get("secs") for s in samples if s["info"].get("secs") is not None]
    med = statistics.median(walls)
    return {
        "kind": kind,
        "rows": rows,
        "size": label,
        "engine": engine,
        "threads": threads,
        "window": window,
        "by": "borough,grade",
        "runs": len(samples),
        "median_s": med,
        "min_s": min(walls),
        "max_s": max(walls),
        "median_inner_s": statistics.median(inner) if inner else None,
        "peak_rss_mb": max(s["rss_mb"] for s in samples),
        "rows_per_s": rows / med,
        "check": check or "",
    }


def machine() -> dict:
    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = "unknown"
    try:
        kb = int(re.search(r"MemTotal:\s+(\d+)", Path("/proc/meminfo").read_text()).group(1))
        mem = f"{kb / 1024 / 1024:.1f} GiB"
    except (OSError, AttributeError):
        pass
    import duckdb
    import polars
    import pyarrow

    return {
        "cpus": os.cpu_count(),
        "cpu": cpu,
        "ram": mem,
        "os": f"{platform.system()} {platform.release()}",
        "python": platform.python_version(),
        "duckdb": duckdb.__version__,
        "polars": polars.__version__,
        "pyarrow": pyarrow.__version__,
        "date": dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
    }


def write_outputs(a, results: list[dict], extra: list[dict]) -> None:
    out = Path(a.results)
    out.mkdir(parents=True, exist_ok=True)
    allrows = results + extra
    # Ratios: to DuckDB (process wall, and DuckDB's in-process query time) and to the scan floor.
    by = {(r["kind"], r["size"], r["engine"], r["threads"], r["window"], r["by"]): r for r in allrows}
    for r in allrows:
        d = by.get((r["kind"], r["size"], "duckdb", r["threads"], r["window"], r["by"]))
        f = by.get((r["kind"], r["size"], "scan-floor", r["threads"], r["window"], r["by"]))
        ok = r["median_s"] is not None
        dok = ok and d is not None and d["median_s"] is not None
        r["ratio_to_duckdb"] = r["median_s"] / d["median_s"] if dok else None
        r["ratio_to_duckdb_query"] = r["median_s"] / d["median_inner_s"] if dok and d["median_inner_s"] else None
        r["rss_ratio_to_duckdb"] = r["peak_rss_mb"] / d["peak_rss_mb"] if dok else None
        r["ratio_to_scan_floor"] = r["median_s"] / f["median_s"] if ok and f and f["median_s"] else None
    m = machine()
    fields = ["kind", "size", "rows", "engine", "threads", "window", "by", "runs", "median_s", "min_s", "max_s",
              "median_inner_s", "peak_rss_mb", "rows_per_s", "ratio_to_duckdb", "ratio_to_duckdb_query",
              "rss_ratio_to_duckdb", "ratio_to_scan_floor", "check"]
    with open(out / "results.csv", "w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=fields, extrasaction="ignore")
        w.writeheader()
        for r in allrows:
            w.writerow({k: (f"{v:.6g}" if isinstance(v, float) else v) for k, v in r.items()})
    md = [
        "# slate benchmark results",
        "",
        f"Machine: {m['cpus']} CPUs ({m['cpu']}), {m['ram']} RAM, {m['os']}; {m['date']}.  ",
        f"Engines: slate (release build, this tree), DuckDB {m['duckdb']}, Polars {m['polars']} (lazy), "
        f"pyarrow {m['pyarrow']}; Python {m['python']}.  ",
        "Question: `slate run --policy builtin:mps-promise-2008 --window month --by borough,grade` "
        "(4 measures, exact p50/p90/p95/p99, rollups by borough, by grade and overall), over "
        "`slate gen --seed 42 --dirty-rate 0.001` data (10 years, 120 monthly Parquet files, zstd).  ",
        f"Figures: median of {a.runs} runs (wall time of the whole process: start, read, compute, write), "
        "peak RSS of the process (GNU `time` %M). DuckDB and Polars run in a Python process; their "
        "in-process query time (without interpreter start-up and result formatting) is the `query s` column, "
        "and `x DuckDB (query)` compares slate's whole-process time against it.",
        "",
        "| rows | engine | median s | min-max s | query s | peak RSS MB | rows/s | x DuckDB | x DuckDB (query) | RSS x DuckDB | x scan floor | figures |",
        "|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|",
    ]

    def mrows(x):
        return "" if x is None else f"{x / 1e6:.1f}M"

    def f(x, p=2):
        return "" if x is None else f"{x:.{p}f}"

    for r in results:
        md.append(
            f"| {r['size']} | {r['engine']} | {f(r['median_s'], 3)} | {f(r['min_s'], 2)}-{f(r['max_s'], 2)} | "
            f"{f(r['median_inner_s'], 3)} | {f(r['peak_rss_mb'], 0)} | {mrows(r['rows_per_s'])} | "
            f"{f(r['ratio_to_duckdb'])} | {f(r['ratio_to_duckdb_query'])} | {f(r['rss_ratio_to_duckdb'])} | "
            f"{f(r['ratio_to_scan_floor'])} | {r['check']} |"
        )
    md += [
        "",
        "`scan-floor` decodes only the 7 columns the question needs, with the same DataFusion Parquet reader, "
        "session and partitions as `slate run`, and does nothing else (`target/release/scan-floor`); "
        "`pyarrow-scan` is the same decode with Arrow C++ (`pyarrow.dataset ... to_table(columns=...)`) for reference.",
    ]
    if extra:
        md += ["", "## Thread scaling and cost growth", "",
               "| rows | kind | engine | threads | window | by | median s | peak RSS MB | rows/s | x DuckDB | figures |",
               "|---:|---|---|---:|---|---|---:|---:|---:|---:|---|"]
        for r in extra:
            md.append(
                f"| {r['size']} | {r['kind']} | {r['engine']} | {r['threads']} | {r['window']} | {r['by']} | "
                f"{f(r['median_s'], 3)} | {f(r['peak_rss_mb'], 0)} | {mrows(r['rows_per_s'])} | "
                f"{f(r['ratio_to_duckdb'])} | {r['check']} |"
            )
    (out / "results.md").write_text("\n".join(md) + "\n")
    chart(results, out / "chart.svg", m)
    print(f"wrote {out / 'results.csv'}, {out / 'results.md'}, {out / 'chart.svg'}")


def chart(results: list[dict], path: Path, m: dict) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4.2))
    styles = {"slate": "o-", "duckdb": "s-", "polars": "^-", "scan-floor": "x--", "pyarrow-scan": "+:"}
    for e in styles:
        rs = sorted((r for r in results if r["engine"] == e and r["median_s"] is not None), key=lambda r: r["rows"])
        if not rs:
            continue
        xs = [r["rows"] for r in rs]
        ax1.plot(xs, [r["median_s"] for r in rs], styles[e], label=e)
        if e not in ("scan-floor", "pyarrow-scan"):
            ax2.plot(xs, [r["peak_rss_mb"] for r in rs], styles[e], label=e)
    for ax, title, unit in ((ax1, "Wall time (median)", "seconds"), (ax2, "Peak memory (RSS)", "MB")):
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("input rows")
        ax.set_ylabel(unit)
        ax.set_title(title)
        ax.grid(True, which="both", alpha=0.3)
        ax.legend()
    failed = [f"{r['engine']} at {r['size']}: {r['check']}" for r in results if r.get("median_s") is None]
    if failed:
        fig.text(0.01, 0.01, "not plotted: " + "; ".join(failed)[:200], fontsize=7)
    fig.suptitle(f"slate vs DuckDB {m['duckdb']} vs Polars {m['polars']}: monthly SLA scorecard, "
                 f"{m['cpus']} CPUs ({m['cpu']})", fontsize=9)
    fig.tight_layout()
    fig.savefig(path)


# ---------------------------------------------------------------------------------------------
# The matrix: one question over data of several shapes (scripts/bench --matrix)

# `exact-bound` is `scan-floor --bound`: the decode plus a tight loop doing only what exact
# figures need (slate_bench::bound_floor), the floor under any exact scorecard of these files.
MATRIX_ENGINES = ["slate", "slate-no-rollups", "duckdb", "duckdb-plain", "scan-floor", "exact-bound"]
MATRIX_BEGIN, MATRIX_END = "<!-- matrix:begin (scripts/bench --matrix) -->", "<!-- matrix:end -->"


def matrix_cmd(a, engine: str, data: str, tz: str, out: Path) -> list[str]:
    me = str(Path(__file__).resolve())
    if engine in ("slate", "slate-no-rollups"):
        c = [a.slate, "run", "--input", data, "--policy", "builtin:mps-promise-2008", "--window", "month",
             "--by", "borough,grade", "--tz", tz, "--threads", str(a.threads), "--out", str(out)]
        return c + (["--no-rollups"] if engine == "slate-no-rollups" else [])
    if engine == "scan-floor":
        return [a.scan_floor, "--input", data, "--threads", str(a.threads)]
    if engine == "exact-bound":
        return [a.scan_floor, "--input", data, "--threads", str(a.threads), "--bound"]
    hours = ",".join(f"{m}:{h}" for m, h in ambiguous_month_hours(tz))
    return [sys.executable, me, "engine", engine, "--data", data, "--window", "month", "--tz", tz,
            "--threads", str(a.threads), "--out", str(out), "--ambiguous-hours", hours]


def cmd_matrix(a) -> None:
    """Per shape: slate == DuckDB row by row (with rollups, and without them against the plain
    GROUP BY), then interleaved timed runs of every engine, then docs/bench/matrix.{csv,md}."""
    work = Path(a.work)
    work.mkdir(parents=True, exist_ok=True)
    results = []
    for spec in a.shape:
        name, data, tz = spec.split(":", 2)
        rows = parquet_rows(data)
        files = len(list(Path(data).rglob("*.parquet")))
        outs = {e: work / f"{e}-{name}.parquet" for e in MATRIX_ENGINES}
        # 1. Equal figures before any timing.
        for mine, theirs in (("slate", "duckdb"), ("slate-no-rollups", "duckdb-plain")):
            for e in (mine, theirs):
                measure_rss(matrix_cmd(a, e, data, tz, outs[e]))
            n_card, n_led = check_equal(outs[mine], outs[theirs], f"{theirs} on shape {name}")
            print(f"[check] shape {name}: {mine} == {theirs}: {n_card} scorecard rows, {n_led} ledger rows",
                  flush=True)
        if a.runs == 0:  # --runs 0: the check only (time elsewhere, e.g. paired runs by hand)
            continue
        # 2. Timed runs, interleaved.
        samples = {e: [] for e in MATRIX_ENGINES}
        for i in range(a.runs):
            for e in MATRIX_ENGINES:
                res = measure_rss(matrix_cmd(a, e, data, tz, outs[e]))
                samples[e].append(res)
                print(f"[time] shape {name} {e} run {i + 1}/{a.runs}: {res['wall']:.3f} s, {res['rss_mb']:.0f} MB",
                      flush=True)
        med = {e: statistics.median(s["wall"] for s in samples[e]) for e in MATRIX_ENGINES}
        peak = {e: max(s["rss_mb"] for s in samples[e]) for e in MATRIX_ENGINES}
        results.append({
            "shape": name, "data": Path(data).name, "tz": tz, "rows": rows, "files": files,
            **{f"{e}_s": med[e] for e in MATRIX_ENGINES},
            **{f"{e}_mb": peak[e] for e in MATRIX_ENGINES},
            "time_x_duckdb": med["slate"] / med["duckdb"],
            "rss_x_duckdb": peak["slate"] / peak["duckdb"],
            "time_x_duckdb_plain": med["slate"] / med["duckdb-plain"],
            "rss_x_duckdb_plain": peak["slate"] / peak["duckdb-plain"],
            "no_rollups_time_x_duckdb_plain": med["slate-no-rollups"] / med["duckdb-plain"],
            "no_rollups_rss_x_duckdb_plain": peak["slate-no-rollups"] / peak["duckdb-plain"],
            "x_scan_floor": med["slate"] / med["scan-floor"],
            "no_rollups_x_scan_floor": med["slate-no-rollups"] / med["scan-floor"],
            "bound_x_scan_floor": med["exact-bound"] / med["scan-floor"],
            "x_bound": med["slate"] / med["exact-bound"],
        })
    if results:
        write_matrix(a, results)


def write_matrix(a, results: list[dict]) -> None:
    out = Path(a.results)
    out.mkdir(parents=True, exist_ok=True)
    fields = list(results[0])
    with open(out / "matrix.csv", "w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=fields)
        w.writeheader()
        for r in results:
            w.writerow({k: (f"{v:.4g}" if isinstance(v, float) else v) for k, v in r.items()})

    def f(x, p=2):
        return f"{x:.{p}f}"

    m = machine()
    table = [
        MATRIX_BEGIN,
        f"Machine: {m['cpus']} CPUs ({m['cpu']}), {m['ram']} RAM; {m['date']}; DuckDB {m['duckdb']}. "
        f"Median of {a.runs} interleaved runs (whole process), peak RSS of the process. Every shape was "
        "checked first: slate == DuckDB row by row, with rollups and without. The exact bound is "
        "`scan-floor --bound`: the decode plus only the work exact figures need, in a loop written for "
        "speed (UTC months, no exclusion ledger, no rollups, no output).",
        "",
        "| shape | rows / files | --tz | slate s / MB | DuckDB rollups s / MB | x time | x RSS "
        "| slate --no-rollups s / MB | DuckDB plain s / MB | x time | x RSS | slate x plain DuckDB (time / RSS) "
        "| scan floor s | slate x floor | --no-rollups x floor | exact bound s / MB | bound x floor "
        "| slate x bound |",
        "|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        table.append(
            f"| {r['shape']} | {fmt_rows(r['rows'])} / {r['files']} | {r['tz']} "
            f"| {f(r['slate_s'])} / {r['slate_mb']:.0f} | {f(r['duckdb_s'])} / {r['duckdb_mb']:.0f} "
            f"| **{f(r['time_x_duckdb'])}** | **{f(r['rss_x_duckdb'])}** "
            f"| {f(r['slate-no-rollups_s'])} / {r['slate-no-rollups_mb']:.0f} "
            f"| {f(r['duckdb-plain_s'])} / {r['duckdb-plain_mb']:.0f} "
            f"| **{f(r['no_rollups_time_x_duckdb_plain'])}** | **{f(r['no_rollups_rss_x_duckdb_plain'])}** "
            f"| {f(r['time_x_duckdb_plain'])} / {f(r['rss_x_duckdb_plain'])} "
            f"| {f(r['scan-floor_s'])} | {f(r['x_scan_floor'], 1)} | {f(r['no_rollups_x_scan_floor'], 1)} "
            f"| {f(r['exact-bound_s'])} / {r['exact-bound_mb']:.0f} | {f(r['bound_x_scan_floor'])} "
            f"| {f(r['x_bound'])} |"
        )
    worst = max(results, key=lambda r: r["time_x_duckdb_plain"])
    best = min(results, key=lambda r: r["time_x_duckdb_plain"])
    table += [
        "",
        f"Worst case (slate with rollups against DuckDB's plain GROUP BY): shape {worst['shape']}, "
        f"{f(worst['time_x_duckdb_plain'])}x time, {f(worst['rss_x_duckdb_plain'])}x RSS. Best: shape "
        f"{best['shape']}, {f(best['time_x_duckdb_plain'])}x time, {f(best['rss_x_duckdb_plain'])}x RSS.",
        MATRIX_END,
    ]
    md = out / "matrix.md"
    block = "\n".join(table)
    if md.exists() and MATRIX_BEGIN in md.read_text():
        text = md.read_text()
        head, rest = text.split(MATRIX_BEGIN, 1)
        tail = rest.split(MATRIX_END, 1)[1] if MATRIX_END in rest else ""
        md.write_text(head + block + tail)
    else:
        md.write_text("# Benchmark matrix: slate on Parquet of several shapes\n\n" + block + "\n")
    print(f"wrote {out / 'matrix.csv'} and {md}")


# ---------------------------------------------------------------------------------------------
# Capacity: the demand profile against a scorecard run

CAPACITY_BEGIN = "<!-- capacity:begin -->"
CAPACITY_END = "<!-- capacity:end -->"
WEEKDAYS = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]


def duckdb_demand(data: str, tz: str, interval_min: int) -> dict:
    """Per (channel, slot label): the demand figures slate's profile reports, by DuckDB alone
    (its own zone rules for local time), for the policy's 999 answer measure (10 s)."""
    import duckdb

    q = f"""
    WITH t AS (
      SELECT channel, timezone('{tz}', call_received) AS l,
             epoch_us(call_received) AS r, epoch_us(call_answered) AS a,
             epoch_us(call_ended) AS e, abandoned AS ab
      FROM read_parquet('{data}/**/*.parquet', union_by_name = true)
      WHERE call_received IS NOT NULL)
    SELECT channel, ((isodow(l) - 1) * 1440 + hour(l) * 60 + minute(l)) // {interval_min} AS slot,
           count(*) AS offered_total, count(a) AS answered,
           sum(CASE WHEN ab THEN 1 ELSE 0 END) AS abandoned,
           count(CASE WHEN channel = '999' AND a >= r THEN 1 END) AS measured,
           count(CASE WHEN channel = '999' AND a >= r AND (a - r) // 1000000 <= 10 THEN 1 END) AS within,
           avg(CASE WHEN e >= a THEN (e - a) // 1000000 END) AS aht_mean_s,
           avg(CASE WHEN a >= r THEN (a - r) // 1000000 END) AS asa_s
    FROM t GROUP BY ALL"""
    out = {}
    for ch, slot, *vals in duckdb.sql(q).fetchall():
        minute = slot * interval_min
        label = f"{WEEKDAYS[minute // 1440]} {minute % 1440 // 60:02}:{minute % 60:02}"
        out[(ch, label)] = dict(zip(["offered_total", "answered", "abandoned", "measured", "within",
                                     "aht_mean_s", "asa_s"], vals))
    return out


def check_demand(demand: Path, ref: dict) -> int:
    import pyarrow.parquet as pq

    rows = pq.read_table(demand).to_pylist()
    bad = []
    if len(rows) != len(ref):
        bad.append(f"{len(rows)} slate rows, {len(ref)} DuckDB rows")
    for r in rows:
        d = ref.get((r["channel"], r["interval"]))
        if d is None:
            bad.append(f"{r['channel']} {r['interval']}: not in DuckDB's answer")
            continue
        occ = r["occurrences"]
        mine = {
            "offered_total": r["offered_total"], "answered": r["answered"] * occ,
            "abandoned": r["abandoned"] * occ, "measured": r["measured"], "within": r["within"],
            "aht_mean_s": r["aht_mean_s"], "asa_s": r["asa_s"],
        }
        for k, v in mine.items():
            if not same_value(v, d[k]) and not (v is not None and d[k] is not None
                                                and abs(v - d[k]) <= 1e-9 * max(1.0, abs(d[k]))):
                bad.append(f"{r['channel']} {r['interval']} {k}: slate {v}, DuckDB {d[k]}")
    if bad:
        raise SystemExit("slate capacity's demand profile differs from DuckDB's:\n  " + "\n  ".join(bad[:20]))
    return len(rows)


def cmd_capacity(a) -> None:
    work = Path(a.work)
    work.mkdir(parents=True, exist_ok=True)
    results = []
    for data in a.data:
        rows = parquet_rows(data)
        demand, staffing, card = work / "demand.parquet", work / "staffing.csv", work / "card.parquet"
        cmds = {
            "capacity": [a.slate, "capacity", "--input", data, "--interval", "15m", "--profile", "hour-of-week",
                         "--tz", TZ, "--out", str(demand), "--staffing", str(staffing), "--shrinkage", "0.3",
                         "--threads", str(a.threads)],
            "run": [a.slate, "run", "--input", data, "--policy", "builtin:mps-promise-2008", "--window", "month",
                    "--by", "borough,grade", "--tz", TZ, "--threads", str(a.threads), "--out", str(card)],
        }
        # 1. Equal figures before any timing.
        measure_rss(cmds["capacity"])
        n = check_demand(demand, duckdb_demand(data, TZ, 15))
        print(f"[check] {Path(data).name}: slate capacity == DuckDB on {n} channel x 15-minute slots", flush=True)
        # 2. Interleaved timed runs, the order alternating so neither always runs on a warm cache.
        samples = {k: [] for k in cmds}
        for i in range(a.runs):
            for k in (("capacity", "run") if i % 2 == 0 else ("run", "capacity")):
                res = measure_rss(cmds[k])
                samples[k].append(res)
                print(f"[time] {Path(data).name} {k} run {i + 1}/{a.runs}: {res['wall']:.3f} s, "
                      f"{res['rss_mb']:.0f} MB", flush=True)
        ratios = [c["wall"] / r["wall"] for c, r in zip(samples["capacity"], samples["run"])]
        results.append({
            "data": Path(data).name, "rows": rows, "threads": a.threads, "runs": a.runs,
            "capacity_s": statistics.median(s["wall"] for s in samples["capacity"]),
            "run_s": statistics.median(s["wall"] for s in samples["run"]),
            "x_run": statistics.median(ratios), "x_run_min": min(ratios), "x_run_max": max(ratios),
            "capacity_mb": max(s["rss_mb"] for s in samples["capacity"]),
            "run_mb": max(s["rss_mb"] for s in samples["run"]),
        })
    write_capacity(a, results)


def write_capacity(a, results: list[dict]) -> None:
    out = Path(a.results)
    out.mkdir(parents=True, exist_ok=True)
    with open(out / "capacity.csv", "w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=list(results[0]))
        w.writeheader()
        for r in results:
            w.writerow({k: (f"{v:.4g}" if isinstance(v, float) else v) for k, v in r.items()})
    m = machine()
    table = [
        CAPACITY_BEGIN,
        f"Machine: {m['cpus']} CPUs ({m['cpu']}), {m['ram']} RAM; {m['date']}. Paired runs, the order "
        "alternating; x run is the median of the per-pair ratios (min-max in brackets). The demand "
        "profile was checked first against DuckDB (every channel x 15-minute slot of the week: offered, "
        "answered, abandoned, measured, within, mean handling time and mean wait).",
        "",
        "| data | rows | threads | `slate capacity` s / MB | `slate run` s / MB | capacity x run |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        table.append(
            f"| {r['data']} | {fmt_rows(r['rows'])} | {r['threads']} | {r['capacity_s']:.2f} / {r['capacity_mb']:.0f} "
            f"| {r['run_s']:.2f} / {r['run_mb']:.0f} | **{r['x_run']:.2f}** ({r['x_run_min']:.2f}-{r['x_run_max']:.2f}) |"
        )
    table.append(CAPACITY_END)
    md = out / "capacity.md"
    block = "\n".join(table)
    if md.exists() and CAPACITY_BEGIN in md.read_text():
        head, rest = md.read_text().split(CAPACITY_BEGIN, 1)
        md.write_text(head + block + rest.split(CAPACITY_END, 1)[1])
    else:
        md.write_text("# Capacity: the demand profile against a scorecard run\n\n"
                      "Written by `scripts/bench --capacity`. The commands, per data set:\n\n"
                      "```sh\nslate capacity --input DATA --interval 15m --profile hour-of-week --tz Europe/London \\\n"
                      "    --out demand.parquet --staffing staffing.csv --shrinkage 0.3 --threads 2\n"
                      "slate run --input DATA --policy builtin:mps-promise-2008 --window month --by borough,grade \\\n"
                      "    --tz Europe/London --threads 2\n```\n\n" + block + "\n")
    print(f"wrote {out / 'capacity.csv'} and {md}")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    e = sub.add_parser("engine")
    e.add_argument("name", choices=["duckdb", "duckdb-plain", "polars", "polars-streaming", "pyarrow-scan"])
    e.add_argument("--tz", default=TZ, help="zone of windows and of naive clocks (slate's --tz)")
    e.add_argument("--data", required=True)
    e.add_argument("--out", required=True)
    e.add_argument("--window", default="month", choices=["month", "day", "week"])
    e.add_argument("--threads", type=int, default=os.cpu_count())
    e.add_argument("--ambiguous-hours", help="MONTH:HOUR,... of --tz's repeated hours (computed when absent)")
    c = sub.add_parser("compare")
    c.add_argument("--data", action="append", required=True, help="a slate gen directory (repeat)")
    c.add_argument("--slate", required=True)
    c.add_argument("--scan-floor", required=True)
    c.add_argument("--work", required=True, help="scratch directory for outputs")
    c.add_argument("--results", default=str(ROOT / "docs/bench"))
    c.add_argument("--threads", type=int, default=os.cpu_count())
    c.add_argument("--runs", type=int, default=5)
    c.add_argument("--runs-big", type=int, default=1)
    c.add_argument("--runs-scaling", type=int, default=3)
    c.add_argument("--big-rows", type=int, default=50_000_000)
    c.add_argument("--big-mem-limit-gb", type=float, default=16.0,
                   help="address-space cap for DuckDB and Polars at the big size")
    c.add_argument("--scaling-data", help="directory for thread scaling and cost growth runs")
    x = sub.add_parser("matrix")
    x.add_argument("--shape", action="append", required=True, metavar="NAME:DIR:TZ",
                   help="a shape: its name, data directory and slate's --tz (repeat)")
    x.add_argument("--slate", required=True)
    x.add_argument("--scan-floor", required=True)
    x.add_argument("--work", required=True, help="scratch directory for outputs")
    x.add_argument("--results", default=str(ROOT / "docs/bench"))
    x.add_argument("--threads", type=int, default=os.cpu_count())
    x.add_argument("--runs", type=int, default=5)
    k = sub.add_parser("capacity")
    k.add_argument("--data", action="append", required=True, help="a `slate gen --call-queue` directory (repeat)")
    k.add_argument("--slate", required=True)
    k.add_argument("--work", required=True, help="scratch directory for outputs")
    k.add_argument("--results", default=str(ROOT / "docs/bench"))
    k.add_argument("--threads", type=int, default=os.cpu_count())
    k.add_argument("--runs", type=int, default=5)
    a = p.parse_args()
    if a.cmd == "capacity":
        cmd_capacity(a)
        return
    if a.cmd == "engine":
        cmd_engine(a)
    elif a.cmd == "matrix":
        cmd_matrix(a)
    else:
        cmd_compare(a)


if __name__ == "__main__":
    main()
