"""Yearly record numbers (DB-2026-0007, ZG-2026-0003): the next ``seq`` of a year, race-free.

Two records registered at the same moment would both read the same max(seq) and one would
fail on UNIQUE (year, seq). On PostgreSQL an advisory lock per (namespace, year) serialises
allocation until commit; SQLite needs nothing, its writers already queue (BEGIN IMMEDIATE).
"""
from sqlalchemy import func, select, text


def next_seq(session, model, year, lock_namespace):
    """The next sequence number of ``model`` (with ``year`` and ``seq`` columns) in ``year``."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:namespace, :year)"),
                        {"namespace": lock_namespace, "year": year})
    return (session.scalar(select(func.max(model.seq)).where(model.year == year)) or 0) + 1
