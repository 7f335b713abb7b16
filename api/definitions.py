"""Process definitions (designers deploy; everyone may read)."""
from apiflask import APIBlueprint, Schema
from apiflask.fields import Boolean, Integer, List, Nested, String
from apiflask.validators import Range
from flask import request
from sqlalchemy import func, select

from api.auth import current_actor, require_roles, token_auth
from api.errors import abort, problem
from api.headers import user_document
from api.runtime import engine
from engine.models import Definition
from workflows import access

bp = APIBlueprint("definitions", __name__, url_prefix="/api/v1", tag="Definitions")
XML_TYPES = ("application/xml", "text/xml", "application/bpmn+xml")


class DeployedOut(Schema):
    key = String(required=True)
    version = Integer(required=True)
    id = Integer(required=True)
    kind = String(required=True)
    created = String(required=True)


class DeployedFileOut(DeployedOut):
    file = String(required=True)


class DeployResultOut(Schema):
    """One file: its definition (``key``, ``version``, ``id``, ``kind``, ``created``). A bundle
    (several ``file`` fields): ``definitions``, one per file in the order sent, with the file's
    name, and ``total``; the single-file fields are then absent."""
    key = String()
    version = Integer()
    id = Integer()
    kind = String()
    created = String()
    definitions = List(Nested(DeployedFileOut))
    total = Integer()


class DefinitionOut(Schema):
    id = Integer(required=True)
    key = String(required=True)
    version = Integer(required=True)
    kind = String(required=True)
    name = String(allow_none=True)
    sha256 = String(required=True)
    deployed_at = String(required=True)
    deployed_by = String(allow_none=True)


class DefinitionPage(Schema):
    items = List(Nested(DefinitionOut), required=True)
    total = Integer(required=True)


class VersionQuery(Schema):
    version = Integer(validate=Range(1, 2_147_483_647))


def definition_out(row):
    return {"id": row.id, "key": row.key, "version": row.version, "kind": row.kind, "name": row.name,
            "sha256": row.sha256, "deployed_at": row.deployed_at.isoformat(), "deployed_by": row.deployed_by}


def _uploaded_files():
    """``[(file name, bytes)]``: the XML body, or every multipart field named ``file``."""
    if request.mimetype == "multipart/form-data":
        uploads = request.files.getlist("file")
        if not uploads:
            abort(400, "invalid_input", "multipart upload needs a field named 'file'",
                  [problem("file", "required", "missing")])
        files = [(upload.filename or None, upload.read()) for upload in uploads]
    elif request.mimetype not in XML_TYPES:
        abort(415, "unsupported_media_type",
              "send the BPMN/DMN XML as application/xml, or as multipart field 'file'")
    else:
        files = [(None, request.get_data())]
    for index, (name, source) in enumerate(files, 1):
        if not source.strip():
            where = f" ({name or f'file {index}'})" if len(files) > 1 else ""
            abort(400, "invalid_input", f"the document is empty{where}",
                  [problem("file", "empty", f"the document is empty{where}")])
    return files


def _deployed(definition, created):
    return {"key": definition.key, "version": definition.version, "id": definition.id,
            "kind": definition.kind, "created": "true" if created else "false"}


@bp.post("/definitions")
@bp.auth_required(token_auth)
@require_roles("designer")
@bp.output(DeployResultOut, status_code=201)
@bp.doc(summary="Deploy BPMN and DMN documents (XML body, or one or more multipart fields 'file')",
        description="Invalid XML, or BPMN the engine cannot run, answers 400 naming the element "
                    "and line; nothing is deployed. The same bytes again return the existing version "
                    "(200 when no file was new). Several 'file' fields are a bundle: checked together "
                    "(a process may call a process or a decision of another file), deployed together "
                    "or not at all (a refusal names the file); the answer lists each file's definition "
                    "under 'definitions'. A call activity whose process is in another file calls its latest "
                    "deployed version, or the one pinned by the task property calledElementVersion.",
        responses=[400, 403, 413, 415])
def deploy():
    files = _uploaded_files()
    results = engine().definitions.deploy_bundle(files, actor=current_actor().username)
    status = 201 if any(created for _, created in results) else 200
    if len(files) == 1:
        return _deployed(*results[0]), status
    items = [{**_deployed(definition, created), "file": name or f"file {index}"}
             for index, ((name, _), (definition, created)) in enumerate(zip(files, results), 1)]
    return {"definitions": items, "total": len(items)}, status


@bp.get("/definitions")
@bp.auth_required(token_auth)
@bp.output(DefinitionPage)
@bp.doc(summary="The latest version of each definition key")
def latest():
    latest_versions = (select(Definition.key, func.max(Definition.version).label("v"))
                       .group_by(Definition.key).subquery())
    with engine().db.read() as session:
        rows = list(session.scalars(select(Definition).join(
            latest_versions, (Definition.key == latest_versions.c.key)
            & (Definition.version == latest_versions.c.v)).order_by(Definition.key)))
    return {"items": [definition_out(r) for r in rows], "total": len(rows)}


@bp.get("/definitions/<key>")
@bp.auth_required(token_auth)
@bp.output(DefinitionPage)
@bp.doc(summary="Every version of one definition, newest first", responses=[404])
def versions(key):
    with engine().db.read() as session:
        rows = list(session.scalars(select(Definition).where(Definition.key == key)
                                    .order_by(Definition.version.desc())))
    if not rows:
        abort(404, "not_found", f"no definition {key!r}")
    return {"items": [definition_out(r) for r in rows], "total": len(rows)}


@bp.get("/definitions/<key>/xml")
@bp.auth_required(token_auth)
@bp.input(VersionQuery, location="query", arg_name="query")
@bp.doc(summary="The XML of a version (latest by default)", responses=[404])
def xml(key, query):
    with engine().db.read() as session:
        definition = engine().definitions.get(session, key, query.get("version"))
    return user_document(definition.source, "application/xml", definition_filename(definition))


def definition_filename(definition):
    """The download name of a definition's XML: ``<key>-v<version>.bpmn`` (or ``.dmn``)."""
    return f"{definition.key}-v{definition.version}.{definition.kind}"


class VersionCount(Schema):
    version = Integer(required=True)
    status = String(required=True)
    count = Integer(required=True)


class VersionCounts(Schema):
    items = List(Nested(VersionCount), required=True)
    total = Integer(required=True)


class MigrateAllIn(Schema):
    from_version = Integer(required=True, validate=Range(1, 2_147_483_647))
    to_version = Integer(required=True, validate=Range(1, 2_147_483_647))
    dry_run = Boolean(load_default=True)


class MigrationResult(Schema):
    instance_id = String(required=True)
    can_move = Boolean(required=True)
    reason = String(allow_none=True)
    code = String(allow_none=True)  # why not, as details[].code: instance_not_running, steps_missing, ...


class MigrationReport(Schema):
    items = List(Nested(MigrationResult), required=True)
    total = Integer(required=True)
    moved = Integer(required=True)
    dry_run = Boolean(required=True)


@bp.get("/definitions/<key>/instances")
@bp.auth_required(token_auth)
@require_roles("designer", "secretariat", "supervisor")
@bp.output(VersionCounts)
@bp.doc(summary="Instances of a definition counted per version and status", responses=[403, 404])
def instance_counts(key):
    with engine().db.read() as session:
        engine().definitions.get(session, key)
    rows = engine().instances.counts(key, scope=access.instance_scope(current_actor()))
    return {"items": [{"version": v, "status": s, "count": n} for _, v, s, n in rows], "total": len(rows)}


@bp.post("/definitions/<key>/migrate")
@bp.auth_required(token_auth)
@require_roles("designer")
@bp.input(MigrateAllIn, arg_name="body")
@bp.output(MigrationReport)
@bp.doc(summary="Move every running instance from one version to another (dry run by default)",
        responses=[400, 403, 404])
def migrate_all(key, body):
    rt = engine()
    with rt.db.read() as session:
        rt.definitions.get(session, key, body["from_version"])
        rt.definitions.get(session, key, body["to_version"])
    if not body["dry_run"] and not access.may_operate_instances(current_actor()):
        abort(403, "forbidden", "only admins move live instances; designers may run the dry run",
              [problem("dry_run", "operators_only", "only admins move live instances")])
    if body["from_version"] == body["to_version"]:
        abort(400, "invalid_input", "from_version and to_version are the same",
              [problem("to_version", "same_version", "same as from_version")])
    results = rt.migrations.migrate_all(key, body["from_version"], body["to_version"], current_actor(),
                                        dry_run=body["dry_run"])
    items = [{"instance_id": r.instance_id, "can_move": r.can_move, "reason": r.reason, "code": r.code}
             for r in results]
    return {"items": items, "total": len(items), "dry_run": body["dry_run"],
            "moved": 0 if body["dry_run"] else sum(r.can_move for r in results)}
