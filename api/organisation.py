"""Organisation (admin): departments and users, one department per user.

Admins create, rename and deactivate departments, and create users, change their display
name, department, roles and active flag, and reset their passwords. Every change is audited
(never a password); deactivating a user or resetting their password ends their tokens and web
sessions at once. Passwords follow ``api.passwords``. An inactive department keeps its
members but takes no new ones. Departments have no parent yet: ``parent`` is refused.
"""
from apiflask import APIBlueprint, Schema
from apiflask.fields import Boolean, Integer, List, Nested, String
from apiflask.validators import Email, Length, OneOf, Regexp
from sqlalchemy import func, select

from api import passwords
from api.auth import UserOut, current_actor, end_sessions, require_roles, token_auth, user_out
from api.models import Department, User
from api.runtime import engine
from api.schemas import Page
from engine.errors import Conflict, InvalidInput, NotFound, problem
from engine.roles import ROLES

bp = APIBlueprint("organisation", __name__, url_prefix="/api/v1", tag="Organisation")
CODE_PATTERN = r"^[A-Za-z0-9_.-]+$"
CODE = Regexp(CODE_PATTERN, error="letters, digits, '_', '.' and '-' only")


class DepartmentIn(Schema):
    code = String(required=True, validate=[Length(1, 100), CODE])
    name = String(required=True, validate=Length(1, 200))
    parent = String(load_default=None, allow_none=True)


class DepartmentPatch(Schema):
    name = String(validate=Length(1, 200))
    parent = String(allow_none=True)
    active = Boolean()


class DepartmentOut(Schema):
    code = String(required=True)
    name = String(required=True)
    active = Boolean(required=True)


class DepartmentPage(Schema):
    items = List(Nested(DepartmentOut), required=True)
    total = Integer(required=True)


class UserIn(Schema):
    username = String(required=True, validate=[Length(1, 100), CODE])
    password = String(required=True, validate=Length(1, passwords.MAX_LENGTH))
    display_name = String(required=True, validate=Length(1, 200))
    department = String(required=True, allow_none=True, validate=Length(1, 100))
    roles = List(String(validate=OneOf(ROLES)), required=True, validate=Length(1, len(ROLES)))
    email = String(load_default=None, allow_none=True, validate=[Length(3, 320), Email()])


class UserPatch(Schema):
    display_name = String(validate=Length(1, 200))
    department = String(allow_none=True, validate=Length(1, 100))
    roles = List(String(validate=OneOf(ROLES)), validate=Length(1, len(ROLES)))
    active = Boolean()


class PasswordIn(Schema):
    password = String(required=True, validate=Length(1, passwords.MAX_LENGTH))


class AdminUserOut(UserOut):
    """A user as the organisation's endpoints show it: with ``active`` (false: deactivated,
    cannot log in, not offered for assignment)."""
    active = Boolean(required=True)


class UserPage(Schema):
    items = List(Nested(AdminUserOut), required=True)
    total = Integer(required=True)


def admin_user_out(user):
    return {**user_out(user), "active": user.active}


# -- the writes, shared by the API and the web pages (callers validate the fields' shapes) ------
def _no_parent(parent):
    # The department tree is not modelled yet: refuse rather than drop the field silently.
    if parent is not None:
        raise InvalidInput("departments have no parent yet",
                           details=[problem("parent", "no_department_tree", "departments have no parent yet")])


def _check_department(session, code):
    """InvalidInput unless ``code`` (None: no department) is an active department."""
    if code is None:
        return
    department = session.get(Department, code)
    if department is None:
        raise InvalidInput(f"unknown department {code!r}",
                           details=[problem("department", "unknown_department", "unknown department")])
    if not department.active:
        raise InvalidInput(f"department {code!r} is inactive",
                           details=[problem("department", "inactive_department", "the department is inactive")])


def add_department(rt, code, name, actor, parent=None):
    """Create a department; Conflict when the code exists."""
    _no_parent(parent)
    with rt.db.write() as session:
        if session.get(Department, code) is not None:
            raise Conflict(f"department {code!r} exists", reason="exists")
        session.add(Department(code=code, name=name))
        rt.audit.append(session, "department_created", actor=actor, data={"code": code, "name": name})


def add_user(rt, body, actor):
    """Create a user from ``username, password, display_name, department, roles``; returns it.

    Conflict when the username exists; InvalidInput (field ``department``) for an unknown or
    inactive department; WeakPassword for a password the policy refuses.
    """
    passwords.check(body["password"], body["username"])
    with rt.db.write() as session:
        if session.get(User, body["username"]) is not None:
            raise Conflict(f"user {body['username']!r} exists", reason="exists")
        _check_department(session, body["department"])
        user = User(username=body["username"], password_hash=passwords.hash_password(body["password"]),
                    display_name=body["display_name"], department=body["department"],
                    roles=sorted(set(body["roles"])), email=body.get("email"), created_at=rt.clock.now())
        session.add(user)
        rt.audit.append(session, "user_created", actor=actor,
                        data={k: v for k, v in body.items() if k != "password"})
        session.flush()
        return user


def change_department(rt, code, changes, actor):
    """Rename (``name``) or (de)activate (``active``) a department; returns it."""
    _no_parent(changes.get("parent"))
    changes = {k: v for k, v in changes.items() if k in ("name", "active")}
    with rt.db.write() as session:
        department = session.get(Department, code)
        if department is None:
            raise NotFound(f"no department {code!r}", reason="no_department")
        for key, value in changes.items():
            setattr(department, key, value)
        rt.audit.append(session, "department_changed", actor=actor, data={"code": code, **changes})
        session.flush()
        return department


def change_user(rt, username, changes, actor):
    """Change a user's ``display_name``, ``department``, ``roles`` or ``active``; returns the
    user. Deactivating ends their tokens and sessions in the same transaction. Admins cannot
    deactivate themselves or drop their own admin role (Conflict ``own_admin``): someone must
    be left to undo it."""
    if username == actor and (changes.get("active") is False or "admin" not in changes.get("roles", ["admin"])):
        raise Conflict("you cannot deactivate yourself or drop your own admin role", reason="own_admin")
    with rt.db.write() as session:
        user = session.get(User, username)
        if user is None:
            raise NotFound(f"no user {username!r}", reason="no_user")
        if "department" in changes and changes["department"] != user.department:
            _check_department(session, changes["department"])
        if "roles" in changes:
            changes = {**changes, "roles": sorted(set(changes["roles"]))}
        for key, value in changes.items():
            setattr(user, key, value)
        if changes.get("active") is False:
            end_sessions(session, username)
        rt.audit.append(session, "user_changed", actor=actor, data={"username": username, **changes})
        session.flush()
        return user


def reset_password(rt, username, password, actor):
    """An admin sets ``username``'s password; their tokens and sessions end."""
    passwords.check(password, username)
    with rt.db.write() as session:
        user = session.get(User, username)
        if user is None:
            raise NotFound(f"no user {username!r}", reason="no_user")
        user.password_hash = passwords.hash_password(password)
        end_sessions(session, username)
        rt.audit.append(session, "password_reset", actor=actor, data={"username": username})


def department_out(department):
    return {"code": department.code, "name": department.name, "active": department.active}


@bp.post("/departments")
@bp.auth_required(token_auth)
@require_roles("admin")
@bp.input(DepartmentIn, arg_name="body")
@bp.output(DepartmentOut, status_code=201)
@bp.doc(summary="Create a department", responses=[400, 403, 409])
def create_department(body):
    add_department(engine(), body["code"], body["name"], current_actor().username, body.get("parent"))
    return {**body, "active": True}


@bp.patch("/departments/<code>")
@bp.auth_required(token_auth)
@require_roles("admin")
@bp.input(DepartmentPatch, arg_name="body")
@bp.output(DepartmentOut)
@bp.doc(summary="Rename or (de)activate a department", responses=[400, 403, 404])
def patch_department(code, body):
    return department_out(change_department(engine(), code, body, current_actor().username))


@bp.get("/departments")
@bp.auth_required(token_auth)
@bp.input(Page, location="query", arg_name="page")
@bp.output(DepartmentPage)
@bp.doc(summary="Departments")
def list_departments(page):
    with engine().db.read() as session:
        total = session.scalar(select(func.count()).select_from(Department))
        rows = session.scalars(select(Department).order_by(Department.code)
                               .limit(page["limit"]).offset(page["offset"]))
        return {"items": [department_out(r) for r in rows], "total": total}


@bp.post("/users")
@bp.auth_required(token_auth)
@require_roles("admin")
@bp.input(UserIn, arg_name="body")
@bp.output(AdminUserOut, status_code=201)
@bp.doc(summary="Create a user", responses=[400, 403, 409])
def create_user(body):
    return admin_user_out(add_user(engine(), body, current_actor().username))


@bp.get("/users")
@bp.auth_required(token_auth)
@require_roles("admin", "supervisor", "leader", "secretariat")
@bp.input(Page, location="query", arg_name="page")
@bp.output(UserPage)
@bp.doc(summary="Users (for assigning and administration)", responses=[403])
def list_users(page):
    with engine().db.read() as session:
        total = session.scalar(select(func.count()).select_from(User))
        rows = session.scalars(select(User).order_by(User.username)
                               .limit(page["limit"]).offset(page["offset"]))
        return {"items": [admin_user_out(r) for r in rows], "total": total}


@bp.patch("/users/<username>")
@bp.auth_required(token_auth)
@require_roles("admin")
@bp.input(UserPatch, arg_name="body")
@bp.output(AdminUserOut)
@bp.doc(summary="Change a user's display name, department, roles or active flag; "
                "deactivating ends their tokens and sessions", responses=[400, 403, 404])
def patch_user(username, body):
    return admin_user_out(change_user(engine(), username, body, current_actor().username))


@bp.post("/users/<username>/password")
@bp.auth_required(token_auth)
@require_roles("admin")
@bp.input(PasswordIn, arg_name="body")
@bp.output(AdminUserOut)
@bp.doc(summary="Reset a user's password (admin); their tokens and sessions end", responses=[400, 403, 404])
def reset_user_password(username, body):
    rt = engine()
    reset_password(rt, username, body["password"], current_actor().username)
    with rt.db.read() as session:
        return admin_user_out(session.get(User, username))
