"""The generation context: RNG, organisation, period, draft buffer and the shared timeline.

The incident planner fills the timeline first (SSO switched off, quiet windows for the
users and groups an incident needs undisturbed); the background consults it.

Examples:
    >>> import random
    >>> from auditlab.samples._org import build_org
    >>> ctx = Ctx(random.Random(1), build_org(random.Random(2)), 0, 10 * DAY)
    >>> t = ctx.slot(0.5, 9, 30, weekdays=True)
    >>> (t % DAY) // MINUTE == 9 * 60 + 30, weekday(t) < 5
    (True, True)
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from auditlab.samples._model import (
    DAY,
    HOUR,
    MINUTE,
    Draft,
    Group,
    Org,
    Package,
    Project,
    StoredFile,
    User,
    weekday,
)

__all__ = [
    "Ctx",
    "Scope",
    "on_file",
    "on_group",
    "on_org",
    "on_package",
    "on_project",
    "on_user",
    "on_version",
]


@dataclass(frozen=True, slots=True)
class Scope:
    """What an event is about: its target and the group/project/package/version it sits in."""

    target_id: str | None
    target_name: str | None
    group: Group | None = None
    project: str | None = None
    package: str | None = None
    version: str | None = None


def on_org(org: Org) -> Scope:
    """The organisation as target."""
    return Scope(org.id, org.name)


def on_group(g: Group) -> Scope:
    """A group as target."""
    return Scope(g.id, g.name, g)


def on_project(p: Project) -> Scope:
    """A project as target."""
    return Scope(p.id, p.name, p.group, p.name)


def on_package(pk: Package) -> Scope:
    """A package as target."""
    p = pk.project
    return Scope(pk.id, pk.name, p.group, p.name, pk.name)


def on_version(pk: Package, version: str) -> Scope:
    """A version of ``pk`` as target."""
    p = pk.project
    return Scope(pk.version_ids[version], version, p.group, p.name, pk.name, version)


def on_file(f: StoredFile) -> Scope:
    """A file-stream file as target."""
    return Scope(f.id, f.name, f.group)


def on_user(u: User) -> Scope:
    """A user as target (named by email)."""
    return Scope(u.id, u.email)


class Ctx:
    """Shared state of one generation run."""

    def __init__(self, rng: random.Random, org: Org, start: int, end: int) -> None:
        self.rng = rng
        self.org = org
        self.start = start
        self.end = end
        self.buf: list[Draft] = []
        self.blackouts: dict[str, list[tuple[int, int]]] = {}
        self.sso_off: list[tuple[int, int]] = []
        self.saml_from: int | None = None
        self.files: dict[str, list[StoredFile]] = {}
        self.quota_burst: tuple[Group, int, int] | None = None
        self._seq = 0
        self._req = 0

    # ---- the timeline -------------------------------------------------------------------
    def quiet(self, key: str, a: int, b: int) -> None:
        """Keep background events of ``key`` (a user id or ``group:<id>``) out of ``[a, b]``."""
        self.blackouts.setdefault(key, []).append((a, b))

    def blocked(self, key: str, a: int, b: int) -> bool:
        """Whether ``[a, b]`` overlaps a quiet window of ``key``."""
        return any(a <= y and x <= b for x, y in self.blackouts.get(key, ()))

    def login_action(self, u: User, t: int) -> str:
        """The login action ``u`` uses at ``t`` (SSO users fall back to passwords when it is off)."""
        sso_off = any(a <= t < b for a, b in self.sso_off)
        if u.login == "saml" and self.saml_from is not None and t >= self.saml_from and not sso_off:
            return "user.sso.saml.login"
        if u.login == "oidc" and not sso_off:
            return "user.sso.oidc.login"
        return "user.login"

    def slot(self, frac: float, hh: int, mm: int, *, weekdays: bool = False, sunday: bool = False) -> int:
        """A time ``hh:mm`` on the day at ``frac`` of the period, moved to a weekday/Sunday if asked.

        Searches forward, then backward, staying inside the period.
        """
        days = (self.end - self.start) // DAY
        base = min(int(frac * days), days - 1)
        order: list[int] = [*range(base, days), *range(base - 1, -1, -1)]
        for d in order:
            day = self.start + d * DAY
            wd = weekday(day)
            if (weekdays and wd >= 5) or (sunday and wd != 6):
                continue
            return day + hh * HOUR + mm * MINUTE + self.rng.randrange(60_000)
        return self.start + base * DAY + hh * HOUR + mm * MINUTE

    def next_morning(self, t: int, hh: int, mm: int) -> int:
        """``hh:mm`` on the first weekday after ``t``'s day (or 6 h after ``t`` at the period's end)."""
        day = t - t % DAY + DAY
        while day < self.end - DAY and weekday(day) >= 5:
            day += DAY
        cand = day + hh * HOUR + mm * MINUTE + self.rng.randrange(60_000)
        return cand if cand < self.end else min(t + 6 * HOUR, self.end - MINUTE)

    # ---- emitting -----------------------------------------------------------------------
    def new_req(self) -> int:
        """A fresh request key (events of one request share a request id)."""
        self._req += 1
        return self._req

    def emit(
        self,
        t: int,
        action: str,
        user: User,
        ip: str,
        on: Scope,
        *,
        auth: str = "PORTAL",
        details: dict[str, object] | None = None,
        error: str | None = None,
        req: int = 0,
        owner: User | None = None,
        amount: int = 0,
        group2: Group | None = None,
    ) -> Draft:
        """Append one draft to the buffer and return it."""
        self._seq += 1
        d = Draft(
            t,
            action,
            user,
            ip,
            auth,
            on.target_id,
            on.target_name,
            on.group,
            on.project,
            on.package,
            on.version,
            details,
            error,
            req=req or self.new_req(),
            owner=owner,
            amount=amount,
            group2=group2,
            seq=self._seq,
        )
        self.buf.append(d)
        return d
