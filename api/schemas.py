"""Request and response schemas, declared once: they validate input and publish OpenAPI."""
from apiflask import Schema
from apiflask.fields import AwareDateTime, Boolean, Date, Dict, Integer, List, Nested, String
from apiflask.validators import Length, OneOf, Range

from api.present import iso


def EVIDENCE():  # noqa: N802 — a field factory, used like a field class
    """Optional ``evidence``: ids of files uploaded with ``POST /api/v1/files`` (佐证材料)."""
    return List(String(validate=Length(1, 36), metadata={"format": "file"}), load_default=list,
                validate=Length(0, 50), metadata={"description": "ids of uploaded evidence files"})

LIGHTS = ("green", "yellow", "red")


class Page(Schema):
    limit = Integer(load_default=50, validate=Range(1, 500))
    offset = Integer(load_default=0, validate=Range(0, 10_000_000))


class ReturnedOut(Schema):
    """A step sent back (退回): by whom (username), when, why, from which deciding step; on a
    single task also ``previous``, the data last submitted for this step (the form's prefill)."""
    by = String(required=True)
    at = String(required=True)
    reason = String(required=True)
    step = String(required=True)
    previous = Dict(allow_none=True)


class TaskOut(Schema):
    id = String(required=True)
    key = String(required=True)
    title = String(allow_none=True)
    item_id = String(allow_none=True)
    instance_id = String(required=True)
    definition = String(allow_none=True)
    lane = String(allow_none=True)
    assignee = String(allow_none=True)
    candidate_department = String(allow_none=True)
    candidate_role = String(allow_none=True)
    state = String(required=True)
    created_at = String(required=True)
    due_at = String(allow_none=True)
    light = String(required=True)
    completed_at = String(allow_none=True)
    completed_by = String(allow_none=True)
    returned = Nested(ReturnedOut, allow_none=True)  # the inbox and a task's own answer only
    # working days from today to the due date (engine calendar); negative once overdue
    working_days_left = Integer(allow_none=True)


class TaskDetailOut(TaskOut):
    form = Dict(allow_none=True)
    data = Dict(allow_none=True)
    documentation = String(allow_none=True)
    draft = Dict(allow_none=True)  # the caller's 暂存 of this open task's form


class DraftIn(Schema):
    data = Dict(required=True)


class DraftOut(Schema):
    task_id = String(required=True)
    data = Dict(required=True)
    saved_at = String(required=True)


class TaskPage(Schema):
    items = List(Nested(TaskOut), required=True)
    total = Integer(required=True)
    overdue = Integer()


class AuditOut(Schema):
    seq = Integer(required=True)
    at = String(required=True)
    actor = String(allow_none=True)
    kind = String(required=True)
    item_id = String(allow_none=True)
    instance_id = String(allow_none=True)
    data = Dict(required=True)
    hash = String(required=True)


class AuditPage(Schema):
    items = List(Nested(AuditOut), required=True)
    total = Integer(required=True)


class Milestone(Schema):
    date = Date(required=True)
    target = String(required=True, validate=Length(1, 1000))


class PlanOut(Schema):
    id = Integer(required=True)
    owner = String(required=True)
    milestones = List(Dict(), required=True)
    measures = String(required=True)
    expected_result = String(required=True)
    state = String(required=True)
    submitted_by = String(required=True)
    submitted_at = String(required=True)
    decision_comment = String(allow_none=True)
    decided_by = String(allow_none=True)
    filed_at = String(allow_none=True)


class ReportOut(Schema):
    id = Integer(required=True)
    department = String(required=True)
    progress = Integer(required=True)
    summary = String(required=True)
    done = Boolean(required=True)
    completion_report = String(allow_none=True)
    due_at = String(allow_none=True)
    submitted_by = String(required=True)
    submitted_at = String(required=True)
    recheck_passed = Boolean(allow_none=True)
    recheck_findings = String(allow_none=True)


class ItemIn(Schema):
    title = String(required=True, validate=Length(1, 400))
    basis = String(load_default="other", validate=Length(0, 100))
    department = String(required=True, validate=Length(1, 100))
    co_departments = List(String(validate=Length(1, 100)), load_default=list)
    leader = String(required=True, validate=Length(1, 100))
    deadline = Date(required=True)
    requirements = String(load_default="", validate=Length(0, 10000))
    evidence = EVIDENCE()
    key = Boolean(load_default=False, truthy={True}, falsy={False},  # strict: "yes" is no boolean
                  metadata={"description": "重点: a monthly report task each month (一月一调度)"})
    campaign = Integer(strict=True, validate=Range(1, 2**31 - 1), metadata={
        "description": "a campaign's id (专项行动): the department must be in its scope"})
    category = Integer(strict=True, validate=Range(1, 2**31 - 1), metadata={
        "description": "one of the campaign's categories (needs campaign)"})


class ItemOut(Schema):
    id = String(required=True)
    code = String(required=True)
    title = String(required=True)
    basis = String(allow_none=True)
    department = String(required=True)
    co_departments = List(String(), required=True)
    leader = String(required=True)
    deadline = String(allow_none=True)
    requirements = String(allow_none=True)
    status = String(required=True)
    light = String(required=True)
    instance_id = String(allow_none=True)
    created_at = String(required=True)
    created_by = String(allow_none=True)
    closed_at = String(allow_none=True)
    rebounds = Integer(metadata={"description": "times a 回头看 found it rebounded (反弹)"})
    rating = String(allow_none=True)
    campaign_id = Integer(allow_none=True)
    category_id = Integer(allow_none=True)
    current_step = String(allow_none=True)
    open_tasks = List(Nested(TaskOut))
    doc_number = String(metadata={"description": "文号: as set, else 督办〔year〕seq号"})
    key = Boolean(metadata={"description": "重点 (一月一调度)"})


class EscalationOut(Schema):
    """One of ``item_id``, ``problem_id`` is null: the record whose step is overdue."""
    id = Integer(required=True)
    item_id = String(required=True, allow_none=True)
    problem_id = String(required=True, allow_none=True)
    instance_id = String(required=True)
    task_id = String(allow_none=True)
    task_key = String(required=True)
    handle_task_id = String(allow_none=True)
    department = String(required=True)
    overdue_since = String(required=True)
    level = Integer(required=True)
    proposed_measure = String(allow_none=True)
    state = String(required=True)
    handled_by = String(allow_none=True)
    handled_at = String(allow_none=True)
    action = String(allow_none=True)
    comment = String(allow_none=True)
    new_due = String(allow_none=True)
    reassigned_to = String(allow_none=True)


class AttachedFileOut(Schema):
    """An evidence file attached to an item or problem (download: ``GET /api/v1/files/{id}``)."""
    id = String(required=True)
    name = String(required=True)
    size = Integer(required=True)
    content_type = String(required=True)
    task_id = String(allow_none=True)  # the step whose form attached it; none: the registration
    attached_at = String(required=True)


def attached_files(rows):
    return [{"id": r.id, "name": r.name, "size": r.size, "content_type": r.content_type,
             "task_id": r.task_id, "attached_at": iso(r.attached_at)} for r in rows]


class ItemDetailOut(ItemOut):
    files = List(Nested(AttachedFileOut))
    escalations = List(Nested(EscalationOut))
    plan = Nested(PlanOut, allow_none=True)
    plans = List(Nested(PlanOut))
    reports = List(Nested(ReportOut))
    timeline = List(Nested(AuditOut))


class ItemPage(Schema):
    items = List(Nested(ItemOut), required=True)
    total = Integer(required=True)


class ItemQuery(Page):
    status = String(validate=OneOf(("open", "closed", "cancelled")))
    department = String(validate=Length(1, 100))
    under = String(validate=Length(1, 100), metadata={
        "description": "a department's code: the items any department of its subtree takes part in"})
    light = String(validate=OneOf(LIGHTS))
    overdue = Boolean()
    q = String(validate=Length(1, 200))


class PlanChangeIn(Schema):
    """计划调整 (``POST /items/{id}/plan-change``; the web page's form is derived from it)."""
    reason = String(required=True, validate=Length(1, 2000))
    milestones = List(Nested(Milestone), required=True, validate=Length(1, 100))


class ExtensionIn(Schema):
    """延期申请 (``POST /items/{id}/extension``; the web page's form is derived from it)."""
    task_id = String(required=True, validate=Length(1, 36))
    new_due = AwareDateTime(required=True, format="iso")
    reason = String(required=True, validate=Length(1, 2000))
    progress = Integer(required=True, validate=Range(0, 100))


class ItemCancelIn(Schema):
    """撤销 (``POST /items/{id}/cancel``): the item's process and open tasks end."""
    reason = String(required=True, validate=Length(1, 2000))


class ItemEditIn(Schema):
    """Notice fields (``PATCH /items/{id}``); only those given change."""
    title = String(validate=Length(1, 400))
    requirements = String(validate=Length(0, 10000))
    deadline = Date(metadata={"description": "办结时限, not before today"})
    leader = String(validate=Length(1, 100))
    doc_number = String(validate=Length(0, 100), metadata={"description": "文号; empty: the generated one"})
    key = Boolean(truthy={True}, falsy={False}, metadata={"description": "重点 (一月一调度): a monthly report task"})


class DepartmentChangeIn(Schema):
    """Change the lead department (``POST /items/{id}/department``): open department steps move."""
    department = String(required=True, validate=Length(1, 100))


class SendBackIn(Schema):
    """退回交办 (``POST /items/{id}/send-back``): the lead department, while drafting its plan."""
    reason = String(required=True, validate=Length(1, 2000))


class ItemChanged(Schema):
    item_id = String(required=True)
    status = String(required=True)
    changes = Dict(metadata={"description": "{field: [old, new]}"})


class ItemCreated(Schema):
    id = String(required=True)
    code = String(required=True)
    instance_id = String(required=True)
    status = String(required=True)


class CompleteIn(Schema):
    data = Dict(load_default=dict)


class CompleteOut(Schema):
    task = Nested(TaskOut, required=True)
    next_tasks = List(Nested(TaskOut), required=True)


class AssignIn(Schema):
    username = String(required=True, validate=Length(1, 100))


MAX_COMMENT = 5000  # characters of a task comment (the web page's limit too)


class CommentIn(Schema):
    body = String(required=True, validate=Length(1, MAX_COMMENT))


class CommentOut(Schema):
    id = Integer(required=True)
    task_id = String(required=True)
    author = String(required=True)
    body = String(required=True)
    created_at = String(required=True)


class CommentPage(Schema):
    items = List(Nested(CommentOut), required=True)
    total = Integer(required=True)


