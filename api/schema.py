"""Create or upgrade the database schema with Alembic (``duban init``, tests)."""
from pathlib import Path

from alembic import command
from alembic.config import Config

MIGRATIONS = Path(__file__).resolve().parent / "migrations"


def alembic_config(url):
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def upgrade(db):
    """Bring ``db`` (an engine.db.Database) to the latest schema; idempotent."""
    config = alembic_config(db.url)
    with db.write_engine.connect() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "heads")
        connection.commit()
