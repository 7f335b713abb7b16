"""Problems count in the reports (issue 15, item 3): the weekly report's new / closed / overdue
problems, the ranking's rectification columns, rebounds and combined rate, the year-end
statistics, the downloads and the printed circular (both databases, simulated clock)."""
import csv
import io

import pytest

from tests.conftest import BOTH_DATABASES, OTHER_STAFF, SECRETARY
from tests.helpers import complete
from tests.test_api_escalation import advance
from tests.test_lookback import rectify
from tests.test_web_pages import Web
from workflows.lookback import lookbacks
from workflows.rectification.problems import create_problem


def register(engine, department, deadline, title):
    return create_problem(engine, {"title": title, "source": "audit", "department": department,
                                   "deadline": deadline}, SECRETARY)


@pytest.fixture
def world(server):
    """On Monday 2026-11-23: P1 (d1, due 12-10) rectified and closed at once, P2 (d2, due 12-04)
    left open, P3 (d1, due 12-31) handed over; then the clock goes to Tuesday 2026-12-08."""
    engine = server.engine
    p1 = register(engine, "d1", "2026-12-10", "台账缺失")
    rectify(engine, p1.id)
    p2 = register(engine, "d2", "2026-12-04", "工地扬尘")
    p3 = register(engine, "d1", "2026-12-31", "窗口排队")
    complete(engine, SECRETARY, "hand_over", {"requirements": "限期整改"}, p2.id)
    advance(server, "2026-12-08T10:00:00+08:00")
    return server, p1, p2, p3


def rows_by_department(report):
    return {row["department"]: row for row in report["departments"]}


@BOTH_DATABASES
def test_the_ranking_and_the_year_count_problems(world):
    server, p1, p2, p3 = world
    sec = server.login("sec")
    ranking = sec.get("/api/v1/reports/ranking", params={"month": "2026-12"}).json()
    d1, d2 = rows_by_department(ranking)["d1"], rows_by_department(ranking)["d2"]
    assert {k: d1[k] for k in ("problems_due", "problems_on_time", "problems_late", "rectification_rate",
                               "combined_rate", "rebounds", "rank")} == {
        "problems_due": 2, "problems_on_time": 1, "problems_late": 0, "rectification_rate": 1.0,
        "combined_rate": 1.0, "rebounds": 0, "rank": 1}
    assert (d2["problems_due"], d2["problems_late"], d2["rectification_rate"], d2["combined_rate"], d2["rank"]) \
        == (1, 1, 0.0, 0.0, 2)
    november = rows_by_department(sec.get("/api/v1/reports/ranking", params={"month": "2026-11"}).json())
    assert november["d1"]["problems_closed"] == 1 and november["d1"]["problems_due"] == 0
    year = rows_by_department(sec.get("/api/v1/reports/year", params={"year": 2026}).json())
    assert (year["d1"]["problems_due"], year["d1"]["problems_closed"], year["d2"]["problems_late"]) == (2, 1, 1)

    table = list(csv.reader(io.StringIO(sec.get("/api/v1/reports/ranking", params={
        "month": "2026-12", "format": "csv"}).content.decode("utf-8-sig"))))
    header, first = table[0], dict(zip(table[0], table[1]))
    assert header[-6:] == ["应整改问题", "按期整改", "整改按期率(%)", "销号问题", "反弹", "综合按时率(%)"]
    assert (first["部门"], first["应整改问题"], first["整改按期率(%)"], first["综合按时率(%)"]) == (
        "发展和改革委员会", "2", "100.0", "100.0")

    # 回头看 finds P1 rebounded: the month's 反弹, and P1 is open again with its new deadline
    lookbacks.schedule(server.engine, "problem", p1.id, {"on": "2026-12-09"}, SECRETARY)
    advance(server, "2026-12-09T09:00:01+08:00")
    complete(server.engine, SECRETARY, "lookback_check",
             {"result": "rebounded", "findings": "台账停记", "new_deadline": "2027-01-15"}, p1.id)
    d1 = rows_by_department(sec.get("/api/v1/reports/ranking", params={"month": "2026-12"}).json())["d1"]
    assert (d1["rebounds"], d1["problems_due"]) == (1, 1)  # P1's deadline is January's now
    page = Web(server.app, "sec").get("/reports/ranking?month=2026-12").text
    assert 'data-field="rebounds">1<' in page


@BOTH_DATABASES
def test_the_weekly_report_lists_the_weeks_problems(world):
    server, p1, p2, p3 = world
    sec = server.login("sec")
    first = sec.get("/api/v1/reports/weekly", params={"week": "2026-W48"}).json()["problems"]
    assert {group: [row["code"] for row in rows] for group, rows in first.items()} == {
        "new": [p1.code, p3.code, p2.code], "closed": [p1.code], "overdue": []}  # by department, code
    now = sec.get("/api/v1/reports/weekly", params={"week": "2026-W50"}).json()["problems"]
    assert ([r["code"] for r in now["overdue"]], now["new"], now["closed"]) == ([p2.code], [], [])
    assert now["overdue"][0]["department_name"] == "住房和城乡建设局"
    # a leader without a department's problems in scope reads none; ?under= keeps a subtree's
    assert server.login("boss").get("/api/v1/reports/weekly", params={"week": "2026-W50"}).json()[
        "problems"]["overdue"] == []
    assert sec.get("/api/v1/reports/weekly", params={"week": "2026-W50", "under": "d1"}).json()[
        "problems"]["overdue"] == []

    lines = list(csv.reader(io.StringIO(sec.get("/api/v1/reports/weekly", params={
        "week": "2026-W50", "format": "csv"}).content.decode("utf-8-sig"))))
    assert lines[0][-1] == "类别"
    (overdue,) = [dict(zip(lines[0], line)) for line in lines[1:] if line[-1] == "逾期未整改问题"]
    assert (overdue["编号"], overdue["承办部门"], overdue["办结时限"]) == (p2.code, "住房和城乡建设局", "2026-12-04")

    page = Web(server.app, "sec").get("/reports/weekly?week=2026-W50").text
    overdue_table = page.split('id="weekly-problems-overdue"')[1].split("</table>")[0]
    assert p2.code in overdue_table and "工地扬尘" in overdue_table and "住房和城乡建设局" in overdue_table


@BOTH_DATABASES
def test_the_printed_circular_reports_rectification_and_rebounds(world):
    server, p1, p2, p3 = world
    lookbacks.schedule(server.engine, "problem", p1.id, {"on": "2026-12-09"}, SECRETARY)
    advance(server, "2026-12-09T09:00:01+08:00")
    complete(server.engine, SECRETARY, "lookback_check",
             {"result": "rebounded", "findings": "台账停记", "new_deadline": "2027-01-15"}, p1.id)
    page = Web(server.app, "sec").get("/reports/ranking/print?month=2026-12").text
    summary = page.split('id="circular-summary">')[1].split("</p>")[0]
    assert "问题整改方面，2026年12月到期应整改问题2个，按期整改0个，逾期1个，整改按期率0.0%；销号问题0个。" in summary
    assert "住房和城乡建设局（1个）存在逾期未整改问题" in summary
    assert "回头看发现问题反弹：发展和改革委员会（1个）" in summary
    assert "综合按时率" in page and 'data-field="combined_rate"' in page


def test_the_circular_and_the_lookback_card_in_a_browser(world, people):
    """Chinese only (the browser's leak check on every visit): the circular with its problem
    sentences and columns, and the 回头看 card scheduling from a closed problem's page."""
    server, p1, p2, p3 = world
    sec = people("sec")
    sec.goto("/reports/ranking/print?month=2026-12")
    assert "住房和城乡建设局（1个）存在逾期未整改问题" in sec.page.inner_text("#circular-summary")
    assert sec.page.locator("#ranking tr[data-department=d2] [data-field=rectification_rate]").inner_text() == "0.0%"
    sec.goto(f"/problems/{p1.id}")
    sec.page.fill("#lookback input[name=months]", "2")
    sec.page.click("#lookback button[type=submit]")
    sec.page.wait_for_selector("#lookback [data-lookback=pending]")
    assert "2027年1月25日" in sec.page.inner_text("#lookback")  # 1-23 is a Saturday: the next working day
