"""Sigma out: the detections Sigma can express, as Sigma rules for the user's SIEM.

:func:`sigma_rules` turns the built-in declarations of :mod:`auditlab.investigations.detections` into
Sigma rules: a ``count`` detection becomes an ``event_count`` correlation over a base rule, a
``distinct`` detection a ``value_count`` correlation; the single-event detections that are code in
their investigations (SSO disabled, organization-wide token revocation) are plain rules declared here.
Detections that Sigma cannot express are listed in :data:`NOT_EXPORTED` with the reason.

Every rule has the log source ``product: spectra_assure_portal``, ``service: audit`` and uses the
field names of :data:`SIGMA_FIELDS` (Sigma style, e.g. ``UserEmail``); the processing pipeline
:data:`PIPELINE_YAML` (:func:`pipeline` in pySigma) maps them to auditlab's canonical columns, so the
rules run on auditlab's ``events`` table or on any SIEM index that keeps those column names. pySigma
and its backends are the optional extra ``sigma`` (``pip install 'auditlab[sigma]'``); writing the
YAML needs only PyYAML.

Examples:
    >>> [r["name"] for r in sigma_rules()][:3]
    ['auditlab_brute_force_events', 'auditlab_brute_force', 'auditlab_password_spray_events']
    >>> [n for n in NOT_EXPORTED if n in ("new_address", "success_after_failures")]
    ['success_after_failures', 'new_address']
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from auditlab.errors import QueryError
from auditlab.investigations.detection import Detection

if TYPE_CHECKING:  # pragma: no cover
    from sigma.processing.pipeline import ProcessingPipeline

    from auditlab._types import PathLike

__all__ = [
    "LOGSOURCE",
    "NOT_EXPORTED",
    "PIPELINE_YAML",
    "SIGMA_FIELDS",
    "export_sigma",
    "pipeline",
    "sigma_rules",
]

#: The Sigma log source of Spectra Assure Portal audit logs.
LOGSOURCE: dict[str, str] = {"product": "spectra_assure_portal", "service": "audit"}

#: Sigma field name -> auditlab canonical column (the processing pipeline applies it).
SIGMA_FIELDS: dict[str, str] = {
    "Action": "action",
    "Outcome": "outcome",
    "UserEmail": "user_email",
    "IpAddress": "ip_address",
    "AuthContext": "auth_context",
    "ResourceType": "resource_type",
    "ResourceName": "resource_name",
    "GroupName": "group_name",
    "ProjectName": "project_name",
    "ErrorMessage": "error_message",
    "EventId": "event_id",
}
_CANONICAL_TO_SIGMA = {v: k for k, v in SIGMA_FIELDS.items()}

#: The pySigma processing pipeline (YAML, as sigma-cli reads it): Sigma fields -> canonical columns.
PIPELINE_YAML = (
    "name: Spectra Assure Portal audit logs (auditlab canonical columns)\n"
    "priority: 20\n"
    "transformations:\n"
    "  - id: spectra_assure_portal_fields\n"
    "    type: field_name_mapping\n"
    "    mapping:\n"
    + "".join(f"      {k}: {v}\n" for k, v in SIGMA_FIELDS.items())
    + "    rule_conditions:\n"
    "      - type: logsource\n"
    f"        product: {LOGSOURCE['product']}\n"
    f"        service: {LOGSOURCE['service']}\n"
)

#: Detections not exported, and why.
NOT_EXPORTED: dict[str, str] = {
    "success_after_failures": "needs 'N failures since the user's previous success, then a success': Sigma's "
    "temporal correlation orders rules but neither counts the steps nor resets at each success",
    "new_address": "first seen after a learning period needs each user's login history; Sigma has no "
    "first-seen or baseline construct",
    "quota_spike": "a spike against the group's own baseline needs history before the window; no Sigma construct",
    "quota_exhausted": "a state machine (exhausted until a later spend shows quota left); the single failing "
    "events could be matched, but not the episode",
    "sso_setup_never_applied": "the absence of a later event (setup applied) is not expressible in Sigma",
    "auth_change_outside_working_hours": "working hours in the user's time zone: Sigma has no portable "
    "time-of-day condition",
    "password_login_while_sso": "needs the SSO state at the time of each login (a state machine)",
    "api_use_after_revocation": "needs each user's last token event before each API call (a state machine)",
    "revocation_by_other_user": "compares two fields of one event (actor and details.owner_email); field "
    "references exist in Sigma but details.owner_email is inside the JSON details, not a column",
}

#: Single-event rules for detections that are code in their investigations.
_SINGLE_EVENT: tuple[dict[str, Any], ...] = (
    {
        "name": "sso_disabled",
        "title": "Single sign-on disabled in the Spectra Assure Portal",
        "description": "Someone disabled SSO for the organization (sso_changes: SSO disabled). While SSO is "
        "off, password logins bypass the identity provider and its MFA.",
        "selection": {"Action": "organization.sso.disabled", "Outcome": "success"},
        "level": "high",
        "technique": "T1556",
    },
    {
        "name": "org_pat_all_revoked",
        "title": "Every personal access token of the organization revoked",
        "description": "Someone revoked every personal access token of the organization (pat_revocations: "
        "organization-wide revocation); automation stops until new tokens are issued.",
        "selection": {"Action": "organization.pat.all_revoked", "Outcome": "success"},
        "level": "high",
        "technique": "T1531",
    },
)


def _rule_id(name: str) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"https://auditlab.local/sigma/{name}"))


def _tags(technique: str | None) -> list[str]:
    return [f"attack.{technique.lower()}"] if technique else []


def _selection(det: Detection) -> dict[str, Any]:
    """The detection's source events as Sigma selections and a condition."""
    selection: dict[str, Any] = {}
    exclusions: dict[str, Any] = {}
    if det.actions:
        selection["Action"] = list(det.actions) if len(det.actions) > 1 else det.actions[0]
    for cond in det.where:
        field = _CANONICAL_TO_SIGMA.get(cond.field)
        if field is None:
            raise QueryError(f"{det.name}: {cond.field} has no Sigma field")
        values = list(cond.values)
        value: Any = values if len(values) > 1 else values[0]
        target = exclusions if cond.op.value.startswith("is_not") else selection
        if field in target:
            raise QueryError(f"{det.name}: {cond.field} is filtered twice")
        target[field] = value
    detection: dict[str, Any] = {"selection": selection, "condition": "selection"}
    if exclusions:
        detection["filter"] = exclusions
        detection["condition"] = "selection and not 1 of filter"
    return detection


def _window(det: Detection) -> str:
    seconds = int(det.window.total_seconds())
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def exportable(det: Detection) -> bool:
    """Whether Sigma can express a declared detection (``count`` and ``distinct`` kinds)."""
    return det.kind in ("count", "distinct")


def detection_rules(det: Detection) -> list[dict[str, Any]]:
    """A declared ``count``/``distinct`` detection as a base rule and a correlation rule.

    Raises:
        QueryError: a kind Sigma cannot express, or a condition without a Sigma field.
    """
    if not exportable(det):
        raise QueryError(f"{det.name}: a {det.kind} detection has no Sigma form")
    base_name = f"auditlab_{det.name}_events"
    base: dict[str, Any] = {
        "title": f"{det.name.replace('_', ' ').capitalize()}: source events",
        "id": _rule_id(base_name),
        "name": base_name,
        "status": "experimental",
        "description": f"The events {det.name} counts. {det.description}".strip(),
        "author": "auditlab",
        "logsource": dict(LOGSOURCE),
        "detection": _selection(det),
        "level": "informational",
    }
    correlation: dict[str, Any] = {
        "type": "event_count" if det.kind == "count" else "value_count",
        "rules": [base_name],
        "timespan": _window(det),
        "condition": {"gte": int(det.threshold)},
    }
    if det.group_by:
        correlation["group-by"] = [_CANONICAL_TO_SIGMA[det.group_by]]
    if det.kind == "distinct":
        correlation["condition"]["field"] = _CANONICAL_TO_SIGMA[det.distinct or ""]
    name = f"auditlab_{det.name}"
    rule: dict[str, Any] = {
        "title": det.name.replace("_", " ").capitalize(),
        "id": _rule_id(name),
        "name": name,
        "status": "experimental",
        "description": det.description or det.title,
        "author": "auditlab",
        "correlation": correlation,
        "level": det.severity if det.severity in ("low", "medium", "high", "critical") else "informational",
    }
    if det.technique:
        rule["tags"] = _tags(det.technique)
    return [base, rule]


def sigma_rules(detections: Iterable[Detection] | None = None) -> list[dict[str, Any]]:
    """Every exported rule as a dict (built-in declarations by default, then the single-event rules)."""
    from auditlab.investigations.detections import DETECTIONS

    dets = list(DETECTIONS.values()) if detections is None else list(detections)
    rules = [r for d in dets if exportable(d) for r in detection_rules(d)]
    if detections is None:
        for spec in _SINGLE_EVENT:
            name = f"auditlab_{spec['name']}"
            rules.append({
                "title": spec["title"], "id": _rule_id(name), "name": name, "status": "experimental",
                "description": spec["description"], "author": "auditlab", "logsource": dict(LOGSOURCE),
                "detection": {"selection": dict(spec["selection"]), "condition": "selection"},
                "level": spec["level"], "tags": _tags(spec["technique"]),
            })  # fmt: skip
    return rules


def export_sigma(out_dir: PathLike, *, overwrite: bool = False) -> list[Path]:
    """Write the Sigma rules to ``out_dir/rules/`` (one YAML file per detection) and the pipeline to
    ``out_dir/pipelines/spectra_assure_portal.yml`` (``sigma convert -p`` takes it).

    A correlation and its base rule share one file (two YAML documents). Files are written
    atomically; an existing file is replaced only with ``overwrite``.

    Returns:
        The paths written, rules first, then the pipeline.

    Raises:
        InputError: a file exists and ``overwrite`` is false.
    """
    import yaml

    from auditlab.io._sink import write_text_atomic

    out = Path(out_dir)
    files: dict[str, list[dict[str, Any]]] = {}
    for rule in sigma_rules():
        stem = rule["name"].removesuffix("_events")
        files.setdefault(stem, []).append(rule)
    written = []
    for stem, rules in files.items():
        text = yaml.safe_dump_all(rules, sort_keys=False, allow_unicode=True)
        written.append(write_text_atomic(out / "rules" / f"{stem}.yml", text, overwrite=overwrite))
    pipe = out / "pipelines" / "spectra_assure_portal.yml"
    written.append(write_text_atomic(pipe, PIPELINE_YAML, overwrite=overwrite))
    return written


def pipeline() -> ProcessingPipeline:
    """The pySigma processing pipeline of :data:`PIPELINE_YAML` (needs the ``sigma`` extra)."""
    try:
        from sigma.processing.pipeline import ProcessingPipeline
    except ImportError as exc:  # pragma: no cover - the extra is installed in tests
        raise QueryError("pySigma is not installed: pip install 'auditlab[sigma]'") from exc
    result: ProcessingPipeline = ProcessingPipeline.from_yaml(PIPELINE_YAML)
    return result
