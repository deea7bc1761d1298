"""The built-in declared detections: data, one declaration each (see :mod:`.detection`).

The investigations run them with their thresholds (``failed_logins(ws, brute_force_failures=8)``
changes :data:`BRUTE_FORCE`'s threshold for that run); :data:`DETECTIONS` lists them all by name, for
the Sigma export and for ``docs/detections.md``. Detections that are state machines (SSO applied and
disabled, a setup never applied, quota exhaustion, token lifecycles) stay code in their modules.

Examples:
    >>> sorted(DETECTIONS)
    ['brute_force', 'export_burst', 'new_address', 'password_spray', 'revocation_burst', 'success_after_failures']
    >>> BRUTE_FORCE.threshold, BRUTE_FORCE.window
    (5, datetime.timedelta(seconds=900))
"""

from __future__ import annotations

from auditlab.catalog import LOGIN_ACTIONS, actions_in_family
from auditlab.investigations.detection import Detection, declare

__all__ = [
    "BRUTE_FORCE",
    "DETECTIONS",
    "EXPORT_ACTIONS",
    "EXPORT_BURST",
    "NEW_ADDRESS",
    "PASSWORD_SPRAY",
    "REVOCATION_BURST",
    "SUCCESS_AFTER_FAILURES",
]

BRUTE_FORCE = declare(
    name="brute_force",
    investigation="failed_logins",
    description="Many failed logins for one user in a short time, from any addresses: password guessing. "
    "Five failures in 15 minutes is the common account lockout policy (CIS and Microsoft baselines "
    "lock after 5 to 10 attempts).",
    kind="count",
    actions=list(LOGIN_ACTIONS),
    where="outcome is failure",
    group_by="user_email",
    window="15m",
    threshold=5,
    severity="high",
    technique="T1110.001",
    title="Brute force against {key}: {count} failed logins in {span} from {ip}",
)

PASSWORD_SPRAY = declare(
    name="password_spray",
    investigation="failed_logins",
    description="Many distinct users failing to log in from one address within minutes: a person mistyping "
    "touches one account, a shared NAT a few; ten accounts from one address in minutes is a spray. "
    "Sprays from several addresses at the same time are one incident.",
    kind="distinct",
    actions=list(LOGIN_ACTIONS),
    where="outcome is failure",
    group_by="ip_address",
    distinct="user_email",
    window="5m",
    threshold=10,
    severity="high",
    technique="T1110.003",
    entities={"ip": "ip_address", "user": "user_email"},
    incident="overlap",
    title="Password spray from {key}: {user_count} users failed in {span} ({user})",
)

SUCCESS_AFTER_FAILURES = declare(
    name="success_after_failures",
    investigation="failed_logins",
    description="A successful login preceded by failures of the same user since their previous success: "
    "people rarely mistype three times in a row, while a slow guesser stays under the lockout rate. "
    "Critical when the login also comes from a new address (see new_address).",
    kind="sequence",
    actions=list(LOGIN_ACTIONS),
    where="outcome is failure",
    then="outcome is success",
    group_by="user_email",
    window="60m",
    threshold=3,
    severity="medium",
    technique="T1078",
    title="{key} logged in from {then_ip} after {steps} failed logins in {span}",
)

NEW_ADDRESS = declare(
    name="new_address",
    investigation="failed_logins",
    description="A successful login from an address the user never logged in from before, once the user "
    "has a week of login history (office, home, weekly travel).",
    kind="first_seen",
    actions=list(LOGIN_ACTIONS),
    where="outcome is success",
    group_by="user_email",
    distinct="ip_address",
    learning="7d",
    severity="low",
    technique="T1078",
    title="{key} logged in from a new address {value}",
)

REVOCATION_BURST = declare(
    name="revocation_burst",
    investigation="pat_revocations",
    description="Many user-level token revocations in a short time, by anyone: a person tidying up revokes "
    "a token or two; five in a quarter of an hour is a sweep (an attacker cutting access, or an incident "
    "response that should have a ticket).",
    kind="count",
    actions=["user.pat.revoked", "user.pat.all_revoked"],
    where="outcome is_not failure",
    window="15m",
    threshold=5,
    severity="high",
    technique="T1531",
    title="Burst of {count} token revocations by {user}",
)

#: Every report or profile configuration export action of the catalog.
EXPORT_ACTIONS: tuple[str, ...] = tuple(
    a
    for a in sorted({*actions_in_family("report"), *actions_in_family("configuration")})
    if a.endswith(".exported")
)

EXPORT_BURST = declare(
    name="export_burst",
    investigation="data_exports",
    description="One user exporting many reports or profile configurations within minutes: collection "
    "of the organisation's data from the Portal (MITRE T1530, data from cloud storage). People export "
    "a report or two while they work; twenty in ten minutes is scripted collection.",
    kind="count",
    actions=list(EXPORT_ACTIONS),
    where="outcome is success",
    group_by="user_email",
    window="10m",
    threshold=20,
    severity="medium",
    technique="T1530",
    entities={"user": "user_email", "ip": "ip_address", "project": "project_name"},
    title="{count} report and profile exports by {key} in {span} from {ip}",
)

#: name -> declaration, every built-in declared detection.
DETECTIONS: dict[str, Detection] = {
    d.name: d
    for d in (
        BRUTE_FORCE,
        PASSWORD_SPRAY,
        SUCCESS_AFTER_FAILURES,
        NEW_ADDRESS,
        REVOCATION_BURST,
        EXPORT_BURST,
    )
}
