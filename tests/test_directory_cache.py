"""The directory's cached lists (api.directory): a change this process makes is seen at once."""
import datetime as dt

from sqlalchemy import update

from api.models import Department, User


def _add(engine, *users):
    with engine.db.write() as session:
        if session.get(Department, "d9") is None:
            session.add(Department(code="d9", name="第九处", path="/d9/"))
            session.flush()
        for username, roles in users:
            session.add(User(username=username, password_hash="x", display_name=username, department="d9",
                             roles=list(roles), created_at=dt.datetime.now(dt.timezone.utc)))


def test_changes_of_this_process_are_seen_at_once(engine):
    directory = engine.registry.directory
    _add(engine, ("wang", ["staff"]))
    with engine.db.read() as session:
        assert directory.users(session, role="staff", department="d9") == ["wang"]
        misses = directory.misses
        assert directory.users(session, role="staff", department="d9") == ["wang"]
        assert directory.misses == misses  # answered from the cache
    _add(engine, ("zhao", ["staff"]))  # an ORM insert
    with engine.db.read() as session:
        assert directory.users(session, role="staff", department="d9") == ["wang", "zhao"]
    with engine.db.write() as session:  # an UPDATE statement through the session
        session.execute(update(User).where(User.username == "wang").values(active=False))
    with engine.db.read() as session:
        assert directory.users(session, role="staff", department="d9") == ["zhao"]
    with engine.db.write() as session:
        session.get(Department, "d9").name = "九处"
    with engine.db.read() as session:
        assert directory.departments(session)["d9"] == "九处"


def test_entries_expire(engine):
    directory = engine.registry.directory
    directory.ttl = 0
    _add(engine, ("wang", ["staff"]))
    with engine.db.read() as session:
        directory.users(session, role="staff")
        misses = directory.misses
        directory.users(session, role="staff")
        assert directory.misses == misses + 1
