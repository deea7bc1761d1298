"""Detections as data: one declared form, compiled to DuckDB SQL over the scope table.

A :class:`Detection` says *what* to look for: the source events (actions and filter-model
conditions), the kind of measure, how events are grouped, the window and threshold, and how a
finding reads (severity, ATT&CK technique, title template, entities). :func:`run_detection`
compiles it to one SQL statement over a :class:`~auditlab.investigations._common.Scope` (named
parameters only, every value bound) and returns :class:`Finding` objects. Built-in declarations
live in :mod:`auditlab.investigations.detections`; users write the same form as YAML or TOML files
(:func:`load_rules`). ``docs/detections.md`` walks through adding one.

Kinds:

- ``count``: at least ``threshold`` source events per ``group_by`` value within a sliding ``window``.
- ``distinct``: at least ``threshold`` distinct values of ``distinct`` per group within ``window``.
- ``sequence``: a closing event (the source actions with the ``then`` conditions) preceded by at
  least ``threshold`` source events of the same group since that group's previous closing event and
  within ``window`` before it.
- ``first_seen``: a ``distinct`` value seen for the first time for its group, once the group has
  ``learning`` of history in scope (counted from its first event).
- ``spike``: the sum of ``value`` (a ``details`` key; event count when unset) per group in ``window``
  reaches ``max(threshold, factor x baseline)``, the baseline being the group's own rate over the
  ``baseline`` before the window, scaled to one window; a group is judged once it has a full
  baseline of history in scope.

Sliding windows include both ends (``[t - window, t]``); overlapping hot windows of one group are
one episode. ``incident: overlap`` goes further: episodes of *different* groups that overlap in time
are one incident and one finding (a spray from several addresses, one revocation felt by many users).

Examples:
    >>> d = Detection.from_dict({"name": "many_exports", "kind": "count",
    ...     "actions": ["organization.profile_configuration.exported"], "group_by": "user_email",
    ...     "window": "10m", "threshold": 5, "severity": "medium", "technique": "T1530",
    ...     "title": "{count} exports by {user} in {span}"})
    >>> d.window, d.entities
    (datetime.timedelta(seconds=600), {'user': 'user_email', 'ip': 'ip_address'})
    >>> Detection.from_dict({"name": "x", "kind": "count", "title": "t", "window": "5q"}, source="rules/x.yaml")
    Traceback (most recent call last):
    ...
    auditlab.errors.QueryError: rules/x.yaml: window: bad time bucket '5q': use e.g. 1m, 15m, 1h, 6h, 1d, 1w, 1mo
"""

from __future__ import annotations

import dataclasses
import functools
import re
import string
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from auditlab.errors import QueryError
from auditlab.investigations._common import Scope, as_window, micros, name_list, span_text
from auditlab.investigations._result import SEVERITIES, Finding, sort_findings

if TYPE_CHECKING:  # pragma: no cover
    import polars as pl

    from auditlab._types import PathLike
    from auditlab.filters.model import Condition

__all__ = ["KINDS", "Detection", "load_rules", "run_detection", "run_detections"]

#: The kinds of measure a declared detection can take.
KINDS: tuple[str, ...] = ("count", "distinct", "sequence", "first_seen", "spike")
#: How findings are cut: one per group episode, or one per set of episodes overlapping in time.
INCIDENTS: tuple[str, ...] = ("group", "overlap")
#: Entity kinds a finding lists.
ENTITY_KINDS: tuple[str, ...] = ("user", "ip", "token", "group", "project", "resource")
#: What a title says when a value is missing.
UNKNOWN: dict[str, str] = {
    "user": "an unknown user", "ip": "an unknown address", "token": "an unknown token",
    "group": "an unknown group", "project": "an unknown project", "resource": "an unknown resource",
    "key": "an unknown entity", "value": "an unknown value", "then_ip": "an unknown address",
}  # fmt: skip
_FIELDS = (
    "name", "kind", "title", "actions", "where", "then", "group_by", "distinct", "window", "threshold",
    "severity", "technique", "entities", "learning", "baseline", "factor", "value", "incident",
    "investigation", "description",
)  # fmt: skip


def _key_sql(col: str) -> str:
    """The expression a grouping compares: the identity rule's keys for users and addresses."""
    return {"user_email": "user_key", "ip_address": "ip_key"}.get(col, f'"{col}"')


@dataclass(frozen=True)
class Detection:
    """One declared detection (see the module docstring for the kinds).

    Build it with :meth:`from_dict` (or :func:`declare`), which converts and validates every field
    in one place; the dataclass itself is plain data.

    Attributes:
        name: a short identifier (``brute_force``).
        kind: one of :data:`KINDS`.
        title: a template: ``{key}`` (the group value), ``{count}``, ``{peak}``, ``{span}``,
            ``{window}``, ``{threshold}``, per entity kind ``{user}``/``{user_count}`` etc.; for
            ``sequence`` ``{steps}`` and ``{then_ip}``; for ``first_seen`` ``{value}``. A missing value
            reads "an unknown user", never ``None``.
        actions: the source actions (empty: any action).
        where: filter-model conditions on the source events (``outcome is failure``).
        then: ``sequence``: the conditions of the closing event.
        group_by: the canonical column grouped by (``None``: the whole scope is one group).
        distinct: ``distinct``/``first_seen``: the column whose values are counted or watched.
        window: the sliding window.
        threshold: the least measure that fires (events, distinct values, spend).
        severity: one of :data:`SEVERITIES`.
        technique: a MITRE ATT&CK id or ``None``.
        entities: entity kind -> canonical column listed in the finding.
        learning: ``first_seen``: the history a group needs before a new value counts.
        baseline, factor: ``spike``: how far back the baseline looks and how many times it is exceeded.
        value: ``spike``: the ``details`` key summed (``None``: count events).
        incident: ``group`` or ``overlap`` (see the module docstring).
        investigation: the result the findings belong to.
        description: what and why, for people and Sigma.
    """

    name: str
    kind: str
    title: str
    actions: tuple[str, ...] = ()
    where: tuple[Condition, ...] = ()
    then: tuple[Condition, ...] = ()
    group_by: str | None = None
    distinct: str | None = None
    window: timedelta = timedelta(minutes=15)
    threshold: float = 1
    severity: str = "medium"
    technique: str | None = None
    entities: Mapping[str, str] = field(default_factory=lambda: {"user": "user_email", "ip": "ip_address"})
    learning: timedelta = timedelta(0)
    baseline: timedelta = timedelta(days=7)
    factor: float = 10.0
    value: str | None = None
    incident: str = "group"
    investigation: str = "rules"
    description: str = ""

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], *, source: str = "detection") -> Detection:
        """A detection from plain data (a rule file, a dict): the one place fields are checked.

        Durations are a ``timedelta`` or a text like ``15m``; ``where``/``then`` are the filter
        model's text form (``outcome is failure; user_email is_not a@x``) or a list of such clauses.

        Raises:
            QueryError: ``source: field: what is wrong`` for the first bad field.
        """
        from auditlab.schema import COLUMNS

        def bad(name: str, why: str) -> QueryError:
            return QueryError(f"{source}: {name}: {why}")

        if not isinstance(data, Mapping):
            raise QueryError(f"{source}: a detection is a mapping of fields, got {type(data).__name__}")
        if "logsource" in data or "correlation" in data or isinstance(data.get("detection"), Mapping):
            raise QueryError(
                f"{source}: this is a Sigma rule; --rules reads auditlab's declared form (docs/detections.md), "
                "and `auditlab sigma export` writes Sigma for your SIEM"
            )
        unknown = [k for k in data if k not in _FIELDS]
        if unknown:
            raise bad(str(unknown[0]), f"unknown field; known: {', '.join(_FIELDS)}")
        out: dict[str, Any] = {}
        for key in ("name", "kind", "title"):
            if not isinstance(data.get(key), str) or not data[key].strip():
                raise bad(key, "required, a non-empty text")
            out[key] = data[key].strip()
        if out["kind"] not in KINDS:
            raise bad("kind", f"{out['kind']!r} is not one of {', '.join(KINDS)}")
        actions = data.get("actions", ())
        actions = [actions] if isinstance(actions, str) else actions
        if not isinstance(actions, (list, tuple)) or not all(isinstance(a, str) for a in actions):
            raise bad("actions", "a list of action names")
        out["actions"] = tuple(actions)
        for key in ("where", "then"):
            out[key] = _conditions(data.get(key), lambda why, key=key: bad(key, why))
        for key in ("group_by", "distinct"):
            col = data.get(key)
            if col is not None and (not isinstance(col, str) or col not in COLUMNS):
                raise bad(key, f"{col!r} is not a canonical column")
            out[key] = col
        for key in ("window", "learning", "baseline"):
            if key in data:
                try:
                    out[key] = as_window(data[key], key, allow_zero=key == "learning")
                except QueryError as exc:
                    raise QueryError(f"{source}: {exc}") from None
        for key in ("threshold", "factor"):
            if key in data:
                v = data[key]
                if isinstance(v, bool) or not isinstance(v, (int, float)) or v <= 0:
                    raise bad(key, f"a positive number, got {v!r}")
                out[key] = v
        sev = data.get("severity", "medium")
        if sev not in SEVERITIES:
            raise bad("severity", f"{sev!r} is not one of {', '.join(SEVERITIES)}")
        out["severity"] = sev
        for key in ("technique", "value", "description", "investigation"):
            v = data.get(key)
            if v is not None and not isinstance(v, str):
                raise bad(key, f"a text, got {v!r}")
            if v is not None:
                out[key] = v
        ents = data.get("entities")
        if ents is not None:
            if not isinstance(ents, Mapping) or not ents:
                raise bad("entities", "a mapping of entity kind to canonical column")
            for kind, col in ents.items():
                if kind not in ENTITY_KINDS:
                    raise bad("entities", f"{kind!r} is not one of {', '.join(ENTITY_KINDS)}")
                if col not in COLUMNS:
                    raise bad("entities", f"{kind}: {col!r} is not a canonical column")
            out["entities"] = dict(ents)
        incident = data.get("incident", "group")
        if incident not in INCIDENTS:
            raise bad("incident", f"{incident!r} is not one of {', '.join(INCIDENTS)}")
        out["incident"] = incident
        if out["kind"] in ("distinct", "first_seen") and not out["distinct"]:
            raise bad("distinct", f"a {out['kind']} detection needs the column it watches")
        if out["kind"] in ("sequence", "first_seen") and not out["group_by"]:
            raise bad("group_by", f"a {out['kind']} detection needs a group_by column")
        if out["kind"] == "sequence" and not out["then"]:
            raise bad("then", "a sequence detection needs the closing event's conditions")
        detection = cls(**out)
        try:  # every placeholder must be one the kind fills
            string.Formatter().vformat(detection.title, (), _Context(detection, {}))
        except (KeyError, ValueError, IndexError) as exc:
            raise bad("title", f"unknown placeholder {exc}; see the Detection docstring") from None
        return detection

    def with_(self, **changes: Any) -> Detection:
        """A copy with some fields changed, checked as :meth:`from_dict` checks them."""
        data = {**self.to_dict(), **changes}
        return Detection.from_dict(data, source=self.name)

    def to_dict(self) -> dict[str, Any]:
        """The declaration as plain data (durations as timedelta, conditions as text), for rule files."""
        from auditlab.filters.text import format_condition

        out: dict[str, Any] = {}
        for f in dataclasses.fields(self):
            v = getattr(self, f.name)
            if f.name in ("where", "then"):
                v = "; ".join(format_condition(c) for c in v)
            elif f.name == "actions":
                v = list(v)
            elif f.name == "entities":
                v = dict(v)
            out[f.name] = v
        return out


def declare(**fields: Any) -> Detection:
    """A built-in declaration: :meth:`Detection.from_dict` of the keyword arguments."""
    return Detection.from_dict(fields, source=str(fields.get("name", "detection")))


def _conditions(value: Any, bad: Any) -> tuple[Condition, ...]:
    from auditlab.filters.text import parse_query

    if value is None or value == "":
        return ()
    clauses = [value] if isinstance(value, str) else value
    if not isinstance(clauses, (list, tuple)) or not all(isinstance(c, str) for c in clauses):
        raise bad("filter conditions as text, e.g. 'outcome is failure'")
    try:
        query = parse_query("; ".join(clauses), allow_unknown_actions=True)
    except QueryError as exc:
        raise bad(str(exc)) from None
    if query.time_range.preset != "24h":
        raise bad("no time clause here: the scope gives the time range")
    return query.conditions


class _Context(dict[str, str]):
    """Title values of one finding; a missing one reads "an unknown ..."; only the title's keys are formatted."""

    def __init__(self, det: Detection, values: Mapping[str, Any]) -> None:
        super().__init__()
        self.allowed = _allowed(det.kind, tuple(det.entities))
        self.given = values

    def __missing__(self, key: str) -> str:
        if key in self.given:
            return _text(self.given[key], key)
        if key not in self.allowed:
            raise KeyError(key)
        return (
            UNKNOWN.get(key.removesuffix("_count"), "an unknown value") if not key.endswith("_count") else "0"
        )


@functools.cache
def _allowed(kind: str, entities: tuple[str, ...]) -> frozenset[str]:
    """The title placeholders a detection of ``kind`` with these entity kinds fills."""
    allowed = {"key", "count", "peak", "span", "window", "threshold"}
    for entity in entities:
        allowed |= {entity, f"{entity}_count"}
    if kind == "sequence":
        allowed |= {"steps", "then_ip"}
    if kind == "first_seen":
        allowed |= {"value"}
    return frozenset(allowed)


def _text(value: Any, key: str) -> str:
    if value is None or value == []:
        return UNKNOWN.get(key, "an unknown value")
    if isinstance(value, list):
        return name_list([str(v) for v in value])
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def _window_text(window: timedelta) -> str:
    minutes = window.total_seconds() / 60
    return f"{minutes:g} min" if minutes < 120 else f"{minutes / 60:g} h"


# -- compiling ----------------------------------------------------------------------------------


def compile_sql(det: Detection) -> tuple[str, dict[str, object]]:
    """The detection as one SELECT over ``{scope}`` and its named parameters.

    One row per episode: ``key`` (the group value), ``first_seen``, ``last_seen``, ``peak``,
    ``event_ids`` (by time), one list column ``ent_<kind>`` per entity kind, and per kind
    ``steps``/``then_ip`` (sequence) or ``value`` (first_seen).

    Examples:
        >>> sql, params = compile_sql(Detection.from_dict({"name": "n", "kind": "count", "title": "t",
        ...     "actions": ["user.login"], "where": "outcome is failure", "group_by": "user_email",
        ...     "threshold": 5, "window": "15m"}))
        >>> sorted(params), "?" in sql
        (['actions', 'threshold', 'w0_0', 'window_us'], False)
    """
    from auditlab.filters.to_sql import condition_sql
    from auditlab.investigations._common import named

    params: dict[str, object] = {"window_us": micros(det.window), "threshold": det.threshold}

    def predicate(conds: Iterable[Condition], prefix: str) -> str:
        parts = ["TRUE"]
        if det.actions:
            parts.append("list_contains($actions::VARCHAR[], action)")
            params["actions"] = list(det.actions)
        for i, cond in enumerate(conds):
            sql, values = named(*condition_sql(cond), prefix=f"{prefix}{i}_")
            parts.append(sql)
            params.update(values)
        return " AND ".join(parts)

    key = _key_sql(det.group_by) if det.group_by else "'*'"
    # column names are checked against the schema (from_dict); every value is a parameter
    src = f"SELECT *, {key} AS k FROM {{scope}} WHERE {predicate(det.where, 'w')}"  # noqa: S608
    ents = ", ".join(
        f"list_sort(list_distinct(list(s.{_key_sql(col)}))) AS ent_{kind}"
        for kind, col in det.entities.items()
    )
    if det.kind in ("count", "distinct", "spike"):
        if det.kind == "spike":
            params["baseline_us"] = micros(det.baseline)
            params["factor"] = float(det.factor)
            params["per_window"] = det.window / det.baseline
            amount = "CAST(1 AS DOUBLE)"
            if det.value:
                params["value_path"] = f"$.{det.value}"
                amount = "coalesce(TRY_CAST(json_extract_string(details, $value_path) AS DOUBLE), CAST(1 AS DOUBLE))"
            scored = f"""
            amounts AS (
                SELECT k, timestamp, {amount} AS amt, min(timestamp) OVER (PARTITION BY k) AS group_first
                FROM src WHERE k IS NOT NULL
            ),
            sums AS (
                SELECT k, timestamp AS t,
                       sum(amt) OVER (PARTITION BY k ORDER BY timestamp
                                      RANGE BETWEEN to_microseconds($window_us) PRECEDING AND CURRENT ROW) AS n,
                       sum(amt) OVER (PARTITION BY k ORDER BY timestamp
                                      RANGE BETWEEN to_microseconds($window_us + $baseline_us) PRECEDING AND CURRENT ROW) AS long,
                       group_first
                FROM amounts
            ),
            scored AS (
                SELECT k, t, n FROM sums
                WHERE n >= greatest($threshold, $factor * (long - n) * $per_window)
                  AND t >= group_first + to_microseconds($baseline_us)  -- a baseline to compare with
            )"""  # noqa: S608
        else:
            measure = "count(*)" if det.kind == "count" else f"count(DISTINCT {_key_sql(det.distinct or '')})"
            scored = f"""
            scored AS (
                SELECT k, timestamp AS t,
                       {measure} OVER (PARTITION BY k ORDER BY timestamp
                                       RANGE BETWEEN to_microseconds($window_us) PRECEDING AND CURRENT ROW) AS n
                FROM src WHERE k IS NOT NULL
            )"""  # noqa: S608
        sql = f"""
        WITH src AS ({src}),{scored},
        hot AS (SELECT k, t, n FROM scored WHERE n >= $threshold),
        marked AS (
            SELECT k, t, n,
                   CASE WHEN lag(t) OVER (PARTITION BY k ORDER BY t) >= t - to_microseconds($window_us)
                        THEN 0 ELSE 1 END AS start
            FROM hot
        ),
        islands AS (
            SELECT k, t, n, sum(start) OVER (PARTITION BY k ORDER BY t ROWS UNBOUNDED PRECEDING) AS ep FROM marked
        ),
        episodes AS (
            SELECT k, ep, min(t) - to_microseconds($window_us) AS lo, max(t) AS hi, max(n) AS peak
            FROM islands GROUP BY k, ep
        )
        SELECT e.k AS key, e.peak, min(s.timestamp) AS first_seen, max(s.timestamp) AS last_seen,
               list(s.event_id ORDER BY s.timestamp, s.event_id) AS event_ids, {ents}
        FROM episodes e JOIN src s ON s.k = e.k AND s.timestamp BETWEEN e.lo AND e.hi
        GROUP BY e.k, e.ep, e.peak
        ORDER BY first_seen, key
        """  # noqa: S608 - column names come from the schema, values are parameters
    elif det.kind == "sequence":
        then = f"SELECT *, {key} AS k FROM {{scope}} WHERE {predicate(det.then, 't')}"  # noqa: S608
        sql = f"""
        WITH steps AS ({src}), closing AS ({then}),
        src AS (
            SELECT *, 'step' AS role FROM steps
            UNION ALL BY NAME
            SELECT *, 'then' AS role FROM closing WHERE event_id NOT IN (SELECT event_id FROM steps)
        ),
        runs AS (
            SELECT *, coalesce(sum(CASE WHEN role = 'then' THEN 1 ELSE 0 END) OVER (
                       PARTITION BY k ORDER BY timestamp, event_id
                       ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING), 0) AS run
            FROM src WHERE k IS NOT NULL
        ),
        scored AS (
            SELECT *, sum(CASE WHEN role = 'step' THEN 1 ELSE 0 END) OVER (
                       PARTITION BY k, run ORDER BY timestamp
                       RANGE BETWEEN to_microseconds($window_us) PRECEDING AND CURRENT ROW) AS n
            FROM runs
        ),
        hits AS (SELECT * FROM scored WHERE role = 'then' AND n >= $threshold),
        joined AS (
            SELECT h.k AS key, h.event_id AS then_id, h.timestamp AS then_at, h.ip_key AS then_ip, s.*
            FROM hits h JOIN runs s
              ON s.k = h.k AND s.run = h.run
             AND ((s.role = 'step' AND s.timestamp BETWEEN h.timestamp - to_microseconds($window_us) AND h.timestamp)
                  OR s.event_id = h.event_id)
        )
        SELECT key, then_id, then_ip, count(*) FILTER (WHERE role = 'step') AS steps,
               count(*) FILTER (WHERE role = 'step') AS peak,
               min(timestamp) AS first_seen, max(timestamp) AS last_seen,
               list(event_id ORDER BY timestamp, role, event_id) AS event_ids, {ents}
        FROM joined s
        GROUP BY key, then_id, then_ip, then_at
        ORDER BY then_at, then_id
        """  # noqa: S608
    else:  # first_seen
        params["learning_us"] = micros(det.learning)
        value = _key_sql(det.distinct or "")
        sql = f"""
        WITH src AS (SELECT *, {value} AS v FROM ({src}) WHERE k IS NOT NULL AND {value} IS NOT NULL),
        groups AS (SELECT k, min(timestamp) AS group_first FROM src GROUP BY k),
        firsts AS (
            SELECT k, v, min(timestamp) AS first_seen, first(event_id ORDER BY timestamp, event_id) AS first_id
            FROM src GROUP BY k, v
        ),
        hits AS (
            SELECT f.* FROM firsts f JOIN groups g USING (k)
            WHERE f.first_seen > g.group_first AND f.first_seen >= g.group_first + to_microseconds($learning_us)
        )
        SELECT h.k AS key, h.v AS value, 1 AS peak, h.first_seen, h.first_seen AS last_seen,
               [h.first_id] AS event_ids, {ents}
        FROM hits h JOIN src s ON s.event_id = h.first_id
        GROUP BY ALL
        ORDER BY first_seen, key
        """  # noqa: S608
    return sql, params


# -- running ------------------------------------------------------------------------------------


def episodes(det: Detection, scope: Scope) -> pl.DataFrame:
    """The detection's episodes over ``scope`` (see :func:`compile_sql`), merged per incident."""
    sql, params = compile_sql(det)
    frame = scope.sql(sql, params)
    if det.incident == "overlap" and frame.height > 1:
        frame = _merge_overlapping(frame, det)
    return frame


def _merge_overlapping(frame: pl.DataFrame, det: Detection) -> pl.DataFrame:
    """Episodes whose spans overlap (within one window) become one incident row."""
    import polars as pl

    rows = frame.sort("first_seen", "key").to_dicts()
    merged: list[dict[str, Any]] = []
    for row in rows:
        last = merged[-1] if merged else None
        if last is not None and row["first_seen"] <= last["last_seen"] + det.window:
            last["keys"].append(row["key"])
            last["last_seen"] = max(last["last_seen"], row["last_seen"])
            last["peak"] = max(last["peak"], row["peak"])
            last["event_ids"] = list(dict.fromkeys([*last["event_ids"], *row["event_ids"]]))
            for kind in det.entities:
                col = f"ent_{kind}"
                last[col] = sorted({*last[col], *row[col]} - {None})
        else:
            merged.append({**row, "keys": [row["key"]]})
    for row in merged:
        row["key"] = sorted({k for k in row.pop("keys") if k is not None}) or None
    return pl.DataFrame(merged, infer_schema_length=None)


def rows_of(frame: pl.DataFrame) -> list[dict[str, Any]]:
    """The rows of a frame as dicts, converted a column at a time (much faster than ``iter_rows`` for
    list and time columns, which is what episode frames hold)."""
    names = frame.columns
    columns = [frame[c].to_list() for c in names]
    return [dict(zip(names, values, strict=True)) for values in zip(*columns, strict=True)]


@functools.cache
def _title_plan(title: str) -> tuple[str, ...]:
    """The names a title template uses (``{user_count}`` -> ``user_count``), parsed once per template."""
    names = [
        re.split(r"[.\[]", field, maxsplit=1)[0]
        for _, field, _, _ in string.Formatter().parse(title)
        if field
    ]
    return tuple(dict.fromkeys(names))


def finding_of_episode(
    det: Detection, row: Mapping[str, Any], *, investigation: str | None = None
) -> Finding:
    """The finding of one episode row, its title filled from the row (missing values named as such).

    Only the values the title uses are formatted (the template is parsed once per title).
    """
    entities = {kind: [v for v in row["ent_" + kind] if v is not None] for kind in det.entities}
    count = len(row["event_ids"])
    values: dict[str, Any] = {}
    for name in _title_plan(det.title):
        if name == "key":
            values[name] = row["key"]
        elif name == "count":
            values[name] = count
        elif name == "peak":
            values[name] = row["peak"]
        elif name == "span":
            values[name] = span_text(row["first_seen"], row["last_seen"])
        elif name == "window":
            values[name] = _window_text(det.window)
        elif name == "threshold":
            values[name] = det.threshold
        elif name in entities:
            values[name] = entities[name]
        elif name.endswith("_count") and name.removesuffix("_count") in entities:
            values[name] = len(entities[name.removesuffix("_count")])
        elif name in ("steps", "then_ip", "value") and name in row:
            values[name] = row[name]
    title = det.title.format_map(_Context(det, values))  # str.format_map: C speed, same placeholders
    return Finding(
        investigation or det.investigation,
        det.severity,
        det.technique,
        title,
        entities,
        row["first_seen"],
        row["last_seen"],
        count,
        tuple(row["event_ids"]),
    )


def run_detection(det: Detection, scope: Scope, *, investigation: str | None = None) -> list[Finding]:
    """The findings of one declared detection over a scope, sorted.

    Examples:
        >>> import auditlab
        >>> from auditlab.investigations.detections import BRUTE_FORCE
        >>> ws = auditlab.load("data/samples/portal_audit_export.zip")
        >>> with Scope(ws) as scope:
        ...     [f.title for f in run_detection(BRUTE_FORCE, scope)]
        ['Brute force against ext.zoe.bauer@acme.example: 14 failed logins in 8 min from 203.0.113.45']
    """
    return sort_findings(
        finding_of_episode(det, row, investigation=investigation) for row in rows_of(episodes(det, scope))
    )


def run_detections(
    ws: Any,
    detections: Iterable[Detection],
    *,
    query: Any = None,
    name: str = "rules",
    title: str = "User rules",
) -> Any:
    """Run declared detections over one scope as one :class:`InvestigationResult` named ``name``.

    Each detection's findings carry ``name`` as their investigation. The parameters table lists
    each detection's declaration.
    """
    from auditlab.investigations._common import scope_of
    from auditlab.investigations._result import InvestigationResult

    dets = list(detections)
    scope, owned = scope_of(ws, query)
    try:
        findings = [f for d in dets for f in run_detection(d, scope, investigation=name)]
        return InvestigationResult(
            name=name,
            title=title,
            parameters={"query": scope.query.to_text(), "detections": [d.name for d in dets]},
            findings=sort_findings(findings),
        )
    finally:
        if owned:
            scope.close()


# -- rule files ---------------------------------------------------------------------------------

RULE_SUFFIXES: tuple[str, ...] = (".yaml", ".yml", ".toml")


def load_rules(path: PathLike) -> list[Detection]:
    """The detections declared in a rule file, or in every ``*.yaml``/``*.yml``/``*.toml`` of a folder.

    A file holds one detection (its fields at the top level) or several (a list under
    ``detections``, YAML also as a top-level list).

    Raises:
        QueryError: an unreadable file or a bad field, naming the file and the field.

    Examples:
        >>> import tempfile, pathlib
        >>> d = pathlib.Path(tempfile.mkdtemp())
        >>> _ = (d / "exports.toml").write_text('name = "e"\\nkind = "count"\\ntitle = "{count} by {user}"\\n'
        ...      'actions = ["organization.profile_configuration.exported"]\\ngroup_by = "user_email"\\n'
        ...      'threshold = 3\\nwindow = "10m"\\n')
        >>> [(r.name, r.threshold, r.window) for r in load_rules(d)]
        [('e', 3, datetime.timedelta(seconds=600))]
        >>> _ = (d / "bad.yaml").write_text("name: b\\nkind: count\\ntitle: t\\nseverity: urgent\\n")
        >>> load_rules(d / "bad.yaml")
        Traceback (most recent call last):
        ...
        auditlab.errors.QueryError: ...bad.yaml: severity: 'urgent' is not one of info, low, medium, high, critical
    """
    root = Path(path)
    if root.is_dir():
        files = sorted(p for p in root.iterdir() if p.suffix.lower() in RULE_SUFFIXES and p.is_file())
        if not files:
            raise QueryError(f"{root}: no rule files (*.yaml, *.yml, *.toml)")
    elif root.is_file():
        files = [root]
    else:
        raise QueryError(f"{root}: no such rule file or folder")
    out: list[Detection] = []
    for file in files:
        out.extend(_read_rule_file(file))
    names = [d.name for d in out]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise QueryError(f"{root}: name: {dupes[0]!r} is declared more than once")
    return out


def _read_rule_file(file: Path) -> list[Detection]:
    text = file.read_text(encoding="utf-8")
    try:
        if file.suffix.lower() == ".toml":
            import tomllib

            data: Any = tomllib.loads(text)
        else:
            import yaml

            data = yaml.safe_load(text)
    except Exception as exc:  # the parsers' own errors say line and column
        raise QueryError(f"{file}: not valid {file.suffix.lstrip('.').upper()}: {exc}") from None
    if isinstance(data, Mapping) and "detections" in data:
        items = data["detections"]
    elif isinstance(data, list):
        items = data
    else:
        items = [data]
    if not isinstance(items, list) or not items:
        raise QueryError(f"{file}: detections: a list of detections")
    return [
        Detection.from_dict(item, source=f"{file}" if len(items) == 1 else f"{file}[{i}]")
        for i, item in enumerate(items)
    ]
