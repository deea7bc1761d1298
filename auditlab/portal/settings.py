"""Portal connection settings: from arguments, the environment, the SDK's JSON file, the keyring.

Precedence, highest first: explicit arguments (the command line), ``AUDITLAB_*`` environment
variables (read through :func:`auditlab.config.portal_env`, the one reader of the environment),
the ``SpectraAssureApi`` object of the Spectra Assure SDK's JSON configuration file, and, for the
token only, the OS keyring (service ``auditlab``, user = the organization) when ``keyring`` is
installed. The token is a :class:`Secret`: it shows as ``'********'`` in every repr and string.

Examples:
    >>> s = resolve_settings(server="demo", organization="acme", token="t0ps3cret", environ={})
    >>> s.api_url
    'https://my.secure.software/demo/api/public/v1'
    >>> "t0ps3cret" in repr(s)
    False
    >>> build_base_url(host="http://127.0.0.1:8080", server="demo")
    'http://127.0.0.1:8080/demo/api/public/v1'
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any
from urllib.parse import quote

from auditlab.config import portal_env
from auditlab.errors import PortalError

__all__ = ["API_DOMAIN", "PortalSettings", "Secret", "build_base_url", "read_sdk_config", "resolve_settings"]

#: The Portal's public domain (the SDK's ``api_domain``).
API_DOMAIN = "secure.software"
_TAIL = "api/public/v1"
#: The keys of the SDK's ``SpectraAssureApi`` object that auditlab reads.
SDK_KEYS = (
    "host",
    "server",
    "organization",
    "token",
    "timeout",
    "proxy_server",
    "proxy_port",
    "proxy_user",
    "proxy_password",
    "no_ssl_verify",
)


class Secret:
    """A value that never shows: ``repr``/``str`` give ``'********'``; :meth:`reveal` gives it.

    Examples:
        >>> s = Secret("abc")
        >>> s, str(s), s.reveal()
        (Secret('********'), '********', 'abc')
    """

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        """The secret itself: only for the one header that needs it."""
        return self._value

    def __repr__(self) -> str:
        return "Secret('********')"

    def __str__(self) -> str:
        return "********"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)

    def __reduce__(self) -> Any:
        raise TypeError("a Secret is not pickled (it would reach the disk)")


def build_base_url(*, host: str | None = None, server: str | None = None, base_url: str | None = None) -> str:
    """The API base URL, by the SDK's rules (``SpectraAssureApi._set_base_url``).

    ``base_url`` wins; ``host`` may carry a scheme and port (``http://127.0.0.1:8080``), else
    ``https://`` is used; ``server`` alone means ``https://my.secure.software/{server}``, and the
    SDK's special servers ``trial``/``playground`` (without a host) ``https://{server}.secure.software``.

    Raises:
        PortalError: neither a host, a server nor a base URL.

    Examples:
        >>> build_base_url(server="acme")
        'https://my.secure.software/acme/api/public/v1'
        >>> build_base_url(host="portal.example.com", server="acme")
        'https://portal.example.com/acme/api/public/v1'
        >>> build_base_url(server="trial"), build_base_url(host="portal.example.com")
        ('https://trial.secure.software/api/public/v1', 'https://portal.example.com/api/public/v1')
    """
    if base_url:
        return base_url.rstrip("/")
    if host:
        root = host.rstrip("/") if "://" in host else f"https://{host.strip('/')}"
        return f"{root}/{quote(server.strip('/'))}/{_TAIL}" if server else f"{root}/{_TAIL}"
    if server in ("trial", "playground"):
        return f"https://{server}.{API_DOMAIN}/{_TAIL}"
    if server:
        return f"https://my.{API_DOMAIN}/{quote(server.strip('/'))}/{_TAIL}"
    raise PortalError("no Portal given: set --server (and --host for a private instance) or --base-url")


@dataclass(frozen=True, slots=True)
class PortalSettings:
    """How to reach one Portal organization, and how patiently.

    Attributes:
        server, organization, host, base_url: where (see :func:`build_base_url`).
        token: the personal access token (a :class:`Secret`; never shown).
        timeout: seconds for each HTTP call (connect, read, write, pool).
        verify: check TLS certificates (on unless the SDK file says ``no_ssl_verify``).
        ca_bundle: a PEM file of CA certificates to trust instead of the system's.
        proxy: a proxy URL (from the SDK file); else ``HTTPS_PROXY``/``NO_PROXY`` are honoured.
        max_attempts: tries per call before giving up (429, 5xx, dropped connections).
        max_wait: the longest single wait between tries, seconds (caps ``Retry-After`` too).
        throttle_wait: the wait after a 429 that names none (the SDK waits 60 s).
        backoff_initial, backoff_max: exponential backoff with jitter for 5xx and network faults.
        poll_initial, poll_max, poll_timeout: status polling: first wait, longest wait, give up after.
    """

    server: str | None = None
    organization: str | None = None
    host: str | None = None
    base_url: str | None = None
    token: Secret | None = field(default=None, repr=False)
    timeout: float = 60.0
    verify: bool = True
    ca_bundle: str | None = None
    proxy: Secret | None = field(default=None, repr=False)
    max_attempts: int = 5
    max_wait: float = 60.0
    throttle_wait: float = 60.0
    backoff_initial: float = 1.0
    backoff_max: float = 30.0
    poll_initial: float = 2.0
    poll_max: float = 30.0
    poll_timeout: float = 3600.0

    @property
    def api_url(self) -> str:
        """The API base URL (see :func:`build_base_url`)."""
        return build_base_url(host=self.host, server=self.server, base_url=self.base_url)

    def with_options(self, **changes: Any) -> PortalSettings:
        """A copy with some fields changed (``token`` may be given as a plain string)."""
        if isinstance(changes.get("token"), str):
            changes["token"] = Secret(changes["token"])
        return replace(self, **changes)


def read_sdk_config(path: str | Path) -> dict[str, Any]:
    """The ``SpectraAssureApi`` object of an SDK configuration file (only the keys auditlab uses).

    Raises:
        PortalError: the file is missing, not JSON, or has no ``SpectraAssureApi`` object
            (the message never quotes the file's content: it holds a token).

    Examples:
        >>> import json, tempfile
        >>> f = tempfile.NamedTemporaryFile("w", suffix=".json", delete=False)
        >>> _ = f.write(json.dumps({"SpectraAssureApi": {"server": "demo", "organization": "acme"}})); f.close()
        >>> read_sdk_config(f.name)
        {'server': 'demo', 'organization': 'acme'}
    """
    p = Path(path)
    try:
        data = json.loads(p.read_text(encoding="utf-8"))
    except OSError as exc:
        raise PortalError(f"{p}: cannot read the configuration file ({exc.strerror})") from None
    except json.JSONDecodeError as exc:
        raise PortalError(f"{p}: not JSON ({exc.msg}, line {exc.lineno})") from None
    section = data.get("SpectraAssureApi") if isinstance(data, dict) else None
    if not isinstance(section, dict):
        raise PortalError(f"{p}: no 'SpectraAssureApi' object (the Spectra Assure SDK's configuration)")
    return {k: section[k] for k in SDK_KEYS if section.get(k) not in (None, "")}


def _keyring_token(organization: str | None) -> str | None:
    if not organization:
        return None
    try:
        import keyring
    except ImportError:
        return None
    try:
        value = keyring.get_password("auditlab", organization)
    except Exception:  # no usable backend: the keyring is optional
        return None
    return value or None


def _sdk_proxy(conf: Mapping[str, Any]) -> str | None:
    server = conf.get("proxy_server")
    if not server:
        return None
    if conf.get("proxy_port") is None:
        raise PortalError("the configuration names a proxy_server without a proxy_port")
    user = conf.get("proxy_user")
    auth = f"{quote(str(user))}:{quote(str(conf.get('proxy_password') or ''))}@" if user else ""
    root = str(server) if "://" in str(server) else f"http://{server}"
    scheme, _, rest = root.partition("://")
    return f"{scheme}://{auth}{rest}:{conf['proxy_port']}"


def resolve_settings(
    *,
    server: str | None = None,
    organization: str | None = None,
    host: str | None = None,
    base_url: str | None = None,
    token: str | Secret | None = None,
    config_file: str | Path | None = None,
    ca_bundle: str | None = None,
    environ: Mapping[str, str] | None = None,
    use_keyring: bool = True,
    **knobs: Any,
) -> PortalSettings:
    """Settings from arguments, then ``AUDITLAB_*`` variables, then the SDK file, then the keyring.

    Args:
        server, organization, host, base_url, token, ca_bundle: explicit values (win over the rest).
        config_file: the SDK's JSON file (else ``AUDITLAB_CONFIG``; none if neither).
        environ: the environment to read (default ``os.environ``).
        use_keyring: look the token up in the OS keyring when no other source gave one.
        knobs: other :class:`PortalSettings` fields (``timeout``, ``max_wait``, ...).

    Environment: ``AUDITLAB_TOKEN``, ``AUDITLAB_SERVER``, ``AUDITLAB_ORG``, ``AUDITLAB_HOST``,
    ``AUDITLAB_BASE_URL``, ``AUDITLAB_CONFIG``, ``AUDITLAB_CA_BUNDLE``.

    Raises:
        PortalError: an unreadable configuration file, or a proxy without a port.

    Examples:
        >>> s = resolve_settings(environ={"AUDITLAB_ORG": "acme", "AUDITLAB_SERVER": "demo"}, use_keyring=False)
        >>> s.organization, s.server, s.token
        ('acme', 'demo', None)
    """
    env = portal_env(environ)
    path = config_file or env.get("AUDITLAB_CONFIG")
    conf = read_sdk_config(path) if path else {}

    def pick(arg: Any, var: str, key: str) -> Any:
        if arg not in (None, ""):
            return arg
        if env.get(var):
            return env[var]
        return conf.get(key)

    org = pick(organization, "AUDITLAB_ORG", "organization")
    raw_token = pick(token, "AUDITLAB_TOKEN", "token")
    if raw_token is None and use_keyring:
        raw_token = _keyring_token(org)
    if isinstance(raw_token, str):
        raw_token = Secret(raw_token.strip())
    if "timeout" in conf and "timeout" not in knobs:
        knobs["timeout"] = float(conf["timeout"])
    if conf.get("no_ssl_verify") and "verify" not in knobs:
        knobs["verify"] = False
    proxy = _sdk_proxy(conf)
    return PortalSettings(
        server=pick(server, "AUDITLAB_SERVER", "server"),
        organization=org,
        host=pick(host, "AUDITLAB_HOST", "host"),
        base_url=pick(base_url, "AUDITLAB_BASE_URL", "base_url"),
        token=raw_token,
        ca_bundle=pick(ca_bundle, "AUDITLAB_CA_BUNDLE", "ca_bundle"),
        proxy=Secret(proxy) if proxy else None,
        **knobs,
    )
