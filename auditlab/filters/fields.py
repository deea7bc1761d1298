"""The one field table: every filterable field, by Portal label, API name and alias.

A field's ``name`` is its canonical column (DESIGN §3), which is also the Portal API's word where
the API has a filter for it. Everything else (the text form, the compilers, the API pushdown,
the docs test) derives from :data:`FIELDS`.

Examples:
    >>> resolve_field("Target Type").name
    'resource_type'
    >>> resolve_field("target_name").label
    'Target Name'
    >>> sorted(FIELDS["group_id"].api_ops)
    ['is', 'is_any']
    >>> FIELDS["outcome"].normalize("Unsuccessful")
    'failure'
    >>> fold_ascii("Alice@Example.COM")
    'alice@example.com'
"""

from __future__ import annotations

import re
import string
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from auditlab.catalog import normalize_auth_context, normalize_outcome
from auditlab.errors import UnknownFieldError
from auditlab.schema import COLUMNS

__all__ = [
    "ALL_OPS",
    "ASCII_LOWER",
    "ASCII_UPPER",
    "FIELDS",
    "FieldSpec",
    "field_key",
    "fold_ascii",
    "resolve_field",
]

#: Every operator, in the API's words (the values of :class:`auditlab.filters.model.Op`).
ALL_OPS: frozenset[str] = frozenset({"is", "is_not", "is_any", "is_not_any"})

ASCII_UPPER = string.ascii_uppercase
ASCII_LOWER = string.ascii_lowercase
_FOLD = str.maketrans(ASCII_UPPER, ASCII_LOWER)


def fold_ascii(value: str) -> str:
    """Lower-case ASCII letters only (A-Z to a-z); every other character is kept.

    This is the case-insensitive comparison of :attr:`FieldSpec.casefold` fields. It is the same
    in Python, DuckDB and Polars, whose Unicode ``lower()`` differ (e.g. on ``İ`` and final ``Σ``).

    Examples:
        >>> fold_ascii("ÄBC@X.org")
        'Äbc@x.org'
    """
    return value.translate(_FOLD)


def _ident(value: str) -> str:
    return value


@dataclass(frozen=True, slots=True)
class FieldSpec:
    """One filterable field.

    Attributes:
        name: canonical column; the API's word where the API filters on it.
        label: as the Portal UI shows it ("Target Type"), or a readable label for API-only fields.
        aliases: other accepted names (``target_type``).
        api_ops: operators the Portal API applies server-side (empty: not an API filter).
        portal_ui: the Portal's *View Audit Logs* page offers this filter.
        casefold: compare ASCII letters case-insensitively (see :func:`fold_ascii`).
        normalize: maps a typed value to the canonical one (``successful`` -> ``success``).
        api_values: canonical value -> the API's word, where they differ.
        requires: another field that must also be filtered (Target Name needs Target Type).
    """

    name: str
    label: str
    aliases: tuple[str, ...] = ()
    api_ops: frozenset[str] = frozenset()
    portal_ui: bool = False
    casefold: bool = False
    normalize: Callable[[str], str] = _ident
    api_values: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    requires: str | None = None

    @property
    def api_name(self) -> str | None:
        """The Portal API's ``filter_by`` word, or ``None`` if the API cannot filter on it."""
        return self.name if self.api_ops else None


def _outcome(value: str) -> str:
    return normalize_outcome(value) or value


def _auth_context(value: str) -> str:
    return normalize_auth_context(value) or value


_ALL = ALL_OPS
_IS = frozenset({"is"})

#: Canonical value -> the word sent to the Portal API. The API's exact words are not documented;
#: we send the Portal's own labels ("successful"/"unsuccessful", "portal"/"api"). One table, here.
API_OUTCOME = MappingProxyType({"success": "successful", "failure": "unsuccessful"})
API_AUTH_CONTEXT = MappingProxyType({"portal": "portal", "api": "api"})

_SPECS: tuple[FieldSpec, ...] = (
    FieldSpec("action", "Action", api_ops=_ALL, portal_ui=True),
    FieldSpec("outcome", "Outcome", api_ops=_IS, portal_ui=True, normalize=_outcome, api_values=API_OUTCOME),
    FieldSpec("user_email", "User Email", ("email",), api_ops=_IS, portal_ui=True, casefold=True),
    FieldSpec(
        "auth_context",
        "Authentication Context",
        ("authentication_context",),
        api_ops=_IS,
        portal_ui=True,
        normalize=_auth_context,
        api_values=API_AUTH_CONTEXT,
    ),
    FieldSpec("resource_type", "Target Type", ("target_type",), api_ops=_ALL, portal_ui=True),
    FieldSpec("resource_name", "Target Name", ("target_name",), portal_ui=True, requires="resource_type"),
    FieldSpec("group_name", "Group Name", portal_ui=True),
    FieldSpec("project_name", "Project Name", portal_ui=True),
    FieldSpec("package_name", "Package Name", portal_ui=True),
    FieldSpec("user_id", "User ID", api_ops=_IS),
    FieldSpec("resource_id", "Target ID", ("target_id",), api_ops=_IS),
    FieldSpec("group_id", "Group ID", api_ops=frozenset({"is", "is_any"})),
    FieldSpec("request_id", "Request ID", api_ops=_IS),
    FieldSpec("ip_address", "IP Address", ("ip",)),
)

#: canonical name -> :class:`FieldSpec`, in the Portal's order.
FIELDS: Mapping[str, FieldSpec] = MappingProxyType({s.name: s for s in _SPECS})

assert set(FIELDS) <= set(COLUMNS), "every field is a canonical column"


def field_key(text: str) -> str:
    """The lookup key of a field spelling: lower case, runs of spaces/``_``/``-`` as one ``_``.

    Examples:
        >>> field_key("  User   Email ")
        'user_email'
    """
    return re.sub(r"[\s_\-]+", "_", text.strip().lower()).strip("_")


_INDEX: dict[str, FieldSpec] = {}
for _spec in _SPECS:
    for _spelling in (_spec.name, _spec.label, *_spec.aliases):
        _INDEX[field_key(_spelling)] = _spec


def resolve_field(text: str) -> FieldSpec:
    """The field named by a Portal label, API name or alias (any case, spaces or underscores).

    Raises:
        UnknownFieldError: no such field; the message lists the known ones.

    Examples:
        >>> resolve_field("AUTHENTICATION CONTEXT").name
        'auth_context'
        >>> resolve_field("colour")  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        auditlab.errors.UnknownFieldError: unknown field 'colour'; known fields: action, outcome, ...
    """
    spec = _INDEX.get(field_key(text))
    if spec is None:
        raise UnknownFieldError(f"unknown field {text!r}; known fields: {', '.join(FIELDS)}")
    return spec
