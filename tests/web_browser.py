"""Playwright on Debian's Chromium for the web tests: one browser per test run, one context per person.

Never downloads a browser: it drives ``/usr/bin/chromium`` and fails (does not skip) when that
is missing. Each :class:`Person` collects console errors and uncaught page errors; the tests
assert there are none. Screenshots go to ``test-artifacts/`` (git-ignored).

Every page a person sees is also checked for internals in its visible text (:data:`LEAK_CHECK`,
run in the page on load and after every change of the page): ASCII identifiers
(``monthly_ranking``), ISO week codes (``2026-W41``) and raw JSON are reported as console errors,
so every visit of every browser test fails on a leak.
"""
import re
import shutil
from pathlib import Path

import pytest

from tests.api_client import PASSWORD

REPO = Path(__file__).resolve().parent.parent
ARTIFACTS = REPO / "test-artifacts"
CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--no-first-run"]
DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 844}


def launch():
    """A generator yielding a launched Chromium (for a module-scoped fixture)."""
    if not Path(CHROMIUM).exists() and not shutil.which("chromium"):
        pytest.fail(f"the browser tests need Debian's Chromium at {CHROMIUM}: "
                    "apt-get update && apt-get install -y chromium fonts-noto-cjk (.ci/run does this)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:  # pragma: no cover - installed by make setup
        pytest.fail("the Python package playwright is missing: run `make setup`")
    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            yield browser
        finally:
            browser.close()


# The leak check, run in every page of a person's context (``add_init_script``) on load and, for
# what scripts show later (a deploy's errors, a chart), on every change of the page. It reads
# ``document.body.innerText``: what the user sees, not attributes, scripts or hidden elements.
# Allowed, and only these, removed before matching: e-mail addresses and URLs (a user types them
# and reads them as they are; ``zhang_san@example.org`` would otherwise match); the text of
# elements marked ``data-identifier``, used only for identifiers people type themselves and must
# see as written: on the designer's pages a process's key (typed as a call activity's
# calledElement) and the version diff's XML (source, compared line by line); on the admin's
# organisation pages a username (typed to log in) and a department code (typed when created);
# and the pages under /api/ (the API's docs for developers: the API keeps its codes).
LEAK_CHECK = r"""
(() => {
  const LEAKS = [["ASCII 标识", /[a-z]+_[a-z_]+/g], ["ISO 周", /\d{4}-W\d{2}/g],
                 ["JSON", /[{[]\s*"[^"\n]*"\s*[:,\]]/g]];
  const ALLOWED = [/[\w.+-]+@[\w-]+(\.[\w-]+)+/g, /\bhttps?:\/\/\S+/g];
  const reported = new Set();
  function check() {
    if (!document.body || location.pathname.startsWith("/api/")) return;
    const marked = [...document.querySelectorAll("[data-identifier]")].map(el => [el, el.style.display]);
    for (const [el] of marked) el.style.display = "none";  // hidden: left out of innerText
    let text = document.body.innerText;
    for (const [el, display] of marked) el.style.display = display;
    for (const allowed of ALLOWED) text = text.replace(allowed, " ");
    for (const [kind, pattern] of LEAKS) {
      for (const match of text.matchAll(pattern)) {
        const key = kind + match[0];
        if (reported.has(key)) continue;
        reported.add(key);
        const at = text.slice(Math.max(0, match.index - 20), match.index + match[0].length + 20).replace(/\s+/g, " ");
        console.error(`页面可见文字泄露内部信息（${kind}）：${match[0]}（“…${at}…”）`);
      }
    }
  }
  let pending = null;
  function later() { clearTimeout(pending); pending = setTimeout(check, 50); }
  window.addEventListener("load", () => {
    check();
    new MutationObserver(later).observe(document.body, {subtree: true, childList: true, characterData: true});
  });
})();
"""


class Person:
    """One user's browser context and page, with console and page errors collected."""

    def __init__(self, browser, base, viewport=DESKTOP):
        self.base = base
        self.context = browser.new_context(viewport=viewport, locale="zh-CN", timezone_id="Asia/Shanghai")
        self.context.set_default_timeout(15000)
        self.context.add_init_script(LEAK_CHECK)
        self.page = self.context.new_page()
        self.errors = []
        self.page.on("console", lambda msg: msg.type == "error" and self.errors.append(
            f"console: {msg.text} @ {self.page.url}"))
        self.page.on("pageerror", lambda err: self.errors.append(f"pageerror: {err} @ {self.page.url}"))

    def goto(self, path):
        response = self.page.goto(self.base + path)
        return response

    def login(self, username):
        self.goto("/login")
        self.page.fill("#username", username)
        self.page.fill("#password", PASSWORD)
        self.page.click("button[type=submit]")
        self.page.wait_for_url(re.compile(r".*/inbox$"))
        return self

    def shot(self, name):
        self.page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)

    def nav_labels(self):
        return self.page.locator("nav.nav a").all_inner_texts()

    def click_through_nav(self, prefix):
        """Follow every navigation link; each page has a title and no console errors."""
        visited = []
        for label in self.nav_labels():
            self.page.locator("nav.nav a", has_text=label).first.click()
            self.page.wait_for_load_state("load")
            title = self.page.title()
            assert title and title.endswith("督办"), f"{label}: title {title!r}"
            assert self.page.locator("nav.nav a.active").inner_text() == label
            visited.append((label, title))
            self.shot(f"{prefix}-nav-{len(visited):02d}")
        return visited

    def close(self):
        self.context.close()
        assert not self.errors, "\n".join(self.errors)
