"""Keep a store current through the Portal API: windows, export jobs, a high-water mark.

``sync(store, server=..., organization=...)`` splits the range into windows of at most 365 days
(the API's limit), and for each window creates an export job with the query's API pushdown
filters, polls it, downloads the ZIPs (checked), and ingests them through
:meth:`~auditlab.store.persistent.Store.ingest`, atomically and with its accounting. Only after a
window is committed is the high-water mark moved, in ``STORE/sync-state.json`` (written to a
temporary file and swapped in with one ``os.replace``): a sync killed at any point resumes from
(mark - overlap), and dedupe absorbs the overlap, so there is no gap and no duplicate.

The residual of the query (what the API cannot filter) is applied locally *after* ingest: the
store keeps every event the Portal sent (it is an append-only copy of the audit log, and the
residual may change from one sync to the next), and :attr:`SyncResult.matching` counts the events
of the synced range that match the whole query. Marks are kept per (API, organization, pushdown
filters), so a sync with other filters never trusts a mark it did not earn.

Examples:
    >>> plan_windows(datetime(2025, 1, 1, tzinfo=UTC), datetime(2026, 6, 1, tzinfo=UTC))[0]
    (datetime.datetime(2025, 1, 1, 0, 0, tzinfo=datetime.timezone.utc), datetime.datetime(2026, 1, 1, 0, 0, tzinfo=datetime.timezone.utc))
    >>> len(plan_windows(datetime(2025, 1, 1, tzinfo=UTC), datetime(2026, 6, 1, tzinfo=UTC)))
    2
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from auditlab.errors import QueryError, StoreLockedError
from auditlab.filters.model import API_LIMIT, Query, TimeRange, format_datetime, parse_datetime

if TYPE_CHECKING:  # pragma: no cover
    from auditlab._types import PathLike
    from auditlab.portal.client import PortalClient
    from auditlab.portal.settings import PortalSettings
    from auditlab.store.persistent import Store

__all__ = ["STATE_FILE", "ExportRecord", "SyncResult", "plan_windows", "read_state", "sync"]

#: The sync's own file in the store folder: marks and the exports it created.
STATE_FILE = "sync-state.json"
_LOCK_FILE = ".sync-lock"
_STATE_VERSION = 1
#: How far before the mark each sync starts again, for events the Portal records late.
DEFAULT_OVERLAP = timedelta(hours=1)


def plan_windows(
    start: datetime, end: datetime, *, window: timedelta = API_LIMIT
) -> list[tuple[datetime, datetime]]:
    """``[start, end)`` cut into consecutive windows of at most ``window``, oldest first."""
    if window <= timedelta(0):
        raise QueryError("the sync window must be positive")
    out = []
    lo = start
    while lo < end:
        hi = min(lo + window, end)
        out.append((lo, hi))
        lo = hi
    return out


@dataclass(frozen=True)
class ExportRecord:
    """One export job the sync created, as a row of the Portal's *Audit Exports* table."""

    id: str
    name: str
    created_at: str
    start: str
    end: str
    formats: list[str]
    filters: list[dict[str, Any]]
    status: str
    lines: int = 0
    loaded: int = 0
    duplicates: int = 0
    quarantined: int = 0


@dataclass
class SyncResult:
    """What a sync did: windows, jobs, the accounting of its loads, and the mark."""

    store: str
    api: str
    organization: str
    start: str | None
    end: str | None
    filters: list[dict[str, Any]]
    residual: str | None
    windows: int = 0
    exports: list[ExportRecord] = field(default_factory=list)
    lines: int = 0
    loaded: int = 0
    duplicates: int = 0
    quarantined: int = 0
    matching: int | None = None
    mark: str | None = None
    retries: int = 0
    waited: float = 0.0
    seconds: float = 0.0

    @property
    def jobs(self) -> int:
        """How many export jobs the sync created."""
        return len(self.exports)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (``jobs`` included)."""
        out = asdict(self)
        out["jobs"] = self.jobs
        return out

    def __str__(self) -> str:
        span = f"{self.start} .. {self.end}" if self.start else "nothing new to fetch"
        rows = [
            f"synced organization {self.organization!r} from {self.api}: {span}",
            f"{self.windows} window(s), {self.jobs} export job(s): {self.lines} lines: {self.loaded} loaded, "
            f"{self.duplicates} duplicates, {self.quarantined} quarantined",
            f"high-water mark: {self.mark or '-'}; retries: {self.retries} ({self.waited:.1f} s waited); "
            f"{self.seconds:.1f} s",
        ]
        if self.residual:
            rows.append(f"applied locally: {self.residual}: {self.matching} matching events in the range")
        if self.exports:
            rows.append("exports created:")
            rows.append("  name | created | range | formats | status | loaded | duplicates | quarantined")
            rows.extend(
                f"  {e.name} | {e.created_at} | {e.start} .. {e.end} | {','.join(e.formats)} | {e.status} | "
                f"{e.loaded} | {e.duplicates} | {e.quarantined}"
                for e in self.exports
            )
        return "\n".join(rows)


# -- the state file ---------------------------------------------------------------------------
def read_state(store_path: PathLike) -> dict[str, Any]:
    """The sync state of a store folder (marks, the NDJSON flag spelling, exports created)."""
    path = Path(store_path) / STATE_FILE
    if not path.exists():
        return {"version": _STATE_VERSION, "marks": {}, "exports": []}
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    data.setdefault("marks", {})
    data.setdefault("exports", [])
    return data


def _write_state(store_path: Path, state: dict[str, Any]) -> None:
    tmp = store_path / (STATE_FILE + ".tmp")
    with open(tmp, "w", encoding="utf-8") as fh:
        json.dump(state, fh, indent=1)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, store_path / STATE_FILE)
    fd = os.open(store_path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@contextlib.contextmanager
def _sync_lock(store_path: Path) -> Iterator[None]:
    fd = os.open(store_path / _LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise StoreLockedError(f"{store_path}: another sync is running on this store") from None
        yield
    finally:
        os.close(fd)


def _mark_key(api: str, organization: str, filters: Sequence[dict[str, Any]]) -> str:
    return json.dumps([api, organization, list(filters)], sort_keys=True, separators=(",", ":"))


def _advance(mark: dict[str, str] | None, lo: datetime, hi: datetime) -> dict[str, str] | None:
    """The mark after ``[lo, hi)`` is committed: grown when contiguous, else unchanged."""
    if mark is None:
        return {"from": format_datetime(lo), "to": format_datetime(hi)}
    m_from, m_to = parse_datetime(mark["from"]), parse_datetime(mark["to"])
    if lo <= m_to and hi >= m_from:
        return {"from": format_datetime(min(lo, m_from)), "to": format_datetime(max(hi, m_to))}
    return mark


def _range(
    query: Query, mark: dict[str, str] | None, now: datetime, overlap: timedelta
) -> tuple[datetime, datetime]:
    tr = query.time_range
    if tr.preset != "custom":
        if mark is not None:
            return parse_datetime(mark["to"]) - overlap, now
        if tr.preset == "all":
            raise QueryError("a first sync needs a start: give --since 30d (or 24h, 7d) or --start")
        span = tr.span
        assert span is not None
        return now - span, now
    end = tr.end or now
    if tr.start is None:
        if mark is None:
            raise QueryError("a first sync needs a start: give --since or --start")
        return parse_datetime(mark["to"]) - overlap, end
    start = tr.start
    if mark is not None:
        m_from, m_to = parse_datetime(mark["from"]), parse_datetime(mark["to"])
        if m_from <= start < m_to:  # resume within what is already synced
            start = max(start, m_to - overlap)
    return start, end


def sync(
    store: Store | PathLike,
    *,
    server: str | None = None,
    organization: str | None = None,
    host: str | None = None,
    base_url: str | None = None,
    query: Query | str | None = None,
    since: str | None = None,
    start: datetime | str | None = None,
    end: datetime | str | None = None,
    formats: Sequence[str] = ("ndjson",),
    overlap: timedelta = DEFAULT_OVERLAP,
    window: timedelta = API_LIMIT,
    settings: PortalSettings | None = None,
    client: PortalClient | None = None,
    keep_downloads: PathLike | None = None,
    progress: bool = False,
    now: datetime | None = None,
) -> SyncResult:
    """Bring a store up to date from the Portal's audit-log export API.

    Args:
        store: a :class:`~auditlab.store.persistent.Store` or its folder (created if missing).
        server, organization, host, base_url: the Portal (else ``AUDITLAB_*``, the SDK file...;
            see :func:`~auditlab.portal.settings.resolve_settings`). ``host`` may be a URL
            with scheme and port.
        query: filters (a :class:`Query` or its text form); pushed down to the API where it can
            be, the residual applied locally after ingest (:attr:`SyncResult.matching`).
        since: ``24h``/``7d``/``30d``: how far back a *first* sync goes (default: the query's
            range; ``30d`` without a query); later syncs start at the mark minus ``overlap``.
        start, end: a custom range instead (``end`` defaults to now); a start inside what is
            already synced resumes at the mark.
        formats: ``ndjson`` and/or ``cef`` (both: the CEF twins count as duplicates).
        overlap: how far before the mark to fetch again (late events; dedupe absorbs them).
        window: the longest export (365 days, the API's limit).
        settings: connection and retry settings (``token``, ``max_wait``...).
        client: a :class:`~auditlab.portal.client.PortalClient` to use (not closed).
        keep_downloads: a folder to keep the downloaded ZIPs in (default: a temporary folder).
        progress: a progress bar on stderr across windows and jobs.
        now: the wall clock (for reproducible runs).

    Returns:
        A :class:`SyncResult`; ``str()`` of it is the summary with the exports created.

    Raises:
        AuthError, ThrottledError, PortalError, ExportJobError: the Portal failed (the mark stays
            at the last committed window).
        StoreLockedError: another sync, or another load, holds the store.
        QueryError: a bad range or filter.
    """
    from auditlab.portal.client import PortalClient
    from auditlab.portal.settings import resolve_settings
    from auditlab.store.persistent import Store, open_store

    began = time.monotonic()
    st = store if isinstance(store, Store) else open_store(store)
    q = Query.parse(query) if isinstance(query, str) else (query or Query(time_range="30d"))
    if since is not None or start is not None or end is not None:
        if since is not None and (start is not None or end is not None):
            raise QueryError("give since or start/end, not both")
        tr = TimeRange(since) if since is not None else TimeRange("custom", start=start, end=end)
        q = q.since(tr)
    if settings is None:
        settings = resolve_settings(server=server, organization=organization, host=host, base_url=base_url)
    else:
        changes = {
            k: v
            for k, v in {
                "server": server,
                "organization": organization,
                "host": host,
                "base_url": base_url,
            }.items()
            if v
        }
        settings = settings.with_options(**changes) if changes else settings
    own_client = client is None
    api = client or PortalClient(settings)
    try:
        with _sync_lock(st.path):
            return _run(st, api, q, formats, overlap, window, keep_downloads, progress, now, began)
    finally:
        if own_client:
            api.close()


def _run(
    st: Store,
    api: PortalClient,
    q: Query,
    formats: Sequence[str],
    overlap: timedelta,
    window: timedelta,
    keep_downloads: PathLike | None,
    progress: bool,
    now: datetime | None,
    began: float,
) -> SyncResult:
    from tqdm.auto import tqdm

    from auditlab.io.export import safe_name

    org = api.organization
    filters, residual = q.to_portal_filters()
    filters_json = [dict(f) for f in filters]
    state = read_state(st.path)
    if state.get("ndjson_flag"):
        api.ndjson_flag = state["ndjson_flag"]
    key = _mark_key(api.base_url, org, filters_json)
    mark = state["marks"].get(key)
    clock = (now or datetime.now(UTC)).replace(microsecond=0)
    lo, hi = _range(q, mark, clock, overlap)
    windows = plan_windows(lo, hi, window=window) if lo < hi else []
    residual_text = "; ".join(str(c) for c in residual.conditions) or None
    result = SyncResult(
        store=str(st.path),
        api=api.base_url,
        organization=org,
        start=format_datetime(lo) if windows else None,
        end=format_datetime(hi) if windows else None,
        filters=filters_json,
        residual=residual_text,
        mark=mark["to"] if mark else None,
    )
    retries_before = len(api.retries)
    downloads = Path(keep_downloads) if keep_downloads else None
    with contextlib.ExitStack() as stack:
        if downloads is None:
            downloads = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="auditlab-sync-")))
        downloads.mkdir(parents=True, exist_ok=True)
        bar = stack.enter_context(
            tqdm(total=len(windows), desc="sync", unit="window", disable=not progress, leave=False)
        )
        for w_lo, w_hi in windows:
            name = f"auditlab sync {org} {format_datetime(w_lo)} {format_datetime(w_hi)}"
            bar.set_postfix_str("creating export")
            job = api.create_export(name=name, start=w_lo, end=w_hi, formats=formats, filters=filters_json)
            bar.set_postfix_str(f"waiting for job {job.id[:8]}")
            job = api.wait_for_export(job, formats=formats)
            paths = []
            for fmt in formats:
                bar.set_postfix_str(f"downloading {fmt}")
                url = job.url(fmt)
                assert url is not None  # wait_for_export raised otherwise
                paths.append(api.download(url, downloads / f"{safe_name(name)}.{fmt}.zip"))
            bar.set_postfix_str("ingesting")
            report = st.ingest(*paths)
            # The window is committed: only now does the mark move.
            mark = _advance(mark, w_lo, w_hi)
            record = ExportRecord(
                id=job.id,
                name=job.name or name,
                created_at=format_datetime(datetime.now(UTC).replace(microsecond=0)),
                start=format_datetime(w_lo),
                end=format_datetime(w_hi),
                formats=list(formats),
                filters=filters_json,
                status="ingested",
                lines=report.lines,
                loaded=report.loaded,
                duplicates=report.duplicates,
                quarantined=report.quarantined,
            )
            if mark is not None:
                state["marks"][key] = {**mark, "updated_at": record.created_at}
            state["ndjson_flag"] = api.ndjson_flag
            state["exports"].append(asdict(record))
            _write_state(st.path, state)
            result.windows += 1
            result.exports.append(record)
            result.lines += report.lines
            result.loaded += report.loaded
            result.duplicates += report.duplicates
            result.quarantined += report.quarantined
            result.mark = mark["to"] if mark else result.mark
            bar.update(1)
    new_retries = api.retries[retries_before:]
    result.retries = len(new_retries)
    result.waited = round(sum(r.wait for r in new_retries), 3)
    if residual_text is not None and windows:
        st.refresh()
        result.matching = st.query(q.between(lo, hi)).count()
    result.seconds = round(time.monotonic() - began, 3)
    return result
