"""The report pages (周报, 月度排名, 打印版通报, 年度考核) with Flask's test client over the
reports' known history (tests/report_history.py): who may read what, and every figure on the
page is the one ``workflows.supervision.reports`` computes."""
import csv
import io
import json
import re

import openpyxl
import pytest

from api.web.reports import circular_summary
from tests.conftest import SECRETARY
from tests.report_history import DEPARTMENTS
from tests.test_web_pages import Web
from workflows.supervision import queries, reports


def cells(html, table_id):
    """{department: {field: text}} of a report table's rows (data-department / data-field)."""
    table = re.search(rf'<table[^>]*id="{table_id}".*?</table>', html, re.S).group(0)
    rows = {}
    for department, body in re.findall(r'<tr data-department="([^"]+)">(.*?)</tr>', table, re.S):
        rows[department] = {field: re.sub(r"<[^>]+>", "", text).strip()
                            for field, text in re.findall(r'data-field="([^"]+)">(.*?)</td>', body, re.S)}
    return rows


def table_headers(html, table_id):
    """The header texts of a report table."""
    return re.findall(r"<th[^>]*>([^<]+)</th>", re.search(rf'<table[^>]*id="{table_id}".*?</thead>', html, re.S).group(0))


def chart_data(html):
    """The JSON the page embeds for its charts."""
    return json.loads(re.search(r'<script type="application/json" id="chart-data">(.*?)</script>', html, re.S).group(1))


def shown(rate):
    return "—" if rate is None else f"{rate * 100:.1f}%"


def computed(server, function, period, departments=None):
    """``function`` over the history; the ranking and year-end over the ranked departments, as the pages."""
    engine = server.engine
    with engine.db.read() as session:
        if departments is None:
            departments = reports.ranked_departments(session, engine.registry.directory)
        return function(session, engine.calendar, period, engine.clock.now(), departments)


def test_who_sees_which_report(history_server):
    staff, sec, sup, boss, admin, ada = (Web(history_server.app, username)
                                         for username in ("wang", "sec", "sup", "boss", "admin", "ada"))
    for path in ("/reports/weekly", "/reports/weekly?week=2026-W43", "/reports/weekly.csv", "/reports/year",
                 "/reports/year.xlsx"):
        page = staff.get(path)
        assert page.status_code == 403 and "您没有访问此页面的权限" in page.text, path
    assert staff.get("/reports/ranking").status_code == 200
    assert staff.get("/reports/ranking/print").status_code == 200
    assert staff.get("/reports/ranking.csv").status_code == 200
    for web in (sec, sup, boss, admin):
        for path in ("/reports/weekly", "/reports/ranking", "/reports/ranking/print", "/reports/year"):
            assert web.get(path).status_code == 200, path
    assert Web(history_server.app).get("/reports/ranking").status_code == 302  # log in first

    nav = re.compile(r'<nav class="nav".*?</nav>', re.S)
    assert re.findall(r">([^<]+)</a>", nav.search(staff.get("/inbox").text).group(0)) == [
        "待办", "通知", "督办事项", "问题台账", "专项行动", "月度排名"]
    for web in (sec, boss, sup, admin):
        entries = nav.search(web.get("/inbox").text).group(0)
        assert "周报" in entries and "月度排名" in entries and "年度考核" in entries
    assert "月度排名" not in nav.search(ada.get("/inbox").text).group(0)  # designers only design
    assert '<a href="/reports/ranking" class="active"' in sec.get("/reports/ranking/print").text  # its section

    for path in ("/reports/weekly?week=2026-W60", "/reports/weekly?week=2027-W53", "/reports/weekly?week=x",
                 "/reports/ranking?month=2026-13", "/reports/ranking/print?month=1999-1", "/reports/year?year=abc",
                 "/reports/year?year=1900", "/reports/ranking.csv?month=2026-00",
                 "/reports/weekly?week=8547-W09", "/reports/ranking?month=8547-05"):
        page = sec.get(path)
        assert page.status_code == 400 and "无效" in page.text, path


def test_ranking_page_figures_and_chart_data(history_server):
    expected = computed(history_server, reports.ranking, "2026-10")
    page = Web(history_server.app, "sec").get("/reports/ranking?month=2026-10").text
    table = cells(page, "ranking")
    # the overseeing office (the secretariat's and supervisors' department) is not ranked
    assert list(table) == [row["department"] for row in expected["departments"]] == ["d1", "d2", "d3"]
    for row in expected["departments"]:
        assert table[row["department"]] == {
            "rank": str(row["rank"]), "name": row["name"], "items_handled": str(row["items_handled"]),
            "steps_due": str(row["steps_due"]), "steps_on_time": str(row["steps_on_time"]),
            "overdue_steps": str(row["overdue_steps"]), "on_time_rate": shown(row["on_time_rate"]),
            "escalations": str(row["escalations"]), "measures": str(row["measures"]),
            "items_closed": str(row["items_closed"]),
            "average_rating": {None: "—", 3.0: "优"}[row["average_rating"]],
            "problems_due": str(row["problems_due"]), "problems_on_time": str(row["problems_on_time"]),
            "rectification_rate": shown(row["rectification_rate"]), "problems_closed": str(row["problems_closed"]),
            "rebounds": str(row["rebounds"]), "combined_rate": shown(row["combined_rate"])}
    assert table["d1"]["on_time_rate"] == "100.0%" and table["d2"]["on_time_rate"] == "0.0%"
    assert (table["d2"]["escalations"], table["d2"]["measures"]) == ("2", "1")
    # the page's columns are the download's, in its order
    headers = table_headers(page, "ranking")
    download = list(csv.reader(io.StringIO(Web(history_server.app, "sec").get(
        "/reports/ranking.csv?month=2026-10").data.decode("utf-8-sig"))))
    assert [h.replace("(%)", "") for h in download[0]] == headers
    assert [row[1] for row in download[1:]] == [row["name"] for row in expected["departments"]]
    rating = download[0].index("平均评价")
    assert download[1][rating] == "优" and download[2][rating] == ""

    chart = chart_data(page)
    assert chart["ranking"] == [  # ranked; departments without a rate are not drawn
        {"department": "d1", "name": "发展和改革委员会", "rate": 100.0, "on_time": 2, "overdue": 0},
        {"department": "d2", "name": "住房和城乡建设局", "rate": 0.0, "on_time": 0, "overdue": 2}]
    trend = computed(history_server, lambda *a: reports.ranking_trend(*a, months=12), "2026-10")
    assert chart["trend"]["months"] == trend["months"] == [f"2026-{m:02d}" for m in range(5, 11)]
    assert chart["trend"]["overall"] == [None, None, None, None, 33.3, 50.0]
    assert chart["trend"]["departments"] == [{"name": "发展和改革委员会", "rates": [None] * 4 + [50.0, 100.0]},
                                             {"name": "住房和城乡建设局", "rates": [None] * 4 + [0.0, 0.0]}]
    assert chart["lights"] == {"green": 1, "yellow": 0, "red": 1}
    for container in ("chart-ranking", "chart-lights", "chart-trend"):
        assert f'id="{container}"' in page
    assert "/vendor/echarts/echarts.common.min.js" in page and "cdn" not in page.lower()
    assert 'href="/reports/ranking.csv?month=2026-10"' in page and 'href="/reports/ranking.xlsx?month=2026-10"' in page
    assert 'href="/reports/ranking/print?month=2026-10"' in page

    # staff: the same ranking; the lights counted within their scope (d2: item B, red)
    staff_page = Web(history_server.app, "wang").get("/reports/ranking?month=2026-10").text
    assert cells(staff_page, "ranking") == table
    staff_chart = chart_data(staff_page)
    assert staff_chart["lights"] == {"green": 0, "yellow": 0, "red": 1} and "您可查看范围内" in staff_page

    # a month without decided steps: no bar chart, a sentence instead
    empty = Web(history_server.app, "sec").get("/reports/ranking?month=2026-03").text
    assert 'id="chart-ranking"' not in empty and "暂无按时率" in empty


def test_weekly_page_figures(history_server):
    server = history_server
    expected = computed(server, reports.weekly, "2026-W43")
    page = Web(server.app, "sec").get("/reports/weekly?week=2026-W43").text
    assert "2026年第43周（10月19日—10月25日）" in page
    rows = {row["code"]: row for group in expected["departments"] for row in group["items"]}
    shown_rows = dict(re.findall(r'<tr data-code="([^"]+)" data-light="([^"]+)">', page))
    assert shown_rows == {code: row["light"] for code, row in rows.items()}
    assert set(shown_rows.values()) == {"red", "green"}
    for code, row in rows.items():
        html = page.split(f'data-code="{code}"')[1].split("</tr>")[0]
        assert re.search(r'data-field="current_step">([^<]+)<', html).group(1) == row["current_step"]
        days = re.search(r'data-field="days_overdue"[^>]*>(.*?)</td>', html, re.S).group(1)
        days = re.sub(r"<[^>]+>", "", days).strip()
        assert days == (str(row["days_overdue"]) if row["days_overdue"] else "—")
    assert [d["department"] for d in expected["departments"]] == ["d2", "d3"]
    assert page.index('data-department="d2"') < page.index('data-department="d3"')
    assert "住房和城乡建设局" in page and "教育局" in page and "在办事项 <b>2</b> 项" in page
    # the week's item links open the item page; a leader sees links only to their own items
    assert f'href="/items/{rows[next(iter(rows))]["item_id"]}"' in page

    holiday = Web(server.app, "sec").get("/reports/weekly?week=2026-W41").text
    assert "A二" in holiday and "100%" in holiday  # item A's latest report that week
    default = Web(server.app, "sec").get("/reports/weekly").text
    assert "2026年第43周" in default  # this week by default (now: Tue 2026-10-20)
    assert 'href="/reports/weekly?week=2026-W42"' in default and 'href="/reports/weekly?week=2026-W44"' in default

    csv_response = Web(server.app, "boss").get("/reports/weekly.csv?week=2026-W43")
    assert csv_response.status_code == 200 and csv_response.headers["Content-Type"].startswith("text/csv")
    table = list(csv.reader(io.StringIO(csv_response.data.decode("utf-8-sig"))))
    assert table[0][0] == "承办部门" and len(table) == 3 and {r[6] for r in table[1:]} == {"红", "绿"}
    xlsx = Web(server.app, "sec").get("/reports/weekly.xlsx?week=2026-W43")
    assert "weekly-2026-W43.xlsx" in xlsx.headers["Content-Disposition"]
    assert len(list(openpyxl.load_workbook(io.BytesIO(xlsx.data)).active.values)) == 3


def test_year_page_and_downloads(history_server):
    expected = computed(history_server, reports.year_end, 2026)
    sec = Web(history_server.app, "sec")
    page = sec.get("/reports/year?year=2026").text
    table = cells(page, "year-table")
    for row in expected["departments"]:
        assert table[row["department"]]["closure_rate"] == shown(row["closure_rate"])
        assert table[row["department"]]["on_time_rate"] == shown(row["on_time_rate"])
        assert table[row["department"]]["rank"] == str(row["rank"])
    assert table["d1"]["closure_rate"] == "100.0%" and table["d3"]["closure_rate"] == "0.0%" and "office" not in table
    assert table["d1"]["average_rating"] == "优" and table["d2"]["average_rating"] == "—"
    headers = table_headers(page, "year-table")
    year_csv = list(csv.reader(io.StringIO(sec.get("/reports/year.csv?year=2026").data.decode("utf-8-sig"))))
    assert [h.replace("(%)", "") for h in year_csv[0]] == headers
    assert [row[1] for row in year_csv[1:]] == ["发展和改革委员会", "住房和城乡建设局", "教育局"]
    assert "办理督办事项 <b>3</b> 项，办结 <b>1</b> 项，总体办结率 <b>33.3%</b>" in page
    assert sec.get("/reports/year").text.count("2026年度") == 1  # this year by default

    sheet = openpyxl.load_workbook(io.BytesIO(sec.get("/reports/year.xlsx?year=2026").data)).active
    assert [c.value for c in sheet[1]][-1] == "办结率(%)" and [c.value for c in sheet[2]][-1] == 100.0
    ranking = list(csv.reader(io.StringIO(sec.get("/reports/ranking.csv?month=2026-10").data.decode("utf-8-sig"))))
    assert ranking[1][:2] == ["1", "发展和改革委员会"] and ranking[1][5] == "100.0"


def test_printable_circular(history_server):
    page = Web(history_server.app, "wang").get("/reports/ranking/print?month=2026-10").text
    assert "关于2026年10月督办事项办理情况的通报" in page
    assert "统计时段：2026年10月1日至2026年10月20日" in page  # the month is not over: up to now
    assert '<p id="circular-date">2026年10月20日</p>' in page and 'id="print-button" data-print' in page
    assert "发展和改革委员会按时办理率为100%" in page and "住房和城乡建设局（2个）存在超期办理环节" in page
    assert cells(page, "ranking")["d1"]["on_time_rate"] == "100.0%"
    september = Web(history_server.app, "sec").get("/reports/ranking/print?month=2026-09").text
    assert "统计时段：2026年9月1日至2026年9月30日" in september


@pytest.mark.parametrize("month, sentences", [
    ("2026-10", ["2026年10月各部门应办环节共5个，按时办理2个，超期2个，总体按时办理率50.0%。",
                 "发展和改革委员会按时办理率为100%，予以表扬。",
                 "住房和城乡建设局（2个）存在超期办理环节，请抓紧整改落实，按期报送办理进展。"]),
    ("2026-09", ["2026年9月各部门应办环节共3个，按时办理1个，超期2个，总体按时办理率33.3%。",
                 "发展和改革委员会（1个）、住房和城乡建设局（1个）存在超期办理环节，请抓紧整改落实，按期报送办理进展。"]),
    ("2026-03", ["2026年3月无到期的督办办理环节。"]),
])
def test_circular_summary(history, month, sentences):
    engine = history[0]
    with engine.db.read() as session:
        report = reports.ranking(session, engine.calendar, month, engine.clock.now(), DEPARTMENTS)
    assert circular_summary(report, f"{int(month[:4])}年{int(month[5:])}月") == sentences


def test_light_counts_match_the_item_list(history):
    engine = history[0]
    with engine.db.read() as session:
        counts = queries.light_counts(session, SECRETARY, engine.calendar, engine.clock.now())
        for light, count in counts.items():
            assert queries.list_items(session, SECRETARY, engine.calendar, engine.clock.now(),
                                      status="open", light=light)[1] == count
