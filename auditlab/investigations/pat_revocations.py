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
from typing import TYPE_CHECKING

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
    scope, owned = scope_of(ws, query)
    try:
        params: dict[str, object] = {"pat_actions": list(PAT_ACTIONS), "api": API}
        revocations = scope.sql(_REVOCATIONS_SQL, params)
        lifecycles = _lifecycles(scope, params)
        after = scope.sql(_API_AFTER_SQL, params)
        timeline = scope.sql(
            f"""SELECT time_bucket(INTERVAL 1 DAY, timestamp, 'UTC') AS bucket, action, count(*) AS count
                FROM ({_PAT_SQL}) GROUP BY 1, 2 ORDER BY 1, 2""",  # noqa: S608
            params,
        )
        bursts = episodes(burst, scope)
    finally:
        if owned:
            scope.close()

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

    in_burst: set[str] = set()
    for row in bursts.iter_rows(named=True):
        ids = row["event_ids"]
        in_burst.update(ids)
        rows = revocations.filter(revocations["event_id"].is_in(ids))
        owners = sorted(set(rows["owner"].drop_nulls().to_list()))
        actors = row["ent_user"]
        tokens = sorted({t for ts in rows["token_ids"].to_list() for t in ts})
        others = len(owners) > 1 or not rows["by_owner"].all()
        n_tokens = rows["tokens"].drop_nulls()
        findings.append(Finding(
            NAME, "high" if others else "medium", burst.technique,
            f"Burst of {len(ids)} token revocations by {name_list(actors) or 'an unknown user'} "
            f"({int(n_tokens.sum()) if len(n_tokens) else 'an unknown number of'} tokens of "
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
        parameters={"query": scope.query.to_text(), "burst_revocations": n_burst, "burst_window": w_burst},
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
    """One finding per cause: per organization-wide revocation (all its users), else per user and revocation."""
    findings: list[Finding] = []
    for (_rid,), part in after.group_by(["revocation_id"], maintain_order=True):
        rows = part.sort("user_email").to_dicts()
        first = rows[0]
        users = [r["user_email"] for r in rows]
        ips = sorted({ip for r in rows for ip in r["ips"] if ip})
        n = sum(r["api_events"] for r in rows)
        api_ids = sorted(
            ((t, i) for r in rows for t, i in zip(r["api_times"], r["api_event_ids"], strict=True))
        )
        findings.append(Finding(
            NAME, "high", "T1550.001",
            f"{name_list(users)} used the API {n} time(s) from {name_list(ips) or 'an unknown address'} after "
            f"all their tokens were revoked ({first['revoked_action']} by {first['revoked_by'] or 'an unknown user'}) "
            "and before a new token was created",
            {"user": list(dict.fromkeys([*users, *[u for u in [first["revoked_by"]] if u]])),
             "ip": list(dict.fromkeys([*ips, *[i for i in [first["revoked_ip"]] if i]]))},
            first["revoked_at"], max(r["last_api"] for r in rows), n + 1,
            (first["revocation_id"], *[i for _, i in api_ids]),
        ))  # fmt: skip
    return findings


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
_API_AFTER_SQL = f"""
WITH pat AS ({_PAT_SQL}),
api AS (
    SELECT event_id, timestamp, action, user_key, ip_key FROM {{scope}}
    WHERE auth_context = $api AND user_key IS NOT NULL AND action <> 'user.pat.created'
),
api_users AS (SELECT DISTINCT user_key FROM api),
marks AS (
    SELECT owner_key AS user_key, timestamp, action, event_id, user_key AS actor, ip_address FROM pat
    WHERE action IN ('user.pat.created', 'user.pat.all_revoked') AND owner_key IS NOT NULL
    UNION ALL
    SELECT u.user_key, p.timestamp, p.action, p.event_id, p.user_key, p.ip_address
    FROM pat p CROSS JOIN api_users u WHERE p.action = 'organization.pat.all_revoked'
),
hits AS (
    SELECT a.*, m.event_id AS revocation_id, m.timestamp AS revoked_at, m.action AS revoked_action,
           m.actor AS revoked_by, m.ip_address AS revoked_ip
    FROM api a ASOF JOIN marks m ON a.user_key = m.user_key AND a.timestamp > m.timestamp
    WHERE m.action <> 'user.pat.created'
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
