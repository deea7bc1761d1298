"""The Spark compiler: the case table's events, NULL semantics, ASCII folding, literal values.

Runs on the ``spark`` fixture (tests/conftest.py: local mode, skipped without pyspark or Java). The
differential tests against DuckDB on the sample store are in tests/test_spark.py.
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from filters_fixtures import INJECT_1

from auditlab.filters import Query, parse_query
from auditlab.filters.model import parse_datetime
from auditlab.filters.to_spark import to_spark

CASES = json.loads((Path(__file__).parents[1] / "cases" / "filters.json").read_text(encoding="utf-8"))


def _anchor(case: dict[str, object]) -> datetime | None:
    raw = case.get("anchor")
    return parse_datetime(str(raw)) if raw else None


@pytest.fixture(scope="module")
def spark_frame(spark: Any, frame: pl.DataFrame) -> Any:
    return spark.createDataFrame(frame.to_arrow()).cache()


def _ids(df: Any, q: Query, anchor: datetime | None = None) -> list[str]:
    return sorted(r[0] for r in df.where(to_spark(q, anchor=anchor)).select("event_id").collect())


def test_case_table_matches_the_same_events_in_spark(spark_frame: Any) -> None:
    """Every case of tests/cases/filters.json (one Spark job per case, one test to keep it quick)."""
    for case in CASES:
        q = parse_query(str(case["text"]))
        assert _ids(spark_frame, q, _anchor(case)) == case["ids"], case["text"]


@pytest.mark.parametrize(
    "text, expected",
    [
        (f"resource_type is project; resource_name is {INJECT_1}; all time", ["e4"]),
        (f"group_name is {INJECT_1}; all time", ["e5"]),
        ('resource_type is group; resource_name is "x\'); DROP TABLE events; --"; all time', ["e5"]),
        # İ (U+0130) is not ASCII: it is kept, so neither "i" nor "İ" spelled otherwise matches
        ("user_email is İNCI@X.ORG; all time", ["e5"]),
        ("user_email is inci@x.org; all time", []),
        ("user_email is_not alice@EXAMPLE.com; all time", ["e3", "e4", "e5"]),
    ],
)
def test_literals_nulls_and_ascii_folding(spark_frame: Any, text: str, expected: list[str]) -> None:
    assert _ids(spark_frame, parse_query(text)) == expected


def test_compiled_column_reads_like_the_sql(spark: Any) -> None:
    q = parse_query("outcome is_not failure; user_email is_any A@X.ORG,b@x.org; all time")
    text = str(to_spark(q))
    assert "or(isNull(outcome), (NOT (outcome = 'failure')))" in text.replace(
        "!(=(outcome, 'failure'))", "(NOT (outcome = 'failure'))"
    )
    assert "translate(user_email, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ', 'abcdefghijklmnopqrstuvwxyz')" in text
    assert "a@x.org" in text and "A@X.ORG" not in text
