"""A persistent, append-only store: Hive-partitioned Parquet by day, committed by a manifest.

Layout (readable by any Parquet engine; see docs/architecture.md)::

    STORE/
      auditlab-store.json              marks the folder as a store (format version)
      manifest.json                    the committed loads and their files: the one source of truth
      events/day=2026-10-05/<load>-<n>.parquet
      quarantine/<load>.parquet        lines that could not be loaded, with file, line and reason
      .lock                            held by the one writer (flock)
      _staging/                        an in-flight load (staged Parquet, DuckDB spill); never read

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
import re
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
from auditlab.store.events import EventSet, connect
from auditlab.store.ingest import NEW_QUARANTINE, drop_new, ingest
from auditlab.store.report import LoadReport

if TYPE_CHECKING:
    import duckdb

    from auditlab._types import PathLike

__all__ = ["ParquetBackend", "Store", "open_store"]

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


def _scan(files: list[str], cols: str, empty: str) -> str:
    """SQL reading ``files`` (or the empty table ``empty`` when there are none)."""
    if not files:
        return f"SELECT {cols} FROM {empty}"  # noqa: S608
    listing = ", ".join(_sql_str(f) for f in files)
    return f"SELECT {cols} FROM read_parquet([{listing}], hive_partitioning = false)"  # noqa: S608


class ParquetBackend:
    """Events in Parquet files named by a manifest; DuckDB views over them, memory bounded.

    Reads go through one DuckDB connection (``memory_limit``, spilling to ``temp_directory``);
    each load works in a connection of its own whose spill folder is inside ``_staging/``.
    """

    def __init__(self, path: Path, settings: Settings) -> None:
        self.path = path
        self.settings = settings
        self.manifest: dict[str, Any] = {}
        self.con: duckdb.DuckDBPyConnection = connect(settings, limit=True)
        _empty_tables(self.con)
        self.refresh()

    # -- reading ---------------------------------------------------------------------------
    def read_manifest(self) -> dict[str, Any]:
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
        return list(self.manifest.get("loads", []))

    def files(self) -> tuple[list[str], list[str]]:
        """The committed event files and quarantine files (absolute paths)."""
        events = [str(self.path / f) for load in self.loads for f in load["events"]]
        rejects = [str(self.path / load["quarantine"]) for load in self.loads if load.get("quarantine")]
        return events, rejects

    def refresh(self) -> None:
        self.manifest = self.read_manifest()
        event_files, rejects = self.files()
        missing = [f for f in (*event_files, *rejects) if not os.path.exists(f)]
        if missing:
            raise StoreCorruptError(f"{self.path}: manifest names missing files, e.g. {missing[0]}")
        _define_views(self.con, event_files, rejects)

    # -- writing ---------------------------------------------------------------------------
    @contextlib.contextmanager
    def lock(self) -> Iterator[None]:
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

    def recover(self) -> None:
        """Delete what a killed load left: the staging folder and files no manifest names."""
        shutil.rmtree(self.path / "_staging", ignore_errors=True)
        named = {str(self.path / f) for load in self.loads for f in load["events"]}
        named |= {str(self.path / load["quarantine"]) for load in self.loads if load.get("quarantine")}
        for folder in ("events", "quarantine"):
            for file in (self.path / folder).rglob("*.parquet"):
                if str(file) not in named:
                    file.unlink()

    def ingest(
        self,
        paths: tuple[PathLike, ...],
        *,
        mapping: Mapping,
        strict: bool,
        progress: bool,
        before_commit: Callable[[], None] | None = None,
    ) -> LoadReport:
        """One load, streamed: batches go to staged Parquet as they come; all or nothing."""
        if not paths:
            raise InputError("no input paths given")
        with self.lock():
            self.refresh()
            self.recover()
            load_id = datetime.now(UTC).strftime("%Y%m%dT%H%M%S") + "-" + uuid.uuid4().hex[:8]
            staging = self.path / "_staging" / load_id
            staging.mkdir(parents=True)
            spill = Path(self.settings.temp_directory) / load_id if self.settings.temp_directory else None
            con = connect(self.settings, limit=True, temp_directory=spill or staging / "spill")
            try:
                con.execute("SET preserve_insertion_order = false")  # lets COPY stream in less memory
                _empty_tables(con)
                event_files, _ = self.files()
                _define_views(con, event_files, [])
                report = ingest(
                    con,
                    paths,
                    existing="events" if event_files else None,
                    mapping=mapping,
                    settings=self.settings,
                    progress=progress,
                    stage=staging / "batches",
                )
                if strict and report.quarantined:
                    first = report.quarantine[0]
                    raise InputError(first.reason, source=first.source, line=first.line)
                load = self._write_load(con, report, load_id, staging)
                if before_commit is not None:
                    before_commit()
                self._commit(load)
            finally:
                drop_new(con)
                con.close()
                shutil.rmtree(self.path / "_staging", ignore_errors=True)  # ours: we hold the lock
                if spill is not None:
                    shutil.rmtree(spill, ignore_errors=True)
            self.refresh()
        return report

    def _write_load(
        self, con: duckdb.DuckDBPyConnection, report: LoadReport, load_id: str, staging: Path
    ) -> dict[str, Any]:
        events: list[str] = []
        if report.loaded:
            events = self._write_days(con, load_id, staging)
        quarantine = None
        if report.quarantined:
            rel = Path("quarantine") / f"{load_id}.parquet"
            (self.path / "quarantine").mkdir(exist_ok=True)
            tmp = staging / "quarantine.parquet"
            con.execute(
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
            "id_collisions": report.id_collisions,
            "lines": report.lines,
            "sources": [s.source for s in report.sources],
        }

    def _write_days(self, con: duckdb.DuckDBPyConnection, load_id: str, staging: Path) -> list[str]:
        """One zstd Parquet file per UTC day, sorted: the day's staged events less its duplicates,
        with the derived ids. Each statement holds one day, so memory does not grow with the load."""
        con.execute(
            "CREATE OR REPLACE TEMP TABLE _ingest_drop AS SELECT k.day, d.ordinal, d.source_line "
            "FROM _ingest_dups d JOIN _ingest_keys k USING (ordinal, source_line) ORDER BY k.day"
        )
        con.execute(
            "CREATE OR REPLACE TEMP TABLE _ingest_ids_day AS SELECT k.day, i.ordinal, i.source_line, i.event_id "
            "FROM _ingest_ids i JOIN _ingest_keys k USING (ordinal, source_line) ORDER BY k.day"
        )
        cols = ", ".join(
            "coalesce(i.event_id, e.event_id) AS event_id" if c == "event_id" else f"e.{c}" for c in COLUMNS
        )
        written: list[str] = []
        try:
            for folder in sorted((staging / "batches" / "events").glob("day=*")):
                day = folder.name.removeprefix("day=")
                if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", day):  # our own folder names; checked anyway
                    raise StoreError(f"unexpected staging folder {folder}")
                listing = ", ".join(_sql_str(str(f)) for f in sorted(folder.glob("*.parquet")))
                rel = Path("events") / folder.name / f"{load_id}-part0.parquet"
                tmp = staging / f"{folder.name}.parquet"
                ((rows,),) = con.execute(
                    f"""COPY (
                          SELECT {cols} FROM read_parquet([{listing}], hive_partitioning = false) e
                          ANTI JOIN (SELECT ordinal, source_line FROM _ingest_drop WHERE day = DATE '{day}') d
                            USING (ordinal, source_line)
                          LEFT JOIN (SELECT ordinal, source_line, event_id FROM _ingest_ids_day WHERE day = DATE '{day}') i
                            USING (ordinal, source_line)
                          ORDER BY e.timestamp, event_id
                        ) TO {_sql_str(str(tmp))} (FORMAT parquet, COMPRESSION zstd)"""  # noqa: S608 - our names, a checked date
                ).fetchall()
                if not rows:
                    tmp.unlink()
                    continue
                (self.path / rel.parent).mkdir(parents=True, exist_ok=True)
                os.replace(tmp, self.path / rel)
                written.append(str(rel))
        finally:
            con.execute("DROP TABLE IF EXISTS _ingest_drop")
            con.execute("DROP TABLE IF EXISTS _ingest_ids_day")
        return written

    def _commit(self, load: dict[str, Any]) -> None:
        manifest = self.read_manifest()
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


def _empty_tables(con: duckdb.DuckDBPyConnection) -> None:
    con.execute(f"CREATE TABLE _empty_events ({duckdb_columns()})")
    con.execute(f"CREATE TABLE _empty_quarantine ({duckdb_columns(QUARANTINE_SCHEMA)})")


def _define_views(con: duckdb.DuckDBPyConnection, event_files: list[str], rejects: list[str]) -> None:
    con.execute(f"CREATE OR REPLACE VIEW events AS {_scan(event_files, ', '.join(COLUMNS), '_empty_events')}")
    qcols = ", ".join(QUARANTINE_SCHEMA.names)
    con.execute(f"CREATE OR REPLACE VIEW quarantine AS {_scan(rejects, qcols, '_empty_quarantine')}")


class Store(EventSet):
    """Events that live on disk and grow by atomic loads; the read API of a :class:`Workspace`.

    Use :func:`open_store`. ``ingest`` adds inputs (one writer at a time, all or nothing, in
    bounded memory); ``refresh`` picks up loads committed by other processes. The events live
    in a :class:`ParquetBackend`; reading (``sql``, ``count``, ``query``, ...) is :class:`EventSet`'s.
    """

    def __init__(
        self, path: PathLike, *, mapping: Mapping | None = None, settings: Settings | None = None
    ) -> None:
        self.path = Path(path)
        self.mapping = mapping or Mapping.default()
        self.settings = settings or Settings()
        self.last_report: LoadReport | None = None
        self._backend: ParquetBackend = ParquetBackend(self.path, self.settings)

    @property
    def loads(self) -> list[dict[str, Any]]:
        """The committed loads, oldest first: id, created_at, files, counts, report."""
        return self._backend.loads

    def refresh(self) -> None:
        """Re-read the manifest, so loads committed by other processes become visible."""
        self._backend.refresh()

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

        The load streams: each batch is normalised and written to staged Parquet as it comes,
        and duplicates are found by DuckDB within ``Settings.memory_limit`` (spilling past it),
        so memory does not grow with the input.

        Args:
            paths: files, folders, gzip files, Portal export ZIPs.
            strict: raise :class:`InputError` naming the first bad line instead of quarantining.
            progress: show a progress bar on stderr.

        Raises:
            StoreLockedError: another process is loading into the store.
            InputError: bad input (nothing is committed).
        """
        report = self._backend.ingest(
            paths, mapping=self.mapping, strict=strict, progress=progress, before_commit=_before_commit
        )
        self.last_report = report
        return report

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
