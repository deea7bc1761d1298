"""The filter model: a :class:`Query` is AND-ed :class:`Condition` s plus a :class:`TimeRange`.

Frozen, engine-free values. The compilers (``to_sql``, ``to_polars``, ``to_portal``) and the
serialisers (``text``, ``serde``) read them; nothing here imports an engine.

Examples:
    >>> q = Query([Condition("Action", "is any", ["user.login", "user.sso.saml.login"]),
    ...            Condition("outcome", "is", "unsuccessful")], "7d")
    >>> q.conditions[1]
    Condition(field='outcome', op=<Op.IS: 'is'>, values=('failure',))
    >>> str(q)
    'action is_any user.login,user.sso.saml.login; outcome is failure; since 7d'
    >>> q.portal_compatible
    True
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from auditlab.catalog import ACTIONS, suggest_actions
from auditlab.errors import OperatorError, QueryError, UnknownActionError
from auditlab.filters.fields import FIELDS, resolve_field

if TYPE_CHECKING:  # pragma: no cover
    from auditlab.filters.to_portal import PortalFilter

__all__ = [
    "API_LIMIT",
    "PRESETS",
    "UI_LIMIT",
    "Condition",
    "Op",
    "Query",
    "TimeRange",
    "format_datetime",
    "parse_datetime",
]

#: Relative presets: name -> length. The window ends at an anchor (see :meth:`TimeRange.bounds`).
PRESETS: dict[str, timedelta] = {
    "24h": timedelta(hours=24),
    "7d": timedelta(days=7),
    "30d": timedelta(days=30),
}
#: The longest range the Portal's *View Audit Logs* page shows.
UI_LIMIT = timedelta(days=30)
#: The longest range one Portal API export covers.
API_LIMIT = timedelta(days=365)


class Op(StrEnum):
    """A filter operator, valued with the Portal API's word.

    Examples:
        >>> Op.parse("is not any"), Op.parse("IS_ANY")
        (<Op.IS_NOT_ANY: 'is_not_any'>, <Op.IS_ANY: 'is_any'>)
        >>> Op.IS_NOT.negated, Op.IS_NOT.multi
        (True, False)
    """

    IS = "is"
    IS_NOT = "is_not"
    IS_ANY = "is_any"
    IS_NOT_ANY = "is_not_any"

    @property
    def negated(self) -> bool:
        """``is_not``/``is_not_any``: these keep events with no value for the field."""
        return self in (Op.IS_NOT, Op.IS_NOT_ANY)

    @property
    def multi(self) -> bool:
        """``is_any``/``is_not_any`` take a list; ``is``/``is_not`` exactly one value."""
        return self in (Op.IS_ANY, Op.IS_NOT_ANY)

    @classmethod
    def parse(cls, text: str) -> Op:
        """An operator from its API word or Portal words, any case (``"is not any"``).

        Raises:
            OperatorError: not one of the four operators.
        """
        if isinstance(text, Op):
            return text
        key = re.sub(r"[\s_]+", "_", str(text).strip().lower())
        try:
            return cls(key)
        except ValueError:
            raise OperatorError(f"unknown operator {text!r}; use is, is_not, is_any or is_not_any") from None


@dataclass(frozen=True, slots=True, init=False)
class Condition:
    """One filter: ``field op values``. Built from any accepted spelling, stored canonical.

    The field is resolved to its canonical column, the operator to an :class:`Op`, and each value
    normalised by the field (``successful`` -> ``success``, ``Portal`` -> ``portal``). Values are
    kept in order, without duplicates.

    Raises:
        UnknownFieldError: unknown field.
        OperatorError: unknown operator, or the wrong number of values for it.
        QueryError: a value is empty or not a string.

    Examples:
        >>> Condition("Target Type", "is_not", "project")
        Condition(field='resource_type', op=<Op.IS_NOT: 'is_not'>, values=('project',))
        >>> Condition("action", "is", ["a", "b"])
        Traceback (most recent call last):
        ...
        auditlab.errors.OperatorError: action is takes exactly one value, got 2
    """

    field: str
    op: Op
    values: tuple[str, ...]

    def __init__(self, field: str, op: Op | str, values: str | Iterable[str]) -> None:
        spec = resolve_field(field)
        oper = Op.parse(op)
        raw = (values,) if isinstance(values, str) else tuple(values)
        out: list[str] = []
        for value in raw:
            if not isinstance(value, str):
                raise QueryError(f"{spec.name}: values must be strings, got {value!r}")
            if value == "":
                raise QueryError(f"{spec.name}: empty value")
            norm = spec.normalize(value)
            if norm not in out:
                out.append(norm)
        if not out:
            raise OperatorError(f"{spec.name} {oper} needs at least one value")
        if not oper.multi and len(out) != 1:
            raise OperatorError(f"{spec.name} {oper} takes exactly one value, got {len(out)}")
        object.__setattr__(self, "field", spec.name)
        object.__setattr__(self, "op", oper)
        object.__setattr__(self, "values", tuple(out))

    def __str__(self) -> str:
        from auditlab.filters.text import format_condition

        return format_condition(self)


def parse_datetime(value: datetime | str) -> datetime:
    """A UTC datetime from a datetime or ISO 8601 text; naive means UTC.

    Raises:
        QueryError: not a datetime.

    Examples:
        >>> parse_datetime("2026-10-01T02:00:00+02:00")
        datetime.datetime(2026, 10, 1, 0, 0, tzinfo=datetime.timezone.utc)
    """
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value.strip())
        except ValueError:
            raise QueryError(f"not an ISO 8601 date-time: {value!r}") from None
    if not isinstance(value, datetime):
        raise QueryError(f"not a date-time: {value!r}")
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


def format_datetime(value: datetime) -> str:
    """ISO 8601 in UTC with ``Z``; fractions only when there are microseconds.

    Examples:
        >>> format_datetime(datetime(2026, 10, 1, 12, 0, 0, 250000, tzinfo=UTC))
        '2026-10-01T12:00:00.250000Z'
    """
    value = parse_datetime(value).replace(tzinfo=None)
    return value.isoformat(timespec="microseconds" if value.microsecond else "seconds") + "Z"


@dataclass(frozen=True, slots=True, init=False)
class TimeRange:
    """``[start, end)`` in UTC: a preset (``24h``, ``7d``, ``30d``), ``custom`` or ``all``.

    A preset is relative: :meth:`bounds` ends it at an anchor (in a workspace, just after the
    newest event). A custom range may leave one side open. The default is ``24h``.

    Raises:
        QueryError: unknown preset, start not before end, or bounds given with a preset.

    Examples:
        >>> TimeRange("7d").bounds(datetime(2026, 1, 8, tzinfo=UTC))[0]
        datetime.datetime(2026, 1, 1, 0, 0, tzinfo=datetime.timezone.utc)
        >>> TimeRange(start="2026-01-01", end="2026-01-02").preset
        'custom'
        >>> TimeRange("all").bounds(None)
        (None, None)
    """

    preset: str
    start: datetime | None
    end: datetime | None

    def __init__(
        self,
        preset: str | None = None,
        *,
        start: datetime | str | None = None,
        end: datetime | str | None = None,
    ) -> None:
        has_bounds = start is not None or end is not None
        name = (preset or ("custom" if has_bounds else "24h")).strip().lower()
        if name not in (*PRESETS, "custom", "all"):
            raise QueryError(f"unknown time range {preset!r}; use 24h, 7d, 30d, all or start/end")
        if name != "custom" and has_bounds:
            raise QueryError(f"time range {name!r} takes no start or end")
        if name == "custom" and not has_bounds:
            raise QueryError("a custom time range needs a start, an end or both")
        lo = None if start is None else parse_datetime(start)
        hi = None if end is None else parse_datetime(end)
        if lo is not None and hi is not None and lo >= hi:
            raise QueryError(f"time range start {lo.isoformat()} is not before end {hi.isoformat()}")
        object.__setattr__(self, "preset", name)
        object.__setattr__(self, "start", lo)
        object.__setattr__(self, "end", hi)

    @property
    def relative(self) -> bool:
        """A preset that needs an anchor (``24h``, ``7d``, ``30d``)."""
        return self.preset in PRESETS

    @property
    def span(self) -> timedelta | None:
        """The length of the range, or ``None`` if it is unbounded."""
        if self.relative:
            return PRESETS[self.preset]
        if self.start is not None and self.end is not None:
            return self.end - self.start
        return None

    def bounds(self, anchor: datetime | None) -> tuple[datetime | None, datetime | None]:
        """Absolute ``(start, end)``; ``None`` means open on that side.

        Args:
            anchor: the exclusive end of a preset. A workspace passes its newest timestamp
                plus 1 µs, so the newest event is inside; ``None`` means the wall clock now.
        """
        if self.relative:
            end = datetime.now(UTC) if anchor is None else parse_datetime(anchor)
            return end - PRESETS[self.preset], end
        return self.start, self.end


def _time_range(value: TimeRange | str | None) -> TimeRange:
    if value is None:
        return TimeRange()
    if isinstance(value, TimeRange):
        return value
    return TimeRange(value)


@dataclass(frozen=True, slots=True, init=False)
class Query:
    """Conditions AND-ed together, within a time range.

    Args:
        conditions: the filters; a field may appear more than once.
        time_range: a :class:`TimeRange` or a preset name; default ``24h``.
        allow_unknown_actions: accept actions outside the Portal catalog.

    Raises:
        QueryError: Target Name without a Target Type condition.
        UnknownActionError: an action outside the catalog (with suggestions), unless allowed.

    Examples:
        >>> Query([Condition("action", "is", "user.pat.revoke")])
        Traceback (most recent call last):
        ...
        auditlab.errors.UnknownActionError: unknown action 'user.pat.revoke'; did you mean user.pat.revoked? (also close: user.pat.all_revoked, user.pat.created) (allow_unknown_actions=True or --allow-unknown-actions accepts it)
        >>> Query().where("outcome", "is", "failure").since("all").to_text()
        'outcome is failure; all time'
    """

    conditions: tuple[Condition, ...]
    time_range: TimeRange
    allow_unknown_actions: bool

    def __init__(
        self,
        conditions: Iterable[Condition] = (),
        time_range: TimeRange | str | None = None,
        *,
        allow_unknown_actions: bool = False,
    ) -> None:
        conds = tuple(conditions)
        for cond in conds:
            if not isinstance(cond, Condition):
                raise QueryError(f"not a Condition: {cond!r}")
        object.__setattr__(self, "conditions", conds)
        object.__setattr__(self, "time_range", _time_range(time_range))
        object.__setattr__(self, "allow_unknown_actions", bool(allow_unknown_actions))
        self._validate()

    def _validate(self) -> None:
        present = {c.field for c in self.conditions}
        for cond in self.conditions:
            needed = FIELDS[cond.field].requires
            if needed and needed not in present:
                raise QueryError(
                    f"{FIELDS[cond.field].label} needs a {FIELDS[needed].label} condition "
                    f"({needed}), as in the Portal"
                )
        if self.allow_unknown_actions:
            return
        for cond in self.conditions:
            if cond.field != "action":
                continue
            for value in cond.values:
                if value not in ACTIONS:
                    close = suggest_actions(value)
                    hint = " (not in the Portal catalog)"
                    if close:
                        hint = f"; did you mean {close[0]}?"
                        hint += f" (also close: {', '.join(close[1:])})" if close[1:] else ""
                    raise UnknownActionError(
                        f"unknown action {value!r}{hint} (allow_unknown_actions=True or --allow-unknown-actions accepts it)",
                        suggestions=close,
                    )

    # -- building -------------------------------------------------------------------------

    def where(self, field: str, op: Op | str, values: str | Iterable[str]) -> Query:
        """A new query with one more condition."""
        return Query(
            [*self.conditions, Condition(field, op, values)],
            self.time_range,
            allow_unknown_actions=self.allow_unknown_actions,
        )

    def since(self, time_range: TimeRange | str) -> Query:
        """A new query with another time range (a preset name or a :class:`TimeRange`)."""
        return Query(
            self.conditions, _time_range(time_range), allow_unknown_actions=self.allow_unknown_actions
        )

    def between(self, start: datetime | str | None, end: datetime | str | None) -> Query:
        """A new query over the custom range ``[start, end)``."""
        return self.since(TimeRange("custom", start=start, end=end))

    # -- Portal limits --------------------------------------------------------------------

    @property
    def portal_warnings(self) -> list[str]:
        """What the Portal could not do as asked: reported, never enforced locally."""
        out: list[str] = []
        span = self.time_range.span
        if span is None:
            out.append("the time range is unbounded: the Portal UI shows at most 30 days, an API export 365")
        elif span > API_LIMIT:
            out.append(f"the time range ({span.days} days) exceeds the Portal API's 365 days and the UI's 30")
        elif span > UI_LIMIT:
            out.append(
                f"the time range ({span.days} days) exceeds the Portal UI's 30 days (the API takes 365)"
            )
        seen: set[str] = set()
        for cond in self.conditions:
            spec = FIELDS[cond.field]
            if not spec.portal_ui and not spec.api_ops and cond.field not in seen:
                out.append(f"{spec.label} ({spec.name}) is not a Portal filter")
            elif cond.field in seen:
                out.append(f"{spec.label} is filtered more than once: the Portal takes each field once")
            seen.add(cond.field)
        return out

    @property
    def portal_compatible(self) -> bool:
        """True when the Portal's page or API could run this query as it is."""
        return not self.portal_warnings

    # -- conversions (delegating to their modules) ----------------------------------------

    @classmethod
    def parse(cls, text: str, *, allow_unknown_actions: bool = False) -> Query:
        """A query from its one-line text form (see :func:`auditlab.filters.parse_query`)."""
        from auditlab.filters.text import parse_query

        return parse_query(text, allow_unknown_actions=allow_unknown_actions)

    def to_text(self, *, labels: bool = False) -> str:
        """The one-line text form; ``labels=True`` writes Portal labels (``User Email``)."""
        from auditlab.filters.text import format_query

        return format_query(self, labels=labels)

    def __str__(self) -> str:
        return self.to_text()

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (see :mod:`auditlab.filters.serde`)."""
        from auditlab.filters.serde import query_to_dict

        return query_to_dict(self)

    def to_json(self) -> str:
        """The JSON text of :meth:`to_dict`."""
        from auditlab.filters.serde import query_to_json

        return query_to_json(self)

    @classmethod
    def from_dict(cls, data: Any) -> Query:
        """A query from :meth:`to_dict` output."""
        from auditlab.filters.serde import query_from_dict

        return query_from_dict(data)

    @classmethod
    def from_json(cls, text: str) -> Query:
        """A query from :meth:`to_json` output."""
        from auditlab.filters.serde import query_from_json

        return query_from_json(text)

    def to_portal_filters(
        self, *, ids: dict[str, dict[str, str]] | None = None
    ) -> tuple[list[PortalFilter], Query]:
        """(Portal API filters, residual query to apply locally); see :mod:`~auditlab.filters.to_portal`."""
        from auditlab.filters.to_portal import to_portal_filters

        return to_portal_filters(self, ids=ids)
