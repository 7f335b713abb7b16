"""The demonstration (``duban demo``) seen in a real browser: each role finds its work, at desktop
and phone width, with no internals in the visible text (the leak check of every visit)."""
from api import demo
from tests.api_client import PASSWORD, Server
from tests.conftest import SHIPPED, deploy_shipped
from tests.web_browser import PHONE, Person


def test_the_demo_is_alive_for_each_role(engine_factory, browser):
    engine = deploy_shipped(engine_factory(), *SHIPPED)
    items = demo.load(engine, PASSWORD, echo=lambda line: None)
    server = Server(engine)
    opened = []
    try:
        def person(username, viewport=None):
            opened.append(Person(browser, server.base, **({"viewport": viewport} if viewport else {})))
            return opened[-1].login(username)

        secretary = person("mishu")
        secretary.goto("/items")
        listing = secretary.page.locator("main").inner_text()
        assert all(code in listing for code in items.values())
        secretary.shot("demo-items")

        supervisor = person("ducha", PHONE)
        supervisor.goto("/escalations")
        assert items["overdue"] in supervisor.page.locator("section.escalation").first.inner_text()
        supervisor.shot("demo-escalations-phone")

        leader = person("lingdao")
        assert items["plan_drafted"] in leader.page.locator("main").inner_text()  # the approval waits
        leader.shot("demo-inbox-leader")

        staff = person("zhangsan", PHONE)
        inbox = staff.page.locator("main").inner_text()
        assert items["registered"] in inbox
        staff.shot("demo-inbox-staff-phone")
        staff.page.click(".menu-button")
        staff.page.locator("nav.nav a", has_text="督办事项").click()
        staff.page.wait_for_load_state("load")
        staff.shot("demo-items-staff-phone")
    finally:
        for opened_person in opened:
            opened_person.close()  # asserts: no console errors, no leaks
        server.stop()
