"""Database access: one SQLAlchemy engine for reads and one for writes.

SQLite (the embedded default) runs in WAL mode; its write sessions start with
``BEGIN IMMEDIATE`` so two writers queue on the file lock instead of failing when one
upgrades a read snapshot. PostgreSQL uses a single pooled engine for both.
Trade-off: SQLite serialises all writes (fine for one office); scale-out needs PostgreSQL.
"""
import contextlib
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.orm import sessionmaker


def _sqlite_engine(url, immediate):
    path = sa.engine.make_url(url).database
    if path and path != ":memory:":
        Path(path).parent.mkdir(parents=True, exist_ok=True)
    engine = sa.create_engine(url, connect_args={"timeout": 30, "check_same_thread": False})

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


class Database:
    def __init__(self, url, pool_size=10):
        self.url = url
        self.is_sqlite = url.startswith("sqlite")
        if self.is_sqlite:
            self.engine = _sqlite_engine(url, immediate=False)
            self.write_engine = _sqlite_engine(url, immediate=True)
        else:
            self.engine = sa.create_engine(url, pool_size=pool_size, max_overflow=pool_size,
                                           pool_pre_ping=True)
            self.write_engine = self.engine
        self._read = sessionmaker(self.engine, expire_on_commit=False)
        self._write = sessionmaker(self.write_engine, expire_on_commit=False)

    @contextlib.contextmanager
    def read(self):
        """A session for queries; never commits."""
        with self._read() as session:
            yield session

    @contextlib.contextmanager
    def write(self):
        """A session whose work commits on success and rolls back on any exception."""
        with self._write() as session, session.begin():
            yield session

    def ping(self):
        with self.engine.connect() as connection:
            connection.exec_driver_sql("SELECT 1")

    def dispose(self):
        self.engine.dispose()
        if self.write_engine is not self.engine:
            self.write_engine.dispose()
