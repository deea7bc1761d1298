"""Background traffic: the ordinary life of the organisation over the period.

People log in during working hours on weekdays (rarely evenings and weekends), from their
usual addresses only, and do what their role does; CI bots upload versions via the API day
and night; the identity provider searches and updates users over SCIM; admins make the
occasional configuration change, always in working hours. Failures are sparse by
construction (the gating pass in ``_passes.py`` enforces the limits).

Examples:
    >>> LOGIN_ERRORS["user.login"][0]
    'Invalid credentials'
"""

from __future__ import annotations

from auditlab.catalog import ACTIONS
from auditlab.samples._activity import ACTIVITY, ROLE_WEIGHTS, file_upload, version_upload
from auditlab.samples._ctx import Ctx, Scope, on_group, on_org, on_package, on_project, on_user, on_version
from auditlab.samples._model import (
    DAY,
    HOUR,
    MINUTE,
    SECOND,
    Draft,
    Group,
    Project,
    User,
    iso,
    new_uuid,
    weekday,
)
from auditlab.samples._org import NEW_HIRE_IPS, new_package, new_user, next_version

__all__ = ["INCIDENT_ONLY", "LOGIN_ERRORS", "background"]

#: Actions that only planted incidents emit; a control sample has none of them.
INCIDENT_ONLY = frozenset(
    {
        "organization.sso.disabled",
        "organization.sso.oidc.setup.created",
        "organization.pat.all_revoked",
        "organization.licensing.quotas.reallocated",
    }
)

LOGIN_ERRORS: dict[str, tuple[str, ...]] = {
    "user.login": ("Invalid credentials",) * 4 + ("Invalid one-time password",),
    "user.sso.saml.login": (
        "SAML response expired",
        "SAML assertion signature invalid",
        "User not assigned to the application",
    ),
    "user.sso.oidc.login": ("OIDC ID token expired", "OIDC state mismatch"),
}

_ACTIVE = {"dev": 0.88, "security": 0.9, "admin": 0.85, "contractor": 0.6, "partner": 0.35}
_ACTIONS_PER_SESSION = {
    "dev": (3, 12),
    "security": (4, 14),
    "admin": (3, 9),
    "contractor": (2, 8),
    "partner": (1, 5),
}
_START_HOURS = {
    6: 2,
    7: 6,
    8: 9,
    9: 8,
    10: 6,
    11: 5,
    12: 5,
    13: 6,
    14: 6,
    15: 5,
    16: 3,
    17: 2,
    18: 1,
    19: 1,
    20: 1,
}


class _Background:
    def __init__(self, ctx: Ctx) -> None:
        self.ctx = ctx
        self.rng = ctx.rng
        self.used: dict[str, set[str]] = {}
        self.audit_exports: list[str] = []

    # ---- helpers ------------------------------------------------------------------------------
    def pick_ip(self, u: User, t: int) -> str:
        """An unused usual address first (so all are seen early), then office hours favour the office.

        An address counts as used once an event from it is kept (see ``_commit``).
        """
        seen = self.used.setdefault(u.id, set())
        for ip in u.ips:
            if ip not in seen:
                return ip
        office = [ip for ip in u.ips if ip.startswith("10.")]
        if office and weekday(t) < 5 and 7 <= (t % DAY) // HOUR < 17 and self.rng.random() < 0.75:
            return office[0]
        return self.rng.choice(u.ips)

    def admins(self) -> list[User]:
        return self.ctx.org.role("admin")

    # ---- milestones: one-off changes in working hours -----------------------------------------
    def milestones(self) -> None:
        ctx, rng = self.ctx, self.rng
        org = ctx.org
        a0, _, a2, a3 = self.admins()[:4]
        office = {u.id: u.ips[0] for u in org.users}

        def at(t: int, action: str, u: User, on: Scope, **kw: object) -> Draft:
            return ctx.emit(t, action, u, office[u.id], on, **kw)  # type: ignore[arg-type]

        # SAML: created, pending, applied the next working morning -> employees use SAML from then.
        t = ctx.slot(0.04, 10, 12, weekdays=True)
        idp = {
            "idp_entity_id": "http://www.okta.com/exk7acme0sso",
            "sso_url": "https://acme.okta.example/app/sso/saml",
        }
        at(t, "organization.sso.saml.setup.created", a0, on_org(org), details=dict(idp))
        at(
            t + rng.randint(3, 6) * MINUTE,
            "organization.sso.saml.setup.pending",
            a0,
            on_org(org),
            details={"status": "pending", "reason": "awaiting IdP metadata verification"},
        )
        applied = ctx.next_morning(t, 9, 5)
        at(
            applied,
            "organization.sso.saml.setup.applied",
            a0,
            on_org(org),
            details={**idp, "enforced": False},
        )
        ctx.saml_from = applied
        # OIDC (partners' identity provider, set up before the period): client secret rotated.
        at(
            ctx.slot(0.1, 14, 20, weekdays=True),
            "organization.sso.oidc.setup.applied",
            a0,
            on_org(org),
            details={
                "issuer": "https://id.partners.example/oauth2",
                "changes": [{"field": "client_secret", "old": "********", "new": "********"}],
            },
        )
        at(
            ctx.slot(0.15, 11, 0, weekdays=True),
            "organization.session_lifetime.updated",
            a0,
            on_org(org),
            details={"changes": [{"field": "session_lifetime", "old": 480, "new": 720}]},
        )
        at(
            ctx.slot(0.33, 10, 0, weekdays=True),
            "organization.licensing.cli_site_key.updated",
            a2,
            on_org(org),
            details={"key_name": "rl-secure-ci-2026", "expires_at": "2027-10-31T00:00:00Z"},
        )
        at(
            ctx.slot(0.34, 10, 25, weekdays=True),
            "organization.licensing.cli_site_key.deleted",
            a2,
            on_org(org),
            details={"key_name": "rl-secure-ci-2025"},
        )
        at(
            ctx.slot(0.7, 10, 5, weekdays=True),
            "organization.profile_configuration.imported",
            a0,
            on_org(org),
            details={"file_name": "profile-baseline.json"},
        )
        # Weekly audit exports by the compliance analyst; the previous one is deleted.
        sec0 = org.role("security")[0]
        self.audit_exports.append(new_uuid(rng))  # last export made before the period
        for d in range((ctx.end - ctx.start) // DAY):
            day = ctx.start + d * DAY
            if weekday(day) == 0:
                t = day + 8 * HOUR + 30 * MINUTE + rng.randrange(10 * MINUTE)
                export_id = new_uuid(rng)
                at(
                    t,
                    "organization.audit_export.created",
                    sec0,
                    on_org(org),
                    details={
                        "export_id": export_id,
                        "name": f"weekly-{iso(t)[:10]}",
                        "formats": ["ndjson", "cef"],
                        "datetime_start": iso(day - 7 * DAY)[:19] + "Z",
                        "datetime_end": iso(day)[:19] + "Z",
                    },
                )
                at(
                    t + 2 * MINUTE,
                    "organization.audit_export.deleted",
                    sec0,
                    on_org(org),
                    details={"export_id": self.audit_exports[-1]},
                )
                self.audit_exports.append(export_id)
        # A hackathon group lives and goes; a group limit is raised.
        g = Group(new_uuid(rng), "Hackathon 2026", "hackathon", 0.0)
        t = ctx.slot(0.3, 10, 40, weekdays=True)
        at(t, "group.created", a2, on_group(g))
        at(
            t + 20 * MINUTE,
            "group.updated",
            a2,
            on_group(g),
            details={"changes": [{"field": "description", "old": "", "new": "Autumn hackathon sandbox"}]},
        )
        at(max(ctx.slot(0.8, 15, 10, weekdays=True), t + HOUR), "group.deleted", a2, on_group(g))
        web = org.group("web")
        at(
            ctx.slot(0.5, 10, 30, weekdays=True),
            "group.licensing.limit.updated",
            a0,
            on_group(web),
            amount=100,
        )
        # A spike project: created, used, deleted.
        plat = org.group("platform")
        dev = (
            next(u for u in org.role("dev") if plat in u.groups)
            if any(plat in u.groups for u in org.role("dev"))
            else a2
        )
        t = ctx.slot(0.35, 11, 0, weekdays=True)
        spike = Project(new_uuid(rng), "platform-spike-wasm", plat, since=t)
        pkg = new_package(rng, spike, "spike-wasm-runtime")
        pkg.version_times = dict.fromkeys(pkg.versions, ctx.end)
        at(t, "project.created", dev, on_project(spike))
        at(t + 9 * MINUTE, "package.created", dev, on_package(pkg))
        ver = next_version(rng, pkg, t + 30 * MINUTE)
        req = ctx.new_req()
        at(
            t + 30 * MINUTE,
            "version.uploaded",
            dev,
            on_version(pkg, ver),
            details={
                "file_name": f"spike-wasm-runtime-{ver}.wasm",
                "file_size": 2_310_112,
                "sha256": f"{rng.getrandbits(256):064x}",
            },
            req=req,
        )
        at(t + 30 * MINUTE + 700, "version.upload_quota.spent", dev, on_version(pkg, ver), req=req, amount=1)
        t = max(ctx.slot(0.62, 15, 30, weekdays=True), t + 2 * HOUR)
        at(t, "version.deleted", a2, on_version(pkg, ver))
        at(t + 2 * MINUTE, "package.deleted", a2, on_package(pkg))
        at(t + 4 * MINUTE, "project.deleted", a2, on_project(spike))
        # A real new project in Web, used by CI afterwards.
        t = ctx.slot(0.45, 13, 10, weekdays=True)
        checkout = Project(new_uuid(rng), "web-checkout", web, since=t + HOUR)
        checkout.packages.append(new_package(rng, checkout, "checkout-ui"))
        web.projects.append(checkout)
        at(t, "project.created", a3, on_project(checkout))
        at(t + 6 * MINUTE, "package.created", a3, on_package(checkout.packages[0]))
        self.people(a0, a3)

    def people(self, a0: User, a3: User) -> None:
        """Invitations, SCIM provisioning, a removal, a self-service token wipe, a password reset."""
        ctx, rng = self.ctx, self.rng
        org = ctx.org
        scim = org.role("scim")[0]
        hires = iter(NEW_HIRE_IPS)
        # Two invited contractors (one needs a reminder); they join on acceptance.
        for frac, resend in ((0.25, True), (0.55, False)):
            t = ctx.slot(frac, 9, 40, weekdays=True)
            invitee = new_user(
                rng,
                f"ext.{org.spare_names.pop()}@{org.domain}",
                "contractor",
                "password",
                (next(hires),),
                (rng.choice(org.groups),),
            )
            ctx.emit(
                t,
                "user.invite.sent",
                a3,
                a3.ips[0],
                on_user(invitee),
                details={"invitee_email": invitee.email, "role": "member"},
            )
            if resend:
                t = ctx.next_morning(t, 9, 15)
                ctx.emit(
                    t,
                    "user.invite.resent",
                    a3,
                    a3.ips[0],
                    on_user(invitee),
                    details={"invitee_email": invitee.email},
                )
            t = ctx.next_morning(t, 10, 2)
            ctx.emit(t, "user.invite.accepted", invitee, invitee.ips[0], on_user(invitee))
            self.used[invitee.id] = {invitee.ips[0]}
            invitee.since = t
            org.users.append(invitee)
        # SCIM: a new employee arrives (first login the next day), a leaver is deprovisioned.
        t = ctx.slot(0.4, 7, 0, weekdays=True)
        hire = new_user(
            rng,
            f"{org.spare_names.pop()}@{org.domain}",
            "dev",
            "saml",
            (next(hires),),
            (rng.choice(org.groups),),
        )
        hire.since = t
        org.users.append(hire)
        ctx.emit(
            t,
            "user.scim.created",
            scim,
            scim.ips[0],
            on_user(hire),
            auth="API",
            details={"userName": hire.email, "active": True},
        )
        leaver = next(u for u in org.role("dev") if u.leaves)
        t = ctx.slot(0.6, 18, 5, weekdays=True)
        ctx.emit(
            t,
            "user.scim.deleted",
            scim,
            scim.ips[0],
            on_user(leaver),
            auth="API",
            details={"userName": leaver.email},
        )
        leaver.until = t
        # An admin removes a contractor whose contract ended.
        gone = next(u for u in org.role("contractor") if u.leaves)
        t = ctx.slot(0.9, 16, 0, weekdays=True)
        ctx.emit(t, "user.removed", a0, a0.ips[0], on_user(gone), details={"email": gone.email})
        gone.until = t
        # A developer wipes all their tokens (lost laptop); the PAT pass re-issues before next API use.
        owner = next(u for u in org.role("dev") if u.api and u is not leaver)
        t = ctx.slot(0.42, 15, 0, weekdays=True)
        ctx.emit(t, "user.pat.all_revoked", owner, owner.ips[0], on_user(owner), owner=owner)
        # A contractor resets a forgotten password.
        c = org.role("contractor")[2]
        t = ctx.slot(0.2, 8, 10, weekdays=True)
        ctx.emit(t, "user.password_reset_initiated", c, c.ips[0], on_user(c))
        ctx.emit(t + rng.randint(2, 9) * MINUTE, "user.password_reset_completed", c, c.ips[0], on_user(c))

    # ---- daily traffic -------------------------------------------------------------------------
    def day(self, day: int, first_weekday: bool) -> None:
        wd = weekday(day) < 5
        for g in self.ctx.org.groups:
            self.ci(g, day, wd)
        self.scim(day, wd)
        for u in list(self.ctx.org.users):
            if u.role in _ACTIVE:
                self.human_day(u, day, wd, first_weekday)

    def ci(self, g: Group, day: int, wd: bool) -> None:
        ctx, rng = self.ctx, self.rng
        bot = ctx.org.bot(g)
        if wd:
            n = max(0, round(rng.gauss(g.weekday_uploads, g.weekday_uploads * 0.3)))
            times = sorted(day + rng.randint(6 * HOUR, 19 * HOUR) for _ in range(n))
            times.insert(0, day + HOUR + rng.randrange(90 * MINUTE))  # nightly build
        else:
            times = sorted(day + rng.randrange(DAY) for _ in range(rng.choice((0, 1, 1, 2))))
        for t in times:
            ip = self.pick_ip(bot, t)
            if ctx.blocked(bot.id, t - MINUTE, t + 20 * MINUTE) or not version_upload(
                ctx, bot, t, ip, "API", group=g
            ):
                continue
            self.used.setdefault(bot.id, set()).add(ip)
            t2 = t + rng.randint(3, 15) * MINUTE
            for fmt, p in (
                ("rl-json", 0.6),
                ("cyclonedx", 0.35),
                ("sarif", 0.25),
                ("rl-checks", 0.15),
                ("spdx", 0.1),
            ):
                if rng.random() < p:
                    t2 += rng.randint(2, 40) * SECOND
                    last = ctx.buf[-1]
                    if last.action == "version.upload_quota.spent" and last.version is not None:
                        pk = next(pk for p_ in g.projects for pk in p_.packages if pk.name == last.package)
                        ctx.emit(
                            t2,
                            f"version.report.{fmt}.exported",
                            bot,
                            ip,
                            on_version(pk, last.version),
                            auth="API",
                            details={"format": fmt},
                        )
            if rng.random() < 0.2:
                ACTIVITY["version.downloaded"](ctx, bot, t2 + MINUTE, ip, "API")
            if rng.random() < 0.08:
                file_upload(ctx, bot, t2 + 2 * MINUTE, ip, "API", group=g)

    def scim(self, day: int, wd: bool) -> None:
        ctx, rng = self.ctx, self.rng
        scim = ctx.org.role("scim")[0]
        t = day + rng.randrange(30 * MINUTE)
        people = [u for u in ctx.org.users if u.login == "saml"]
        while t < day + DAY:
            who = rng.choice(people)
            ip = self.pick_ip(scim, t)
            self.used.setdefault(scim.id, set()).add(ip)
            ctx.emit(
                t,
                "user.scim.search",
                scim,
                ip,
                Scope(None, None),
                auth="API",
                details={"filter": f'userName eq "{who.email}"', "results": 1 if who.alive(t) else 0},
            )
            t += rng.randint(35, 55) * MINUTE + rng.randrange(MINUTE)
        if wd and rng.random() < 0.5:
            t = day + rng.randint(7 * HOUR, 17 * HOUR)
            who = rng.choice([u for u in people if u.alive(t)])
            field = rng.choice(("title", "department", "manager"))
            ctx.emit(
                t,
                "user.scim.updated",
                scim,
                self.pick_ip(scim, t),
                on_user(who),
                auth="API",
                details={"changes": [{"field": field, "old": "previous", "new": "current"}]},
            )

    def human_day(self, u: User, day: int, wd: bool, first_weekday: bool) -> None:
        rng = self.rng
        p = _ACTIVE[u.role] if wd else 0.06
        new_today = u.since is not None and day <= u.since < day + DAY
        if (rng.random() >= p and not (first_weekday and u.since is None)) or new_today:
            return
        n = 1 + (rng.random() < 0.6) + (rng.random() < 0.25)
        if first_weekday and u.since is None:
            n = max(n, len(u.ips))
        hour = rng.choices(list(_START_HOURS), weights=list(_START_HOURS.values()))[0]
        t = day + hour * HOUR + rng.randrange(HOUR)
        for _ in range(n):
            if t >= day + 23 * HOUR:
                break
            t = self.session(u, t) + rng.randint(30, 180) * MINUTE
        if u.api and wd and rng.random() < 0.2:
            self.api_burst(u, day + rng.randint(8 * HOUR, 18 * HOUR))

    def session(self, u: User, t: int) -> int:
        """One login ... logout; returns the session's end. Dropped whole if it hits a quiet window."""
        ctx, rng = self.ctx, self.rng
        if not u.alive(t):
            return t
        saved, ctx.buf = ctx.buf, []
        ip = self.pick_ip(u, t)
        login = ctx.login_action(u, t)
        if rng.random() < 0.05:
            ctx.emit(t, login, u, ip, on_user(u), error=rng.choice(LOGIN_ERRORS[login]))
            if rng.random() < 0.12:  # gives up
                end = t
                self._commit(saved, u, t, end)
                return end
            t += rng.randint(20, 120) * SECOND
        ctx.emit(t, login, u, ip, on_user(u))
        weights = ROLE_WEIGHTS[u.role]
        lo, hi = _ACTIONS_PER_SESSION[u.role]
        for _ in range(rng.randint(lo, hi)):
            t += rng.randint(1, 20) * MINUTE + rng.randrange(MINUTE)
            action = rng.choices(list(weights), weights=list(weights.values()))[0]
            ACTIVITY[action](ctx, u, t, ip, "PORTAL")
        if rng.random() < 0.5:
            t += rng.randint(1, 5) * MINUTE
            ctx.emit(t, "user.logout", u, ip, on_user(u))
        self._commit(saved, u, ctx.buf[0].t if ctx.buf else t, t)
        return t

    def _commit(self, saved: list[Draft], u: User, a: int, b: int) -> None:
        ctx = self.ctx
        keep = u.alive(b) and not ctx.blocked(u.id, a - MINUTE, b + MINUTE)
        if keep:
            self.used.setdefault(u.id, set()).update(d.ip for d in ctx.buf)
        ctx.buf = saved + ctx.buf if keep else saved

    def api_burst(self, u: User, t: int) -> None:
        """A person's scripts using the API with a token, from a usual address, no login."""
        ctx, rng = self.ctx, self.rng
        saved, ctx.buf = ctx.buf, []
        ip = self.pick_ip(u, t)
        t0 = t
        for _ in range(rng.randint(2, 5)):
            t += rng.randint(10, 300) * SECOND
            action = rng.choice(
                (
                    "version.downloaded",
                    "version.downloaded",
                    "version.report.rl-json.exported",
                    "version.report.cyclonedx.exported",
                    "version.report.sarif.exported",
                    "version.uploaded",
                )
            )
            ACTIVITY[action](ctx, u, t, ip, "API")
        self._commit(saved, u, t0, t)

    # ---- make sure every background action occurs at least once --------------------------------
    def coverage(self) -> None:
        ctx = self.ctx
        org = ctx.org
        present = {d.action for d in ctx.buf}
        actors = {
            "user.password_changed": org.role("contractor")[2],
            "user.pat.revoked": next(u for u in org.role("dev") if u.api and not u.leaves),
        }
        k = 0
        for action in sorted(ACTIONS):
            # a revocation may still be dropped later (no token left, too close to another): always add one
            if (
                (action in present and action != "user.pat.revoked")
                or action in INCIDENT_ONLY
                or action not in ACTIVITY
            ):
                continue
            k += 1
            who = actors.get(action, self.admins()[1])
            t = ctx.slot(0.5, 14, 0, weekdays=True) + k * 3 * MINUTE
            if ctx.blocked(who.id, t - HOUR, t + HOUR):
                continue
            if action == "user.pat.revoked":  # make sure there is a token to revoke
                ACTIVITY["user.pat.created"](ctx, who, t - 30 * MINUTE, who.ips[0], "PORTAL")
            ACTIVITY[action](ctx, who, t, who.ips[0], "PORTAL")


def background(ctx: Ctx) -> None:
    """Emit the whole background of the period into ``ctx.buf``."""
    bg = _Background(ctx)
    bg.milestones()
    seen_weekday = False
    for d in range((ctx.end - ctx.start) // DAY):
        day = ctx.start + d * DAY
        first = weekday(day) < 5 and not seen_weekday
        seen_weekday = seen_weekday or first
        bg.day(day, first)
    bg.coverage()
