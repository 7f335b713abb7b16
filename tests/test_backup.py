"""``duban backup`` and ``duban restore``, as the commands an operator runs, on both databases:
a backup taken while ``duban serve`` works, more work, a restore refused while the service
runs, then restored: the open tasks and waiting timers are those of the backup, the audit
chain verifies, and the service resumes (the timers fire)."""
import datetime as dt
import os
import sqlite3

import pytest
import sqlalchemy as sa

from api import backup as backups, schema
from api.app import build_engine
from engine.db import Database
from engine.models import AuditRecord, HumanTask, Timer
from tests.api_client import seed_organisation
from tests.conftest import PG_SERVER, make_config
from tests.helpers import ITEM, PLAN
from tests.test_cli import free_port, wait_for
from tests.test_serve_processes import OVERDUE, Http, Serve, config_text


@pytest.fixture(params=["sqlite", "postgresql"])
def url(request, tmp_path):
    """An empty database of the test's own, without a schema: each test creates it."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'duban.db'}"
        return
    name = f"duban_backup_{os.getpid()}"
    admin = sa.create_engine(f"{PG_SERVER}/test", isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.exec_driver_sql(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        connection.exec_driver_sql(f"CREATE DATABASE {name}")
    yield f"{PG_SERVER}/{name}"
    with admin.connect() as connection:
        connection.exec_driver_sql(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
    admin.dispose()


def snapshot(url):
    """What a restore must bring back: open tasks, waiting timers, the audit chain's length."""
    db = Database(url)
    try:
        with db.read() as session:
            tasks = session.execute(sa.select(HumanTask.id, HumanTask.instance_id, HumanTask.key,
                                              HumanTask.due_at).where(HumanTask.state == "open")
                                    .order_by(HumanTask.id)).all()
            timers = session.execute(sa.select(Timer.id, Timer.instance_id, Timer.task_key, Timer.fire_at)
                                     .where(Timer.state == "waiting").order_by(Timer.id)).all()
            audit = session.scalar(sa.select(sa.func.count()).select_from(AuditRecord))
    finally:
        db.dispose()  # restore on PostgreSQL refuses while anyone is connected: so do we
    return {"tasks": tasks, "timers": timers, "audit": audit}


def set_revision(url, revision):
    """Set the database's Alembic revision; returns the one it had."""
    engine = sa.create_engine(url)
    with engine.begin() as connection:
        previous = connection.scalar(sa.text("SELECT version_num FROM alembic_version"))
        connection.execute(sa.text("UPDATE alembic_version SET version_num = :r"), {"r": revision})
    engine.dispose()
    return previous


def serving(tmp_path, url, port):
    serve = Serve(tmp_path, config_text(url, port, processes=1)).start()
    assert wait_for(f"http://127.0.0.1:{port}/healthz")[0] == 200
    return serve, Http(serve, port)


def test_backup_while_serving_then_restore(tmp_path, url):
    port = free_port()
    serve = Serve(tmp_path, config_text(url, port, processes=1))
    assert serve.run("init").returncode == 0
    engine = build_engine(make_config(url))
    seed_organisation(engine)
    engine.close()
    serve, client = serving(tmp_path, url, port)
    first = client.ok("POST", "/api/v1/items", ITEM, "sec", 201)
    client.ok("POST", "/api/v1/items", {**ITEM, "title": "第二项"}, "sec", 201)
    client.complete("zhang", "draft_plan", first["id"], PLAN)
    backed_up = snapshot(url)
    assert backed_up["tasks"] and backed_up["timers"]

    file = tmp_path / "duban.backup"
    made = serve.run("backup", str(file))  # while the server works
    assert made.returncode == 0 and "backup written" in made.stdout, made.stderr
    client.complete("boss", "approve_plan", first["id"], {"approved": True})
    client.ok("POST", "/api/v1/items", {**ITEM, "title": "第三项"}, "sec", 201)
    changed = snapshot(url)
    assert changed != backed_up

    refused = serve.run("restore", str(file))
    assert refused.returncode == 1 and "stop" in refused.stderr, refused.stderr
    assert snapshot(url) == changed
    serve.stop()

    restored = serve.run("restore", str(file))
    assert restored.returncode == 0 and "audit chain intact" in restored.stdout, restored.stderr
    assert snapshot(url) == backed_up
    verified = serve.run("audit", "verify")
    assert verified.returncode == 0 and f"{backed_up['audit']} records" in verified.stdout

    # The service resumes where the backup left off: the plan deadlines' timers fire.
    serve, client = serving(tmp_path, url, port)
    client.ok("POST", "/api/v1/clock/advance", {"to": OVERDUE}, "admin")
    overdue = dt.datetime.fromisoformat(OVERDUE)
    due = [timer.id for timer in backed_up["timers"]
           if (timer.fire_at if timer.fire_at.tzinfo else timer.fire_at.replace(tzinfo=dt.timezone.utc))
           <= overdue]
    assert due
    after = snapshot(url)
    assert not {timer.id for timer in after["timers"]} & set(due)
    assert client.ok("GET", "/api/v1/audit/verify", user="admin")["ok"] is True
    serve.stop()


def test_restore_refuses_what_is_not_a_duban_backup_of_this_database(tmp_path, url):
    """In-process (the commands' exit status is shown above): each refusal changes nothing."""
    db = Database(url)
    schema.upgrade(db)
    db.dispose()
    before = snapshot(url)
    text = tmp_path / "notes.txt"
    text.write_text("not a backup", encoding="utf-8")
    other = tmp_path / "other.db"
    with sqlite3.connect(other) as connection:
        connection.execute("CREATE TABLE t (x)")
    good, newer = tmp_path / "good.backup", tmp_path / "newer.backup"
    backups.backup(url, good)
    revision = set_revision(url, "ffffffffffff")  # as if a newer Duban had migrated it
    backups.backup(url, newer)
    set_revision(url, revision)
    sqlite = url.startswith("sqlite")
    for file, reason in ((text, "not a Duban backup"),
                         (other, "not a Duban backup" if sqlite else "an SQLite backup"),
                         (newer, "not one this version of Duban knows"),
                         (tmp_path / "missing.backup", "no such file")):
        with pytest.raises(backups.BackupError, match=reason):
            backups.restore(url, file)
    # A holder of the database (what duban serve and duban worker are) blocks a restore.
    if sqlite:
        with backups.hold(url), pytest.raises(backups.BackupError, match="stop them"):
            backups.restore(url, good)
    else:
        holder = sa.create_engine(url)
        with holder.connect(), pytest.raises(backups.BackupError, match="stop them"):
            backups.restore(url, good)
        holder.dispose()
    assert snapshot(url) == before
    assert backups.restore(url, good) == "current"
    assert snapshot(url) == before


def test_a_backup_from_an_older_schema_is_restored_and_migrated(tmp_path, url):
    from alembic import command
    from alembic.script import ScriptDirectory

    head = ScriptDirectory.from_config(schema.alembic_config(url)).get_current_head()
    db = Database(url)
    schema.upgrade(db)
    current_tables = set(sa.inspect(db.write_engine).get_table_names())
    with db.write_engine.connect() as connection:  # the schema one migration ago
        config = schema.alembic_config(url)
        config.attributes["connection"] = connection
        command.downgrade(config, "-1")
        connection.commit()
    db.dispose()
    file = tmp_path / "older.backup"
    backups.backup(url, file)
    db = Database(url)
    schema.upgrade(db)  # the database moves on to this version's schema
    db.dispose()

    assert backups.restore(url, file) == "older"
    db = Database(url)
    try:
        assert set(sa.inspect(db.write_engine).get_table_names()) == current_tables
    finally:
        db.dispose()
    assert set_revision(url, head) == head  # migrated after the restore


def test_a_backup_is_private_and_a_bad_target_is_a_clear_error(tmp_path, url):
    db = Database(url)
    schema.upgrade(db)
    db.dispose()
    file = tmp_path / "private.backup"
    backups.backup(url, file)
    assert file.stat().st_mode & 0o777 == 0o600
    with pytest.raises(backups.BackupError, match="cannot write"):
        backups.backup(url, tmp_path / "no" / "such" / "dir.backup")
    with pytest.raises(backups.BackupError, match="directory"):
        backups.backup(url, tmp_path)
