"""The password policy and password hashing, for every place a password is set or checked.

A password (on user creation, an admin's reset, one's own change) has at least
:data:`MIN_LENGTH` characters, is not on the common-password list shipped with Duban
(``api/common_passwords.txt``, compared case-insensitively) and does not contain the
username; otherwise :class:`WeakPassword` (400, ``error.code`` ``weak_password``) with one
detail per problem: ``password_too_short``, ``common_password``, ``contains_username``.

:func:`verify` costs the same whether or not the user exists, so response times do not tell
which usernames are real.
"""
import functools
from pathlib import Path

from werkzeug.security import check_password_hash, generate_password_hash

from engine.errors import InvalidInput, problem

MIN_LENGTH = 10
MAX_LENGTH = 500
COMMON_LIST = Path(__file__).resolve().parent / "common_passwords.txt"


class WeakPassword(InvalidInput):
    code = "weak_password"


@functools.cache
def common_passwords():
    """The shipped list, lower-cased (read once)."""
    lines = COMMON_LIST.read_text(encoding="utf-8").splitlines()
    return frozenset(line.strip().lower() for line in lines if line.strip() and not line.startswith("#"))


def problems(password, username, field="password"):
    """What is wrong with ``password`` for ``username``: a list of detail problems (empty: fine)."""
    found = []
    if len(password) < MIN_LENGTH:
        found.append(problem(field, "password_too_short", f"at least {MIN_LENGTH} characters",
                             min=MIN_LENGTH))
    if len(password) > MAX_LENGTH:
        found.append(problem(field, "too_long", f"at most {MAX_LENGTH} characters", max=MAX_LENGTH))
    if password.lower() in common_passwords():
        found.append(problem(field, "common_password", "a commonly used password"))
    if username and username.lower() in password.lower():
        found.append(problem(field, "contains_username", "contains the username"))
    return found


def check(password, username, field="password"):
    """Raise :class:`WeakPassword` unless ``password`` meets the policy for ``username``."""
    found = problems(password, username, field)
    if found:
        raise WeakPassword("the password is too weak: " + "; ".join(p["message"] for p in found),
                           details=found)


def hash_password(password):
    return generate_password_hash(password)


@functools.cache
def _dummy_hash():
    # The same method and cost as real hashes, so an unknown username costs a real check.
    return generate_password_hash("no user has this password")


def verify(user, password):
    """True when ``user`` (a User row or None) is active and ``password`` is theirs.

    Always checks one hash, also for an unknown or inactive user, so the time taken does
    not reveal whether a username exists.
    """
    stored = user.password_hash if user is not None else _dummy_hash()
    matches = check_password_hash(stored, password)
    return user is not None and user.active and matches
