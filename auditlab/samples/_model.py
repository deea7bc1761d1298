"""The sample organisation and the event drafts the generators emit.

Times are integer milliseconds since the epoch (UTC) throughout, so ordering and
arithmetic are exact. A :class:`Draft` is an event before ids are assigned; the
passes in ``_passes.py`` turn sorted drafts into Portal-shaped records.

Examples:
    >>> iso(0)
    '1970-01-01T00:00:00.000Z'
    >>> ms_of("2026-11-01T00:00:00Z")
    1793491200000
    >>> weekday(ms_of("2026-11-01T00:00:00Z"))  # Sunday
    6
"""

from __future__ import annotations

import random
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime

__all__ = [
    "DAY",
    "HOUR",
    "MINUTE",
    "SECOND",
    "Draft",
    "Group",
    "Org",
    "Package",
    "Project",
    "StoredFile",
    "User",
    "hour_of",
    "iso",
    "ms_of",
    "new_uuid",
    "weekday",
]

SECOND = 1000
MINUTE = 60 * SECOND
HOUR = 60 * MINUTE
DAY = 24 * HOUR


def new_uuid(rng: random.Random) -> str:
    """A version-4 UUID drawn from ``rng`` (never from the OS)."""
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


def iso(ms: int) -> str:
    """``2026-10-05T12:34:56.789Z`` for a time in epoch milliseconds."""
    dt = datetime.fromtimestamp(ms // 1000, tz=UTC)
    return dt.strftime("%Y-%m-%dT%H:%M:%S") + f".{ms % 1000:03d}Z"


def ms_of(value: str | datetime) -> int:
    """Epoch milliseconds of an ISO 8601 string or a datetime (naive means UTC)."""
    dt = datetime.fromisoformat(value) if isinstance(value, str) else value
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return int(dt.timestamp() * 1000)


def weekday(ms: int) -> int:
    """Day of the week, Monday 0 ... Sunday 6."""
    return datetime.fromtimestamp(ms // 1000, tz=UTC).weekday()


def hour_of(ms: int) -> int:
    """Hour of the day (UTC)."""
    return (ms % DAY) // HOUR


@dataclass(eq=False, slots=True)
class Package:
    """A package in a project; ``versions`` are the names uploaded so far."""

    id: str
    name: str
    project: Project
    versions: list[str]
    version_ids: dict[str, str]
    semver: list[int]
    version_times: dict[str, int] = field(default_factory=dict)

    def released(self, t: int, n: int = 4) -> list[str]:
        """The last ``n`` versions uploaded before ``t``."""
        return [v for v in self.versions if self.version_times.get(v, 0) < t][-n:]


@dataclass(eq=False, slots=True)
class Project:
    """A project in a group, alive in ``[since, until)`` (None: the whole period)."""

    id: str
    name: str
    group: Group
    packages: list[Package] = field(default_factory=list)
    since: int | None = None
    until: int | None = None


@dataclass(eq=False, slots=True)
class Group:
    """A group: projects, a CI bot and a baseline of uploads per weekday."""

    id: str
    name: str
    slug: str
    weekday_uploads: float
    projects: list[Project] = field(default_factory=list)

    def daily_uploads(self) -> float:
        """Expected quota spent a day (CI on weekdays, nightly builds, people)."""
        return self.weekday_uploads * 5 / 7 + 2.5


@dataclass(eq=False, slots=True)
class StoredFile:
    """A file-stream file (uploaded outside a project)."""

    id: str
    name: str
    group: Group


@dataclass(eq=False, slots=True)
class User:
    """A Portal user. ``login`` is how they sign in: saml, oidc, password, or None (no UI).

    ``leaves`` marks the accounts the background deprovisions or removes during the period.
    """

    id: str
    email: str
    role: str
    login: str | None
    ips: tuple[str, ...]
    groups: tuple[Group, ...]
    api: bool = False
    since: int | None = None
    until: int | None = None
    tokens: int = 0
    leaves: bool = False

    def alive(self, ms: int) -> bool:
        """Whether the account exists at ``ms``."""
        return (self.since is None or ms >= self.since) and (self.until is None or ms < self.until)


@dataclass(eq=False, slots=True)
class Org:
    """The organisation: users by role, groups, and the id of the organisation itself."""

    id: str
    name: str
    domain: str
    users: list[User]
    groups: list[Group]
    spare_names: list[str] = field(default_factory=list)

    def role(self, role: str) -> list[User]:
        """Users with ``role``, in creation order."""
        return [u for u in self.users if u.role == role]

    def group(self, slug: str) -> Group:
        """The group with ``slug``."""
        return next(g for g in self.groups if g.slug == slug)

    def bot(self, group: Group) -> User:
        """The CI account that uploads for ``group``."""
        return next(u for u in self.users if u.role == "ci" and u.groups == (group,))


@dataclass(eq=False, slots=True)
class Draft:
    """One event before ids are assigned. ``incident``/``related`` tag planted events."""

    t: int
    action: str
    user: User
    ip: str
    auth: str = "PORTAL"
    target_id: str | None = None
    target_name: str | None = None
    group: Group | None = None
    project: str | None = None
    package: str | None = None
    version: str | None = None
    details: dict[str, object] | None = None
    error: str | None = None
    incident: str | None = None
    related: str | None = None
    req: int = 0
    owner: User | None = None
    amount: int = 0
    group2: Group | None = None
    seq: int = 0
