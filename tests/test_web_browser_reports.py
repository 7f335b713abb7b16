"""The report pages in a real browser over the reports' known history: ECharts charts drawn,
the printable circular on one A4 page (saved as a PDF in test-artifacts/), the weekly report
(fixtures ``history_people``, ``browser``: tests/conftest.py)."""
import re

from tests.web_browser import ARTIFACTS, DESKTOP, PHONE


CHARTS = ("chart-ranking", "chart-lights", "chart-trend")
A4_CONTENT = {"width": 658, "height": 971}  # 210 × 297 mm less the @page margins (18 / 20 mm), at 96 dpi


def test_report_pages_with_charts_print_view_and_weekly(history_people):
    sec = history_people("sec")
    sec.page.locator("nav.nav a", has_text="月度排名").click()
    sec.page.wait_for_load_state("load")
    assert sec.page.title() == "月度通报排名 2026-10 · 督办"  # this month (now: 2026-10-20) by default
    for chart in CHARTS:
        sec.page.wait_for_selector(f"#{chart}[data-ready=true]")
        canvas = sec.page.locator(f"#{chart} canvas")
        assert canvas.count() >= 1, chart
        box = canvas.first.bounding_box()
        assert box and box["width"] > 100 and box["height"] > 100, (chart, box)
    assert sec.page.locator("#ranking tbody tr").first.get_attribute("data-department") == "d1"
    sec.shot("report-ranking")

    # the month picker: September, then the printable circular of October
    sec.page.fill("input[name=month]", "2026-09")
    sec.page.click("form.period button[type=submit]")
    sec.page.wait_for_url(re.compile(r".*month=2026-09"))
    sec.page.wait_for_selector("#chart-ranking[data-ready=true]")
    assert sec.page.locator("#ranking tr[data-department=d1] [data-field=on_time_rate]").inner_text() == "50.0%"
    sec.goto("/reports/ranking?month=2026-10")
    sec.page.click("#print-link")
    sec.page.wait_for_url(re.compile(r".*/reports/ranking/print\?month=2026-10"))
    assert sec.page.locator("h1.doc-title").inner_text() == "关于2026年10月督办事项办理情况的通报"
    assert "发展和改革委员会按时办理率为100%" in sec.page.inner_text("#circular-summary")
    sec.page.evaluate("window.print = () => { document.body.dataset.printed = 'yes'; }")
    sec.page.click("#print-button")
    assert sec.page.get_attribute("body", "data-printed") == "yes"
    sec.shot("report-print-screen")
    sec.page.emulate_media(media="print")
    assert sec.page.locator("header.topbar").is_hidden() and sec.page.locator(".print-toolbar").is_hidden()
    assert sec.page.locator("#circular").is_visible()
    sec.page.set_viewport_size(A4_CONTENT)  # the print media at the width of an A4 page's text
    sec.shot("report-print")
    pdf = sec.page.pdf(path=str(ARTIFACTS / "report-print.pdf"), prefer_css_page_size=True)
    assert re.findall(rb"/MediaBox\s*\[0 0 (\d+)[.\d]* (\d+)", pdf) == [(b"594", b"841")]  # one A4 page (@page)
    sec.page.emulate_media(media="screen")
    sec.page.set_viewport_size(DESKTOP)

    sec.page.locator("nav.nav a", has_text="周报").click()
    sec.page.wait_for_load_state("load")
    assert sec.page.title() == "周报 2026年第43周 · 督办"
    assert sec.page.locator("tr[data-light=red] .pill-red").count() == 1
    assert sec.page.locator("tr[data-light=green] .pill-green").count() == 1
    with sec.page.expect_download() as download:
        sec.page.click("a[data-download=xlsx]")
    assert download.value.suggested_filename == "weekly-2026-W43.xlsx"
    sec.shot("report-weekly")
    sec.page.click("a[rel=prev]")
    sec.page.click("a[rel=prev]")  # the National Day week: item A's latest report, 100% and done
    sec.page.wait_for_url(re.compile(r".*week=2026-W41"))
    assert "A二" in sec.page.locator("tr[data-light=green] [data-field=latest_report]").inner_text()
    sec.shot("report-weekly-w41")

    sec.page.locator("nav.nav a", has_text="年度考核").click()
    sec.page.wait_for_load_state("load")
    assert sec.page.locator("#year-table tr[data-department=d1] [data-field=closure_rate]").inner_text() == "100.0%"
    sec.shot("report-year")

    staff = history_people("wang")
    assert "周报" not in staff.nav_labels() and "月度排名" in staff.nav_labels()
    staff.page.locator("nav.nav a", has_text="月度排名").click()
    staff.page.wait_for_selector("#chart-lights[data-ready=true]")
    staff.shot("report-ranking-staff")

    phone = history_people("boss", viewport=PHONE)
    phone.goto("/reports/ranking?month=2026-10")
    for chart in CHARTS:
        phone.page.wait_for_selector(f"#{chart}[data-ready=true]")
    assert phone.page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    phone.shot("phone-report-ranking")
