"""Failed logins: brute force, password spraying, success after failures, logins from new addresses.

Reads the login events (``user.login``, ``user.sso.saml.login``, ``user.sso.oidc.login``) and the
password reset events of a scope. All window logic runs in DuckDB over sliding windows
(``RANGE BETWEEN <window> PRECEDING AND CURRENT ROW``, both ends inclusive), never clock buckets;
overlapping windows of one user (or address) merge into one finding.

Examples:
    >>> import auditlab
    >>> ws = auditlab.load("data/samples/portal_audit_export.zip")
    >>> r = failed_logins(ws)
    >>> [(f.severity, f.technique) for f in r.findings]
    [('critical', 'T1078'), ('high', 'T1110.001'), ('high', 'T1110.003')]
    >>> r.tables["failure_reasons"].row(0)[:2]
    ('Invalid credentials', 52)
"""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING

from auditlab.investigations._common import (
    as_count,
    as_window,
    micros,
    name_list,
    scope_of,
    sliding_episodes,
    sort_findings,
)
from auditlab.investigations._result import Finding, InvestigationResult

if TYPE_CHECKING:  # pragma: no cover
    from datetime import datetime

    import altair as alt
    import duckdb
    import polars as pl

    from auditlab.filters.model import Query
    from auditlab.store.events import EventSet

__all__ = ["LOGIN_ACTIONS", "RESET_ACTIONS", "failed_logins"]

NAME = "failed_logins"

#: The actions that authenticate a user; their failures are the failed logins.
LOGIN_ACTIONS: tuple[str, ...] = ("user.login", "user.sso.saml.login", "user.sso.oidc.login")
#: Password reset events: listed beside the failures (a reset often follows a brute force).
RESET_ACTIONS: tuple[str, ...] = ("user.password_reset_initiated", "user.password_reset_completed")


def _span(first: datetime, last: datetime) -> str:
    minutes = round((last - first).total_seconds() / 60)
    return f"{minutes} min" if minutes < 120 else f"{minutes / 60:.1f} h"


def failed_logins(
    ws: EventSet,
    *,
    query: Query | str | None = None,
    brute_force_failures: int = 5,
    brute_force_window: timedelta | str = timedelta(minutes=15),
    spray_users: int = 10,
    spray_window: timedelta | str = timedelta(minutes=5),
    success_after_failures: int = 3,
    success_window: timedelta | str = timedelta(minutes=60),
    learning_days: int = 7,
) -> InvestigationResult:
    """Find brute force, password spraying, success after failures and logins from new addresses.

    Detections (each a :class:`Finding`; overlapping windows of one entity are one finding):

    - **brute force** (T1110.001, high): at least ``brute_force_failures`` failed logins for one
      user within ``brute_force_window``, from any addresses.
    - **password spraying** (T1110.003, high): at least ``spray_users`` distinct users failing to
      log in from one address within ``spray_window``.
    - **success after failures** (T1078): a successful login preceded by at least
      ``success_after_failures`` failures of the same user since that user's previous successful
      login and within ``success_window`` before it; critical when the success comes from an
      address new for the user (see below), else medium.
    - **new address** (T1078, low): a successful login from an address the user never logged in
      from before, once the user has ``learning_days`` of login history (counted from the user's
      first successful login in scope). Only successful logins build the history and are flagged:
      a failed attempt proves no access, and failures are what the detections above count. A new
      address that is also the success after failures is reported once, in that finding.

    Failures are events of :data:`LOGIN_ACTIONS` with outcome ``failure``; the failing account is
    the event's ``user_email``. Password resets (:data:`RESET_ACTIONS`) are listed, not scored.

    Args:
        ws: the workspace or store.
        query: which events to read (a :class:`~auditlab.Query` or its text form, with the Portal
            semantics: a text without a time clause means the last 24 h); default ``None``: all events.
        brute_force_failures: default 5: five failures in 15 minutes is the common account
            lockout policy (e.g. CIS and Microsoft baselines lock after 5 to 10 attempts).
        brute_force_window: default 15 minutes, the usual lockout observation window.
        spray_users: default 10 distinct users: a person mistyping touches one account, a shared
            NAT a few; ten accounts from one address in minutes is a spray.
        spray_window: default 5 minutes: sprays are fast, one try per account.
        success_after_failures: default 3 failures in a row: people rarely mistype three times in
            a row, while a slow guesser stays under the lockout rate on purpose (3 per 15 minutes).
        success_window: default 60 minutes, long enough for a slow guesser, short enough that
            yesterday's typos do not count.
        learning_days: default 7: a week of history covers most people's usual addresses
            (office, home, weekly travel) before a new one is worth a look.

    Returns:
        An :class:`InvestigationResult` named ``failed_logins``. Tables: ``failure_reasons``
        (error_message, count, users, ips), ``failures_by_user``, ``failures_by_ip``,
        ``password_resets``, ``user_addresses`` (one row per user and address with ``new``),
        ``failures_timeline`` (failures per hour, or per day beyond 31 days, by action).
        Chart: ``failures_timeline``.

    Raises:
        QueryError: a bad query or threshold.

    Examples:
        >>> import auditlab
        >>> ws = auditlab.load("data/samples/portal_audit_export.zip")
        >>> r = failed_logins(ws)
        >>> [f.technique for f in r.findings]
        ['T1078', 'T1110.001', 'T1110.003']
        >>> r.findings[1].title
        'Brute force against ext.zoe.bauer@acme.example: 14 failed logins in 8 min from 203.0.113.45'
        >>> len(failed_logins(ws, spray_users=19).findings)
        2
    """
    bf_n = as_count(brute_force_failures, "brute_force_failures")
    bf_w = as_window(brute_force_window, "brute_force_window")
    sp_n = as_count(spray_users, "spray_users")
    sp_w = as_window(spray_window, "spray_window")
    saf_n = as_count(success_after_failures, "success_after_failures")
    saf_w = as_window(success_window, "success_window")
    learn = learning_days if learning_days == 0 else as_count(learning_days, "learning_days")

    scope = scope_of(ws, query)
    where, params = scope.where()
    con = scope.con
    marks = ", ".join("?" for _ in LOGIN_ACTIONS)
    logins_sql = (
        "SELECT event_id, timestamp, action, outcome, user_email, ip_address, error_message "  # noqa: S608
        f"FROM events WHERE ({where}) AND action IN ({marks})"
    )
    logins_params: list[object] = [*params, *LOGIN_ACTIONS]
    fail_sql = f"SELECT * FROM ({logins_sql}) WHERE outcome = 'failure'"  # noqa: S608

    brute = sliding_episodes(
        con, fail_sql, logins_params, key="user_email", measure="count(*)", threshold=bf_n, window=bf_w
    )
    spray = sliding_episodes(
        con, fail_sql, logins_params, key="ip_address", measure="count(DISTINCT user_email)",
        threshold=sp_n, window=sp_w,
    )  # fmt: skip
    addresses = _user_addresses(con, logins_sql, logins_params, learning_days=learn)
    after = _success_after_failures(con, logins_sql, logins_params, threshold=saf_n, window=saf_w)

    findings: list[Finding] = []
    for row in brute.iter_rows(named=True):
        findings.append(Finding(
            NAME, "high", "T1110.001",
            f"Brute force against {row['key']}: {row['count']} failed logins in "
            f"{_span(row['first_seen'], row['last_seen'])} from {name_list(row['ips'])}",
            {"user": [row["key"]], "ip": row["ips"]},
            row["first_seen"], row["last_seen"], row["count"], tuple(row["event_ids"]),
        ))  # fmt: skip
    for row in spray.iter_rows(named=True):
        findings.append(Finding(
            NAME, "high", "T1110.003",
            f"Password spray from {row['key']}: {len(row['users'])} users failed in "
            f"{_span(row['first_seen'], row['last_seen'])} ({name_list(row['users'])})",
            {"ip": [row["key"]], "user": row["users"]},
            row["first_seen"], row["last_seen"], row["count"], tuple(row["event_ids"]),
        ))  # fmt: skip
    new = addresses.filter(addresses["new"])
    new_first_ids = set(new["first_event_id"].to_list())
    folded: set[str] = set()
    for row in after.iter_rows(named=True):
        is_new = row["success_id"] in new_first_ids
        if is_new:
            folded.add(row["success_id"])
        ips = sorted({*row["failure_ips"], row["success_ip"]} - {None})
        where_from = f"new address {row['success_ip']}" if is_new else f"{row['success_ip']}"
        findings.append(Finding(
            NAME, "critical" if is_new else "medium", "T1078",
            f"{row['user_email']} logged in from {where_from} after {row['failures']} failed logins "
            f"in {_span(row['first_failure'], row['success_at'])}",
            {"user": [row["user_email"]], "ip": ips},
            row["first_failure"], row["success_at"], row["failures"] + 1,
            (*row["failure_ids"], row["success_id"]),
        ))  # fmt: skip
    for row in new.iter_rows(named=True):
        if row["first_event_id"] in folded:
            continue
        findings.append(Finding(
            NAME, "low", "T1078",
            f"{row['user_email']} logged in from a new address {row['ip_address']}",
            {"user": [row["user_email"]], "ip": [row["ip_address"]]},
            row["first_seen"], row["first_seen"], 1, (row["first_event_id"],),
        ))  # fmt: skip

    tables = _tables(con, logins_sql, logins_params, where, params, bf_w=bf_w, sp_w=sp_w)
    tables["user_addresses"] = addresses
    timeline = tables["failures_timeline"]
    return InvestigationResult(
        name=NAME,
        title="Failed logins",
        parameters={
            "query": scope.query.to_text(),
            "brute_force_failures": bf_n,
            "brute_force_window": bf_w,
            "spray_users": sp_n,
            "spray_window": sp_w,
            "success_after_failures": saf_n,
            "success_window": saf_w,
            "learning_days": learn,
        },
        findings=sort_findings(findings),
        tables=tables,
        chart_builders={"failures_timeline": lambda: _timeline_chart(timeline)},
    )


def _success_after_failures(
    con: duckdb.DuckDBPyConnection,
    logins_sql: str,
    params: list[object],
    *,
    threshold: int,
    window: timedelta,
) -> pl.DataFrame:
    """Successes preceded by >= ``threshold`` failures since the user's previous success, within ``window``."""
    sql = f"""
    WITH src AS (SELECT * FROM ({logins_sql}) WHERE user_email IS NOT NULL AND outcome IN ('success', 'failure')),
    runs AS (
        SELECT *, coalesce(sum(CASE WHEN outcome = 'success' THEN 1 ELSE 0 END) OVER (
                   PARTITION BY user_email ORDER BY timestamp, event_id
                   ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING), 0) AS run
        FROM src
    ),
    scored AS (
        SELECT *, sum(CASE WHEN outcome = 'failure' THEN 1 ELSE 0 END) OVER (
                   PARTITION BY user_email, run ORDER BY timestamp
                   RANGE BETWEEN to_microseconds(?) PRECEDING AND CURRENT ROW) AS n
        FROM runs
    ),
    hits AS (SELECT * FROM scored WHERE outcome = 'success' AND n >= ?)
    SELECT h.user_email, h.event_id AS success_id, h.timestamp AS success_at, h.ip_address AS success_ip,
           h.action AS success_action, count(*) AS failures,
           min(f.timestamp) AS first_failure, max(f.timestamp) AS last_failure,
           list(f.event_id ORDER BY f.timestamp, f.event_id) AS failure_ids,
           list_sort(list_distinct(list(f.ip_address))) AS failure_ips
    FROM hits h JOIN runs f
      ON f.user_email = h.user_email AND f.run = h.run AND f.outcome = 'failure'
     AND f.timestamp BETWEEN h.timestamp - to_microseconds(?) AND h.timestamp
    GROUP BY ALL
    ORDER BY success_at, success_id
    """  # noqa: S608
    us = micros(window)
    frame: pl.DataFrame = con.sql(sql, params=[*params, us, threshold, us]).pl()
    return frame


def _user_addresses(
    con: duckdb.DuckDBPyConnection, logins_sql: str, params: list[object], *, learning_days: int
) -> pl.DataFrame:
    """One row per user and address of successful logins; ``new``: first used after the learning period."""
    sql = f"""
    WITH ok AS (SELECT * FROM ({logins_sql})
                WHERE outcome = 'success' AND user_email IS NOT NULL AND ip_address IS NOT NULL),
    users AS (SELECT user_email, min(timestamp) AS user_first, min(timestamp) + to_days(CAST(? AS INTEGER)) AS learned_at
              FROM ok GROUP BY 1),
    pairs AS (
        SELECT user_email, ip_address, count(*) AS logins, min(timestamp) AS first_seen, max(timestamp) AS last_seen,
               list(event_id ORDER BY timestamp, event_id)[1] AS first_event_id
        FROM ok GROUP BY 1, 2
    )
    SELECT p.user_email, p.ip_address, p.logins, p.first_seen, p.last_seen, p.first_event_id, u.learned_at,
           p.first_seen > u.user_first AND p.first_seen >= u.learned_at AS new
    FROM pairs p JOIN users u USING (user_email)
    ORDER BY p.user_email, p.first_seen, p.ip_address
    """  # noqa: S608
    frame: pl.DataFrame = con.sql(sql, params=[*params, learning_days]).pl()
    return frame


def _tables(
    con: duckdb.DuckDBPyConnection,
    logins_sql: str,
    params: list[object],
    where: str,
    where_params: list[object],
    *,
    bf_w: timedelta,
    sp_w: timedelta,
) -> dict[str, pl.DataFrame]:
    fails = f"SELECT * FROM ({logins_sql}) WHERE outcome = 'failure'"  # noqa: S608
    reasons = con.sql(
        f"""SELECT coalesce(error_message, '(none)') AS error_message, count(*) AS count,
                   count(DISTINCT user_email) AS users, count(DISTINCT ip_address) AS ips,
                   list_sort(list_distinct(list(action))) AS actions
            FROM ({fails}) GROUP BY 1 ORDER BY count DESC, error_message""",  # noqa: S608
        params=params,
    ).pl()
    by_user = con.sql(
        f"""WITH src AS ({logins_sql}),
            w AS (SELECT user_email, count(*) OVER (PARTITION BY user_email ORDER BY timestamp
                    RANGE BETWEEN to_microseconds(?) PRECEDING AND CURRENT ROW) AS n
                  FROM src WHERE outcome = 'failure')
            SELECT s.user_email, count(*) FILTER (WHERE outcome = 'failure') AS failures,
                   count(*) FILTER (WHERE outcome = 'success') AS successes,
                   count(DISTINCT ip_address) FILTER (WHERE outcome = 'failure') AS failure_ips,
                   min(timestamp) FILTER (WHERE outcome = 'failure') AS first_failure,
                   max(timestamp) FILTER (WHERE outcome = 'failure') AS last_failure,
                   (SELECT max(n) FROM w WHERE w.user_email = s.user_email) AS peak_in_window
            FROM src s WHERE s.user_email IS NOT NULL GROUP BY 1 HAVING failures > 0
            ORDER BY failures DESC, user_email""",  # noqa: S608
        params=[*params, micros(bf_w)],
    ).pl()
    by_ip = con.sql(
        f"""WITH src AS ({logins_sql}),
            w AS (SELECT ip_address, count(DISTINCT user_email) OVER (PARTITION BY ip_address ORDER BY timestamp
                    RANGE BETWEEN to_microseconds(?) PRECEDING AND CURRENT ROW) AS n
                  FROM src WHERE outcome = 'failure')
            SELECT s.ip_address, count(*) FILTER (WHERE outcome = 'failure') AS failures,
                   count(DISTINCT user_email) FILTER (WHERE outcome = 'failure') AS users,
                   count(*) FILTER (WHERE outcome = 'success') AS successes,
                   min(timestamp) FILTER (WHERE outcome = 'failure') AS first_failure,
                   max(timestamp) FILTER (WHERE outcome = 'failure') AS last_failure,
                   (SELECT max(n) FROM w WHERE w.ip_address = s.ip_address) AS peak_users_in_window
            FROM src s WHERE s.ip_address IS NOT NULL GROUP BY 1 HAVING failures > 0
            ORDER BY failures DESC, ip_address""",  # noqa: S608
        params=[*params, micros(sp_w)],
    ).pl()
    marks = ", ".join("?" for _ in RESET_ACTIONS)
    resets = con.sql(
        f"""SELECT timestamp, action, outcome, user_email, ip_address, error_message, event_id
            FROM events WHERE ({where}) AND action IN ({marks})
            ORDER BY timestamp, event_id""",  # noqa: S608
        params=[*where_params, *RESET_ACTIONS],
    ).pl()
    ((span,),) = con.sql(f"SELECT max(timestamp) - min(timestamp) FROM ({fails})", params=params).fetchall()  # noqa: S608
    bucket = 24 if span is not None and span > timedelta(days=31) else 1
    timeline = con.sql(
        f"""SELECT time_bucket(to_hours(CAST(? AS INTEGER)), timestamp, 'UTC') AS bucket, action, count(*) AS count
            FROM ({fails}) GROUP BY 1, 2 ORDER BY 1, 2""",  # noqa: S608
        params=[bucket, *params],
    ).pl()
    return {
        "failure_reasons": reasons,
        "failures_by_user": by_user,
        "failures_by_ip": by_ip,
        "password_resets": resets,
        "failures_timeline": timeline,
    }


def _timeline_chart(frame: pl.DataFrame) -> alt.Chart:
    from auditlab.charts import timeline_chart

    return timeline_chart(frame, color="action", title="Failed logins over time (UTC)")
