"""Evidence files in a real browser (issue 15 items 6 and 7): a task form's file input uploads
with a progress bar; the verification page shows the report and its evidence above the choice."""
import re

import pytest

from tests.test_api_rectification import PLAN, PROBLEM, complete

PDF = b"%PDF-1.4\n" + b"0" * (3 * 1024 * 1024) + b"\n%%EOF\n"  # large enough to show progress


@pytest.fixture
def server(server_factory, tmp_path):
    return server_factory(files={"dir": str(tmp_path / "files")})


def test_upload_on_a_task_form_and_review_it(server, people, tmp_path):
    sec_api, zhang_api = server.login("sec"), server.login("zhang")
    problem = sec_api.post("/api/v1/problems", PROBLEM).json()
    complete(sec_api, "hand_over", problem["id"], {"requirements": "限期建立台账"})
    complete(zhang_api, "submit_rectification_plan", problem["id"], PLAN)
    complete(sec_api, "review_rectification_plan", problem["id"], {"approved": True})
    report_task = zhang_api.get("/api/v1/tasks", params={"item_id": problem["id"]}).json()["items"][0]

    source = tmp_path / "整改台账.pdf"
    source.write_bytes(PDF)
    zhang = people("zhang")
    zhang.goto(f"/tasks/{report_task['id']}")
    zhang.page.fill("#f-summary", "台账已建立并运行")
    zhang.page.fill("#f-evidence", "台账照片见附件")
    zhang.page.check("input[name=done][value=true]")
    zhang.page.set_input_files("#f-evidence_files", str(source))
    zhang.page.wait_for_selector(".upload-progress:not([hidden])")
    zhang.page.wait_for_selector("[data-files] li[data-file-id]")
    assert zhang.page.locator(".upload-progress progress").evaluate("el => el.value") == 100
    assert "已上传：整改台账.pdf" in zhang.page.inner_text(".upload-status")
    zhang.shot("files-upload")
    zhang.page.click("#submit-task")
    zhang.page.wait_for_url(re.compile(r".*/(inbox|tasks/.*)$"))

    verify = sec_api.get("/api/v1/tasks", params={"item_id": problem["id"]}).json()["items"][0]
    assert verify["key"] == "verify_rectification"
    sec = people("sec")
    sec.goto(f"/tasks/{verify['id']}")
    reviewed = sec.page.inner_text("#reviewed-report")
    assert "台账已建立并运行" in reviewed and "整改台账.pdf" in reviewed and "3.0 MB" in reviewed
    box = sec.page.locator("#reviewed-report").bounding_box()
    choice = sec.page.locator("input[name=passed]").first.bounding_box()
    assert box["y"] + box["height"] <= choice["y"]  # the report comes before the pass/fail choice
    sec.shot("files-verification")
    with sec.page.expect_download() as download:
        sec.page.click("#reviewed-files a")
    assert download.value.suggested_filename == "整改台账.pdf"

    sec.goto(f"/problems/{problem['id']}")
    assert "整改台账.pdf" in sec.page.inner_text("#files")
    assert "整改台账.pdf" in sec.page.inner_text("#timeline")
