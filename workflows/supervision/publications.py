"""公示: a month's ranking published to the public page, with only the columns chosen (issue 16).

Contract: a publication's ``data`` is computed once, at publish time, from the ranking
(``reports.ranking``) and holds exactly the chosen columns of each row, formatted as the public
reads them (rates as percentages, ratings as 优/良/差), the department by its name and never its
code; the public page renders ``data`` and nothing else. Later changes to the figures or to
department names do not alter a publication: publish again for a new state.

The department's name (``name``) is always a column: a row of figures without whose they are
means nothing. The circular (``circular``: true) adds the printable circular's generated
sentences (``reports.circular_summary``), which name departments with overdue steps and count
them: choosing the circular publishes that, whatever the columns.
"""
from sqlalchemy import func, select

from engine.errors import InvalidInput, NotFound, problem
from workflows import text
from workflows.supervision import reports
from workflows.supervision.models import Publication

# The ranking's columns (api.reports.RANKING_COLUMNS' order and words) a publication may show.
COLUMNS = (("rank", "排名"), ("name", "部门"), ("items_handled", "办理事项"), ("steps_due", "应办环节"),
           ("steps_on_time", "按时办理"), ("on_time_rate", "按时率"), ("overdue_steps", "超期环节"),
           ("escalations", "升级督办"), ("measures", "问责措施"), ("items_closed", "办结事项"),
           ("average_rating", "平均评价"))
LABELS = dict(COLUMNS)
ALWAYS = ("name",)
MAX_NOTE = 2000


def chosen(fields):
    """The chosen columns in table order, the department's name always among them; InvalidInput
    (field ``fields``, ``unknown_field``) for a column the ranking does not have."""
    unknown = [f for f in fields if f not in LABELS]
    if unknown:
        raise InvalidInput(f"unknown ranking columns: {', '.join(map(str, unknown))}", details=[
            problem("fields", "unknown_field", f"not a ranking column: {unknown[0]}")])
    wanted = set(fields) | set(ALWAYS)
    return [name for name, _ in COLUMNS if name in wanted]


def _cell(field, row):
    if field == "on_time_rate":
        return None if row["on_time_rate"] is None else f"{row['on_time_rate'] * 100:.1f}%"
    if field == "average_rating":
        return {"excellent": "优", "good": "良", "poor": "差"}.get(reports.rating_grade(row["average_rating"]))
    return row[field]


def snapshot(report, fields, circular, note=None):
    """The frozen content of a publication of ``report`` (``reports.ranking``): title, columns
    (field and Chinese label), rows of exactly those fields, the circular's sentences or None,
    the note."""
    columns = chosen(fields)
    title = reports.month_title(report["month"])
    return {"month": report["month"], "title": f"{title}督查督办工作通报排名",
            "columns": [{"field": f, "label": LABELS[f]} for f in columns],
            "rows": [{f: _cell(f, row) for f in columns} for row in report["departments"]],
            "circular": reports.circular_summary(report, title) if circular else None,
            "note": note or None}


def publish(session, audit, report, fields, circular, note, actor, now):
    """Store a publication of ``report`` (in ``session``'s transaction, audited); returns the row."""
    if note is not None and len(note) > MAX_NOTE:
        raise InvalidInput("note too long", details=[
            problem("note", "too_long", f"at most {MAX_NOTE} characters", max=MAX_NOTE)])
    if note and (refused := text.long_text_problem("note", note)):  # control characters
        raise InvalidInput("invalid note", details=[refused])
    data = snapshot(report, fields, circular, note)
    row = Publication(month=report["month"], fields=[c["field"] for c in data["columns"]], circular=bool(circular),
                      note=note or None, data=data, published_by=actor, published_at=now)
    session.add(row)
    session.flush()
    audit.append(session, "publication_published", actor=actor,
                 data={"id": row.id, "month": row.month, "fields": row.fields, "circular": row.circular})
    return row


def withdraw(session, audit, publication_id, actor, now):
    """Withdraw a publication: the public no longer sees it (NotFound for none or one withdrawn)."""
    row = session.get(Publication, publication_id)
    if row is None or row.withdrawn_at is not None:
        raise NotFound(f"no publication {publication_id}")
    row.withdrawn_by, row.withdrawn_at = actor, now
    audit.append(session, "publication_withdrawn", actor=actor, data={"id": row.id, "month": row.month})
    return row


def listed(session, limit, offset, include_withdrawn=False):
    """``(rows, total)``: publications newest first; the public's list leaves out withdrawn ones."""
    statement = select(Publication)
    if not include_withdrawn:
        statement = statement.where(Publication.withdrawn_at.is_(None))
    total = session.scalar(select(func.count()).select_from(statement.subquery()))
    rows = session.scalars(statement.order_by(Publication.published_at.desc(), Publication.id.desc())
                           .limit(limit).offset(offset))
    return list(rows), total


def public(session, publication_id):
    """A publication the public may read, or None (unknown or withdrawn)."""
    row = session.get(Publication, publication_id)
    return row if row is not None and row.withdrawn_at is None else None
