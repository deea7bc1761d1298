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

import dataclasses
from datetime import timedelta
from typing import TYPE_CHECKING

from auditlab.catalog import LOGIN_ACTIONS
from auditlab.investigations._common import Scope, as_count, as_window, micros, scope_of
from auditlab.investigations._result import InvestigationResult, sort_findings
from auditlab.investigations.detection import episodes, finding_of_episode, rows_of
from auditlab.investigations.detections import (
    BRUTE_FORCE,
    NEW_ADDRESS,
    PASSWORD_SPRAY,
    SUCCESS_AFTER_FAILURES,
)

if TYPE_CHECKING:  # pragma: no cover
    import altair as alt
    import polars as pl

    from auditlab.filters.model import Query
    from auditlab.store.events import EventSet

__all__ = ["LOGIN_ACTIONS", "RESET_ACTIONS", "failed_logins"]

NAME = "failed_logins"

#: Password reset events: listed beside the failures (a reset often follows a brute force).
RESET_ACTIONS: tuple[str, ...] = ("user.password_reset_initiated", "user.password_reset_completed")
#: The title of a success after failures that is also the user's first login from an address.
_FROM_NEW = "{key} logged in from new address {then_ip} after {steps} failed logins in {span}"


def failed_logins(
    ws: EventSet,
    *,
    query: Query | str | Scope | None = None,
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
            rule of :mod:`auditlab.investigations._common`: without a time clause, all events); default ``None``: all events.
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
    brute = dataclasses.replace(BRUTE_FORCE, threshold=bf_n, window=bf_w)
    spray = dataclasses.replace(PASSWORD_SPRAY, threshold=sp_n, window=sp_w)
    after = dataclasses.replace(SUCCESS_AFTER_FAILURES, threshold=saf_n, window=saf_w)
    new_address = dataclasses.replace(NEW_ADDRESS, learning=timedelta(days=learn))

    whole, owned = scope_of(ws, query)
    try:  # every statement reads the login and reset events: one scan of the store, then a small table
        with whole.narrow(
            "list_contains($read_actions::VARCHAR[], action)",
            {"read_actions": [*LOGIN_ACTIONS, *RESET_ACTIONS]},
            columns=_COLUMNS,
        ) as scope:
            hits = [(d, episodes(d, scope)) for d in (brute, spray)]
            new = episodes(new_address, scope)
            sequences = episodes(after, scope)
            new_first_ids = set(new["event_ids"].list.first().to_list()) if new.height else set()
            tables = _tables(scope, bf_w=bf_w, sp_w=sp_w, learn=learn, new_ids=new_first_ids)
    finally:
        if owned:
            whole.close()
    findings = [finding_of_episode(d, row) for d, frame in hits for row in rows_of(frame)]
    new_ids = {row["event_ids"][0]: row for row in rows_of(new)}
    from_new = dataclasses.replace(after, title=_FROM_NEW, severity="critical")
    for row in rows_of(sequences):
        # also the user's first login from there: one critical finding
        findings.append(finding_of_episode(from_new if new_ids.pop(row["then_id"], None) else after, row))
    findings += [finding_of_episode(new_address, row) for row in new_ids.values()]
    timeline = tables["failures_timeline"]
    return InvestigationResult(
        name=NAME,
        title="Failed logins",
        parameters={
            "query": whole.query.to_text(),
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


#: The columns the detections and tables read (the narrowed scope keeps only these).
_COLUMNS = ("event_id", "timestamp", "action", "outcome", "user_email", "ip_address", "error_message",
            "user_key", "ip_key")  # fmt: skip
_LOGINS_SQL = "SELECT * FROM {scope} WHERE list_contains($logins::VARCHAR[], action)"
_FAILS_SQL = f"SELECT * FROM ({_LOGINS_SQL}) WHERE outcome = 'failure'"  # noqa: S608


def _tables(
    scope: Scope, *, bf_w: timedelta, sp_w: timedelta, learn: int, new_ids: set[str]
) -> dict[str, pl.DataFrame]:
    """The supporting tables, over the scope table (users and addresses compared by their keys)."""
    params: dict[str, object] = {
        "logins": list(LOGIN_ACTIONS), "resets": list(RESET_ACTIONS), "bf_us": micros(bf_w),
        "sp_us": micros(sp_w), "new_ids": sorted(new_ids), "learn": learn,
    }  # fmt: skip
    reasons = scope.sql(
        f"""SELECT coalesce(error_message, '(none)') AS error_message, count(*) AS count,
                   count(DISTINCT user_key) AS users, count(DISTINCT ip_key) AS ips,
                   list_sort(list_distinct(list(action))) AS actions
            FROM ({_FAILS_SQL}) GROUP BY 1 ORDER BY count DESC, error_message""",  # noqa: S608
        params,
    )
    by_user = scope.sql(
        f"""WITH src AS ({_LOGINS_SQL}),
            w AS (SELECT user_key, count(*) OVER (PARTITION BY user_key ORDER BY timestamp
                    RANGE BETWEEN to_microseconds($bf_us) PRECEDING AND CURRENT ROW) AS n
                  FROM src WHERE outcome = 'failure')
            SELECT s.user_key AS user_email, count(*) FILTER (WHERE outcome = 'failure') AS failures,
                   count(*) FILTER (WHERE outcome = 'success') AS successes,
                   count(DISTINCT ip_key) FILTER (WHERE outcome = 'failure') AS failure_ips,
                   min(timestamp) FILTER (WHERE outcome = 'failure') AS first_failure,
                   max(timestamp) FILTER (WHERE outcome = 'failure') AS last_failure,
                   (SELECT max(n) FROM w WHERE w.user_key = s.user_key) AS peak_in_window
            FROM src s WHERE s.user_key IS NOT NULL GROUP BY 1 HAVING failures > 0
            ORDER BY failures DESC, user_email""",  # noqa: S608
        params,
    )
    by_ip = scope.sql(
        f"""WITH src AS ({_LOGINS_SQL}),
            w AS (SELECT ip_key, count(DISTINCT user_key) OVER (PARTITION BY ip_key ORDER BY timestamp
                    RANGE BETWEEN to_microseconds($sp_us) PRECEDING AND CURRENT ROW) AS n
                  FROM src WHERE outcome = 'failure')
            SELECT s.ip_key AS ip_address, count(*) FILTER (WHERE outcome = 'failure') AS failures,
                   count(DISTINCT user_key) FILTER (WHERE outcome = 'failure') AS users,
                   count(*) FILTER (WHERE outcome = 'success') AS successes,
                   min(timestamp) FILTER (WHERE outcome = 'failure') AS first_failure,
                   max(timestamp) FILTER (WHERE outcome = 'failure') AS last_failure,
                   (SELECT max(n) FROM w WHERE w.ip_key = s.ip_key) AS peak_users_in_window
            FROM src s WHERE s.ip_key IS NOT NULL GROUP BY 1 HAVING failures > 0
            ORDER BY failures DESC, ip_address""",  # noqa: S608
        params,
    )
    resets = scope.sql(
        """SELECT timestamp, action, outcome, user_email, ip_address, error_message, event_id
           FROM {scope} WHERE list_contains($resets::VARCHAR[], action) ORDER BY timestamp, event_id""",
        params,
    )
    addresses = scope.sql(
        f"""SELECT user_key AS user_email, ip_key AS ip_address, count(*) AS logins, min(timestamp) AS first_seen,
                   max(timestamp) AS last_seen, first(event_id ORDER BY timestamp, event_id) AS first_event_id,
                   min(min(timestamp)) OVER (PARTITION BY user_key) + to_days(CAST($learn AS INTEGER)) AS learned_at,
                   first_event_id IN (SELECT unnest($new_ids::VARCHAR[])) AS new
            FROM ({_LOGINS_SQL}) WHERE outcome = 'success' AND user_key IS NOT NULL AND ip_key IS NOT NULL
            GROUP BY 1, 2 ORDER BY user_email, first_seen, ip_address""",  # noqa: S608
        params,
    )
    ((span,),) = scope.rows(f"SELECT max(timestamp) - min(timestamp) FROM ({_FAILS_SQL})", params)  # noqa: S608
    params["bucket_h"] = 24 if span is not None and span > timedelta(days=31) else 1
    timeline = scope.sql(
        f"""SELECT time_bucket(to_hours(CAST($bucket_h AS INTEGER)), timestamp, 'UTC') AS bucket, action, count(*) AS count
            FROM ({_FAILS_SQL}) GROUP BY 1, 2 ORDER BY 1, 2""",  # noqa: S608
        params,
    )
    return {
        "failure_reasons": reasons,
        "failures_by_user": by_user,
        "failures_by_ip": by_ip,
        "password_resets": resets,
        "user_addresses": addresses,
        "failures_timeline": timeline,
    }


def _timeline_chart(frame: pl.DataFrame) -> alt.Chart:
    from auditlab.charts import timeline_chart

    return timeline_chart(frame, color="action", title="Failed logins over time (UTC)")
