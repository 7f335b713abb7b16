"""Authentication and authorisation: bearer tokens and role checks.

Tokens are random (256 bits), stored only as sha256 digests, expire after
``[auth] token_hours`` and can be revoked. ``current_actor()`` is the caller as an engine
:class:`Actor` (username, roles, department).
"""
import datetime as dt
import functools
import hashlib
import secrets

from apiflask import APIBlueprint, HTTPTokenAuth, Schema
from apiflask.fields import List, Nested, String
from apiflask.validators import Length
from flask import g
from sqlalchemy import select, update
from werkzeug.security import check_password_hash

from api.errors import abort
from api.models import Token, User
from api.runtime import engine
from engine.actor import Actor

token_auth = HTTPTokenAuth(scheme="Bearer", description="`Authorization: Bearer <token>` from POST /api/v1/auth/token")
bp = APIBlueprint("auth", __name__, url_prefix="/api/v1", tag="Auth")


def _digest(token):
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


@token_auth.verify_token
def verify_token(token):
    if not token:
        return None
    now = engine().clock.now()
    with engine().db.read() as session:  # every request: the token and its user in one query
        found = session.execute(select(Token, User).join(User, User.username == Token.username)
                                .where(Token.digest == _digest(token))).first()
        if found is None:
            return None
        row, user = found
        if row.revoked or row.expires_at <= now or not user.active:
            return None
        g.token_digest = row.digest
        return user


@token_auth.error_processor
def auth_error(error):
    return {"error": {"code": "unauthorized", "message": "missing, invalid or expired token",
                      "details": None}}, 401, {"WWW-Authenticate": "Bearer"}


def user_actor(user):
    return Actor(user.username, frozenset(user.roles or ()), user.department)


def current_actor():
    return user_actor(token_auth.current_user)


def require_roles(*roles):
    """Decorator: the caller needs one of ``roles`` (admin always passes)."""
    def decorate(view):
        @functools.wraps(view)
        def wrapped(*args, **kwargs):
            actor = current_actor()
            if not actor.is_admin and not actor.has_any(*roles):
                abort(403, "forbidden", f"this needs one of the roles: {', '.join(roles)}")
            return view(*args, **kwargs)
        return wrapped
    return decorate


class Credentials(Schema):
    username = String(required=True, validate=Length(1, 100))
    password = String(required=True, validate=Length(1, 500))


class UserOut(Schema):
    username = String(required=True)
    display_name = String(required=True)
    department = String(allow_none=True)
    roles = List(String(), required=True)


class TokenResponse(Schema):
    token = String(required=True)
    expires_at = String(required=True)
    user = Nested(UserOut, required=True)


def user_out(user):
    return {"username": user.username, "display_name": user.display_name,
            "department": user.department, "roles": list(user.roles or [])}


@bp.post("/auth/token")
@bp.input(Credentials, arg_name="credentials")
@bp.output(TokenResponse)
@bp.doc(summary="Log in: exchange username and password for a bearer token", responses=[400, 401])
def issue_token(credentials):
    rt = engine()
    with rt.db.read() as session:
        user = session.get(User, credentials["username"])
    if user is None or not user.active or not check_password_hash(user.password_hash, credentials["password"]):
        abort(401, "unauthorized", "wrong username or password")
    token = secrets.token_urlsafe(32)
    now = rt.clock.now()
    expires = now + dt.timedelta(hours=float(rt.config.get("auth", {}).get("token_hours", 12)))
    with rt.db.write() as session:
        session.add(Token(digest=_digest(token), username=user.username, created_at=now, expires_at=expires))
        rt.audit.append(session, "user_logged_in", actor=user.username)
    return {"token": token, "expires_at": expires.isoformat(), "user": user_out(user)}


@bp.post("/auth/revoke")
@bp.auth_required(token_auth)
@bp.output({}, status_code=204)
@bp.doc(summary="Log out: revoke the token used for this request")
def revoke_token():
    with engine().db.write() as session:
        session.execute(update(Token).where(Token.digest == g.token_digest).values(revoked=True))
    return ""


@bp.get("/me")
@bp.auth_required(token_auth)
@bp.output(UserOut)
@bp.doc(summary="The calling user")
def me():
    return user_out(token_auth.current_user)
