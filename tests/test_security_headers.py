"""Security headers over HTTP (issue 13): every response carries the page policy (CSP, no
framing, nosniff, referrer policy); every user-supplied document — deployed BPMN/DMN XML, CSV and
XLSX exports — is served as a sandboxed download (api/headers.py). The browser side is
tests/test_web_browser_security.py."""
from pathlib import Path

from tests.test_web_pages import Web, make_item

REPO = Path(__file__).resolve().parent.parent
SCRIPT = '<html:script xmlns:html="http://www.w3.org/1999/xhtml">window.__xss = 1; alert(document.domain)</html:script>'


def hostile_supervision():
    """The shipped supervision process with an XHTML script in its extension elements."""
    source = (REPO / "bpmn" / "supervision.bpmn").read_text(encoding="utf-8")
    opening = '<bpmn:process id="supervision" name="督查督办" isExecutable="true">'
    assert opening in source
    return source.replace(opening, f"{opening}\n    <bpmn:extensionElements>{SCRIPT}</bpmn:extensionElements>")


def deploy_hostile(server):
    """Deploy the hostile supervision as ada (designer) and start an item on it: (version, item id)."""
    response = server.login("ada").post("/api/v1/definitions", data=hostile_supervision().encode("utf-8"),
                                        headers={"Content-Type": "application/xml"})
    assert response.status_code == 201, response.text
    return response.json()["version"], make_item(server)["id"]


def directives(response):
    policy = response.headers.get("Content-Security-Policy", "")
    return {part.split()[0]: part.split()[1:] for part in (p.strip() for p in policy.split(";")) if part}


def assert_page_headers(response):
    assert response.headers.get("X-Frame-Options") == "DENY", response.request.url
    assert response.headers.get("X-Content-Type-Options") == "nosniff", response.request.url
    assert response.headers.get("Referrer-Policy") == "same-origin", response.request.url
    policy = directives(response)
    assert policy.get("frame-ancestors") == ["'none'"], response.request.url
    assert policy.get("script-src") == ["'self'"], response.request.url  # no inline script, no eval
    assert policy.get("default-src") == ["'self'"] and policy.get("object-src") == ["'none'"]


def assert_user_document(response, filename):
    assert response.status_code == 200, response.text
    disposition = response.headers.get("Content-Disposition", "")
    assert disposition.startswith("attachment;") and f'filename="{filename}"' in disposition, disposition
    assert response.headers.get("X-Content-Type-Options") == "nosniff"
    assert "sandbox" in directives(response), response.headers.get("Content-Security-Policy")
    assert response.headers.get("X-Frame-Options") == "DENY"


def test_every_response_carries_the_security_headers(server):
    anonymous, sec = server.anonymous(), server.login("sec")
    responses = [anonymous.get(path) for path in (
        "/healthz", "/login", "/complaints/new", "/api/v1/openapi.json", "/api/v1/docs", "/no-such-page",
        "/web/static/web.js", "/vendor/echarts/echarts.common.min.js", "/api/v1/me")]
    responses += [anonymous.post("/api/v1/auth/token", {"username": "sec", "password": "wrong"}),
                  sec.get("/api/v1/me"), sec.get("/api/v1/items"), sec.post("/api/v1/items", {})]
    assert [r.status_code for r in responses] == [200, 200, 200, 200, 200, 404, 200, 200, 401, 401, 200, 200, 400]
    for response in responses:
        assert_page_headers(response)
    web = Web(server.app, "sec")
    for path in ("/inbox", "/items", "/reports/ranking"):
        page = web.get(path)
        assert page.status_code == 200 and page.headers["X-Frame-Options"] == "DENY", path
        assert "frame-ancestors 'none'" in page.headers["Content-Security-Policy"], path


def test_user_supplied_documents_are_sandboxed_downloads(server):
    version, item_id = deploy_hostile(server)
    ada = server.login("ada")
    api_xml = ada.get("/api/v1/definitions/supervision/xml", params={"version": version})
    assert_user_document(api_xml, f"supervision-v{version}.bpmn")
    assert SCRIPT in api_xml.text  # the document itself is unchanged: it is served, not rendered
    assert api_xml.headers["Content-Type"].startswith("application/xml")

    designer = Web(server.app, "ada")
    response = designer.get(f"/designer/supervision/{version}.xml")
    assert_user_document(response, f"supervision-v{version}.bpmn")
    assert_user_document(Web(server.app, "sec").get(f"/items/{item_id}/diagram.xml"), f"supervision-v{version}.bpmn")
    dmn = designer.get("/designer/accountability/1.xml")
    assert_user_document(dmn, "accountability-v1.dmn")

    sec = server.login("sec")
    for path, params, name in (("/api/v1/problems", {}, "problems"),
                               ("/api/v1/reports/weekly", {"week": "2026-W48"}, "weekly-2026-W48"),
                               ("/api/v1/reports/ranking", {"month": "2026-11"}, "ranking-2026-11"),
                               ("/api/v1/reports/year", {"year": 2026}, "year-2026")):
        for format_ in ("csv", "xlsx"):
            assert_user_document(sec.get(path, params={**params, "format": format_}), f"{name}.{format_}")
    web = Web(server.app, "sec")
    for path in ("/problems.csv", "/reports/weekly.xlsx", "/reports/ranking.csv", "/reports/year.xlsx"):
        response = web.get(path)
        assert response.status_code == 200 and response.headers["Content-Disposition"].startswith("attachment;")
        assert "sandbox" in response.headers["Content-Security-Policy"], path
