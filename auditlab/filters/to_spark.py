"""Compile a query to a PySpark ``Column`` with the same results as :mod:`.to_sql`.

Needs the ``spark`` extra (``pip install 'auditlab[spark]'``); pyspark is imported when a function
here is called, never at import. Values and time bounds reach Spark only as literals built by
``lit()`` (no SQL text is written). Missing values: ``is_not``/``is_not_any`` keep events whose
field is NULL. Case-insensitive fields fold ASCII letters only (``translate``), exactly as
:func:`auditlab.filters.fold_ascii`, DuckDB and Polars do. The time range is ``[start, end)``.

Examples:
    >>> from auditlab.filters.model import Query
    >>> expr = to_spark(Query.parse("outcome is_not failure; all time"))  # doctest: +SKIP
    >>> spark_df.filter(expr).count()  # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from functools import reduce
from typing import TYPE_CHECKING

from auditlab.filters.fields import ASCII_LOWER, ASCII_UPPER, FIELDS, fold_ascii
from auditlab.filters.model import Condition, Op, Query

if TYPE_CHECKING:  # pragma: no cover
    from pyspark.sql import Column

__all__ = ["condition_column", "to_spark"]


def _fold_column(col: Column) -> Column:
    from pyspark.sql import functions as F

    # translate() maps characters one by one: A-Z to a-z and nothing else (Spark's lower() is Unicode).
    return F.translate(col, ASCII_UPPER, ASCII_LOWER)


def _lits(values: list[str]) -> list[Column]:
    from pyspark.sql import functions as F

    return [F.lit(v) for v in values]


def _is_column(col: Column, cmp: Column, values: list[str]) -> Column:
    return cmp == _lits(values)[0]


def _is_not_column(col: Column, cmp: Column, values: list[str]) -> Column:
    return col.isNull() | (cmp != _lits(values)[0])


def _is_any_column(col: Column, cmp: Column, values: list[str]) -> Column:
    return cmp.isin(*_lits(values))


def _is_not_any_column(col: Column, cmp: Column, values: list[str]) -> Column:
    return col.isNull() | ~cmp.isin(*_lits(values))


#: One handler per operator: (column, compared expression, values) -> boolean Column.
_OPS: dict[Op, Callable[[Column, Column, list[str]], Column]] = {
    Op.IS: _is_column,
    Op.IS_NOT: _is_not_column,
    Op.IS_ANY: _is_any_column,
    Op.IS_NOT_ANY: _is_not_any_column,
}


def condition_column(cond: Condition) -> Column:
    """One condition as a boolean Spark Column (NULL where the engine cannot decide)."""
    from pyspark.sql import functions as F

    spec = FIELDS[cond.field]
    col = F.col(spec.name)
    values = list(cond.values)
    cmp = col
    if spec.casefold:
        cmp = _fold_column(col)
        values = [fold_ascii(v) for v in values]
    return _OPS[cond.op](col, cmp, values)


def to_spark(query: Query, *, anchor: datetime | None = None) -> Column:
    """The query as one boolean Column for ``DataFrame.filter`` over the canonical columns.

    Args:
        query: the query.
        anchor: exclusive end of a relative time range (see :meth:`TimeRange.bounds`);
            :func:`auditlab.spark.query` passes the newest event of the store plus 1 µs.

    Returns:
        A ``pyspark.sql.Column``; time bounds are UTC instants compared with ``timestamp``.
    """
    from pyspark.sql import functions as F

    columns = [condition_column(c) for c in query.conditions]
    start, end = query.time_range.bounds(anchor)
    if start is not None:
        columns.append(F.col("timestamp") >= F.lit(start))
    if end is not None:
        columns.append(F.col("timestamp") < F.lit(end))
    if not columns:
        return F.lit(True)
    return reduce(lambda a, b: a & b, columns)
