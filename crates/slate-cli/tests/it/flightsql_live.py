"""Reads `latest` from `slate stream --serve` while the stream emits (ADBC Flight SQL driver).

Each query scans `latest` twice (the whole-force rows and the most detailed rows); within one
emission their `n_measured` totals are equal, so a query that mixed two emissions would show it.
Loops until DONE_FILE exists (the stream has ended), then checks the served table equals the
stream's latest.parquet. Run by crates/slate-cli/tests/it/serve.rs.

usage: flightsql_live.py URI TOKEN DONE_FILE LATEST.parquet
"""

import json
import os
import sys
import time

import adbc_driver_flightsql.dbapi as flightsql
import pyarrow.parquet as pq

URI, TOKEN, DONE, LATEST = sys.argv[1:5]
TWICE = """SELECT (SELECT sum(n_measured) FROM latest WHERE level = 'all') AS total,
                  (SELECT sum(n_measured) FROM latest WHERE level = 'borough+grade') AS detail"""


def fail(what):
    print(f"FAILED: {what}", file=sys.stderr)
    sys.exit(1)


conn = flightsql.connect(URI, db_kwargs={"adbc.flight.sql.authorization_header": f"Bearer {TOKEN}"})
cur = conn.cursor()
seen, queries = set(), 0
while True:
    done = os.path.exists(DONE)  # read before the query: the last query sees the final emission
    cur.execute(TWICE)
    total, detail = cur.fetchone()
    queries += 1
    if total != detail:
        fail(f"one query saw two emissions: whole force {total} != detail {detail}")
    seen.add(total)
    if done:
        break
    time.sleep(0.02)

final = pq.read_table(LATEST)
levels = final.column("level").to_pylist()
measured = final.column("n_measured").to_pylist()
total = sum(m for l, m in zip(levels, measured) if l == "all" and m is not None)
detail = sum(m for l, m in zip(levels, measured) if l == "borough+grade" and m is not None)
if total != detail or total == 0:
    fail(f"latest.parquet: whole force {total}, detail {detail}: the check above means nothing")
cur.execute("SELECT * FROM latest")
served = cur.fetch_arrow_table()
cols = lambda t: [t.column(i).to_pylist() for i in range(t.num_columns)]
if served.column_names != final.column_names or cols(served) != cols(final):
    fail("the served `latest` differs from latest.parquet after the stream ended")
print(json.dumps({"queries": queries, "distinct_emissions_seen": len(seen)}))
