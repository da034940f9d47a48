#!/usr/bin/env python3
"""Recomputes, with pandas and zoneinfo, how an export's local clock readings in a repeated
hour are read under an `ambiguous` rule (earlier, later, exclude, order), and compares every
clock of every record with what `slate import` wrote. Shares no code with slate.

    slate import --source map.toml --input export.csv --out imp --ambiguous order
    python3 scripts/check_ambiguous.py map.toml imp order export.csv [more.csv ...]

The mapping may use `from` columns in ISO form (`YYYY-MM-DD hh:mm:ss[.f]`, no offset) and
`missing` values; one row per incident. Prints the rule's counts and the records that differ.
"""
import itertools
import sys
import tomllib
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pandas as pd
import pyarrow.dataset as ds

LIFECYCLE = ["call_received", "call_answered", "incident_created", "dispatched", "arrived", "closed"]
CLOCKS = LIFECYCLE + ["call_ended"]

mapping_path, imported, rule, *exports = sys.argv[1:]
m = tomllib.load(open(mapping_path, "rb"))
zone = ZoneInfo(m.get("tz", "Europe/London"))
cols = m["columns"]
missing = set(m.get("missing", [""]))
clocks = [c for c in CLOCKS if c in cols]
id_col = cols["incident_id"]["from"]

raw = pd.concat(
    [pd.read_csv(f, dtype=str, keep_default_na=False) for f in exports], ignore_index=True
)


EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


def micros(d):
    return (d - EPOCH) // timedelta(microseconds=1)


def readings(text):
    """The UTC instants (µs) a local reading may mean: one, or two in a repeated hour."""
    if text.strip() in missing:
        return None
    naive = datetime.fromisoformat(text.strip())
    # fold=0 is the first pass of a repeated hour (and the offset before a skipped one).
    first = naive.replace(tzinfo=zone, fold=0)
    second = naive.replace(tzinfo=zone, fold=1)
    out = sorted({micros(d) for d in (first, second)})
    # A skipped reading also gives two; slate reads it with the offset before the change.
    if first.utcoffset() != second.utcoffset() and first.astimezone(zone).replace(tzinfo=None) != naive:
        return [micros(first)]
    return out


def decide(row):
    """The record's clocks under the rule, or None when it is excluded; and per-reading tags."""
    opts = {c: readings(row[cols[c]["from"]]) for c in clocks}
    amb = [c for c in clocks if opts[c] and len(opts[c]) == 2]
    pick = lambda choice: {c: (o[choice.get(c, 0)] if o else None) for c, o in opts.items()}
    if not amb:
        return pick({}), []
    if rule == "exclude":
        return None, ["excluded"] * len(amb)
    if rule in ("earlier", "later"):
        k = int(rule == "later")
        return pick({c: k for c in amb}), [rule] * len(amb)
    best = None
    for n, bits in enumerate(itertools.product([0, 1], repeat=len(amb))):
        v = pick(dict(zip(amb, bits)))
        chain = [v[c] for c in LIFECYCLE if c in v and v[c] is not None]
        ok = all(a <= b for a, b in zip(chain, chain[1:]))
        span = chain[-1] - chain[0] if chain else 0
        a, e = v.get("call_answered"), v.get("call_ended")
        if a is not None and e is not None:
            ok &= a <= e
            span += e - a
        # Ties: fewest later readings, then the lowest number with the first clock lowest.
        key = (span, sum(bits), sum(b << i for i, b in enumerate(bits)))
        if ok and (best is None or key < best[0]):
            best = (key, v, bits)
    if best is None:
        return pick({}), ["unordered"] * len(amb)
    return best[1], ["later" if b else "earlier" for b in best[2]]


expected, tags = {}, []
for _, row in raw.iterrows():
    try:
        v, t = decide(row)
    except ValueError:
        continue  # slate rejects it as a bad timestamp
    tags += t
    if v is not None:
        expected[row[id_col].strip()] = v

got = ds.dataset(imported, format="parquet", partitioning="hive").to_table().to_pandas()
counts = pd.Series(tags, dtype=object).value_counts().to_dict()
print(f"{len(tags)} ambiguous readings under {rule}: {counts}")
differ = 0
for _, r in got.iterrows():
    want = expected.get(r["incident_id"])
    if want is None:
        print(f"  {r['incident_id']}: read by slate, not expected")
        differ += 1
        continue
    for c in clocks:
        x = r[c]
        have = None if pd.isna(x) else int(x.value // 1000)
        if have != want[c]:
            differ += 1
            print(f"  {r['incident_id']} {c}: slate {x}, expected {want[c]}")
print(f"{len(got)} records compared, {differ} differences")
sys.exit(1 if differ else 0)
