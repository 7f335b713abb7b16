"""公示 (issue 16): the secretariat publishes a month's ranking with chosen columns; the public
page (no login) shows exactly that snapshot; withdrawing takes it off. Over the reports' known
history (tests/report_history.py: October 2026, d1 and d2 ranked)."""
import re

from sqlalchemy import func, select

from tests.conftest import BOTH_DATABASES
from tests.test_web_pages import Web
from workflows.supervision import reports
from workflows.supervision.models import Publication

ALL_LABELS = ("排名", "部门", "办理事项", "应办环节", "按时办理", "按时率", "超期环节", "升级督办", "问责措施",
              "办结事项", "平均评价")


def ranking(server, month="2026-10"):
    engine = server.engine
    with engine.db.read() as session:
        departments = reports.ranked_departments(session, engine.registry.directory)
        return reports.ranking(session, engine.calendar, month, engine.clock.now(), departments)


def published_table(html):
    """(header texts, rows of cell texts) of the public page's table."""
    table = re.search(r'<table id="published".*?</table>', html, re.S).group(0)
    headers = re.findall(r"<th>([^<]*)</th>", table)
    rows = [re.findall(r"<td>([^<]*)</td>", body) for body in re.findall(r"<tr>(.*?)</tr>", table, re.S)[1:]]
    return headers, rows


def stored(server):
    with server.engine.db.read() as session:
        return session.scalar(select(func.count()).select_from(Publication))


@BOTH_DATABASES
def test_the_public_page_shows_exactly_what_was_published(history_server):
    server = history_server
    sec, anonymous = server.login("sec"), server.anonymous()
    expected = ranking(server)
    response = sec.post("/api/v1/publications", {"month": "2026-10", "fields": ["on_time_rate", "rank"],
                                                  "note": "请各部门对照整改。"})
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["fields"] == ["rank", "name", "on_time_rate"] and body["state"] == "published"
    assert body["public_url"] == f"/public/{body['id']}" and body["published_by"] == "sec"

    page = anonymous.get(body["public_url"])
    assert page.status_code == 200, page.text
    headers, rows = published_table(page.text)
    assert headers == ["排名", "部门", "按时率"]
    assert rows == [[str(r["rank"]), r["name"], "—" if r["on_time_rate"] is None else f"{r['on_time_rate'] * 100:.1f}%"]
                    for r in expected["departments"]]
    assert "2026年10月督查督办工作通报排名" in page.text and "请各部门对照整改。" in page.text
    for label in set(ALL_LABELS) - {"排名", "部门", "按时率"}:  # a column not chosen is absent from the HTML
        assert label not in page.text, label
    for row in expected["departments"]:  # departments by name, never their codes
        assert f">{row['department']}<" not in page.text and f'"{row["department"]}"' not in page.text
    assert 'id="circular"' not in page.text
    listing = anonymous.get("/public")
    assert listing.status_code == 200 and body["public_url"] in listing.text

    # the circular when chosen: the printable circular's sentences
    with_circular = sec.post("/api/v1/publications", {"month": "2026-10", "fields": ["overdue_steps"],
                                                       "circular": True}).json()
    page = anonymous.get(with_circular["public_url"]).text
    assert published_table(page)[0] == ["部门", "超期环节"]
    for sentence in reports.circular_summary(expected, "2026年10月"):
        assert sentence in page

    # withdraw: 404 on the public page and off its list; a second withdrawal is 404
    withdrawn = sec.request("DELETE", f"/api/v1/publications/{body['id']}")
    assert withdrawn.status_code == 200 and withdrawn.json()["state"] == "withdrawn"
    assert withdrawn.json()["public_url"] is None
    missing = anonymous.get(body["public_url"])
    assert missing.status_code == 404 and "不存在或已撤回" in missing.text and "请各部门对照整改" not in missing.text
    assert body["public_url"] not in anonymous.get("/public").text
    assert sec.request("DELETE", f"/api/v1/publications/{body['id']}").status_code == 404
    listed = sec.get("/api/v1/publications").json()
    assert listed["total"] == 2 and [p["state"] for p in listed["items"]] == ["published", "withdrawn"]
    assert sec.get(f"/api/v1/publications/{body['id']}").json()["data"]["columns"][0] == {"field": "rank",
                                                                                        "label": "排名"}
    assert anonymous.get("/public/999999").status_code == 404


@BOTH_DATABASES
def test_only_the_secretariat_publishes_and_bad_input_changes_nothing(history_server):
    server = history_server
    sec = server.login("sec")
    for username, status in (("wang", 403), ("boss", 403), ("sup", 403)):
        client = server.login(username)
        assert client.post("/api/v1/publications", {"month": "2026-10", "fields": ["rank"]}).status_code == status
        assert client.get("/api/v1/publications").status_code == status
    assert server.anonymous().post("/api/v1/publications", {"month": "2026-10", "fields": ["rank"]}).status_code == 401
    for body, field in (({"month": "2026-13", "fields": ["rank"]}, "month"),
                        ({"month": "2026-10", "fields": ["department"]}, "fields/0"),
                        ({"month": "2026-10", "fields": []}, "fields"),
                        ({"month": "2026-10"}, "fields"),
                        ({"month": "2026-10", "fields": ["rank"], "note": "x" * 2001}, "note"),
                        ({"month": "2026-10", "fields": ["rank"], "note": "公示\x07说明"}, "note")):
        refused = sec.post("/api/v1/publications", body)
        assert refused.status_code == 400, (body, refused.text)
        assert refused.json()["error"]["code"] == "invalid_input"
        assert [d["field"] for d in refused.json()["error"]["details"]] == [field], refused.text
    assert stored(server) == 0


def test_the_secretariat_page_previews_and_publishes(history_server):
    server = history_server
    sec, staff = Web(server.app, "sec"), Web(server.app, "wang")
    assert staff.get("/publications").status_code == 403
    preview = sec.get("/publications?month=2026-10&fields=rank&fields=measures&circular=1")
    assert preview.status_code == 200
    assert published_table(preview.text)[0] == ["排名", "部门", "问责措施"]
    assert 'id="circular"' in preview.text and stored(server) == 0  # a preview stores nothing
    posted = sec.post("/publications", {"month": "2026-10", "fields": ["rank", "measures"], "circular": "1"})
    assert posted.status_code == 302
    listed = server.login("sec").get("/api/v1/publications").json()["items"]
    assert [(p["fields"], p["circular"]) for p in listed] == [(["rank", "name", "measures"], True)]
    page = sec.get("/publications?month=2026-10").text
    assert "公示中" in page and f"/public/{listed[0]['id']}" in page
    assert sec.post(f"/publications/{listed[0]['id']}/withdraw").status_code == 302
    assert server.anonymous().get(f"/public/{listed[0]['id']}").status_code == 404
    assert sec.post("/publications", {"month": "2026-99", "fields": ["rank"]}).status_code == 400
