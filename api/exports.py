"""CSV and XLSX downloads of tabular reports.

CSV is UTF-8 with a byte-order mark, so spreadsheet software shows the Chinese text. XLSX
(openpyxl) has a bold header row, frozen below the header, with column widths that fit.
"""
import csv
import io

from flask import Response
from openpyxl import Workbook
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter

XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _text_width(value):
    text = "" if value is None else str(value)
    return sum(2 if ord(ch) > 0x2E80 else 1 for ch in text)  # CJK characters are double width


def csv_response(columns, rows, filename):
    """``columns``: [(key, header)]; ``rows``: dicts."""
    buffer = io.StringIO()
    buffer.write("\ufeff")
    writer = csv.writer(buffer)
    writer.writerow([header for _, header in columns])
    for row in rows:
        writer.writerow(["" if row.get(key) is None else row.get(key) for key, _ in columns])
    return Response(buffer.getvalue().encode("utf-8"), mimetype="text/csv; charset=utf-8",
                    headers={"Content-Disposition": f"attachment; filename={filename}.csv"})


def xlsx_response(columns, rows, filename, title):
    workbook = Workbook()
    sheet = workbook.active
    sheet.title = title[:31]
    sheet.append([header for _, header in columns])
    for row in rows:
        sheet.append([row.get(key) for key, _ in columns])
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
    return Response(buffer.getvalue(), mimetype=XLSX_TYPE,
                    headers={"Content-Disposition": f"attachment; filename={filename}.xlsx"})
