"""``duban backup FILE`` and ``duban restore FILE``: a consistent copy of the database taken while
the service runs, and putting one back while it does not.

**SQLite** (the embedded default). The backup is SQLite's online backup API
(``sqlite3.Connection.backup``) copying every page in one step under one read transaction:
a consistent snapshot, taken while ``duban serve`` keeps writing (WAL readers never block the
writer). The copy is a self-contained SQLite file (rollback journal, no ``-wal``), written next
to FILE and renamed into place, so FILE is never half written.

**PostgreSQL.** The CLI wraps ``pg_dump --format=custom`` (one snapshot: consistent while
serving) and ``pg_restore --clean --single-transaction`` (all or nothing). They must be on
``PATH``, of the server's major version or newer. The password, if the URL has one, goes to
them in ``PGPASSWORD``, never on the command line.

**What restore checks before it changes anything.**

- The file is a Duban backup: an SQLite file, or a ``pg_dump`` archive, holding Duban's tables
  and an Alembic revision this version of Duban knows. A backup from a newer Duban is refused
  (upgrade Duban first); one from an older Duban is restored and then migrated, as
  ``duban init`` would.
- Nobody uses the database. On SQLite every ``duban serve`` and ``duban worker`` holds a
  shared lock on ``<database>.lock`` while it runs (:func:`hold`, released by the kernel even
  when the process is killed); restore takes it exclusively, or refuses and says to stop
  them. On PostgreSQL restore refuses while any other client is connected to the database
  (``pg_stat_activity``): servers and workers on every host, and anyone else.

Restore replaces everything: instances, tasks, timers, the audit chain, users and tokens, as
they were at the backup. Timers that fell due since then fire on the service's first tick.
Trade-off: on SQLite the lock only sees processes on this host, which is all SQLite supports.
"""
import contextlib
import fcntl
import os
import re
import shutil
import sqlite3
import subprocess
from pathlib import Path

import sqlalchemy as sa
from alembic.script import ScriptDirectory

from api import schema
from engine.db import Database

# Tables every Duban database has had since the first migration: what makes a file a backup.
REQUIRED_TABLES = {"alembic_version", "instance", "human_task", "timer", "audit", "audit_head"}


class BackupError(Exception):
    """Backup or restore refused (nothing was changed) or failed; the message says why."""


def _sqlite_path(url):
    path = sa.engine.make_url(url).database
    if not path or path == ":memory:":
        raise BackupError(f"{url}: not a database file")
    return Path(path).resolve()


def _known_revisions():
    """Every Alembic revision of this Duban, newest (the heads) first."""
    scripts = ScriptDirectory.from_config(schema.alembic_config("sqlite://"))
    return [revision.revision for revision in scripts.walk_revisions()], set(scripts.get_heads())


def _check_revision(revisions, source):
    known, heads = _known_revisions()
    unknown = [revision for revision in revisions if revision not in known]
    if not revisions or unknown:
        raise BackupError(f"{source}: schema revision {', '.join(revisions) or 'missing'} is not one "
                          "this version of Duban knows (a backup from a newer Duban? upgrade first)")
    return "current" if set(revisions) == heads else "older"


# -- the service's claim on an SQLite database --------------------------------------------------
@contextlib.contextmanager
def hold(url):
    """While a ``duban serve`` or ``duban worker`` runs: a shared lock on ``<database>.lock``
    (SQLite only; PostgreSQL needs none), so that restore can tell the database is in use.
    Raises :class:`BackupError` when a restore holds the database right now."""
    if not url.startswith("sqlite"):
        yield
        return
    with _lock(_sqlite_path(url), fcntl.LOCK_SH) as locked:
        if not locked:
            raise BackupError("a restore is replacing the database; start again when it is done")
        yield


@contextlib.contextmanager
def _lock(path, kind):
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(f"{path}.lock", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        try:
            fcntl.flock(fd, kind | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        yield True
    finally:
        os.close(fd)  # closing drops the lock


def _private_file(target):
    """An empty ``<target>.partial``, readable by its owner only (mode 0600): a backup holds
    password hashes and session tokens. Written, checked, then renamed over ``target``."""
    partial = target.with_name(target.name + ".partial")
    partial.unlink(missing_ok=True)
    try:
        os.close(os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    except OSError as err:
        raise BackupError(f"cannot write {target}: {err.strerror}") from None
    return partial


# -- SQLite -------------------------------------------------------------------------------------
def _sqlite_revisions(path):
    """The backup's revisions, or BackupError when ``path`` is not a Duban SQLite database."""
    try:
        with contextlib.closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as connection:
            tables = {row[0] for row in connection.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table'")}
            missing = REQUIRED_TABLES - tables
            if missing:
                raise BackupError(f"{path}: not a Duban backup (no table {', '.join(sorted(missing))})")
            if connection.execute("PRAGMA quick_check").fetchone()[0] != "ok":
                raise BackupError(f"{path}: the file is damaged (SQLite quick_check failed)")
            return [row[0] for row in connection.execute("SELECT version_num FROM alembic_version")]
    except sqlite3.DatabaseError as err:
        raise BackupError(f"{path}: not a Duban backup ({err})") from None


def _sqlite_backup(url, target):
    source = _sqlite_path(url)
    if not source.exists():
        raise BackupError(f"{source}: no database there (run duban init first)")
    if target.resolve() == source:
        raise BackupError(f"{target}: that is the database itself; choose another file")
    partial = _private_file(target)
    try:
        with contextlib.closing(sqlite3.connect(source, timeout=30)) as live, \
                contextlib.closing(sqlite3.connect(partial)) as copy:
            live.backup(copy)  # all pages in one step: one read snapshot of the live database
            copy.execute("PRAGMA journal_mode=DELETE")  # one self-contained file
        _sqlite_revisions(partial)
        os.replace(partial, target)
    except sqlite3.Error as err:
        raise BackupError(f"backup failed: {err}") from None
    finally:
        partial.unlink(missing_ok=True)


def _sqlite_restore(url, source):
    revisions = _sqlite_revisions(source)
    state = _check_revision(revisions, source)
    target = _sqlite_path(url)
    with _lock(target, fcntl.LOCK_EX) as locked:
        if not locked:
            raise BackupError(f"{target} is in use by a running duban serve or duban worker; "
                              "stop them (SIGTERM) and run duban restore again")
        with contextlib.closing(sqlite3.connect(f"file:{source}?mode=ro", uri=True)) as backup, \
                contextlib.closing(sqlite3.connect(target, timeout=30)) as live:
            # Into the live file, in one write transaction: a crash leaves the old database whole.
            backup.backup(live)
    return state


# -- PostgreSQL ---------------------------------------------------------------------------------
def _libpq(url):
    """``(conninfo URL without password, environment)`` for pg_dump and pg_restore."""
    parsed = sa.engine.make_url(url)
    env = dict(os.environ)
    if parsed.password:
        env["PGPASSWORD"] = parsed.password
    conninfo = parsed.set(drivername="postgresql", password=None).render_as_string(hide_password=False)
    return conninfo, env


def _tool(name, *args, env):
    if shutil.which(name) is None:
        raise BackupError(f"{name} is not installed (PostgreSQL client tools, e.g. postgresql-client)")
    result = subprocess.run([name, *args], env=env, capture_output=True, text=True)
    if result.returncode != 0:
        raise BackupError(f"{name} failed: {result.stderr.strip() or result.stdout.strip()}")
    return result.stdout


def _pg_contents(path, env):
    """``(tables, revisions)`` of the archive, or BackupError when ``path`` is not a Duban
    ``pg_dump`` archive."""
    try:
        listing = _tool("pg_restore", "--list", str(path), env=env)
    except BackupError:
        raise BackupError(f"{path}: not a Duban backup (not a pg_dump custom-format archive)") from None
    tables = set(re.findall(r"\bTABLE public (\w+) ", listing))
    missing = REQUIRED_TABLES - tables
    if missing:
        raise BackupError(f"{path}: not a Duban backup (no table {', '.join(sorted(missing))})")
    data = _tool("pg_restore", "--data-only", "--table=alembic_version", "--file=-", str(path), env=env)
    rows = re.search(r"^COPY public\.alembic_version .*? FROM stdin;\n(.*?)^\\\.$", data, re.M | re.S)
    return tables, rows.group(1).split() if rows else []


def _pg_restore(url, source):
    conninfo, env = _libpq(url)
    tables, revisions = _pg_contents(source, env)
    state = _check_revision(revisions, source)
    db = Database(url, pool_size=1)
    try:
        with db.read() as session:
            others = session.execute(sa.text(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                "AND pid <> pg_backend_pid() AND backend_type = 'client backend'")).scalar()
        if others:
            raise BackupError(f"the database has {others} other connection(s) (duban serve, duban worker "
                              "or other clients, on any host); stop them and run duban restore again")
        # pg_restore --clean drops only what the archive holds. Tables a newer schema added
        # (the backup is older) would stay and block the migration after it, and constraints it
        # added to the archive's tables (department.parent_code → department.code, escalation.problem_id → problem.id) would
        # block --clean dropping their keys: for an older backup drop every table first.
        # Their rows are being replaced anyway; if pg_restore then fails, run restore again.
        present = set(sa.inspect(db.write_engine).get_table_names(schema="public"))
        extra = present if state == "older" else present - tables
        if extra:
            with db.write() as session:
                for table in sorted(extra):
                    session.execute(sa.text(f'DROP TABLE IF EXISTS public."{table}" CASCADE'))
    finally:
        db.dispose()
    _tool("pg_restore", "--clean", "--if-exists", "--no-owner", "--no-privileges", "--single-transaction",
          "--exit-on-error", f"--dbname={conninfo}", str(source), env=env)
    return state


def _pg_backup(url, target):
    conninfo, env = _libpq(url)
    partial = _private_file(target)
    try:
        _tool("pg_dump", "--format=custom", "--no-owner", "--no-privileges", f"--file={partial}",
              f"--dbname={conninfo}", env=env)
        _pg_contents(partial, env)
        os.replace(partial, target)
    finally:
        partial.unlink(missing_ok=True)


# -- the commands -------------------------------------------------------------------------------
def backup(url, target):
    """Write a consistent copy of the database at ``url`` to ``target`` (replaced if there)."""
    target = Path(target)
    if target.is_dir():
        raise BackupError(f"{target} is a directory; name the backup file")
    if url.startswith("sqlite"):
        _sqlite_backup(url, target)
    else:
        _pg_backup(url, target)


def restore(url, source):
    """Replace the database at ``url`` by the backup ``source``, then bring its schema up to
    date. Returns ``"current"`` or ``"older"`` (the backup's schema, now migrated)."""
    source = Path(source)
    if not source.is_file():
        raise BackupError(f"{source}: no such file")
    with open(source, "rb") as fh:
        magic = fh.read(16)
    sqlite = url.startswith("sqlite")
    if sqlite and magic.startswith(b"PGDMP"):
        raise BackupError(f"{source}: a PostgreSQL (pg_dump) backup, but the database is SQLite")
    if not sqlite and magic == b"SQLite format 3\0":
        raise BackupError(f"{source}: an SQLite backup, but the database is PostgreSQL")
    state = _sqlite_restore(url, source) if sqlite else _pg_restore(url, source)
    if state == "older":
        db = Database(url)
        try:
            schema.upgrade(db)
        finally:
            db.dispose()
    return state
