"""auditlab: investigate Spectra Assure Portal audit logs.

Read -> normalise -> store -> filter -> analyse/chart -> write.

Examples:
    >>> import auditlab
    >>> ws = auditlab.load("data/samples/portal_audit_export.zip")  # doctest: +SKIP
    >>> ws.count()  # doctest: +SKIP

Public names are resolved lazily (PEP 562) so that ``import auditlab`` stays light:
it imports neither duckdb nor altair, ipywidgets, httpx or click until they are used.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

# public name -> module that defines it. The one table of the public face.
_LAZY: dict[str, str] = {
    "ACTIONS": "auditlab.catalog",
    "AuditlabError": "auditlab.errors",
    "AuthError": "auditlab.errors",
    "Condition": "auditlab.filters.model",
    "Detection": "auditlab.investigations.detection",
    "EventSet": "auditlab.store.events",
    "Explorer": "auditlab.explorer.view",
    "ExportJobError": "auditlab.errors",
    "ExportRegistry": "auditlab.io.export",
    "Finding": "auditlab.investigations._result",
    "FormatError": "auditlab.errors",
    "InputError": "auditlab.errors",
    "InvestigationResult": "auditlab.investigations._result",
    "LoadReport": "auditlab.store.report",
    "Mapping": "auditlab.io.mapping",
    "Op": "auditlab.filters.model",
    "OperatorError": "auditlab.errors",
    "PortalClient": "auditlab.portal.client",
    "PortalError": "auditlab.errors",
    "Query": "auditlab.filters.model",
    "QueryError": "auditlab.errors",
    "QueryResult": "auditlab.store.result",
    "Settings": "auditlab.config",
    "Store": "auditlab.store.persistent",
    "StoreCorruptError": "auditlab.errors",
    "StoreError": "auditlab.errors",
    "StoreLockedError": "auditlab.errors",
    "SyncResult": "auditlab.portal.sync",
    "ThrottledError": "auditlab.errors",
    "TimeRange": "auditlab.filters.model",
    "UnknownActionError": "auditlab.errors",
    "UnknownFieldError": "auditlab.errors",
    "UnsafeArchiveError": "auditlab.errors",
    "Workspace": "auditlab.store.workspace",
    "data_exports": "auditlab.investigations.data_exports",
    "export": "auditlab.io.export",
    "failed_logins": "auditlab.investigations.failed_logins",
    "generate_samples": "auditlab.samples",
    "iter_results": "auditlab.investigations",
    "load": "auditlab.store.workspace",
    "load_rules": "auditlab.investigations.detection",
    "open_store": "auditlab.store.persistent",
    "parse_query": "auditlab.filters.text",
    "pat_revocations": "auditlab.investigations.pat_revocations",
    "quota_spending": "auditlab.investigations.quota_spending",
    "render_html": "auditlab.report",
    "run_all": "auditlab.investigations",
    "show_table": "auditlab.notebook",
    "sso_changes": "auditlab.investigations.sso_changes",
    "sync": "auditlab.portal.sync",
    "write_cef": "auditlab.io.cef",
    "write_ndjson": "auditlab.io.ndjson",
}

__all__ = sorted([*_LAZY, "__version__"])

if TYPE_CHECKING:  # pragma: no cover
    from auditlab.catalog import ACTIONS as ACTIONS
    from auditlab.config import Settings as Settings
    from auditlab.errors import *  # noqa: F403
    from auditlab.explorer.view import Explorer as Explorer
    from auditlab.io.cef import write_cef as write_cef
    from auditlab.io.export import ExportRegistry as ExportRegistry
    from auditlab.io.export import export as export
    from auditlab.io.mapping import Mapping as Mapping
    from auditlab.io.ndjson import write_ndjson as write_ndjson
    from auditlab.portal.client import PortalClient as PortalClient
    from auditlab.portal.sync import SyncResult as SyncResult
    from auditlab.portal.sync import sync as sync
    from auditlab.samples import generate_samples as generate_samples
    from auditlab.store.events import EventSet as EventSet
    from auditlab.store.persistent import Store as Store
    from auditlab.store.persistent import open_store as open_store
    from auditlab.store.report import LoadReport as LoadReport
    from auditlab.store.workspace import Workspace as Workspace
    from auditlab.store.workspace import load as load


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'auditlab' has no attribute {name!r}")
    value = getattr(import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return __all__
