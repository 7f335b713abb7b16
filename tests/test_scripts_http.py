"""Over HTTP, a hostile script does not take the server from other users (issue 13): while
it runs, ``/healthz`` and another user's ``/api/v1/me`` answer; it ends with its instance in
error; the process's memory stays bounded. And a completion over the data limit is a 400."""
import resource
import threading
from xml.sax.saxutils import escape

from tests.bpmn_snippets import chain, script, user_task

HOSTILE = [
    # Python-level: runs until the time limit, building values just under the limits.
    "while True:\n    s = 'x' * 90000\n    k = 10 ** 4000\n    t = s.ljust(99000) + str(len(s))",
    # C-level: each froze or exhausted the whole server before the guards. The sizes come
    # from the data (n = 7), so deploy cannot see them; with literals, deploy refuses them.
    "x = (10 ** (3 * 10 ** n)) > 1",
    'x = len("x" * (3 * 10 ** (n + 2)))',
    "blob = 'x' * (50 * 1024 * 1024 * (n - 6))",
    "x = f'{1:>{10 ** (n + 3)}}'",
    "l = []\nwhile True:\n    l.append('x' * 90000)",
    # Comparing and hashing deep shared values: 2**30 steps of C each (n = 7: 30 doublings).
    "a = []\nb = []\nfor i in range(4 * n + 2):\n    a = [a, a]\n    b = [b, b]\nx = a == b",
    "t = ()\nfor i in range(4 * n + 2):\n    t = (t, t)\nseen = {t}",
]


def _maxrss_bytes():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def test_hostile_scripts_leave_the_server_answering_other_users(server_factory):
    server = server_factory(scripts={"timeout_seconds": 3, "max_data_bytes": 100_000})
    designer, secretary, other = server.login("ada"), server.login("sec"), server.login("zhang")
    for n, code in enumerate(HOSTILE):
        deployed = designer.post("/api/v1/definitions", data=chain(f"hostile{n}", script(1, escape(code)),
                                                                  user_task(2)),
                                 headers={"Content-Type": "application/xml"})
        assert deployed.status_code == 201, deployed.text

    refused = designer.post("/api/v1/definitions", headers={"Content-Type": "application/xml"},
                            data=chain("literal", script(1, "x = (10 ** (3 * 10 ** 7)) &gt; 1"), user_task(2)))
    assert refused.status_code == 400 and refused.json()["error"]["details"]["code"] == "too_large"

    running, outcomes, answered = threading.Event(), [], []
    rss_before = _maxrss_bytes()

    def hostile():
        try:
            for n in range(len(HOSTILE)):
                outcomes.append(secretary.post("/api/v1/instances",
                                               {"definition": f"hostile{n}", "variables": {"n": 7}}))
        finally:
            running.clear()

    def others():
        while running.is_set():
            for client, path in ((server.anonymous(), "/healthz"), (other, "/api/v1/me")):
                response = client.get(path)
                answered.append((path, response.status_code, running.is_set()))

    running.set()
    threads = [threading.Thread(target=hostile), threading.Thread(target=others)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)

    assert [r.status_code for r in outcomes] == [201] * len(HOSTILE)
    assert [r.json()["status"] for r in outcomes] == ["error"] * len(HOSTILE)
    # The C-level ones are refused before they run (a freeze would end by the time limit).
    admin = server.login("admin")
    for response in outcomes[1:5] + outcomes[6:]:
        error = admin.get(f"/api/v1/instances/{response.json()['id']}").json()["error"]
        assert "ScriptLimitExceeded" in error and "time limit" not in error, error
    for response in outcomes:
        instance = secretary.get(f"/api/v1/instances/{response.json()['id']}").json()
        assert instance["status"] == "error"
    assert all(status == 200 for _, status, _ in answered), answered
    while_running = {path for path, status, during in answered if during and status == 200}
    assert while_running == {"/healthz", "/api/v1/me"}
    assert _maxrss_bytes() - rss_before < 1 << 30


def test_a_completion_over_the_data_limit_is_a_400_with_its_code(server_factory):
    server = server_factory(scripts={"max_data_bytes": 100_000})
    designer, secretary = server.login("ada"), server.login("sec")
    deployed = designer.post("/api/v1/definitions", data=chain("form", user_task(1), user_task(2)),
                             headers={"Content-Type": "application/xml"})
    assert deployed.status_code == 201, deployed.text
    started = secretary.post("/api/v1/instances", {"definition": "form"}).json()
    task = secretary.get("/api/v1/tasks", params={"instance_id": started["id"]}).json()["items"][0]

    refused = secretary.post(f"/api/v1/tasks/{task['id']}/complete", {"data": {"blob": "x" * 200_000}})
    assert refused.status_code == 400
    error = refused.json()["error"]
    assert error["code"] == "invalid_input"
    assert [d["code"] for d in error["details"]] == ["data_too_large"]
    assert secretary.get(f"/api/v1/tasks/{task['id']}").json()["state"] == "open"

    refused = secretary.post("/api/v1/instances", {"definition": "form", "variables": {"blob": "x" * 200_000}})
    assert refused.status_code == 400 and refused.json()["error"]["details"][0]["code"] == "data_too_large"
