"""Quota spending: who spends upload quota, where, how fast, and who moves quota around.

Reads ``version.upload_quota.spent`` and ``filestream_file.upload_quota.spent`` (details ``amount``,
``quota_remaining``, ``quota_limit``), ``organization.licensing.quotas.reallocated`` (``from_group``,
``to_group``, ``amount``), ``group.licensing.limit.updated`` (``changes``) and any failure whose error
mentions the quota ("Quota exceeded").

A group's spending rate is a property of the group, so the sliding windows and the baseline are
computed over every spend event before the end of the scope (also those before its start or outside
its conditions); a spike is reported when its flagged events are in the scope, and the evidence is
the in-scope events.

Examples:
    >>> import auditlab
    >>> ws = auditlab.load("data/samples/portal_audit_export.zip")
    >>> result = quota_spending(ws)
    >>> [(f.severity, f.technique, f.entities["group"]) for f in result.findings]
    [('high', 'T1496', ['Mobile']), ('medium', None, ['Data Science', 'Mobile']), ('info', None, ['Web'])]
    >>> result.findings[0].count
    83
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from auditlab._time import iso_time
from auditlab.catalog import actions_in_family
from auditlab.errors import QueryError
from auditlab.filters.text import format_query
from auditlab.investigations._common import Scope, fold_sql, known, run_sql, scope_of
from auditlab.investigations._result import Finding, InvestigationResult, sort_findings

if TYPE_CHECKING:
    import polars as pl

    from auditlab.filters.model import Query
    from auditlab.store.events import EventSet

__all__ = ["QUOTA_ACTIONS", "quota_spending"]

NAME = "quota_spending"

#: The catalog's ``quota`` family: spends, reallocations, limit updates.
QUOTA_ACTIONS: tuple[str, ...] = actions_in_family("quota")
_SPENT = "%.upload_quota.spent"
_REALLOCATED = "organization.licensing.quotas.reallocated"
_LIMIT = "group.licensing.limit.updated"
_QUOTA_ERROR = "%quota%"


def _events(
    scope: Scope,
    window: timedelta,
    baseline: timedelta,
    spike_min: float,
    spike_factor: float,
) -> pl.DataFrame:
    """Quota events before the scope end, with rolling window spend, baseline rate and episode keys."""
    start, end = scope.bounds
    history_start = None if start is None else start - baseline - window
    sql = f"""
    WITH q AS (
        SELECT event_id, timestamp, action, outcome, {fold_sql("user_email")} AS user_email, ip_address, auth_context,
               coalesce(group_name, group_id, '(no group)') AS grp, project_name, request_id, error_message,
               CAST(details AS VARCHAR) AS details,
               coalesce(({scope.where_sql}), FALSE) AS in_scope,
               action LIKE '{_SPENT}' AND outcome = 'success' AS spent,
               CASE WHEN action LIKE '{_SPENT}' THEN coalesce(TRY_CAST(details->>'amount' AS DOUBLE), 1.0)
                    ELSE TRY_CAST(details->>'amount' AS DOUBLE) END AS amount,
               TRY_CAST(details->>'quota_remaining' AS DOUBLE) AS quota_remaining,
               TRY_CAST(details->>'quota_limit' AS DOUBLE) AS quota_limit,
               details->>'from_group' AS from_group, details->>'to_group' AS to_group,
               CASE WHEN json_type(details->'changes') = 'ARRAY' THEN coalesce(
                   list_filter(from_json(details->'changes', '["JSON"]'), lambda ch: (ch->>'field') LIKE '%limit%')[1],
                   from_json(details->'changes', '["JSON"]')[1]) END AS limit_change
        FROM events
        WHERE (list_contains($quota_actions::VARCHAR[], action) OR (outcome = 'failure' AND error_message ILIKE '{_QUOTA_ERROR}'))
          AND ($end::TIMESTAMPTZ IS NULL OR timestamp < $end::TIMESTAMPTZ)
          AND ($history_start::TIMESTAMPTZ IS NULL OR timestamp >= $history_start::TIMESTAMPTZ)
    ),
    s AS (
        SELECT *,
               sum(amount) OVER (PARTITION BY grp ORDER BY timestamp RANGE BETWEEN $window::INTERVAL PRECEDING AND CURRENT ROW)
                   AS window_spend,
               sum(amount) OVER (PARTITION BY grp ORDER BY timestamp RANGE BETWEEN $long::INTERVAL PRECEDING AND CURRENT ROW)
                   AS long_spend
        FROM q WHERE spent
    ),
    b AS (
        SELECT *,
               -- spend in [t - window - baseline, t - window), per hour of data covered
               (long_spend - window_spend) / least($baseline_h::DOUBLE, greatest($window_h::DOUBLE,
                   epoch(timestamp - $window::INTERVAL - (SELECT min(timestamp) FROM events)) / 3600.0)) AS baseline_rate
        FROM s
    ),
    f AS (
        SELECT *, greatest($spike_min::DOUBLE, $spike_factor::DOUBLE * baseline_rate * $window_h::DOUBLE) AS threshold FROM b
    )
    SELECT q.* EXCLUDE (limit_change), q.limit_change->>'old' AS old_limit, q.limit_change->>'new' AS new_limit,
           f.window_spend, f.baseline_rate, f.threshold,
           coalesce(f.window_spend >= f.threshold, FALSE) AS spike,
           coalesce(((q.spent AND q.quota_remaining <= 0)
                    OR (q.outcome = 'failure' AND q.error_message ILIKE '{_QUOTA_ERROR}')), FALSE) AS exhausted,
           -- a spend that leaves quota starts a new exhaustion episode for its group
           sum(CASE WHEN q.spent AND q.quota_remaining > 0 THEN 1 ELSE 0 END)
               OVER (PARTITION BY q.grp ORDER BY q.timestamp, q.event_id ROWS UNBOUNDED PRECEDING) AS refill_epoch
    FROM q LEFT JOIN f USING (event_id)
    ORDER BY q.timestamp, q.event_id
    """  # noqa: S608 - only the compiled filter's placeholders and constant patterns are formatted in
    args = {
        **scope.params,
        "quota_actions": list(QUOTA_ACTIONS),
        "end": end,
        "history_start": history_start,
        "window": window,
        "long": baseline + window,
        "baseline_h": baseline.total_seconds() / 3600.0,
        "window_h": window.total_seconds() / 3600.0,
        "spike_min": float(spike_min),
        "spike_factor": float(spike_factor),
    }
    return run_sql(scope.con, sql, args)


def _paired(scope: Scope, request_ids: list[str]) -> dict[str, list[tuple[str, datetime]]]:
    """In-scope events sharing a request id with a spend (the upload that spent it), by request id."""
    if not request_ids:
        return {}
    sql = f"""
    SELECT request_id, list(struct_pack(event_id, timestamp) ORDER BY timestamp, event_id) AS ids FROM {{scope}}
    WHERE request_id IN (SELECT unnest($request_ids::VARCHAR[])) AND action NOT LIKE '{_SPENT}'
    GROUP BY request_id
    """  # noqa: S608
    rows = scope.rows(sql, {"request_ids": request_ids})
    return {rid: [(e["event_id"], e["timestamp"]) for e in ids] for rid, ids in rows}


#: The columns of a quota event a finding reads (an episode keeps its events as dicts of these).
_ROW_COLUMNS = (
    "event_id", "timestamp", "outcome", "user_email", "ip_address", "grp", "project_name", "request_id",
    "error_message", "spent", "amount", "quota_remaining", "quota_limit", "window_spend", "baseline_rate",
    "threshold",
)  # fmt: skip


@dataclass
class _Episode:
    group: str
    start: datetime
    end: datetime
    rows: list[dict[str, Any]] = field(default_factory=list)
    spike: bool = False
    exhausted_at: datetime | None = None

    @property
    def exhausted(self) -> bool:
        return self.exhausted_at is not None


def _episodes(frame: pl.DataFrame, window: timedelta, *, scoped: bool = True) -> list[_Episode]:
    """Spike runs (flagged events less than a window apart, plus their windows) and exhaustion runs,
    merged per group when they overlap or follow within one window; ``scoped``: in-scope events only."""
    import polars as pl

    # filtered from ``frame`` each, with only the columns a finding reads (no copy of every quota event)
    scope = pl.col("in_scope") if scoped else pl.lit(True)
    out: list[_Episode] = []
    spikes = (
        frame.filter(scope & pl.col("spike"))
        .sort("grp", "timestamp")
        .with_columns(
            (pl.col("timestamp").diff().over("grp").fill_null(window * 2) > window)
            .cum_sum()
            .over("grp")
            .alias("run")
        )
        .group_by("grp", "run")
        .agg(pl.col("timestamp").min().alias("first"), pl.col("timestamp").max().alias("last"))
    )
    spends = frame.filter(scope & pl.col("spent")).select(_ROW_COLUMNS)
    for grp, first, last in spikes.select("grp", "first", "last").iter_rows():
        rows = spends.filter(
            (pl.col("grp") == grp) & pl.col("timestamp").is_between(first - window, last)
        ).to_dicts()
        out.append(_Episode(grp, rows[0]["timestamp"], last, rows, spike=True))
    runs = (
        frame.filter(scope & pl.col("exhausted"))
        .select(*_ROW_COLUMNS, "refill_epoch")
        .sort("timestamp", "event_id")
        .partition_by("grp", "refill_epoch", maintain_order=True)
    )
    for run in runs:
        rows = run.to_dicts()
        out.append(
            _Episode(
                rows[0]["grp"],
                rows[0]["timestamp"],
                rows[-1]["timestamp"],
                rows,
                exhausted_at=rows[0]["timestamp"],
            )
        )
    out.sort(key=lambda e: (str(e.group), e.start))
    merged: list[_Episode] = []
    for ep in out:
        last_ep = merged[-1] if merged else None
        if last_ep is not None and last_ep.group == ep.group and ep.start <= last_ep.end + window:
            seen = {r["event_id"] for r in last_ep.rows}
            last_ep.rows += [r for r in ep.rows if r["event_id"] not in seen]
            last_ep.end = max(last_ep.end, ep.end)
            last_ep.spike |= ep.spike
            last_ep.exhausted_at = min(
                (t for t in (last_ep.exhausted_at, ep.exhausted_at) if t is not None), default=None
            )
        else:
            merged.append(ep)
    return merged


def _fmt(x: float | None, what: str = "amount") -> str:
    return f"an unknown {what}" if x is None else f"{x:g}"


def _spend_finding(ep: _Episode, paired: dict[str, list[tuple[str, datetime]]], window: timedelta) -> Finding:
    rows = sorted(ep.rows, key=lambda r: (r["timestamp"], r["event_id"]))
    spent = [r for r in rows if r["spent"]]
    failures = [r for r in rows if r["outcome"] == "failure"]
    users = sorted({r["user_email"] for r in rows if r["user_email"]})
    ips = sorted({r["ip_address"] for r in rows if r["ip_address"]})
    projects = sorted({r["project_name"] for r in rows if r["project_name"]})
    amount = sum(r["amount"] for r in spent)
    evidence = [(r["event_id"], r["timestamp"]) for r in rows] + [
        pair for r in spent if r["request_id"] for pair in paired.get(r["request_id"], [])
    ]
    ids = tuple(dict.fromkeys(i for i, _ in sorted(evidence, key=lambda p: (p[1], p[0]))))
    times = [t for _, t in evidence]
    minutes = round(window.total_seconds() / 60)
    who = f" by {', '.join(users)} from {', '.join(ips)}" if users else ""
    parts = []
    if spent:
        span = max(r["timestamp"] for r in spent) - min(r["timestamp"] for r in spent)
        parts.append(f"{_fmt(amount)} units spent in {round(span.total_seconds() / 60)} min{who}")
    if ep.spike:
        peak = max(spent, key=lambda r: r["window_spend"] or 0)
        parts.append(
            f"peak {_fmt(peak['window_spend'])} in {minutes} min against a baseline of "
            f"{peak['baseline_rate']:.2f}/h (threshold {_fmt(peak['threshold'])})"
        )
    if ep.exhausted:
        limits = [r["quota_limit"] for r in spent if r["quota_limit"] is not None]
        parts.append(
            f"quota_remaining 0 of {_fmt(limits[-1]) if limits else 'an unknown limit'}"
            if any(r["quota_remaining"] is not None and r["quota_remaining"] <= 0 for r in spent)
            else "quota exhausted"
        )
        if failures:
            reasons = ", ".join(sorted({repr(r["error_message"]) for r in failures}))
            parts.append(f"{len(failures)} failed action{'s' * (len(failures) != 1)} ({reasons})")
    head = (
        f"Upload quota of group {known(ep.group, 'group')} exhausted"
        if ep.exhausted
        else f"Upload quota spending spike in group {known(ep.group, 'group')}"
    )
    return Finding(
        NAME,
        "high" if ep.exhausted else "medium",
        "T1496",
        f"{head}: {'; '.join(parts)}",
        {"user": users, "ip": ips, "group": [str(ep.group)], "project": projects},
        min(times),
        max(times),
        len(ids),
        ids,
    )


def _recent_abuse(
    episodes: list[_Episode], group: str | None, t: datetime, lookback: timedelta
) -> _Episode | None:
    """The latest spike/exhaustion episode of ``group`` that started within ``lookback`` before ``t``."""
    hits = [e for e in episodes if e.group == group and t - lookback <= e.start <= t]
    return max(hits, key=lambda e: e.start) if hits else None


def _what(ep: _Episode) -> str:
    if ep.exhausted_at is not None:
        return f"exhausted its quota at {iso_time(ep.exhausted_at)}"
    return f"spiked at {iso_time(ep.start)}"


def _accountability(
    frame: pl.DataFrame, episodes: list[_Episode], lookback: timedelta
) -> tuple[list[Finding], pl.DataFrame, pl.DataFrame]:
    """A finding per reallocation and per limit update: info, medium right after a spike or exhaustion."""
    import polars as pl

    ok = pl.col("in_scope") & (pl.col("outcome") == "success")
    cols = ["timestamp", "user_email", "ip_address", "auth_context"]
    realloc = frame.filter(ok & (pl.col("action") == _REALLOCATED)).select(
        *cols, "from_group", "to_group", "amount", "event_id"
    )
    limits = frame.filter(ok & (pl.col("action") == _LIMIT)).select(
        *cols, pl.col("grp").alias("group_name"), "old_limit", "new_limit", "event_id"
    )
    findings: list[Finding] = []
    for r in realloc.iter_rows(named=True):
        hit = _recent_abuse(episodes, r["to_group"], r["timestamp"], lookback)
        note = "" if hit is None else f" ({r['to_group']} {_what(hit)})"
        amount = "an unknown number of" if r["amount"] is None else _fmt(r["amount"])
        title = (
            f"{known(r['user_email'], 'user')} reallocated {amount} units of upload quota from "
            f"{known(r['from_group'], 'group')} to {known(r['to_group'], 'group')} from "
            f"{known(r['ip_address'], 'address')}{note}"
        )
        groups = sorted({g for g in (r["from_group"], r["to_group"]) if g})
        findings.append(
            Finding(
                NAME,
                "info" if hit is None else "medium",
                None,
                title,
                {"user": [r["user_email"]], "ip": [r["ip_address"]], "group": groups},
                r["timestamp"],
                r["timestamp"],
                1,
                (r["event_id"],),
            )
        )
    for r in limits.iter_rows(named=True):
        hit = _recent_abuse(episodes, r["group_name"], r["timestamp"], lookback)
        note = "" if hit is None else f" ({_what(hit)})"
        title = (
            f"{known(r['user_email'], 'user')} changed the upload quota limit of group "
            f"{known(r['group_name'], 'group')} from {known(r['old_limit'], 'limit')} to "
            f"{known(r['new_limit'], 'limit')} from {known(r['ip_address'], 'address')}{note}"
        )
        findings.append(
            Finding(
                NAME,
                "info" if hit is None else "medium",
                None,
                title,
                {"user": [r["user_email"]], "ip": [r["ip_address"]], "group": [r["group_name"]]},
                r["timestamp"],
                r["timestamp"],
                1,
                (r["event_id"],),
            )
        )
    return findings, realloc, limits


def _spend_tables(frame: pl.DataFrame) -> dict[str, pl.DataFrame]:
    import polars as pl

    spend = (
        frame.filter(pl.col("spent") & pl.col("in_scope")).select(
            "timestamp",
            "event_id",
            "grp",
            "project_name",
            "user_email",
            "amount",
            "quota_limit",
            "quota_remaining",
        )
    ).with_columns(
        pl.col("timestamp").dt.truncate("1d").alias("day"),
        pl.col("timestamp").dt.truncate("1h").alias("hour"),
    )
    agg = [pl.col("amount").sum().alias("amount"), pl.len().alias("events")]
    tables = {
        "spend_by_group_day": spend.group_by("day", "grp").agg(*agg).rename({"grp": "group_name"}),
        "spend_by_project_day": spend.group_by("day", "grp", "project_name")
        .agg(*agg)
        .rename({"grp": "group_name"}),
        "spend_by_user_day": spend.group_by("day", "user_email").agg(*agg),
        "hourly_spend": spend.group_by("hour", "grp").agg(*agg).rename({"grp": "group_name"}),
    }
    tables = {k: v.sort(v.columns[:-2]) for k, v in tables.items()}
    tables["groups"] = (
        spend.sort("timestamp", "event_id")
        .group_by("grp")
        .agg(
            pl.col("amount").sum().alias("spent"),
            pl.len().alias("events"),
            pl.col("user_email").n_unique().alias("users"),
            pl.col("timestamp").min().alias("first_seen"),
            pl.col("timestamp").max().alias("last_seen"),
            pl.col("quota_limit").drop_nulls().last().alias("quota_limit"),
            pl.col("quota_remaining").drop_nulls().last().alias("quota_remaining"),
            pl.col("quota_remaining").min().alias("min_quota_remaining"),
        )
        .rename({"grp": "group_name"})
        .sort("group_name")
    )
    tables["quota_failures"] = (
        frame.filter(pl.col("in_scope") & (pl.col("outcome") == "failure"))
        .select(
            "timestamp",
            "action",
            "user_email",
            "ip_address",
            pl.col("grp").alias("group_name"),
            "project_name",
            "error_message",
            "event_id",
        )
        .sort("timestamp", "event_id", descending=[True, False])
    )
    return tables


def quota_spending(
    ws: EventSet,
    *,
    query: Query | str | Scope | None = None,
    spike_window_minutes: int = 60,
    spike_factor: float = 10.0,
    spike_min: float = 20.0,
    baseline_days: int = 7,
) -> InvestigationResult:
    """Upload quota spent per group, project and user; spikes, exhaustion, reallocations, limit changes.

    Findings (one per episode, most severe first):

    - **Quota exhausted** (high, T1496): a spend leaves ``quota_remaining`` at 0 or an action fails
      with a quota error ("Quota exceeded"); one finding per group until a later spend shows quota left.
      A spike that leads into it is the same episode (merged when within one window).
    - **Spending spike** (medium, T1496): the spend of a group in a sliding window of
      ``spike_window_minutes`` reaches ``max(spike_min, spike_factor x baseline)``, where the
      baseline is the group's average spend over the ``baseline_days`` before that window, scaled to
      one window. Flagged events less than a window apart form one episode; the evidence is every
      in-scope spend of the group in the flagged windows, with the uploads that spent it (same request id).
    - **Quota reallocated** and **quota limit changed**: one finding per event naming who, from where,
      which groups and how much (no technique: accountability). Info, or medium when the receiving group
      spiked or exhausted its quota in the ``baseline_days`` before: check the burst was legitimate
      before topping the group up.

    Args:
        ws: the workspace (or store).
        query: the scope (a :class:`Query` or its text form); default: all events ("all time").
        spike_window_minutes: the sliding window; default 60, the hour in which bursts of automated
            uploads show against the daily rhythm of CI and people.
        spike_factor: how many times the baseline a window must reach; default 10 (an order of magnitude).
        spike_min: the least spend in a window that can be a spike, so quiet groups (baseline near 0)
            do not alarm on a handful of uploads; default 20 units.
        baseline_days: how far back the baseline looks; default 7, a full weekly cycle.

    Returns:
        An :class:`InvestigationResult` with tables ``spend_by_group_day``, ``spend_by_project_day``,
        ``spend_by_user_day``, ``hourly_spend``, ``groups`` (totals, last limit and remaining),
        ``spikes``, ``quota_failures``, ``reallocations``, ``limit_updates``, and charts
        ``spend_by_group`` and ``hourly_spend``.

    Raises:
        QueryError: a bad threshold or query.

    Examples:
        >>> import auditlab
        >>> ws = auditlab.load("data/samples/portal_audit_export.zip")
        >>> r = quota_spending(ws)
        >>> r.findings[0].title
        "Upload quota of group Mobile exhausted: 40 units spent in 42 min by ci-mobile@acme.example from 203.0.113.77; peak 40 in 60 min against a baseline of 0.36/h (threshold 20); quota_remaining 0 of 2074; 3 failed actions ('Quota exceeded')"
        >>> r.tables["groups"].filter(r.tables["groups"]["group_name"] == "Mobile")["quota_limit"].to_list()
        [2224.0]
    """
    import polars as pl

    if spike_window_minutes <= 0 or baseline_days <= 0 or spike_factor < 0 or spike_min <= 0:
        raise QueryError(
            "spike_window_minutes, baseline_days and spike_min must be positive, spike_factor not negative"
        )
    window, baseline = timedelta(minutes=spike_window_minutes), timedelta(days=baseline_days)
    scope, owned = scope_of(ws, query)
    try:
        frame = _events(scope, window, baseline, spike_min, spike_factor)
        episodes = _episodes(frame, window)
        request_ids = sorted(
            {r["request_id"] for e in episodes for r in e.rows if r["spent"] and r["request_id"]}
        )
        paired = _paired(scope, request_ids)
    finally:
        if owned:
            scope.close()
    findings = [_spend_finding(e, paired, window) for e in episodes]
    # bursts before the scope explain top-ups in it (the same episodes when every event is in scope)
    context = episodes if frame["in_scope"].all() else _episodes(frame, window, scoped=False)
    extra, realloc, limits = _accountability(frame, context, baseline)
    findings += extra
    findings = sort_findings(findings)

    tables = _spend_tables(frame)
    tables["spikes"] = pl.DataFrame(
        [
            {
                "group_name": str(e.group),
                "start": e.start,
                "end": e.end,
                "spike": e.spike,
                "exhausted": e.exhausted,
                "spent": sum(r["amount"] for r in e.rows if r["spent"]),
                "peak_window_spend": max(
                    (r["window_spend"] or 0.0 for r in e.rows if r["spent"]), default=0.0
                ),
            }
            for e in episodes
        ],
        schema={
            "group_name": pl.String,
            "start": pl.Datetime("us", "UTC"),
            "end": pl.Datetime("us", "UTC"),
            "spike": pl.Boolean,
            "exhausted": pl.Boolean,
            "spent": pl.Float64,
            "peak_window_spend": pl.Float64,
        },
    )
    tables["reallocations"] = realloc
    tables["limit_updates"] = limits
    by_day, hourly = tables["spend_by_group_day"], tables["hourly_spend"]
    return InvestigationResult(
        name=NAME,
        title="Upload quota spending",
        parameters={
            "query": format_query(scope.query),
            "spike_window_minutes": spike_window_minutes,
            "spike_factor": spike_factor,
            "spike_min": spike_min,
            "baseline_days": baseline_days,
        },
        findings=findings,
        tables=tables,
        chart_builders={
            "spend_by_group": lambda: _by_day_chart(by_day),
            "hourly_spend": lambda: _hourly_chart(hourly, spike_min),
        },
    )


def _by_day_chart(by_day: pl.DataFrame) -> Any:
    import altair as alt

    return (
        alt.Chart(by_day)
        .mark_bar()
        .encode(
            x=alt.X("day:T", title="day (UTC)"),
            y=alt.Y("amount:Q", stack=True, title="quota spent"),
            color=alt.Color("group_name:N", title="group"),
            tooltip=["day:T", "group_name:N", "amount:Q", "events:Q"],
        )
        .properties(title="Upload quota spent per day and group", width=600)
    )


def _hourly_chart(hourly: pl.DataFrame, spike_min: float) -> Any:
    import altair as alt
    import polars as pl

    lines = (
        alt.Chart(hourly)
        .mark_line(strokeWidth=1)
        .encode(
            x=alt.X("hour:T", title="hour (UTC)"),
            y=alt.Y("amount:Q", title="quota spent in the hour"),
            color=alt.Color("group_name:N", title="group"),
            tooltip=["hour:T", "group_name:N", "amount:Q", "events:Q"],
        )
    )
    rule = (
        alt.Chart(pl.DataFrame({"spike_min": [spike_min]}))
        .mark_rule(strokeDash=[4, 4])
        .encode(y="spike_min:Q")
    )
    return (lines + rule).properties(
        title="Upload quota spent per hour and group (dashed: spike_min)", width=600
    )
