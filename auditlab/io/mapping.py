"""The field mapping: which input keys fill which canonical column. One declarative table.

Input keys are first put in a normal form by generic rules, so a dialect nobody listed still
maps: nested objects are flattened with ``_`` (``{"target": {"type": ...}}`` -> ``target_type``),
camelCase reads as snake_case (``userEmail`` -> ``user_email``), other punctuation is dropped
(``@timestamp`` -> ``timestamp``). Then :data:`DEFAULT_ALIASES` names, per canonical column,
the normal forms that fill it, in priority order (the column's own name always comes first).

A user adapts the mapping without code with a TOML or JSON profile::

    # profile.toml
    replace = false            # true: these aliases replace the defaults of each column named
    [aliases]
    user_email = ["operator.mail", "who"]

Examples:
    >>> normalize_key(("target", "type")), normalize_key(("userEmail",)), normalize_key(("@timestamp",))
    ('target_type', 'user_email', 'timestamp')
    >>> m = Mapping.default()
    >>> m.resolve([("user", "email"), ("email",), ("id",)])["user_email"]
    [('user', 'email'), ('email',)]
    >>> m.column_for("suser")
    'user_email'
"""

from __future__ import annotations

import json
import re
import tomllib
from collections.abc import Iterable
from collections.abc import Mapping as MappingABC
from dataclasses import dataclass
from pathlib import Path

from auditlab.errors import InputError
from auditlab.schema import STRING_FIELDS

__all__ = ["DEFAULT_ALIASES", "MAPPED_COLUMNS", "KeyPath", "Mapping", "normalize_key"]

KeyPath = tuple[str, ...]

#: Columns a mapping fills: the plain string fields, the timestamp and the details.
MAPPED_COLUMNS: tuple[str, ...] = ("timestamp", *STRING_FIELDS, "details")

#: canonical column -> normalised input key names that fill it, best first.
DEFAULT_ALIASES: dict[str, tuple[str, ...]] = {
    # CEF: externalId (the source's own id) before ArcSight's eventId (a per-connector counter);
    # a column's own name, when listed, takes its place in the list instead of coming first
    "event_id": ("id", "uuid", "event_uuid", "audit_log_id", "audit_id", "log_id", "external_id", "event_id"),
    "timestamp": (
        "created_at", "created", "time", "datetime", "date_time", "event_time", "occurred_at",
        "logged_at", "ts", "rt", "device_receipt_time", "end", "end_time", "start", "start_time", "date",
        "art", "agent_receipt_time", "syslog_timestamp",
    ),
    "action": ("act", "event_type", "event_action", "event_name", "action_name", "signature_id", "operation"),
    "outcome": ("result", "status", "event_outcome", "successful", "success", "is_successful"),
    "user_email": (
        "user_email_address", "email", "actor_email", "actor_user_email", "user_mail", "suser",
        "source_user", "principal_email",
    ),
    "user_id": ("user_uuid", "actor_id", "actor_user_id", "suid", "uid"),
    "auth_context": (
        "authentication_context", "auth_type", "authentication_type", "auth_method",
        "authentication_method", "source_context",
    ),
    "ip_address": (
        "ip", "src", "source_ip", "client_ip", "remote_addr", "remote_ip", "ip_addr", "user_ip",
        "source_address", "src_ip", "actor_ip", "user_ip_address",
    ),
    "resource_type": ("target_type", "object_type", "entity_type", "target_resource_type", "resource_kind"),
    "resource_id": ("target_id", "object_id", "entity_id", "target_uuid"),
    "resource_name": ("target_name", "object_name", "entity_name"),
    "group_id": ("group_uuid",),
    "group_name": ("group",),
    "project_name": ("project",),
    "package_name": ("package",),
    "version_name": ("version",),
    "request_id": ("request_uuid", "req_id", "correlation_id", "trace_id"),
    "error_message": ("error", "reason", "error_msg", "failure_reason", "error_detail", "error_reason"),
    "details": (
        "detail", "context", "info", "extra", "additional_info", "changes", "msg", "message", "data",
        "metadata",
    ),
}  # fmt: skip

_CAMEL_1 = re.compile(r"([A-Z]+)([A-Z][a-z])")
_CAMEL_2 = re.compile(r"([a-z0-9])([A-Z])")
_NON_WORD = re.compile(r"[^0-9a-zA-Z]+")


def _snake(segment: str) -> str:
    s = _CAMEL_2.sub(r"\1_\2", _CAMEL_1.sub(r"\1_\2", segment))
    return _NON_WORD.sub("_", s).strip("_").lower()


def normalize_key(path: KeyPath | str) -> str:
    """The normal form of a key path: segments snake_cased, joined with ``_``.

    A string is read as a dotted path.

    Examples:
        >>> normalize_key("actor.IPAddress"), normalize_key(("cs1Label",))
        ('actor_ip_address', 'cs1_label')
    """
    parts = path.split(".") if isinstance(path, str) else path
    return "_".join(p for p in (_snake(s) for s in parts) if p)


@dataclass(frozen=True)
class Mapping:
    """Which normalised input keys fill which canonical column, best first.

    Attributes:
        aliases: canonical column -> normal forms, best first (the column's own name comes first
            unless the list names it: ``event_id`` ranks ArcSight's ``eventId`` counter last).
    """

    aliases: dict[str, tuple[str, ...]]

    def __post_init__(self) -> None:
        owner: dict[str, str] = {}
        for column, names in self.aliases.items():
            if column not in MAPPED_COLUMNS:
                raise InputError(
                    f"mapping names unknown column {column!r}; known: {', '.join(MAPPED_COLUMNS)}"
                )
            for name in (column, *names):
                if owner.setdefault(name, column) != column:
                    raise InputError(f"mapping sends key {name!r} to both {owner[name]!r} and {column!r}")

    @classmethod
    def default(cls) -> Mapping:
        """The built-in mapping."""
        return cls(dict(DEFAULT_ALIASES))

    @classmethod
    def from_profile(cls, profile: MappingABC[str, object] | str | Path) -> Mapping:
        """The default mapping with a profile applied (a dict, or a ``.toml``/``.json`` file).

        Examples:
            >>> Mapping.from_profile({"aliases": {"user_email": ["who"]}}).column_for("who")
            'user_email'
        """
        if not isinstance(profile, MappingABC):
            path = Path(profile)
            try:
                text = path.read_text(encoding="utf-8")
                data: MappingABC[str, object] = (
                    tomllib.loads(text) if path.suffix.lower() == ".toml" else json.loads(text)
                )
            except (OSError, ValueError) as exc:
                raise InputError(f"cannot read mapping profile: {exc}", source=str(path)) from exc
        else:
            data = profile
        extra = data.get("aliases", {})
        if not isinstance(extra, MappingABC):
            raise InputError("mapping profile: 'aliases' must be a table of column -> list of keys")
        replace = bool(data.get("replace", False))
        if not all(isinstance(v, list | tuple) for v in extra.values()):
            raise InputError("mapping profile: each alias entry must be a list of keys")
        new_names = {str(c): tuple(normalize_key(str(k)) for k in v) for c, v in extra.items()}
        claimed = {n for names in new_names.values() for n in names}
        aliases: dict[str, tuple[str, ...]] = {}
        for column in MAPPED_COLUMNS:
            base = () if (replace and column in new_names) else DEFAULT_ALIASES.get(column, ())
            base = tuple(n for n in base if n not in claimed)  # a profile may move a key to another column
            aliases[column] = (*new_names.get(column, ()), *base)
        return cls(aliases)

    def _ranked(self, column: str) -> tuple[str, ...]:
        """The normal forms that fill ``column``, best first."""
        names = self.aliases.get(column, ())
        return names if column in names else (column, *names)

    def column_for(self, key: KeyPath | str) -> str | None:
        """The canonical column an input key fills, if any."""
        name = normalize_key(key)
        for column in MAPPED_COLUMNS:
            if name == column or name in self.aliases.get(column, ()):
                return column
        return None

    def extends(self, key: KeyPath | str) -> bool:
        """Whether a key nested under ``key`` can fill a column (some name starts with its normal form + ``_``).

        Examples:
            >>> m = Mapping.default()
            >>> m.extends(("actor",)), m.extends(("user", "email")), m.extends(("created_at",))
            (True, True, False)
        """
        prefix = normalize_key(key) + "_"
        return any(
            name.startswith(prefix)
            for column in MAPPED_COLUMNS
            for name in (column, *self.aliases.get(column, ()))
        )

    def resolve(self, paths: Iterable[KeyPath]) -> dict[str, list[KeyPath]]:
        """For each canonical column, the given key paths that fill it, best first."""
        rank: dict[str, tuple[str, int]] = {}
        for column in MAPPED_COLUMNS:
            for i, name in enumerate(self._ranked(column)):
                rank.setdefault(name, (column, i))
        found: dict[str, list[tuple[int, int, KeyPath]]] = {}
        for path in paths:
            hit = rank.get(normalize_key(path))
            if hit:
                found.setdefault(hit[0], []).append((hit[1], len(path), path))
        return {c: [p for _, _, p in sorted(v)] for c, v in found.items()}


def json_pointer(path: KeyPath) -> str:
    """A JSON Pointer (RFC 6901) for a key path, as DuckDB's JSON functions take it.

    Examples:
        >>> json_pointer(("a/b", "c~d"))
        '/a~1b/c~0d'
    """
    return "".join("/" + p.replace("~", "~0").replace("/", "~1") for p in path)
