"""A page's form derived from the API's request schema (``api.web.request_forms``): the rules
are the API's, the page adds only its words."""
import pytest

from api.schemas import ExtensionIn, PlanChangeIn
from api.web import schema_form
from api.web.item_requests import PLAN_CHANGE_SCHEMA, extension_schema
from api.web.request_forms import form_schema


def test_the_plan_change_form_has_the_api_rules_and_the_page_words():
    reason, milestones = PLAN_CHANGE_SCHEMA["properties"]["reason"], PLAN_CHANGE_SCHEMA["properties"]["milestones"]
    assert set(PLAN_CHANGE_SCHEMA["required"]) == {"reason", "milestones"}
    assert (reason["minLength"], reason["maxLength"], reason["title"]) == (1, 2000, "调整理由")
    assert (milestones["minItems"], milestones["maxItems"]) == (1, 100)
    target = milestones["items"]["properties"]["target"]
    assert (target["maxLength"], target["title"]) == (1000, "阶段目标")
    assert milestones["items"]["properties"]["date"]["format"] == "date"


def test_the_extension_form_offers_the_steps_and_checks_like_the_api():
    steps = [{"id": "t1", "label": "报送进展（办理期限 2026-11-27 12:00）"}]
    schema = extension_schema(steps)
    assert list(schema["properties"]) == ["task_id", "new_due", "reason", "progress"]  # the page's order
    assert schema["properties"]["task_id"]["enum"] == ["t1"]
    assert schema["properties"]["new_due"]["format"] == "date-time"
    problems = schema_form.validate(schema, {"task_id": "t1", "new_due": "2026-12-01T12:00:00+08:00",
                                             "reason": "等待批复", "progress": 101})
    assert list(problems) == ["progress"]


def test_a_page_cannot_change_a_rule():
    with pytest.raises(ValueError, match="maxLength"):
        form_schema(PlanChangeIn, {"reason": {"maxLength": 10}})
    with pytest.raises(ValueError, match="nickname"):
        form_schema(ExtensionIn, {"nickname": {"title": "昵称"}})
