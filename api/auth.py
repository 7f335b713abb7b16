"""Authentication and authorisation: logging in, bearer tokens and web sessions, role checks.

Tokens are random (256 bits), stored only as sha256 digests, expire after
``[auth] token_hours`` of wall time (never the simulated business clock) and can be revoked.
A web page session is a token row too (``via = "web"``, its token in the signed cookie), so
logging out, deactivating a user or changing a password ends it on the server at once.
Logins go through :func:`log_in`: throttled (``api.login_throttle``), the same cost for
unknown users (``api.passwords.verify``), failures audited and logged (never the password).
``current_actor()`` is the caller as an engine :class:`Actor` (username, roles, department and
its place in the department tree).
"""
import datetime as dt
import functools
import hashlib
import logging
import secrets

from apiflask import APIBlueprint, HTTPTokenAuth, Schema
from apiflask.fields import Boolean, DateTime, Integer, List, Nested, String
from apiflask.validators import Length, OneOf
from flask import g, request
from sqlalchemy import select, update

from api import login_throttle, passwords
from api.errors import abort
from api.models import Token, User
from api.runtime import engine, wall_now
from engine.actor import Actor
from engine.errors import InvalidInput, NotFound, problem

log = logging.getLogger(__name__)

token_auth = HTTPTokenAuth(scheme="Bearer", description="`Authorization: Bearer <token>` from POST /api/v1/auth/token")
bp = APIBlueprint("auth", __name__, url_prefix="/api/v1", tag="Auth")


def _digest(token):
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


# -- tokens and sessions --------------------------------------------------------------------
def token_hours(config):
    return float(config.get("auth", {}).get("token_hours", 12))


def open_session(rt, username, via="api"):
    """A new token for ``username``: ``(token, expires_at)``, ``token_hours`` of wall time."""
    token, now = secrets.token_urlsafe(32), wall_now()
    expires = now + dt.timedelta(hours=token_hours(rt.config))
    with rt.db.write() as session:
        session.add(Token(digest=_digest(token), username=username, created_at=now, expires_at=expires, via=via))
    return token, expires


def session_user(token):
    """The active user whose unrevoked, unexpired (wall time) token this is, or None;
    sets ``g.token_digest``."""
    if not token:
        return None
    with engine().db.read() as session:  # every request: the token and its user in one query
        found = session.execute(select(Token, User).join(User, User.username == Token.username)
                                .where(Token.digest == _digest(token))).first()
    if found is None:
        return None
    row, user = found
    if row.revoked or row.expires_at <= wall_now() or not user.active:
        return None
    g.token_digest = row.digest
    return user


def end_token(token=None, digest=None):
    """End one token or web session, given it or its digest."""
    digest = digest or _digest(token)
    with engine().db.write() as session:
        session.execute(update(Token).where(Token.digest == digest).values(revoked=True))


def end_sessions(session, username, keep_digest=None):
    """Inside a write: revoke every token and web session of ``username`` but ``keep_digest``."""
    statement = update(Token).where(Token.username == username, Token.revoked.is_(False))
    if keep_digest:
        statement = statement.where(Token.digest != keep_digest)
    session.execute(statement.values(revoked=True))


@token_auth.verify_token
def verify_token(token):
    return session_user(token)


# -- logging in -------------------------------------------------------------------------------
def client_address():
    return request.remote_addr or "unknown"


def log_in(rt, username, password, via):
    """The user for ``username`` and ``password``, or None; raises ``login_throttle.Throttled``
    while this username or address is refused (whatever the password). Wall time throughout."""
    address, policy = client_address(), login_throttle.Policy.from_config(rt.config)
    login_throttle.admit(rt.db, policy, username, address, wall_now())
    with rt.db.read() as session:
        user = session.get(User, username) if username else None
    if not passwords.verify(user, password):
        _failed(rt, username, address, via, known=user is not None)
        return None
    login_throttle.succeeded(rt.db, username, address)
    with rt.db.write() as session:
        rt.audit.append(session, "user_logged_in", actor=user.username, data={"via": via, "address": address})
    return user


def _failed(rt, username, address, via, known):
    # Audited and logged with the username as typed and the address; never the password.
    log.warning("failed login for %r from %s (%s)", username[:100], address, via)
    with rt.db.write() as session:
        rt.audit.append(session, "login_failed", actor=username[:100] or None,
                        data={"via": via, "address": address, "known_user": known})


@token_auth.error_processor
def auth_error(error):
    return {"error": {"code": "unauthorized", "message": "missing, invalid or expired token",
                      "details": None}}, 401, {"WWW-Authenticate": "Bearer"}


def user_actor(user):
    return Actor(user.username, frozenset(user.roles or ()), user.department, user.department_path)


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


THROTTLED_DOC = {"description": "too many failed logins for this username or address",
                 "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorOut"}}},
                 "headers": {"Retry-After": {"description": "seconds until a login is accepted again",
                                             "schema": {"type": "integer"}}}}


def user_out(user):
    return {"username": user.username, "display_name": user.display_name,
            "department": user.department, "roles": list(user.roles or [])}


@bp.post("/auth/token")
@bp.input(Credentials, arg_name="credentials")
@bp.output(TokenResponse)
@bp.doc(summary="Log in: exchange username and password for a bearer token; repeated failures are "
                "slowed, then refused (429 with Retry-After)",
        responses={200: "the token", 400: "bad input", 401: "wrong username or password", 429: THROTTLED_DOC})
def issue_token(credentials):
    rt = engine()
    try:
        user = log_in(rt, credentials["username"], credentials["password"], via="api")
    except login_throttle.Throttled as err:
        abort(429, err.code, err.message, [{**err.details[0], "retry_after": err.retry_after}],
              headers={"Retry-After": str(err.retry_after)})
    if user is None:
        abort(401, "unauthorized", "wrong username or password")
    token, expires = open_session(rt, user.username, via="api")
    return {"token": token, "expires_at": expires.isoformat(), "user": user_out(user)}


@bp.post("/auth/revoke")
@bp.auth_required(token_auth)
@bp.output({}, status_code=204)
@bp.doc(summary="Log out: revoke the token used for this request")
def revoke_token():
    end_token(digest=g.token_digest)
    return ""


# -- one's own password ---------------------------------------------------------------------
def change_own_password(rt, user, current, new, keep_digest):
    """``user`` changes their password: InvalidInput ``wrong_password`` unless ``current`` is
    theirs, WeakPassword for a weak ``new``; their other tokens and sessions end."""
    if not passwords.verify(user, current):
        raise InvalidInput("the current password is wrong",
                           details=[problem("current", "wrong_password", "the current password is wrong")])
    passwords.check(new, user.username, field="new")
    with rt.db.write() as session:
        session.get(User, user.username).password_hash = passwords.hash_password(new)
        end_sessions(session, user.username, keep_digest=keep_digest)
        rt.audit.append(session, "password_changed", actor=user.username, data={"username": user.username})


class OwnPasswordIn(Schema):
    current = String(required=True, validate=Length(1, 500))
    new = String(required=True, validate=Length(1, 500))


class Done(Schema):
    ok = Boolean(required=True)


@bp.post("/me/password")
@bp.auth_required(token_auth)
@bp.input(OwnPasswordIn, arg_name="body")
@bp.output(Done)
@bp.doc(summary="Change one's own password; the user's other tokens and sessions end", responses=[400])
def my_password(body):
    change_own_password(engine(), token_auth.current_user, body["current"], body["new"], g.token_digest)
    return {"ok": True}


# -- lockouts (admin) -------------------------------------------------------------------------
class LockoutOut(Schema):
    kind = String(required=True)
    key = String(required=True)
    failures = Integer(required=True)
    locked_until = DateTime(allow_none=True)
    retry_after = Integer(required=True)


class LockoutPage(Schema):
    items = List(Nested(LockoutOut), required=True)
    total = Integer(required=True)


class LockoutIn(Schema):
    kind = String(required=True, validate=OneOf(login_throttle.KINDS))
    key = String(required=True, validate=Length(1, 100))


def lift_lockout(rt, kind, key, actor):
    """Forget the failed logins of one username or address (audited); NotFound when none."""
    if not login_throttle.lift(rt.db, kind, key):
        raise NotFound(f"no failed logins for {kind} {key!r}", reason="no_lockout")
    with rt.db.write() as session:
        rt.audit.append(session, "login_lockout_lifted", actor=actor, data={"kind": kind, "key": key})


@bp.get("/auth/lockouts")
@bp.auth_required(token_auth)
@require_roles("admin")
@bp.output(LockoutPage)
@bp.doc(summary="Usernames and addresses with recent failed logins; retry_after > 0 while refused (admin)",
        responses=[403])
def list_lockouts():
    rt = engine()
    items = login_throttle.lockouts(rt.db, login_throttle.Policy.from_config(rt.config), wall_now())
    return {"items": items, "total": len(items)}


@bp.post("/auth/lockouts/lift")
@bp.auth_required(token_auth)
@require_roles("admin")
@bp.input(LockoutIn, arg_name="body")
@bp.output(Done)
@bp.doc(summary="Lift the login throttle of one username or address (admin)", responses=[400, 403, 404])
def lift(body):
    lift_lockout(engine(), body["kind"], body["key"], current_actor().username)
    return {"ok": True}


@bp.get("/me")
@bp.auth_required(token_auth)
@bp.output(UserOut)
@bp.doc(summary="The calling user")
def me():
    return user_out(token_auth.current_user)
