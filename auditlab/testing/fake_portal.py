"""A fake Spectra Assure Portal: the audit-log export API over sample data, on 127.0.0.1.

A real HTTP server (stdlib ``http.server`` in a thread) serving:

- ``POST /{server}/api/public/v1/audit-log/{org}/export`` -> 201 job (``IN_PROGRESS``);
- ``GET  /{server}/api/public/v1/audit-log/{org}/export/{id}/status`` -> the job, with
  presigned links once done;
- ``GET  /downloads/{id}/{fmt}.zip?X-Amz-Signature=...`` -> the export ZIP. Like a storage host
  with presigned URLs, it refuses (400) a request that also carries an ``Authorization`` header.

Exports hold the events of the data in ``[datetime_start, datetime_end)`` that match the
filters, written by auditlab's own NDJSON/CEF writers (NDJSON records verbatim). Faults are
switched through :attr:`FakePortal.faults` (see :class:`Faults`); every request is recorded in
:attr:`FakePortal.requests` (whether it carried a token, never the token itself).

Run it by hand: ``python -m auditlab.testing.fake_portal --data data/samples --port 8080``, then
``AUDITLAB_TOKEN=fake-token auditlab sync --store s --host http://127.0.0.1:8080 --server demo
--org acme --start 2026-10-02 --end 2026-11-01``.

Examples:
    >>> with FakePortal("data/samples/portal_audit_export.zip") as portal:  # doctest: +SKIP
    ...     portal.url
    'http://127.0.0.1:...'
"""

from __future__ import annotations

import argparse
import email.utils
import io
import json
import secrets
import socket
import threading
import uuid
import zipfile
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, unquote, urlsplit

if TYPE_CHECKING:  # pragma: no cover
    from auditlab._types import PathLike
    from auditlab.store.workspace import Workspace

__all__ = ["FakePortal", "Faults", "Recorded", "main"]

_MEMBERS = {"ndjson": "audit_log.ndjson", "cef": "audit_log.cef"}


@dataclass
class Faults:
    """Switchable faults; counters are used up one request at a time.

    Attributes:
        throttle: the next N API calls answer 429.
        throttle_style: how a 429 says when to come back: ``seconds`` (``Retry-After: N``),
            ``date`` (``Retry-After`` as an HTTP date), ``body`` ("Expected available in N
            seconds") or ``none``.
        throttle_seconds: the N of those hints.
        server_errors: the next N API calls answer 500.
        drop_api: the next N API calls close the connection without an answer.
        slow_status: status polls that answer ``IN_PROGRESS`` before a job is done.
        drop_download: the next N downloads are cut after half the body.
        expired_token: every API call answers 401 (token expired).
        forbidden: every API call answers 403 (not an organization administrator).
        old_flag: the server knows only ``should_create_json`` (400 naming ``should_create_ndjson``).
        corrupt_from_job: jobs numbered from here (1-based) serve a corrupt ZIP.
        stall_from_job: jobs numbered from here never finish.
        fail_from_job: jobs numbered from here end ``FAILED``.
    """

    throttle: int = 0
    throttle_style: str = "seconds"
    throttle_seconds: float = 1.0
    server_errors: int = 0
    drop_api: int = 0
    slow_status: int = 1
    drop_download: int = 0
    expired_token: bool = False
    forbidden: bool = False
    old_flag: bool = False
    corrupt_from_job: int | None = None
    stall_from_job: int | None = None
    fail_from_job: int | None = None


@dataclass(frozen=True)
class Recorded:
    """One request the fake received: method, path, whether it carried ``Authorization``, JSON body."""

    method: str
    path: str
    authorization: bool
    body: Any = None


@dataclass
class _Job:
    number: int
    id: str
    name: str
    formats: tuple[str, ...]
    files: dict[str, bytes]
    events: int
    polls: int = 0
    signature: str = field(default_factory=lambda: secrets.token_hex(16))


class FakePortal:
    """A fake Portal on ``127.0.0.1`` serving exports of ``data`` (paths or a Workspace).

    Args:
        data: export files/folders to load, or a loaded :class:`~auditlab.store.workspace.Workspace`.
        token: the one token it accepts.
        server, organization: the names in its URLs.
        port: 0 picks a free port.

    Use as a context manager, or :meth:`start` / :meth:`stop`. ``url`` is ``http://127.0.0.1:PORT``:
    give it as the client's ``host`` together with ``server``.
    """

    def __init__(
        self,
        data: PathLike | Workspace,
        *,
        token: str = "fake-token",
        server: str = "demo",
        organization: str = "acme",
        port: int = 0,
    ) -> None:
        from auditlab.store.workspace import Workspace, load

        self.workspace = data if isinstance(data, Workspace) else load(data)
        self._token = token
        self.server = server
        self.organization = organization
        self.faults = Faults()
        self.requests: list[Recorded] = []
        self.jobs: dict[str, _Job] = {}
        self._lock = threading.Lock()
        self._httpd = ThreadingHTTPServer(("127.0.0.1", port), _handler(self))
        self._httpd.daemon_threads = True
        self._thread: threading.Thread | None = None

    def __repr__(self) -> str:
        return f"<FakePortal {self.url} server={self.server!r} organization={self.organization!r}>"

    @property
    def port(self) -> int:
        return int(self._httpd.server_address[1])

    @property
    def url(self) -> str:
        """``http://127.0.0.1:PORT``."""
        return f"http://127.0.0.1:{self.port}"

    @property
    def api(self) -> str:
        """The API base URL."""
        return f"{self.url}/{self.server}/api/public/v1"

    def start(self) -> FakePortal:
        """Serve in a background thread."""
        self._thread = threading.Thread(target=self._httpd.serve_forever, name="fake-portal", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and close the socket."""
        self._httpd.shutdown()
        self._httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> FakePortal:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- data --------------------------------------------------------------------------------
    def select(self, start: datetime, end: datetime, filters: list[dict[str, Any]] | None = None) -> Any:
        """The events an export of ``[start, end)`` with these API filters holds (an Arrow table).

        Raises:
            ValueError: a filter the API would refuse.
        """
        from auditlab.filters.fields import FIELDS
        from auditlab.filters.model import Condition, Query, TimeRange

        conditions = []
        for f in filters or []:
            name, op, values = f.get("filter_by"), f.get("operation"), f.get("values")
            spec = FIELDS.get(str(name))
            if spec is None or not spec.api_ops:
                raise ValueError(f"filter_by: {name!r} is not a valid choice")
            if op not in spec.api_ops:
                raise ValueError(f"operation: {op!r} is not allowed for {name}")
            if not isinstance(values, list) or not values:
                raise ValueError("values: a non-empty list is required")
            vals = values[:1] if op in ("is", "is_not") else values
            conditions.append(Condition(str(name), str(op), [str(v) for v in vals]))
        query = Query(conditions, TimeRange(start=start, end=end), allow_unknown_actions=True)
        with self._lock:
            return self.workspace.query(query).to_arrow()

    def count(
        self, start: datetime | str, end: datetime | str, filters: list[dict[str, Any]] | None = None
    ) -> int:
        """How many events an export of ``[start, end)`` holds."""
        from auditlab.filters.model import parse_datetime

        return int(self.select(parse_datetime(start), parse_datetime(end), filters).num_rows)

    def _build(self, table: Any, formats: tuple[str, ...]) -> dict[str, bytes]:
        from auditlab.io.cef_write import write_cef
        from auditlab.io.ndjson import write_ndjson

        files: dict[str, bytes] = {}
        for fmt in formats:
            member = io.BytesIO()
            (write_ndjson if fmt == "ndjson" else write_cef)(table, member)
            out = io.BytesIO()
            with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zf:
                zf.writestr(_MEMBERS[fmt], member.getvalue())
            files[fmt] = out.getvalue()
        return files

    def _job_json(self, job: _Job) -> dict[str, Any]:
        f = self.faults
        out: dict[str, Any] = {"id": job.id, "name": job.name}
        stalled = f.stall_from_job is not None and job.number >= f.stall_from_job
        failed = f.fail_from_job is not None and job.number >= f.fail_from_job
        for fmt in ("cef", "ndjson"):
            status, link, expires = None, None, None
            if fmt in job.formats:
                status = "IN_PROGRESS"
                if job.polls > f.slow_status and not stalled:
                    status = "FAILED" if failed else "COMPLETED"
                    if not failed:
                        link = f"{self.url}/downloads/{job.id}/{fmt}.zip?X-Amz-Signature={job.signature}"
                        expires = (datetime.now(UTC) + timedelta(days=7)).isoformat().replace("+00:00", "Z")
            out[f"{fmt}_status"] = status
            out[f"{fmt}_presigned_url"] = link
            out[f"{fmt}_expires_at"] = expires
        return out

    # -- requests ----------------------------------------------------------------------------
    def _create(self, body: Any) -> tuple[int, Any]:
        from auditlab.filters.model import API_LIMIT, parse_datetime

        if not isinstance(body, dict):
            return 400, {"detail": "a JSON object is required"}
        flag = "should_create_json" if self.faults.old_flag else "should_create_ndjson"
        other = "should_create_ndjson" if self.faults.old_flag else "should_create_json"
        if other in body:
            return 400, {"detail": {other: ["Unknown field: " + other]}}
        missing = [
            k for k in ("name", "datetime_start", "datetime_end", "should_create_cef", flag) if k not in body
        ]
        if missing:
            return 400, {"detail": {k: ["This field is required."] for k in missing}}
        try:
            start, end = parse_datetime(body["datetime_start"]), parse_datetime(body["datetime_end"])
        except Exception:
            return 400, {"detail": "datetime_start/datetime_end: not ISO 8601"}
        if start >= end:
            return 400, {"detail": "datetime_start must be before datetime_end"}
        if end - start > API_LIMIT:
            return 400, {"detail": "the time range may span at most 365 days"}
        formats = tuple(f for f, k in (("ndjson", flag), ("cef", "should_create_cef")) if body.get(k))
        if not formats:
            return 400, {"detail": "choose at least one format"}
        if not str(body["name"]) or len(str(body["name"])) > 255:
            return 400, {"detail": {"name": ["Ensure this field has 1 to 255 characters."]}}
        try:
            table = self.select(start, end, body.get("filters"))
        except ValueError as exc:
            return 400, {"detail": {"filters": [str(exc)]}}
        with self._lock:
            number = len(self.jobs) + 1
            job = _Job(
                number,
                str(uuid.uuid4()),
                str(body["name"]),
                formats,
                self._build(table, formats),
                table.num_rows,
            )
            if self.faults.corrupt_from_job is not None and number >= self.faults.corrupt_from_job:
                job.files = {
                    k: v[: len(v) // 2] + b"\0" * (len(v) - len(v) // 2) for k, v in job.files.items()
                }
            self.jobs[job.id] = job
        return 201, self._job_json(job)

    def _status(self, job_id: str) -> tuple[int, Any]:
        with self._lock:
            job = self.jobs.get(job_id)
            if job is None:
                return 404, {"detail": "Not found."}
            job.polls += 1
        return 200, self._job_json(job)


def _handler(portal: FakePortal) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:  # quiet: tests read portal.requests
            return

        def _send(
            self,
            status: int,
            payload: Any = None,
            *,
            headers: dict[str, str] | None = None,
            raw: bytes | None = None,
        ) -> None:
            data = raw if raw is not None else json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/zip" if raw is not None else "application/json")
            self.send_header("Content-Length", str(len(data)))
            for k, v in (headers or {}).items():
                self.send_header(k, v)
            self.end_headers()
            self.wfile.write(data)

        def _body(self) -> Any:
            length = int(self.headers.get("Content-Length") or 0)
            data = self.rfile.read(length) if length else b""
            try:
                return json.loads(data) if data else None
            except ValueError:
                return data.decode(errors="replace")

        def do_POST(self) -> None:
            self._route("POST")

        def do_GET(self) -> None:
            self._route("GET")

        def _route(self, method: str) -> None:
            parts = urlsplit(self.path)
            path = unquote(parts.path)
            body = self._body() if method == "POST" else None
            auth = self.headers.get("Authorization")
            with portal._lock:
                portal.requests.append(Recorded(method, path, auth is not None, body))
            if path.startswith("/downloads/"):
                self._download(path, parse_qs(parts.query), auth)
                return
            self._api(method, path, body, auth)

        def _api(self, method: str, path: str, body: Any, auth: str | None) -> None:
            f = portal.faults
            prefix = f"/{portal.server}/api/public/v1/audit-log/"
            if not path.startswith(prefix):
                self._send(404, {"detail": "Not found."})
                return
            drop = throttle = error = False
            with portal._lock:  # one fault per request, in this order
                if f.drop_api > 0:
                    drop, f.drop_api = True, f.drop_api - 1
                elif f.throttle > 0:
                    throttle, f.throttle = True, f.throttle - 1
                elif f.server_errors > 0:
                    error, f.server_errors = True, f.server_errors - 1
            if drop:
                self.close_connection = True
                self.connection.shutdown(socket.SHUT_RDWR)
                return
            if auth != f"Bearer {portal._token}" or f.expired_token:
                detail = "Token has expired." if f.expired_token else "Invalid token."
                self._send(401, {"detail": detail})
                return
            if f.forbidden:
                self._send(403, {"detail": "You do not have permission to perform this action."})
                return
            if throttle:
                self._throttle()
                return
            if error:
                self._send(500, {"error": "Internal server error"})
                return
            rest = path[len(prefix) :].strip("/").split("/")
            if rest[0] != portal.organization:
                self._send(404, {"detail": "Not found."})
                return
            if method == "POST" and rest[1:] == ["export"]:
                self._send(*portal._create(body))
            elif method == "GET" and len(rest) == 4 and rest[1] == "export" and rest[3] == "status":
                self._send(*portal._status(rest[2]))
            else:
                self._send(404, {"detail": "Not found."})

        def _throttle(self) -> None:
            f = portal.faults
            n = f.throttle_seconds
            headers = {}
            text = "Request was throttled."
            if f.throttle_style == "seconds":
                headers["Retry-After"] = f"{n:g}"
            elif f.throttle_style == "date":
                when = datetime.now(UTC) + timedelta(seconds=n)
                headers["Retry-After"] = email.utils.format_datetime(when, usegmt=True)
            elif f.throttle_style == "body":
                text = f"Request was throttled. Expected available in {n:g} seconds."
            self._send(429, {"detail": text}, headers=headers)

        def _download(self, path: str, query: dict[str, list[str]], auth: str | None) -> None:
            parts = path.strip("/").split("/")
            job = portal.jobs.get(parts[1]) if len(parts) == 3 else None
            fmt = parts[2].removesuffix(".zip") if len(parts) == 3 else ""
            if auth is not None:
                self._send(
                    400, {"error": "Only one auth mechanism allowed; presigned URLs take no Authorization"}
                )
                return
            if job is None or fmt not in job.files or query.get("X-Amz-Signature") != [job.signature]:
                self._send(403, {"error": "SignatureDoesNotMatch"})
                return
            data = job.files[fmt]
            f = portal.faults
            with portal._lock:
                drop, f.drop_download = f.drop_download > 0, max(0, f.drop_download - 1)
            if drop:
                self.send_response(200)
                self.send_header("Content-Type", "application/zip")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data[: len(data) // 2])
                self.wfile.flush()
                self.close_connection = True
                self.connection.shutdown(socket.SHUT_RDWR)
                return
            self._send(200, raw=data)

    return Handler


def main(argv: list[str] | None = None) -> None:
    """``python -m auditlab.testing.fake_portal --data DIR [--port N]``: serve until interrupted."""
    parser = argparse.ArgumentParser(
        prog="python -m auditlab.testing.fake_portal", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--data", required=True, help="export files or a folder of them")
    parser.add_argument("--port", type=int, default=8080)
    parser.add_argument("--server", default="demo")
    parser.add_argument("--org", default="acme")
    parser.add_argument("--token", default="fake-token", help="the token it accepts (never printed)")
    parser.add_argument("--slow-status", type=int, default=1, help="polls answering IN_PROGRESS first")
    args = parser.parse_args(argv)
    portal = FakePortal(
        args.data, token=args.token, server=args.server, organization=args.org, port=args.port
    )
    portal.faults.slow_status = args.slow_status
    span = portal.workspace.time_span()
    print(f"fake Portal at {portal.url} (server {args.server!r}, organization {args.org!r}); events {span}")
    print(f"  auditlab sync --store STORE --host {portal.url} --server {args.server} --org {args.org} ...")
    print("  (set AUDITLAB_TOKEN to the token given with --token; Ctrl-C stops)")
    try:
        portal._httpd.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        portal._httpd.server_close()


if __name__ == "__main__":  # pragma: no cover
    main()
