"""Moving running instances to a new definition version, with a dry run."""
import pytest
from sqlalchemy import select

from engine.models import AuditRecord
from engine.errors import Conflict
from tests.bpmn_snippets import chain, user_task
from tests.conftest import BOTH_DATABASES, LEADER, REPO, SECRETARY, STAFF
from tests.helpers import DONE_REPORT, PLAN, complete, new_item, open_task
from workflows.supervision.items import get_item


def supervision_with_legal_review():
    """v2: a 合法性审查 step by the secretariat between plan approval and filing."""
    source = (REPO / "bpmn" / "supervision.bpmn").read_text(encoding="utf-8")
    source = source.replace('<bpmn:flowNodeRef>file_plan</bpmn:flowNodeRef>',
                            '<bpmn:flowNodeRef>file_plan</bpmn:flowNodeRef>\n'
                            '        <bpmn:flowNodeRef>legal_review</bpmn:flowNodeRef>')
    source = source.replace('sourceRef="plan_approved" targetRef="file_plan"',
                            'sourceRef="plan_approved" targetRef="legal_review"')
    return source.replace('<bpmn:sequenceFlow id="flow_to_report_merge"',
                          '<bpmn:userTask id="legal_review" name="合法性审查"/>\n'
                          '    <bpmn:sequenceFlow id="flow_legal" sourceRef="legal_review" targetRef="file_plan"/>\n'
                          '    <bpmn:sequenceFlow id="flow_to_report_merge"').encode("utf-8")


@BOTH_DATABASES
def test_running_instance_moves_to_v2_and_completes_through_the_new_step(supervision):
    engine = supervision
    item = new_item(engine, SECRETARY)
    due_before = open_task(engine, STAFF, "draft_plan", item.id).due_at
    v2, created = engine.deploy(supervision_with_legal_review())
    assert created and v2.version == 2

    checks = engine.migrations.migrate_all("supervision", 1, 2, SECRETARY, dry_run=True)
    assert [(c.instance_id, c.can_move) for c in checks] == [(item.instance_id, True)]
    assert engine.instances.get(item.instance_id).definition_version == 1  # dry run moved nothing

    moved = engine.migrations.migrate(item.instance_id, 2, SECRETARY)
    assert moved.definition_version == 2 and moved.status == "running"
    draft = open_task(engine, STAFF, "draft_plan", item.id)
    assert draft.due_at == due_before

    complete(engine, STAFF, "draft_plan", PLAN, item.id)
    complete(engine, LEADER, "approve_plan", {"approved": True}, item.id)
    complete(engine, SECRETARY, "legal_review", {}, item.id)
    complete(engine, SECRETARY, "file_plan", {}, item.id)
    complete(engine, STAFF, "report_progress", DONE_REPORT, item.id)
    complete(engine, SECRETARY, "recheck", {"passed": True, "findings": "ok"}, item.id)
    complete(engine, LEADER, "confirm_close", {"rating": "good"}, item.id)
    assert get_item(engine, item.id).status == "closed"
    with engine.db.read() as session:
        kinds = session.scalars(select(AuditRecord.kind).where(AuditRecord.business_key == item.id)).all()
    assert "instance_migrated" in kinds


@BOTH_DATABASES
def test_dry_run_reports_an_instance_that_cannot_move(engine):
    engine.deploy(chain("p", user_task(1, "甲"), user_task(2, "乙")))
    at_first = engine.instances.start("p", {}, SECRETARY)
    at_second = engine.instances.start("p", {}, SECRETARY)
    task = [t for t in engine.tasks.inbox(SECRETARY, instance_id=at_second.id)[0]][0]
    engine.tasks.complete(task.id, {}, SECRETARY)
    engine.deploy(chain("p", user_task(1, "甲")))  # v2 drops step n2 (乙)

    checks = {c.instance_id: c for c in engine.migrations.migrate_all("p", 1, 2, SECRETARY, dry_run=True)}
    assert checks[at_first.id].can_move is True  # its 乙 was only predicted, not reached
    assert checks[at_second.id].can_move is False
    assert "n2" in checks[at_second.id].reason
    with pytest.raises(Conflict):
        engine.migrations.migrate(at_second.id, 2, SECRETARY)
    assert engine.instances.get(at_second.id).definition_version == 1
