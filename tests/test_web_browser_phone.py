"""A phone (390×844) in a real browser: the folded navigation, the diagram, no sideways
scrolling; and the contrast (WCAG AA, 4.5:1) of the 临期 badge and muted text, from the
colours the browser computes."""
import re

from tests.web_browser import DESKTOP, PHONE

ITEM = {"title": "推进政务服务一网通办", "basis": "meeting_decision", "department": "d1", "co_departments": [],
        "leader": "boss", "deadline": "2026-12-31", "requirements": "每周五前反馈进展"}


def no_sideways_scroll(person):
    return person.page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]


def test_phone_menu_diagram_and_pages_fit(server, people):
    item = server.login("sec").post("/api/v1/items", ITEM).json()
    phone = people("zhang", viewport=PHONE)
    menu, nav = phone.page.locator(".menu-button"), phone.page.locator("nav.nav")
    assert menu.is_visible() and nav.is_hidden()
    assert menu.get_attribute("aria-expanded") == "false"
    phone.shot("phone-menu-closed")
    menu.click()
    assert nav.is_visible() and menu.get_attribute("aria-expanded") == "true"
    phone.shot("phone-menu-open")
    nav.locator("a", has_text="督办事项").click()
    phone.page.wait_for_url(re.compile(r".*/items$"))
    assert phone.page.locator("nav.nav a.active").inner_text() == "督办事项" and nav.is_hidden()
    assert no_sideways_scroll(phone)

    phone.goto("/inbox")
    phone.shot("phone-inbox-folded")
    assert no_sideways_scroll(phone)

    phone.goto(f"/items/{item['id']}")
    diagram = phone.page.locator("#diagram")
    phone.page.wait_for_selector("#diagram[data-ready=true]")
    box = diagram.bounding_box()
    assert box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"]   # fits the width
    viewport = phone.page.locator("#diagram .viewport")
    fitted = viewport.get_attribute("transform")
    diagram.locator("button", has_text="放大").click()
    zoomed = viewport.get_attribute("transform")
    assert zoomed != fitted
    # a finger drags the diagram (the mouse's drag is bpmn-js's own)
    phone.page.dispatch_event("#diagram svg", "pointerdown", {"pointerType": "touch", "clientX": 200, "clientY": 300})
    phone.page.dispatch_event("#diagram svg", "pointermove", {"pointerType": "touch", "clientX": 150, "clientY": 280})
    phone.page.dispatch_event("#diagram svg", "pointerup", {"pointerType": "touch", "clientX": 150, "clientY": 280})
    assert viewport.get_attribute("transform") != zoomed
    diagram.locator("button", has_text="适应").click()
    phone.shot("phone-item-diagram")
    assert no_sideways_scroll(phone)

    phone.goto("/reports/ranking")
    phone.page.wait_for_load_state("load")
    phone.shot("phone-report-ranking-folded")
    assert no_sideways_scroll(phone)

    desktop = people("zhang", viewport=DESKTOP)   # wide: no menu button, the navigation shows
    assert desktop.page.locator(".menu-button").is_hidden() and desktop.page.locator("nav.nav").is_visible()


# WCAG 2 relative luminance and contrast ratio, from the computed "rgb(r, g, b)" colours.
CONTRAST = """(selector) => {
  const el = document.querySelector(selector);
  const rgb = (text) => text.match(/[\\d.]+/g).map(Number);
  let back = el, background = null;
  while (back) {
    const colour = rgb(getComputedStyle(back).backgroundColor);
    if (colour.length < 4 || colour[3] > 0) { background = colour; break; }
    back = back.parentElement;
  }
  const luminance = (c) => {
    const [r, g, b] = c.slice(0, 3).map(v => v / 255).map(v => v <= 0.04045 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4);
    return 0.2126 * r + 0.7152 * g + 0.0722 * b;
  };
  const [a, b] = [luminance(rgb(getComputedStyle(el).color)), luminance(background || [255, 255, 255])];
  return (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05);
}"""


def test_the_yellow_badge_and_muted_text_reach_aa_contrast(server, people):
    person = people("zhang")
    # the pages' own classes, in the places they are used: on the page background and on a card
    person.page.evaluate("""() => {
      const main = document.querySelector("main");
      main.insertAdjacentHTML("beforeend",
        '<p id="c-muted" class="muted">说明</p><p id="c-hint" class="hint">提示</p>' +
        '<div class="card"><span id="c-pill" class="pill pill-yellow">临期</span>' +
        '<span id="c-card-muted" class="muted">说明</span>' +
        '<table class="table"><tr><th id="c-th">标题</th></tr></table>' +
        '<ul class="timeline"><li><time id="c-time">今天</time></li></ul></div>');
    }""")
    ratios = {selector: person.page.evaluate(CONTRAST, selector)
              for selector in ("#c-muted", "#c-hint", "#c-pill", "#c-card-muted", "#c-th", "#c-time")}
    assert all(ratio >= 4.5 for ratio in ratios.values()), ratios
