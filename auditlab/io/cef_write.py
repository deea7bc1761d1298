"""Write canonical events as CEF lines, built in bulk by DuckDB.

One line per event::

    CEF:0|ReversingLabs|Spectra Assure Portal|<auditlab version>|<action>|<readable name>|<severity>|
    rt=<epoch ms> externalId=... act=... outcome=... suser=... suid=... src=... reason=...
    cs1Label=resourceType cs1=... ... msg=<details, JSON> cat=<action family>

Header fields escape ``\\`` and ``|`` (CR/LF, which the header cannot carry, become spaces: the
exact action is in ``act``); extension values escape ``\\``, ``=``, CR and LF, so no value can
break a line. Null columns are left out; an empty string is written as ``key=``. The fixed last
pair ``cat=<family>`` keeps every value away from the end of the line, where readers trim
whitespace. ``docs/cef.md`` documents the mapping and the severity scheme.

Examples:
    >>> import io, datetime as dt, pyarrow as pa
    >>> t = pa.table({"event_id": ["e1"], "action": ["user.login"], "outcome": ["failure"],
    ...     "user_email": ["a=b@x"], "resource_type": ["user"],
    ...     "timestamp": pa.array([dt.datetime(2026, 1, 2, 3, 4, 5, 123000, tzinfo=dt.timezone.utc)],
    ...                           pa.timestamp("us", tz="UTC"))})
    >>> buf = io.BytesIO()
    >>> _ = write_cef(t, buf)
    >>> print(buf.getvalue().decode().replace(__import__("auditlab").__version__, "V"), end="")
    CEF:0|ReversingLabs|Spectra Assure Portal|V|user.login|User login|8|rt=1767323045123 externalId=e1 act=user.login outcome=failure suser=a\\=b@x cs1Label=resourceType cs1=user cat=login
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import IO, TYPE_CHECKING

from auditlab.catalog import ACTIONS
from auditlab.io._sink import events_source, open_sink, write_lines

if TYPE_CHECKING:
    from contextlib import AbstractContextManager

    import pyarrow as pa

    from auditlab._types import PathLike
    from auditlab.io._sink import EventsSource, SupportsArrow

__all__ = [
    "CUSTOM_STRINGS",
    "EXACT_TIMESTAMP",
    "FAMILY_SEVERITY",
    "STANDARD_KEYS",
    "cef_lines",
    "readable_name",
    "severity",
    "write_cef",
]

VENDOR = "ReversingLabs"
PRODUCT = "Spectra Assure Portal"

#: canonical column -> standard CEF extension key.
STANDARD_KEYS: dict[str, str] = {
    "event_id": "externalId",
    "action": "act",
    "outcome": "outcome",
    "user_email": "suser",
    "user_id": "suid",
    "ip_address": "src",
    "error_message": "reason",
}

#: canonical column -> (custom string slot, label). ArcSight defines cs1..cs6 and flexString1..2;
#: cs7 and up are auditlab's own slots (tolerant readers keep them under their keys).
CUSTOM_STRINGS: dict[str, tuple[str, str]] = {
    "resource_type": ("cs1", "resourceType"),
    "resource_id": ("cs2", "resourceId"),
    "resource_name": ("cs3", "resourceName"),
    "request_id": ("cs4", "requestId"),
    "group_id": ("cs5", "groupId"),
    "group_name": ("cs6", "groupName"),
    "auth_context": ("flexString1", "authContext"),
    "project_name": ("flexString2", "projectName"),
    "package_name": ("cs7", "packageName"),
    "version_name": ("cs8", "versionName"),
}

#: Written only when a timestamp has microseconds that ``rt`` (milliseconds) cannot hold.
EXACT_TIMESTAMP: tuple[str, str] = ("cs9", "timestamp")

#: Severity (0-10) of a successful event, by action family; see :func:`severity`.
FAMILY_SEVERITY: dict[str, int] = {
    "sso": 7,
    "pat": 6,
    "user_lifecycle": 5,
    "configuration": 5,
    "licensing": 5,
    "audit_export": 4,
    "quota": 4,
    "approval": 4,
    "login": 3,
    "resource": 3,
    "report": 2,
    "download": 2,
}
_DESTRUCTIVE = ("deleted", "removed", "revoked", "all_revoked", "disabled")
_ACRONYMS = {"pat": "PAT", "sso": "SSO", "saml": "SAML", "oidc": "OIDC", "scim": "SCIM", "cli": "CLI",
             "spdx": "SPDX", "sarif": "SARIF", "cve": "CVE", "pdf": "PDF", "uri": "URI", "json": "JSON",
             "cyclonedx": "CycloneDX", "rl": "RL"}  # fmt: skip


def readable_name(action: str) -> str:
    """The header name of an action: words, acronyms in capitals.

    Examples:
        >>> readable_name("user.pat.revoked"), readable_name("organization.sso.saml.setup.applied")
        ('User PAT revoked', 'Organization SSO SAML setup applied')
    """
    words = action.replace(".", " ").replace("_", " ").split()
    out = [_ACRONYMS.get(w, w) for w in words]
    if out:
        out[0] = out[0][:1].upper() + out[0][1:]
    return " ".join(out)


def severity(action: str, outcome: str | None) -> int:
    """CEF severity 0-10 of an event.

    Success: the family's base (:data:`FAMILY_SEVERITY`), +2 for destructive verbs (deleted,
    removed, revoked, disabled). Failure: 8 for the login family (failed logins), else the success
    severity + 2, at least 6. Capped at 10. An action outside the catalog: 3, or 6 on failure.

    Examples:
        >>> severity("user.login", "success"), severity("user.login", "failure")
        (3, 8)
        >>> severity("organization.pat.all_revoked", "success"), severity("organization.sso.saml.setup.applied", "failure")
        (8, 9)
        >>> severity("version.downloaded", "success"), severity("no.such.action", None)
        (2, 3)
    """
    info = ACTIONS.get(action)
    if info is None:
        return 6 if outcome == "failure" else 3
    base = FAMILY_SEVERITY.get(info.family, 3)
    if action.rsplit(".", 1)[-1] in _DESTRUCTIVE:
        base += 2
    if outcome == "failure":
        base = 8 if info.family == "login" else max(base + 2, 6)
    return min(base, 10)


def _escaper(specials: str, chain: str) -> Callable[[str], str]:
    """An SQL escaping expression: the ``replace`` chain, run only on values holding a special character."""

    def escape(value: str) -> str:
        test = " OR ".join(f"contains({value}, {c})" for c in specials.split())
        return f"CASE WHEN {test} THEN {chain.format(v=value)} ELSE {value} END"

    return escape


# `\`, `|`, CR, LF in header fields; `\`, `=`, CR, LF in extension values. Most values hold none:
# the `contains` tests skip the four `replace` passes for them (the output is the same).
_header = _escaper(
    r"'\' '|' chr(13) chr(10)",
    r"replace(replace(replace(replace({v}, '\', '\\'), '|', '\|'), chr(13), ' '), chr(10), ' ')",
)
_extension = _escaper(
    r"'\' '=' chr(13) chr(10)",
    r"replace(replace(replace(replace({v}, '\', '\\'), '=', '\='), chr(13), '\r'), chr(10), '\n')",
)


def _header_text(text: str) -> str:
    """What :func:`_header` makes of ``text``, in Python."""
    return text.replace("\\", "\\\\").replace("|", "\\|").replace("\r", " ").replace("\n", " ")


# A pair is NULL when its value is (`||` with NULL is NULL), and `concat_ws` leaves NULLs out.
def _pair(key: str, column: str) -> str:
    return f"'{key}=' || {_extension(column)}"


def _labelled(slot: str, label: str, value_sql: str) -> str:
    return f"'{slot}Label={label} {slot}=' || {_extension(value_sql)}"


def _line_sql() -> tuple[str, list[object]]:
    """The CEF line of an event (SQL over the canonical columns, ``?`` parameters) and its parameters."""
    from auditlab import __version__
    from auditlab.io.ndjson import ISO_SQL

    acts = sorted(ACTIONS)
    params: list[object] = []

    def bind(value: object) -> str:  # the text is built in reading order, so `?` follow `params`
        params.append(value)
        return "?"

    def lookup(values: Sequence[object]) -> str:
        return f"({bind(values)})[list_position({bind(acts)}, action)]"

    head = f"{bind(f'CEF:0|{VENDOR}|{PRODUCT}|{__version__}|')} || {_header('action')} || '|'"
    names = [_header_text(readable_name(a)) for a in acts]  # escaped here: no `?` inside an escaping
    head += f" || coalesce({lookup(names)}, {_header('action')}) || '|'"
    fail, ok = lookup([severity(a, "failure") for a in acts]), lookup([severity(a, "success") for a in acts])
    head += f" || (CASE WHEN outcome = 'failure' THEN coalesce({fail}, 6) ELSE coalesce({ok}, 3) END) || '|'"
    pairs = ["'rt=' || epoch_ms(timestamp)"]
    pairs += [_pair(key, col) for col, key in STANDARD_KEYS.items()]
    pairs += [_labelled(slot, label, col) for col, (slot, label) in CUSTOM_STRINGS.items()]
    exact = f"CASE WHEN microsecond(timestamp) % 1000 <> 0 THEN {ISO_SQL} END"
    pairs.append(_labelled(*EXACT_TIMESTAMP, exact))
    details = "CASE WHEN trim(CAST(details AS VARCHAR)) <> 'null' THEN CAST(details AS VARCHAR) END"
    pairs.append(_pair("msg", details))
    pairs.append(f"'cat=' || coalesce({lookup([ACTIONS[a].family for a in acts])}, 'other')")
    return f"{head} || concat_ws(' ', {', '.join(pairs)}) || chr(10)", params


def cef_lines(source: EventsSource) -> AbstractContextManager[pa.RecordBatchReader]:
    """Batches of one column ``line``, the CEF line of each event of ``source`` in order, for a ``with`` block."""
    line, params = _line_sql()
    return source.reader(f"{line} AS line", params)


def write_cef(
    events: pa.Table | SupportsArrow, dest: PathLike | IO[bytes], *, overwrite: bool = False
) -> Path:
    """Write events as CEF lines, in the given order.

    Args:
        events: a Workspace, a Store or a query result (read through its own connection, newest
            first: a store's events stream in bounded memory), a table following
            :data:`auditlab.schema.EVENTS_SCHEMA` (missing optional columns count as null; its own
            order), or anything else with ``to_arrow()``.
        dest: a path (``.gz``: gzip) or a binary file object (left open).
        overwrite: replace an existing file.

    Returns:
        The path written (for a file object, its ``name`` or ``-``).

    Raises:
        InputError: ``dest`` exists and ``overwrite`` is false, or ``events`` lacks
            ``event_id``/``timestamp``/``action``.
    """
    with (
        events_source(events) as source,
        open_sink(dest, overwrite=overwrite) as (fh, path),
        cef_lines(source) as lines,
    ):
        write_lines(fh, lines)
    return path
