"""Process instances of any deployed process: start, list, read, message, cancel."""
from apiflask import APIBlueprint, Schema
from apiflask.fields import Dict, Integer, List, Nested, String
from apiflask.validators import Length, OneOf, Range

from api.auth import current_actor, require_roles, token_auth
from api.errors import abort
from api.present import Presenter, instance as instance_out
from api.runtime import engine
from api.schemas import Page, TaskOut
from engine.instances import STATUSES
from workflows import access

bp = APIBlueprint("instances", __name__, url_prefix="/api/v1", tag="Instances")
# Who may call each endpoint at all; which instances they see is ``workflows.access``'s rule.
STARTERS = (*access.INSTANCE_STARTERS, "admin")
READERS = (*access.INSTANCE_READERS, "admin")
OPERATORS = ("admin",)  # access.may_operate_instances: cancel, suspend, resume, retry, migrate, message


class StartIn(Schema):
    definition = String(required=True, validate=Length(1, 200))
    version = Integer(validate=Range(1, 2_147_483_647))
    business_key = String(validate=Length(1, 200))
    variables = Dict(load_default=dict)


class StartedOut(Schema):
    id = String(required=True)
    definition = String(required=True)
    version = Integer(required=True)
    status = String(required=True)


class InstanceOut(Schema):
    id = String(required=True)
    definition = String(required=True)
    version = Integer(required=True)
    business_key = String(allow_none=True)
    status = String(required=True)
    variables = Dict(required=True)
    open_tasks = List(Nested(TaskOut), required=True)
    started_at = String(required=True)
    ended_at = String(allow_none=True)
    started_by = String(allow_none=True)
    error = String(allow_none=True)
    error_task = String(allow_none=True)


class InstancePage(Schema):
    items = List(Nested(InstanceOut), required=True)
    total = Integer(required=True)


class InstanceQuery(Page):
    definition = String(validate=Length(1, 200))
    status = String(validate=OneOf(STATUSES))
    business_key = String(validate=Length(1, 200))


class MessageIn(Schema):
    name = String(required=True, validate=Length(1, 200))
    payload = Dict(load_default=dict)


class CancelIn(Schema):
    reason = String(required=True, validate=Length(1, 2000))


def _readable(instance_id):
    return access.visible_instance(engine(), current_actor(), instance_id)


def _out(row):
    rt = engine()
    with rt.db.read() as session:
        tasks = rt.instances.open_tasks(session, [row.id]).get(row.id, [])
    return instance_out(row, tasks, Presenter(rt))


@bp.post("/instances")
@bp.auth_required(token_auth)
@require_roles(*STARTERS)
@bp.input(StartIn, arg_name="body")
@bp.output(StartedOut, status_code=201)
@bp.doc(summary="Start a process instance; it runs until it waits", responses=[400, 403, 404])
def start(body):
    access.refuse_domain_process(engine(), body["definition"])
    row = engine().instances.start(body["definition"], body["variables"], current_actor(),
                                   version=body.get("version"), business_key=body.get("business_key"))
    return {"id": row.id, "definition": row.definition_key, "version": row.definition_version,
            "status": row.status}


@bp.get("/instances")
@bp.auth_required(token_auth)
@require_roles(*READERS)
@bp.input(InstanceQuery, location="query", arg_name="query")
@bp.output(InstancePage)
@bp.doc(summary="Instances, newest first", responses=[403])
def list_instances(query):
    rt = engine()
    rows, total = rt.instances.list(query.get("definition"), query.get("status"),
                                    query.get("business_key"), query["limit"], query["offset"],
                                    scope=access.instance_scope(current_actor()))
    with rt.db.read() as session:
        tasks = rt.instances.open_tasks(session, [r.id for r in rows])
    presenter = Presenter(rt)
    return {"items": [instance_out(r, tasks.get(r.id, []), presenter) for r in rows], "total": total}


@bp.get("/instances/<instance_id>")
@bp.auth_required(token_auth)
@bp.output(InstanceOut)
@bp.doc(summary="One instance with its open tasks", responses=[403, 404])
def get_instance(instance_id):
    return _out(_readable(instance_id))


@bp.post("/instances/<instance_id>/messages")
@bp.auth_required(token_auth)
@require_roles(*OPERATORS)
@bp.input(MessageIn, arg_name="body")
@bp.output(InstanceOut)
@bp.doc(summary="Deliver a message; 409 when the instance is not waiting for it", responses=[400, 403, 404, 409])
def message(instance_id, body):
    return _out(engine().instances.send_message(instance_id, body["name"], body["payload"], current_actor()))


@bp.post("/instances/<instance_id>/cancel")
@bp.auth_required(token_auth)
@require_roles(*OPERATORS)
@bp.input(CancelIn, arg_name="body")
@bp.output(InstanceOut)
@bp.doc(summary="Cancel an instance with a reason", responses=[400, 403, 404, 409])
def cancel(instance_id, body):
    return _out(engine().instances.cancel(instance_id, body["reason"], current_actor()))


class MigrateIn(Schema):
    to_version = Integer(required=True, validate=Range(1, 2_147_483_647))


@bp.post("/instances/<instance_id>/migrate")
@bp.auth_required(token_auth)
@require_roles(*OPERATORS)
@bp.input(MigrateIn, arg_name="body")
@bp.output(InstanceOut)
@bp.doc(summary="Move a running instance to another version of its definition",
        responses=[400, 403, 404, 409])
def migrate(instance_id, body):
    return _out(engine().migrations.migrate(instance_id, body["to_version"], current_actor()))


@bp.post("/instances/<instance_id>/retry")
@bp.auth_required(token_auth)
@require_roles("admin")
@bp.output(InstanceOut)
@bp.doc(summary="Retry the failed step of an instance in error (after its cause is fixed)",
        description="An instance stopped by its command's budget ([engine] max_steps_per_command, "
                    "max_seconds_per_command) runs on from where it stopped, with a fresh budget.",
        responses=[403, 404, 409])
def retry(instance_id):
    return _out(engine().instances.retry(instance_id, current_actor()))


@bp.get("/incidents")
@bp.auth_required(token_auth)
@require_roles("admin")
@bp.input(Page, location="query", arg_name="page")
@bp.output(InstancePage)
@bp.doc(summary="Incidents: instances in error, with the reason and the failed step", responses=[403])
def incidents(page):
    rt = engine()
    rows, total = rt.instances.list(status="error", limit=page["limit"], offset=page["offset"])
    presenter = Presenter(rt)
    return {"items": [instance_out(r, [], presenter) for r in rows], "total": total}


class SuspendIn(Schema):
    reason = String(required=True, validate=Length(1, 2000))


@bp.post("/instances/<instance_id>/suspend")
@bp.auth_required(token_auth)
@require_roles("admin")
@bp.input(SuspendIn, arg_name="body")
@bp.output(InstanceOut)
@bp.doc(summary="Suspend a running instance: its tasks cannot be completed, its timers wait",
        responses=[400, 403, 404, 409])
def suspend(instance_id, body):
    return _out(engine().instances.suspend(instance_id, body["reason"], current_actor()))


@bp.post("/instances/<instance_id>/resume")
@bp.auth_required(token_auth)
@require_roles("admin")
@bp.output(InstanceOut)
@bp.doc(summary="Resume a suspended instance; what fell due meanwhile fires now", responses=[403, 404, 409])
def resume(instance_id):
    return _out(engine().instances.resume(instance_id, current_actor()))


class TimerIncidentOut(Schema):
    id = String(required=True)
    instance_id = String(required=True)
    task_key = String(required=True)
    fire_at = String(required=True)
    state = String(required=True)
    attempts = Integer(required=True)
    last_error = String(allow_none=True)


class TimerIncidentPage(Schema):
    items = List(Nested(TimerIncidentOut), required=True)
    total = Integer(required=True)


def _timer_out(row):
    return {"id": row.id, "instance_id": row.instance_id, "task_key": row.task_key,
            "fire_at": row.fire_at.isoformat(), "state": row.state, "attempts": row.attempts,
            "last_error": row.last_error}


@bp.get("/incidents/timers")
@bp.auth_required(token_auth)
@require_roles("admin")
@bp.output(TimerIncidentPage)
@bp.doc(summary="Timers that gave up after their retries, with the last error", responses=[403])
def timer_incidents():
    rows = engine().timers.incidents()
    return {"items": [_timer_out(r) for r in rows], "total": len(rows)}


@bp.post("/incidents/timers/<timer_id>/retry")
@bp.auth_required(token_auth)
@require_roles("admin")
@bp.output(TimerIncidentOut)
@bp.doc(summary="Put a timer incident back to waiting; the next scheduler tick fires it",
        responses=[403, 404, 409])
def retry_timer(timer_id):
    return _timer_out(engine().timers.retry_incident(timer_id, current_actor()))


class EffectOut(Schema):
    id = String(required=True)
    kind = String(required=True, metadata={"description": "the registry's effect handler, e.g. "
                                                          "push_notifications, apply_extension"})
    instance_id = String(allow_none=True, metadata={"description": "the instance whose command wrote it"})
    state = String(required=True, metadata={"description": "pending | done | incident"})
    attempts = Integer(required=True)
    next_attempt_at = String(required=True)
    last_error = String(allow_none=True)
    created_at = String(required=True)
    done_at = String(allow_none=True)
    payload = Dict(required=True)


class EffectPage(Schema):
    items = List(Nested(EffectOut), required=True)
    total = Integer(required=True)


def _effect_out(row):
    return {"id": row.id, "kind": row.kind, "instance_id": row.instance_id, "state": row.state,
            "attempts": row.attempts, "next_attempt_at": row.next_attempt_at.isoformat(),
            "last_error": row.last_error, "created_at": row.created_at.isoformat(),
            "done_at": row.done_at.isoformat() if row.done_at else None, "payload": row.payload}


@bp.get("/incidents/outbox")
@bp.auth_required(token_auth)
@require_roles("admin")
@bp.output(EffectPage)
@bp.doc(summary="After-commit effects (outbox) that gave up after their retries, with the last error",
        description="An effect (a notification push, applying an approved extension) is written with "
                    "the command that causes it and run after the commit, retried with back-off; after "
                    "[outbox] max_attempts it is an incident until an admin retries it.",
        responses=[403])
def outbox_incidents():
    rows = engine().outbox.incidents()
    return {"items": [_effect_out(r) for r in rows], "total": len(rows)}


@bp.post("/incidents/outbox/<effect_id>/retry")
@bp.auth_required(token_auth)
@require_roles("admin")
@bp.output(EffectOut)
@bp.doc(summary="Run an outbox incident again now, with a fresh count of attempts",
        description="Returns the effect afterwards: state done, or pending (in back-off, with the new "
                    "last_error) when it failed again. 404 unknown effect, 409 not an incident.",
        responses=[403, 404, 409])
def retry_effect(effect_id):
    return _effect_out(engine().outbox.retry_incident(effect_id, current_actor()))
