"""Measures `slate serve` with the ADBC Flight SQL driver: single-query times and a load test of
scorecard lookups. Prints Markdown rows for docs/bench/serve.md.

usage: python3 scripts/serve-bench.py URI TOKEN_FILE CLIENTS SECONDS
(the server serves --input DATA and --scorecard card=FILE, a monthly mps-promise-2008 card)
"""

import sys
import threading
import time

import adbc_driver_flightsql.dbapi as flightsql

URI, TOKEN_FILE = sys.argv[1:3]
CLIENTS, SECONDS = int(sys.argv[3]), float(sys.argv[4])
TOKEN = open(TOKEN_FILE).read().strip()


def connect():
    return flightsql.connect(
        URI, db_kwargs={"adbc.flight.sql.authorization_header": f"Bearer {TOKEN}"}
    )


def timed(cur, sql):
    t0 = time.perf_counter()
    cur.execute(sql)
    rows = cur.fetch_arrow_table().num_rows
    return time.perf_counter() - t0, rows


cur = connect().cursor()
SINGLE = [
    ("lookup: one month, by borough, one measure (served card)",
     "SELECT borough, compliance FROM card WHERE level = 'borough' AND measure = 'answer_999_10s' "
     "AND window_start = (SELECT max(window_start) FROM card)"),
    ("scorecard('mps-promise-2008', 'month', 'borough'), first call (computed from records)",
     "SELECT * FROM scorecard('mps-promise-2008', 'month', 'borough')"),
    ("the same again (cached)",
     "SELECT * FROM scorecard('mps-promise-2008', 'month', 'borough')"),
    ("ad hoc: monthly p90 attendance of grade I with sla_hist/hist_quantile over records",
     "SELECT date_trunc('month', call_received) AS m, "
     "hist_quantile(sla_hist(call_received, arrived, 0), 0.9) AS p90 "
     "FROM records WHERE grade = 'I' GROUP BY 1 ORDER BY 1"),
]
print("| query | seconds | rows |")
print("|---|---:|---:|")
for name, sql in SINGLE:
    s, n = timed(cur, sql)
    print(f"| {name} | {s:.3f} | {n} |")

LOOKUP = SINGLE[0][1]
lat, errors, lock = [], [], threading.Lock()
stop_at = time.monotonic() + SECONDS


def client():
    c = connect().cursor()
    mine = []
    while time.monotonic() < stop_at:
        t0 = time.perf_counter()
        try:
            c.execute(LOOKUP)
            c.fetch_arrow_table()
        except Exception as e:
            with lock:
                errors.append(str(e))
            return
        mine.append(time.perf_counter() - t0)
    with lock:
        lat.extend(mine)


t0 = time.monotonic()
ts = [threading.Thread(target=client) for _ in range(CLIENTS)]
for t in ts:
    t.start()
for t in ts:
    t.join()
wall = time.monotonic() - t0
lat.sort()
pct = lambda p: 1000 * lat[min(len(lat) - 1, int(p * len(lat)))]
print()
print("| clients | seconds | queries | errors | queries/s | p50 ms | p90 ms | p99 ms | max ms |")
print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
print(f"| {CLIENTS} | {wall:.1f} | {len(lat)} | {len(errors)} | {len(lat) / wall:.0f} | "
      f"{pct(0.5):.1f} | {pct(0.9):.1f} | {pct(0.99):.1f} | {1000 * lat[-1]:.1f} |")
