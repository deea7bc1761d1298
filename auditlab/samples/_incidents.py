"""The planted incidents: what happens, to whom, from where, when.

:func:`plant` runs before the background: it emits the planted drafts (tagged with the
incident id, context events tagged ``related``), reserves quiet windows so background
traffic cannot blur them, and records SSO outages and the quota burst on the context.
:func:`describe` turns the tagged drafts, after ids are assigned, into :class:`Incident`
records: the one source of truth for ``incidents.json`` and the README.

Examples:
    >>> [s.id for s in SPECS][:3]
    ['INC-01-brute-force', 'INC-02-password-spray', 'INC-03-success-after-failures']
    >>> ATTACKER_IPS["spray"]
    '198.51.100.203'
"""

from __future__ import annotations

import random
from collections import Counter
from dataclasses import dataclass
from typing import Any

from auditlab.samples._ctx import Ctx, on_org, on_user, on_version
from auditlab.samples._model import DAY, HOUR, MINUTE, SECOND, Draft, Package, User, iso, new_uuid

__all__ = ["ATTACKER_IPS", "BURST_UPLOADS", "SPECS", "Incident", "Spec", "describe", "plant"]

#: Addresses only the attackers use (never anyone's usual address).
ATTACKER_IPS = {
    "brute": "203.0.113.45",
    "spray": "198.51.100.203",
    "takeover": "203.0.113.118",
    "quota": "203.0.113.77",
}
#: Successful uploads in the quota burst; the last one leaves the group's quota at 0.
BURST_UPLOADS = 40


@dataclass(frozen=True, slots=True)
class Spec:
    """What kind of incident an id is, and how a correct investigation reports it."""

    id: str
    kind: str
    technique: str | None
    title: str
    expect: str


SPECS: tuple[Spec, ...] = (
    Spec(
        "INC-01-brute-force",
        "brute_force",
        "T1110.001",
        "Brute force against one account",
        "{n} failed user.login for {users[0]} from {ips[0]} between {start} and {end} "
        "(the first {invalid} 'Invalid credentials', then 'Account locked'); no success from {ips[0]}. "
        "The owner resets the password the next morning from a usual address (related events).",
    ),
    Spec(
        "INC-02-password-spray",
        "password_spray",
        "T1110.003",
        "Password spray from one address",
        "{ips[0]} fails user.login for {n_users} distinct users, one attempt each, between {start} and {end}; "
        "no success from {ips[0]}.",
    ),
    Spec(
        "INC-03-success-after-failures",
        "success_after_failures",
        "T1078",
        "Successful login after a run of failures, from a new address",
        "{failures} failed user.login for {users[0]} from {ips[0]} between {start} and {last_failure}, "
        "spaced so that no 15-minute window holds more than 3, then a successful user.login at {end} "
        "from the same address, which {users[0]} had never used before. The session then downloads "
        "versions and creates a personal access token (related events).",
    ),
    Spec(
        "INC-04-mass-pat-revocation",
        "mass_pat_revocation",
        "T1531",
        "All personal access tokens revoked, then API use by an affected account",
        "{users[0]} revokes every personal access token of the organisation (organization.pat.all_revoked, "
        "{revoked} tokens of {affected} users) at {start} from {ips[0]}; at {end} {users[1]} uploads a "
        "version through the API from {ips[1]} without having created a new token (version.uploaded and "
        "version.upload_quota.spent, auth_context API).",
    ),
    Spec(
        "INC-05-sso-disabled",
        "sso_disabled",
        "T1556",
        "SSO disabled by an admin",
        "{users[0]} disables SSO (organization.sso.disabled) at {start} from {ips[0]}; SAML is applied "
        "again by {fixer} at {fixed_at} (related event). Logins in between are password logins.",
    ),
    Spec(
        "INC-06-oidc-setup-not-applied",
        "sso_setup_not_applied",
        "T1556",
        "OIDC setup created and never applied",
        "{users[0]} creates an OIDC setup (organization.sso.oidc.setup.created, issuer {issuer}) at "
        "{start} from {ips[0]}; no organization.sso.oidc.setup.applied follows.",
    ),
    Spec(
        "INC-07-off-hours-session-lifetime",
        "off_hours_auth_change",
        "T1556",
        "Session lifetime raised outside working hours",
        "{users[0]} changes organization.session_lifetime from {old} to {new} minutes on {weekday} {start} "
        "from {ips[0]}.",
    ),
    Spec(
        "INC-08-quota-exhaustion",
        "quota_exhaustion",
        "T1496",
        "Burst of uploads exhausts a group's quota",
        "{users[0]} uploads {uploads} versions to group {group} via the API from {ips[0]} between {start} "
        "and {last_spend}: version.upload_quota.spent falls to quota_remaining 0 (limit {limit}); then "
        "{refused} uploads fail with 'Quota exceeded' until {end}. Otherwise the group spends {per_day} "
        "a day on average and never more than {max_hour} in an hour.",
    ),
    Spec(
        "INC-09-quota-reallocation",
        "quota_reallocation",
        None,
        "Upload quota reallocated by an admin",
        "{users[0]} reallocates {amount} units of upload quota from {from_group} to {to_group} "
        "(organization.licensing.quotas.reallocated) at {start} from {ips[0]}; the only reallocation "
        "in the period.",
    ),
)
_SPEC = {s.id: s for s in SPECS}


@dataclass(frozen=True, slots=True)
class Incident:
    """One planted incident: the exact truth a correct investigation reports."""

    id: str
    kind: str
    technique: str | None
    title: str
    users: tuple[str, ...]
    ips: tuple[str, ...]
    start: str
    end: str
    event_ids: tuple[str, ...]
    related_event_ids: tuple[str, ...]
    expect: str

    def to_dict(self) -> dict[str, object]:
        """A JSON-ready dict (keys in a fixed order)."""
        return {
            "id": self.id,
            "kind": self.kind,
            "technique": self.technique,
            "title": self.title,
            "users": list(self.users),
            "ips": list(self.ips),
            "start": self.start,
            "end": self.end,
            "event_ids": list(self.event_ids),
            "related_event_ids": list(self.related_event_ids),
            "expect": self.expect,
        }


def _side_version(rng: random.Random, pk: Package, suffix: str, t: int) -> str:
    """A version named after the package's current one plus ``suffix``; leaves the numbering alone."""
    name = "{}.{}.{}-{}".format(*pk.semver, suffix)
    pk.version_ids[name] = new_uuid(rng)
    pk.version_times[name] = t
    return name


def plant(ctx: Ctx) -> dict[str, dict[str, Any]]:
    """Emit every planted incident into ``ctx.buf``; returns facts per incident for :func:`describe`."""
    rng, org = ctx.rng, ctx.org
    admins = org.role("admin")
    a0, a1, a2 = admins[0], admins[1], admins[2]
    contractors = org.role("contractor")
    facts: dict[str, dict[str, Any]] = {}

    def tag(d: Draft, inc: str, *, related: bool = False) -> Draft:
        if related:
            d.related = inc
        else:
            d.incident = inc
        return d

    # 1. Brute force: 14 attempts in about 9 minutes from one address; locked after 12.
    inc, victim, ip = "INC-01-brute-force", contractors[0], ATTACKER_IPS["brute"]
    t = t0 = ctx.slot(0.40, 3, 41)
    for i in range(14):
        err = "Invalid credentials" if i < 12 else "Account locked"
        tag(ctx.emit(t, "user.login", victim, ip, on_user(victim), error=err), inc)
        t += rng.randint(25, 50) * SECOND
    r = ctx.next_morning(t0, 8, 52)
    tag(
        ctx.emit(r, "user.password_reset_initiated", victim, victim.ips[0], on_user(victim)),
        inc,
        related=True,
    )
    tag(
        ctx.emit(r + 4 * MINUTE, "user.password_reset_completed", victim, victim.ips[0], on_user(victim)),
        inc,
        related=True,
    )
    tag(ctx.emit(r + 5 * MINUTE, "user.login", victim, victim.ips[0], on_user(victim)), inc, related=True)
    ctx.quiet(victim.id, t0 - HOUR, r + 10 * MINUTE)
    facts[inc] = {"invalid": 12}

    # 2. Password spray: one address, 18 accounts, one attempt each, about 4 minutes.
    inc, ip = "INC-02-password-spray", ATTACKER_IPS["spray"]
    t = t0 = ctx.slot(0.50, 22, 17)
    pool = [u for u in org.users if u.login is not None and not u.leaves and u not in contractors[:2]]
    for u in sorted(rng.sample(pool, 18), key=lambda x: x.email):
        tag(ctx.emit(t, "user.login", u, ip, on_user(u), error="Invalid credentials"), inc)
        ctx.quiet(u.id, t0 - 20 * MINUTE, t0 + 25 * MINUTE)
        t += rng.randint(9, 15) * SECOND
    facts[inc] = {}

    # 3. Seven failures ~6.5 minutes apart, then success, from an address new to the account.
    inc, victim, ip = "INC-03-success-after-failures", contractors[1], ATTACKER_IPS["takeover"]
    t = t0 = ctx.slot(0.60, 11, 20, weekdays=True)
    for _ in range(7):
        last_failure = t
        tag(ctx.emit(t, "user.login", victim, ip, on_user(victim), error="Invalid credentials"), inc)
        t += rng.randint(360, 420) * SECOND
    tag(ctx.emit(t, "user.login", victim, ip, on_user(victim)), inc)
    for _ in range(3):
        t += rng.randint(1, 4) * MINUTE
        pk = next(pk for p in victim.groups[0].projects for pk in p.packages)
        tag(ctx.emit(t, "version.downloaded", victim, ip, on_version(pk, pk.versions[-1])), inc, related=True)
    tag(
        ctx.emit(t + 3 * MINUTE, "user.pat.created", victim, ip, on_user(victim), owner=victim),
        inc,
        related=True,
    )
    ctx.quiet(victim.id, t0 - 2 * HOUR, t + 3 * HOUR)
    facts[inc] = {"failures": 7, "last_failure": iso(last_failure)}

    # 8. Quota burst (before 4 so the bot still holds tokens): 40 uploads then 3 refusals; 9. reallocation.
    inc, ip = "INC-08-quota-exhaustion", ATTACKER_IPS["quota"]
    mobile, data = org.group("mobile"), org.group("data")
    bot = org.bot(mobile)
    t = t0 = ctx.slot(0.68, 1, 4)
    pkgs = [pk for p in mobile.projects for pk in p.packages]
    for i in range(BURST_UPLOADS):
        pk = pkgs[i % len(pkgs)]
        ver = _side_version(rng, pk, f"rc{i // len(pkgs) + 1}", t)
        req = ctx.new_req()
        tag(
            ctx.emit(
                t,
                "version.uploaded",
                bot,
                ip,
                on_version(pk, ver),
                auth="API",
                req=req,
                details={
                    "file_name": f"{pk.name}-{ver}.apk",
                    "file_size": rng.randint(30_000_000, 60_000_000),
                    "sha256": f"{rng.getrandbits(256):064x}",
                },
            ),
            inc,
        )
        tag(
            ctx.emit(
                t + rng.randint(300, 900),
                "version.upload_quota.spent",
                bot,
                ip,
                on_version(pk, ver),
                auth="API",
                req=req,
                amount=1,
            ),
            inc,
        )
        last_spend = t
        t += rng.randint(50, 80) * SECOND
    ctx.quota_burst = (mobile, t0, BURST_UPLOADS)
    t = last_spend
    for k in (2, 6, 11):
        pk = pkgs[k % len(pkgs)]
        ver = f"{pk.semver[0]}.{pk.semver[1]}.{pk.semver[2] + 1}"
        pk.version_ids.setdefault(ver, new_uuid(rng))
        tag(
            ctx.emit(
                last_spend + k * MINUTE,
                "version.uploaded",
                bot,
                ip,
                on_version(pk, ver),
                auth="API",
                error="Quota exceeded",
            ),
            inc,
        )
        t = last_spend + k * MINUTE
    realloc = ctx.next_morning(t0, 9, 35)
    ctx.quiet(f"group:{mobile.id}", t0 - 30 * MINUTE, realloc + MINUTE)
    ctx.quiet(bot.id, t0 - 30 * MINUTE, realloc + MINUTE)
    facts[inc] = {
        "uploads": BURST_UPLOADS,
        "refused": 3,
        "group": mobile.name,
        "last_spend": None,
        "limit": None,
    }
    inc = "INC-09-quota-reallocation"
    # enough for the rest of the period: 150, or more on long periods (rounded up to 50)
    amount = max(150, -(-int(1.5 * mobile.daily_uploads() * (ctx.end - realloc) / DAY) // 50) * 50)
    tag(
        ctx.emit(
            realloc,
            "organization.licensing.quotas.reallocated",
            a0,
            a0.ips[0],
            on_org(org),
            details={
                "from_group": data.name,
                "from_group_id": data.id,
                "to_group": mobile.name,
                "to_group_id": mobile.id,
                "amount": amount,
            },
            amount=amount,
            group2=mobile,
        ),
        inc,
    )
    facts[inc] = {"amount": amount, "from_group": data.name, "to_group": mobile.name}

    # 4. Mass revocation, then an affected CI account uploads through the API 2 h 37 min later.
    inc = "INC-04-mass-pat-revocation"
    payments = org.group("payments")
    pbot = org.bot(payments)
    t0 = ctx.slot(0.78, 9, 12, weekdays=True)
    tag(ctx.emit(t0, "organization.pat.all_revoked", a0, a0.ips[0], on_org(org)), inc)
    t = t0 + 2 * HOUR + 37 * MINUTE + rng.randrange(MINUTE)
    pk = payments.projects[0].packages[0]
    ver = _side_version(rng, pk, "hotfix1", t)
    req = ctx.new_req()
    tag(
        ctx.emit(
            t,
            "version.uploaded",
            pbot,
            pbot.ips[0],
            on_version(pk, ver),
            auth="API",
            req=req,
            details={
                "file_name": f"{pk.name}-{ver}.tgz",
                "file_size": rng.randint(1_000_000, 9_000_000),
                "sha256": f"{rng.getrandbits(256):064x}",
            },
        ),
        inc,
    )
    tag(
        ctx.emit(
            t + 640,
            "version.upload_quota.spent",
            pbot,
            pbot.ips[0],
            on_version(pk, ver),
            auth="API",
            req=req,
            amount=1,
        ),
        inc,
    )
    ctx.quiet(pbot.id, t0 - 10 * MINUTE, t + 2 * MINUTE)
    facts[inc] = {"revoked": None, "affected": None}

    # 5. SSO disabled late in the evening from home; SAML re-applied next morning by another admin.
    inc = "INC-05-sso-disabled"
    t0 = ctx.slot(0.85, 23, 8)
    tag(
        ctx.emit(
            t0,
            "organization.sso.disabled",
            a1,
            a1.ips[-1],
            on_org(org),
            details={"previous_provider": "saml"},
        ),
        inc,
    )
    fixed = ctx.next_morning(t0, 8, 46)
    tag(
        ctx.emit(
            fixed,
            "organization.sso.saml.setup.applied",
            a0,
            a0.ips[0],
            on_org(org),
            details={
                "idp_entity_id": "http://www.okta.com/exk7acme0sso",
                "sso_url": "https://acme.okta.example/app/sso/saml",
                "enforced": False,
            },
        ),
        inc,
        related=True,
    )
    ctx.sso_off.append((t0, fixed))
    facts[inc] = {"fixer": a0.email, "fixed_at": iso(fixed)}

    # 6. OIDC setup created, never applied.
    inc = "INC-06-oidc-setup-not-applied"
    issuer = "https://login.unknown-idp.example/oauth2/default"
    tag(
        ctx.emit(
            ctx.slot(0.30, 16, 40, weekdays=True),
            "organization.sso.oidc.setup.created",
            a2,
            a2.ips[0],
            on_org(org),
            details={"issuer": issuer, "client_id": f"0oa{rng.getrandbits(64):016x}"},
        ),
        inc,
    )
    facts[inc] = {"issuer": issuer}

    # 7. Session lifetime raised from 12 hours to 30 days at 02:13 on a Sunday.
    inc = "INC-07-off-hours-session-lifetime"
    tag(
        ctx.emit(
            ctx.slot(0.9, 2, 13, sunday=True),
            "organization.session_lifetime.updated",
            a1,
            a1.ips[-1],
            on_org(org),
            details={"changes": [{"field": "session_lifetime", "old": 720, "new": 43200}]},
        ),
        inc,
    )
    facts[inc] = {"old": 720, "new": 43200, "weekday": "Sunday"}
    return facts


def _unique(values: list[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(values))


def describe(drafts: list[Draft], ids: dict[int, str], facts: dict[str, dict[str, Any]]) -> list[Incident]:
    """The :class:`Incident` records, derived from the final (sorted, id-assigned) drafts."""
    out: list[Incident] = []
    for spec in SPECS:
        if spec.id not in facts:
            continue
        mine = [d for d in drafts if d.incident == spec.id]
        related = [d for d in drafts if d.related == spec.id]
        f = dict(facts[spec.id])
        actors: list[User] = [d.user for d in mine]
        users = _unique([u.email for u in actors])
        ips = _unique([d.ip for d in mine])
        start, end = iso(mine[0].t), iso(mine[-1].t)
        if spec.kind == "quota_exhaustion":
            spends = [d for d in mine if d.action.endswith("upload_quota.spent")]
            f["last_spend"] = iso(spends[-1].t)
            f["limit"] = (spends[-1].details or {}).get("quota_limit")
            group = spends[0].group
            hours = Counter(
                d.t // HOUR
                for d in drafts
                if d.group is group and d.incident is None and d.action.endswith("upload_quota.spent")
            )
            days = (drafts[-1].t - drafts[0].t) / DAY
            f["per_day"], f["max_hour"] = f"{sum(hours.values()) / days:.1f}", max(hours.values())
        if spec.kind == "mass_pat_revocation":
            det = mine[0].details or {}
            f["revoked"], f["affected"] = det.get("revoked_count"), det.get("affected_users")
        text = spec.expect.format(
            users=users, ips=ips, start=start, end=end, n=len(mine), n_users=len(users), **f
        )
        out.append(
            Incident(
                spec.id,
                spec.kind,
                spec.technique,
                spec.title,
                users,
                ips,
                start,
                end,
                tuple(ids[d.seq] for d in mine),
                tuple(ids[d.seq] for d in related),
                text,
            )
        )
    return out
