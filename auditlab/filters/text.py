"""The one-line text form of a query, for the CLI, notebooks and the explorer.

Clauses are separated by ``;``. A condition is ``FIELD OP VALUES``: the field by API name,
Portal label or alias (any case), the operator as ``is``, ``is_not``/``is not``, ``is_any``/``is any``
or ``is_not_any``/``is not any``, the values separated by ``,``. A value with a comma, semicolon,
quote, leading or trailing space or control character, or one that starts with the word ``not`` or
``any``, is written as a JSON string (``"a,b"``). One time clause at most: ``since 24h|7d|30d``,
``all time``, ``between ISO and ISO``, ``since ISO`` or ``until ISO``; without one, ``24h``.

Examples:
    >>> q = parse_query("User Email is Alice@Example.com; action is any user.login, user.logout; since 7d")
    >>> format_query(q)
    'user_email is Alice@Example.com; action is_any user.login,user.logout; since 7d'
    >>> format_query(parse_query('project_name is "a;b"; between 2026-10-01T00:00:00Z and 2026-10-02T00:00:00Z'))
    'project_name is "a;b"; between 2026-10-01T00:00:00Z and 2026-10-02T00:00:00Z'
    >>> parse_query("outcome is not successful").conditions[0].values
    ('success',)
"""

from __future__ import annotations

import json
import re

from auditlab.errors import QueryError
from auditlab.filters.fields import FIELDS
from auditlab.filters.model import PRESETS, Condition, Query, TimeRange, format_datetime, parse_datetime

__all__ = [
    "as_query",
    "format_condition",
    "format_query",
    "format_time_range",
    "format_value",
    "parse_condition",
    "parse_query",
    "parse_time_range",
]

_CONDITION = re.compile(
    r"\s*(?P<field>.+?)\s+(?P<op>is(?:[\s_]+not)?(?:[\s_]+any)?)(?=\s|$)(?P<rest>.*)",
    re.IGNORECASE | re.DOTALL,
)
_NEEDS_QUOTES = re.compile(r"[,;\"]")
_OP_WORD = re.compile(r"[\s_]*(?:not|any)(?:[\s_]|$)", re.IGNORECASE)
_TIME_WORDS = ("since", "last", "until", "between", "all")


def _split(text: str, sep: str) -> list[str]:
    """Split at ``sep`` outside JSON-quoted strings."""
    parts: list[str] = []
    buf: list[str] = []
    quoted = escaped = False
    prev = " "
    for ch in text:
        if quoted:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                quoted = False
        elif ch == '"' and (prev.isspace() or prev in ",;"):
            quoted = True  # a quote opens a string only where a value can start
        elif ch == sep:
            parts.append("".join(buf))
            buf = []
            prev = ch
            continue
        buf.append(ch)
        prev = ch
    if quoted:
        raise QueryError(f"unterminated quote in {text.strip()!r}")
    parts.append("".join(buf))
    return parts


def _parse_value(item: str, clause: str) -> str:
    item = item.strip()
    if not item:
        raise QueryError(f"empty value in {clause.strip()!r}")
    if item.startswith('"'):
        try:
            value, end = json.JSONDecoder().raw_decode(item)
        except ValueError:
            raise QueryError(f"bad quoted value {item!r} in {clause.strip()!r}") from None
        if not isinstance(value, str) or item[end:].strip():
            raise QueryError(f"bad quoted value {item!r} in {clause.strip()!r}")
        return value
    if '"' in item:
        raise QueryError(f"a value with a quote must be quoted: {item!r} in {clause.strip()!r}")
    return item


def parse_condition(text: str) -> Condition:
    """One ``FIELD OP VALUES`` clause.

    Raises:
        QueryError: not of that shape (or any error of :class:`Condition`).

    Examples:
        >>> parse_condition("Target Type is not any project, package")
        Condition(field='resource_type', op=<Op.IS_NOT_ANY: 'is_not_any'>, values=('project', 'package'))
    """
    m = _CONDITION.match(text)
    if not m:
        raise QueryError(
            f"cannot read filter {text.strip()!r}: expected FIELD OP VALUES, e.g. 'outcome is failure'"
        )
    if not m["rest"].strip():
        raise QueryError(
            f"missing value in {text.strip()!r}: expected FIELD OP VALUES, e.g. 'outcome is failure'"
        )
    values = [_parse_value(item, text) for item in _split(m["rest"], ",")]
    return Condition(m["field"], m["op"], values)


def parse_time_range(text: str) -> TimeRange:
    """One time clause: ``since 7d``, ``all time``, ``between A and B``, ``since A``, ``until B``.

    Examples:
        >>> parse_time_range("between 2026-01-01 and 2026-01-02").end
        datetime.datetime(2026, 1, 2, 0, 0, tzinfo=datetime.timezone.utc)
        >>> parse_time_range("Last 30D").preset
        '30d'
    """
    words = text.split()
    head = words[0].lower() if words else ""
    rest = [w.lower() for w in words[1:]]
    if (head == "all" and rest in ([], ["time"])) or (head == "since" and rest == ["all"]):
        return TimeRange("all")
    if head in ("since", "last") and len(rest) == 1 and rest[0] in PRESETS:
        return TimeRange(rest[0])
    if head == "since" and len(rest) == 1:
        return TimeRange("custom", start=parse_datetime(words[1]))
    if head == "until" and len(rest) == 1:
        return TimeRange("custom", end=parse_datetime(words[1]))
    if head == "between" and len(rest) == 3 and rest[1] == "and":
        return TimeRange("custom", start=parse_datetime(words[1]), end=parse_datetime(words[3]))
    raise QueryError(
        f"cannot read time range {text.strip()!r}: use since 24h|7d|30d, all time, "
        "between START and END, since START or until END"
    )


def parse_query(text: str, *, allow_unknown_actions: bool = False) -> Query:
    """A :class:`Query` from its text form (see the module docstring).

    Raises:
        QueryError: the text is not a valid query; the message says which part.
    """
    conditions: list[Condition] = []
    time_range: TimeRange | None = None
    for clause in _split(text, ";"):
        if not clause.strip():
            continue
        first = clause.split(None, 1)[0].lower()
        if first in _TIME_WORDS:
            if time_range is not None:
                raise QueryError(f"more than one time range: {clause.strip()!r}")
            time_range = parse_time_range(clause)
        else:
            conditions.append(parse_condition(clause))
    return Query(conditions, time_range, allow_unknown_actions=allow_unknown_actions)


def as_query(query: Query | str | None, *, allow_unknown_actions: bool = False) -> Query:
    """A :class:`Query` from a query, its text form, or ``None`` (the default query).

    Raises:
        QueryError: a text that is not a valid query, or something that is not a query.

    Examples:
        >>> as_query("outcome is failure; since 7d").to_text()
        'outcome is failure; since 7d'
        >>> as_query(None) == Query()
        True
    """
    if query is None:
        return Query(allow_unknown_actions=allow_unknown_actions)
    if isinstance(query, str):
        return parse_query(query, allow_unknown_actions=allow_unknown_actions)
    if isinstance(query, Query):
        return query
    raise QueryError(f"expected a Query or its text form, got {type(query).__name__}")


def format_value(value: str) -> str:
    """A value as the text form writes it: bare, or as a JSON string when it must be.

    Examples:
        >>> format_value("user.login"), format_value("a, b"), format_value(" x"), format_value("not")
        ('user.login', '"a, b"', '" x"', '"not"')
    """
    if (
        value != value.strip()
        or _NEEDS_QUOTES.search(value)
        or not value.isprintable()
        or _OP_WORD.match(value)
    ):
        return json.dumps(value, ensure_ascii=False)
    return value


def format_condition(cond: Condition, *, labels: bool = False) -> str:
    """``field op v1,v2``; ``labels=True`` writes the Portal label for the field."""
    name = FIELDS[cond.field].label if labels else cond.field
    return f"{name} {cond.op.value} {','.join(format_value(v) for v in cond.values)}"


def format_time_range(time_range: TimeRange) -> str:
    """The time clause of the text form.

    Examples:
        >>> format_time_range(TimeRange(start="2026-01-01T00:00:00.5Z"))
        'since 2026-01-01T00:00:00.500000Z'
    """
    if time_range.relative:
        return f"since {time_range.preset}"
    if time_range.preset == "all":
        return "all time"
    start, end = time_range.start, time_range.end
    if start is not None and end is not None:
        return f"between {format_datetime(start)} and {format_datetime(end)}"
    if start is not None:
        return f"since {format_datetime(start)}"
    assert end is not None
    return f"until {format_datetime(end)}"


def format_query(query: Query, *, labels: bool = False) -> str:
    """The one-line text form: conditions, then the time clause (always written)."""
    parts = [format_condition(c, labels=labels) for c in query.conditions]
    parts.append(format_time_range(query.time_range))
    return "; ".join(parts)
