"""The public pages in a real browser (公示, 反映查询): the secretariat chooses the columns with a
preview and publishes; someone without an account reads exactly that (screenshot
test-artifacts/public-ranking.png) and looks a complaint up by its reference."""
import re

from tests.web_browser import Person

CHOSEN = ["排名", "部门", "按时率", "超期环节"]  # the page's defaults


def test_publish_then_read_the_public_page_and_look_a_complaint_up(history_people, history_server, browser):
    sec = history_people("sec")
    sec.page.locator("nav.nav a", has_text="公示发布").click()
    sec.page.wait_for_load_state("load")
    assert sec.page.locator("#published thead th").all_inner_texts() == CHOSEN
    sec.page.check("input[name=fields][value=measures]")
    sec.page.uncheck("input[name=fields][value=overdue_steps]")
    sec.page.check("input[name=circular]")
    sec.page.click("#preview-button")
    sec.page.wait_for_url(re.compile(r".*fields=measures.*"))
    assert sec.page.locator("#published thead th").all_inner_texts() == ["排名", "部门", "按时率", "问责措施"]
    assert sec.page.locator("#circular").is_visible()
    sec.page.click("#publish-button")
    sec.page.wait_for_load_state("load")
    assert sec.page.locator("#publication-list tbody tr").count() == 1
    sec.shot("publications")

    public = Person(browser, history_server.base)  # nobody logged in
    try:
        assert public.goto("/public").status == 200
        public.page.locator("#publications a").first.click()
        public.page.wait_for_load_state("load")
        assert public.page.locator("#published thead th").all_inner_texts() == ["排名", "部门", "按时率", "问责措施"]
        assert "升级督办" not in public.page.inner_text("#published")
        assert "发展和改革委员会" in public.page.inner_text("#published")
        public.shot("public-ranking")

        reference = history_server.anonymous().post("/api/v1/complaints", {"text": "小区路灯不亮"}).json()["reference"]
        public.page.locator("header a", has_text="反映查询").click()
        public.page.wait_for_load_state("load")
        public.page.fill("#reference", reference.lower())
        public.page.click("button[type=submit]")
        public.page.wait_for_load_state("load")
        assert public.page.inner_text("#lookup-state") == "已受理，等待分办"
        public.shot("public-lookup")
    finally:
        public.close()
