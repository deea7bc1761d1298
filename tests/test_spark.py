"""Spark against DuckDB: the same events for the same queries (auditlab.spark, filters.to_spark).

Local-mode Spark (pyspark 4, the ``spark`` extra, and a Java runtime; the ``spark`` fixture of
conftest.py) reads the sample store that DuckDB reads; every query must give the same count and the
same event ids. Skipped, with the reason, when pyspark or Java is missing.
"""

from __future__ import annotations

import shutil
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from auditlab.testing.spark import spark_unavailable

if spark_unavailable():
    pytest.skip(str(spark_unavailable()), allow_module_level=True)

import duckdb
import polars as pl
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pyspark.sql import DataFrame
from pyspark.sql import functions as F

import auditlab
import auditlab.spark
from auditlab.errors import StoreCorruptError, StoreError
from auditlab.filters import Condition, Query, to_sql
from auditlab.filters.to_spark import to_spark
from auditlab.schema import COLUMNS, duckdb_columns
from auditlab.testing.strategies import BASE_TIME, event_frames, pool_queries

SAMPLE = Path(__file__).parents[1] / "data" / "samples" / "portal_audit_export.zip"


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> auditlab.Store:
    st_ = auditlab.open_store(tmp_path_factory.mktemp("store") / "s")
    st_.ingest(str(SAMPLE))
    return st_


def duck_ids(store: auditlab.Store, q: Query | str) -> list[str]:
    return sorted(
        auditlab.QueryResult(store, q, allow_unknown_actions=True).to_arrow()["event_id"].to_pylist()
    )


def spark_ids(df: DataFrame) -> list[str]:
    return sorted(r[0] for r in df.select("event_id").collect())


def spark_id_lists(df: DataFrame, queries: list[Query], anchor: datetime | None) -> list[list[str]]:
    """Each query's matching ids, all in one Spark job (``collect_list`` skips the NULLs of ``when``)."""
    aggs = [
        F.sort_array(F.collect_list(F.when(to_spark(q, anchor=anchor), F.col("event_id")))).alias(f"q{i}")
        for i, q in enumerate(queries)
    ]
    row = df.agg(*aggs).collect()[0]
    return [list(row[i]) for i in range(len(queries))]


# Each row: a query over the sample store and its count, pinned (a regression in both engines at
# once is caught too).
QUERIES = [
    ("all time", 17050),
    ("since 24h", 164),
    ("outcome is failure; since 7d", 31),
    ("outcome is_not failure; all time", 16883),
    ("auth_context is_not_any portal; all time", 4541),
    ("user_email is EXT.Zoe.Bauer@ACME.example; all time", 120),
    ("action is_any user.login,user.sso.saml.login; outcome is failure; since 30d", 113),
    ("target_type is_not project; target_name is_not_any tilda.yilmaz@acme.example,x; all time", 16818),
    ("group_name is_not Platform; ip_address is_any 203.0.113.45,10.30.0.12; all time", 465),
    ("between 2026-10-10T00:00:00Z and 2026-10-11T00:00:00Z", 91),
    ("since 2026-10-30T12:00:00Z", 656),
    ("until 2026-10-03T00:00:00Z", 1005),
]


@pytest.mark.parametrize("text, pinned", QUERIES)
def test_spark_query_gives_duckdb_events_on_the_sample_store(
    spark: Any, store: auditlab.Store, text: str, pinned: int
) -> None:
    expected = duck_ids(store, text)
    df = auditlab.spark.query(spark, store.path, text)
    assert df.columns == list(COLUMNS)
    got = spark_ids(df)
    assert got == expected
    assert df.count() == len(expected)
    assert len(expected) == pinned


def test_time_bounds_are_start_inclusive_end_exclusive(spark: Any, store: auditlab.Store) -> None:
    row = store.con.execute(
        "SELECT timestamp, event_id FROM events ORDER BY timestamp, event_id LIMIT 1 OFFSET 5000"
    ).fetchall()[0]
    at: datetime = row[0]
    starting = Query([], "all").between(at, at + timedelta(hours=1))
    ending = Query([], "all").between(at - timedelta(hours=1), at)
    assert row[1] in spark_ids(auditlab.spark.query(spark, store.path, starting))
    assert row[1] not in spark_ids(auditlab.spark.query(spark, store.path, ending))
    assert spark_ids(auditlab.spark.query(spark, store.path, ending)) == duck_ids(store, ending)


def test_relative_ranges_end_at_the_newest_event(spark: Any, store: auditlab.Store) -> None:
    newest = store.con.execute("SELECT max(timestamp) FROM events").fetchall()[0][0]
    assert auditlab.spark.newest_timestamp(spark, store.path) == newest
    anchored = auditlab.spark.query(spark, str(store.path), "since 24h", anchor=newest - timedelta(days=2))
    expected = duck_ids(
        store, Query([], "all").between(newest - timedelta(days=3), newest - timedelta(days=2))
    )
    assert spark_ids(anchored) == expected


@settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_spark_and_duckdb_agree_on_drawn_queries_over_the_sample(
    spark: Any, store: auditlab.Store, data: st.DataObject
) -> None:
    pools = _sample_pools(store)
    queries = data.draw(st.lists(_sample_query(pools), min_size=12, max_size=12))
    df = auditlab.spark.read_events(spark, store.path)
    anchor = auditlab.spark.newest_timestamp(spark, store.path)
    assert anchor is not None
    anchor += timedelta(microseconds=1)
    got = spark_id_lists(df, queries, anchor)
    for q, ids in zip(queries, got, strict=True):
        assert ids == duck_ids(store, q), q.to_text()


_POOLS: dict[str, list[str]] = {}


def _sample_pools(store: auditlab.Store) -> dict[str, list[str]]:
    if not _POOLS:
        fields = (
            "action",
            "outcome",
            "user_email",
            "auth_context",
            "resource_type",
            "ip_address",
            "group_name",
        )
        for f in fields:
            rows = store.con.execute(
                f"SELECT DISTINCT {f} FROM events WHERE {f} IS NOT NULL ORDER BY 1 LIMIT 6"
            ).fetchall()
            _POOLS[f] = [r[0] for r in rows]
    return _POOLS


def _sample_query(pools: dict[str, list[str]]) -> st.SearchStrategy[Query]:
    @st.composite
    def build(draw: Any) -> Query:
        conds = []
        for field in draw(st.lists(st.sampled_from(sorted(f for f in pools if pools[f])), max_size=3)):
            op = draw(st.sampled_from(["is", "is_not", "is_any", "is_not_any"]))
            n = draw(st.integers(1, 3)) if "any" in op else 1
            values = draw(st.lists(st.sampled_from(pools[field]), min_size=n, max_size=n))
            if field == "user_email" and draw(st.booleans()):
                values = [v.upper() for v in values]
            conds.append(Condition(field, op, values))
        return Query(conds, draw(st.sampled_from(["24h", "7d", "30d", "all"])), allow_unknown_actions=True)

    return build()


_anchors = st.one_of(
    st.none(),
    st.integers(0, 4 * 24 * 3600).map(lambda s: BASE_TIME - timedelta(days=1) + timedelta(seconds=s)),
)


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    frame=event_frames(max_size=30),
    queries=st.lists(pool_queries(), min_size=12, max_size=12),
    anchor=_anchors,
)
def test_spark_and_duckdb_agree_on_random_events_with_nulls_and_unicode(
    spark: Any, frame: pl.DataFrame, queries: list[Query], anchor: datetime | None
) -> None:
    """NULLs in every field, ``İ``/final ``Σ``/``ẞ`` case traps, injection strings (strategies.py)."""
    anchor = anchor or BASE_TIME + timedelta(days=1)
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    con.execute(f"CREATE TABLE events ({duckdb_columns()})")
    con.register("incoming", frame.to_arrow())
    con.execute("INSERT INTO events SELECT * FROM incoming")
    df = spark.createDataFrame(frame.to_arrow())
    got = spark_id_lists(df, queries, anchor)
    for q, ids in zip(queries, got, strict=True):
        where, params = to_sql(q, anchor=anchor)
        rows = con.execute(f"SELECT event_id FROM events WHERE {where} ORDER BY 1", params).fetchall()
        assert ids == [r[0] for r in rows], q.to_text()


def test_values_are_literals_never_sql_text(spark: Any) -> None:
    frame = spark.createDataFrame(
        [("a", "x' OR 1=1 --"), ("b", "y")], "event_id STRING, resource_name STRING"
    )
    q = Query(
        [Condition("resource_type", "is_not", "z"), Condition("resource_name", "is", "x' OR 1=1 --")], "all"
    )
    with_type = frame.withColumn("resource_type", F.lit(None).cast("string"))
    assert spark_ids(with_type.where(to_spark(q))) == ["a"]


def test_orphan_files_of_a_killed_load_are_not_read(spark: Any, store: auditlab.Store) -> None:
    orphan_dir = store.path / "events" / "day=2026-10-05"
    orphan = orphan_dir / "killed-load-part0.parquet"
    shutil.copy(next(orphan_dir.glob("*.parquet")), orphan)
    try:
        n = store.count()
        assert auditlab.spark.read_events(spark, store.path).count() == n
        assert auditlab.spark.read_events(spark, store.path, manifest=False).count() > n
    finally:
        orphan.unlink()


def test_store_errors(spark: Any, tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="not an auditlab store"):
        auditlab.spark.query(spark, tmp_path, "all time")
    empty = auditlab.open_store(tmp_path / "empty")
    assert auditlab.spark.query(spark, empty.path, "since 7d").count() == 0
    assert auditlab.spark.read_events(spark, empty.path).columns == [*COLUMNS, "day"]
    (empty.path / "manifest.json").write_text('{"version": 99}')
    with pytest.raises(StoreCorruptError, match="not a version-1 auditlab manifest"):
        auditlab.spark.query(spark, empty.path, "all time")
    with pytest.raises(StoreError, match="cannot read the store's manifest"):
        auditlab.spark.query(spark, f"file://{tmp_path}/nowhere", "all time")
