"""The Portal API: settings, the client (httpx, in the ``portal`` extra); ``sync`` is
:func:`auditlab.sync` (module ``auditlab.portal.sync``).

Names resolve lazily, so importing this package imports neither httpx nor tenacity.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

__all__ = ["ExportJob", "PortalClient", "PortalSettings", "SyncResult", "resolve_settings"]

_LAZY = {
    "ExportJob": "auditlab.portal.client",
    "PortalClient": "auditlab.portal.client",
    "PortalSettings": "auditlab.portal.settings",
    "SyncResult": "auditlab.portal.sync",
    "resolve_settings": "auditlab.portal.settings",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'auditlab.portal' has no attribute {name!r}")
    return getattr(import_module(module), name)
