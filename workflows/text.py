"""Which characters a person's text may hold: the one rule for names and for long text.

Refused, never stripped (the sender sees what was wrong, and what is stored is what was sent):

- in **long text** (a complaint, a description, requirements): C0 control characters except
  tab, newline and carriage return (a browser's textarea sends ``\\r\\n``), DEL, and C1
  controls (U+0080–U+009F) — code ``control_character``;
- in **names** (a title, a contact, a file name): every control character, newlines included,
  and also the bidirectional controls (U+202A–U+202E, U+2066–U+2069, U+200E, U+200F, U+061C)
  that make ``photo\\u202egpj.exe`` read as ``photoexe.jpg`` — codes ``control_character``,
  ``bidi_control``.
"""
import re

from engine.errors import problem

_LONG_TEXT_CONTROLS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
_NAME_CONTROLS = re.compile(r"[\x00-\x1f\x7f-\x9f]")
_BIDI = re.compile(r"[\u202a-\u202e\u2066-\u2069\u200e\u200f\u061c]")


def long_text_problem(field, value):
    """The problem of a long text ``value`` (a :func:`engine.errors.problem`), or None."""
    if isinstance(value, str) and _LONG_TEXT_CONTROLS.search(value):
        return problem(field, "control_character", "control characters other than tab and newline are not allowed")
    return None


def name_problem(field, value):
    """The problem of a name ``value``, or None."""
    if not isinstance(value, str):
        return None
    if _NAME_CONTROLS.search(value):
        return problem(field, "control_character", "a name may not hold control characters or line breaks")
    if _BIDI.search(value):
        return problem(field, "bidi_control", "a name may not hold bidirectional control characters")
    return None
