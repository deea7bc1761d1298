"""Compile a query to a Polars expression with the same results as :mod:`.to_sql`.

Examples:
    >>> import polars as pl
    >>> from auditlab.filters.model import Query
    >>> df = pl.DataFrame({"outcome": ["success", None, "failure"]})
    >>> df.filter(to_polars(Query.parse("outcome is_not failure; all time")))["outcome"].to_list()
    ['success', None]
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from functools import reduce
from typing import TYPE_CHECKING

from auditlab.filters.fields import ASCII_LOWER, ASCII_UPPER, FIELDS, fold_ascii
from auditlab.filters.model import Condition, Op, Query

if TYPE_CHECKING:  # pragma: no cover
    import polars as pl

__all__ = ["condition_expr", "to_polars"]


def _fold_expr(col: pl.Expr) -> pl.Expr:
    import polars as pl

    ascii_only = col.str.len_bytes() == col.str.len_chars()
    return (
        pl.when(ascii_only)
        .then(col.str.to_lowercase())
        .otherwise(col.str.replace_many(list(ASCII_UPPER), list(ASCII_LOWER)))
    )


def _is_expr(col: pl.Expr, cmp: pl.Expr, values: list[str]) -> pl.Expr:
    return cmp == values[0]


def _is_not_expr(col: pl.Expr, cmp: pl.Expr, values: list[str]) -> pl.Expr:
    return col.is_null() | (cmp != values[0])


def _is_any_expr(col: pl.Expr, cmp: pl.Expr, values: list[str]) -> pl.Expr:
    return cmp.is_in(values)


def _is_not_any_expr(col: pl.Expr, cmp: pl.Expr, values: list[str]) -> pl.Expr:
    return col.is_null() | ~cmp.is_in(values)


#: One handler per operator: (column, compared expression, values) -> boolean expression.
_OPS: dict[Op, Callable[[pl.Expr, pl.Expr, list[str]], pl.Expr]] = {
    Op.IS: _is_expr,
    Op.IS_NOT: _is_not_expr,
    Op.IS_ANY: _is_any_expr,
    Op.IS_NOT_ANY: _is_not_any_expr,
}


def condition_expr(cond: Condition) -> pl.Expr:
    """One condition as a boolean Polars expression (NULL where the engine cannot decide)."""
    import polars as pl

    spec = FIELDS[cond.field]
    col = pl.col(spec.name)
    values = list(cond.values)
    cmp = col
    if spec.casefold:
        cmp = _fold_expr(col)
        values = [fold_ascii(v) for v in values]
    return _OPS[cond.op](col, cmp, values)


def to_polars(query: Query, *, anchor: datetime | None = None) -> pl.Expr:
    """The query as one boolean expression for ``DataFrame.filter`` / ``LazyFrame.filter``.

    Args:
        query: the query.
        anchor: exclusive end of a relative time range (see :meth:`TimeRange.bounds`).
    """
    import polars as pl

    exprs = [condition_expr(c) for c in query.conditions]
    start, end = query.time_range.bounds(anchor)
    ts_type = pl.Datetime("us", "UTC")
    if start is not None:
        exprs.append(pl.col("timestamp") >= pl.lit(start, dtype=ts_type))
    if end is not None:
        exprs.append(pl.col("timestamp") < pl.lit(end, dtype=ts_type))
    if not exprs:
        return pl.lit(True)
    return reduce(lambda a, b: a & b, exprs)
