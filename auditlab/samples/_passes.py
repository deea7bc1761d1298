"""Passes over the time-sorted drafts: keep the background clean, resolve state, assign ids.

1. :func:`gate_failures` drops background failures that would look like an attack
   (more than 2 per user in 15 minutes, an address failing for more than 2 users in 5
   minutes, a third login failure in a row).
2. :func:`space_revocations` keeps background token revocations at least 30 minutes apart.
3. :func:`resolve_pats` tracks every user's tokens: fills token ids into PAT events and,
   outside planted incidents, issues a new token before API use by someone holding none.
4. :func:`resolve_quota` keeps a licence ledger per group (a yearly pool, no resets in the
   period) and fills ``quota_remaining``/``quota_limit``.
5. :func:`to_records` assigns ids from the RNG and builds the Portal-shaped records.

Examples:
    >>> sorted(LOGINS)
    ['user.login', 'user.sso.oidc.login', 'user.sso.saml.login']
"""

from __future__ import annotations

import random
from collections import defaultdict
from datetime import UTC, datetime

from auditlab.samples._model import DAY, MINUTE, SECOND, Draft, Group, Org, User, iso, new_uuid

__all__ = ["LOGINS", "gate_failures", "resolve_pats", "resolve_quota", "space_revocations", "to_records"]

LOGINS = frozenset({"user.login", "user.sso.saml.login", "user.sso.oidc.login"})
_REVOKES = ("user.pat.revoked", "user.pat.all_revoked")


def _planted(d: Draft) -> bool:
    return d.incident is not None or d.related is not None


def gate_failures(drafts: list[Draft]) -> list[Draft]:
    """Drop background failures beyond the sparse limits (planted ones always stay)."""
    by_user: dict[str, list[int]] = defaultdict(list)
    by_ip: dict[str, list[tuple[int, str]]] = defaultdict(list)
    run: dict[str, int] = defaultdict(int)
    out: list[Draft] = []
    for d in drafts:
        uid, login = d.user.id, d.action in LOGINS
        if d.error is not None:
            if not _planted(d):
                recent = sum(1 for x in by_user[uid] if x > d.t - 15 * MINUTE)
                others = {u for x, u in by_ip[d.ip] if x > d.t - 5 * MINUTE and u != uid}
                if recent >= 2 or len(others) >= 2 or (login and run[uid] >= 2):
                    continue
            by_user[uid].append(d.t)
            by_ip[d.ip].append((d.t, uid))
        if login:
            run[uid] = run[uid] + 1 if d.error is not None else 0
        out.append(d)
    return out


def space_revocations(drafts: list[Draft], *, gap: int = 30 * MINUTE) -> list[Draft]:
    """Drop background revocations closer than ``gap`` to the previous one."""
    last = -gap
    out: list[Draft] = []
    for d in drafts:
        if d.action in _REVOKES and not _planted(d):
            if d.t - last < gap:
                continue
            last = d.t
        out.append(d)
    return out


class _Tokens:
    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.live: dict[str, list[tuple[str, str]]] = defaultdict(list)
        self.count: dict[str, int] = defaultdict(int)

    def issue(self, u: User) -> tuple[str, str]:
        self.count[u.id] += 1
        n = self.count[u.id]
        purposes = ("deploy", "scan") if u.role == "ci" else ("cli", "jenkins", "scripts")
        name = f"{u.email.split('@')[0]}-{purposes[(n - 1) % len(purposes)]}-{n}"
        tok = (new_uuid(self.rng), name)
        self.live[u.id].append(tok)
        return tok


def resolve_pats(drafts: list[Draft], org: Org, rng: random.Random) -> list[Draft]:
    """Fill PAT details from a token ledger; re-issue before background API use without a token."""
    ledger = _Tokens(rng)
    for u in org.users:
        for _ in range(u.tokens):
            ledger.issue(u)
    revoked_at: dict[str, int] = {}
    out: list[Draft] = []
    for d in drafts:
        owner = d.owner or d.user
        live = ledger.live[owner.id]
        if d.action == "user.pat.created":
            tok = ledger.issue(owner)
            d.details = {"token_id": tok[0], "token_name": tok[1], "expires_at": iso(d.t + 90 * DAY)}
        elif d.action == "user.pat.revoked":
            if not live:
                continue
            tok = live.pop(0)
            d.details = {"token_id": tok[0], "token_name": tok[1], "owner_email": owner.email}
            revoked_at[owner.id] = d.t
        elif d.action == "user.pat.all_revoked":
            d.details = {
                "owner_email": owner.email,
                "revoked_count": len(live),
                "token_ids": [x[0] for x in live],
            }
            live.clear()
            revoked_at[owner.id] = d.t
        elif d.action == "organization.pat.all_revoked":
            holders = [uid for uid, toks in ledger.live.items() if toks]
            d.details = {
                "revoked_count": sum(len(ledger.live[uid]) for uid in holders),
                "affected_users": len(holders),
            }
            for uid in holders:
                ledger.live[uid].clear()
                revoked_at[uid] = d.t
        elif d.auth == "API" and not live and not _planted(d):
            t = max(d.t - rng.randint(60, 300) * SECOND, revoked_at.get(owner.id, 0) + SECOND)
            auth = "API" if owner.role in ("ci", "scim") else "PORTAL"
            new = Draft(
                min(t, d.t - 1),
                "user.pat.created",
                owner,
                owner.ips[0],
                auth,
                owner.id,
                owner.email,
                owner=owner,
                req=-d.seq,
                seq=-d.seq,
            )
            tok = ledger.issue(owner)
            new.details = {"token_id": tok[0], "token_name": tok[1], "expires_at": iso(new.t + 90 * DAY)}
            out.append(new)
        out.append(d)
    out.sort(key=lambda x: (x.t, x.seq))
    return out


def _used_before(g: Group, start: int) -> int:
    """Quota the group spent in its licence year before the period (licence years start on 1 January)."""
    first = datetime.fromtimestamp(start // 1000, tz=UTC).replace(month=1, day=1, hour=0, minute=0, second=0)
    return round(g.daily_uploads() * (start - int(first.timestamp() * 1000)) / DAY)


def resolve_quota(
    drafts: list[Draft], org: Org, start: int, end: int, burst: tuple[Group, int, int] | None
) -> list[Draft]:
    """Fill quota details from a ledger per group; an upload with no quota left fails with 'Quota exceeded'.

    A group's licence pool is sized to last the period comfortably (1.6 times the expected
    use, rounded up to hundreds), a reallocation's source gets the amount on top, and the
    burst group's pool is sized so that the planted burst ends exactly at 0.
    """
    days = (end - start) / DAY
    used = {g.id: _used_before(g, start) for g in org.groups}
    limit = {
        g.id: -(-int(used[g.id] + 1.6 * days * g.daily_uploads() + 200) // 100) * 100 for g in org.groups
    }
    for d in drafts:
        if d.action == "organization.licensing.quotas.reallocated" and d.details is not None:
            limit[str(d.details["from_group_id"])] += d.amount
    if burst is not None:
        g, t0, k = burst
        before = sum(
            1
            for d in drafts
            if d.group is g and d.action.endswith("upload_quota.spent") and d.t < t0 and d.incident is None
        )
        limit[g.id] = used[g.id] + before + k
    uploads = {d.req: d for d in drafts if d.action.endswith(("uploaded", "imported"))}
    out: list[Draft] = []
    for d in drafts:
        if d.action.endswith("upload_quota.spent") and d.group is not None:
            gid = d.group.id
            if limit[gid] - used[gid] < d.amount:
                up = uploads.get(d.req)
                if up is not None:
                    up.error = "Quota exceeded"
                continue
            used[gid] += d.amount
            d.details = {
                "amount": d.amount,
                "quota_remaining": limit[gid] - used[gid],
                "quota_limit": limit[gid],
            }
        elif d.action == "group.licensing.limit.updated" and d.group is not None:
            old = limit[d.group.id]
            limit[d.group.id] = old + d.amount
            d.details = {"changes": [{"field": "upload_quota_limit", "old": old, "new": old + d.amount}]}
        elif d.action == "organization.licensing.quotas.reallocated" and d.details is not None:
            limit[str(d.details["from_group_id"])] -= d.amount
            limit[str(d.details["to_group_id"])] += d.amount
        out.append(d)
    return out


def to_records(drafts: list[Draft], rng: random.Random) -> tuple[list[dict[str, object]], dict[int, str]]:
    """Portal-shaped records in time order, and the event id given to each draft (by ``seq``)."""
    ids: dict[int, str] = {}
    reqs: dict[int, str] = {}
    records: list[dict[str, object]] = []
    for d in drafts:
        eid = new_uuid(rng)
        ids[d.seq] = eid
        if d.req not in reqs:
            reqs[d.req] = new_uuid(rng)
        g = d.group
        records.append(
            {
                "id": eid,
                "created_at": iso(d.t),
                "action": d.action,
                "outcome": "successful" if d.error is None else "unsuccessful",
                "error_message": d.error,
                "auth_context": d.auth,
                "user": {"id": d.user.id, "email": d.user.email},
                "ip_address": d.ip,
                "target": {"type": d.action.split(".", 1)[0], "id": d.target_id, "name": d.target_name},
                "group": {"id": g.id, "name": g.name} if g is not None else None,
                "project": {"name": d.project} if d.project is not None else None,
                "package": {"name": d.package} if d.package is not None else None,
                "version": {"name": d.version} if d.version is not None else None,
                "request_id": reqs[d.req],
                "details": d.details,
            }
        )
    return records, ids
