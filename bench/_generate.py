"""The benchmark inputs: N synthetic Portal events as NDJSON and as CEF, in bounded memory.

Events are made by DuckDB in chunks of 500,000 (canonical columns, a year ending 2025-11-01,
a third of them logins, 8 % failures, 2,000 users, JSON details on a fifth) and written with
auditlab's own writers (``write_ndjson``: the Portal's export records; ``write_cef``) into one file
per format. Memory stays at one chunk, whatever N. Files are kept and reused (``.done`` marker).

Usage: python bench/_generate.py N DIR
"""

from __future__ import annotations

import sys
from pathlib import Path

CHUNK = 500_000
YEAR_US = 365 * 24 * 3600 * 1_000_000

EVENTS_SQL = """
SELECT
  'ev-' || lpad(i::VARCHAR, 10, '0') AS event_id,
  make_timestamptz((1761955200000000 - $year + i * ($year // $n) + (hash(i) % 1000000)::BIGINT)::BIGINT) AS timestamp,
  CASE WHEN i % 3 = 0 THEN 'user.login' ELSE $acts[1 + (hash(i * 31) % len($acts))::INTEGER] END AS action,
  CASE WHEN hash(i * 3) % 100 < 8 THEN 'failure' ELSE 'success' END AS outcome,
  'user' || (hash(i * 5) % 2000)::VARCHAR || '@acme.example' AS user_email,
  'u-' || (hash(i * 5) % 2000)::VARCHAR AS user_id,
  CASE WHEN hash(i * 7) % 10 < 6 THEN 'portal' ELSE 'api' END AS auth_context,
  '10.' || (hash(i * 11) % 4)::VARCHAR || '.' || (hash(i * 13) % 256)::VARCHAR || '.' || (hash(i * 5) % 250)::VARCHAR AS ip_address,
  'project' AS resource_type,
  'r-' || (hash(i * 17) % 10000)::VARCHAR AS resource_id,
  'resource-' || (hash(i * 17) % 10000)::VARCHAR AS resource_name,
  'g-' || (hash(i * 19) % 50)::VARCHAR AS group_id,
  'Group ' || (hash(i * 19) % 50)::VARCHAR AS group_name,
  'project-' || (hash(i * 23) % 300)::VARCHAR AS project_name,
  CASE WHEN i % 4 = 0 THEN 'pkg-' || (hash(i * 29) % 1000)::VARCHAR END AS package_name,
  NULL::VARCHAR AS version_name,
  'req-' || md5(i::VARCHAR)[:16] AS request_id,
  CASE WHEN hash(i * 3) % 100 < 8 THEN 'Invalid credentials' END AS error_message,
  CASE WHEN i % 5 = 0 THEN '{"changes":[{"field":"name","old":"a","new":"b' || i::VARCHAR || '"}]}' END AS details,
  NULL::VARCHAR AS raw,
  'bench' AS source,
  i AS source_line
FROM range($lo, $hi) r(i)
ORDER BY i
"""


def make_data(n: int, out: Path) -> tuple[Path, Path]:
    """``events_<n>.ndjson`` and ``events_<n>.cef`` in ``out`` (made once, then reused)."""
    import duckdb

    from auditlab.catalog import ACTIONS
    from auditlab.io.cef import write_cef
    from auditlab.io.ndjson import write_ndjson
    from auditlab.schema import EVENTS_SCHEMA

    nd, cef = out / f"events_{n}.ndjson", out / f"events_{n}.cef"
    done = out / f"events_{n}.done"
    if done.exists() and nd.exists() and cef.exists():
        return nd, cef
    out.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    acts = sorted(ACTIONS)
    with open(nd, "wb") as fn, open(cef, "wb") as fc:
        for lo in range(0, n, CHUNK):
            hi = min(n, lo + CHUNK)
            params = {"year": YEAR_US, "n": n, "lo": lo, "hi": hi, "acts": acts}
            chunk = con.sql(EVENTS_SQL, params=params).to_arrow_table().cast(EVENTS_SCHEMA)
            write_ndjson(chunk, fn)
            write_cef(chunk, fc)
    con.close()
    done.write_text("ok")
    return nd, cef


if __name__ == "__main__":
    make_data(int(sys.argv[1]), Path(sys.argv[2]))
