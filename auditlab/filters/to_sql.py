"""Compile a query to a parameterised DuckDB ``WHERE`` predicate.

Values never enter the SQL text: every value and time bound is a ``?`` parameter. Column names come
from the field table only. Missing values: ``is_not``/``is_not_any`` keep events whose field is NULL
(plain ``<>``/``NOT IN`` would drop them).

Examples:
    >>> from auditlab.filters.model import Query
    >>> sql, params = to_sql(Query.parse("outcome is_not failure; all time"))
    >>> sql
    '("outcome" IS NULL OR "outcome" <> ?)'
    >>> params
    ['failure']
    >>> to_sql(Query.parse("all time"))
    ('TRUE', [])
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from auditlab.filters.fields import ASCII_LOWER, ASCII_UPPER, FIELDS, fold_ascii
from auditlab.filters.model import Condition, Op, Query

__all__ = ["condition_sql", "quote_ident", "to_sql"]


def quote_ident(name: str) -> str:
    """A DuckDB identifier in double quotes.

    Examples:
        >>> quote_ident('timestamp')
        '"timestamp"'
    """
    return '"' + name.replace('"', '""') + '"'


def _fold_sql(col: str) -> str:
    # ASCII-only case folding, identical to fields.fold_ascii; lower() is the fast path for ASCII text.
    return (
        f"CASE WHEN strlen({col}) = length({col}) THEN lower({col}) "
        f"ELSE translate({col}, '{ASCII_UPPER}', '{ASCII_LOWER}') END"
    )


def _marks(n: int) -> str:
    return ", ".join("?" * n)


def _is_sql(col: str, cmp: str, n: int) -> str:
    return f"{cmp} = ?"


def _is_not_sql(col: str, cmp: str, n: int) -> str:
    return f"({col} IS NULL OR {cmp} <> ?)"


def _is_any_sql(col: str, cmp: str, n: int) -> str:
    return f"{cmp} IN ({_marks(n)})"


def _is_not_any_sql(col: str, cmp: str, n: int) -> str:
    return f"({col} IS NULL OR {cmp} NOT IN ({_marks(n)}))"


#: One handler per operator: (column, compared expression, number of values) -> SQL.
_OPS: dict[Op, Callable[[str, str, int], str]] = {
    Op.IS: _is_sql,
    Op.IS_NOT: _is_not_sql,
    Op.IS_ANY: _is_any_sql,
    Op.IS_NOT_ANY: _is_not_any_sql,
}


def condition_sql(cond: Condition) -> tuple[str, list[object]]:
    """One condition as ``(predicate, params)``.

    Examples:
        >>> condition_sql(Condition("action", "is_any", ["user.login", "user.logout"]))
        ('"action" IN (?, ?)', ['user.login', 'user.logout'])
    """
    spec = FIELDS[cond.field]
    col = quote_ident(spec.name)
    values = list(cond.values)
    cmp = col
    if spec.casefold:
        cmp = _fold_sql(col)
        values = [fold_ascii(v) for v in values]
    return _OPS[cond.op](col, cmp, len(values)), list(values)


def to_sql(query: Query, *, anchor: datetime | None = None) -> tuple[str, list[object]]:
    """The query as a DuckDB predicate over the canonical columns, and its parameters.

    Args:
        query: the query.
        anchor: exclusive end of a relative time range (see :meth:`TimeRange.bounds`).

    Returns:
        ``(sql, params)``: use as ``con.execute(f"SELECT ... WHERE {sql}", params)``.
    """
    parts: list[str] = []
    params: list[object] = []
    for cond in query.conditions:
        sql, values = condition_sql(cond)
        parts.append(sql)
        params.extend(values)
    start, end = query.time_range.bounds(anchor)
    if start is not None:
        parts.append('"timestamp" >= ?')
        params.append(start)
    if end is not None:
        parts.append('"timestamp" < ?')
        params.append(end)
    return (" AND ".join(parts) or "TRUE"), params
