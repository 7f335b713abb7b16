"""Evidence files (佐证材料, issue 15): upload, type from content, downloads as attachments for
who may see the record, attaching on completion (refusals change nothing), orphan pruning."""
import datetime as dt
import io
import zipfile

import pytest
from sqlalchemy import func, select

from tests.conftest import BOTH_DATABASES
from tests.helpers import ITEM, PLAN
from tests.test_api_loop import complete, inbox_task
from workflows.files import evidence
from workflows.files.models import StoredFile

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + b"\x00" * 40
PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
EXE = b"MZ\x90\x00\x03\x00\x00\x00" + b"\x00" * 60
HTML = b"<!DOCTYPE html><html><script>alert(1)</script></html>"
MAX_BYTES = 4096


def office(member):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr(member, "<x/>")
    return buffer.getvalue()


@pytest.fixture
def server(server_factory, tmp_path):
    return server_factory(files={"dir": str(tmp_path / "files"), "max_bytes": MAX_BYTES})


def upload(client, name, data):
    return client.request("POST", "/api/v1/files", files={"file": (name, data, "image/png")})


def uploaded(client, name="现场照片.png", data=PNG):
    response = upload(client, name, data)
    assert response.status_code == 201, response.text
    return response.json()


def file_rows(server):
    with server.engine.db.read() as session:
        return {row.id: row for row in session.scalars(select(StoredFile))}


@BOTH_DATABASES
def test_upload_checks_size_and_type_from_the_content(server, tmp_path):
    zhang = server.login("zhang")
    body = uploaded(zhang, "整改报告.pdf", PDF)
    assert set(body) == {"id", "name", "size", "content_type", "sha256"}
    assert (body["name"], body["size"], body["content_type"]) == ("整改报告.pdf", len(PDF), "application/pdf")
    assert (tmp_path / "files" / body["sha256"][:2] / body["sha256"]).read_bytes() == PDF
    assert uploaded(zhang, "台账.xlsx", office("xl/workbook.xml"))["content_type"].endswith("spreadsheetml.sheet")
    assert uploaded(zhang, "方案.docx", office("word/document.xml"))["content_type"].endswith("wordprocessingml.document")
    assert uploaded(zhang, "照片.png")["content_type"] == "image/png"

    before = len(file_rows(server))
    for name, data in (("照片.png", EXE), ("照片.png", HTML), ("说明.pdf", b"just text")):
        refused = upload(zhang, name, data)
        assert refused.status_code == 400 and refused.json()["error"]["code"] == "file_type", refused.text
        assert refused.json()["error"]["details"][0]["code"] == "file_type"
    too_large = upload(zhang, "大文件.pdf", PDF + b"0" * MAX_BYTES)
    assert too_large.status_code == 413 and too_large.json()["error"]["code"] == "too_large"
    way_too_large = upload(zhang, "大文件.pdf", PDF + b"0" * (MAX_BYTES + 100_000))
    assert way_too_large.status_code == 413
    missing = zhang.request("POST", "/api/v1/files", data={"x": "1"})
    assert missing.status_code == 400
    assert len(file_rows(server)) == before
    assert server.anonymous().request("POST", "/api/v1/files", files={"file": ("a.png", PNG)}).status_code == 401


@BOTH_DATABASES
def test_download_is_an_attachment_for_the_uploader_only_until_attached(server):
    zhang, wang, sec = (server.login(u) for u in ("zhang", "wang", "sec"))
    body = uploaded(zhang, "现场照片 1.png")
    response = zhang.get(f"/api/v1/files/{body['id']}")
    assert response.status_code == 200 and response.content == PNG
    assert response.headers["Content-Type"] == "image/png"
    assert response.headers["Content-Disposition"].startswith("attachment;")
    assert "filename*=UTF-8''%E7%8E%B0%E5%9C%BA%E7%85%A7%E7%89%87%201.png" in response.headers["Content-Disposition"]
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Content-Security-Policy"].startswith("sandbox")
    for other in (wang, sec):  # nobody else sees an unattached upload, overseers included
        assert other.get(f"/api/v1/files/{body['id']}").status_code == 404
    assert zhang.get("/api/v1/files/no-such-file").status_code == 404


@BOTH_DATABASES
def test_completion_attaches_files_and_refuses_unknown_or_foreign_ones(server):
    sec, zhang, li, wang, boss = (server.login(u) for u in ("sec", "zhang", "li", "wang", "boss"))
    item = sec.post("/api/v1/items", {**ITEM, "co_departments": []}).json()
    draft = inbox_task(zhang, "draft_plan", item["id"])
    mine, foreign = uploaded(zhang, "工作方案.pdf", PDF), uploaded(wang, "别人的.png")
    rows_before = {k: (r.attached_at, r.task_id) for k, r in file_rows(server).items()}

    for ids, code in ((["no-such-file"], "unknown_file"), ([foreign["id"]], "file_not_yours"),
                      ([mine["id"], "x" * 100], "unknown_file")):
        refused = zhang.post(f"/api/v1/tasks/{draft['id']}/complete", {"data": {**PLAN, "evidence_files": ids}})
        assert refused.status_code == 400, refused.text
        assert code in [d["code"] for d in refused.json()["error"]["details"]]
        assert inbox_task(zhang, "draft_plan", item["id"])["id"] == draft["id"]  # still open
    not_a_list = zhang.post(f"/api/v1/tasks/{draft['id']}/complete", {"data": {**PLAN, "evidence_files": "x"}})
    assert not_a_list.status_code == 400
    assert {k: (r.attached_at, r.task_id) for k, r in file_rows(server).items()} == rows_before
    # another user of the same department cannot attach zhang's upload either
    li_draft = li.post(f"/api/v1/tasks/{draft['id']}/complete", {"data": {**PLAN, "evidence_files": [mine["id"]]}})
    assert li_draft.status_code == 400 and li_draft.json()["error"]["details"][0]["code"] == "file_not_yours"

    complete(zhang, "draft_plan", item["id"], {**PLAN, "evidence_files": [mine["id"]]})
    row = file_rows(server)[mine["id"]]
    assert row.attached_at is not None and row.task_id == draft["id"] and row.record_id == item["id"]
    # who may see the item reads it (the leader, the secretariat, a colleague); another department does not
    for reader in (boss, sec, li, zhang):
        assert reader.get(f"/api/v1/files/{mine['id']}").status_code == 200
    assert wang.get(f"/api/v1/files/{mine['id']}").status_code == 404
    # sent back: the same file may be named again (already attached to this item), wang's still not
    complete(boss, "approve_plan", item["id"], {"approved": False, "comment": "细化"})
    again = inbox_task(li, "draft_plan", item["id"])
    refused = li.post(f"/api/v1/tasks/{again['id']}/complete",
                      {"data": {**PLAN, "evidence_files": [mine["id"], foreign["id"]]}})
    assert [d["code"] for d in refused.json()["error"]["details"]] == ["file_not_yours"]
    complete(li, "draft_plan", item["id"], {**PLAN, "evidence_files": [mine["id"]]})
    assert file_rows(server)[mine["id"]].task_id == draft["id"]  # keeps its first attachment


@BOTH_DATABASES
def test_orphans_are_pruned_after_a_day_of_the_engine_clock(server, tmp_path):
    zhang, sec = server.login("zhang"), server.login("sec")
    item = sec.post("/api/v1/items", {**ITEM, "co_departments": []}).json()
    kept = uploaded(zhang, "附件.pdf", PDF)
    complete(zhang, "draft_plan", item["id"], {**PLAN, "evidence_files": [kept["id"]]})
    orphan = uploaded(zhang, "孤儿.png")
    twin = uploaded(zhang, "同内容.pdf", PDF)  # same bytes as an attached file: the blob stays
    engine = server.engine

    def prune():
        with engine.db.write() as session:
            return evidence.prune(engine, session, engine.clock.now(), grace_seconds=0)

    assert prune() == 0
    engine.clock.advance(to=engine.clock.now() + dt.timedelta(hours=25))
    assert prune() == 2
    assert set(file_rows(server)) == {kept["id"]}
    assert not (tmp_path / "files" / orphan["sha256"][:2] / orphan["sha256"]).exists()
    assert (tmp_path / "files" / twin["sha256"][:2] / twin["sha256"]).exists()
    assert zhang.get(f"/api/v1/files/{kept['id']}").status_code == 200


def test_files_prune_command(tmp_path, monkeypatch, database_url):
    from click.testing import CliRunner

    from api.cli import main
    from api.app import build_engine
    from tests.conftest import make_config

    config = tmp_path / "config.toml"
    config.write_text(f'[database]\nurl = "{database_url}"\n[clock]\nmode = "simulated"\n'
                      f'start = "2026-11-23T09:00:00+08:00"\n[files]\ndir = "{tmp_path / "files"}"\n',
                      encoding="utf-8")
    engine = build_engine(make_config(database_url, files={"dir": str(tmp_path / "files")}))
    evidence.upload(engine, "zhang", "照片.png", PNG)
    engine.clock.advance(to=engine.clock.now() + dt.timedelta(days=2))
    engine.close()
    monkeypatch.setenv("DUBAN_CONFIG", str(config))
    monkeypatch.delenv("DUBAN_DATABASE_URL", raising=False)
    result = CliRunner().invoke(main, ["files", "prune"])
    assert result.exit_code == 0, result.output
    assert "orphan uploads removed: 1" in result.output


@BOTH_DATABASES
def test_items_and_problems_register_with_evidence(server):
    sec, zhang, wang = (server.login(u) for u in ("sec", "zhang", "wang"))
    notice, foreign = uploaded(sec, "会议纪要.pdf", PDF), uploaded(zhang, "照片.png")
    refused = sec.post("/api/v1/items", {**ITEM, "co_departments": [], "evidence": [notice["id"], foreign["id"]]})
    assert refused.status_code == 400 and refused.json()["error"]["details"][0]["code"] == "file_not_yours"
    assert sec.get("/api/v1/items").json()["total"] == 0
    item = sec.post("/api/v1/items", {**ITEM, "co_departments": [], "evidence": [notice["id"]]})
    assert item.status_code == 201, item.text
    row = file_rows(server)[notice["id"]]
    assert row.record_id == item.json()["id"] and row.task_id is None and row.attached_at is not None
    assert zhang.get(f"/api/v1/files/{notice['id']}").status_code == 200
    assert wang.get(f"/api/v1/files/{notice['id']}").status_code == 404

    photo = uploaded(sec, "问题照片.png")
    problem = sec.post("/api/v1/problems", {"title": "问题", "source": "audit", "department": "d2",
                                            "deadline": "2026-12-31", "evidence": [photo["id"]]})
    assert problem.status_code == 201, problem.text
    assert wang.get(f"/api/v1/files/{photo['id']}").status_code == 200
    assert zhang.get(f"/api/v1/files/{photo['id']}").status_code == 404
    assert sec.post("/api/v1/items", {**ITEM, "evidence": "x"}).status_code == 400


def test_a_public_complaint_carries_photos_for_the_triage_desk(server):
    from tests.test_web_pages import Web

    public = server.app.test_client()
    refused = public.post("/complaints/new", data={"text": "路灯坏了", "photos": (io.BytesIO(PDF), "说明.pdf")},
                          content_type="multipart/form-data")
    assert refused.status_code == 400 and "只能是图片" in refused.text
    too_many = public.post("/complaints/new", content_type="multipart/form-data", data={
        "text": "路灯坏了", "photos": [(io.BytesIO(PNG), f"照片{i}.png") for i in range(4)]})
    assert too_many.status_code == 400 and "最多 3 张" in too_many.text
    assert file_rows(server) == {}
    accepted = public.post("/complaints/new", content_type="multipart/form-data", data={
        "text": "路灯坏了一个月", "photos": [(io.BytesIO(PNG), "现场照片.png")]})
    assert accepted.status_code == 201, accepted.text
    [row] = file_rows(server).values()
    assert row.uploader is None and row.attached_at is not None and row.record_id

    sec = Web(server.app, "sec")
    page = sec.get(f"/complaints/{row.record_id}").text
    assert "现场照片.png" in page
    download = sec.get(f"/files/{row.id}")
    assert download.status_code == 200 and download.data == PNG
    assert download.headers["Content-Disposition"].startswith("attachment;")
    assert Web(server.app, "zhang").get(f"/files/{row.id}").status_code == 404
    # triaged into a problem of 发改委: its people see the photos on the problem's page
    triaged = server.login("sec").post(f"/api/v1/complaints/{row.record_id}/triage", {
        "as": "problem", "title": "修复路灯", "department": "d1", "deadline": "2026-12-31"})
    assert triaged.status_code == 201, triaged.text
    zhang = Web(server.app, "zhang")
    assert zhang.get(f"/files/{row.id}").status_code == 200
    assert "现场照片.png" in zhang.get(f"/problems/{triaged.json()['id']}").text
    assert Web(server.app, "wang").get(f"/files/{row.id}").status_code == 404


def test_the_recheck_page_shows_the_report_and_its_evidence_above_the_choice(server):
    from tests.test_web_pages import Web

    sec, zhang, boss = (server.login(u) for u in ("sec", "zhang", "boss"))
    item = sec.post("/api/v1/items", {**ITEM, "co_departments": []}).json()
    complete(zhang, "draft_plan", item["id"], PLAN)
    complete(boss, "approve_plan", item["id"], {"approved": True})
    complete(sec, "file_plan", item["id"], {})
    report = uploaded(zhang, "办结报告.pdf", PDF)
    complete(zhang, "report_progress", item["id"], {"progress": 100, "summary": "全部完成", "done": True,
                                                     "completion_report": "已按期办结", "evidence_files": [report["id"]]})
    recheck = inbox_task(sec, "recheck", item["id"])
    page = Web(server.app, "sec").get(f"/tasks/{recheck['id']}").text
    reviewed = page.index('id="reviewed-report"')
    assert reviewed < page.index('name="passed"')
    section = page[reviewed:page.index("</section>", reviewed)]
    assert "全部完成" in section and "已按期办结" in section and "办结报告.pdf" in section and "100%" in section
    # the reviewer adds evidence of their own with the verdict
    mine = uploaded(sec, "核查记录.pdf", PDF + b"sec")
    complete(sec, "recheck", item["id"], {"passed": True, "findings": "属实", "evidence_files": [mine["id"]]})
    item_page = Web(server.app, "boss").get(f"/items/{item['id']}").text
    assert "办结报告.pdf" in item_page and "核查记录.pdf" in item_page


def test_a_public_complaints_text_stays_within_the_body_limit_with_photos(server):
    limit = server.engine.config["limits"]["max_body_bytes"]
    huge = server.app.test_client().post("/complaints/new", content_type="multipart/form-data", data={
        "text": "a" * (limit + 10), "photos": [(io.BytesIO(PNG), "现场照片.png")]})
    assert huge.status_code == 413 and "提交的内容过大" in huge.text
    assert file_rows(server) == {}


def test_the_pages_upload_answers_json_in_chinese(server):
    from tests.test_web_pages import Web

    zhang = Web(server.app, "zhang")
    token = zhang.token("/inbox")
    ok = zhang.client.post("/files", data={"file": (io.BytesIO(PDF), "方案.pdf")}, headers={"X-CSRFToken": token},
                           content_type="multipart/form-data")
    assert ok.status_code == 201 and ok.json["name"] == "方案.pdf"
    refused = zhang.client.post("/files", data={"file": (io.BytesIO(HTML), "照片.png")},
                                headers={"X-CSRFToken": token}, content_type="multipart/form-data")
    assert refused.status_code == 400 and refused.json["error"]["text"].startswith("不支持此类文件")
    large = zhang.client.post("/files", data={"file": (io.BytesIO(PDF + b"0" * 200_000), "大.pdf")},
                              headers={"X-CSRFToken": token}, content_type="multipart/form-data")
    assert large.status_code == 413  # the Chinese 413 page; web.js says 文件过大
    no_token = zhang.client.post("/files", data={"file": (io.BytesIO(PDF), "方案.pdf")},
                                 content_type="multipart/form-data")
    assert no_token.status_code == 400
    assert zhang.get(f"/files/{ok.json['id']}").data == PDF
    assert Web(server.app, "li").get(f"/files/{ok.json['id']}").status_code == 404


def test_the_scheduler_prunes_orphans_once_an_hour_when_there_are_some(engine_factory, tmp_path):
    engine = engine_factory(files={"dir": str(tmp_path / "files")})
    assert "files_prune" not in [job for job, _ in engine.periodic.run_due()]  # nothing to prune
    evidence.upload(engine, "zhang", "照片.png", PNG)
    engine.clock.advance(to=engine.clock.now() + dt.timedelta(hours=25))
    assert ("files_prune", engine.clock.now().strftime("%Y-%m-%dT%H")) in engine.periodic.run_due()
    with engine.db.read() as session:
        assert session.scalar(select(func.count()).select_from(StoredFile)) == 0


def test_item_and_problem_details_list_their_files(server):
    sec, zhang = server.login("sec"), server.login("zhang")
    notice = uploaded(sec, "会议纪要.pdf", PDF)
    item = sec.post("/api/v1/items", {**ITEM, "co_departments": [], "evidence": [notice["id"]]}).json()
    plan = uploaded(zhang, "方案.pdf", PDF + b"plan")
    draft = complete(zhang, "draft_plan", item["id"], {**PLAN, "evidence_files": [plan["id"]]})
    files = zhang.get(f"/api/v1/items/{item['id']}").json()["files"]
    assert [(f["name"], f["task_id"] is None) for f in files] == [("会议纪要.pdf", True), ("方案.pdf", False)]
    assert files[1]["task_id"] == draft["task"]["id"] and files[1]["attached_at"].endswith("+00:00")
    problem = sec.post("/api/v1/problems", {"title": "问题", "source": "audit", "department": "d1",
                                            "deadline": "2026-12-31"}).json()
    assert sec.get(f"/api/v1/problems/{problem['id']}").json()["files"] == []
