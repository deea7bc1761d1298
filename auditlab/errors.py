"""The one exception tree of auditlab.

```
AuditlabError
├── InputError (source, line)          bad input: names the file and the line
│   ├── FormatError                    content is not a format auditlab reads
│   └── UnsafeArchiveError             zip traversal, decompression bomb
├── QueryError                         a filter that cannot be built or run
│   ├── UnknownFieldError
│   ├── UnknownActionError (suggestions)
│   └── OperatorError
├── StoreError
│   ├── StoreLockedError               another writer holds the store
│   └── StoreCorruptError
└── PortalError (status)
    ├── AuthError
    ├── ThrottledError (retry_after)
    └── ExportJobError
```

Third-party errors are wrapped at the boundary (``raise InputError(...) from exc``).
No message, repr or log line ever holds a token.
"""

from __future__ import annotations

__all__ = [
    "AuditlabError",
    "AuthError",
    "ExportJobError",
    "FormatError",
    "InputError",
    "OperatorError",
    "PortalError",
    "QueryError",
    "StoreCorruptError",
    "StoreError",
    "StoreLockedError",
    "ThrottledError",
    "UnknownActionError",
    "UnknownFieldError",
    "UnsafeArchiveError",
]


class AuditlabError(Exception):
    """Base of every error auditlab raises on purpose."""


class InputError(AuditlabError):
    """Bad input. ``source`` and ``line`` say where, when known.

    Examples:
        >>> str(InputError("not CEF", source="a.cef", line=3))
        'a.cef:3: not CEF'
    """

    def __init__(self, message: str, *, source: str | None = None, line: int | None = None) -> None:
        self.message = message
        self.source = source
        self.line = line
        where = source or ""
        if source and line is not None:
            where = f"{source}:{line}"
        super().__init__(f"{where}: {message}" if where else message)


class FormatError(InputError):
    """The content is not in a format auditlab reads."""


class UnsafeArchiveError(InputError):
    """An archive member escapes the target, or decompresses past the limits."""


class QueryError(AuditlabError):
    """A filter or query that cannot be built or run."""


class UnknownFieldError(QueryError):
    """A filter names a field auditlab does not know."""


class UnknownActionError(QueryError):
    """A filter names an action outside the Portal catalog.

    ``suggestions`` holds the closest catalog entries.
    """

    def __init__(self, message: str, *, suggestions: list[str] | None = None) -> None:
        self.suggestions = list(suggestions or [])
        super().__init__(message)


class OperatorError(QueryError):
    """An operator that does not exist or does not fit the field or values."""


class StoreError(AuditlabError):
    """A problem with a persistent store."""


class StoreLockedError(StoreError):
    """Another process holds the store's write lock."""


class StoreCorruptError(StoreError):
    """The store on disk is not in a state auditlab can read."""


class PortalError(AuditlabError):
    """The Portal API answered with an error. ``status`` is the HTTP status."""

    def __init__(self, message: str, *, status: int | None = None) -> None:
        self.status = status
        super().__init__(f"HTTP {status}: {message}" if status else message)


class AuthError(PortalError):
    """The token was missing, wrong or expired (never shown)."""


class ThrottledError(PortalError):
    """HTTP 429. ``retry_after`` is in seconds, when the Portal said."""

    def __init__(self, message: str, *, status: int | None = 429, retry_after: float | None = None) -> None:
        self.retry_after = retry_after
        super().__init__(message, status=status)


class ExportJobError(PortalError):
    """A Portal export job failed or expired."""
