"""Hostile SQL against `slate serve` (issue 24): each query fails alone with a clear error and
the server goes on answering. Run by crates/slate-cli/tests/it/serve.rs; exits non-zero naming
the first check that failed.

usage: flightsql_hostile.py URI SPILL_DIR
"""

import os
import sys

import adbc_driver_flightsql.dbapi as flightsql

URI, SPILL_DIR = sys.argv[1:3]


def fail(what):
    print(f"FAILED: {what}", file=sys.stderr)
    sys.exit(1)


def query(sql):
    with flightsql.connect(URI) as conn, conn.cursor() as cur:
        cur.execute(sql)
        return cur.fetch_arrow_table()


def refused(sql, *expect):
    try:
        query(sql)
    except Exception as e:  # the driver raises its own error classes
        msg = str(e)
        for x in expect:
            if x not in msg:
                fail(f"{sql!r} was refused, but with {msg!r} (expected {x!r})")
        return msg
    fail(f"{sql!r} was not refused")


def alive():
    n = query("SELECT count(*) AS n FROM records").column(0).to_pylist()
    if not n or n[0] <= 0:
        fail(f"no answer after a refused query: {n}")


# A function asked for a 2.1 GB string: refused before it allocates, by slate's capped repeat.
refused("SELECT length(repeat('x', 2100000000))", "repeat() would return", "1048576 bytes")
alive()
# Just past the cap, and over a column (a batch of rows past 64 MiB).
refused("SELECT length(repeat('x', 1048577))", "repeat() would return")
refused("SELECT max(length(lpad(incident_id, 100000))) FROM records", "lpad() would return")
alive()
# Just under the cap works.
n = query("SELECT length(repeat('x', 1048576)) AS n").column(0).to_pylist()
if n != [1048576]:
    fail(f"repeat('x', 1048576) gave {n}")

# scorecard(...) under the query's memory limit: one row per incident and call time is more than 32 MiB.
refused(
    "SELECT count(*) FROM scorecard('mps-promise-2008', 'month', 'incident_id,call_received')",
    "more memory than",
)
alive()
# A small one still works.
if query("SELECT count(*) AS n FROM scorecard('mps-promise-2008', 'month', 'borough')").column(
    0
).to_pylist()[0] <= 0:
    fail("scorecard(... 'borough') gave no rows")

# Spill files go to the spill directory given (DataFusion makes its folder there at start;
# the spill limit itself is checked by slate-serve's catalog::tests).
if not any(e.startswith("datafusion-") for e in os.listdir(SPILL_DIR)):
    fail(f"nothing in the spill directory {SPILL_DIR}: {os.listdir(SPILL_DIR)}")
print("ok")
