"""Read a store with Apache Spark: its events as a DataFrame, and auditlab queries over them.

Needs the ``spark`` extra (``pip install 'auditlab[spark]'``: pyspark 4 and a Java 17 runtime);
pyspark is imported inside these functions, never by ``import auditlab``. The store is read as it
lies on disk or in object storage (``events/day=YYYY-MM-DD/*.parquet``, see docs/architecture.md
§4): by default exactly the files ``manifest.json`` names, so files of a load that was killed
before its commit are never seen. Filters are compiled by :func:`auditlab.filters.to_spark.to_spark`
(same results as DuckDB and Polars); the time range also prunes ``day`` partitions.

A ``store_path`` with a scheme (``s3a://bucket/store``, ``abfss://...``, ``hdfs://...``,
``file:///...``) is handed to Spark as it is and the manifest is read through Spark; a local
folder (one that exists here) is read by its ``file://`` URI. Anything else goes to Spark as is.

Examples:
    >>> import auditlab.spark
    >>> df = auditlab.spark.query(spark, "s3a://audit/store", "outcome is failure; since 30d")  # doctest: +SKIP
    >>> df.groupBy("user_email").count().orderBy("count", ascending=False).show()  # doctest: +SKIP
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from auditlab.errors import StoreCorruptError, StoreError
from auditlab.filters.model import Query
from auditlab.schema import COLUMNS, EVENTS_SCHEMA

if TYPE_CHECKING:  # pragma: no cover
    from pyspark.sql import DataFrame, SparkSession

    from auditlab._types import PathLike

__all__ = ["newest_timestamp", "query", "read_events", "spark_schema"]

_MANIFEST = "manifest.json"
_FORMAT_VERSION = 1
_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:")
_DAY = re.compile(r"(?:^|/)day=(\d{4}-\d{2}-\d{2})/")
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def spark_schema() -> str:
    """The canonical columns and the ``day`` partition as a Spark DDL schema.

    Examples:
        >>> spark_schema().split(", ")[:2], spark_schema().split(", ")[-1]
        (['event_id STRING', 'timestamp TIMESTAMP'], 'day DATE')
    """
    kinds = {"string": "STRING", "timestamp[us, tz=UTC]": "TIMESTAMP", "int64": "BIGINT"}
    cols = [f"{f.name} {kinds[str(f.type)]}" for f in EVENTS_SCHEMA]
    return ", ".join([*cols, "day DATE"])


def _root(store_path: PathLike) -> tuple[str, Path | None]:
    """(the store's URI or path as Spark should read it, the local folder or None)."""
    text = str(store_path).rstrip("/")
    if isinstance(store_path, Path) or (not _SCHEME.match(text) and Path(text).is_dir()):
        local = Path(text).resolve()
        return local.as_uri(), local
    return text, None


def _manifest(spark: SparkSession, root: str, local: Path | None) -> dict[str, Any]:
    where = f"{root}/{_MANIFEST}"
    if local is not None:
        if not (local / "auditlab-store.json").exists():
            raise StoreError(f"{local}: not an auditlab store")
        path = local / _MANIFEST
        if not path.exists():
            return {"version": _FORMAT_VERSION, "loads": []}
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise StoreCorruptError(f"{path}: unreadable manifest: {exc}") from exc
    else:
        try:
            rows = spark.read.text(where, wholetext=True).collect()
        except Exception as exc:  # pyspark raises its own AnalysisException (path missing, no access)
            raise StoreError(f"{where}: cannot read the store's manifest ({type(exc).__name__})") from exc
        text = rows[0][0] if rows else ""
    try:
        data: dict[str, Any] = json.loads(text)
    except ValueError as exc:
        raise StoreCorruptError(f"{where}: unreadable manifest: {exc}") from exc
    if data.get("version") != _FORMAT_VERSION or not isinstance(data.get("loads"), list):
        raise StoreCorruptError(f"{where}: not a version-{_FORMAT_VERSION} auditlab manifest")
    return data


def _event_files(spark: SparkSession, store_path: PathLike) -> tuple[str, list[str]]:
    root, local = _root(store_path)
    manifest = _manifest(spark, root, local)
    files = [f"{root}/{rel}" for load in manifest["loads"] for rel in load.get("events", [])]
    return root, files


def read_events(spark: SparkSession, store_path: PathLike, *, manifest: bool = True) -> DataFrame:
    """Every event of a store as a Spark DataFrame: the canonical columns and the ``day`` partition.

    Args:
        spark: the Spark session (local or a cluster).
        store_path: the store folder, or its URI in object storage (``s3a://bucket/store``).
        manifest: read exactly the files ``manifest.json`` names (default). ``False`` reads every
            Parquet file under ``events/`` by Hive partition discovery, orphans of a killed load included.

    Raises:
        StoreError: a local folder that is not a store, or a manifest Spark cannot read.
        StoreCorruptError: the manifest is not a version-1 auditlab manifest.
    """
    root, files = _event_files(spark, store_path)
    reader = spark.read.schema(spark_schema()).option("basePath", f"{root}/events")
    if not manifest:
        return reader.parquet(f"{root}/events")
    if not files:
        empty: DataFrame = spark.createDataFrame([], spark_schema())
        return empty
    df: DataFrame = reader.parquet(*files)
    return df


def _day_of(file: str) -> str | None:
    m = _DAY.search(file)
    return m[1] if m else None


def newest_timestamp(spark: SparkSession, store_path: PathLike) -> datetime | None:
    """The newest event's timestamp (UTC), reading only the newest ``day`` partition's files.

    Returns:
        ``None`` for a store without events.
    """
    from pyspark.sql import functions as F

    root, files = _event_files(spark, store_path)
    days = {f: _day_of(f) for f in files}
    newest = max((d for d in days.values() if d is not None), default=None)
    chosen = [f for f, d in days.items() if d == newest or d is None]
    if not chosen:
        return None
    df = spark.read.schema(spark_schema()).option("basePath", f"{root}/events").parquet(*chosen)
    (micros,) = df.agg(F.unix_micros(F.max("timestamp"))).collect()[0]
    return None if micros is None else _EPOCH + timedelta(microseconds=int(micros))


def query(
    spark: SparkSession,
    store_path: PathLike,
    query: Query | str | None = None,
    *,
    allow_unknown_actions: bool = False,
    anchor: datetime | None = None,
    manifest: bool = True,
) -> DataFrame:
    """The events of a store that match an auditlab query, as a (lazy) Spark DataFrame.

    The same events as :class:`auditlab.QueryResult` over the same store, in any Spark deployment.

    Args:
        spark: the Spark session.
        store_path: the store folder, or its URI in object storage (``s3a://bucket/store``).
        query: a :class:`~auditlab.Query`, its text form, or ``None`` (the last 24 h).
        allow_unknown_actions: when ``query`` is text, accept actions outside the catalog.
        anchor: exclusive end of a relative range (``24h``, ``7d``, ``30d``); default: the store's
            newest event plus 1 µs, as in a workspace (read from the newest day's files only).
        manifest: see :func:`read_events`.

    Returns:
        A DataFrame of the canonical columns (``auditlab.schema.COLUMNS``), unordered: sort by
        ``timestamp DESC, event_id`` for the Portal's order.

    Raises:
        QueryError: a query text that does not parse.
        StoreError: see :func:`read_events`.
    """
    from pyspark.sql import functions as F

    from auditlab.filters.text import as_query
    from auditlab.filters.to_spark import to_spark

    query = as_query(query, allow_unknown_actions=allow_unknown_actions)
    df = read_events(spark, store_path, manifest=manifest)
    if query.time_range.relative and anchor is None:
        newest = newest_timestamp(spark, store_path)
        if newest is None:
            return df.where(F.lit(False)).select(*COLUMNS)
        anchor = newest + timedelta(microseconds=1)
    start, end = query.time_range.bounds(anchor)
    predicate = to_spark(query, anchor=anchor)
    # The same bounds on the partition column let Spark skip whole days (the rows are decided above).
    if start is not None:
        predicate = predicate & (F.col("day") >= F.lit(start.astimezone(UTC).date()))
    if end is not None:
        predicate = predicate & (F.col("day") <= F.lit(end.astimezone(UTC).date()))
    return df.where(predicate).select(*COLUMNS)
