"""Database access: one SQLAlchemy engine for reads and one for writes.

SQLite (the embedded default) runs in WAL mode; its write sessions start with
``BEGIN IMMEDIATE`` so two writers queue on the file lock instead of failing when one
upgrades a read snapshot. PostgreSQL uses a single pooled engine for both.
Trade-off: SQLite serialises all writes (fine for one office); scale-out needs PostgreSQL.

On PostgreSQL, read sessions run in autocommit: under READ COMMITTED every statement takes its
own snapshot anyway, so a transaction around reads would only add the BEGIN and ROLLBACK round
trips. :meth:`Database.stream` gives a real (read-only) transaction for server-side cursors.

**Outages.** PostgreSQL connections are pinged when taken from the pool (``pool_pre_ping``:
one ``SELECT 1`` round trip per checkout, well under a millisecond on a local network), so
after a database restart a stale pooled connection is replaced before a command uses it and
the first request after the restart succeeds. While the database is unreachable every
statement fails with an error :func:`unavailable` recognises; the API answers it 503 with
``Retry-After`` (``api.errors``) and the schedulers skip their tick.

Nothing is retried here, on purpose. A unit of work is one transaction: a connection lost
before ``COMMIT`` rolled everything back, and the caller may simply try again. A connection
lost *during* ``COMMIT`` is ambiguous (the server may have committed before the link broke),
and re-running a command that did commit would apply it twice (a second item, a second
task completion attempt). So the engine answers such a failure "unavailable" and lets the
client retry: a person's retried command is checked again against the fresh state (a task
completed by the first attempt answers 409, not a second completion), and a timer's retry
fires under the instance's version check and finds the timer already fired.
"""
import contextlib
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.orm import sessionmaker

from engine import metrics


def _sqlite_engine(url, immediate, **options):
    path = sa.engine.make_url(url).database
    if path and path != ":memory:":
        Path(path).parent.mkdir(parents=True, exist_ok=True)
    engine = sa.create_engine(url, connect_args={"timeout": 30, "check_same_thread": False}, **options)

    @event.listens_for(engine, "connect")
    def _configure(dbapi_connection, _record):
        dbapi_connection.isolation_level = None  # we issue BEGIN ourselves
        cursor = dbapi_connection.cursor()
        for pragma in ("journal_mode=WAL", "synchronous=NORMAL", "foreign_keys=ON",
                       "busy_timeout=30000"):
            cursor.execute(f"PRAGMA {pragma}")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _begin(connection):
        connection.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

    return engine


def unavailable(err):
    """The database error behind ``err`` (itself or an exception it was raised from) when it
    means the database cannot be reached or dropped the connection: a lost or refused
    connection, a server shutting down, SQLite unable to open or lock its file, or no pooled
    connection free in time; else ``None``. Such a failure says nothing about the command: the
    same command may succeed later."""
    seen = set()
    while err is not None and id(err) not in seen:
        seen.add(id(err))
        if isinstance(err, (sa.exc.OperationalError, sa.exc.TimeoutError)):
            return err
        if isinstance(err, sa.exc.DBAPIError) and err.connection_invalidated:
            return err
        err = err.__cause__ or err.__context__
    return None


class Database:
    """``pooled=False``: a connection per session, closed after it (a process that forks and
    reads rarely: the gunicorn master's metrics listener); not counted in the pool metrics."""

    def __init__(self, url, pool_size=10, pooled=True):
        self.url = url
        self.is_sqlite = url.startswith("sqlite")
        pooling = {} if pooled else {"poolclass": sa.pool.NullPool}
        if self.is_sqlite:
            self.engine = _sqlite_engine(url, immediate=False, **pooling)
            self.write_engine = _sqlite_engine(url, immediate=True, **pooling)
        else:
            sizes = dict(pool_size=pool_size, max_overflow=pool_size) if pooled else {}
            self.write_engine = sa.create_engine(url, **sizes, **pooling, pool_pre_ping=True)
            self.engine = self.write_engine.execution_options(isolation_level="AUTOCOMMIT")
        # Pools in use for the metrics: SQLite has a reader's and a writer's, PostgreSQL one.
        pools = {"read": self.engine, "write": self.write_engine} if self.is_sqlite else {"main": self.write_engine}
        self._pools = {name: metrics.watch_pool(sa_engine, name) for name, sa_engine in pools.items()} if pooled else {}
        self._read = sessionmaker(self.engine, expire_on_commit=False)
        self._write = sessionmaker(self.write_engine, expire_on_commit=False)

    @contextlib.contextmanager
    def read(self):
        """A session for queries; never commits."""
        with self._read() as session:
            yield session

    @contextlib.contextmanager
    def stream(self):
        """A session for reading in batches through a server-side cursor (``yield_per``): one
        transaction, rolled back at the end; never commits."""
        if self.is_sqlite:
            with self.read() as session:
                yield session
            return
        with self._write() as session:
            try:
                yield session
            finally:
                session.rollback()

    @contextlib.contextmanager
    def write(self):
        """A session whose work commits on success and rolls back on any exception."""
        with self._write() as session, session.begin():
            yield session

    def ping(self):
        with self.engine.connect() as connection:
            connection.exec_driver_sql("SELECT 1")

    def dispose(self):
        self.write_engine.dispose()
        if self.is_sqlite:
            self.engine.dispose()
        for name, size in self._pools.items():
            metrics.unwatch_pool(name, size)
        self._pools = {}
        if self.is_sqlite:
            self.engine.dispose()
