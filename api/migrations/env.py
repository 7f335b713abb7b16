"""Alembic environment: one schema for engine, domain and API tables (one ``Base``)."""
from alembic import context
from sqlalchemy import create_engine

import api.models  # noqa: F401  (registers tables on Base)
import workflows.complaints.models  # noqa: F401
import workflows.drafts  # noqa: F401
import workflows.files.models  # noqa: F401
import workflows.rectification.models  # noqa: F401
import workflows.supervision.models  # noqa: F401
from engine.models import Base

config = context.config
target_metadata = Base.metadata


def run_migrations_online():
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    engine = create_engine(config.get_main_option("sqlalchemy.url"))
    with engine.connect() as connection:
        _run(connection)
    engine.dispose()


def _run(connection):
    context.configure(connection=connection, target_metadata=target_metadata,
                      render_as_batch=connection.dialect.name == "sqlite")
    with context.begin_transaction():
        context.run_migrations()


run_migrations_online()
