"""The Portal API client: audit-log export jobs, status polling, downloads (httpx + tenacity).

One :class:`PortalClient` talks to one organization. Every call has a timeout; TLS is verified
(with an optional CA bundle); proxies come from the settings or ``HTTPS_PROXY``/``NO_PROXY``.
Retries run through tenacity, bounded by :class:`~auditlab.portal.settings.PortalSettings`:

- 429: wait ``Retry-After`` (seconds or an HTTP date), else the body's "Expected available in N
  seconds", else ``throttle_wait`` (60 s, as the SDK), each capped at ``max_wait``;
- 5xx and dropped connections: exponential backoff with jitter (``backoff_initial`` ..
  ``backoff_max``);
- 401/403: :class:`~auditlab.errors.AuthError` at once (no retry); 404: the organization named.

Presigned download links are fetched by a second HTTP client that has no ``Authorization``
header at all, so the token never reaches the storage host. The token is never printed, logged,
put in a repr or an exception message.

Examples:
    >>> from auditlab.portal.settings import resolve_settings
    >>> c = PortalClient(resolve_settings(server="demo", organization="acme", token="x", environ={}))
    >>> c
    <PortalClient 'https://my.secure.software/demo/api/public/v1' organization='acme'>
    >>> c.close()
"""

from __future__ import annotations

import email.utils
import logging
import re
import ssl
import time
import zipfile
import zlib
from collections.abc import Callable, Generator, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import quote, urlsplit

from auditlab.errors import AuthError, ExportJobError, PortalError, ThrottledError
from auditlab.portal.settings import PortalSettings, Secret

if TYPE_CHECKING:  # pragma: no cover
    import httpx
    import tenacity

__all__ = [
    "FORMATS",
    "NDJSON_FLAGS",
    "ExportJob",
    "PortalClient",
    "RetryEvent",
    "parse_retry_after",
]

log = logging.getLogger("auditlab.portal")

#: The export formats and their field prefix in the API.
FORMATS: tuple[str, ...] = ("ndjson", "cef")
#: The NDJSON flag's spellings: the SDK 1.1.0 spec's, then the older schema text's.
NDJSON_FLAGS: tuple[str, ...] = ("should_create_ndjson", "should_create_json")
#: Status words taken as a failed format (upper-cased); any other word without a link is pending.
FAILED_STATES = frozenset({"FAILED", "FAILURE", "ERROR", "EXPIRED", "CANCELLED", "CANCELED", "ABORTED"})
#: Status words taken as finished; finished without a link is an error (never a silent gap).
DONE_STATES = frozenset({"DONE", "COMPLETED", "COMPLETE", "FINISHED", "SUCCESS", "SUCCEEDED", "READY"})

_THROTTLE_BODY = re.compile(r"available in\s+(\d+(?:\.\d+)?)\s*second", re.IGNORECASE)
T = TypeVar("T")


def parse_retry_after(header: str | None, body: str = "", *, now: datetime | None = None) -> float | None:
    """Seconds to wait after a 429: ``Retry-After`` (seconds or HTTP date), else the body's hint.

    Examples:
        >>> parse_retry_after("7")
        7.0
        >>> parse_retry_after("Wed, 21 Oct 2026 07:28:10 GMT", now=datetime(2026, 10, 21, 7, 28, tzinfo=UTC))
        10.0
        >>> parse_retry_after(None, "Request was throttled. Expected available in 3 seconds.")
        3.0
        >>> parse_retry_after(None, "slow down") is None
        True
    """
    if header:
        text = header.strip()
        try:
            return max(0.0, float(text))
        except ValueError:
            pass
        try:
            when = email.utils.parsedate_to_datetime(text)
        except (TypeError, ValueError):
            when = None
        if when is not None:
            if when.tzinfo is None:
                when = when.replace(tzinfo=UTC)
            return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())
    match = _THROTTLE_BODY.search(body or "")
    if match:
        return float(match.group(1))
    return None


@dataclass(frozen=True, slots=True)
class RetryEvent:
    """One retry: what was retried, why, and how long the client waited before the next try."""

    call: str
    reason: str
    status: int | None
    wait: float
    retry_after: float | None = None


@dataclass(frozen=True)
class ExportJob:
    """An audit-log export job as the API describes it (201 answer or status).

    The presigned URLs are credentials for 7 days: the repr shows only whether there is one.
    """

    id: str
    name: str
    data: dict[str, Any] = field(repr=False)

    @classmethod
    def from_api(cls, data: Any) -> ExportJob:
        """A job from the API's JSON; :class:`ExportJobError` when it has no ``id``."""
        if not isinstance(data, dict) or not data.get("id"):
            raise ExportJobError("the Portal's export answer has no job id")
        return cls(id=str(data["id"]), name=str(data.get("name") or ""), data=dict(data))

    def status(self, fmt: str) -> str:
        """``<fmt>_status`` as given (``IN_PROGRESS`` at first), or ``""``."""
        return str(self.data.get(f"{fmt}_status") or "")

    def url(self, fmt: str) -> str | None:
        """``<fmt>_presigned_url``, when the format is ready."""
        value = self.data.get(f"{fmt}_presigned_url")
        return str(value) if value else None

    def state(self, fmt: str) -> str:
        """``done`` (a link), ``failed`` or ``pending``.

        Raises:
            ExportJobError: the status says finished but there is no link.

        Examples:
            >>> ExportJob.from_api({"id": "1", "ndjson_status": "IN_PROGRESS"}).state("ndjson")
            'pending'
            >>> ExportJob.from_api({"id": "1", "ndjson_status": "COMPLETED", "ndjson_presigned_url": "https://s/x"}).state("ndjson")
            'done'
        """
        if self.url(fmt):
            return "done"
        word = self.status(fmt).upper()
        if word in FAILED_STATES:
            return "failed"
        if word in DONE_STATES:
            raise ExportJobError(f"export job {self.id} says {fmt} is {self.status(fmt)} but gives no link")
        return "pending"

    def settled(self, formats: Iterable[str]) -> bool:
        """Every requested format is done or failed."""
        return all(self.state(f) != "pending" for f in formats)


class _Transient(Exception):
    """A failure worth another try; ``error`` is raised when the tries run out."""

    def __init__(self, error: PortalError, *, wait: float | None = None, reason: str = "") -> None:
        super().__init__(str(error))
        self.error = error
        self.wait = wait
        self.reason = reason or str(error)


def _detail(response: httpx.Response) -> str:
    try:
        data = response.json()
    except ValueError:
        return response.text.strip()[:300]
    if isinstance(data, dict):
        for key in ("error", "detail", "message", "errors"):
            if data.get(key):
                value = data[key]
                return value if isinstance(value, str) else str(value)[:300]
    return str(data)[:300]


class PortalClient:
    """A client of one organization's audit-log export API.

    Args:
        settings: where and how (see :func:`~auditlab.portal.settings.resolve_settings`).
        http: an ``httpx.Client`` for the API (the injection seam; default: built from settings).
        download_http: an ``httpx.Client`` for presigned downloads; it must send no token.
        sleep: the function that waits between tries (default ``time.sleep``).

    Attributes:
        retries: every retry so far (:class:`RetryEvent`), for reports and tests.
        ndjson_flag: the NDJSON flag spelling the server accepts (learnt on a 400 naming it).
    """

    def __init__(
        self,
        settings: PortalSettings,
        *,
        http: httpx.Client | None = None,
        download_http: httpx.Client | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        import httpx

        self.settings = settings
        self.base_url = settings.api_url
        self.retries: list[RetryEvent] = []
        self.ndjson_flag = NDJSON_FLAGS[0]
        self._sleep = sleep
        verify: ssl.SSLContext | bool = settings.verify
        if settings.verify and settings.ca_bundle:
            verify = ssl.create_default_context(cafile=settings.ca_bundle)
        timeout = httpx.Timeout(settings.timeout)
        proxy = settings.proxy.reveal() if settings.proxy else None
        headers = {"User-Agent": "auditlab (Spectra Assure audit-log sync)", "Accept": "application/json"}
        self._http = http or httpx.Client(
            timeout=timeout, verify=verify, proxy=proxy, headers=headers, follow_redirects=False
        )
        # No auth, no shared headers: the presigned host never sees the bearer token.
        self._download = download_http or httpx.Client(
            timeout=timeout, verify=verify, proxy=proxy, follow_redirects=True
        )

    # -- plumbing ----------------------------------------------------------------------------
    def __repr__(self) -> str:
        return f"<PortalClient {self.base_url!r} organization={self.settings.organization!r}>"

    def __enter__(self) -> PortalClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Close both HTTP clients."""
        self._http.close()
        self._download.close()

    @property
    def organization(self) -> str:
        org = self.settings.organization
        if not org:
            raise PortalError("no organization given: set --org (or AUDITLAB_ORG)")
        return org

    def _scrub(self, text: str) -> str:
        token = self.settings.token.reveal() if self.settings.token else ""
        return text.replace(token, "********") if token else text

    def _auth(self) -> httpx.Auth:
        """The bearer header, added by httpx as the request is sent (no copy of it lingers)."""
        import httpx

        secret = self.settings.token
        if secret is None or not secret.reveal():
            raise AuthError("no token: set AUDITLAB_TOKEN, the SDK configuration's token, or the keyring")

        token: Secret = secret

        class Bearer(httpx.Auth):
            def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
                request.headers["Authorization"] = "Bearer " + token.reveal()
                yield request

        return Bearer()

    def _retrying(self, call: str) -> tenacity.Retrying:
        import tenacity

        s = self.settings
        # exponential, with up to one initial step of random jitter on top
        backoff = tenacity.wait_exponential(
            multiplier=s.backoff_initial, max=s.backoff_max
        ) + tenacity.wait_random(0, s.backoff_initial)

        def wait(state: tenacity.RetryCallState) -> float:
            exc = state.outcome.exception() if state.outcome else None
            if isinstance(exc, _Transient) and exc.wait is not None:
                return min(exc.wait, s.max_wait)
            return float(min(backoff(state), s.max_wait))

        def record(state: tenacity.RetryCallState) -> None:
            exc = state.outcome.exception() if state.outcome else None
            pause = state.next_action.sleep if state.next_action else 0.0
            if isinstance(exc, _Transient):
                retry_after = exc.error.retry_after if isinstance(exc.error, ThrottledError) else None
                self.retries.append(RetryEvent(call, exc.reason, exc.error.status, pause, retry_after))
                log.warning(
                    "%s; retrying in %.2f s (attempt %d of %d)",
                    self._scrub(exc.reason),
                    pause,
                    state.attempt_number + 1,
                    s.max_attempts,
                )

        return tenacity.Retrying(
            retry=tenacity.retry_if_exception_type(_Transient),
            stop=tenacity.stop_after_attempt(max(1, s.max_attempts)),
            wait=wait,
            before_sleep=record,
            sleep=self._sleep,
            reraise=True,
        )

    def _with_retries(self, call: str, fn: Callable[[], T]) -> T:
        try:
            return self._retrying(call)(fn)
        except _Transient as exc:
            raise exc.error from None

    def _error(self, response: httpx.Response, what: str, job_id: str | None = None) -> PortalError:
        status = response.status_code
        detail = self._scrub(_detail(response))
        if status == 401:
            return AuthError(
                f"the Portal refused the token for {what}: it is missing, wrong or expired "
                f"(personal access tokens last 90 days by default; create a new one) [{detail}]",
                status=status,
            )
        if status == 403:
            return AuthError(
                f"the token lacks the rights for {what}: an audit-log export needs an organization "
                f"administrator's token [{detail}]",
                status=status,
            )
        if status == 404:
            target = f"export job {job_id!r} of " if job_id else ""
            return PortalError(
                f"{target}organization {self.settings.organization!r} not found at {self.base_url} "
                f"(check --org and --server/--host) [{detail}]",
                status=status,
            )
        return PortalError(f"{what}: {detail}", status=status)

    def _send(self, method: str, path: str, what: str, *, json: Any = None, job_id: str | None = None) -> Any:
        """One API call with retries; the decoded JSON answer."""
        import httpx

        url = f"{self.base_url}/{path}"
        auth = self._auth()

        def attempt() -> Any:
            try:
                response = self._http.request(method, url, json=json, auth=auth)
            except httpx.TimeoutException as exc:
                raise _Transient(PortalError(f"{what}: timed out ({type(exc).__name__})")) from None
            except httpx.TransportError as exc:
                raise _Transient(PortalError(f"{what}: connection failed ({type(exc).__name__})")) from None
            status = response.status_code
            if status == 429:
                body = response.text
                after = parse_retry_after(response.headers.get("Retry-After"), body)
                error = ThrottledError(
                    f"{what}: throttled [{self._scrub(body.strip()[:200])}]", retry_after=after
                )
                wait = self.settings.throttle_wait if after is None else after
                raise _Transient(error, wait=wait, reason=f"{what}: HTTP 429 throttled")
            if status >= 500:
                raise _Transient(self._error(response, what), reason=f"{what}: HTTP {status}")
            if status >= 400:
                raise self._error(response, what, job_id)
            try:
                return response.json()
            except ValueError:
                raise PortalError(f"{what}: the answer is not JSON", status=status) from None

        return self._with_retries(what, attempt)

    # -- the API -----------------------------------------------------------------------------
    def create_export(
        self,
        *,
        name: str,
        start: datetime,
        end: datetime,
        formats: Sequence[str] = ("ndjson",),
        filters: Sequence[dict[str, Any]] | None = None,
    ) -> ExportJob:
        """Start an export of ``[start, end)`` (``POST /audit-log/{org}/export``).

        If the server rejects the NDJSON flag with a 400 naming it, the request is sent once more
        with the older spelling ``should_create_json``, which the client then keeps using.

        Raises:
            AuthError, PortalError, ThrottledError: see the module docstring.
        """
        from auditlab.filters.model import format_datetime

        unknown = set(formats) - set(FORMATS)
        if unknown or not formats:
            raise PortalError(f"export formats must be among {', '.join(FORMATS)}; got {sorted(formats)}")
        path = f"audit-log/{quote(self.organization, safe='')}/export"

        def body(flag: str) -> dict[str, Any]:
            out: dict[str, Any] = {
                "name": name[:255],
                "datetime_start": format_datetime(start),
                "datetime_end": format_datetime(end),
                "should_create_cef": "cef" in formats,
                flag: "ndjson" in formats,
            }
            if filters:
                out["filters"] = list(filters)
            return out

        try:
            data = self._send("POST", path, "create export", json=body(self.ndjson_flag))
        except PortalError as exc:
            other = [f for f in NDJSON_FLAGS if f != self.ndjson_flag]
            if exc.status != 400 or self.ndjson_flag not in str(exc) or not other:
                raise
            log.warning("the Portal rejects %s; retrying with %s", self.ndjson_flag, other[0])
            data = self._send("POST", path, "create export", json=body(other[0]))
            self.ndjson_flag = other[0]
        return ExportJob.from_api(data)

    def export_status(self, job_id: str) -> ExportJob:
        """The job's status (``GET /audit-log/{org}/export/{job_id}/status``)."""
        path = f"audit-log/{quote(self.organization, safe='')}/export/{quote(job_id, safe='')}/status"
        return ExportJob.from_api(self._send("GET", path, "export status", job_id=job_id))

    def wait_for_export(self, job: ExportJob, *, formats: Sequence[str] = ("ndjson",)) -> ExportJob:
        """Poll the status with backoff until every requested format is done or failed.

        Raises:
            ExportJobError: a format failed, or the job is not settled after ``poll_timeout``.
        """
        import tenacity

        s = self.settings
        poller = tenacity.Retrying(
            retry=tenacity.retry_if_result(lambda j: not j.settled(formats)),
            wait=tenacity.wait_exponential(multiplier=s.poll_initial, min=s.poll_initial, max=s.poll_max),
            stop=tenacity.stop_after_delay(s.poll_timeout),
            sleep=self._sleep,
        )
        current = job
        if not job.settled(formats):
            try:
                current = poller(self.export_status, job.id)
            except tenacity.RetryError:
                raise ExportJobError(
                    f"export job {job.id} ({job.name}) is not finished after {s.poll_timeout:g} s"
                ) from None
        failed = [f for f in formats if current.state(f) == "failed"]
        if failed:
            states = ", ".join(f"{f} {current.status(f)}" for f in failed)
            raise ExportJobError(f"export job {current.id} ({current.name}) failed: {states}")
        return current

    def download(self, url: str, dest: str | Path) -> Path:
        """Download a presigned link to ``dest`` without the token; retried; the ZIP is checked.

        Raises:
            ExportJobError: the file is not a sound ZIP (it is deleted), or the link is refused.
            PortalError: the download keeps failing.
        """
        import httpx

        target = Path(dest)
        host = urlsplit(url).netloc
        what = f"download from {host}"
        part = target.with_name(target.name + ".part")

        def attempt() -> Path:
            try:
                with self._download.stream("GET", url) as response:
                    status = response.status_code
                    if status == 429:
                        after = parse_retry_after(
                            response.headers.get("Retry-After"), response.read().decode()
                        )
                        error = ThrottledError(f"{what}: throttled", retry_after=after)
                        raise _Transient(error, wait=self.settings.throttle_wait if after is None else after)
                    if status >= 500:
                        raise _Transient(PortalError(f"{what}: server error", status=status))
                    if status >= 400:
                        response.read()
                        raise ExportJobError(
                            f"{what}: the link was refused (expired? links live 7 days) [{_detail(response)}]",
                            status=status,
                        )
                    expected = response.headers.get("Content-Length")
                    size = 0
                    with open(part, "wb") as fh:
                        for chunk in response.iter_bytes():
                            fh.write(chunk)
                            size += len(chunk)
                    if expected is not None and int(expected) != size:
                        raise _Transient(PortalError(f"{what}: got {size} of {expected} bytes"))
            except httpx.TransportError as exc:
                raise _Transient(PortalError(f"{what}: interrupted ({type(exc).__name__})")) from None
            part.replace(target)
            return target

        try:
            path = self._with_retries(what, attempt)
        finally:
            part.unlink(missing_ok=True)
        check_zip(path)
        return path


def check_zip(path: Path) -> None:
    """Refuse a file that is not a sound ZIP with at least one member (and delete it).

    Raises:
        ExportJobError: not a ZIP, a CRC error, or no members.
    """
    reason = None
    try:
        with zipfile.ZipFile(path) as zf:
            names = [i.filename for i in zf.infolist() if not i.is_dir()]
            bad = zf.testzip()
            if bad is not None:
                reason = f"member {bad!r} fails its CRC check"
            elif not names:
                reason = "it holds no files"
    except (zipfile.BadZipFile, EOFError, OSError, zlib.error) as exc:
        reason = f"not a readable ZIP ({exc})"
    if reason:
        path.unlink(missing_ok=True)
        raise ExportJobError(f"{path.name}: refused: {reason}; nothing from it was ingested")
