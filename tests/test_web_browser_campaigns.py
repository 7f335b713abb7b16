"""专项行动 in a real browser: the secretariat creates a campaign through its form, a department
registers its own finding in the self-check stage (自查登记), the campaign page shows the stage
timeline and the figures, links to the filtered ledger and downloads them
(screenshot test-artifacts/campaign-page.png)."""
import re

from tests.test_api_rectification import PROBLEM


def test_campaign_pages(server, people):
    sec = people("sec")
    sec.page.locator("nav.nav a", has_text="专项行动").click()
    sec.page.click("#new-campaign")
    sec.page.wait_for_url(re.compile(r".*/campaigns/new$"))
    sec.page.fill("input[name=name]", "营商环境专项整治")
    sec.page.fill("input[name=starts_on]", "2026-11-01")
    sec.page.fill("input[name=ends_on]", "2026-10-01")  # before the start: refused in words
    sec.page.check("input[name=departments][value=d1]")
    sec.page.check("input[name=departments][value=d2]")
    sec.page.fill("textarea[name=categories]", "作风问题：形式主义、官僚主义\n服务问题：办事效率")
    for kind, starts, ends in (("mobilise", "2026-11-01", "2026-11-22"), ("self_check", "2026-11-23", "2026-11-30"),
                               ("rectify", "2026-12-01", "2026-12-20"), ("summary", "2026-12-21", "2026-12-31")):
        sec.page.fill(f"input[name=stage_{kind}_starts_on]", starts)
        sec.page.fill(f"input[name=stage_{kind}_ends_on]", ends)
    sec.page.click("#save-campaign")
    assert "结束日期不能早于开始日期" in sec.page.inner_text("#campaign-errors")
    sec.page.fill("input[name=ends_on]", "2026-12-31")
    sec.page.click("#save-campaign")
    sec.page.wait_for_url(re.compile(r".*/campaigns/\d+$"))
    campaign_id = int(sec.page.url.rsplit("/", 1)[1])
    assert "当前阶段：自查自纠" in sec.page.inner_text("#current-stage")

    api = server.login("sec")
    body = api.get(f"/api/v1/campaigns/{campaign_id}").json()
    kinds = {c["name"]: c["id"] for c in body["categories"]}
    for department, kind in (("d1", "形式主义"), ("d2", "办事效率"), ("d2", "官僚主义")):
        response = api.post("/api/v1/problems", {**PROBLEM, "department": department, "campaign": campaign_id,
                                                 "category": kinds[kind]})
        assert response.status_code == 201, response.text

    zhang = people("zhang")
    zhang.page.locator("nav.nav a", has_text="专项行动").click()
    zhang.page.locator("#campaigns a", has_text="营商环境专项整治").click()
    zhang.page.click("#self-check")
    zhang.page.fill("#f-title", "窗口办事指南未及时更新")
    zhang.page.fill("#f-deadline", "2026-12-20")
    zhang.page.select_option("#f-category", str(kinds["办事效率"]))
    zhang.page.click("#submit-self-check")
    zhang.page.wait_for_url(re.compile(r".*/problems/[0-9a-f-]+$"))
    assert "自查" in zhang.page.inner_text("main")

    sec.page.reload()
    rows = sec.page.locator("#figures-departments tr[data-department]")
    assert rows.count() == 2
    assert sec.page.inner_text("#figures-departments tr[data-department=d1]").split()[-5:] == [
        "2", "2", "0", "0", "0.0%"]
    assert "服务问题" in sec.page.inner_text("#figures-categories")
    assert sec.page.locator("#stages li.current").inner_text().startswith("自查自纠")
    sec.shot("campaign-page")
    with sec.page.expect_download() as download:
        sec.page.click("a[data-download=xlsx]")
    assert download.value.suggested_filename == f"campaign-{campaign_id}.xlsx"
    sec.page.locator("#figures-departments a", has_text="住房和城乡建设局").click()
    sec.page.wait_for_url(re.compile(r".*/problems\?.*campaign="))
    assert sec.page.locator("#problems tr[data-problem]").count() == 2
    assert sec.page.locator("select[name=campaign]").input_value() == str(campaign_id)

    sec.page.goto(f"{server.base}/campaigns/{campaign_id}/edit")
    sec.page.fill("input[name=name]", "营商环境专项整治（第二轮）")
    sec.page.click("#save-campaign")
    sec.page.wait_for_url(re.compile(rf".*/campaigns/{campaign_id}$"))
    assert sec.page.inner_text("#campaign-name") == "营商环境专项整治（第二轮）"
    assert [c["id"] for c in api.get(f"/api/v1/campaigns/{campaign_id}").json()["categories"]] == [
        c["id"] for c in body["categories"]]  # the edit kept every category
