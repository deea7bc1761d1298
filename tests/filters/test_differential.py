"""SQL and Polars give the same events for random queries over random events (with NULLs)."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import duckdb
import polars as pl
import pytest
from filters_fixtures import make_con, polars_ids, sql_ids
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from auditlab.filters import Query
from auditlab.testing.strategies import BASE_TIME, event_frames, pool_queries

_anchors = st.one_of(
    st.none(),
    st.integers(0, 4 * 24 * 3600).map(lambda s: BASE_TIME - timedelta(days=1) + timedelta(seconds=s)),
)


@pytest.fixture(scope="module")
def shared_con() -> duckdb.DuckDBPyConnection:
    return duckdb.connect()


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(frame=event_frames(max_size=30), query=pool_queries(), anchor=_anchors)
def test_sql_and_polars_select_the_same_events(
    shared_con: duckdb.DuckDBPyConnection, frame: pl.DataFrame, query: Query, anchor: datetime | None
) -> None:
    if anchor is None and query.time_range.relative:
        anchor = BASE_TIME + timedelta(days=1)  # never the wall clock in a test
    con = make_con(frame, shared_con)
    assert sql_ids(con, query, anchor) == polars_ids(frame, query, anchor)


SAMPLE = Path(__file__).parents[2] / "data" / "samples" / "portal_audit_export.zip"


@pytest.mark.skipif(not SAMPLE.exists(), reason="data/samples not generated (auditlab samples)")
def test_sql_and_polars_agree_on_the_sample_data() -> None:
    import auditlab
    from auditlab.filters import Condition

    ws = auditlab.load(str(SAMPLE))
    frame = ws.to_polars()
    newest = frame["timestamp"].max()
    anchor = newest + timedelta(microseconds=1)
    pools = {
        f: [v for v in frame[f].drop_nulls().unique().sort().to_list()[:6]]
        for f in (
            "action",
            "outcome",
            "user_email",
            "auth_context",
            "resource_type",
            "ip_address",
            "group_name",
        )
    }

    @settings(max_examples=60, deadline=None)
    @given(st.data())
    def check(data: st.DataObject) -> None:
        conds = []
        for field in data.draw(st.lists(st.sampled_from(sorted(f for f in pools if pools[f])), max_size=3)):
            op = data.draw(st.sampled_from(["is", "is_not", "is_any", "is_not_any"]))
            n = data.draw(st.integers(1, 3)) if "any" in op else 1
            values = data.draw(st.lists(st.sampled_from(pools[field]), min_size=n, max_size=n))
            if field == "user_email" and data.draw(st.booleans()):
                values = [v.upper() for v in values]
            conds.append(Condition(field, op, values))
        q = Query(conds, data.draw(st.sampled_from(["24h", "7d", "30d", "all"])))
        assert sql_ids(ws.con, q, anchor) == polars_ids(frame, q, anchor)

    check()
