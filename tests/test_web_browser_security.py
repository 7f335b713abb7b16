"""Issue 13 in a real browser: a deployed BPMN's XHTML script never runs on our origin (the XML is
a sandboxed download, and the item page's viewer still draws it), a department name is text in the
ranking chart's tooltip, and the API docs page runs Swagger UI from /vendor under the pages' CSP
(fixtures ``people``, ``history_people``, ``browser``: tests/conftest.py)."""
from playwright.sync_api import Error as PlaywrightError
from sqlalchemy import update

from api.models import Department
from tests.test_security_headers import deploy_hostile
from tests.web_browser import Person

HOSTILE_NAME = '<img src=x onerror="window.__xss=1">'


def open_document(person, path):
    """Navigate to ``path``; True when the browser rendered it (False: it became a download)."""
    try:
        with person.page.expect_download(timeout=5000):
            person.page.goto(person.base + path)
    except PlaywrightError:  # rendered (no download), or the navigation ended in a download
        return person.page.url.endswith(path)
    return False


def test_deployed_xml_is_never_run_on_our_origin(server, people):
    version, item_id = deploy_hostile(server)
    designer, sec = people("ada"), people("sec")
    dialogs = []
    for person, path in ((designer, f"/designer/supervision/{version}.xml"), (sec, f"/items/{item_id}/diagram.xml")):
        person.page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
        person.goto("/inbox")
        assert not open_document(person, path), f"{path} was rendered by the browser"
        assert dialogs == [] and person.page.evaluate("window.__xss") is None, path

    # the pages' viewers still fetch and draw the same XML
    designer.goto(f"/designer/supervision/{version}/edit")
    designer.page.wait_for_selector("#canvas[data-ready=true]")
    sec.goto(f"/items/{item_id}")
    sec.page.wait_for_selector("#diagram[data-ready=true]")
    assert dialogs == [] and sec.page.evaluate("window.__xss") is None


def test_ranking_tooltip_shows_a_department_name_as_text(history_server, history_people):
    with history_server.engine.db.write() as session:
        session.execute(update(Department).where(Department.code == "d1").values(name=HOSTILE_NAME))
    sec = history_people("sec")
    sec.goto("/reports/ranking?month=2026-10")
    for chart in ("chart-ranking", "chart-trend"):
        sec.page.wait_for_selector(f"#{chart}[data-ready=true]")
    tooltip = sec.page.evaluate("""() => {
        const chart = echarts.getInstanceByDom(document.getElementById('chart-ranking'));
        chart.dispatchAction({type: 'showTip', seriesIndex: 0, dataIndex: 0});
        const tip = [...document.querySelectorAll('#chart-ranking div')].find(d => d.innerText.includes('按时率'));
        return {text: tip ? tip.innerText : null, images: document.querySelectorAll('#chart-ranking img').length};
    }""")
    assert tooltip["text"] and tooltip["text"].startswith(HOSTILE_NAME), tooltip
    assert tooltip["images"] == 0
    trend = sec.page.evaluate("""() => {
        const container = document.getElementById('chart-trend');
        const chart = echarts.getInstanceByDom(container);
        const index = chart.getOption().series.findIndex(s => s.name.includes('<img'));
        chart.dispatchAction({type: 'showTip', seriesIndex: index, dataIndex: 0});
        return {index, images: container.querySelectorAll('img').length};
    }""")
    assert trend["index"] > 0 and trend["images"] == 0, trend
    sec.page.wait_for_timeout(300)  # an <img src=x> would have failed to load by now
    assert sec.page.evaluate("window.__xss") is None


def test_api_docs_run_swagger_ui_from_vendor(server, browser):
    reader = Person(browser, server.base)
    try:
        requests = []
        reader.page.on("request", lambda request: requests.append(request.url))
        reader.goto("/api/v1/docs")
        reader.page.wait_for_selector("#swagger-ui[data-ready=true]")
        reader.page.wait_for_selector(".swagger-ui .opblock")
        assert "Duban" in reader.page.inner_text(".swagger-ui .info")
        assert requests and all(url.startswith(server.base) or url.startswith("data:") for url in requests), requests
        assert any("/vendor/swagger-ui-dist/swagger-ui-bundle.js" in url for url in requests)
    finally:
        reader.close()  # asserts: no console errors (a CSP violation is one)
