#!/usr/bin/env python3
"""Recomputes the whole-force yearly figures of builtin:mps-promise-2008-full's new measures
(working days, deadline, share) from the records with pandas and the `holidays` package, and
compares them with slate's scorecard. Shares no code with slate.

    slate gen --promises --rows 300000 --years 2 --from 2023-01-01 --out data
    slate run --input data --policy builtin:mps-promise-2008-full --window year --out card.parquet
    python3 scripts/check_promises.py data card.parquet      # pip install pandas pyarrow holidays
"""
import sys

import holidays
import numpy as np
import pandas as pd
import pyarrow.dataset as ds

data, card = sys.argv[1], sys.argv[2]
df = ds.dataset(data, format="parquet", partitioning="hive").to_table().to_pandas()
LONDON = "Europe/London"
ew = holidays.UK(subdiv="England", years=range(2015, 2031))


def local(col):
    return df[col].dt.tz_convert(LONDON)


def working_days(start, stop):
    """Working days taken, England and Wales: the working days in (start date, stop date], a stop
    on a non-working day after the start's date counting as the next working day (so that "at
    most N" is "by the end of the N-th working day after the start's date")."""
    a = start.dt.date.values.astype("datetime64[D]")
    b = stop.dt.date.values.astype("datetime64[D]")
    hol = np.array(sorted(ew.keys()), dtype="datetime64[D]")
    # busday_count counts [a, b): shift both by one day to count (a, b].
    n = np.busday_count(a + 1, b + 1, holidays=hol)
    return n + ((b > a) & ~np.is_busday(b, holidays=hol))


rows = []
for mid, start, stop, n in [
    ("acknowledge_dissatisfaction_2wd", "complaint_received", "complaint_acknowledged", 2),
    ("collision_contact_10wd", "collision_reported", "collision_contacted", 10),
]:
    d = df[df[start].notna() & df[stop].notna() & (df[stop] >= df[start])]
    wd = working_days(local(start)[d.index], local(stop)[d.index])
    year = local(start)[d.index].dt.year.values
    for y in sorted(set(year)):
        w = wd[year == y]
        rows.append((mid, y, len(w), int((w <= n).sum()), float(np.percentile(w, 50)), float(np.percentile(w, 90))))

d = df[df["appointment_due"].notna() & ~df["cancelled"].fillna(False) & df["arrived"].notna()]
late = np.floor((d["arrived"] - d["appointment_due"]).dt.total_seconds()).astype(np.int64)
year = local("appointment_due")[d.index].dt.year.values
for y in sorted(set(year)):
    v = late.values[year == y]
    rows.append(("appointment_kept", y, len(v), int((v <= 900).sum()), float(np.percentile(v, 50)), float(np.percentile(v, 90))))

d = df[df["surveyed"].notna() & df["satisfied"].notna()]
year = local("surveyed")[d.index].dt.year.values
for y in sorted(set(year)):
    v = d["satisfied"].values[year == y]
    rows.append(("satisfied", y, len(v), int(v.sum()), None, None))

sc = ds.dataset(card).to_table().to_pandas()
sc = sc[sc["level"] == "all"]
bad = 0
for mid, y, n, k, p50, p90 in rows:
    r = sc[(sc["measure"] == mid) & (pd.to_datetime(sc["window_start"]).dt.year == y)]
    if len(r) != 1:
        print(f"{mid} {y}: no scorecard row")
        bad += 1
        continue
    r = r.iloc[0]
    unit = "wd" if mid.endswith("wd") else "s"
    got = (int(r["n_measured"]), int(r["n_within"]))
    ok = got == (n, k)
    if p50 is not None:
        ok &= abs(r[f"p50_{unit}"] - p50) < 1e-9 and abs(r[f"p90_{unit}"] - p90) < 1e-9
    print(f"{'ok ' if ok else 'BAD'} {mid:32} {y} measured {n:6} within {k:6}"
          + (f" p50 {p50:g} p90 {p90:g}" if p50 is not None else "")
          + ("" if ok else f"   slate: {got} p50 {r.get('p50_' + unit)} p90 {r.get('p90_' + unit)}"))
    bad += not ok
sys.exit(1 if bad else 0)
