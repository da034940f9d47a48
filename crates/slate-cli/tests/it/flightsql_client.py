"""A real BI client against `slate serve`: the ADBC Flight SQL driver (what pandas, Polars,
DuckDB and Superset use). Run by crates/slate-cli/tests/it/serve.rs; exits non-zero naming the
first check that failed, and prints one JSON line of load-test figures.

usage: flightsql_client.py URI TOKEN CARD.parquet ADHOC.parquet LOAD_SECONDS CLIENTS
"""

import json
import sys
import threading
import time

import adbc_driver_flightsql.dbapi as flightsql
import pyarrow.parquet as pq

URI, TOKEN, CARD, ADHOC = sys.argv[1:5]
LOAD_SECONDS, CLIENTS = float(sys.argv[5]), int(sys.argv[6])


def fail(what):
    print(f"FAILED: {what}", file=sys.stderr)
    sys.exit(1)


def connect(token=TOKEN):
    kwargs = {}
    if token is not None:
        kwargs["db_kwargs"] = {"adbc.flight.sql.authorization_header": f"Bearer {token}"}
    return flightsql.connect(URI, **kwargs)


def query(conn, sql):
    with conn.cursor() as cur:
        cur.execute(sql)
        return cur.fetch_arrow_table()


def rows(table):
    """Rows as tuples in column order, for exact comparison (floats compared bit for bit)."""
    cols = [table.column(i).to_pylist() for i in range(table.num_columns)]
    return list(zip(*cols))


def refused(sql, token=TOKEN, expect=None):
    try:
        conn = connect(token)
        query(conn, sql)
    except Exception as e:  # the driver raises its own error classes
        msg = str(e)
        if expect and expect not in msg:
            fail(f"{sql!r} was refused, but with {msg!r} (expected {expect!r})")
        return msg
    fail(f"{sql!r} was not refused (token {token!r})")


conn = connect()

# 1. The served scorecard over Flight SQL is the Parquet file, row for row, bit for bit.
card = pq.read_table(CARD)
served = query(conn, "SELECT * FROM card")
if served.column_names != card.column_names:
    fail(f"columns {served.column_names} != {card.column_names}")
if rows(served) != rows(card):
    fail("SELECT * FROM card differs from the Parquet scorecard")

# 2. scorecard(...) computes the same scorecard from the records (as `slate run` did).
computed = query(conn, "SELECT * FROM scorecard('mps-promise-2008', 'month', 'borough,grade')")
if sorted(rows(computed), key=repr) != sorted(rows(card), key=repr):
    fail("scorecard('mps-promise-2008', 'month', 'borough,grade') differs from slate run")

# 3. An ad hoc question with slate's functions equals `slate run` on a one-measure policy.
adhoc = query(
    conn,
    """SELECT grade, hist_eligible(h) AS eligible, hist_count(h) AS measured,
              hist_within(h, 900) AS within,
              hist_quantile(h, 0.5) AS p50, hist_quantile(h, 0.9) AS p90
       FROM (SELECT grade, sla_hist(call_received, arrived, 0) AS h
             FROM records WHERE grade IS NOT NULL GROUP BY grade)
       ORDER BY grade""",
)
run = pq.read_table(ADHOC).to_pylist()
expected = sorted(
    (r["grade"], r["n_eligible"], r["n_measured"], r["n_within"], r["p50_s"], r["p90_s"])
    for r in run
    if r["level"] == "grade"
)
if rows(adhoc) != expected:
    fail(f"ad hoc hist_quantile(sla_hist(...)) {rows(adhoc)} != slate run {expected}")

# 4. Metadata a BI tool reads on connect.
objects = conn.adbc_get_objects(depth="tables").read_all().to_pylist()
tables = {
    t["table_name"]
    for c in objects
    for s in (c["catalog_db_schemas"] or [])
    for t in (s["db_schema_tables"] or [])
}
for t in ("records", "card", "card_exclusions"):
    if t not in tables:
        fail(f"GetTables does not list {t}: {sorted(tables)}")
info = conn.adbc_get_info()
if info.get("vendor_name") != "slate":
    fail(f"GetSqlInfo: vendor_name {info.get('vendor_name')!r}")
schema = conn.adbc_get_table_schema("card")
if schema.names != card.column_names:
    fail(f"table schema of card: {schema.names}")

# 5. A wrong or missing token is refused; writes are refused.
refused("SELECT 1", token="not-the-token-0000", expect="token")
refused("SELECT 1", token=None, expect="token")
for sql in [
    "CREATE TABLE t AS SELECT 1",
    "CREATE EXTERNAL TABLE t STORED AS PARQUET LOCATION '/tmp/slate-serve-x.parquet'",
    "COPY (SELECT * FROM records) TO '/tmp/slate-serve-copy.csv'",
    "INSERT INTO card SELECT * FROM card",
    "DROP TABLE card",
    "SET datafusion.execution.batch_size = 1",
]:
    refused(sql, expect="read-only")

# A client cannot read the server's files by path (DataFusion's URL tables are off).
refused(f"SELECT * FROM '{CARD}'", expect="not found")

# 6. A runaway query is cancelled at the timeout while others are served meanwhile.
runaway = {}


def run_away():
    t0 = time.monotonic()
    try:
        query(connect(), "SELECT count(*) FROM generate_series(1, 100000000000)")
        runaway["error"] = None
    except Exception as e:
        runaway["error"] = str(e)
    runaway["seconds"] = time.monotonic() - t0


th = threading.Thread(target=run_away)
th.start()
time.sleep(0.5)
during = query(conn, "SELECT count(*) AS n FROM card").column(0).to_pylist()
th.join()
if during != [card.num_rows]:
    fail(f"a query during the runaway one answered {during}")
if not runaway.get("error") or "cancelled" not in runaway["error"]:
    fail(f"the runaway query was not cancelled: {runaway}")

# 7. A query over its memory pool fails alone; the server goes on answering.
refused(
    # 4M ids in one string: an aggregate that cannot spill to disk (a GROUP BY would spill).
    "SELECT length(string_agg(incident_id, ',')) FROM records CROSS JOIN generate_series(1, 200)",
    expect="more memory than the server's per-query memory limit",
)
if query(conn, "SELECT count(*) AS n FROM card").column(0).to_pylist() != [card.num_rows]:
    fail("no answer after a query ran out of memory")

# 8. Bounded load: CLIENTS connections looping for LOAD_SECONDS on BI-style lookups.
LOOKUPS = [
    "SELECT borough, measure, compliance FROM card WHERE level = 'borough' "
    "AND window_start = (SELECT max(window_start) FROM card) ORDER BY borough, measure",
    "SELECT measure, sum(n_measured) AS measured, sum(n_within) AS within FROM card "
    "WHERE level = 'all' GROUP BY measure ORDER BY measure",
]
# Each lookup's answer, computed from the scorecard file itself (pyarrow, no server): every
# answer under load must equal it, so a wrong or torn result fails the test, not only an error.
card = pq.read_table(CARD).to_pylist()
last = max(r["window_start"] for r in card)
EXPECTED = [
    sorted(
        ((r["borough"], r["measure"], r["compliance"])
         for r in card
         if r["level"] == "borough" and r["window_start"] == last),
        # ORDER BY borough, measure: NULLs last, as DataFusion sorts them.
        key=lambda t: (t[0] is None, t[0] or "", t[1]),
    ),
    sorted(
        (m, sum(r["n_measured"] for r in card if r["level"] == "all" and r["measure"] == m),
         sum(r["n_within"] for r in card if r["level"] == "all" and r["measure"] == m))
        for m in {r["measure"] for r in card}
    ),
]
if not all(EXPECTED):
    fail("load test: the lookups select nothing from the scorecard")
for sql, want in zip(LOOKUPS, EXPECTED):
    if rows(query(conn, sql)) != want:
        fail(f"load test: {sql!r} differs from the scorecard file before any load")
latencies, errors, served, lock = [], [], [], threading.Lock()
stop_at = time.monotonic() + LOAD_SECONDS


def client(k):
    try:
        c = connect()
    except Exception as e:
        with lock:
            errors.append(f"connect: {e}")
        return
    i = k
    mine = []
    while time.monotonic() < stop_at:
        t0 = time.perf_counter()
        try:
            got = rows(query(c, LOOKUPS[i % len(LOOKUPS)]))
        except Exception as e:
            with lock:
                errors.append(str(e))
            break
        mine.append(time.perf_counter() - t0)
        if got != EXPECTED[i % len(EXPECTED)]:
            with lock:
                errors.append(f"client {k}: a wrong answer under load to {LOOKUPS[i % len(LOOKUPS)]!r}")
            break
        i += 1
    c.close()
    with lock:
        latencies.extend(mine)
        served.append(len(mine))


t0 = time.monotonic()
threads = [threading.Thread(target=client, args=(k,)) for k in range(CLIENTS)]
for t in threads:
    t.start()
for t in threads:
    t.join()
elapsed = time.monotonic() - t0
if errors:
    fail(f"load test: {len(errors)} errors, first: {errors[0]}")
if len(served) != CLIENTS or min(served) == 0:
    fail(f"load test: {CLIENTS} clients, queries answered per client: {sorted(served)}")
latencies.sort()


def pct(p):
    return 1000 * latencies[min(len(latencies) - 1, int(p * len(latencies)))]


print(
    json.dumps(
        {
            "clients": CLIENTS,
            "seconds": round(elapsed, 2),
            "queries": len(latencies),
            "fewest_per_client": min(served),
            "queries_per_s": round(len(latencies) / elapsed, 1),
            "p50_ms": round(pct(0.50), 2),
            "p99_ms": round(pct(0.99), 2),
            "max_ms": round(1000 * latencies[-1], 2),
        }
    )
)
