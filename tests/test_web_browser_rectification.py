"""The rectification pages in a real browser: complaint triage, the problem ledger and a
problem's page (fixtures ``people``, ``browser``: tests/conftest.py)."""
import re

from tests.web_browser import PHONE


def test_rectification_pages(server, people):
    server.anonymous().post("/api/v1/complaints", {"text": "小区门口路灯坏了一个月，夜间出行不便", "contact": "13800000000"})
    sec = people("sec")
    sec.page.locator("nav.nav a", has_text="问题台账").click()
    sec.page.click("#new-problem")
    sec.page.wait_for_url(re.compile(r".*/problems/new$"))
    sec.page.fill("#f-title", "窗口服务态度差")
    sec.page.select_option("#f-source", "inspection")
    sec.page.select_option("#f-department", "d1")
    sec.page.fill("#f-deadline", "2026-12-31")
    sec.page.click("#submit-problem")  # no description: optional
    sec.page.wait_for_url(re.compile(r".*/problems/[0-9a-f-]+$"))
    assert "ZG-2026-0001" in sec.page.title() and "移交" in sec.page.inner_text("#open-steps")
    sec.shot("problem-detail")

    sec.page.locator("nav.nav a", has_text="群众反映").click()
    sec.page.wait_for_url(re.compile(r".*/complaints$"))
    sec.shot("complaints")
    sec.page.locator("#complaints a", has_text="分拣处理").click()
    sec.page.fill("#f-title", "修复小区门口路灯")
    sec.page.select_option("#f-department", "d2")
    sec.page.fill("#f-deadline", "2026-12-15")
    sec.shot("complaint-triage")
    sec.page.click("#submit-triage")
    sec.page.wait_for_url(re.compile(r".*/problems/[0-9a-f-]+$"))
    assert "ZG-2026-0002" in sec.page.title()

    sec.page.locator("nav.nav a", has_text="问题台账").click()
    assert sec.page.locator("#problems tr[data-problem]").count() == 2
    sec.page.select_option("select[name=source]", "complaint")  # the filter submits itself
    sec.page.wait_for_url(re.compile(r".*source=complaint"))
    assert sec.page.locator("#problems tr[data-problem]").count() == 1
    with sec.page.expect_download() as download:
        sec.page.click("a[data-download=xlsx]")
    assert download.value.suggested_filename == "problems.xlsx"
    sec.shot("problems-ledger")

    phone = people("wang", viewport=PHONE)
    phone.page.click(".menu-button")  # a phone's navigation is folded
    phone.page.locator("nav.nav a", has_text="问题台账").click()
    assert phone.page.locator("#problems tr[data-problem]").count() == 1  # 住建局's problem only
    phone.shot("phone-problems-ledger")
    assert phone.page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
