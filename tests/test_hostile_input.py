"""Hostile input at every endpoint (issue 13): a 400 in the contract's shape, never a 5xx, and
nothing written.

The corpus is generated: every ``/api/v1`` rule of the app's url_map with each of its methods,
path parameters filled with hostile ids, query strings and JSON bodies with hostile values in
every field the OpenAPI document names. It runs through the WSGI app in-process (thousands of
requests); a few requests go over real HTTP too, where the bytes on the wire matter.
"""
import json

import pytest
import requests
from sqlalchemy import func, inspect, select, table

from tests.api_client import PASSWORD
from tests.conftest import BOTH_DATABASES
from tests.helpers import ITEM
from tests.test_web_pages import Web

# Raw JSON texts, not Python values: json.dumps cannot write some of them (a 5,001-digit int).
NUL, SURROGATE = json.dumps("a\x00b"), '"\\ud800"'
HOSTILE_VALUES = [NUL, SURROGATE, "1" * 5001, "1e999", "-" + "9" * 40, "9" * 20, json.dumps("x" * 5000),
                  '"<!DOCTYPE x>"', "[" * 50 + "]" * 50, '{"now": "x"}', "null", "[]"]
HOSTILE_BODIES = ["[" * 100_000, "[" * 1000 + "]" * 1000, '{"a":' * 5000 + "1" + "}" * 5000, "1" * 5001,
                  SURROGATE, '{"\\u0000": 1}', '{"x": "\\udfff"}', b"\xff\xfe{", "{", "NaN"]
HOSTILE_IDS = ["a%00b", "%ED%A0%80", "x" * 3000, "1" * 5001, "%0a", "..%2f..%2fetc", "%C0%AE", "-1", "0"]
HOSTILE_QUERIES = ["q=a%00b", "limit=" + "9" * 5001, "offset=1e999", "item_id=%00", "week=%ED%A0%80",
                   "status=%00", "department=%00", "definition=a%00", "business_key=%00", "month=9999-99",
                   "format=%00", "instance_id=" + "x" * 3000]


def row_counts(engine):
    """Rows of every table: what a refused request must leave as it was."""
    with engine.db.read() as session:
        names = inspect(session.get_bind()).get_table_names()
        return {name: session.scalar(select(func.count()).select_from(table(name))) for name in names}


def api_rules(app):
    """``[(rule, method)]`` for every /api/v1 endpoint."""
    return sorted((rule.rule, method) for rule in app.url_map.iter_rules() if rule.rule.startswith("/api/v1")
                  for method in rule.methods - {"HEAD", "OPTIONS"})


def body_fields(spec, path, method):
    """The property names of the operation's JSON body in the OpenAPI document (or a few defaults)."""
    openapi_path = path.replace("<", "{").replace(">", "}")
    operation = spec["paths"].get(openapi_path, {}).get(method.lower(), {})
    schema = operation.get("requestBody", {}).get("content", {}).get("application/json", {}).get("schema", {})
    if "$ref" in schema:
        schema = spec["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]]
    return list(schema.get("properties", {})) or ["name", "data", "text"]


def fill(rule, value):
    path = rule
    while "<" in path:
        start, end = path.index("<"), path.index(">")
        path = path[:start] + value + path[end + 1:]
    return path


def assert_refused_in_shape(response, what):
    assert response.status_code < 500, f"{what}: {response.status_code} {response.get_data(as_text=True)[:300]}"
    if response.status_code >= 400 and response.is_json:
        error = response.get_json()["error"]
        assert set(error) == {"code", "message", "details"} and error["code"], what


def hostile_requests(app, spec):
    """Yield ``(method, url, body_text)``: the generated corpus."""
    for rule, method in api_rules(app):
        for hostile_id in HOSTILE_IDS:
            yield method, fill(rule, hostile_id), None
        url = fill(rule, "nope")
        for query in HOSTILE_QUERIES:
            yield method, f"{url}?{query}", None
        if method in ("POST", "PATCH", "PUT"):
            fields = body_fields(spec, rule, method)
            for value in HOSTILE_VALUES:
                yield method, url, "{" + ", ".join(f'"{f}": {value}' for f in fields) + "}"
                for field in fields:
                    yield method, url, "{" + f'"{field}": {value}' + "}"
            for body in HOSTILE_BODIES:
                yield method, url, body


@BOTH_DATABASES
def test_every_endpoint_answers_hostile_input_with_400_and_writes_nothing(server):
    app, admin = server.app, server.login("admin")
    client = app.test_client()
    headers = {"Authorization": f"Bearer {server.tokens['admin']}", "Content-Type": "application/json"}
    spec = client.get("/api/v1/openapi.json").get_json()
    counts = row_counts(server.engine)
    sent, accepted = 0, []
    for method, url, body in hostile_requests(app, spec):
        if url.startswith("/api/v1/auth/revoke"):
            continue  # the one request that must write: it ends the caller's token
        response = client.open(url, method=method, headers=headers,
                               data=body if not isinstance(body, str) else body.encode("utf-8", "surrogatepass"))
        what = f"{method} {url} {(body or '')[:80]!r}"
        assert_refused_in_shape(response, what)
        sent += 1
        if method != "GET":  # a refused request writes nothing; an accepted one (plain text is fine) may
            now = row_counts(server.engine)
            # A refused login is the exception on purpose: it is audited and counted by the
            # login throttle (api/login_throttle.py), so guessing leaves a trace.
            refused_login = url.startswith("/api/v1/auth/token") and response.status_code in (401, 429)
            assert response.status_code < 400 or now == counts or refused_login, f"{what} wrote though refused"
            if response.status_code < 400:
                accepted.append(what)
            counts = now
    assert sent > 2000
    assert all(what.startswith("POST /api/v1/complaints ") for what in accepted), accepted
    assert admin.get("/api/v1/me").status_code == 200


@BOTH_DATABASES
def test_the_named_cases_are_400_with_their_codes(server):
    """The findings' own examples, over real HTTP: each a 400 ``invalid_input`` naming its problem."""
    sec = server.login("sec")
    url = server.base + "/api/v1/items"
    headers = {"Authorization": f"Bearer {server.tokens['sec']}", "Content-Type": "application/json"}
    before = row_counts(server.engine)
    cases = {"[" * 100_000: "too_deep", '{"title": ' + "1" * 5001 + "}": "number_too_long",
             '{"title": "\\ud800"}': "lone_surrogate", json.dumps({**ITEM, "title": "a\x00b"}): "control_character",
             '{"title": 1e999}': "number_too_long", "{": "malformed_json"}
    for body, code in cases.items():
        response = requests.post(url, data=body.encode(), headers=headers, timeout=30)
        assert response.status_code == 400, (body[:40], response.text)
        error = response.json()["error"]
        assert error["code"] == "invalid_input" and [d["code"] for d in error["details"]] == [code], error
    for path in ("/api/v1/items/a%00b", "/api/v1/problems?q=a%00b", "/api/v1/complaints/%00",
                 "/api/v1/users/a%00", "/api/v1/departments?q=%00"):
        response = requests.get(server.base + path, headers=headers, timeout=30)
        assert response.status_code == 400 and response.json()["error"]["details"][0]["code"] == "control_character"
    login = requests.post(server.base + "/api/v1/auth/token", json={"username": "a\x00", "password": "x"}, timeout=30)
    assert login.status_code == 400, login.text
    complaint = requests.post(server.base + "/api/v1/complaints", json={"text": "反映\x00问题"}, timeout=30)
    assert complaint.status_code == 400, complaint.text
    assert sec.get("/api/v1/items").json()["total"] == 0
    assert row_counts(server.engine) == before


@BOTH_DATABASES
def test_a_doctype_is_refused_on_deploy(server):
    ada = server.login("ada")
    before = row_counts(server.engine)
    for xml in ('<?xml version="1.0"?><!DOCTYPE d [<!ENTITY % p "<!ENTITY e \'z\'>"> %p;]><d>&e;</d>',
                '<!DOCTYPE d [<!ENTITY a "b">]><bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/'
                '20100524/MODEL"/>', '<!DOCTYPE d SYSTEM "file:///etc/passwd"><d/>'):
        response = ada.request("POST", "/api/v1/definitions", data=xml.encode(),
                               headers={"Content-Type": "application/xml"})
        assert response.status_code == 400, response.text
        assert response.json()["error"]["details"]["code"] in ("doctype", "malformed_xml"), response.text
    assert row_counts(server.engine) == before


@BOTH_DATABASES
def test_pages_answer_a_chinese_400_page(server):
    web = Web(server.app, "sec")
    before = row_counts(server.engine)
    for path in ("/items?q=a%00b", "/problems?q=%00", "/items/a%00b", "/inbox?item_id=%00"):
        response = web.get(path)
        assert response.status_code == 400, (path, response.status_code)
        assert "请求有误" in response.get_data(as_text=True) and not response.is_json
    anonymous = Web(server.app)
    for next_ in ("/%0d%0aSet-Cookie:x=1", "/inbox%0a", "/%5c%5cevil.example"):
        page = anonymous.post(f"/login?next={next_}", {"username": "sec", "password": PASSWORD}, token_from="/login")
        assert page.status_code == 400, (next_, page.status_code)
        assert "请求有误" in page.get_data(as_text=True)
    assert row_counts(server.engine) == before  # no login was audited


@BOTH_DATABASES
def test_control_and_bidi_characters_are_refused_in_names_and_text(server):
    """Issue 13: C0/C1 controls are refused (tab, newline and CR allowed in long text only), and
    bidirectional overrides in names (``photo\\u202egpj.exe``)."""
    anonymous, sec = server.anonymous(), server.login("sec")
    before = row_counts(server.engine)
    refused = {
        ("/api/v1/complaints", json.dumps({"text": "反映", "attachment_name": "photo\u202egpj.exe"})): "bidi_control",
        ("/api/v1/complaints", json.dumps({"text": "反映\x07问题"})): "control_character",
        ("/api/v1/complaints", json.dumps({"text": "反映\u0085问题"})): "control_character",
        ("/api/v1/complaints", json.dumps({"text": "反映", "contact": "张三\n138"})): "control_character",
        ("/api/v1/complaints", json.dumps({"text": "反映", "contact": "\u202e张三"})): "bidi_control",
        ("/api/v1/items", json.dumps({**ITEM, "title": "事项\u202e名称"})): "bidi_control",
        ("/api/v1/items", json.dumps({**ITEM, "requirements": "要求\x1b[31m"})): "control_character",
        ("/api/v1/problems", json.dumps({"title": "问题\t", "source": "audit", "department": "d1",
                                         "deadline": "2026-12-31"})): "control_character",
    }
    for (path, body), code in refused.items():
        client = anonymous if "complaints" in path else sec
        response = client.request("POST", path, data=body.encode(), headers={"Content-Type": "application/json"})
        assert response.status_code == 400, (body, response.text)
        assert code in [d["code"] for d in response.json()["error"]["details"]], (body, response.text)
    assert row_counts(server.engine) == before
    accepted = anonymous.post("/api/v1/complaints", {"text": "第一行\r\n第二行\t缩进", "attachment_name": "照片.jpg"})
    assert accepted.status_code == 201, accepted.text
    item = sec.post("/api/v1/items", {**ITEM, "requirements": "一、\n二、\t完成"})
    assert item.status_code == 201, item.text


def page_rules(app):
    return sorted((rule.rule, method) for rule in app.url_map.iter_rules()
                  if not rule.rule.startswith("/api/v1") and rule.endpoint != "static"
                  for method in rule.methods - {"HEAD", "OPTIONS"})


@BOTH_DATABASES
def test_every_page_answers_hostile_input_without_a_5xx(server):
    """The pages' half of the corpus: hostile ids in every path, hostile query strings and form
    fields; a refusal is the Chinese 400 page, never a 500."""
    admin = Web(server.app, "admin")
    token = admin.token("/inbox")
    counts = row_counts(server.engine)
    for rule, method in page_rules(server.app):
        for hostile_id in HOSTILE_IDS:
            url = fill(rule, hostile_id)
            if method == "GET":
                response = admin.get(url)
            else:
                response = admin.client.post(url, data={"csrf_token": token, "reason": "a\x00b", "text": "\x00"})
            assert response.status_code < 500, (method, url, response.status_code)
        for query in HOSTILE_QUERIES + ["next=/%0a", "page=" + "9" * 5001, "version=" + "9" * 5001]:
            url = f"{fill(rule, 'nope')}?{query}"
            response = admin.get(url) if method == "GET" else admin.client.post(url, data={"csrf_token": token})
            assert response.status_code < 500, (method, url, response.status_code)
    assert row_counts(server.engine)["item"] == counts["item"]
