"""Build the sample organisation ``acme.example`` from a seeded RNG.

About 50 accounts at the start (a few more join during the period): admins, security analysts, developers (SAML after it is set up),
contractors (password logins), partners (OIDC), one CI bot per group (API only) and a
SCIM provisioning account. Every human has one to three usual IP addresses; attacker
addresses (``203.0.113.0/24`` and ``198.51.100.200-254``) are never given to anyone.

Examples:
    >>> import random
    >>> org = build_org(random.Random("7:org"))
    >>> len(org.users), len(org.groups), org.domain
    (51, 6, 'acme.example')
    >>> org.bot(org.group("mobile")).email
    'ci-mobile@acme.example'
"""

from __future__ import annotations

import random

from auditlab.samples._model import Group, Org, Package, Project, User, new_uuid

__all__ = ["NEW_HIRE_IPS", "OFFICE_IPS", "SCIM_IPS", "build_org", "new_package", "new_user", "next_version"]

DOMAIN = "acme.example"
OFFICE_IPS = ("10.10.0.1", "10.10.0.2", "10.20.0.1")
_RUNNER_IPS = ("10.30.0.11", "10.30.0.12", "10.30.0.13", "10.30.0.14", "10.30.0.15", "10.30.0.16")
SCIM_IPS = ("192.0.2.250", "192.0.2.251")
#: addresses kept for accounts created during the period
NEW_HIRE_IPS = ("192.0.2.241", "192.0.2.242", "192.0.2.243", "192.0.2.244")

_FIRST = (
    "anna",
    "ben",
    "carla",
    "david",
    "elena",
    "felix",
    "greta",
    "hugo",
    "ines",
    "jonas",
    "karin",
    "lukas",
    "maria",
    "nils",
    "olga",
    "paul",
    "rosa",
    "simon",
    "tara",
    "uwe",
    "vera",
    "walter",
    "xenia",
    "yusuf",
    "zoe",
    "adrian",
    "bianca",
    "conrad",
    "dora",
    "emil",
    "fiona",
    "georg",
    "hanna",
    "ivan",
    "julia",
    "kai",
    "lena",
    "marco",
    "nora",
    "oskar",
    "petra",
    "quentin",
    "ruth",
    "stefan",
    "tilda",
    "alma",
    "bruno",
    "clara",
)
_LAST = (
    "adler",
    "bauer",
    "conti",
    "dietz",
    "eckert",
    "fischer",
    "graf",
    "hahn",
    "illes",
    "jung",
    "kraus",
    "lang",
    "meyer",
    "novak",
    "ortiz",
    "peters",
    "quast",
    "roth",
    "schmid",
    "thiel",
    "ulrich",
    "vogel",
    "wagner",
    "xu",
    "yilmaz",
    "zimmer",
    "berger",
    "keller",
    "lorenz",
    "marx",
    "nagel",
    "otto",
    "pohl",
    "ritter",
    "sauer",
)

# slug, display name, CI uploads per weekday, project names
_GROUPS: tuple[tuple[str, str, float, tuple[str, ...]], ...] = (
    ("platform", "Platform", 12.0, ("platform-core", "platform-auth", "platform-infra")),
    ("payments", "Payments", 8.0, ("payments-gateway", "payments-ledger")),
    ("mobile", "Mobile", 6.0, ("mobile-android", "mobile-ios", "mobile-sdk")),
    ("data", "Data Science", 4.0, ("data-pipeline", "data-models")),
    ("web", "Web", 9.0, ("web-storefront", "web-admin", "web-widgets")),
    ("firmware", "Firmware", 3.0, ("firmware-gateway", "firmware-sensor")),
)
_PKG_SUFFIX = ("api", "worker", "cli", "lib", "agent", "ui", "bundle", "sdk")


def new_package(rng: random.Random, project: Project, name: str) -> Package:
    """A package with a few historic versions."""
    semver = [rng.randint(1, 4), rng.randint(0, 12), rng.randint(0, 20)]
    pkg = Package(new_uuid(rng), name, project, [], {}, semver)
    for _ in range(3):
        _bump(rng, pkg)
    return pkg


def _bump(rng: random.Random, pkg: Package, t: int = 0) -> str:
    major, minor, patch = pkg.semver
    if rng.random() < 0.1:
        minor, patch = minor + 1, 0
    else:
        patch += 1
    pkg.semver = [major, minor, patch]
    name = f"{major}.{minor}.{patch}"
    pkg.versions.append(name)
    pkg.version_ids[name] = new_uuid(rng)
    pkg.version_times[name] = t
    return name


def next_version(rng: random.Random, pkg: Package, t: int) -> str:
    """Register (as uploaded at ``t``) and return the next version name of ``pkg``."""
    return _bump(rng, pkg, t)


class _IPs:
    """Hands out distinct home addresses from the documentation ranges."""

    def __init__(self, rng: random.Random) -> None:
        pool = [f"192.0.2.{i}" for i in range(10, 240)] + [f"198.51.100.{i}" for i in range(10, 190)]
        rng.shuffle(pool)
        self._pool = pool

    def take(self) -> str:
        return self._pool.pop()


def new_user(
    rng: random.Random,
    email: str,
    role: str,
    login: str | None,
    ips: tuple[str, ...],
    groups: tuple[Group, ...],
    *,
    api: bool = False,
    since: int | None = None,
) -> User:
    """A user with a fresh id."""
    return User(new_uuid(rng), email, role, login, ips, groups, api=api, since=since)


def build_org(rng: random.Random) -> Org:
    """The organisation for one seed: users, groups, projects, packages."""
    groups: list[Group] = []
    for slug, name, rate, projects in _GROUPS:
        g = Group(new_uuid(rng), name, slug, rate)
        for pname in projects:
            p = Project(new_uuid(rng), pname, g)
            stem = pname.split("-", 1)[1]
            for suffix in rng.sample(_PKG_SUFFIX, rng.randint(2, 3)):
                p.packages.append(new_package(rng, p, f"{stem}-{suffix}"))
            g.projects.append(p)
        groups.append(g)

    names = [f"{f}.{last}" for f, last in zip(rng.sample(_FIRST, 47), rng.sample(_LAST * 2, 47), strict=True)]
    homes = _IPs(rng)
    users: list[User] = []

    def staff(n: int, role: str, *, api_share: float, all_groups: bool) -> None:
        for _ in range(n):
            local = names.pop()
            office = rng.choice(OFFICE_IPS)
            ips = (office, *(homes.take() for _ in range(rng.choice((1, 1, 2)))))
            mine = tuple(groups) if all_groups else tuple(rng.sample(groups, rng.choice((1, 1, 2))))
            users.append(
                new_user(rng, f"{local}@{DOMAIN}", role, "saml", ips, mine, api=rng.random() < api_share)
            )

    staff(4, "admin", api_share=0.5, all_groups=True)
    staff(6, "security", api_share=0.3, all_groups=True)
    staff(24, "dev", api_share=0.4, all_groups=False)
    for _ in range(5):
        ips = tuple(homes.take() for _ in range(rng.choice((1, 2))))
        local = f"ext.{names.pop()}"
        users.append(new_user(rng, f"{local}@{DOMAIN}", "contractor", "password", ips, (rng.choice(groups),)))
    for _ in range(5):
        ips = tuple(homes.take() for _ in range(rng.choice((1, 2))))
        local = f"partner.{names.pop()}"
        users.append(new_user(rng, f"{local}@{DOMAIN}", "partner", "oidc", ips, (rng.choice(groups),)))
    for i, g in enumerate(groups):
        runners = (_RUNNER_IPS[i], _RUNNER_IPS[(i + 1) % len(_RUNNER_IPS)])
        users.append(new_user(rng, f"ci-{g.slug}@{DOMAIN}", "ci", None, runners, (g,), api=True))
    users.append(new_user(rng, f"scim-okta@{DOMAIN}", "scim", None, SCIM_IPS, (), api=True))
    for u in users:
        u.tokens = 2 if u.role == "ci" else (1 if u.api else 0)
    [u for u in users if u.role == "dev"][-2].leaves = True
    [u for u in users if u.role == "contractor"][-1].leaves = True
    return Org(new_uuid(rng), "acme", DOMAIN, users, groups, spare_names=names)
