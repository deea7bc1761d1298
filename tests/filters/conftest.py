from __future__ import annotations

import duckdb
import polars as pl
import pytest
from filters_fixtures import make_con, make_frame


@pytest.fixture(scope="module")
def frame() -> pl.DataFrame:
    return make_frame()


@pytest.fixture()
def con(frame: pl.DataFrame) -> duckdb.DuckDBPyConnection:
    return make_con(frame)
