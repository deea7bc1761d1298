"""PAT revocations: token lifecycles, revocation bursts, revocations by others, API use after revocation.

Reads ``user.pat.created``, ``user.pat.revoked``, ``user.pat.all_revoked`` and
``organization.pat.all_revoked`` (their ``details``: ``token_id``, ``token_name``, ``expires_at``,
``owner_email``, ``token_ids``, ``revoked_count``, ``affected_users``) and the API events of a scope.
All logic runs in DuckDB: sliding windows for bursts, an ``ASOF JOIN`` to find, for each API event,
the last token event of its user.

Examples:
    >>> import auditlab
    >>> ws = auditlab.load("data/samples/portal_audit_export.zip")
    >>> r = pat_revocations(ws)
    >>> [(f.severity, f.technique) for f in r.findings]
    [('high', 'T1531'), ('high', 'T1550.001')]
    >>> r.tables["token_lifecycles"].height
    48
"""

from __future__ import annotations

import dataclasses
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from auditlab.catalog import API
from auditlab.investigations._common import Scope, as_count, as_window, fold_sql, name_list, scope_of
from auditlab.investigations._result import Finding, InvestigationResult, sort_findings
from auditlab.investigations.detection import episodes
from auditlab.investigations.detections import REVOCATION_BURST

if TYPE_CHECKING:  # pragma: no cover
    import altair as alt
    import polars as pl

    from auditlab.filters.model import Query
    from auditlab.store.events import EventSet

__all__ = ["PAT_ACTIONS", "pat_revocations"]

NAME = "pat_revocations"

#: The token events this investigation reads.
PAT_ACTIONS: tuple[str, ...] = (
    "user.pat.created",
    "user.pat.revoked",
    "user.pat.all_revoked",
    "organization.pat.all_revoked",
)

#: The columns the token statements and the burst detection read (the narrowed scope keeps only these).
_COLUMNS = ("event_id", "timestamp", "action", "outcome", "user_email", "user_key", "ip_address", "ip_key",
            "auth_context", "resource_type", "resource_name", "details")  # fmt: skip
# The token's owner: details.owner_email, else the target user, else the actor.
_OWNER = (
    "coalesce(details->>'owner_email', details->>'ownerEmail', "
    "CASE WHEN resource_type = 'user' THEN resource_name END, user_email)"
)
_TOKEN_ID = "coalesce(details->>'token_id', details->>'tokenId')"
_TOKEN_NAME = "coalesce(details->>'token_name', details->>'tokenName')"
_PAT_SQL = (
    "SELECT event_id, timestamp, action, user_email, user_key, ip_address, auth_context, resource_name, "  # noqa: S608
    f"{_OWNER} AS owner, {fold_sql(_OWNER)} AS owner_key, {_TOKEN_ID} AS token_id, {_TOKEN_NAME} AS token_name, "
    "details FROM {scope} WHERE list_contains($pat_actions::VARCHAR[], action) AND outcome IS DISTINCT FROM 'failure'"
)


def pat_revocations(
    ws: EventSet,
    *,
    query: Query | str | Scope | None = None,
    burst_revocations: int = 5,
    burst_window: timedelta | str = timedelta(minutes=15),
) -> InvestigationResult:
    """Follow personal access tokens from creation to revocation and flag what removes or outlives access.

    Detections (each a :class:`Finding`, MITRE ATT&CK T1531 *Account Access Removal* unless said):

    - **organization-wide revocation** (high): every ``organization.pat.all_revoked``.
    - **burst of revocations**: at least ``burst_revocations`` user-level revocation events
      (``user.pat.revoked``, ``user.pat.all_revoked``) within ``burst_window``, overlapping windows
      merged; high when they touch tokens of several owners or of someone other than the actor,
      medium when one person clears their own tokens.
    - **revocation by someone other than the owner** (medium): a user-level revocation whose actor
      is not the token's owner (``details.owner_email``), outside a burst.
    - **API use after revocation** (T1550.001 *Application Access Token*, high): an API event
      (auth context ``api``) by a user after all their tokens were revoked (``user.pat.all_revoked``
      of that owner, or ``organization.pat.all_revoked``) and before a new token was created for
      them (``user.pat.created``; the creation itself is not counted as use). Revoking one token
      (``user.pat.revoked``) does not count: the user may hold others. The benign pattern of a
      developer revoking all their tokens and creating a new one before the next API call is
      therefore not flagged. API use after one organization-wide revocation is one finding (one
      cause) listing every user who kept using the API; after a user's own revocation, one per user.

    Args:
        ws: the workspace or store.
        query: which events to read (a :class:`~auditlab.Query` or its text form, with the Portal
            rule of :mod:`auditlab.investigations._common`: without a time clause, all events);
            default ``None``: all events. API events outside the scope are not seen.
        burst_revocations: default 5: a person tidying up revokes a token or two at a time;
            five in a quarter of an hour is a sweep (an attacker cutting access, or an incident
            response that should have a ticket).
        burst_window: default 15 minutes, as for login lockouts.

    Returns:
        An :class:`InvestigationResult` named ``pat_revocations``. Tables: ``token_lifecycles``
        (one row per token seen: created, revoked, by whom, lifetime; a token created before the
        scope shows no creation, and tokens only known from an organization-wide revocation are
        counted there, not listed), ``revocations`` (one row per revocation event),
        ``api_after_revocation``, ``pat_timeline`` (token events per day). Chart: ``pat_timeline``.

    Raises:
        QueryError: a bad query or threshold.

    Examples:
        >>> import auditlab
        >>> ws = auditlab.load("data/samples/portal_audit_export.zip")
        >>> r = pat_revocations(ws)
        >>> r.findings[0].title
        'anna.xu@acme.example revoked every personal access token of acme (49 tokens of 27 users)'
        >>> r.findings[1].entities["user"]
        ['ci-payments@acme.example', 'anna.xu@acme.example']
    """
    n_burst = as_count(burst_revocations, "burst_revocations")
    w_burst = as_window(burst_window, "burst_window")
    burst = dataclasses.replace(REVOCATION_BURST, threshold=n_burst, window=w_burst)
    whole, owned = scope_of(ws, query)
    params: dict[str, object] = {"pat_actions": list(PAT_ACTIONS), "api": API}
    try:  # the token events are read five times: one scan of the store, then a small table
        with whole.narrow(
            "list_contains($pat_actions::VARCHAR[], action)", params, columns=_COLUMNS
        ) as scope:
            revocations = scope.sql(_REVOCATIONS_SQL, params)
            lifecycles = _lifecycles(scope, params)
            after = scope.sql(_API_AFTER_SQL.replace("{events}", whole.source), params)
            timeline = scope.sql(
                f"""SELECT time_bucket(INTERVAL 1 DAY, timestamp, 'UTC') AS bucket, action, count(*) AS count
                    FROM ({_PAT_SQL}) GROUP BY 1, 2 ORDER BY 1, 2""",  # noqa: S608
                params,
            )
            bursts = episodes(burst, scope)
    finally:
        if owned:
            whole.close()

    findings: list[Finding] = []
    org_wide = revocations.filter(revocations["action"] == "organization.pat.all_revoked")
    for row in org_wide.iter_rows(named=True):
        scope_name = row["resource_name"] or "the organization"
        counts = [f"{row['tokens']} tokens" if row["tokens"] is not None else None,
                  f"{row['affected_users']} users" if row["affected_users"] is not None else None]  # fmt: skip
        detail = " of ".join(c for c in counts if c)
        findings.append(Finding(
            NAME, "high", "T1531",
            f"{row['actor'] or 'an unknown user'} revoked every personal access token of {scope_name}"
            + (f" ({detail})" if detail else ""),
            {"user": [u for u in [row["actor"]] if u], "ip": [i for i in [row["ip_address"]] if i]},
            row["timestamp"], row["timestamp"], 1, (row["event_id"],),
        ))  # fmt: skip

    in_burst: set[str] = {i for ids in bursts["event_ids"].to_list() for i in ids} if bursts.height else set()
    # the revocations in bursts, read once (not a filter per burst)
    by_id: dict[str, list[dict[str, Any]]] = {}
    for r in revocations.filter(revocations["event_id"].is_in(sorted(in_burst))).iter_rows(named=True):
        by_id.setdefault(r["event_id"], []).append(r)
    for row in bursts.iter_rows(named=True):
        ids = row["event_ids"]
        rows = [r for i in dict.fromkeys(ids) for r in by_id.get(i, [])]
        owners = sorted({r["owner"] for r in rows if r["owner"] is not None})
        actors = row["ent_user"]
        tokens = sorted({t for r in rows for t in r["token_ids"]})
        others = len(owners) > 1 or not all(r["by_owner"] for r in rows)
        n_tokens = [r["tokens"] for r in rows if r["tokens"] is not None]
        findings.append(Finding(
            NAME, "high" if others else "medium", burst.technique,
            f"Burst of {len(ids)} token revocations by {name_list(actors) or 'an unknown user'} "
            f"({int(sum(n_tokens)) if n_tokens else 'an unknown number of'} tokens of "
            f"{name_list(owners) or 'unknown owners'})",
            {"user": sorted({*actors, *owners}), "ip": row["ent_ip"], "token": tokens},
            row["first_seen"], row["last_seen"], len(ids), tuple(ids),
        ))  # fmt: skip

    by_other = revocations.filter(
        (revocations["action"] != "organization.pat.all_revoked") & ~revocations["by_owner"]
    )
    for row in by_other.iter_rows(named=True):
        if row["event_id"] in in_burst:
            continue
        n = row["tokens"]
        findings.append(Finding(
            NAME, "medium", "T1531",
            f"{row['actor'] or 'an unknown user'} revoked {n if n is not None else 'an unknown number of'} "
            f"token(s) of {row['owner'] or 'an unknown owner'}",
            {"user": [u for u in (row["actor"], row["owner"]) if u], "ip": [i for i in [row["ip_address"]] if i],
             "token": row["token_ids"]},
            row["timestamp"], row["timestamp"], 1, (row["event_id"],),
        ))  # fmt: skip

    findings += _api_after_findings(after)
    return InvestigationResult(
        name=NAME,
        title="PAT revocations",
        parameters={"query": whole.query.to_text(), "burst_revocations": n_burst, "burst_window": w_burst},
        findings=sort_findings(findings),
        tables={
            "token_lifecycles": lifecycles,
            "revocations": revocations,
            "api_after_revocation": after.drop("api_times"),
            "pat_timeline": timeline,
        },
        chart_builders={"pat_timeline": lambda: _timeline_chart(timeline)},
    )


def _api_after_findings(after: pl.DataFrame) -> list[Finding]:
    """One finding per cause: per organization-wide revocation (all its users), else per user and revocation.

    The rows of one revocation are gathered by one Polars aggregation, not a filter per finding.
    """
    import polars as pl

    if after.height == 0:
        return []
    per_cause = after.group_by("revocation_id", maintain_order=True).agg(
        pl.col("revoked_at", "revoked_action", "revoked_by", "revoked_ip").first(),
        pl.col("user_email").sort().alias("users"),
        _flat("ips").unique().sort().alias("ips"),
        pl.col("api_events").sum().alias("n"),
        pl.col("last_api").max(),
        _flat("api_event_ids").sort_by(_flat("api_times"), _flat("api_event_ids")).alias("api_ids"),
    )
    findings: list[Finding] = []
    for r in per_cause.iter_rows(named=True):
        users, n = r["users"], r["n"]
        ips = [ip for ip in r["ips"] if ip]
        findings.append(Finding(
            NAME, "high", "T1550.001",
            f"{name_list(users)} used the API {n} time(s) from {name_list(ips) or 'an unknown address'} after "
            f"all their tokens were revoked ({r['revoked_action']} by {r['revoked_by'] or 'an unknown user'}) "
            "and before a new token was created",
            {"user": list(dict.fromkeys([*users, *[u for u in [r["revoked_by"]] if u]])),
             "ip": list(dict.fromkeys([*ips, *[i for i in [r["revoked_ip"]] if i]]))},
            r["revoked_at"], r["last_api"], n + 1, (r["revocation_id"], *r["api_ids"]),
        ))  # fmt: skip
    return findings


def _flat(column: str) -> pl.Expr:
    """The items of a list column's lists, one after another (inside a group's aggregation)."""
    import polars as pl

    return pl.col(column).list.explode(keep_nulls=False, empty_as_null=False)


#: One row per revocation event: actor, owner, tokens, whether the actor owns them.
_REVOCATIONS_SQL = f"""
SELECT event_id, timestamp, action, user_key AS actor, ip_address, auth_context, resource_name,
       CASE WHEN action = 'organization.pat.all_revoked' THEN NULL ELSE owner END AS owner,
       CASE WHEN action = 'user.pat.revoked' THEN 1
            ELSE coalesce(TRY_CAST(details->>'revoked_count' AS BIGINT),
                          len(json_extract_string(details, '$.token_ids[*]'))) END AS tokens,
       TRY_CAST(details->>'affected_users' AS BIGINT) AS affected_users,
       CASE WHEN action = 'user.pat.revoked' THEN list_filter([token_id], lambda x: x IS NOT NULL)
            ELSE coalesce(json_extract_string(details, '$.token_ids[*]'), []) END AS token_ids,
       action <> 'organization.pat.all_revoked' AND user_key IS NOT DISTINCT FROM owner_key AS by_owner
FROM ({_PAT_SQL})
WHERE action <> 'user.pat.created'
ORDER BY timestamp, event_id
"""  # noqa: S608

#: API events whose user's last token event before them is an all-tokens revocation, per user and revocation.
#: ``{events}`` is the whole scope (API events of any action), ``{scope}`` its token events. The last
#: mark before each API event is the later of two ASOF matches: the user's own marks (their token
#: created, all their tokens revoked) and the organization-wide revocations (every user's); not a
#: cross join of the organization-wide revocations with every API user. Ties are decided, not left to
#: the join: at one instant a revocation beats a creation, then the smaller event id.
_API_AFTER_SQL = f"""
WITH pat AS ({_PAT_SQL}),
api AS (
    SELECT event_id, timestamp, action, user_key, ip_key FROM {{events}}
    WHERE auth_context = $api AND user_key IS NOT NULL AND action <> 'user.pat.created'
),
user_marks AS (
    SELECT owner_key AS user_key, timestamp, action, event_id, user_key AS actor, ip_address FROM pat
    WHERE action IN ('user.pat.created', 'user.pat.all_revoked') AND owner_key IS NOT NULL
    QUALIFY row_number() OVER (PARTITION BY owner_key, timestamp ORDER BY action = 'user.pat.created', event_id) = 1
),
org_marks AS (
    SELECT timestamp, action, event_id, user_key AS actor, ip_address FROM pat
    WHERE action = 'organization.pat.all_revoked'
    QUALIFY row_number() OVER (PARTITION BY timestamp ORDER BY event_id) = 1
),
matched AS (
    SELECT a.*,
           CASE WHEN o.event_id IS NOT NULL AND (u.event_id IS NULL OR o.timestamp > u.timestamp
                     OR (o.timestamp = u.timestamp AND (u.action = 'user.pat.created' OR o.event_id < u.event_id)))
                THEN struct_pack(id := o.event_id, at := o.timestamp, action := o.action, actor := o.actor, ip := o.ip_address)
                ELSE struct_pack(id := u.event_id, at := u.timestamp, action := u.action, actor := u.actor, ip := u.ip_address)
           END AS m
    FROM api a
    ASOF LEFT JOIN user_marks u ON a.user_key = u.user_key AND a.timestamp > u.timestamp
    ASOF LEFT JOIN org_marks o ON a.timestamp > o.timestamp
),
hits AS (
    SELECT event_id, timestamp, action, user_key, ip_key, m.id AS revocation_id, m.at AS revoked_at,
           m.action AS revoked_action, m.actor AS revoked_by, m.ip AS revoked_ip
    FROM matched WHERE m.action <> 'user.pat.created'
)
SELECT user_key AS user_email, revocation_id, revoked_at, revoked_action, revoked_by, revoked_ip,
       count(*) AS api_events, min(timestamp) AS first_api, max(timestamp) AS last_api,
       list(event_id ORDER BY timestamp, event_id) AS api_event_ids,
       list(timestamp ORDER BY timestamp, event_id) AS api_times,
       list_sort(list_distinct(list(ip_key))) AS ips,
       list_sort(list_distinct(list(action))) AS actions
FROM hits
GROUP BY ALL
ORDER BY revoked_at, user_email
"""  # noqa: S608

_LIFECYCLES_SQL = f"""
WITH pat AS ({_PAT_SQL}),
created AS (
    SELECT token_id, arg_min(token_name, timestamp) AS token_name, arg_min(owner, timestamp) AS owner,
           min(timestamp) AS created_at, arg_min(user_email, timestamp) AS created_by,
           arg_min(ip_address, timestamp) AS created_ip, arg_min(auth_context, timestamp) AS created_via,
           arg_min(TRY_CAST(details->>'expires_at' AS TIMESTAMPTZ), timestamp) AS expires_at
    FROM pat WHERE action = 'user.pat.created' AND token_id IS NOT NULL GROUP BY token_id
),
explicit AS (
    SELECT token_id, token_name, owner, timestamp, user_email, ip_address, action FROM pat
    WHERE action = 'user.pat.revoked' AND token_id IS NOT NULL
    UNION ALL
    SELECT unnest(json_extract_string(details, '$.token_ids[*]')), NULL, owner, timestamp, user_email,
           ip_address, action
    FROM pat WHERE action = 'user.pat.all_revoked'
),
first_explicit AS (
    SELECT token_id, arg_min(token_name, timestamp) AS token_name, arg_min(owner, timestamp) AS owner,
           min(timestamp) AS revoked_at, arg_min(user_email, timestamp) AS revoked_by,
           arg_min(ip_address, timestamp) AS revoked_ip, arg_min(action, timestamp) AS revoked_via
    FROM explicit WHERE token_id IS NOT NULL GROUP BY token_id
),
org AS (SELECT timestamp, user_email, ip_address, action FROM pat WHERE action = 'organization.pat.all_revoked'),
by_org AS (
    SELECT c.token_id, o.timestamp AS revoked_at, o.user_email AS revoked_by,
           o.ip_address AS revoked_ip, o.action AS revoked_via
    FROM created c ASOF JOIN org o ON c.created_at < o.timestamp
),
tokens AS (
    SELECT coalesce(c.token_id, r.token_id) AS token_id, coalesce(c.token_name, r.token_name) AS token_name,
           coalesce(c.owner, r.owner) AS owner, c.created_at, c.created_by, c.created_ip, c.created_via,
           c.expires_at,
           CASE WHEN o.revoked_at IS NOT NULL AND (r.revoked_at IS NULL OR o.revoked_at < r.revoked_at)
                THEN struct_pack(at := o.revoked_at, by := o.revoked_by, ip := o.revoked_ip, via := o.revoked_via)
                ELSE struct_pack(at := r.revoked_at, by := r.revoked_by, ip := r.revoked_ip, via := r.revoked_via)
           END AS rev
    FROM created c
    FULL JOIN first_explicit r ON r.token_id = c.token_id
    LEFT JOIN by_org o ON o.token_id = c.token_id
)
SELECT token_id, token_name, owner, created_at, created_by, created_ip, created_via, expires_at,
       rev.at AS revoked_at, rev.by AS revoked_by, rev.ip AS revoked_ip, rev.via AS revoked_via,
       epoch_us(rev.at) - epoch_us(created_at) AS lifetime
FROM tokens
ORDER BY coalesce(created_at, revoked_at), token_id
"""  # noqa: S608


def _lifecycles(scope: Scope, params: dict[str, object]) -> pl.DataFrame:
    """One row per token: creation, first revocation (explicit, or an organization-wide one after creation)."""
    import polars as pl

    frame = scope.sql(_LIFECYCLES_SQL, params)
    return frame.with_columns(pl.col("lifetime").cast(pl.Duration("us")))


def _timeline_chart(frame: pl.DataFrame) -> alt.Chart:
    from auditlab.charts import timeline_chart

    return timeline_chart(frame, color="action", title="Token events per day (UTC)")
