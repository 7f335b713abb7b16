"""A running Duban API on a real HTTP server (waitress, free port) and a small client."""
import threading

import requests
from werkzeug.security import generate_password_hash
from werkzeug.serving import make_server

from api.app import create_app
from api.models import Department, User

PASSWORD = "correct-horse-battery"
PEOPLE = {  # username: (display name, department, roles)
    "admin": ("系统管理员", None, ["admin"]),
    "sup2": ("督查员周", "office", ["supervisor"]),
    "sec": ("秘书科小陈", "office", ["secretariat"]),
    "zhang": ("发改委张三", "d1", ["staff"]),
    "li": ("发改委李四", "d1", ["staff"]),
    "wang": ("住建局王五", "d2", ["staff"]),
    "boss": ("分管领导赵", "office", ["leader"]),
    "boss2": ("分管领导钱", "office", ["leader"]),
    "sup": ("督查员孙", "office", ["supervisor"]),
    "ada": ("流程设计周", "office", ["designer"]),
}
DEPARTMENTS = {"office": "政府办公室", "d1": "发展和改革委员会", "d2": "住房和城乡建设局"}


def seed_organisation(engine):
    """The organisation of the tests, written directly (the admin API is tested separately)."""
    now = engine.clock.now()
    with engine.db.write() as session:
        for code, name in DEPARTMENTS.items():
            session.add(Department(code=code, name=name))
        session.flush()
        # A cheap hash: tests log in often, and the strength of test passwords does not matter.
        password_hash = generate_password_hash(PASSWORD, method="pbkdf2:sha256:1000")
        for username, (display, department, roles) in PEOPLE.items():
            session.add(User(username=username, password_hash=password_hash, display_name=display,
                             department=department, roles=roles, email=f"{username}@duban.test",
                             created_at=now))
    return engine


class Client:
    def __init__(self, base, token=None):
        self.base, self.session = base, requests.Session()
        if token:
            self.session.headers["Authorization"] = f"Bearer {token}"

    def request(self, method, path, **kwargs):
        return self.session.request(method, self.base + path, timeout=30, **kwargs)

    def get(self, path, **kwargs):
        return self.request("GET", path, **kwargs)

    def post(self, path, json=None, **kwargs):
        return self.request("POST", path, json=json, **kwargs)

    def patch(self, path, json=None, **kwargs):
        return self.request("PATCH", path, json=json, **kwargs)


class Server:
    """A threaded HTTP server on 127.0.0.1:<free port> in a thread; stop() shuts it down.

    (``duban serve`` uses waitress, or gunicorn with ``[server] processes`` > 1;
    tests/test_cli.py and tests/test_serve_processes.py cover that process end to end.)
    """

    def __init__(self, engine):
        self.engine = engine
        self.app = create_app(engine=engine)
        self.server = make_server("127.0.0.1", 0, self.app, threaded=True)
        self.base = f"http://127.0.0.1:{self.server.server_port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        self.tokens = {}

    def stop(self):
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)

    def seed(self):
        seed_organisation(self.engine)
        return self

    def login(self, username, password=PASSWORD):
        if username not in self.tokens:
            response = Client(self.base).post("/api/v1/auth/token",
                                              {"username": username, "password": password})
            assert response.status_code == 200, response.text
            self.tokens[username] = response.json()["token"]
        return Client(self.base, self.tokens[username])

    def anonymous(self):
        return Client(self.base)
