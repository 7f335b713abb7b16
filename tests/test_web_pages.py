"""The web pages without a browser (Flask's test client over the seeded test server's app):
sessions and CSRF, role checks and scope, task forms, plan changes, items filters, the
designer's deploy endpoint and diff, the admin pages, the vendor route, the session key.
(The escalation desk, extensions, claims, comments and notifications: test_web_desks.py; the
rectification pages: test_web_rectification.py; the admin cockpit: test_web_monitor.py.)"""
import datetime as dt
import re


from api.web import schema_form, secret_key
from engine.models import Definition
from tests.api_client import PASSWORD
from tests.conftest import BOTH_DATABASES, REPO
from tests.helpers import ITEM, PLAN


class Web:
    """A logged-in (or anonymous) browser stand-in that carries the CSRF token like the pages do."""

    def __init__(self, app, username=None, password=PASSWORD):
        self.client = app.test_client()
        if username:
            response = self.post("/login", {"username": username, "password": password})
            assert response.status_code == 302, response.text

    def token(self, path="/login"):
        html = self.client.get(path).text
        return re.search(r'name="csrf-token" content="([^"]+)"', html).group(1)

    def get(self, path, **kwargs):
        return self.client.get(path, **kwargs)

    def post(self, path, data=None, token_from=None):
        data = dict(data or {})
        data["csrf_token"] = self.token(token_from or ("/login" if path == "/login" else "/inbox"))
        return self.client.post(path, data=data)


def make_item(server, **changes):
    response = server.login("sec").post("/api/v1/items", {**ITEM, **changes})
    assert response.status_code == 201, response.text
    return response.json()


def task_id(server, username, key, item_id):
    items = server.login(username).get("/api/v1/tasks", params={"item_id": item_id}).json()["items"]
    return next(t["id"] for t in items if t["key"] == key)


# -- sessions, CSRF, roles ----------------------------------------------------------------------
def test_login_logout_and_csrf(server):
    anonymous = Web(server.app)
    response = anonymous.get("/inbox")
    assert response.status_code == 302 and "/login?next=/inbox" in response.headers["Location"]
    assert anonymous.get("/").headers["Location"].endswith("/login")
    wrong = anonymous.post("/login", {"username": "zhang", "password": "nope"})
    assert "用户名或密码错误" in wrong.text and "duban_session" not in wrong.headers.get("Set-Cookie", "user")

    # a POST without the CSRF token is refused and changes nothing
    refused = anonymous.client.post("/login", data={"username": "zhang", "password": PASSWORD})
    assert refused.status_code == 400 and "表单已失效" in refused.text
    assert anonymous.get("/inbox").status_code == 302

    zhang = Web(server.app, "zhang")
    assert zhang.get("/inbox").status_code == 200
    assert zhang.client.post("/logout").status_code == 400  # no token
    assert zhang.post("/logout").status_code == 302
    assert zhang.get("/inbox").status_code == 302

    # an open redirect is not followed after login
    web = Web(server.app)
    response = web.client.post("/login?next=//evil.example/x", data={
        "username": "zhang", "password": PASSWORD, "csrf_token": web.token()})
    assert response.headers["Location"] == "/inbox"


def test_role_checks_and_scope(server):
    item = make_item(server, co_departments=[])
    wang, zhang = Web(server.app, "wang"), Web(server.app, "zhang")
    for path in ("/designer", "/admin/users", "/admin/departments", "/admin/calendar", "/escalations",
                 "/items/new", "/designer/supervision/1/edit", "/admin/monitor", "/admin/instances",
                 "/admin/migration", "/complaints", "/problems/new"):
        assert wang.get(path).status_code == 403, path
    assert wang.get(f"/items/{item['id']}").status_code == 403
    assert wang.get(f"/items/{item['id']}/diagram.xml").status_code == 403
    draft = task_id(server, "zhang", "draft_plan", item["id"])
    assert wang.get(f"/tasks/{draft}").status_code == 403
    assert "制定工作计划" in zhang.get("/inbox").text
    assert wang.get("/items").text.count(item["code"]) == 0
    assert zhang.get("/items").text.count(item["code"]) >= 1
    assert Web(server.app, "sup").get(f"/tasks/{draft}").status_code == 200  # overseers may look


# -- task forms -----------------------------------------------------------------------------------
def test_task_form_errors_kept_data_and_completion(server):
    item = make_item(server)
    zhang = Web(server.app, "zhang")
    draft = task_id(server, "zhang", "draft_plan", item["id"])
    page = zhang.get(f"/tasks/{draft}").text
    assert "督办通知单" in page and item["code"] in page and 'name="milestones.0.date"' in page

    form = {"owner": "zhang", "milestones.0.date": "2026-12-15", "milestones.0.target": "方案落地",
            "milestones.4.date": "", "milestones.4.target": "", "measures": "专班推进", "expected_result": ""}
    response = zhang.post(f"/tasks/{draft}", form)
    assert response.status_code == 200
    assert re.search(r'data-field="expected_result">此项为必填<', response.text)
    assert 'value="方案落地"' in response.text and "专班推进</textarea>" in response.text

    # the no-JavaScript row buttons add and remove rows without completing
    added = zhang.post(f"/tasks/{draft}", {**form, "_action": "add:milestones"}).text
    assert 'name="milestones.1.date"' in added and "field-error" not in added
    removed = zhang.post(f"/tasks/{draft}", {**form, "milestones.1.target": "x", "_action": "remove:milestones:0"}).text
    assert 'value="x"' in removed and 'value="方案落地"' not in removed

    response = zhang.post(f"/tasks/{draft}", {**form, "expected_result": "按期完成"})
    assert response.status_code == 302 and response.headers["Location"] == "/inbox"
    body = server.login("sec").get(f"/api/v1/items/{item['id']}").json()
    assert body["plan"]["milestones"] == [{"date": "2026-12-15", "target": "方案落地"}]
    assert body["plan"]["expected_result"] == "按期完成"

    # done, it cannot be completed again; the leader sees a yes/no question
    again = zhang.post(f"/tasks/{draft}", {**form, "expected_result": "按期完成"})
    assert again.status_code == 302
    boss = Web(server.app, "boss")
    approve = task_id(server, "boss", "approve_plan", item["id"])
    page = boss.get(f"/tasks/{approve}").text
    assert 'type="radio" name="approved" value="true"' in page and "方案落地" in page
    refused = boss.post(f"/tasks/{approve}", {"approved": "false", "comment": ""})
    assert re.search(r'data-field="comment">此项为必填<', refused.text)
    assert boss.post(f"/tasks/{approve}", {"approved": "true"}).status_code == 302


def test_plan_change_through_the_pages(server):
    item = make_item(server)
    sec, zhang, wang = server.login("sec"), Web(server.app, "zhang"), Web(server.app, "wang")
    refused = zhang.post(f"/items/{item['id']}/plan-change", {
        "reason": "提前", "milestones.0.date": "2026-12-10", "milestones.0.target": "提前完成"})
    assert "尚无可调整的工作计划" in refused.text
    sec_client = server.login("zhang")
    draft = task_id(server, "zhang", "draft_plan", item["id"])
    assert sec_client.post(f"/api/v1/tasks/{draft}/complete", {"data": PLAN}).status_code == 200
    approve = task_id(server, "boss", "approve_plan", item["id"])
    assert server.login("boss").post(f"/api/v1/tasks/{approve}/complete", {"data": {"approved": True}}).status_code == 200

    page = zhang.get(f"/items/{item['id']}/plan-change").text
    assert 'value="方案落地"' in page  # the current milestones, to edit
    empty = zhang.post(f"/items/{item['id']}/plan-change", {"reason": "", "milestones.0.date": "", "milestones.0.target": ""})
    assert re.search(r'data-field="reason">此项为必填<', empty.text)
    assert "至少填写 1 项" in empty.text
    co = wang.post(f"/items/{item['id']}/plan-change", {
        "reason": "x", "milestones.0.date": "2026-12-10", "milestones.0.target": "y"})
    assert "只有主办部门的承办人员" in co.text
    done = zhang.post(f"/items/{item['id']}/plan-change", {
        "reason": "上级要求提前", "milestones.0.date": "2026-12-10", "milestones.0.target": "提前完成"})
    assert done.status_code == 302

    boss = Web(server.app, "boss")
    change_task = task_id(server, "boss", "approve_plan_change", item["id"])
    page = boss.get(f"/tasks/{change_task}").text
    assert "计划调整申请" in page and "上级要求提前" in page and "提前完成" in page
    assert boss.post(f"/tasks/{change_task}", {"approved": "true", "comment": "同意"}).status_code == 302
    assert sec.get(f"/api/v1/items/{item['id']}").json()["plan"]["state"] == "changed"


# -- items ----------------------------------------------------------------------------------------
@BOTH_DATABASES
def test_item_list_filters_and_detail(server):
    first = make_item(server, title="老旧小区改造", co_departments=[])
    second = make_item(server, title="营商环境优化", department="d2", co_departments=[])
    sec = Web(server.app, "sec")

    def codes(query):
        return set(re.findall(r"DB-2026-\d{4}", sec.get("/items" + query).text))

    assert codes("") == {first["code"], second["code"]}
    assert codes("?q=小区") == {first["code"]}
    assert codes("?department=d2") == {second["code"]}
    assert codes("?status=closed") == set()
    assert codes("?light=red") == set() and codes("?overdue=1") == set()
    server.engine.advance_clock(to=dt.datetime.fromisoformat("2026-11-26T09:00:00+08:00"))
    assert codes("?light=red") == {first["code"], second["code"]} == codes("?overdue=1")
    assert "逾期 1 项" in Web(server.app, "zhang").get("/inbox").text

    page = sec.get(f"/items/{first['id']}").text
    # the plan fell due on 11-25 18:00, so the escalation step is open beside it
    assert 'data-current="draft_plan,handle_escalation"' in page and "流程启动" in page and "发展和改革委员会" in page
    # the timeline and the legend in Chinese: timers by their BPMN names, 系统 for the engine,
    # the process by its name — not remind_plan, system or supervision
    timeline = re.search(r'<ol class="timeline">.*?</ol>', page, re.S).group(0)
    assert "定时触发：催办" in timeline and "定时触发：逾期" in timeline, timeline
    assert '<span class="actor">系统</span>' in timeline
    assert not re.search(r"[a-z]+_[a-z_]+|>system<", timeline)
    assert "流程：督查督办 版本 1" in page
    xml = sec.get(f"/items/{first['id']}/diagram.xml")
    assert xml.mimetype == "application/xml" and b'id="draft_plan"' in xml.data


def test_register_an_item_through_the_page(server):
    sec = Web(server.app, "sec")
    page = sec.get("/items/new").text
    assert "分管领导赵" in page and "住房和城乡建设局" in page
    refused = sec.post("/items/new", {"title": "", "department": "d1", "co_departments": "d1",
                                      "leader": "boss", "deadline": "2026-13-01"})
    assert re.search(r'data-field="title">此项为必填<', refused.text)
    assert "请输入有效日期" in refused.text and "主办部门不能同时作为协办部门" in refused.text
    created = sec.post("/items/new", {"title": "河道整治", "basis": "public_complaint", "department": "d2",
                                      "leader": "boss2", "deadline": "2026-12-31"})
    assert created.status_code == 302
    items = server.login("sec").get("/api/v1/items").json()["items"]
    assert [(i["title"], i["department"], i["leader"], i["basis"]) for i in items] == [
        ("河道整治", "d2", "boss2", "public_complaint")]


# -- designer -------------------------------------------------------------------------------------
def test_deploy_endpoint_diff_and_versions(server):
    ada = Web(server.app, "ada")
    source = (REPO / "bpmn" / "supervision.bpmn").read_text()

    def deploy(body, token=True):
        headers = {"Content-Type": "application/xml"}
        if token:
            headers["X-CSRFToken"] = ada.token("/designer")
        return ada.client.post("/designer/deploy", data=body.encode(), headers=headers)

    assert deploy(source, token=False).status_code == 400  # CSRF
    same = deploy(source).json
    assert same["deployed"] and same["version"] == 1 and same["created"] is False
    changed = deploy(source.replace('name="备案"', 'name="登记备案"')).json
    assert changed["deployed"] and changed["version"] == 2 and changed["created"] is True
    broken = deploy(source.replace('<bpmn:outgoing>flow_to_report_merge</bpmn:outgoing>', '')
                    .replace('<bpmn:sequenceFlow id="flow_to_report_merge" sourceRef="file_plan" targetRef="report_merge"/>', '')).json
    assert broken["deployed"] is False and broken["error"]["details"]["element"] == "file_plan"
    malformed = deploy("<bpmn:definitions").json
    assert malformed["deployed"] is False and malformed["error"]["details"]["line"] == 1
    assert deploy("  ").json["deployed"] is False
    with server.engine.db.read() as db:
        assert db.query(Definition).filter_by(key="supervision").count() == 2
    assert Web(server.app, "zhang").client.post("/designer/deploy", data=b"<x/>").status_code in (400, 403)

    versions = ada.get("/designer/supervision").text
    assert 'data-version="2"' in versions and 'data-version="1"' in versions
    diff = ada.get("/designer/supervision/diff?a=1&b=2").text
    assert re.search(r'<span class="del">-.*name=&#34;备案&#34;', diff)
    assert re.search(r'<span class="add">\+.*name=&#34;登记备案&#34;', diff)
    assert "完全相同" in ada.get("/designer/supervision/diff?a=2&b=2").text
    assert "bpmn-modeler.production.min.js" in ada.get("/designer/supervision/2/edit").text
    assert ada.get("/designer/supervision/9/edit").status_code == 404
    assert ada.get("/designer/nothing").status_code == 404
    assert b"new_process" in ada.get("/designer/new.xml").data


# -- admin ----------------------------------------------------------------------------------------
def test_admin_departments_and_users(server):
    admin = Web(server.app, "admin")
    assert "发展和改革委员会" in admin.get("/admin/departments").text
    bad = admin.post("/admin/departments", {"code": "d 3", "name": ""})
    assert "只能使用字母" in bad.text and re.search(r'data-field="name">此项为必填', bad.text)
    assert "该部门代码已存在" in admin.post("/admin/departments", {"code": "d1", "name": "重复"}).text
    assert admin.post("/admin/departments", {"code": "d3", "name": "教育局"}).status_code == 302

    bad = admin.post("/admin/users", {"username": "zhao", "display_name": "", "password": "short"})
    assert "密码至少 10 个字符" in bad.text and "至少选择一个角色" in bad.text
    assert 'value="zhao"' in bad.text  # kept
    assert "该用户名已存在" in admin.post("/admin/users", {
        "username": "zhang", "display_name": "x", "password": "long-enough", "roles": "staff"}).text
    assert admin.post("/admin/users", {"username": "zhao", "display_name": "教育局赵六", "password": "long-enough",
                                       "department": "d3", "roles": "staff"}).status_code == 302
    assert Web(server.app, "zhao", "long-enough").get("/inbox").status_code == 200  # password works, staff of d3
    users = server.login("admin").get("/api/v1/users").json()["items"]
    assert {"username": "zhao", "display_name": "教育局赵六", "department": "d3", "roles": ["staff"],
            "active": True} in users


def test_calendar_page(server):
    admin = Web(server.app, "admin")
    calendar = server.engine.calendar
    page = admin.get("/admin/calendar?year=2026").text
    assert 'data-status="official"' in page
    holidays = re.search(r'<ul class="calendar-days" id="holidays">(.*?)</ul>', page, re.S).group(1)
    weekends = re.search(r'<ul class="calendar-days" id="working-weekends">(.*?)</ul>', page, re.S).group(1)
    listed = set(re.findall(r"\d{4}-\d{2}-\d{2}", holidays))
    expected = {d for d in (dt.date(2026, 1, 1) + dt.timedelta(n) for n in range(365))
                if d.weekday() < 5 and not calendar.is_working_day(d)}
    assert listed == {d.isoformat() for d in expected} and "2026-10-01" in listed
    assert set(re.findall(r"\d{4}-\d{2}-\d{2}", weekends)) == {
        d.isoformat() for d in (dt.date(2026, 1, 1) + dt.timedelta(n) for n in range(365))
        if d.weekday() >= 5 and calendar.is_working_day(d)}
    far = admin.get("/admin/calendar?year=2099").text
    assert 'data-status="estimated"' in far and "估算" in far and "配置文件中的本地放假日" in far
    assert 'data-status="weekends_only"' in admin.get("/admin/calendar?year=2101").text


def test_calendar_page_shows_configured_years(engine_factory):
    from tests.api_client import Server

    engine = engine_factory(calendar={"extra_holidays": ["2099-01-02"], "extra_working_days": ["2099-01-03"]})
    server = Server(engine).seed()
    try:
        page = Web(server.app, "admin").get("/admin/calendar?year=2099").text
        assert 'data-status="estimated"' in page and "2099-01-02" in page and "2099-01-03" in page
        assert "本地配置" in page
    finally:
        server.stop()


def test_calendar_page_enters_a_schedule_and_applies_it(server):
    admin = Web(server.app, "admin")
    page = admin.get("/admin/calendar?year=2027").text
    assert 'id="estimated-note"' in page and "2027-02-05\n2027-02-08" in page  # the form starts from the estimate
    refused = admin.post("/admin/calendar?year=2027", {"holidays": "2027-02-05~2027-02-12\n2028-01-01\n2027-13-01",
                                                         "working_days": "2027-02-22、2027-02-06"})
    assert refused.status_code == 200
    for words in ("2028-01-01 不在 2027 年内", "「2027-13-01」不是有效日期", "2027-02-22 是周一至周五",
                  "2027-02-06 不能既放假又调休上班"):
        assert words in refused.text, words
    assert server.engine.calendar_schedules.version() is None  # nothing saved
    saved = admin.post("/admin/calendar?year=2027", {"holidays": "2027-01-01\n2027-02-05~2027-02-12",
                                                       "working_days": "2027-02-20"})
    assert saved.status_code == 302
    page = admin.get("/admin/calendar?year=2027").text
    assert 'data-status="entered"' in page and "已保存 2027 年节假日安排" in page and "2027-02-06、2027-02-07 是周末" in page
    assert "2027-02-20（周六）" in page and 'id="no-moves"' in page and 'id="apply-form"' not in page


def test_clock_page(server):
    admin = Web(server.app, "admin")
    assert "2026-11-23 09:00:00" in admin.get("/admin/clock").text
    assert "时钟不能回拨" in admin.post("/admin/clock", {"to": "2026-11-01T09:00"}).text
    assert "请输入推进的时长" in admin.post("/admin/clock", {"amount": "x"}).text
    assert "一次最多推进 10 年" in admin.post("/admin/clock", {"to": "5608-01-01T09:00"}).text
    assert admin.post("/admin/clock", {"amount": "2", "unit": "hours"}).status_code == 302
    assert "2026-11-23 11:00:00" in admin.get("/admin/clock").text
    assert admin.post("/admin/clock", {"to": "2026-11-24T10:30"}).status_code == 302
    assert server.engine.clock.now() == dt.datetime.fromisoformat("2026-11-24T10:30:00+08:00")


def test_clock_page_is_absent_in_system_mode(engine_factory):
    from tests.api_client import Server

    server = Server(engine_factory(clock={"mode": "system"})).seed()
    try:
        admin = Web(server.app, "admin")
        assert admin.get("/admin/clock").status_code == 404
        assert "模拟时钟" not in admin.get("/inbox").text
    finally:
        server.stop()


def test_escalation_desk_without_escalations(server):
    """The desk is wired (tests/test_web_desks.py handles escalations): nothing overdue, nothing listed."""
    page = Web(server.app, "sup").get("/escalations").text
    assert "尚未接入" not in page and 'id="no-escalations"' in page and 'id="open-count">待处置 0 件' in page
    assert "暂无已处置的升级督办" in Web(server.app, "sup").get("/escalations?state=handled").text


# -- assets and the session key -------------------------------------------------------------------
def test_vendor_assets_are_served_from_node_modules(server):
    web = Web(server.app)
    response = web.get("/vendor/bpmn-js/bpmn-navigated-viewer.production.min.js")
    assert response.status_code == 200 and len(response.data) > 100_000
    assert web.get("/vendor/dmn-js/assets/dmn-js-decision-table.css").status_code == 200
    assert web.get("/vendor/echarts/echarts.common.min.js").status_code == 200
    assert web.get("/vendor/left-pad/index.js").status_code == 404
    assert web.get("/vendor/bpmn-js/../package.json").status_code == 404
    assert web.get("/vendor/swagger-ui-dist/swagger-ui-bundle.js").status_code == 200
    for page in ("index.html", "oauth2-redirect.html", "package.json"):  # assets only, no demo pages
        assert web.get(f"/vendor/swagger-ui-dist/{page}").status_code == 404, page


def test_session_key_from_config_or_generated_once(tmp_path):
    assert secret_key({"web": {"secret_key": "configured"}}) == "configured"
    path = tmp_path / "var" / "secret_key"
    first = secret_key({"web": {"secret_key_file": str(path)}})
    assert len(first) == 64 and path.stat().st_mode & 0o777 == 0o600
    assert secret_key({"web": {"secret_key_file": str(path)}}) == first


# -- the schema form --------------------------------------------------------------------------------
def test_schema_form_widgets_parse_and_messages():
    import zoneinfo

    from werkzeug.datastructures import MultiDict

    tz = zoneinfo.ZoneInfo("Asia/Shanghai")
    schema = {"type": "object", "required": ["n", "when", "ok"], "properties": {
        "n": {"type": "integer", "minimum": 1, "maximum": 5, "title": "数量"},
        "x": {"type": "number"},
        "when": {"type": "string", "format": "date-time"},
        "ok": {"type": "boolean"},
        "level": {"type": "integer", "enum": [1, 2, 3], "enumNames": ["一级", "二级", "三级"]},
        "tags": {"type": "array", "items": {"type": "string", "enum": ["a", "b"]}},
        "notes": {"type": "array", "items": {"type": "string"}},
        "contact": {"type": "object", "properties": {"name": {"type": "string", "maxLength": 20}}},
        "short": {"type": "string", "maxLength": 50},
    }}
    widgets = {f.key: f.widget for f in schema_form.fields(schema)}
    assert widgets == {"n": "integer", "x": "number", "when": "datetime", "ok": "boolean", "level": "select",
                       "tags": "checkboxes", "notes": "lines", "contact": "object", "short": "text"}
    assert [o for o in schema_form.fields(schema)[4].options] == [("1", "一级"), ("2", "二级"), ("3", "三级")]
    form = MultiDict([("n", "3"), ("x", "2.5"), ("when", "2026-11-23T09:30"), ("ok", "false"), ("level", "2"),
                      ("tags", "a"), ("tags", "b"), ("notes", "一\n\n二"), ("contact.name", "张三")])
    data, values, errors = schema_form.submit(schema, form, tz)
    assert errors == {}
    assert data == {"n": 3, "x": 2.5, "when": "2026-11-23T09:30:00+08:00", "ok": False, "level": 2,
                    "tags": ["a", "b"], "notes": ["一", "二"], "contact": {"name": "张三"}}
    assert schema_form.flatten(schema, data, tz)["when"] == "2026-11-23T09:30"
    _, values, errors = schema_form.submit(schema, MultiDict({"n": "9", "x": "abc", "level": "7", "ok": "maybe"}), tz)
    assert errors == {"n": ["不能大于 5"], "x": ["请输入数字"], "level": ["请选择有效选项"], "ok": ["请选择是或否"],
                      "when": ["此项为必填"]}
    assert values["x"] == "abc"  # shown again as typed


def test_unknown_urls_answer_a_chinese_page_and_the_api_keeps_json(server):
    """An unknown page is a Chinese 404 page (with the reader's navigation when logged in); an
    unknown API path keeps the API's JSON error."""
    for web in (Web(server.app), Web(server.app, "zhang")):
        page = web.get("/no/such/page")
        assert page.status_code == 404 and page.mimetype == "text/html"
        assert "未找到该页面。" in page.text and "<title>出错了（404）" in page.text and "not_found" not in page.text
    assert 'class="nav"' in Web(server.app, "zhang").get("/no/such/page").text
    for path in ("/api/v1/no-such-thing", "/api/nothing"):
        answer = Web(server.app).get(path)
        assert answer.status_code == 404 and answer.get_json()["error"]["code"] == "not_found", path
