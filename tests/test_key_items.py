"""一月一调度 (issue 16): key items (重点) get a monthly report task on the report day (engine
clock); the secretariat's digest lists them and flags the lagging for on-site review."""
import datetime as dt

from sqlalchemy import select

from engine.actor import Actor
from engine.models import HumanTask, Instance
from tests.conftest import BOTH_DATABASES, SECRETARY, deploy_shipped
from tests.helpers import ITEM, complete, new_item
from workflows.supervision import monthly
from workflows.supervision.models import MonthlyReport

D1 = Actor("zhang", frozenset({"staff"}), "d1")
D2 = Actor("wang", frozenset({"staff"}), "d2")
FORM = {"progress_of_month": "完成方案起草", "difficulties": "数据共享接口未开通", "next_month_plan": "上线试运行"}


def at(text):
    return dt.datetime.fromisoformat(text)


def monthly_tasks(engine):
    with engine.db.read() as session:
        return sorted((t.business_key, t.candidate_department, t.state) for t in session.scalars(
            select(HumanTask).where(HumanTask.key == monthly.TASK)))


def digest(engine, month="2026-11"):
    with engine.db.read() as session:
        return monthly.digest(session, engine.calendar, month, engine.clock.now(),
                              {"d1": "发展和改革委员会", "d2": "住房和城乡建设局"})


@BOTH_DATABASES
def test_the_monthly_task_opens_for_key_items_only_and_the_digest_flags_the_lagging(engine):
    deploy_shipped(engine, "accountability.dmn", "supervision.bpmn", "monthly_report.bpmn")
    key = new_item(engine, SECRETARY, key=True, co_departments=[])
    lagging = new_item(engine, SECRETARY, key=True, department="d2", co_departments=[], title="老旧小区改造")
    plain = new_item(engine, SECRETARY, co_departments=[], title="普通事项")
    assert (key.is_key, plain.is_key) == (True, False)

    engine.advance_clock(to=at("2026-11-25T08:59:00+08:00"))  # before the report day's 09:00
    assert ("monthly_reports", "2026-11") not in engine.periodic.run_due()
    engine.advance_clock(to=at("2026-11-25T09:00:01+08:00"))
    assert ("monthly_reports", "2026-11") in engine.periodic.run_due()
    engine.outbox.dispatch_due()
    assert monthly_tasks(engine) == sorted([(key.id, "d1", "open"), (lagging.id, "d2", "open")])
    assert plain.id not in {business_key for business_key, _, _ in monthly_tasks(engine)}

    # once: the job does not run again, a repeated effect starts nothing
    assert engine.periodic.run_due() == []
    with engine.db.read() as session:
        report = session.scalar(select(MonthlyReport).where(MonthlyReport.item_id == key.id))
        instances = session.scalars(select(Instance.id).where(Instance.definition_key == monthly.PROCESS_KEY)).all()
    monthly.open_effect(engine, {"report_id": report.id})
    with engine.db.read() as session:
        assert len(session.scalars(select(Instance.id).where(
            Instance.definition_key == monthly.PROCESS_KEY)).all()) == len(instances) == 2
    assert engine.calendar.local(report.due_at) == at("2026-12-01T00:00:00+08:00")

    complete(engine, D1, monthly.TASK, FORM, key.id)
    with engine.db.read() as session:
        report = session.get(MonthlyReport, report.id)
    assert (report.progress_of_month, report.difficulties, report.next_month_plan, report.submitted_by) == (
        FORM["progress_of_month"], FORM["difficulties"], FORM["next_month_plan"], "zhang")

    result = digest(engine)
    rows = {row["item_id"]: row for row in result["items"]}
    assert set(rows) == {key.id, lagging.id}  # key items only
    assert rows[key.id]["report"]["progress_of_month"] == "完成方案起草" and not rows[key.id]["lagging"]
    assert rows[lagging.id]["no_report"] and rows[lagging.id]["lagging"] and result["lagging"] == 1
    assert rows[lagging.id]["department_name"] == "住房和城乡建设局"

    # past the due time the unsubmitted report's step is red too
    engine.advance_clock(to=at("2026-12-01T09:00:00+08:00"))
    late = {row["item_id"]: row for row in digest(engine)["items"]}[lagging.id]
    assert late["red"] and late["no_report"]


def test_items_take_the_key_flag_over_the_api(server):
    sec = server.login("sec")
    created = sec.post("/api/v1/items", {**ITEM, "key": True})
    assert created.status_code == 201, created.text
    assert sec.get(f"/api/v1/items/{created.json()['id']}").json()["key"] is True
    assert sec.post("/api/v1/items", {**ITEM, "key": "yes"}).status_code == 400
    digest = sec.get("/api/v1/reports/monthly-digest", params={"month": "2026-11"})
    assert digest.status_code == 200 and [row["item_id"] for row in digest.json()["items"]] == [created.json()["id"]]
    assert server.login("zhang").get("/api/v1/reports/monthly-digest").status_code == 403
    assert sec.get("/api/v1/reports/monthly-digest", params={"month": "2026-13"}).status_code == 400


def test_the_digest_page_flags_the_lagging_for_on_site_review(server):
    from tests.test_web_pages import Web

    sec = server.login("sec")
    key = sec.post("/api/v1/items", {**ITEM, "key": True, "title": "重点工程"}).json()
    server.engine.advance_clock(to=at("2026-11-25T09:00:01+08:00"))
    server.engine.periodic.run_due()
    page = Web(server.app, "sec").get("/reports/monthly?month=2026-11")
    assert page.status_code == 200 and "重点工程" in page.text
    assert "需现场督查" in page.text and "未报送月度报告" in page.text
    assert Web(server.app, "zhang").get("/reports/monthly").status_code == 403


def test_the_secretariat_marks_an_item_key_later(server):
    sec = server.login("sec")
    item = sec.post("/api/v1/items", ITEM).json()
    assert sec.get(f"/api/v1/items/{item['id']}").json()["key"] is False
    changed = sec.patch(f"/api/v1/items/{item['id']}", {"key": True})
    assert changed.status_code == 200, changed.text
    assert changed.json()["changes"] == {"key": [False, True]}
    assert sec.get(f"/api/v1/items/{item['id']}").json()["key"] is True
    assert sec.patch(f"/api/v1/items/{item['id']}", {"key": True}).json()["changes"] == {}
    assert server.login("zhang").patch(f"/api/v1/items/{item['id']}", {"key": False}).status_code == 403
    assert sec.patch(f"/api/v1/items/{item['id']}", {"key": "no"}).status_code == 400
