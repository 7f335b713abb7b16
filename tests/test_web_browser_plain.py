"""The leak check every browser test's page visits run (tests/web_browser.py LEAK_CHECK): it
catches internals in the visible text, allows only what it says it allows, and the Chinese 404
page passes it."""
from tests.web_browser import Person

LEAKY = """<!doctype html><html><head><meta charset="utf-8"><title>t</title></head><body>
<p>通知类型：monthly_ranking</p><p>周次：2026-W41</p><pre>{"code": "not_found"}</pre>
<p>联系：zhang_san@example.org，https://example.org/a_b</p>
<p style="display:none">hidden_field</p><input value="input_value">
<code data-identifier>plan_change</code>
<div id="later"></div>
<script>setTimeout(() => { document.getElementById("later").textContent = "weekly_report"; }, 10);</script>
</body></html>"""


def test_the_leak_check_reports_internals_in_visible_text(browser):
    person = Person(browser, "http://leak.test")
    person.page.route("http://leak.test/**", lambda route: route.fulfill(
        status=200, content_type="text/html; charset=utf-8", body=LEAKY))
    person.goto("/page")
    person.page.wait_for_function("() => document.getElementById('later').textContent !== ''")
    person.page.wait_for_timeout(300)  # the check runs 50 ms after a change: let it report
    leaks = sorted(e.split("：")[1].split("（")[0] for e in person.errors)
    # shown: the kind, the ISO week, the JSON and what a script wrote later; not the e-mail, the
    # URL, hidden elements, form values or a designer's marked identifier
    assert leaks == ["2026-W41", "monthly_ranking", "not_found", "weekly_report", '{"code":'], person.errors
    person.errors.clear()
    person.close()


def test_an_unknown_page_is_a_chinese_404(people):
    person = people("zhang")
    response = person.goto("/reports/nothing-here")
    assert response.status == 404 and "未找到该页面" in person.page.inner_text("main, body")
    assert person.page.locator("nav.nav a").count() > 0  # the reader's navigation stays
    person.shot("plain-404")
    # the browser logs the 404 status itself; nothing else may be logged
    assert [e for e in person.errors if "status of 404" not in e] == []
    person.errors.clear()
