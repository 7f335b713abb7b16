"""The designer's form editor preview (POST /designer/form-preview): a task form rendered as the
task page renders it, bad schemas refused in Chinese, CSRF and the designer role required."""
import json

from tests.test_web_pages import Web

SCHEMA = {"type": "object", "title": "登记", "required": ["owner"], "properties": {
    "owner": {"type": "string", "title": "责任人"}, "count": {"type": "number", "title": "数量"},
    "done": {"type": "boolean", "title": "是否办结"}, "day": {"type": "string", "format": "date", "title": "日期"},
    "rating": {"type": "string", "enum": ["优", "良"], "title": "评价"},
    "notes": {"type": "array", "items": {"type": "string"}, "title": "要点"}}}


def preview(web, body, token=True, raw=False):
    headers = {"Content-Type": "application/json"}
    if token:
        headers["X-CSRFToken"] = web.token("/designer")
    data = body if raw else json.dumps(body)
    return web.client.post("/designer/form-preview", data=data, headers=headers)


def test_preview_renders_the_fields_like_the_task_page(server):
    ada = Web(server.app, "ada")
    answer = preview(ada, {"schema": json.dumps(SCHEMA)}).json
    assert answer["rendered"] is True
    html = answer["html"]
    assert "<h3>登记</h3>" in html and 'name="owner"' in html and 'title="必填"' in html
    assert 'type="number"' in html and 'value="true"' in html and 'type="date"' in html
    assert "<option value=\"优\"" in html and 'placeholder="每行一项"' in html
    empty = preview(ada, {"schema": json.dumps({"type": "object"})}).json
    assert empty["rendered"] and "表单中还没有字段" in empty["html"]


def test_bad_schemas_are_refused_in_chinese(server):
    ada = Web(server.app, "ada")
    cases = {
        json.dumps({"schema": ""}): ("form_schema_missing", "表单定义为空"),
        json.dumps({"other": 1}): ("form_schema_missing", "表单定义为空"),
        json.dumps(["schema"]): ("form_schema_missing", "表单定义为空"),
        json.dumps({"schema": "{"}): ("form_schema_not_json", "不是有效的 JSON"),
        json.dumps({"schema": json.dumps({"type": "string"})}): ("form_schema_not_object", "须为对象"),
        json.dumps({"schema": json.dumps({"type": "object", "properties": {"a": {"type": "strin"}}})}):
            ("bad_form_schema", "不是有效的 JSON Schema"),
        json.dumps({"schema": json.dumps({"type": "object", "properties": {"1st": {"type": "string"}}})}):
            ("bad_field_key", "字段键只能使用字母"),
    }
    for body, (code, words) in cases.items():
        response = preview(ada, body, raw=True)
        assert response.status_code == 200, body
        answer = response.json
        assert answer["rendered"] is False and answer["error"]["code"] == "invalid_input", body
        assert answer["error"]["details"][0]["code"] == code and words in answer["error"]["message"], (body, answer)
    # a body that is not JSON at all: the request guard's 400 (api.request_guard), as for every page
    assert preview(ada, "not json at all", raw=True).status_code == 400


def test_preview_needs_the_csrf_token_and_the_designer_role(server):
    assert preview(Web(server.app, "ada"), {"schema": json.dumps(SCHEMA)}, token=False).status_code == 400
    zhang = Web(server.app, "zhang")
    assert preview(zhang, {"schema": json.dumps(SCHEMA)}).status_code in (302, 403)


def test_modeler_pages_carry_the_panel_and_the_roles_in_chinese(server):
    ada = Web(server.app, "ada")
    for path in ("/designer/supervision/1/edit", "/designer/new"):
        page = ada.get(path).text
        assert "/vendor/duban/designer-panel.js" in page and "/vendor/duban/designer-panel.css" in page, path
        config = json.loads(page.split('<script type="application/json" id="panel-config">', 1)[1].split("</script>", 1)[0])
        assert ["secretariat", "秘书科"] in config["roles"] and ["staff", "承办人员"] in config["roles"]
        assert all(role not in ("admin", "designer") for role, _ in config["roles"])
    assert ada.get("/vendor/duban/designer-panel.js").status_code == 200
    assert ada.get("/vendor/duban/designer-panel.html").status_code == 404
