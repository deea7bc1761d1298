"""The Portal filter model: one query, compiled to DuckDB SQL, Polars and the Portal API.

Examples:
    >>> from auditlab.filters import parse_query, to_sql
    >>> q = parse_query("action is_any user.login,user.sso.saml.login; outcome is failure; since 7d")
    >>> q.to_text()
    'action is_any user.login,user.sso.saml.login; outcome is failure; since 7d'
    >>> to_sql(q.since("all"))[1]
    ['user.login', 'user.sso.saml.login', 'failure']

Importing this package does not import duckdb, polars or pyspark (``to_polars`` imports polars
when called, ``to_spark`` pyspark).
"""

from __future__ import annotations

from auditlab.filters.fields import FIELDS, FieldSpec, fold_ascii, resolve_field
from auditlab.filters.model import PRESETS, Condition, Op, Query, TimeRange
from auditlab.filters.serde import query_from_dict, query_from_json, query_to_dict, query_to_json
from auditlab.filters.text import as_query, format_query, parse_condition, parse_query
from auditlab.filters.to_polars import to_polars
from auditlab.filters.to_portal import PortalFilter, to_portal_filters, to_portal_range
from auditlab.filters.to_spark import to_spark
from auditlab.filters.to_sql import to_sql

__all__ = [
    "FIELDS",
    "PRESETS",
    "Condition",
    "FieldSpec",
    "Op",
    "PortalFilter",
    "Query",
    "TimeRange",
    "as_query",
    "fold_ascii",
    "format_query",
    "parse_condition",
    "parse_query",
    "query_from_dict",
    "query_from_json",
    "query_to_dict",
    "query_to_json",
    "resolve_field",
    "to_polars",
    "to_portal_filters",
    "to_portal_range",
    "to_spark",
    "to_sql",
]
