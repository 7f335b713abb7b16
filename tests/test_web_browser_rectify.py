"""Rectification with teeth in a real browser: the new diagram draws in bpmn-js, a problem's
escalation on the desk links to its page, and the plan's review says it needs more time
(fixtures ``people``, ``browser``: tests/conftest.py)."""
import re

import pytest

from tests.test_api_escalation import LONG_TOKENS, advance
from tests.test_api_rectification import PROBLEM, complete, inbox_task
from tests.test_rectification_deadlines import PLAN

NEW_ELEMENTS = ("review_rectification_plan", "plan_reviewed", "check_plan", "remind_plan", "escalate_plan",
                "remind_report", "escalate_report", "count_overdue", "propose_measure", "handle_escalation")


@pytest.fixture
def server(server_factory):
    return server_factory(**LONG_TOKENS)


def test_diagram_desk_and_review(server, people):
    sec, zhang = server.login("sec"), server.login("zhang")
    late = sec.post("/api/v1/problems", PROBLEM).json()["id"]
    complete(sec, "hand_over", late, {})
    advance(server, "2026-11-25T18:00:01+08:00")  # its plan is overdue: escalated

    designer = people("ada")
    designer.goto("/designer/rectification/1/edit")
    designer.page.wait_for_selector("#canvas[data-ready=true]")
    drawn = designer.page.evaluate("""ids => ids.filter(id => {
        const element = window.dubanModeler.get('elementRegistry').get(id);
        return element && element.width > 0;
    })""", list(NEW_ELEMENTS))
    assert drawn == list(NEW_ELEMENTS)
    designer.shot("rectification-diagram")

    sup = people("sup")
    sup.page.locator("nav.nav a", has_text="督查台").click()
    card = sup.page.locator("#escalations section.escalation")
    assert card.count() == 1 and "整改问题" in card.inner_text() and "提交整改方案" in card.inner_text()
    sup.shot("escalation-desk-problem")
    card.locator("h2 a", has_text="ZG-2026-0001").click()
    sup.page.wait_for_url(re.compile(rf".*/problems/{late}$"))

    complete(zhang, "submit_rectification_plan", late, {**PLAN, "deadline": "2027-01-15"})
    review = inbox_task(sec, "review_rectification_plan", late)
    secretary = people("sec")
    secretary.goto(f"/tasks/{review['id']}")
    note = secretary.page.locator("#needs-extension")
    assert "晚于整改时限 2026-12-31" in note.inner_text() and "2027-01-15" in note.inner_text()
    assert "原因分析" in secretary.page.inner_text("#plan")
    secretary.shot("review-rectification-plan")
