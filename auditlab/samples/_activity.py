"""What a person (or a CI job) does: one small emitter per kind of action.

Each emitter is ``fn(ctx, user, t, ip, auth) -> None`` and appends drafts to ``ctx.buf``;
it may emit nothing when there is nothing to act on. :data:`ACTIVITY` maps an action name
to its emitter; :data:`ROLE_WEIGHTS` says how often each role does what in a session.

Examples:
    >>> sorted(ROLE_WEIGHTS)
    ['admin', 'contractor', 'dev', 'partner', 'security']
    >>> "version.report.rl-diff.exported" in ACTIVITY
    True
"""

from __future__ import annotations

import random
from collections.abc import Callable

from auditlab.samples._ctx import (
    Ctx,
    on_file,
    on_group,
    on_org,
    on_package,
    on_project,
    on_user,
    on_version,
)
from auditlab.samples._model import DAY, SECOND, Group, Package, StoredFile, User, iso, new_uuid
from auditlab.samples._org import new_package, next_version

__all__ = ["ACTIVITY", "ROLE_WEIGHTS", "Emitter", "file_upload", "pick_package", "version_upload"]

Emitter = Callable[[Ctx, User, int, str, str], None]

VERSION_REPORTS = (
    "cyclonedx",
    "rl-checks",
    "rl-cve",
    "rl-diff",
    "rl-json",
    "rl-safe",
    "rl-summary-pdf",
    "rl-uri",
    "sarif",
    "spdx",
)
FILE_REPORTS = ("cyclonedx", "rl-cve", "rl-summary-pdf", "rl-uri", "sarif", "spdx")
SHARED = (
    "shared_report_created",
    "shared_report_deleted",
    "shared_report_edited",
    "shared_report_sent",
    "shared_report_unshared",
)


def _groups_of(ctx: Ctx, u: User) -> list[Group]:
    return list(u.groups) if u.groups else ctx.org.groups


def pick_package(ctx: Ctx, u: User, t: int, group: Group | None = None) -> Package | None:
    """A package alive at ``t`` in one of ``u``'s groups (or in ``group``)."""
    rng = ctx.rng
    g = group or rng.choice(_groups_of(ctx, u))
    projects = [
        p for p in g.projects if (p.since is None or p.since <= t) and (p.until is None or t < p.until)
    ]
    pkgs = [pk for p in projects for pk in p.packages]
    return rng.choice(pkgs) if pkgs else None


def _pick_version(ctx: Ctx, u: User, t: int) -> tuple[Package, str] | None:
    pk = pick_package(ctx, u, t)
    if pk is None:
        return None
    versions = pk.released(t)
    return (pk, ctx.rng.choice(versions)) if versions else None


def _pick_file(ctx: Ctx, u: User, t: int) -> StoredFile | None:
    files = [f for g in _groups_of(ctx, u) for f in ctx.files.get(g.id, ())]
    return ctx.rng.choice(files[-6:]) if files else None


def _sha(rng: random.Random) -> str:
    return f"{rng.getrandbits(256):064x}"


def _changes(field: str, old: object, new: object) -> dict[str, object]:
    return {"changes": [{"field": field, "old": old, "new": new}]}


# ---- versions ---------------------------------------------------------------------------------
def version_upload(
    ctx: Ctx,
    u: User,
    t: int,
    ip: str,
    auth: str,
    *,
    group: Group | None = None,
    action: str = "version.uploaded",
) -> bool:
    """Upload (or import) a new version and spend one unit of its group's quota."""
    if group is None:
        pk0 = pick_package(ctx, u, t)
        group = pk0.project.group if pk0 is not None else None
    if group is None or ctx.blocked(f"group:{group.id}", t - 60 * SECOND, t + 60 * SECOND):
        return False
    pk = pick_package(ctx, u, t, group)
    if pk is None:
        return False
    rng = ctx.rng
    if rng.random() < 0.03:
        ver = f"{pk.semver[0]}.{pk.semver[1]}.{pk.semver[2] + 1}"
        pk.version_ids.setdefault(ver, new_uuid(rng))
        err = rng.choice(("Invalid file: archive is corrupted", "Unsupported file type"))
        ctx.emit(t, action, u, ip, on_version(pk, ver), auth=auth, error=err)
        return True
    ver = next_version(rng, pk, t)
    req = ctx.new_req()
    ext = rng.choice(("tgz", "zip", "jar", "whl", "apk", "ipa")) if auth == "PORTAL" else "tgz"
    details: dict[str, object] = {
        "file_name": f"{pk.name}-{ver}.{ext}",
        "file_size": rng.randint(40_000, 90_000_000),
        "sha256": _sha(rng),
    }
    if action == "version.imported":
        details = {"source": rng.choice(("npm", "pypi", "maven", "docker")), "source_url": None}
    ctx.emit(t, action, u, ip, on_version(pk, ver), auth=auth, details=details, req=req)
    ctx.emit(
        t + rng.randint(300, 1500),
        "version.upload_quota.spent",
        u,
        ip,
        on_version(pk, ver),
        auth=auth,
        req=req,
        amount=1,
    )
    return True


def _version_uploaded(ctx: Ctx, u: User, t: int, ip: str, auth: str) -> None:
    version_upload(ctx, u, t, ip, auth)


def _version_imported(ctx: Ctx, u: User, t: int, ip: str, auth: str) -> None:
    version_upload(ctx, u, t, ip, auth, action="version.imported")


def _on_version(action: str, details: Callable[[random.Random], dict[str, object] | None]) -> Emitter:
    def emit(ctx: Ctx, u: User, t: int, ip: str, auth: str) -> None:
        picked = _pick_version(ctx, u, t)
        if picked is not None:
            ctx.emit(t, action, u, ip, on_version(*picked), auth=auth, details=details(ctx.rng))

    return emit


def _none(rng: random.Random) -> dict[str, object] | None:
    return None


def _approval(rng: random.Random) -> dict[str, object]:
    return _changes(
        "approval_status", "pending", rng.choice(("approved", "approved", "approved", "rejected"))
    )


def _release(rng: random.Random) -> dict[str, object]:
    return _changes("release_status", "unreleased", rng.choice(("released", "released", "deprecated")))


def _version_update(rng: random.Random) -> dict[str, object]:
    field = rng.choice(("description", "tags", "display_name"))
    return _changes(field, None if field == "description" else "", "updated via portal")


def _share(verb: str) -> Callable[[random.Random], dict[str, object]]:
    def details(rng: random.Random) -> dict[str, object]:
        d: dict[str, object] = {"share_id": f"shr_{rng.getrandbits(48):012x}"}
        if verb == "shared_report_sent":
            d["recipients"] = [
                rng.choice(
                    ("auditor@customer.example", "security@partner.example", "compliance@acme.example")
                )
            ]
        if verb in ("shared_report_created", "shared_report_edited"):
            d["expires_in_days"] = rng.choice((7, 14, 30))
        return d

    return details


def _format(fmt: str) -> Callable[[random.Random], dict[str, object]]:
    def details(rng: random.Random) -> dict[str, object]:
        return {"format": fmt}

    return details


# ---- packages, projects, groups, organisation --------------------------------------------------
def _package_updated(ctx: Ctx, u: User, t: int, ip: str, auth: str) -> None:
    pk = pick_package(ctx, u, t)
    if pk is not None:
        ctx.emit(
            t,
            "package.updated",
            u,
            ip,
            on_package(pk),
            auth=auth,
            details=_changes("description", "", f"{pk.name} component"),
        )


def _project_updated(ctx: Ctx, u: User, t: int, ip: str, auth: str) -> None:
    pk = pick_package(ctx, u, t)
    if pk is not None:
        field = ctx.rng.choice(("description", "default_policy", "owners"))
        ctx.emit(
            t,
            "project.updated",
            u,
            ip,
            on_project(pk.project),
            auth=auth,
            details=_changes(field, "", "updated"),
        )


def _package_created(ctx: Ctx, u: User, t: int, ip: str, auth: str) -> None:
    pk = pick_package(ctx, u, t)
    if pk is None:
        return
    proj = pk.project
    new = new_package(
        ctx.rng,
        proj,
        f"{proj.name.split('-', 1)[1]}-{ctx.rng.choice(('plugin', 'tools', 'proxy'))}{len(proj.packages)}",
    )
    new.version_times = dict.fromkeys(new.versions, t + DAY)  # first usable the next day
    proj.packages.append(new)
    ctx.emit(t, "package.created", u, ip, on_package(new), auth=auth)


def _group_action(action: str, details: Callable[[random.Random], dict[str, object] | None]) -> Emitter:
    def emit(ctx: Ctx, u: User, t: int, ip: str, auth: str) -> None:
        g = ctx.rng.choice(_groups_of(ctx, u))
        ctx.emit(t, action, u, ip, on_group(g), auth=auth, details=details(ctx.rng))

    return emit


def _org_action(action: str, details: Callable[[random.Random], dict[str, object] | None]) -> Emitter:
    def emit(ctx: Ctx, u: User, t: int, ip: str, auth: str) -> None:
        ctx.emit(t, action, u, ip, on_org(ctx.org), auth=auth, details=details(ctx.rng))

    return emit


def _policy(rng: random.Random) -> dict[str, object]:
    rule = rng.choice(
        ("TQ12101", "SQ30104", "SQ20105", "CVE-severity-high", "malware-detected", "license-gpl")
    )
    return {
        "changes": [{"field": f"policy.{rule}", "old": "warn", "new": rng.choice(("fail", "off", "warn"))}]
    }


def _profile(rng: random.Random) -> dict[str, object]:
    return {"file_name": f"profile-{rng.choice(('baseline', 'strict', 'legacy'))}.json"}


def _audit_export(rng: random.Random) -> dict[str, object]:
    return {"export_id": new_uuid(rng), "formats": ["ndjson", "cef"]}


# ---- file-stream files -------------------------------------------------------------------------
def file_upload(
    ctx: Ctx,
    u: User,
    t: int,
    ip: str,
    auth: str,
    *,
    group: Group | None = None,
    action: str = "filestream_file.uploaded",
) -> None:
    """Upload a file-stream file and spend one unit of quota."""
    rng = ctx.rng
    g = group or rng.choice(_groups_of(ctx, u))
    if ctx.blocked(f"group:{g.id}", t - 60 * SECOND, t + 60 * SECOND):
        return
    stem = rng.choice(("installer", "firmware", "bundle", "image", "plugin", "update"))
    ext = rng.choice(("exe", "bin", "msi", "img", "zip", "dmg"))
    f = StoredFile(new_uuid(rng), f"{stem}-{iso(t)[:10]}-{rng.randint(1, 99)}.{ext}", g)
    ctx.files.setdefault(g.id, []).append(f)
    req = ctx.new_req()
    details: dict[str, object] = {"file_size": rng.randint(100_000, 400_000_000), "sha256": _sha(rng)}
    ctx.emit(t, action, u, ip, on_file(f), auth=auth, details=details, req=req)
    if action == "filestream_file.uploaded":
        ctx.emit(
            t + rng.randint(300, 1500),
            "filestream_file.upload_quota.spent",
            u,
            ip,
            on_file(f),
            auth=auth,
            req=req,
            amount=1,
        )


def _file_uploaded(ctx: Ctx, u: User, t: int, ip: str, auth: str) -> None:
    file_upload(ctx, u, t, ip, auth)


def _file_imported(ctx: Ctx, u: User, t: int, ip: str, auth: str) -> None:
    file_upload(ctx, u, t, ip, auth, action="filestream_file.imported")


def _on_file(action: str, details: Callable[[random.Random], dict[str, object] | None]) -> Emitter:
    def emit(ctx: Ctx, u: User, t: int, ip: str, auth: str) -> None:
        f = _pick_file(ctx, u, t)
        if f is not None:
            ctx.emit(t, action, u, ip, on_file(f), auth=auth, details=details(ctx.rng))

    return emit


def _file_moved(ctx: Ctx, u: User, t: int, ip: str, auth: str) -> None:
    f = _pick_file(ctx, u, t)
    pk = pick_package(ctx, u, t, f.group) if f is not None else None
    if f is not None and pk is not None:
        ctx.emit(
            t,
            "filestream_file.moved_to_project",
            u,
            ip,
            on_file(f),
            auth=auth,
            details={"project": pk.project.name, "package": pk.name},
        )


def _file_deleted(ctx: Ctx, u: User, t: int, ip: str, auth: str) -> None:
    f = _pick_file(ctx, u, t)
    if f is not None:
        ctx.files[f.group.id].remove(f)
        ctx.emit(t, "filestream_file.deleted", u, ip, on_file(f), auth=auth)


# ---- users -------------------------------------------------------------------------------------
def _pat_created(ctx: Ctx, u: User, t: int, ip: str, auth: str) -> None:
    ctx.emit(t, "user.pat.created", u, ip, on_user(u), auth=auth, owner=u)


def _pat_rotated(ctx: Ctx, u: User, t: int, ip: str, auth: str) -> None:
    """Revoke the oldest own token, then create a new one (the token ids come from the PAT pass)."""
    if u.api:
        ctx.emit(t, "user.pat.revoked", u, ip, on_user(u), auth=auth, owner=u)
    ctx.emit(t + ctx.rng.randint(20, 120) * SECOND, "user.pat.created", u, ip, on_user(u), auth=auth, owner=u)


def _user_updated(ctx: Ctx, u: User, t: int, ip: str, auth: str) -> None:
    rng = ctx.rng
    if u.role == "admin":
        who = rng.choice([x for x in ctx.org.users if x.role in ("dev", "security") and x.alive(t)])
        ctx.emit(
            t,
            "user.updated",
            u,
            ip,
            on_user(who),
            auth=auth,
            details=_changes("role", "member", rng.choice(("manager", "member", "viewer"))),
        )
    else:
        ctx.emit(
            t,
            "user.updated",
            u,
            ip,
            on_user(u),
            auth=auth,
            details=_changes(rng.choice(("display_name", "timezone", "notifications")), "old", "new"),
        )


def _password_changed(ctx: Ctx, u: User, t: int, ip: str, auth: str) -> None:
    if u.login == "password" or ctx.login_action(u, t) == "user.login":
        ctx.emit(t, "user.password_changed", u, ip, on_user(u), auth=auth)


def _denied(ctx: Ctx, u: User, t: int, ip: str, auth: str) -> None:
    """A non-admin tries an admin action and is refused."""
    rng = ctx.rng
    pk = pick_package(ctx, u, t)
    if pk is None:
        return
    action, on = rng.choice(
        (
            ("project.deleted", on_project(pk.project)),
            ("package.deleted", on_package(pk)),
            ("group.policy_configuration.updated", on_group(pk.project.group)),
        )
    )
    ctx.emit(t, action, u, ip, on, auth=auth, error="Insufficient permissions")


ACTIVITY: dict[str, Emitter] = {
    "version.downloaded": _on_version("version.downloaded", _none),
    **{
        f"version.report.{r}.exported": _on_version(f"version.report.{r}.exported", _format(r))
        for r in VERSION_REPORTS
    },
    **{f"version.report.{s}": _on_version(f"version.report.{s}", _share(s)) for s in SHARED},
    "version.approval.updated": _on_version("version.approval.updated", _approval),
    "version.release_status.updated": _on_version("version.release_status.updated", _release),
    "version.updated": _on_version("version.updated", _version_update),
    "version.uploaded": _version_uploaded,
    "version.imported": _version_imported,
    "package.updated": _package_updated,
    "package.created": _package_created,
    "project.updated": _project_updated,
    "filestream_file.downloaded": _on_file("filestream_file.downloaded", _none),
    **{
        f"filestream_file.report.{r}.exported": _on_file(f"filestream_file.report.{r}.exported", _format(r))
        for r in FILE_REPORTS
    },
    "filestream_file.approval.updated": _on_file("filestream_file.approval.updated", _approval),
    "filestream_file.updated": _on_file(
        "filestream_file.updated", lambda r: _changes("description", "", "release candidate")
    ),
    "filestream_file.uploaded": _file_uploaded,
    "filestream_file.imported": _file_imported,
    "filestream_file.moved_to_project": _file_moved,
    "filestream_file.deleted": _file_deleted,
    "group.updated": _group_action("group.updated", lambda r: _changes("description", "", "owned by eng")),
    "group.policy_configuration.updated": _group_action("group.policy_configuration.updated", _policy),
    "group.profile_configuration.exported": _group_action("group.profile_configuration.exported", _profile),
    "group.profile_configuration.imported": _group_action("group.profile_configuration.imported", _profile),
    "organization.policy_configuration.updated": _org_action(
        "organization.policy_configuration.updated", _policy
    ),
    "organization.profile_configuration.exported": _org_action(
        "organization.profile_configuration.exported", _profile
    ),
    "organization.profile_configuration.imported": _org_action(
        "organization.profile_configuration.imported", _profile
    ),
    "user.updated": _user_updated,
    "user.pat.created": _pat_created,
    "user.pat.revoked": _pat_rotated,
    "user.password_changed": _password_changed,
    "denied": _denied,
}

_DEV_REPORTS: dict[str, float] = {
    "rl-json": 3,
    "cyclonedx": 3,
    "spdx": 2,
    "sarif": 2,
    "rl-summary-pdf": 2,
    "rl-cve": 2,
    "rl-checks": 1.5,
    "rl-diff": 1,
    "rl-safe": 1,
    "rl-uri": 0.5,
}
_SEC_REPORTS: dict[str, float] = {
    "rl-cve": 5,
    "rl-summary-pdf": 5,
    "sarif": 3,
    "rl-checks": 3,
    "cyclonedx": 3,
    "spdx": 2,
    "rl-safe": 2,
    "rl-diff": 1,
    "rl-json": 1,
    "rl-uri": 1,
}


def _reports(weights: dict[str, float], scale: float = 1.0) -> dict[str, float]:
    return {f"version.report.{r}.exported": w * scale for r, w in weights.items()}


def _file_reports(w: float) -> dict[str, float]:
    return {f"filestream_file.report.{r}.exported": w for r in FILE_REPORTS}


ROLE_WEIGHTS: dict[str, dict[str, float]] = {
    "dev": {
        "version.downloaded": 20,
        **_reports(_DEV_REPORTS),
        "version.updated": 3,
        "version.release_status.updated": 2,
        "version.uploaded": 1.5,
        "version.imported": 0.6,
        "version.report.shared_report_created": 1,
        "version.report.shared_report_edited": 0.5,
        "version.report.shared_report_sent": 0.7,
        "version.report.shared_report_unshared": 0.3,
        "version.report.shared_report_deleted": 0.3,
        "package.updated": 2,
        "project.updated": 1,
        "package.created": 0.1,
        "filestream_file.downloaded": 3,
        **_file_reports(0.4),
        "filestream_file.updated": 0.5,
        "filestream_file.uploaded": 0.6,
        "filestream_file.imported": 0.2,
        "filestream_file.moved_to_project": 0.2,
        "filestream_file.deleted": 0.15,
        "user.pat.created": 0.15,
        "user.pat.revoked": 0.08,
        "user.updated": 0.2,
        "denied": 0.12,
    },
    "security": {
        "version.downloaded": 6,
        **_reports(_SEC_REPORTS),
        "version.approval.updated": 8,
        "version.report.shared_report_created": 2,
        "version.report.shared_report_sent": 1.5,
        "version.report.shared_report_edited": 0.5,
        "version.report.shared_report_unshared": 0.4,
        "version.report.shared_report_deleted": 0.4,
        "filestream_file.approval.updated": 2,
        **_file_reports(0.6),
        "filestream_file.downloaded": 2,
        "version.release_status.updated": 1,
    },
    "admin": {
        "group.updated": 1.5,
        "group.policy_configuration.updated": 0.8,
        "group.profile_configuration.exported": 0.4,
        "group.profile_configuration.imported": 0.2,
        "organization.policy_configuration.updated": 0.3,
        "organization.profile_configuration.exported": 0.3,
        "user.updated": 2,
        "project.updated": 1,
        "package.updated": 1,
        "version.downloaded": 3,
        **_reports(_SEC_REPORTS, 0.3),
        "version.approval.updated": 2,
        "user.pat.created": 0.1,
    },
    "contractor": {
        "version.downloaded": 10,
        **_reports(_DEV_REPORTS, 0.5),
        "version.updated": 2,
        "version.uploaded": 1.5,
        "filestream_file.uploaded": 0.8,
        "filestream_file.downloaded": 2,
        "user.password_changed": 0.1,
        "denied": 0.1,
    },
    "partner": {
        "version.downloaded": 10,
        "version.report.rl-summary-pdf.exported": 3,
        "version.report.cyclonedx.exported": 2,
        "version.report.spdx.exported": 2,
        "filestream_file.downloaded": 3,
    },
}
