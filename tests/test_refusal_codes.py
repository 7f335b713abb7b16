"""Refusal codes, not message substrings (issue 12): every refusal names its problem in
``details[].code`` next to the unchanged class code in ``error.code``; every code raised in the
source has Chinese words in ``api.web.labels.REFUSALS``; the pages show those words, never the
English message."""
import pathlib
import re

import pytest

from api.errors import _SCHEMA_CODES
from api.web.labels import REFUSALS, error_text, field_errors, refusal_text
from engine.errors import Conflict, InvalidInput, problem
from tests.helpers import ITEM, PLAN
from tests.test_api_escalation import LONG_TOKENS, advance, overdue_item
from tests.test_api_loop import complete, inbox_task
from tests.test_web_pages import Web

REPO = pathlib.Path(__file__).resolve().parent.parent
# How the source names a problem's code: a refusal's reason=, a field problem's problem(field, code, ...)
# or a module's own _problem(field, code, ...) helper.
CODE_PATTERNS = (re.compile(r'\breason="(\w+)"'), re.compile(r'\b_?problem\(\s*[^,()]+,\s*"(\w+)"'))
# The JSON Schema keywords a task form's problem may carry (engine.forms: the keyword that failed).
FORM_KEYWORDS = ("required", "additionalProperties", "minLength", "maxLength", "minimum", "maximum",
                 "exclusiveMinimum", "exclusiveMaximum", "minItems", "maxItems", "enum", "const",
                 "pattern", "uniqueItems", "type", "format")


@pytest.fixture
def server(server_factory):
    return server_factory(**LONG_TOKENS)


def raised_codes():
    """``{code: [file, ...]}`` for every problem code written in engine/, workflows/ and api/."""
    codes = {}
    for folder in ("engine", "workflows", "api"):
        for path in sorted((REPO / folder).rglob("*.py")):
            text = path.read_text(encoding="utf-8")
            for pattern in CODE_PATTERNS:
                for code in pattern.findall(text):
                    codes.setdefault(code, []).append(str(path.relative_to(REPO)))
    return codes


def test_every_raised_code_has_chinese_words():
    codes = raised_codes()
    assert {"not_future", "fell_due", "step_closed", "no_plan", "required", "malformed_xml"} <= set(codes)
    codes.update({code: ["api/errors.py"] for code in _SCHEMA_CODES.values()})
    codes.update({code: ["engine/forms.py"] for code in FORM_KEYWORDS})
    missing = {code: where for code, where in codes.items() if code not in REFUSALS}
    assert not missing, f"codes without Chinese words in api/web/labels.py REFUSALS: {missing}"
    for code in codes:
        assert re.fullmatch(r"[a-z]+(_[a-z]+)*", code) or code in FORM_KEYWORDS, code


def test_labels_never_fall_back_to_the_english_message():
    refused = Conflict("step draft_plan fell due at 2026-11-25T10:00:00+00:00", reason="fell_due")
    assert refused.details == [{"code": "fell_due", "message": refused.message}]
    assert error_text(refused) == REFUSALS["fell_due"]
    assert field_errors(refused, default="task_id", title="制定工作计划", due="2026-11-25 18:00") == {
        "task_id": ["「制定工作计划」已于 2026-11-25 18:00 到期：延期须在到期前申请；逾期环节由督查员督办处置。"]}
    unknown = InvalidInput("odd", details=[problem("a/b", "brand_new_code", "odd"), problem("c", "maxLength", "long", limit=9)])
    assert field_errors(unknown) == {"a.b": ["填写的内容不符合要求"], "c": ["不能超过 9 个字符"]}
    assert error_text(Conflict("no code at all")) == "操作未能完成，请检查后重试"
    assert refusal_text({"code": "maxLength", "field": "x"}) == "内容过长"  # without its limit


# -- the API: the same class codes, and now the problem's code ---------------------------------------
def test_a_refused_escalation_choice_carries_its_code(server):
    item, handle = overdue_item(server)
    sup = server.login("sup")
    past = sup.post(f"/api/v1/tasks/{handle['id']}/complete",
                    {"data": {"action": "extend", "new_due": "2026-11-20T18:00:00+08:00"}})
    assert past.status_code == 400 and past.json()["error"]["code"] == "invalid_input"
    assert [(d["field"], d["code"]) for d in past.json()["error"]["details"]] == [("new_due", "not_future")]
    stranger = sup.post(f"/api/v1/tasks/{handle['id']}/complete", {"data": {"action": "reassign", "username": "wang"}})
    assert [d["code"] for d in stranger.json()["error"]["details"]] == ["wrong_department"]
    form = sup.post(f"/api/v1/tasks/{handle['id']}/complete", {"data": {"action": "nag"}})
    assert form.status_code == 400 and form.json()["error"]["code"] == "form_invalid"
    assert ("action", "enum") in [(d["field"], d["code"]) for d in form.json()["error"]["details"]]

    complete(server.login("zhang"), "draft_plan", item["id"], PLAN)  # late, but done
    closed = sup.post(f"/api/v1/tasks/{handle['id']}/complete",
                      {"data": {"action": "extend", "new_due": "2026-12-01T18:00:00+08:00"}})
    assert closed.status_code == 409 and closed.json()["error"]["code"] == "conflict"
    assert [d["code"] for d in closed.json()["error"]["details"]] == ["step_closed"]


def test_refused_requests_carry_codes(server):
    sec, zhang = server.login("sec"), server.login("zhang")
    missing = sec.post("/api/v1/items", {k: v for k, v in ITEM.items() if k != "title"})
    assert missing.status_code == 400 and missing.json()["error"]["code"] == "invalid_input"
    assert ("title", "required") in [(d["field"], d["code"]) for d in missing.json()["error"]["details"]]
    item = sec.post("/api/v1/items", ITEM).json()
    plan_change = zhang.post(f"/api/v1/items/{item['id']}/plan-change",
                             {"reason": "调整", "milestones": [{"date": "2026-12-01", "target": "完成"}]})
    assert plan_change.status_code == 409 and plan_change.json()["error"]["code"] == "conflict"
    assert [d["code"] for d in plan_change.json()["error"]["details"]] == ["no_plan"]
    draft = inbox_task(zhang, "draft_plan", item["id"])
    advance(server, "2026-11-25T18:00:00+08:00")  # due now: too late to ask for more time
    late = zhang.post(f"/api/v1/items/{item['id']}/extension",
                      {"task_id": draft["id"], "reason": "需协调", "new_due": "2026-12-04T18:00:00+08:00", "progress": 30})
    assert late.status_code == 409 and [d["code"] for d in late.json()["error"]["details"]] == ["fell_due"]
    nobody = server.login("admin").get("/api/v1/instances/no-such-instance")
    assert nobody.status_code == 404 and nobody.json()["error"]["code"] == "not_found"


# -- the pages: the Chinese words of the code -------------------------------------------------------
def test_pages_show_the_chinese_of_a_refusal(server):
    item = server.login("sec").post("/api/v1/items", {**ITEM, "co_departments": []}).json()
    outsider = Web(server.app, "wang").get(f"/items/{item['id']}")
    assert outsider.status_code == 403 and REFUSALS["out_of_scope"] in outsider.text
    assert "not in your scope" not in outsider.text

    ada = Web(server.app, "ada")
    headers = {"Content-Type": "application/xml", "X-CSRFToken": ada.token("/designer")}
    malformed = ada.client.post("/designer/deploy", data=b"<bpmn:definitions", headers=headers).json
    assert malformed["deployed"] is False and malformed["error"]["code"] == "invalid_definition"
    assert malformed["error"]["message"] == "XML 格式有误" and malformed["error"]["details"]["code"] == "malformed_xml"


def test_a_migration_check_names_why_not(server):
    from tests.bpmn_snippets import chain, user_task
    from tests.conftest import SECRETARY
    engine = server.engine
    engine.deploy(chain("p", user_task(1, "甲"), user_task(2, "乙")))
    instance = engine.instances.start("p", {}, SECRETARY)
    [task] = engine.tasks.inbox(SECRETARY, instance_id=instance.id)[0]
    engine.tasks.complete(task.id, {}, SECRETARY)
    engine.deploy(chain("p", user_task(1, "甲")))  # v2 drops step n2 (乙)
    response = server.login("ada").post("/api/v1/definitions/p/migrate", {"from_version": 1, "to_version": 2})
    assert response.status_code == 200, response.text
    [row] = response.json()["items"]
    assert (row["can_move"], row["code"]) == (False, "steps_missing")
