"""SSO changes: who changed single sign-on, session lifetime and policies, when, and what followed.

Reads ``organization.sso.*``, ``organization.session_lifetime.updated`` and the policy configuration
changes (``organization.policy_configuration.updated``, ``group.policy_configuration.updated``), plus
the successful logins (``user.login`` and ``user.sso.{saml,oidc}.login``) to tell password logins made
while SSO was in force.

The SSO state (which provider is applied, when it was disabled) is organisation-wide, so it is read
from every event before the end of the scope, whatever the scope's conditions and start; findings
and the timeline cover the events in the scope only.

Examples:
    >>> import auditlab
    >>> ws = auditlab.load("data/samples/portal_audit_export.zip")
    >>> result = sso_changes(ws)
    >>> [(f.severity, f.technique) for f in result.findings][:4]
    [('high', 'T1556'), ('medium', 'T1556'), ('medium', 'T1556'), ('low', None)]
    >>> result.findings[0].title
    'SSO disabled by xenia.ortiz@acme.example from 192.0.2.165 outside working hours; SAML re-applied by anna.xu@acme.example at 2026-10-28T08:46:08.823Z; 5 password logins meanwhile'
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from auditlab._time import iso_time
from auditlab.catalog import LOGIN_ACTIONS, actions_in_family
from auditlab.errors import QueryError
from auditlab.filters.text import format_query
from auditlab.investigations._common import Scope, fold_sql, known, run_sql, scope_of
from auditlab.investigations._result import Finding, InvestigationResult, finding_of_rows, sort_findings

if TYPE_CHECKING:
    import polars as pl

    from auditlab.filters.model import Query
    from auditlab.store.events import EventSet

__all__ = ["AUTH_ACTIONS", "POLICY_ACTIONS", "sso_changes"]

NAME = "sso_changes"

#: Changes to how users authenticate: the catalog's ``sso`` family (``organization.sso.*``, session lifetime).
AUTH_ACTIONS: tuple[str, ...] = actions_in_family("sso")
#: Policy configuration changes, listed in the timeline and checked for working hours.
POLICY_ACTIONS: tuple[str, ...] = tuple(
    a for a in actions_in_family("configuration") if "policy_configuration" in a
)
_PROVIDERS = ("saml", "oidc")
_DAY_NAMES = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


def _working_predicate(
    working_hours: tuple[int, int], working_days: Sequence[int]
) -> tuple[str, dict[str, object]]:
    """SQL over ``local_time`` that is true inside working hours, and its parameters."""
    start, end = working_hours
    if not (0 <= start <= 24 and 0 <= end <= 24) or start == end:
        raise QueryError(f"working_hours must be two different hours in 0..24, got {working_hours!r}")
    days = sorted({int(d) for d in working_days})
    if any(d < 0 or d > 6 for d in days):
        raise QueryError(
            f"working_days are weekday numbers 0 (Monday) .. 6 (Sunday), got {list(working_days)!r}"
        )
    joiner = "AND" if start < end else "OR"  # start > end: a shift that crosses midnight
    sql = f"(list_contains($work_days::INTEGER[], isodow(local_time) - 1) AND (hour(local_time) >= $work_start {joiner} hour(local_time) < $work_end))"
    return sql, {"work_days": days, "work_start": start, "work_end": end}


def _changes(scope: Scope, tz: str, working: str, working_params: dict[str, object]) -> pl.DataFrame:
    """Every auth/policy change before the scope end, flagged ``in_scope``, ``off_hours`` and ``applied_later``."""
    sql = f"""
    WITH applies AS MATERIALIZED (  -- the newest successful apply per provider and identity provider: a few rows
        SELECT regexp_extract(action, '^organization\\.sso\\.(saml|oidc)\\.', 1) AS provider,
               coalesce(details->>'issuer', details->>'idp_entity_id') AS idp, max(timestamp) AS last_ts
        FROM events
        WHERE action IN ('organization.sso.saml.setup.applied', 'organization.sso.oidc.setup.applied')
          AND outcome = 'success' AND ($end::TIMESTAMPTZ IS NULL OR timestamp < $end::TIMESTAMPTZ)
        GROUP BY ALL
    ),
    ap AS (
        SELECT provider, max(last_ts) AS any_ts, max(last_ts) FILTER (WHERE idp IS NULL) AS none_ts
        FROM applies GROUP BY provider
    ),
    c AS (
        SELECT event_id, timestamp, action, outcome, user_email, ip_address, auth_context,
               resource_name, group_name, error_message, details, {fold_sql("user_email")} AS user_key,
               coalesce(({scope.where_sql}), FALSE) AS in_scope,
               timezone($tz, timestamp) AS local_time,
               nullif(regexp_extract(action, '^organization\\.sso\\.(saml|oidc)\\.', 1), '') AS provider,
               CASE WHEN action = 'organization.sso.disabled' THEN 'disabled'
                    ELSE nullif(regexp_extract(action, '^organization\\.sso\\.(saml|oidc)\\.setup\\.(\\w+)$', 2), '')
               END AS state,
               coalesce(details->>'issuer', details->>'idp_entity_id') AS idp
        FROM events
        WHERE (list_contains($actions::VARCHAR[], action) OR action LIKE 'organization.sso.%')
          AND ($end::TIMESTAMPTZ IS NULL OR timestamp < $end::TIMESTAMPTZ)
    )
    SELECT event_id, timestamp, local_time, action, outcome, user_email, user_key, ip_address, auth_context,
           coalesce(group_name, resource_name) AS target, error_message,
           CASE WHEN json_type(details->'changes') = 'ARRAY'
                THEN array_to_string(list_transform(from_json(details->'changes', '["JSON"]'),
                     lambda ch: (ch->>'field') || ': ' || coalesce(ch->>'old', 'null') || ' -> ' || coalesce(ch->>'new', 'null')), '; ')
                ELSE CAST(details AS VARCHAR) END AS change,
           c.provider, state, c.idp, in_scope,
           list_contains($auth_actions::VARCHAR[], action) AS auth_change,
           NOT {working} AS off_hours,
           -- applied later: a successful apply of the same provider after it, for the same identity
           -- provider or where either side names none (the newest apply per key decides: set-based,
           -- not a correlated EXISTS per setup, which grew with the square of the SSO events; read
           -- from the applies alone, so the changes are read once and streamed)
           CASE WHEN state IN ('created', 'pending') AND outcome = 'success' THEN
               CASE WHEN c.idp IS NULL THEN coalesce(c.timestamp < ap.any_ts, FALSE)
                    ELSE coalesce(c.timestamp < ap.none_ts, FALSE) OR coalesce(c.timestamp < ap_idp.last_ts, FALSE)
               END END AS applied_later
    FROM c
    LEFT JOIN ap ON ap.provider = c.provider
    LEFT JOIN applies ap_idp ON ap_idp.provider = c.provider AND ap_idp.idp = c.idp
    ORDER BY timestamp DESC, event_id
    """  # noqa: S608 - only the compiled filter's placeholders are formatted in; values are bound
    args = {
        **scope.params, **working_params, "tz": tz, "actions": [*AUTH_ACTIONS, *POLICY_ACTIONS],
        "end": scope.bounds[1], "auth_actions": list(AUTH_ACTIONS),
    }  # fmt: skip
    try:
        frame = run_sql(scope.con, sql, args)
    except Exception as exc:  # duckdb raises NotImplementedException for an unknown time zone
        if "TimeZone" in str(exc):
            raise QueryError(f"unknown time zone {tz!r}") from exc
        raise
    return frame


def _password_logins(scope: Scope) -> pl.DataFrame:
    """Successful password logins in scope, per user, with the SSO providers in force at each login."""
    sql = f"""
    WITH providers(provider) AS (VALUES ('saml'), ('oidc')),
    st AS (
        SELECT e.timestamp, p.provider, e.action <> 'organization.sso.disabled' AS in_force
        FROM events e, providers p
        WHERE e.outcome = 'success'
          AND (e.action = 'organization.sso.disabled' OR e.action = 'organization.sso.' || p.provider || '.setup.applied')
          AND ($end::TIMESTAMPTZ IS NULL OR e.timestamp < $end::TIMESTAMPTZ)
    ),
    logins AS (
        SELECT event_id, timestamp, {fold_sql("coalesce(user_email, user_id)")} AS user_email, ip_address, action,
               coalesce(({scope.where_sql}), FALSE) AS in_scope
        FROM events
        WHERE list_contains($logins::VARCHAR[], action) AND outcome = 'success'
          AND ($end::TIMESTAMPTZ IS NULL OR timestamp < $end::TIMESTAMPTZ)
    ),
    usual AS (  -- the providers each account signs in with
        SELECT user_email, list_sort(list(DISTINCT regexp_extract(action, '^user\\.sso\\.(\\w+)\\.login$', 1))) AS sso_providers,
               count(*) AS sso_logins
        FROM logins WHERE action <> 'user.login' GROUP BY user_email
    ),
    pw AS (SELECT l.*, p.provider FROM logins l, providers p WHERE l.action = 'user.login' AND l.in_scope),
    pw_state AS (
        SELECT pw.event_id, pw.timestamp, pw.user_email, pw.ip_address, pw.provider, coalesce(st.in_force, FALSE) AS in_force
        FROM pw ASOF LEFT JOIN st ON pw.provider = st.provider AND pw.timestamp >= st.timestamp
    ),
    per_login AS (
        SELECT s.event_id, s.timestamp, s.user_email, s.ip_address,
               list(s.provider ORDER BY s.provider) FILTER (s.in_force) AS in_force,
               any_value(u.sso_providers) AS sso_providers, coalesce(any_value(u.sso_logins), 0) AS sso_logins
        FROM pw_state s LEFT JOIN usual u USING (user_email)
        GROUP BY s.event_id, s.timestamp, s.user_email, s.ip_address
    ),
    flagged AS (
        SELECT *, CASE WHEN sso_providers IS NULL THEN len(coalesce(in_force, [])) > 0
                       ELSE len(list_intersect(coalesce(in_force, []), sso_providers)) > 0 END AS while_sso
        FROM per_login
    )
    SELECT user_email, count(*) AS password_logins, count(*) FILTER (while_sso) AS while_sso_in_force,
           any_value(sso_logins) AS sso_logins, any_value(sso_providers) AS sso_providers,
           min(timestamp) AS first_seen, max(timestamp) AS last_seen,
           min(timestamp) FILTER (while_sso) AS first_while_sso, max(timestamp) FILTER (while_sso) AS last_while_sso,
           list(DISTINCT ip_address ORDER BY ip_address) FILTER (while_sso) AS ips_while_sso,
           list(event_id ORDER BY timestamp, event_id) FILTER (while_sso) AS event_ids
    FROM flagged GROUP BY user_email ORDER BY user_email
    """  # noqa: S608
    return run_sql(scope.con, sql, {**scope.params, "end": scope.bounds[1], "logins": list(LOGIN_ACTIONS)})


def _logins_by_day(scope: Scope) -> pl.DataFrame:
    sql = """
    SELECT date_trunc('day', timestamp) AS day,
           CASE action WHEN 'user.login' THEN 'password' ELSE regexp_extract(action, '^user\\.sso\\.(\\w+)\\.login$', 1) END AS method,
           count(*) AS logins
    FROM {scope} WHERE list_contains($logins::VARCHAR[], action) AND outcome = 'success'
    GROUP BY ALL ORDER BY day, method
    """
    return scope.sql(sql, {"logins": list(LOGIN_ACTIONS)})


def _logins_between(scope: Scope, spans: pl.DataFrame, end: datetime | None) -> list[int]:
    """Per row of ``spans`` (``timestamp``, ``reapplied_at``): the successful password logins after its
    ``timestamp`` and before ``reapplied_at`` (and the scope's end), read from every event.

    One statement for every row (not a count per finding): the logins' running count by time, looked
    up by two ASOF joins, at each span's start (logins up to it) and end (logins before it).
    """
    import polars as pl

    if spans.height == 0:
        return []
    name = f"{scope.table}_spans"
    frame = spans.select(
        pl.int_range(pl.len()).alias("i"), pl.col("timestamp").alias("t"), pl.col("reapplied_at").alias("u")
    )
    scope.con.register(name, frame.to_arrow())
    try:
        counts = run_sql(
            scope.con,
            f"""
            WITH l AS (
                SELECT timestamp, sum(count(*)) OVER (ORDER BY timestamp) AS n FROM events
                WHERE action = 'user.login' AND outcome = 'success'
                  AND ($end::TIMESTAMPTZ IS NULL OR timestamp < $end::TIMESTAMPTZ)
                GROUP BY timestamp
            ),
            s AS (SELECT i, t, CASE WHEN u IS NULL THEN $end::TIMESTAMPTZ WHEN $end::TIMESTAMPTZ IS NULL THEN u
                                    ELSE least(u, $end::TIMESTAMPTZ) END AS upper FROM {name})
            SELECT s.i, CASE WHEN s.upper IS NULL THEN (SELECT coalesce(max(n), 0) FROM l) ELSE coalesce(hi.n, 0) END
                        - coalesce(lo.n, 0) AS n
            FROM s ASOF LEFT JOIN l lo ON s.t >= lo.timestamp ASOF LEFT JOIN l hi ON s.upper > hi.timestamp
            ORDER BY s.i
            """,  # noqa: S608 - the table name is ours; values are parameters
            {"end": end},
        )
    finally:
        scope.con.unregister(name)
    return [int(n) for n in counts["n"].to_list()]


def _sso_state(changes: pl.DataFrame) -> pl.DataFrame:
    """Periods in which a provider was applied: from the ``applied`` event to the next ``disabled``."""
    import polars as pl

    ok = changes.filter(
        (pl.col("outcome") == "success") & pl.col("state").is_in(["applied", "disabled"])
    ).sort("timestamp", "event_id")
    applied = ok.filter(pl.col("state") == "applied").select(
        "provider", pl.col("timestamp").alias("applied_at"), pl.col("user_email").alias("applied_by")
    )
    disabled = ok.filter(pl.col("state") == "disabled").select(
        pl.col("timestamp").alias("disabled_at"), pl.col("user_email").alias("disabled_by")
    )
    return applied.join_asof(
        disabled, left_on="applied_at", right_on="disabled_at", strategy="forward", allow_exact_matches=False
    )


def _when(local: datetime, tz: str) -> str:
    return f"{_DAY_NAMES[local.weekday()]} {local:%Y-%m-%d %H:%M} {tz}"


def _finding(
    severity: str, technique: str | None, title: str, rows: list[dict[str, Any]], groups: bool = False
) -> Finding:
    entities: dict[str, list[str | None]] = {
        "user": [r["user_email"] for r in rows],
        "ip": [r["ip_address"] for r in rows],
    }
    if groups:
        entities["group"] = [r["target"] for r in rows if r["action"].startswith("group.")]
    return finding_of_rows(NAME, severity, technique, title, rows, entities)


def _finding_of_frame(
    severity: str, technique: str | None, title: str, frame: pl.DataFrame, groups: bool = False
) -> Finding:
    """:func:`_finding` of a frame's rows, read a column at a time (a group may hold many events)."""
    import polars as pl

    ordered = frame.sort("timestamp", "event_id", maintain_order=True)
    entities: dict[str, list[str | None]] = {
        "user": ordered["user_email"].unique().to_list(),
        "ip": ordered["ip_address"].unique().to_list(),
    }
    if groups:
        entities["group"] = (
            ordered.filter(pl.col("action").str.starts_with("group."))["target"].unique().to_list()
        )
    return Finding(
        NAME,
        severity,
        technique,
        title,
        {kind: sorted({v for v in values if v}) for kind, values in entities.items()},
        ordered["timestamp"][0],
        ordered["timestamp"][-1],
        ordered.height,
        tuple(ordered["event_id"].unique(maintain_order=True).to_list()),
    )


def sso_changes(
    ws: EventSet,
    *,
    query: Query | str | Scope | None = None,
    working_hours: tuple[int, int] = (8, 18),
    working_days: Sequence[int] = (0, 1, 2, 3, 4),
    timezone: str = "UTC",
) -> InvestigationResult:
    """Timeline of SSO, session-lifetime and policy changes, and the findings in it.

    Findings (one per episode, most severe first):

    - **SSO disabled** (high, T1556): ``organization.sso.disabled``; the title says who re-applied SSO
      and when, and how many password logins happened meanwhile.
    - **Setup never applied** (medium, T1556): a SAML/OIDC ``setup.created`` or ``setup.pending`` with no
      later successful ``setup.applied`` of the same provider (and the same issuer / IdP entity id when
      both carry one) before the end of the scope; one finding per provider.
    - **Authentication change outside working hours** (medium, T1556): any other successful SSO or
      session-lifetime change made outside ``working_hours`` on ``working_days`` in ``timezone``.
    - **Policy changes outside working hours** (low, no technique): successful policy configuration
      changes outside working hours, one finding per actor (admins do this now and then; worth a look,
      not an alarm).
    - **Password logins while SSO was in force**, one finding per account, never per login. *Low*
      (T1078) when the account signs in through an SSO provider (SAML/OIDC logins seen) and also
      with a password while that provider was applied: a bypass of the IdP and its MFA. *Info* when
      the account never signs in through SSO (contractors, break-glass accounts keep password logins
      when SSO is not enforced): a list to review, not an incident. Logins while SSO was disabled are
      not counted here (the SSO-disabled finding counts them).

    Args:
        ws: the workspace (or store).
        query: the scope (a :class:`Query` or its text form); default: all events ("all time").
        working_hours: local ``(start, end)`` hours, start inclusive, end exclusive; default 08:00-18:00,
            a common office day. ``start > end`` means a shift across midnight.
        working_days: weekday numbers, 0 = Monday; default Monday to Friday.
        timezone: an IANA time zone name for the working hours (DuckDB's ``timezone()``); default UTC.

    Returns:
        An :class:`InvestigationResult` with tables ``timeline`` (every change in scope, newest first),
        ``sso_state`` (when each provider was applied and next disabled), ``password_logins`` (per
        account) and ``logins_by_day``, and charts ``timeline`` and ``logins``.

    Raises:
        QueryError: bad working hours or days, an unknown time zone, or a bad query.

    Examples:
        >>> import auditlab
        >>> ws = auditlab.load("data/samples/portal_audit_export.zip")
        >>> r = sso_changes(ws, timezone="Europe/Berlin")
        >>> [f.title for f in r.findings if "session_lifetime" in f.title]
        ['organization.session_lifetime.updated by xenia.ortiz@acme.example from 192.0.2.165 outside working hours (Sun 2026-10-25 03:13 Europe/Berlin): session_lifetime: 720 -> 43200']
        >>> r.tables["timeline"].height, r.tables["sso_state"]["provider"].to_list()
        (61, ['oidc', 'saml', 'saml'])
    """
    import polars as pl

    working, working_params = _working_predicate(working_hours, working_days)
    scope, owned = scope_of(ws, query)
    try:
        changes = _changes(scope, timezone, working, working_params)
        logins = _password_logins(scope)
        by_day = _logins_by_day(scope)
    finally:
        if owned:
            scope.close()
    end = scope.bounds[1]
    state = _sso_state(changes)
    # the subsets below are filtered from ``changes`` each (not from filtered copies of it: at scale the
    # changes are most of the memory); when every change is in scope the timeline is ``changes`` itself
    in_scope = changes if changes["in_scope"].all() else changes.filter(pl.col("in_scope"))
    ok = pl.col("in_scope") & (pl.col("outcome") == "success")

    findings: list[Finding] = []

    # SSO disabled: what came next (re-applied? password logins meanwhile?)
    applied = changes.filter((pl.col("state") == "applied") & (pl.col("outcome") == "success")).sort(
        "timestamp"
    )
    disabled = (
        changes.filter(ok & (pl.col("state") == "disabled"))
        .sort("timestamp", "event_id")
        .join_asof(
            applied.select(
                pl.col("timestamp").alias("reapplied_at"),
                pl.col("user_email").alias("reapplied_by"),
                pl.col("provider").alias("reapplied_provider"),
            ),
            left_on="timestamp",
            right_on="reapplied_at",
            strategy="forward",
            allow_exact_matches=False,
        )
    )
    meanwhile = _logins_between(scope, disabled, end)
    for row, n_meanwhile in zip(disabled.iter_rows(named=True), meanwhile, strict=True):
        until = row["reapplied_at"]
        after = (
            f"{row['reapplied_provider'].upper()} re-applied by {known(row['reapplied_by'], 'user')} at {iso_time(until)}"
            if until is not None
            else "not re-applied by the end of the scope"
        )
        title = (
            f"SSO disabled by {known(row['user_email'], 'user')} from {known(row['ip_address'], 'address')}"
            f"{' outside working hours' if row['off_hours'] else ''}; {after}; {n_meanwhile} password logins meanwhile"
        )
        findings.append(_finding("high", "T1556", title, [row]))

    # setups created (or pending) and never applied, per provider
    unapplied = changes.filter(ok & (pl.col("applied_later") == False))  # noqa: E712 - null means "not a setup"
    for (provider,), part in sorted(unapplied.group_by(["provider"]), key=lambda kv: str(kv[0][0])):
        idps = sorted({i for i in part["idp"].unique().to_list() if i})
        actors = ", ".join(
            sorted(
                {
                    f"{known(user, 'user')} from {known(ip, 'address')}"
                    for user, ip in part.select("user_email", "ip_address").unique().iter_rows()
                }
            )
        )
        steps = " and ".join(sorted(part["state"].unique().to_list()))
        off = " (outside working hours)" if part["off_hours"].any() else ""
        title = (
            f"{str(provider).upper()} setup {steps} by {actors}{off}"
            f"{' (' + ', '.join(idps) + ')' if idps else ''} never applied"
        )
        findings.append(_finding_of_frame("medium", "T1556", title, part))
    used = pl.concat([disabled["event_id"], unapplied["event_id"]])

    # other authentication changes outside working hours, one per change
    for row in (
        changes.filter(
            ok & pl.col("auth_change") & pl.col("off_hours") & ~pl.col("event_id").is_in(used.implode())
        )
        .sort("timestamp", "event_id")
        .iter_rows(named=True)
    ):
        title = (
            f"{row['action']} by {known(row['user_email'], 'user')} from {known(row['ip_address'], 'address')} outside working hours "
            f"({_when(row['local_time'], timezone)}){': ' + row['change'] if row['change'] else ''}"
        )
        findings.append(_finding("medium", "T1556", title, [row]))

    # policy configuration changes outside working hours, one per actor
    policy = changes.filter(ok & ~pl.col("auth_change") & pl.col("off_hours"))
    for (user,), part in sorted(policy.group_by(["user_key"]), key=lambda kv: str(kv[0][0])):
        n = part.height
        title = (
            f"{n} policy configuration change{'s' * (n != 1)} outside working hours by {known(user, 'user')}"
        )
        findings.append(_finding_of_frame("low", None, title, part, groups=True))

    # password logins while SSO was in force, one per account
    for row in logins.filter(pl.col("while_sso_in_force") > 0).iter_rows(named=True):
        n = row["while_sso_in_force"]
        if row["sso_providers"]:
            names = "/".join(p.upper() for p in row["sso_providers"])
            sev, tech, why = "low", "T1078", f"while {names} was in force (the account signs in with {names})"
        else:
            sev, tech, why = "info", None, "while SSO was in force (the account never signed in with SSO)"
        title = f"{known(row['user_email'], 'user')} signed in with a password {n} time{'s' * (n != 1)} {why}"
        findings.append(
            Finding(
                NAME,
                sev,
                tech,
                title,
                {"user": [row["user_email"]], "ip": row["ips_while_sso"]},
                row["first_while_sso"],
                row["last_while_sso"],
                n,
                tuple(row["event_ids"]),
            )
        )

    findings = sort_findings(findings)
    timeline = in_scope.select(
        "timestamp",
        "local_time",
        "action",
        "outcome",
        "user_email",
        "ip_address",
        "auth_context",
        "target",
        "change",
        "error_message",
        "off_hours",
        "event_id",
    )
    return InvestigationResult(
        name=NAME,
        title="SSO and authentication changes",
        parameters={
            "query": format_query(scope.query),
            "working_hours": list(working_hours),
            "working_days": sorted(set(working_days)),
            "timezone": timezone,
        },
        findings=findings,
        tables={
            "timeline": timeline,
            "sso_state": state,
            "password_logins": logins.drop("event_ids"),
            "logins_by_day": by_day,
        },
        chart_builders={
            "timeline": lambda: _timeline_chart(timeline),
            "logins": lambda: _logins_chart(by_day),
        },
    )


def _timeline_chart(timeline: pl.DataFrame) -> Any:
    import altair as alt

    data = timeline.select(
        "timestamp", "action", "outcome", "user_email", "ip_address", "change", "off_hours"
    )
    return (
        alt.Chart(data)
        .mark_point(filled=True, size=60)
        .encode(
            x=alt.X("timestamp:T", title="time (UTC)"),
            y=alt.Y("action:N", title=None),
            color=alt.Color("off_hours:N", title="outside working hours"),
            shape=alt.Shape("outcome:N"),
            tooltip=["timestamp:T", "action:N", "outcome:N", "user_email:N", "ip_address:N", "change:N"],
        )
        .properties(title="SSO, session and policy changes", width=600)
    )


def _logins_chart(by_day: pl.DataFrame) -> Any:
    import altair as alt

    return (
        alt.Chart(by_day)
        .mark_bar()
        .encode(
            x=alt.X("day:T", title="day (UTC)"),
            y=alt.Y("logins:Q", stack=True),
            color=alt.Color("method:N", title="login method"),
            tooltip=["day:T", "method:N", "logins:Q"],
        )
        .properties(title="Successful logins per day by method", width=600)
    )
