"""The 85 actions the Portal documents, their target types and families.

An action is ``<target>.<verb...>``; the target is one of :data:`TARGET_TYPES`.
The family groups actions for the investigations (login, pat, sso, quota, ...).

Examples:
    >>> len(ACTIONS)
    85
    >>> ACTIONS["user.pat.revoked"]
    ActionInfo(action='user.pat.revoked', target_type='user', family='pat')
    >>> suggest_actions("user.pat.revoke")[0]
    'user.pat.revoked'
    >>> normalize_outcome("Unsuccessful"), normalize_auth_context("PUBLIC_API")
    ('failure', 'api')
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from importlib.resources import files

__all__ = [
    "ACTIONS",
    "API",
    "AUTH_CONTEXT_SPELLINGS",
    "FAMILIES",
    "LOGIN_ACTIONS",
    "OUTCOME_SPELLINGS",
    "PORTAL",
    "TARGET_TYPES",
    "ActionInfo",
    "actions_in_family",
    "normalize_auth_context",
    "normalize_outcome",
    "suggest_actions",
]

TARGET_TYPES: tuple[str, ...] = (
    "organization",
    "group",
    "project",
    "package",
    "version",
    "filestream_file",
    "user",
)


@dataclass(frozen=True, slots=True)
class ActionInfo:
    """One Portal action: its name, the type of its target and its family."""

    action: str
    target_type: str
    family: str


# Ordered rules: the first (substring test) that matches names the family.
_FAMILY_RULES: tuple[tuple[str, str], ...] = (
    ("user.sso.", "login"),
    (".pat.", "pat"),
    (".sso.", "sso"),
    ("session_lifetime", "sso"),
    ("upload_quota", "quota"),
    ("licensing.quotas", "quota"),
    ("licensing.limit", "quota"),
    ("cli_site_key", "licensing"),
    ("user.login", "login"),
    ("user.logout", "login"),
    ("password", "login"),
    ("user.invite", "user_lifecycle"),
    ("user.scim", "user_lifecycle"),
    ("user.removed", "user_lifecycle"),
    ("user.updated", "user_lifecycle"),
    ("audit_export", "audit_export"),
    ("policy_configuration", "configuration"),
    ("profile_configuration", "configuration"),
    (".report.", "report"),
    (".approval.", "approval"),
    ("release_status", "approval"),
    ("downloaded", "download"),
)


def _family(action: str) -> str:
    probe = action + "."
    for needle, family in _FAMILY_RULES:
        if needle in probe:
            return family
    return "resource"  # created/updated/deleted/uploaded/imported/moved of a target


def _load() -> dict[str, ActionInfo]:
    text = files("auditlab.data").joinpath("portal_actions.txt").read_text(encoding="utf-8")
    out: dict[str, ActionInfo] = {}
    for line in text.splitlines():
        name = line.strip()
        if name:
            target = name.split(".", 1)[0]
            out[name] = ActionInfo(name, target, _family(name))
    return out


#: action name -> :class:`ActionInfo`, for every action the Portal documents.
ACTIONS: dict[str, ActionInfo] = _load()

#: Every family used by :data:`ACTIONS`.
FAMILIES: tuple[str, ...] = tuple(sorted({a.family for a in ACTIONS.values()}))


def actions_in_family(family: str) -> tuple[str, ...]:
    """The catalog actions of one family, sorted.

    Examples:
        >>> actions_in_family("pat")
        ('organization.pat.all_revoked', 'user.pat.all_revoked', 'user.pat.created', 'user.pat.revoked')
    """
    return tuple(sorted(a for a, info in ACTIONS.items() if info.family == family))


def suggest_actions(name: str, n: int = 3) -> list[str]:
    """The catalog actions closest to ``name`` (for "did you mean ...?")."""
    return difflib.get_close_matches(name, list(ACTIONS), n=n, cutoff=0.6)


#: lower-cased input spelling -> canonical outcome. Unknown spellings are kept as given.
OUTCOME_SPELLINGS: dict[str, str] = {
    **dict.fromkeys(
        ["success", "successful", "succeeded", "succeed", "ok", "true", "1", "pass", "passed", "allowed"],
        "success",
    ),
    **dict.fromkeys(
        ["failure", "unsuccessful", "failed", "fail", "false", "0", "error", "denied", "rejected"],
        "failure",
    ),
}

#: The canonical authentication contexts: a person in the Portal's web UI, or a token on the API.
PORTAL, API = "portal", "api"
#: lower-cased input spelling -> canonical authentication context (:data:`PORTAL` or :data:`API`).
AUTH_CONTEXT_SPELLINGS: dict[str, str] = {
    **dict.fromkeys(["portal", "ui", "web", "portal_ui", "portal ui", "browser", "session"], PORTAL),
    **dict.fromkeys(
        ["api", "public_api", "public api", "rest", "pat", "token", "portal_api", "portal api", "api_token"],
        API,
    ),
}
#: The actions that authenticate a user (password, SAML and OIDC logins); their failures are failed logins.
LOGIN_ACTIONS: tuple[str, ...] = ("user.login", "user.sso.saml.login", "user.sso.oidc.login")


def normalize_outcome(value: str | None) -> str | None:
    """``success``/``failure`` from any common spelling; unknown values kept as given."""
    if value is None:
        return None
    return OUTCOME_SPELLINGS.get(value.strip().lower(), value)


def normalize_auth_context(value: str | None) -> str | None:
    """``portal``/``api`` from any common spelling; unknown values kept as given."""
    if value is None:
        return None
    return AUTH_CONTEXT_SPELLINGS.get(value.strip().lower(), value)
