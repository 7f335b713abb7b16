"""一案双查 in a real browser: the supervisor chooses a referral measure with a reason on the
escalation desk, 纪检 records 立案 from the inbox, the measure desk shows people, points, the
referral's result and a talk's record; the year-end page shows the scores (fixtures
``people``, ``browser``: tests/conftest.py)."""
import pytest

from tests.helpers import ITEM
from tests.test_api_escalation import LONG_TOKENS, advance
from tests.test_api_loop import inbox_task
from tests.test_measures import add_user


@pytest.fixture
def server(server_factory):
    running = server_factory(**LONG_TOKENS)
    add_user(running, "jijian", "纪检组吴强", "office", ["discipline"])
    return running


def test_referral_and_talk_on_the_measure_desk(server, people):
    sec, zhang = server.login("sec"), server.login("zhang")
    first = sec.post("/api/v1/items", ITEM).json()
    second = sec.post("/api/v1/items", {**ITEM, "title": "优化营商环境专项行动"}).json()
    for item in (first, second):
        assert zhang.post(f"/api/v1/tasks/{inbox_task(zhang, 'draft_plan', item['id'])['id']}/claim").status_code == 200
    advance(server, "2026-11-25T18:00:01+08:00")

    sup = people("sup")
    sup.goto("/escalations")
    cards = sup.page.locator("#escalations section.escalation")
    assert cards.count() == 2
    card = cards.nth(0)
    card.locator("input[name=action][value=accountability]").check()
    card.locator("select[name=measure]").select_option("discipline_referral")
    sup.page.once("dialog", lambda dialog: dialog.accept())
    card.locator("button.handle").click()
    refused = sup.page.locator(".field-error[data-field=reason]")
    assert "须填写理由" in refused.inner_text()
    card = sup.page.locator("#escalations section.escalation").nth(0)
    card.locator("input[name=action][value=accountability]").check()
    card.locator("select[name=measure]").select_option("discipline_referral")
    card.locator("textarea[name=reason]").fill("整改不力，情节较重")
    sup.page.once("dialog", lambda dialog: dialog.accept())
    card.locator("button.handle").click()
    assert "问责建议" in sup.page.inner_text(".flash, .flashes, body")
    card = sup.page.locator("#escalations section.escalation").nth(0)
    card.locator("input[name=action][value=accountability]").check()  # the ladder proposes 通报批评 (2nd)
    card.locator("select[name=measure]").select_option("reminder_talk")
    card.locator("textarea[name=reason]").fill("先行约谈")
    sup.page.once("dialog", lambda dialog: dialog.accept())
    card.locator("button.handle").click()

    jijian = people("jijian")
    jijian.goto("/")
    jijian.page.locator("a", has_text="问责移送处理").first.click()
    jijian.page.select_option("select[name=result]", "filed")
    jijian.page.fill("textarea[name=note], input[name=note]", "已立案审查")
    jijian.page.locator("form button[type=submit]", has_text="提交").first.click()

    sup.goto("/measures")
    measures = sup.page.locator("#measures section.measure")
    assert measures.count() == 2
    referred = sup.page.locator("section.measure", has_text="问责建议")
    assert "立案" in referred.locator("[data-field=referral]").inner_text()
    assert "发改委张三（责任人）" in referred.locator("[data-field=people]").inner_text()
    assert "分管领导赵（分管领导）" in referred.locator("[data-field=people]").inner_text()
    talk = sup.page.locator("section.measure", has_text="提醒约谈")
    form = talk.locator("form.interview-form")
    form.locator("input[name=at]").fill("2026-11-27T10:00")
    form.locator("input[name=interviewees]").fill("发改委张三")
    form.locator("input[name=interviewer]").fill("督查员孙")
    form.locator("textarea[name=minutes]").fill("说明逾期原因，承诺本周内报送工作计划。")
    form.locator("button[type=submit]").click()
    talk = sup.page.locator("section.measure", has_text="提醒约谈")
    assert "说明逾期原因" in talk.locator("[data-field=minutes]").inner_text()
    assert talk.locator("[data-field=interview-at]").inner_text() == "2026-11-27 10:00"
    sup.shot("measure-desk")

    year = people("sec")
    year.goto("/reports/year?year=2026")
    scores = year.page.locator("#department-scores tr[data-department=d1]")
    assert scores.locator("[data-field=score]").inner_text() == "95"
    assert "立案" in year.page.inner_text("#referral-results")
    year.goto("/measure-kinds")
    row = year.page.locator("tr[data-kind=deduction]")
    row.locator("input[name=points]").fill("4")
    row.locator("button", has_text="保存").click()
    assert year.page.locator("tr[data-kind=deduction] input[name=points]").input_value() == "4"
