"""The ``duban`` command line: init, demo, serve, worker, deploy, audit verify, files prune, backup, restore."""
import logging
import os
import sys
from pathlib import Path

import click
from werkzeug.security import generate_password_hash

from engine.config import REPO_ROOT, load_config
from engine.errors import EngineError

BPMN_DIR = REPO_ROOT / "bpmn"


def _engine():
    from api.app import build_engine

    return build_engine(load_config())


@click.group()
def main():
    """督办 Duban — BPMN workflow engine service for supervision work."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("apscheduler").setLevel(logging.WARNING)  # one line per tick is noise
    logging.getLogger("alembic").setLevel(logging.WARNING)


@main.command()
def init():
    """Create or upgrade the schema, deploy bpmn/, create admin from $DUBAN_ADMIN_PASSWORD."""
    from api import schema

    engine = _engine()
    schema.upgrade(engine.db)
    click.echo(f"schema ready: {engine.db.engine.url.render_as_string(hide_password=True)}")
    deploy_directory(engine, BPMN_DIR)
    password = os.environ.get("DUBAN_ADMIN_PASSWORD")
    if password:
        ensure_admin(engine, password)
        click.echo("user admin ready")
    engine.close()


def deploy_directory(engine, directory):
    """Deploy every DMN then every BPMN file of ``directory`` (decisions first: processes use them)."""
    files = sorted(Path(directory).glob("*.dmn")) + sorted(Path(directory).glob("*.bpmn"))
    for path in files:
        definition, created = engine.deploy(path.read_bytes(), actor="system")
        state = "deployed" if created else "unchanged"
        click.echo(f"{path.name}: {definition.key} v{definition.version} ({state})")


def ensure_admin(engine, password):
    from sqlalchemy import update

    from api.models import Token, User

    with engine.db.write() as session:
        user = session.get(User, "admin")
        if user is None:
            session.add(User(username="admin", password_hash=generate_password_hash(password),
                             display_name="系统管理员", department=None, roles=["admin"],
                             created_at=engine.clock.now()))
        else:  # a new password ends the sessions the old one opened
            user.password_hash = generate_password_hash(password)
            session.execute(update(Token).where(Token.username == "admin").values(revoked=True))
        engine.audit.append(session, "user_admin_ensured", actor="system", data={"username": "admin"})


@main.command()
@click.option("--force", is_flag=True, help="装入演示数据，即使数据库中已有事项")
def demo(force):
    """Load a small demonstration organisation with items in every state (api/demo.py): init
    first (schema, processes), then departments, users and items through the real engine. Demo
    users' password: $DUBAN_DEMO_PASSWORD, or a random one printed here."""
    from api import demo as demonstration
    from api import schema

    engine = _engine()
    try:
        schema.upgrade(engine.db)
        deploy_directory(engine, BPMN_DIR)
        items = demonstration.load(engine, os.environ.get("DUBAN_DEMO_PASSWORD"), force, echo=click.echo)
    except demonstration.DemoRefused as err:
        raise click.ClickException(str(err)) from None
    finally:
        engine.close()
    for state, label in demonstration.STATES.items():
        click.echo(f"{label}：{items[state]}")
    click.echo("演示数据已装入。duban serve 后用上面的用户登录（如 mishu 秘书科、zhangsan 承办人员）。")


@main.command()
@click.argument("files", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path))
def deploy(files):
    """Deploy BPMN and DMN files; several files are one bundle, deployed together or not at all."""
    engine = _engine()
    try:
        results = engine.definitions.deploy_bundle([(path.name, path.read_bytes()) for path in files],
                                                   actor="cli")
    except EngineError as err:
        click.echo(err.message if len(files) > 1 else f"{files[0]}: {err.message}", err=True)
        sys.exit(2)
    for path, (definition, created) in zip(files, results):
        state = "deployed" if created else "unchanged"
        click.echo(f"{definition.key} v{definition.version} ({state})" if len(files) == 1
                   else f"{path.name}: {definition.key} v{definition.version} ({state})")


@main.command()
def serve():
    """Serve HTTP: waitress in this process, or [server] processes > 1 gunicorn workers; in the
    embedded default each serving process also fires timers ([scheduler] in_process)."""
    from api.server import ServeError, prepare_metrics
    from api.server import serve as run_server

    config = load_config()
    prepare_metrics(config)  # first: before anything imports prometheus_client
    from api.backup import BackupError, hold

    _configure_logging(config)
    try:
        with hold(config["database"]["url"]):  # restore refuses a database in use
            run_server(config, echo=click.echo)
    except (ServeError, BackupError) as err:
        raise click.ClickException(str(err)) from None


@main.command()
def worker():
    """Fire due timers only (no HTTP), until SIGTERM or SIGINT; run as many as you like."""
    from api.backup import BackupError, hold
    from api.scheduler import run_worker

    engine = _engine()
    _configure_logging(engine.config)
    listener = None
    try:
        listener = _worker_metrics(engine)
        with hold(engine.config["database"]["url"]):  # restore refuses a database in use
            run_worker(engine)
    except BackupError as err:
        raise click.ClickException(str(err)) from None
    finally:
        if listener:
            listener.shutdown()
            listener.server_close()
        engine.close()


def _worker_metrics(engine):
    """``[metrics] bind`` for a ``duban worker``: its timer and command metrics (it has no
    other HTTP); None when unset. Give each worker on a host its own port."""
    from api.observability import start_listener
    from api.server import ServeError, check_listen, metrics_bind

    try:
        address = metrics_bind(engine.config)
        if address is None:
            return None
        check_listen(*address)
    except ServeError as err:
        raise click.ClickException(str(err)) from None
    click.echo(f"metrics on http://{address[0]}:{address[1]}/metrics")
    return start_listener(address, engine)


def _configure_logging(config):
    """``[logging] format``: text (as set up in ``main``) or one JSON object per line."""
    from api.observability import configure_logging

    try:
        configure_logging(config)
    except ValueError as err:
        raise click.ClickException(str(err)) from None


@main.group()
def audit():
    """The audit log."""


@audit.command("verify")
def audit_verify():
    """Walk the hash chain, with a progress bar; exit 1 naming the first bad record if broken."""
    from sqlalchemy import func, select

    from engine.models import AuditRecord

    engine = _engine()
    with engine.db.read() as session:
        total = session.scalar(select(func.count()).select_from(AuditRecord))
    with click.progressbar(length=total, label="verifying audit chain", file=sys.stderr) as bar:
        checked = [0]

        def progress(done):
            bar.update(done - checked[0])
            checked[0] = done
        result = engine.verify_audit(progress=progress)
        bar.update(result["count"] - checked[0])
    if result["ok"]:
        click.echo(f"audit chain intact: {result['count']} records")
    else:
        click.echo(f"audit chain BROKEN at seq {result['seq']}: {result['reason']}")
        sys.exit(1)


@main.group()
def files():
    """Evidence files (佐证材料)."""


@files.command("prune")
def files_prune():
    """Remove uploads nothing references, older than [files] orphan_hours (engine clock), and
    their blobs (the scheduler does this hourly too)."""
    from workflows.files import evidence

    engine = _engine()
    with engine.db.write() as session:
        count = evidence.prune(engine, session, engine.clock.now())
    click.echo(f"orphan uploads removed: {count}")


@main.command()
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
def backup(file):
    """Write a consistent copy of the database to FILE, while the service runs (SQLite: online
    backup API; PostgreSQL: pg_dump custom format). FILE is replaced if it exists."""
    from api import backup as backups

    url = load_config()["database"]["url"]
    try:
        backups.backup(url, file)
    except backups.BackupError as err:
        raise click.ClickException(str(err)) from None
    click.echo(f"backup written: {file} ({file.stat().st_size} bytes)")


@main.command()
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
def restore(file):
    """Replace the database by the backup FILE. Stop every duban serve and duban worker of the
    database first: restore refuses a database in use, and a file that is not a Duban backup."""
    from api import backup as backups

    url = load_config()["database"]["url"]
    try:
        state = backups.restore(url, file)
    except backups.BackupError as err:
        raise click.ClickException(str(err)) from None
    click.echo(f"restored {file}" + (" (schema migrated to this version)" if state == "older" else ""))
    engine = _engine()
    try:
        result = engine.verify_audit()
    finally:
        engine.close()
    if not result["ok"]:
        click.echo(f"audit chain BROKEN at seq {result['seq']}: {result['reason']}")
        sys.exit(1)
    click.echo(f"audit chain intact: {result['count']} records")
