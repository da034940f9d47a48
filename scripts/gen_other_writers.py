#!/usr/bin/env python3
"""CAD records as other tools write them, for the benchmark matrix (scripts/bench).

This generator shares no code with `slate gen`: it uses numpy and pyarrow only, so that the
benchmark also measures Parquet that slate did not write. Seeded and deterministic: the same
arguments give the same values (file by file, whatever the machine).

Shapes (the run's `--tz` in brackets):
  A  naive `timestamp[us]` clocks holding UTC wall time, Int64 `incident_id`, 8 files,
     1M-row row groups, zstd: an export from a warehouse or pandas  [UTC]
  B  as A, but the naive clocks hold Europe/London wall time (a CAD system's local clock)
     [Europe/London]
  C  many small files (500 by default), zoned `timestamp[us, tz=UTC]` instants, Int64 ids,
     snappy, one row group per file: a Spark-style partitioned write  [Europe/London]
  E  as A, but borough, grade and channel are dictionary-encoded strings in the Arrow schema,
     as pyarrow writes pandas categoricals (DataFusion reads them as dictionaries)  [UTC]

  scripts/gen_other_writers.py --shape A --rows 10000000 --out bench-data/shape-A

Values: channels 999 / 101 / online, grades I / S / E / R, 33 London boroughs, lognormal answer
and attendance delays with sub-second parts, ~4% cancelled (most with no arrival), a few
missing clocks, a few clocks out of order (negative durations) and a few missing boroughs.
Rows are in call order (each file holds one slice of the period), as a CAD export is.
"""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

BOROUGHS = [
    "Barking and Dagenham", "Barnet", "Bexley", "Brent", "Bromley", "Camden", "City of London",
    "Croydon", "Ealing", "Enfield", "Greenwich", "Hackney", "Hammersmith and Fulham", "Haringey",
    "Harrow", "Havering", "Hillingdon", "Hounslow", "Islington", "Kensington and Chelsea",
    "Kingston upon Thames", "Lambeth", "Lewisham", "Merton", "Newham", "Redbridge",
    "Richmond upon Thames", "Southwark", "Sutton", "Tower Hamlets", "Waltham Forest",
    "Wandsworth", "Westminster",
]
# Boroughs differ in size: weights from a fixed skew, normalised.
_W = np.linspace(1.6, 0.6, len(BOROUGHS))
BOROUGH_P = _W / _W.sum()
CHANNELS = ["999", "101", "online"]
CHANNEL_P = [0.55, 0.35, 0.10]
GRADES = ["I", "S", "E", "R"]
GRADE_P = [0.25, 0.35, 0.25, 0.15]
# Median seconds and log-sigma of each delay.
ANSWER = {"999": (5.0, 0.8), "101": (24.0, 1.1)}
CREATE = (80.0, 0.6)
DISPATCH = {"I": (45.0, 0.6), "S": (420.0, 0.9), "E": (1500.0, 0.9), "R": (3600.0, 1.0)}
TRAVEL = {"I": (420.0, 0.45), "S": (1300.0, 0.6), "E": (2400.0, 0.7), "R": (4000.0, 0.7)}
CLOSE = (3000.0, 0.8)

US = 1_000_000
PERIOD_FROM = np.datetime64("2019-01-01T00:00:00", "us").astype(np.int64)
PERIOD_TO = np.datetime64("2024-01-01T00:00:00", "us").astype(np.int64)

SHAPES = {
    # files, row group rows, compression, clock type, wall-clock zone of naive clocks
    "A": dict(files=8, row_group=1_000_000, compression="zstd", naive="UTC"),
    "B": dict(files=8, row_group=1_000_000, compression="zstd", naive="Europe/London"),
    "C": dict(files=500, row_group=None, compression="snappy", naive=None),
    "E": dict(files=8, row_group=1_000_000, compression="zstd", naive="UTC", dictionary=True),
}


def lognormal_us(rng: np.random.Generator, median_s: float, sigma: float, n: int) -> np.ndarray:
    """Delays in whole microseconds (sub-second parts matter: durations are floored)."""
    return np.round(rng.lognormal(np.log(median_s), sigma, n) * US).astype(np.int64)


def pick(rng: np.random.Generator, values: list[str], p, n: int) -> np.ndarray:
    return rng.choice(len(values), size=n, p=p).astype(np.int32)


def by_code(codes: np.ndarray, table: dict, keys: list[str], rng, n) -> np.ndarray:
    out = np.zeros(n, dtype=np.int64)
    for k, key in enumerate(keys):
        if key not in table:
            continue
        m = codes == k
        med, sig = table[key]
        out[m] = lognormal_us(rng, med, sig, int(m.sum()))
    return out


def file_table(seed: int, index: int, n: int, t_from: int, t_to: int, id_base: int,
               dictionary: bool = False) -> pa.Table:
    rng = np.random.default_rng([seed, index])
    # Calls over the slice, busier in the afternoon and evening than at night.
    t = np.sort(rng.integers(t_from, t_to, n, dtype=np.int64))
    hour = (t // (3600 * US)) % 24
    late = rng.random(n) < np.where((hour >= 2) & (hour < 7), 0.35, 0.0)
    t = np.sort(np.where(late, t + 6 * 3600 * US, t).clip(t_from, t_to - 1))

    channel = pick(rng, CHANNELS, CHANNEL_P, n)
    grade = pick(rng, GRADES, GRADE_P, n)
    borough = pick(rng, BOROUGHS, BOROUGH_P, n)

    answered = t + by_code(channel, ANSWER, CHANNELS, rng, n)
    created = np.where(channel == 2, t, answered) + lognormal_us(rng, *CREATE, n)
    dispatched = created + by_code(grade, DISPATCH, GRADES, rng, n)
    arrived = dispatched + by_code(grade, TRAVEL, GRADES, rng, n)
    closed = arrived + lognormal_us(rng, *CLOSE, n)
    cancelled = rng.random(n) < 0.04

    # Missing and wrong values, as real exports have them.
    no_answer = (channel == 2) | (rng.random(n) < 0.003)  # online reports; abandoned calls
    no_arrival = (cancelled & (rng.random(n) < 0.8)) | (rng.random(n) < 0.01)
    no_dispatch = no_arrival & (rng.random(n) < 0.5)
    backwards = rng.random(n) < 0.0005  # arrival keyed before the call
    arrived = np.where(backwards, t - lognormal_us(rng, 300.0, 1.0, n), arrived)
    no_borough = rng.random(n) < 0.0005
    no_received = rng.random(n) < 0.0002

    def clock(v, missing=None):
        mask = missing if missing is not None else None
        return pa.array(v, type=pa.int64(), mask=mask)

    def text(codes, values, missing=None):
        d = pa.DictionaryArray.from_arrays(
            pa.array(codes, type=pa.int32(), mask=missing), pa.array(values, type=pa.string())
        )
        return d if dictionary else d.cast(pa.string())

    return pa.table(
        {
            "incident_id": pa.array(id_base + np.arange(n, dtype=np.int64), type=pa.int64()),
            "borough": text(borough, BOROUGHS, no_borough),
            "grade": text(grade, GRADES),
            "channel": text(channel, CHANNELS),
            "call_received": clock(t, no_received),
            "call_answered": clock(answered, no_answer),
            "incident_created": clock(created),
            "dispatched": clock(dispatched, no_dispatch),
            "arrived": clock(arrived, no_arrival),
            "closed": clock(closed),
            "cancelled": pa.array(cancelled, type=pa.bool_()),
        }
    )


CLOCKS = ["call_received", "call_answered", "incident_created", "dispatched", "arrived", "closed"]


def as_clocks(t: pa.Table, naive_zone: str | None) -> pa.Table:
    """Int64 UTC microseconds -> the shape's timestamp type."""
    cols = {}
    for name in t.column_names:
        col = t[name]
        if name in CLOCKS:
            utc = col.cast(pa.timestamp("us", tz="UTC"))
            if naive_zone is None:
                col = utc
            elif naive_zone == "UTC":
                col = col.cast(pa.timestamp("us"))
            else:
                # The wall time a local clock showed at that instant, without its zone.
                col = pc.local_timestamp(pc.cast(utc, pa.timestamp("us", tz=naive_zone)))
        cols[name] = col
    return pa.table(cols)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--shape", required=True, choices=sorted(SHAPES))
    p.add_argument("--rows", type=int, default=10_000_000)
    p.add_argument("--files", type=int, help="override the shape's file count")
    p.add_argument("--seed", type=int, default=11)
    p.add_argument("--out", required=True)
    p.add_argument("--force", action="store_true", help="replace an existing output directory")
    a = p.parse_args()
    shape = SHAPES[a.shape]
    files = a.files or shape["files"]
    out = Path(a.out)
    if out.exists():
        if not a.force:
            raise SystemExit(f"{out} exists (use --force)")
        shutil.rmtree(out)
    out.mkdir(parents=True)
    span = PERIOD_TO - PERIOD_FROM
    done = 0
    for f in range(files):
        n = a.rows // files + (1 if f < a.rows % files else 0)
        t_from = PERIOD_FROM + span * f // files
        t_to = PERIOD_FROM + span * (f + 1) // files
        table = as_clocks(file_table(a.seed, f, n, t_from, t_to, 10_000_000_000 + done,
                                     shape.get("dictionary", False)), shape["naive"])
        pq.write_table(
            table,
            out / f"part-{f:05d}.parquet",
            compression=shape["compression"],
            row_group_size=shape["row_group"] or n,
        )
        done += n
    print(f"wrote {done} rows in {files} files to {out} (shape {a.shape})")


if __name__ == "__main__":
    main()
