"""Portal settings: base URL rules, precedence, the SDK's JSON file, the token kept secret."""

from __future__ import annotations

import json
import pickle

import pytest

from auditlab.errors import PortalError
from auditlab.portal.settings import PortalSettings, Secret, build_base_url, read_sdk_config, resolve_settings

TOKEN = "tok-S3CRET-7f3a9c1e5b2d4680"


@pytest.mark.parametrize(
    "host, server, base_url, expected",
    [
        (None, "acme", None, "https://my.secure.software/acme/api/public/v1"),
        (None, "trial", None, "https://trial.secure.software/api/public/v1"),
        (None, "playground", None, "https://playground.secure.software/api/public/v1"),
        ("portal.example.com", "acme", None, "https://portal.example.com/acme/api/public/v1"),
        ("portal.example.com", None, None, "https://portal.example.com/api/public/v1"),
        ("http://127.0.0.1:8080", "demo", None, "http://127.0.0.1:8080/demo/api/public/v1"),
        ("http://127.0.0.1:8080/", "demo", None, "http://127.0.0.1:8080/demo/api/public/v1"),
        ("x", "y", "https://proxy.example/v1/", "https://proxy.example/v1"),
    ],
)
def test_base_url(host, server, base_url, expected):
    assert build_base_url(host=host, server=server, base_url=base_url) == expected


def test_no_portal_is_a_clear_error():
    with pytest.raises(PortalError, match="no Portal given"):
        build_base_url()


def _sdk_file(tmp_path, **values):
    path = tmp_path / "myConfig.json"
    path.write_text(json.dumps({"SpectraAssureApi": values}))
    return path


def test_precedence_arguments_then_environment_then_file(tmp_path):
    conf = _sdk_file(
        tmp_path, server="file-server", organization="file-org", token="file-token", host="file-host"
    )
    env = {"AUDITLAB_ORG": "env-org", "AUDITLAB_CONFIG": str(conf)}
    s = resolve_settings(server="arg-server", environ=env, use_keyring=False)
    assert (s.server, s.organization, s.host, s.token.reveal()) == (
        "arg-server",
        "env-org",
        "file-host",
        "file-token",
    )


def test_sdk_file_timeout_proxy_and_tls(tmp_path):
    conf = _sdk_file(
        tmp_path,
        server="s",
        organization="o",
        token=TOKEN,
        timeout=15,
        proxy_server="proxy.local",
        proxy_port=3128,
        proxy_user="me",
        proxy_password="pw",
        no_ssl_verify=True,
    )
    s = resolve_settings(config_file=conf, environ={}, use_keyring=False)
    assert (s.timeout, s.verify, s.proxy.reveal()) == (15.0, False, "http://me:pw@proxy.local:3128")
    assert TOKEN not in repr(s) and "pw" not in repr(s)


def test_proxy_without_port_is_refused(tmp_path):
    with pytest.raises(PortalError, match="proxy_port"):
        resolve_settings(config_file=_sdk_file(tmp_path, proxy_server="p"), environ={}, use_keyring=False)


def test_bad_config_files_never_quote_their_content(tmp_path):
    broken = tmp_path / "c.json"
    broken.write_text('{"SpectraAssureApi": {"token": "' + TOKEN + '",,}}')
    with pytest.raises(PortalError, match="not JSON") as info:
        read_sdk_config(broken)
    assert TOKEN not in str(info.value)
    other = tmp_path / "d.json"
    other.write_text(json.dumps({"token": TOKEN}))
    with pytest.raises(PortalError, match="no 'SpectraAssureApi' object") as info:
        read_sdk_config(other)
    assert TOKEN not in str(info.value)
    with pytest.raises(PortalError, match="cannot read"):
        read_sdk_config(tmp_path / "missing.json")


def test_secret_never_shows_and_is_not_pickled():
    s = Secret(TOKEN)
    settings = PortalSettings(server="x", token=s)
    assert TOKEN not in f"{s} {s!r} {settings!r} {settings}"
    with pytest.raises(TypeError, match="not pickled"):
        pickle.dumps(settings)
    assert settings.with_options(token="new").token.reveal() == "new"
