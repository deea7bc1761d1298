"""A persistent, append-only store: Hive-partitioned Parquet by day, committed by a manifest.

Layout (readable by any Parquet engine; see docs/architecture.md)::

    STORE/
      auditlab-store.json              marks the folder as a store (format version)
      manifest.json                    the committed loads and their files: the one source of truth
      events/day=2026-10-05/<load>-<n>.parquet
      quarantine/<load>.parquet        lines that could not be loaded, with file, line and reason
      .lock                            held by the one writer (flock)
      _staging/                        an in-flight load; never read

A load is atomic: its files are written under ``_staging/``, moved into place, and only then
named in a new ``manifest.json`` that replaces the old one in a single ``os.replace``. A load
killed at any point leaves the manifest as it was; the next writer deletes what it left behind.
Readers (any number, any process) read exactly the files the manifest names.

Examples:
    >>> import tempfile
    >>> store = open_store(tempfile.mkdtemp())
    >>> store.ingest("data/samples/portal_audit_export.zip").loaded == store.count()
    True
    >>> again = store.ingest("data/samples/portal_audit_export.zip")  # NDJSON and CEF of the same events
    >>> again.loaded, again.duplicates == 2 * store.count()
    (0, True)
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import shutil
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from auditlab.config import Settings
from auditlab.errors import InputError, StoreCorruptError, StoreError, StoreLockedError
from auditlab.io.mapping import Mapping
from auditlab.schema import COLUMNS, QUARANTINE_SCHEMA, duckdb_columns
from auditlab.store.ingest import NEW_EVENTS, NEW_QUARANTINE
from auditlab.store.report import LoadReport
from auditlab.store.workspace import Workspace

if TYPE_CHECKING:
    from auditlab._types import PathLike

__all__ = ["Store", "open_store"]

MARKER = "auditlab-store.json"
MANIFEST = "manifest.json"
FORMAT_VERSION = 1


def _sql_str(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class Store(Workspace):
    """A :class:`Workspace` whose events live on disk and grow by atomic loads.

    Use :func:`open_store`. ``ingest`` adds inputs (one writer at a time, all or nothing);
    ``refresh`` picks up loads committed by other processes.
    """

    def __init__(
        self, path: PathLike, *, mapping: Mapping | None = None, settings: Settings | None = None
    ) -> None:
        self.path = Path(path)
        self._manifest: dict[str, Any] = {}
        super().__init__(mapping=mapping, settings=settings)

    # Workspace builds its tables through this hook: a store builds views over Parquet.
    def _create_tables(self) -> None:
        self.con.execute(f"CREATE TABLE _empty_events ({duckdb_columns()})")
        self.con.execute(f"CREATE TABLE _empty_quarantine ({duckdb_columns(QUARANTINE_SCHEMA)})")
        self.refresh()

    # -- reading ---------------------------------------------------------------------------
    def _read_manifest(self) -> dict[str, Any]:
        path = self.path / MANIFEST
        if not path.exists():
            return {"version": FORMAT_VERSION, "loads": []}
        try:
            data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise StoreCorruptError(f"{path}: unreadable manifest: {exc}") from exc
        if data.get("version") != FORMAT_VERSION or not isinstance(data.get("loads"), list):
            raise StoreCorruptError(f"{path}: not a version-{FORMAT_VERSION} auditlab manifest")
        return data

    @property
    def loads(self) -> list[dict[str, Any]]:
        """The committed loads, oldest first: id, created_at, files, counts, report."""
        return list(self._manifest.get("loads", []))

    def refresh(self) -> None:
        """Re-read the manifest, so loads committed by other processes become visible."""
        self._manifest = self._read_manifest()
        event_files = [str(self.path / f) for load in self.loads for f in load["events"]]
        rejects = [str(self.path / load["quarantine"]) for load in self.loads if load.get("quarantine")]
        missing = [f for f in (*event_files, *rejects) if not os.path.exists(f)]
        if missing:
            raise StoreCorruptError(f"{self.path}: manifest names missing files, e.g. {missing[0]}")
        cols = ", ".join(COLUMNS)
        self.con.execute(f"CREATE OR REPLACE VIEW events AS {self._scan(event_files, cols, '_empty_events')}")
        qcols = ", ".join(QUARANTINE_SCHEMA.names)
        self.con.execute(
            f"CREATE OR REPLACE VIEW quarantine AS {self._scan(rejects, qcols, '_empty_quarantine')}"
        )

    @staticmethod
    def _scan(files: list[str], cols: str, empty: str) -> str:
        if not files:
            return f"SELECT {cols} FROM {empty}"  # noqa: S608
        listing = ", ".join(_sql_str(f) for f in files)
        return f"SELECT {cols} FROM read_parquet([{listing}], hive_partitioning = false)"  # noqa: S608

    # -- writing ---------------------------------------------------------------------------
    @contextlib.contextmanager
    def _lock(self) -> Iterator[None]:
        fd = os.open(self.path / ".lock", os.O_RDWR | os.O_CREAT, 0o644)
        try:
            deadline = time.monotonic() + self.settings.lock_timeout
            while True:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if time.monotonic() >= deadline:
                        raise StoreLockedError(
                            f"{self.path}: another process is loading into this store; "
                            "try again when it finishes (or set lock_timeout to wait)"
                        ) from None
                    time.sleep(0.1)
            yield
        finally:
            os.close(fd)  # closing releases the flock

    def _recover(self) -> None:
        """Delete what a killed load left: the staging folder and files no manifest names."""
        shutil.rmtree(self.path / "_staging", ignore_errors=True)
        named = {str(self.path / f) for load in self.loads for f in load["events"]}
        named |= {str(self.path / load["quarantine"]) for load in self.loads if load.get("quarantine")}
        for folder in ("events", "quarantine"):
            for file in (self.path / folder).rglob("*.parquet"):
                if str(file) not in named:
                    file.unlink()

    def add(self, *paths: PathLike, strict: bool = False, progress: bool = False) -> LoadReport:
        """Same as :meth:`ingest`."""
        return self.ingest(*paths, strict=strict, progress=progress)

    def ingest(
        self,
        *paths: PathLike,
        strict: bool = False,
        progress: bool = False,
        _before_commit: Callable[[], None] | None = None,
    ) -> LoadReport:
        """Load inputs into the store, atomically; events already stored count as duplicates.

        Args:
            paths: files, folders, gzip files, Portal export ZIPs.
            strict: raise :class:`InputError` naming the first bad line instead of quarantining.
            progress: show a progress bar on stderr.

        Raises:
            StoreLockedError: another process is loading into the store.
            InputError: bad input (nothing is committed).
        """
        with self._lock():
            self.refresh()
            self._recover()
            report = self._ingest(paths, progress=progress)
            try:
                if strict and report.quarantined:
                    first = report.quarantine[0]
                    raise InputError(first.reason, source=first.source, line=first.line)
                load = self._write_load(report)
                if _before_commit is not None:
                    _before_commit()
                self._commit(load)
            finally:
                self._drop_new()
                shutil.rmtree(self.path / "_staging", ignore_errors=True)
            self.refresh()
        self.last_report = report
        return report

    def _write_load(self, report: LoadReport) -> dict[str, Any]:
        load_id = datetime.now(UTC).strftime("%Y%m%dT%H%M%S") + "-" + uuid.uuid4().hex[:8]
        staging = self.path / "_staging" / load_id
        staging.mkdir(parents=True)
        events: list[str] = []
        (n_new,) = self.con.execute(f"SELECT count(*) FROM {NEW_EVENTS}").fetchall()[0]  # noqa: S608
        if n_new:
            self.con.execute(
                f"COPY (SELECT *, strftime(timestamp, '%Y-%m-%d') AS day FROM {NEW_EVENTS} ORDER BY timestamp, event_id) "  # noqa: S608
                f"TO {_sql_str(str(staging / 'events'))} "
                "(FORMAT parquet, PARTITION_BY (day), FILENAME_PATTERN 'part{i}', COMPRESSION zstd)"
            )
            for file in sorted((staging / "events").rglob("*.parquet")):
                rel = Path("events") / file.parent.name / f"{load_id}-{file.stem}.parquet"
                (self.path / rel.parent).mkdir(parents=True, exist_ok=True)
                os.replace(file, self.path / rel)
                events.append(str(rel))
        quarantine = None
        if report.quarantined:
            rel = Path("quarantine") / f"{load_id}.parquet"
            (self.path / "quarantine").mkdir(exist_ok=True)
            tmp = staging / "quarantine.parquet"
            self.con.execute(
                f"COPY (SELECT * FROM {NEW_QUARANTINE} ORDER BY source, source_line) "  # noqa: S608
                f"TO {_sql_str(str(tmp))} (FORMAT parquet)"
            )
            os.replace(tmp, self.path / rel)
            quarantine = str(rel)
        return {
            "id": load_id,
            "created_at": datetime.now(UTC).isoformat(),
            "events": events,
            "quarantine": quarantine,
            "loaded": report.loaded,
            "duplicates": report.duplicates,
            "quarantined": report.quarantined,
            "lines": report.lines,
            "sources": [s.source for s in report.sources],
        }

    def _commit(self, load: dict[str, Any]) -> None:
        manifest = self._read_manifest()
        manifest["loads"].append(load)
        tmp = self.path / (MANIFEST + ".tmp")
        with open(tmp, "w", encoding="utf-8") as fh:
            json.dump(manifest, fh, indent=1)
            fh.flush()
            os.fsync(fh.fileno())
        for folder in {self.path / Path(f).parent for f in load["events"]}:
            _fsync_dir(folder)
        os.replace(tmp, self.path / MANIFEST)
        _fsync_dir(self.path)

    def __repr__(self) -> str:
        return f"<Store {str(self.path)!r} events={self.count()} loads={len(self.loads)}>"


def open_store(
    path: PathLike,
    *,
    create: bool = True,
    mapping: Mapping | str | None = None,
    settings: Settings | None = None,
) -> Store:
    """Open (or create) a persistent store in folder ``path``.

    Args:
        path: the store folder.
        create: make the store if the folder holds none (else :class:`StoreError`).
        mapping: a :class:`Mapping` or a path to a TOML/JSON mapping profile, for its loads.
        settings: limits; ``lock_timeout`` is how long a writer waits for another.

    Raises:
        StoreError: the folder is not a store (and ``create`` is false), or holds other files.
        StoreCorruptError: the manifest is unreadable or names missing files.
    """
    root = Path(path)
    marker = root / MARKER
    if not marker.exists():
        if not create:
            raise StoreError(f"{root}: not an auditlab store")
        if root.exists() and any(p.name not in {".lock"} for p in root.iterdir()):
            raise StoreError(f"{root}: folder is not empty and is not an auditlab store")
        root.mkdir(parents=True, exist_ok=True)
        marker.write_text(
            json.dumps(
                {"format": "auditlab-store", "version": FORMAT_VERSION, "layout": "parquet, hive by day"}
            ),
            encoding="utf-8",
        )
    if isinstance(mapping, str):
        mapping = Mapping.from_profile(mapping)
    return Store(root, mapping=mapping, settings=settings)
