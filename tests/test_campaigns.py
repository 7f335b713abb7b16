"""Campaigns (专项行动, issue 15 items 4 and 5) through HTTP: create, edit and bad input; figures by
department and category as problems are registered, closed and fall overdue (simulated clock);
their CSV/XLSX downloads; self-check findings registered by the departments themselves."""
import csv
import io

import openpyxl

from tests.conftest import BOTH_DATABASES
from tests.helpers import ITEM
from tests.test_api_rectification import DONE, PLAN, PROBLEM, complete, later, ledger

STAGES = [
    {"name": "动员部署", "kind": "mobilise", "starts_on": "2026-11-01", "ends_on": "2026-11-22"},
    {"name": "自查自纠", "kind": "self_check", "starts_on": "2026-11-23", "ends_on": "2026-11-30"},
    {"name": "问题整改", "kind": "rectify", "starts_on": "2026-12-01", "ends_on": "2026-12-20"},
    {"name": "督查测评", "kind": "assess", "starts_on": "2026-12-21", "ends_on": "2026-12-27"},
    {"name": "工作总结", "kind": "summary", "starts_on": "2026-12-28", "ends_on": "2026-12-31"},
]
CAMPAIGN = {"name": "群众身边不正之风和腐败问题集中整治", "starts_on": "2026-11-01", "ends_on": "2026-12-31",
            "departments": ["d1", "d2"], "stages": STAGES,
            "categories": [{"name": "作风问题", "children": [{"name": "形式主义"}, {"name": "官僚主义"}]},
                           {"name": "纪律问题", "children": [{"name": "违规吃喝"}]}]}


def create(client, **changes):
    response = client.post("/api/v1/campaigns", {**CAMPAIGN, **changes})
    assert response.status_code == 201, response.text
    return response.json()


def category(campaign, name):
    return next(c["id"] for c in campaign["categories"] if c["name"] == name)


def refused(response, status, code):
    assert response.status_code == status, response.text
    assert code in [d["code"] for d in response.json()["error"]["details"] or []], response.text


@BOTH_DATABASES
def test_create_edit_and_bad_input(server):
    sec, zhang, wang = (server.login(u) for u in ("sec", "zhang", "wang"))
    campaign = create(sec)
    assert campaign["current_stage"]["kind"] == "self_check"  # 2026-11-23, the engine clock's local date
    assert [s["current"] for s in campaign["stages"]] == [False, True, False, False, False]
    assert [(c["name"], c["parent_id"] is None) for c in campaign["categories"]] == [
        ("作风问题", True), ("形式主义", False), ("官僚主义", False), ("纪律问题", True), ("违规吃喝", False)]
    assert [d["name"] for d in campaign["departments"]] == ["发展和改革委员会", "住房和城乡建设局"]
    assert campaign["figures"]["total"] == {"found": 0, "open": 0, "overdue": 0, "closed": 0, "rate": None}

    url = f"/api/v1/campaigns/{campaign['id']}"
    refused(sec.post("/api/v1/campaigns", {**CAMPAIGN, "ends_on": "2026-10-01"}), 400, "ends_before_starts")
    refused(sec.post("/api/v1/campaigns", {**CAMPAIGN, "departments": ["nope"]}), 400, "unknown_department")
    refused(sec.post("/api/v1/campaigns", {**CAMPAIGN, "departments": ["d1", "d1"]}), 400, "duplicate")
    refused(sec.post("/api/v1/campaigns", {**CAMPAIGN, "stages": [{**STAGES[0], "starts_on": "2026-10-01"}]}),
            400, "stage_outside_campaign")
    refused(sec.post("/api/v1/campaigns", {**CAMPAIGN, "stages": [{**STAGES[0], "kind": "party"}]}), 400, "invalid")
    refused(sec.post("/api/v1/campaigns", {**CAMPAIGN, "name": "  "}), 400, "blank")
    refused(sec.post("/api/v1/campaigns", {**CAMPAIGN, "stages": [{**STAGES[0], "name": " "}]}), 400, "blank")
    refused(sec.post("/api/v1/campaigns", {**CAMPAIGN, "name": "a\nb"}), 400, "control_character")
    refused(sec.post("/api/v1/campaigns", {"name": "x"}), 400, "required")
    assert zhang.post("/api/v1/campaigns", CAMPAIGN).status_code == 403
    assert zhang.patch(url, {"name": "x"}).status_code == 403
    refused(sec.patch(url, {"ends_on": "2026-11-15"}), 400, "stage_outside_campaign")  # the kept stages
    assert sec.patch("/api/v1/campaigns/999", {"name": "x"}).status_code == 404
    assert sec.get("/api/v1/campaigns").json()["total"] == 1  # nothing else was written
    assert sec.get(url).json() == campaign

    kept, removed = category(campaign, "作风问题"), category(campaign, "官僚主义")
    changed = sec.patch(url, {"name": "集中整治", "departments": ["d1"], "categories": [
        {"id": kept, "name": "作风建设问题", "children": [{"id": category(campaign, "形式主义"), "name": "形式主义"},
                                                      {"name": "享乐主义"}]}]})
    assert changed.status_code == 200, changed.text
    body = changed.json()
    assert body["name"] == "集中整治" and [d["code"] for d in body["departments"]] == ["d1"]
    assert [(c["name"], c["id"] == kept) for c in body["categories"]] == [
        ("作风建设问题", True), ("形式主义", False), ("享乐主义", False)]
    assert removed not in [c["id"] for c in body["categories"]]
    refused(sec.patch(url, {"categories": [{"id": 999999, "name": "x"}]}), 400, "unknown_category")
    assert wang.get(url).status_code == 403  # d2 left the scope
    assert zhang.get(url).status_code == 200 and wang.get("/api/v1/campaigns").json()["total"] == 0

    used = sec.post("/api/v1/problems", {**PROBLEM, "campaign": campaign["id"], "category": kept})
    assert used.status_code == 201, used.text
    refused(sec.patch(url, {"categories": []}), 409, "category_in_use")
    assert len(sec.get(url).json()["categories"]) == 3


@BOTH_DATABASES
def test_problems_and_items_belong_to_a_campaign(server):
    sec = server.login("sec")
    campaign, other = create(sec), create(sec, name="另一专项", departments=["d1"])
    kind = category(campaign, "作风问题")
    refused(sec.post("/api/v1/problems", {**PROBLEM, "campaign": 999}), 400, "unknown_campaign")
    refused(sec.post("/api/v1/problems", {**PROBLEM, "category": kind}), 400, "category_without_campaign")
    refused(sec.post("/api/v1/problems", {**PROBLEM, "campaign": other["id"], "category": kind}),
            400, "unknown_category")
    refused(sec.post("/api/v1/problems", {**PROBLEM, "campaign": other["id"], "department": "d2"}),
            400, "department_not_in_campaign")
    refused(sec.post("/api/v1/problems", {**PROBLEM, "campaign": "1"}), 400, "invalid")
    assert ledger(sec)["total"] == 0
    item = sec.post("/api/v1/items", {**ITEM, "campaign": campaign["id"], "category": kind})
    assert item.status_code == 201, item.text
    body = sec.get(f"/api/v1/items/{item.json()['id']}").json()
    assert (body["campaign_id"], body["category_id"]) == (campaign["id"], kind)
    refused(sec.post("/api/v1/items", {**ITEM, "campaign": other["id"], "department": "d2", "co_departments": []}),
            400, "department_not_in_campaign")


def register(client, campaign, name, **changes):
    body = {**PROBLEM, "campaign": campaign["id"], "category": category(campaign, name), **changes}
    response = client.post("/api/v1/problems", body)
    assert response.status_code == 201, response.text
    return response.json()["id"]


def close(sec, zhang, pid):
    complete(sec, "hand_over", pid, {"requirements": "限期整改"})
    complete(zhang, "submit_rectification_plan", pid, PLAN)
    complete(sec, "review_rectification_plan", pid, {"approved": True})
    complete(zhang, "submit_rectification_report", pid, DONE)
    complete(sec, "verify_rectification", pid, {"passed": True, "findings": "整改到位"})


def figures_rows(client, campaign_id, format_):
    response = client.get(f"/api/v1/campaigns/{campaign_id}/figures", params={"format": format_})
    assert response.status_code == 200, response.text
    if format_ == "csv":
        return list(csv.DictReader(io.StringIO(response.content.decode("utf-8-sig"))))
    sheet = openpyxl.load_workbook(io.BytesIO(response.content)).active
    header, *rows = [list(row) for row in sheet.iter_rows(values_only=True)]
    assert all(isinstance(row[2], int) for row in rows)  # numbers stay numbers
    # (a whole rate comes back from the file as an int: 50.0 is stored as 50)
    return [{k: "" if v is None else str(float(v)) if k == "销号率（%）" else str(v) for k, v in zip(header, row)}
            for row in rows]


def counts(row):
    return row["found"], row["open"], row["overdue"], row["closed"], row["rate"]


@BOTH_DATABASES
def test_figures_and_downloads(server):
    sec, zhang = server.login("sec"), server.login("zhang")
    campaign = create(sec, name="=HYPERLINK(\"http://evil.example\")")
    closed = register(sec, campaign, "形式主义")
    late = register(sec, campaign, "官僚主义")
    register(sec, campaign, "违规吃喝", department="d2")
    register(sec, campaign, "作风问题", department="d2", title="已撤销的问题")
    sec.post("/api/v1/problems", PROBLEM)  # no campaign: not counted
    cancelled = [p for p in ledger(sec, q="已撤销的问题")["items"]][0]
    cancel = server.login("admin").post(f"/api/v1/instances/{cancelled['instance_id']}/cancel", {"reason": "重复"})
    assert cancel.status_code == 200, cancel.text
    close(sec, zhang, closed)
    complete(sec, "hand_over", late, {"requirements": "限期整改"})
    sec, zhang = later(server, "2026-11-26T09:00:00+08:00", "sec", "zhang")  # the plan fell due 11-25 18:00

    body = sec.get(f"/api/v1/campaigns/{campaign['id']}").json()
    assert body["problems"] == 3
    result = body["figures"]
    assert [(r["code"], counts(r)) for r in result["departments"]] == [
        ("d1", (2, 1, 1, 1, 50.0)), ("d2", (1, 1, 0, 0, 0.0))]
    assert [(r["name"], counts(r)) for r in result["categories"]] == [
        ("作风问题", (2, 1, 1, 1, 50.0)), ("形式主义", (1, 0, 0, 1, 100.0)), ("官僚主义", (1, 1, 1, 0, 0.0)),
        ("纪律问题", (1, 1, 0, 0, 0.0)), ("违规吃喝", (1, 1, 0, 0, 0.0))]
    assert counts(result["total"]) == (3, 2, 1, 1, 33.3)
    assert ledger(sec, campaign=campaign["id"])["total"] == 4  # the ledger lists the cancelled one too
    assert ledger(sec, campaign=campaign["id"], category=category(campaign, "作风问题"))["total"] == 3  # + cancelled
    assert ledger(sec, campaign=campaign["id"], light="red")["items"][0]["id"] == late
    mine = zhang.get(f"/api/v1/campaigns/{campaign['id']}/figures").json()  # d1's staff: their part only
    assert [r["code"] for r in mine["departments"]] == ["d1"] and counts(mine["total"]) == (2, 1, 1, 1, 50.0)

    for format_ in ("csv", "xlsx"):
        rows = figures_rows(sec, campaign["id"], format_)
        assert [(r["分组"], r["名称"], r["发现问题"], r["逾期"], r["已销号"], r["销号率（%）"]) for r in rows] == [
            ("按部门", "发展和改革委员会", "2", "1", "1", "50.0"), ("按部门", "住房和城乡建设局", "1", "0", "0", "0.0"),
            ("按类别", "作风问题", "2", "1", "1", "50.0"), ("按类别", "作风问题 / 形式主义", "1", "0", "1", "100.0"),
            ("按类别", "作风问题 / 官僚主义", "1", "1", "0", "0.0"), ("按类别", "纪律问题", "1", "0", "0", "0.0"),
            ("按类别", "纪律问题 / 违规吃喝", "1", "0", "0", "0.0"),
            ("合计", "'=HYPERLINK(\"http://evil.example\")", "3", "1", "1", "33.3")], format_


@BOTH_DATABASES
def test_self_check_findings_only_in_the_stage_and_for_the_own_department(server):
    sec, zhang, wang, boss = (server.login(u) for u in ("sec", "zhang", "wang", "boss"))
    campaign = create(sec, departments=["d1", "office"])
    finding = {**PROBLEM, "source": "self_check", "campaign": campaign["id"], "title": "自查发现台账不全"}
    created = zhang.post("/api/v1/problems", finding)
    assert created.status_code == 201, created.text
    assert boss.post("/api/v1/problems", {**finding, "department": "office"}).status_code == 201  # a leader too
    refused(zhang.post("/api/v1/problems", {**finding, "department": "d2"}), 403, "self_check_only")
    refused(zhang.post("/api/v1/problems", {**finding, "source": "inspection"}), 403, "self_check_only")
    refused(zhang.post("/api/v1/problems", {k: v for k, v in finding.items() if k != "campaign"}),
            403, "self_check_only")
    refused(wang.post("/api/v1/problems", {**finding, "department": "d2"}), 403, "self_check_only")  # not in scope
    assert server.login("ada").post("/api/v1/problems", finding).status_code == 403  # a designer: no role

    [row] = ledger(sec, source="self_check", department="d1")["items"]  # the secretariat sees it
    assert row["id"] == created.json()["id"] and row["campaign_id"] == campaign["id"]
    assert row["current_step"] == "移交"  # the normal rectification process
    assert ledger(sec, campaign=campaign["id"])["total"] == 2

    zhang, = later(server, "2026-12-01T09:00:00+08:00", "zhang")  # the rectification stage
    refused(zhang.post("/api/v1/problems", finding), 403, "self_check_only")
    assert ledger(sec)["total"] == 2


def test_pages_follow_the_same_rules(server):
    from tests.test_web_pages import Web
    sec = server.login("sec")
    campaign = create(sec)
    page = f"/campaigns/{campaign['id']}"
    zhang, wang, boss = Web(server.app, "zhang"), Web(server.app, "wang"), Web(server.app, "boss")
    assert "自查登记" in zhang.get(page).text and boss.get(page).status_code == 403  # office: not in scope
    assert zhang.get(f"{page}/self-check").status_code == 200
    assert zhang.get(f"{page}/edit").status_code == 403 and zhang.get("/campaigns/new").status_code == 403
    refused_words = zhang.post(f"{page}/self-check", {"title": "", "deadline": "2026-12-20"}).text
    assert "必填" in refused_words or "请填写" in refused_words
    assert ledger(sec)["total"] == 0
    response = wang.post(f"{page}/self-check", {"title": "自查问题", "deadline": "2026-12-20"})
    assert response.status_code == 302 and ledger(sec, department="d2")["items"][0]["source"] == "self_check"
    assert Web(server.app, "sec").get(f"/problems?campaign={campaign['id']}").text.count("data-problem=") == 1
    csv_text = Web(server.app, "sec").get(f"{page}/figures.csv").data.decode("utf-8-sig")
    assert csv_text.splitlines()[0] == "分组,名称,发现问题,整改中,逾期,已销号,销号率（%）"
    later(server, "2026-12-01T09:00:00+08:00")
    assert "自查登记" not in zhang.get(page).text and zhang.get(f"{page}/self-check").status_code == 403
