"""Export ZIPs shaped like the Portal's, and a registry that mirrors its *Audit Exports* table.

``export(selection, "weekly", out_dir="exports")`` writes ``exports/weekly.zip`` holding
``audit_log.ndjson`` and/or ``audit_log.cef`` plus ``manifest.json``: name, filters, time range,
counts, sha256 and size of each member, ``created_at`` and ``expires_at`` (7 days later, as a
Portal download link). The ZIP is written to a temporary file and renamed into place. Each
member's lines stream from DuckDB into the ZIP (a store's events are never all in memory), hashed
and counted as they are written.

:class:`ExportRegistry` lists the exports of a folder (name, NDJSON and CEF files, created,
expires, events), deletes one, and purges expired ones (listing purges first, as the Portal's
daily clean-up does).

Examples:
    >>> import datetime as dt, tempfile, pyarrow as pa
    >>> t = pa.table({"event_id": ["e1"], "action": ["user.login"],
    ...     "timestamp": pa.array([dt.datetime(2026, 1, 2, tzinfo=dt.timezone.utc)], pa.timestamp("us", tz="UTC"))})
    >>> out = tempfile.mkdtemp()
    >>> now = dt.datetime(2026, 1, 3, tzinfo=dt.timezone.utc)
    >>> export(t, "My export", out_dir=out, now=now).name
    'My_export.zip'
    >>> [(e.name, e.events, e.ndjson, e.cef) for e in ExportRegistry(out).list(now=now)]
    [('My export', 1, 'audit_log.ndjson', 'audit_log.cef')]
    >>> ExportRegistry(out).purge(now=now + dt.timedelta(days=8))
    ['My export']
"""

from __future__ import annotations

import builtins
import contextlib
import hashlib
import json
import os
import re
import tempfile
import zipfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, Protocol

from auditlab.errors import InputError
from auditlab.io._sink import events_source, write_lines

if TYPE_CHECKING:
    from auditlab._types import PathLike
    from auditlab.io._sink import SupportsArrow

__all__ = ["EXPIRY", "FORMATS", "MANIFEST", "MEMBERS", "ExportEntry", "ExportRegistry", "export", "safe_name"]

#: How long an export lives (a Portal export link lives 7 days).
EXPIRY = timedelta(days=7)
#: format -> ZIP member name.
MEMBERS: dict[str, str] = {"ndjson": "audit_log.ndjson", "cef": "audit_log.cef"}
FORMATS: tuple[str, ...] = tuple(MEMBERS)
MANIFEST = "manifest.json"
_MAX_NAME = 255


class _HasJson(Protocol):
    def to_json(self) -> str: ...


def safe_name(name: str) -> str:
    """A file name for an export name: unsafe characters become ``_``.

    Examples:
        >>> safe_name("PAT revocations / Q3"), safe_name("../x"), safe_name("..")
        ('PAT_revocations_Q3', 'x', 'export')
    """
    stem = re.sub(r"[^A-Za-z0-9._-]+", "_", name).strip("._")[:200]
    return stem or "export"


class _Hashing:
    """A write-only stream that hashes and counts what passes through."""

    def __init__(self, inner: IO[bytes]) -> None:
        self.inner = inner
        self.sha = hashlib.sha256()
        self.size = 0

    def write(self, data: bytes | memoryview) -> int:
        self.sha.update(data)
        self.size += len(data)
        return self.inner.write(data)


def _iso(t: datetime) -> str:
    return t.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _filters(query: _HasJson | Mapping[str, Any] | None) -> Any:
    if query is None:
        return None
    if isinstance(query, Mapping):
        return dict(query)
    text = query.to_json()
    return json.loads(text) if isinstance(text, str) else text


def export(
    selection: Any | SupportsArrow,
    name: str,
    *,
    formats: Sequence[str] = FORMATS,
    out_dir: PathLike,
    query: _HasJson | Mapping[str, Any] | None = None,
    now: datetime | None = None,
    overwrite: bool = False,
) -> Path:
    """Write ``<out_dir>/<safe name>.zip``: the selection as NDJSON and/or CEF, plus a manifest.

    Args:
        selection: events: a Workspace, a Store or a query result (streamed from where they live,
            newest first), a pyarrow Table following the canonical schema, or anything with
            ``to_arrow()``.
        name: the export's name (at most 255 characters, as in the Portal).
        formats: any of ``"ndjson"``, ``"cef"``.
        out_dir: the folder of exports (created if missing).
        query: the filters that made the selection (an object with ``to_json()``, or a dict),
            recorded in the manifest.
        now: the creation time (default: now, UTC).
        overwrite: replace an export of the same file name.

    Returns:
        The ZIP's path.

    Raises:
        InputError: an empty or too long name, an unknown format, or the ZIP exists.
    """
    from auditlab import __version__
    from auditlab.io.cef_write import cef_lines
    from auditlab.io.ndjson import ndjson_lines

    if not name.strip() or len(name) > _MAX_NAME:
        raise InputError(f"an export name needs 1 to {_MAX_NAME} characters")
    unknown = [f for f in formats if f not in MEMBERS]
    if unknown or not formats:
        raise InputError(f"unknown export format(s) {unknown or formats!r}; known: {', '.join(FORMATS)}")
    if query is None and hasattr(selection, "query") and hasattr(selection.query, "to_json"):
        query = selection.query
    created = (now or datetime.now(UTC)).astimezone(UTC)
    out = Path(out_dir)
    path = out / f"{safe_name(name)}.zip"
    lines = {"ndjson": ndjson_lines, "cef": cef_lines}
    members: dict[str, dict[str, Any]] = {}
    with events_source(selection) as source:
        out.mkdir(parents=True, exist_ok=True)
        if path.exists() and not overwrite:
            raise InputError(f"{path} exists (pass overwrite=True to replace it)", source=str(path))
        events, oldest, newest = source.span()
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=out)
        os.close(fd)
        try:
            with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED) as zf:
                for fmt in dict.fromkeys(formats):
                    member = MEMBERS[fmt]
                    info = zipfile.ZipInfo(member, date_time=created.timetuple()[:6])
                    info.compress_type = zipfile.ZIP_DEFLATED
                    with zf.open(info, "w", force_zip64=True) as fh, lines[fmt](source) as batches:
                        sink = _Hashing(fh)
                        count = write_lines(sink, batches)
                    members[member] = {"format": fmt, "events": count, "bytes": sink.size,
                                       "sha256": sink.sha.hexdigest()}  # fmt: skip
                manifest = {
                    "name": name,
                    "created_at": _iso(created),
                    "expires_at": _iso(created + EXPIRY),
                    "formats": list(dict.fromkeys(formats)),
                    "filters": _filters(query),
                    "time_range": {
                        "start": _iso(oldest) if oldest else None,
                        "end": _iso(newest) if newest else None,
                    },
                    "counts": {"events": events},
                    "members": members,
                    "generator": f"auditlab {__version__}",
                }
                info = zipfile.ZipInfo(MANIFEST, date_time=created.timetuple()[:6])
                info.compress_type = zipfile.ZIP_DEFLATED
                zf.writestr(info, json.dumps(manifest, indent=2, ensure_ascii=False) + "\n")
            os.replace(tmp, path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise
    return path


@dataclass(frozen=True, slots=True)
class ExportEntry:
    """One row of the *Audit Exports* table."""

    name: str
    path: Path
    ndjson: str | None
    cef: str | None
    created_at: datetime
    expires_at: datetime
    events: int

    def expired(self, now: datetime) -> bool:
        """Whether the export is past its expiry at ``now``."""
        return now >= self.expires_at


def _parse_time(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


class ExportRegistry:
    """The exports (``*.zip`` with an auditlab manifest) of one folder."""

    def __init__(self, out_dir: PathLike) -> None:
        self.out_dir = Path(out_dir)

    def _entries(self) -> list[ExportEntry]:
        entries = []
        for path in sorted(self.out_dir.glob("*.zip")):
            try:
                with zipfile.ZipFile(path) as zf:
                    manifest = json.loads(zf.read(MANIFEST))
                members = manifest["members"]
                entries.append(
                    ExportEntry(
                        name=str(manifest["name"]),
                        path=path,
                        ndjson=MEMBERS["ndjson"] if MEMBERS["ndjson"] in members else None,
                        cef=MEMBERS["cef"] if MEMBERS["cef"] in members else None,
                        created_at=_parse_time(manifest["created_at"]),
                        expires_at=_parse_time(manifest["expires_at"]),
                        events=int(manifest["counts"]["events"]),
                    )
                )
            except (OSError, KeyError, ValueError, TypeError, zipfile.BadZipFile):
                continue  # not an auditlab export: not ours to list or delete
        return entries

    def list(self, *, now: datetime | None = None) -> list[ExportEntry]:
        """Purge expired exports, then list the others, newest first."""
        self.purge(now=now)
        return sorted(self._entries(), key=lambda e: e.created_at, reverse=True)

    def get(self, name: str) -> ExportEntry:
        """The export called ``name`` (its manifest name, or its file name without ``.zip``).

        Raises:
            InputError: no such export.
        """
        for entry in self._entries():
            if name in (entry.name, entry.path.stem, entry.path.name):
                return entry
        raise InputError(f"no export named {name!r} in {self.out_dir}")

    def delete(self, name: str) -> ExportEntry:
        """Delete one export; returns what was deleted.

        Raises:
            InputError: no such export.
        """
        entry = self.get(name)
        entry.path.unlink()
        return entry

    def purge(self, *, now: datetime | None = None) -> builtins.list[str]:
        """Delete every export past its expiry; returns their names."""
        when = (now or datetime.now(UTC)).astimezone(UTC)
        gone = []
        for entry in self._entries():
            if entry.expired(when):
                with contextlib.suppress(FileNotFoundError):
                    entry.path.unlink()
                gone.append(entry.name)
        return gone
