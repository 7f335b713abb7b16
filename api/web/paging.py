"""Page numbers and other small integers read from a page's query string, bounded.

A number a person did not get from a link (``?page=99999999999999999999``) is not an error
worth a 500: anything that is not a whole number from 1 to :data:`MAX_PAGE` reads as the
default. (The bound keeps the SQL offset inside a 64-bit integer on every database.)
"""
from flask import request

MAX_PAGE = 200_000  # × 50 rows: the API's own offset cap (api.schemas.Page)


def small_int(name, default=None, maximum=MAX_PAGE):
    """``?name=`` as an int in 1..``maximum``, else ``default``."""
    text = request.args.get(name, "")
    if not text.isdigit() or len(text) > len(str(maximum)) or not 1 <= int(text) <= maximum:
        return default
    return int(text)


def page_number():
    """``?page=`` (1 when absent or out of range)."""
    return small_int("page", 1)
