"""Organisation (admin): departments and users, one department per user.

Admins create, rename and deactivate departments, and create users, change their display
name, department, roles and active flag, and reset their passwords. Every change is audited
(never a password); deactivating a user or resetting their password ends their tokens and web
sessions at once. Passwords follow ``api.passwords``. An inactive department keeps its
members but takes no new ones.

Departments form a tree (issue 16): ``parent`` is another department's code (None: a root).
Each row keeps its materialised ``path`` ("/city/county/bureau/", migration 0016), so a
subtree is one prefix range; moving a department rewrites the paths of its whole subtree in
the same transaction. Refused: an unknown parent (``unknown_department``), a parent inside the
department's own subtree (``department_cycle``), and a tree deeper than ``MAX_DEPTH``
(``department_too_deep``).
"""
from apiflask import APIBlueprint, Schema
from apiflask.fields import Boolean, Integer, List, Nested, String
from apiflask.validators import Email, Length, OneOf, Regexp
from sqlalchemy import func, select, update

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
    parent = String(load_default=None, allow_none=True, validate=Length(1, 100))


class DepartmentPatch(Schema):
    name = String(validate=Length(1, 200))
    parent = String(allow_none=True, validate=Length(1, 100))
    active = Boolean()


class DepartmentOut(Schema):
    code = String(required=True)
    name = String(required=True)
    active = Boolean(required=True)
    parent = String(required=True, allow_none=True)
    depth = Integer(required=True, metadata={"description": "1 for a root, 2 for its children, ..."})


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
MAX_DEPTH = 5  # city, county, bureau, section, team


def depth(path):
    """How deep a department sits: 1 for a root ("/city/")."""
    return path.count("/") - 1


def _parent_path(session, parent, code=None):
    """The path under which a department goes: "/" for a root, else the parent's path; refuses
    an unknown parent and (moving ``code``) a parent inside ``code``'s own subtree."""
    if parent is None:
        return "/"
    row = session.get(Department, parent)
    if row is None:
        raise InvalidInput(f"unknown department {parent!r}",
                           details=[problem("parent", "unknown_department", "unknown department")])
    if code is not None and f"/{code}/" in row.path:
        raise InvalidInput(f"department {parent!r} is inside {code!r}'s own subtree",
                           details=[problem("parent", "department_cycle",
                                            "a department cannot be placed under itself or its own subdepartments")])
    return row.path


def _refuse_too_deep(deepest):
    if deepest > MAX_DEPTH:
        raise InvalidInput(f"the department tree would be {deepest} levels deep (at most {MAX_DEPTH})",
                           details=[problem("parent", "department_too_deep", f"at most {MAX_DEPTH} levels")])


def _move(session, department, parent):
    """Put ``department`` under ``parent`` (None: a root), rewriting its subtree's paths."""
    old = department.path
    new = _parent_path(session, parent, department.code) + f"{department.code}/"
    subtree = select(Department.path).where(Department.path.startswith(old, autoescape=True),
                                            func.substr(Department.path, 1, len(old)) == old)
    deepest = max(depth(p) for p in session.scalars(subtree))
    _refuse_too_deep(deepest - depth(old) + depth(new))
    session.execute(update(Department)
                    .where(Department.path.startswith(old, autoescape=True),
                           func.substr(Department.path, 1, len(old)) == old)
                    .values(path=new + func.substr(Department.path, len(old) + 1))
                    .execution_options(synchronize_session=False))
    department.parent_code = parent
    session.flush()
    session.refresh(department)


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
    """Create a department under ``parent`` (None: a root); Conflict when the code exists,
    InvalidInput (field ``parent``) for an unknown parent or a tree too deep."""
    with rt.db.write() as session:
        if session.get(Department, code) is not None:
            raise Conflict(f"department {code!r} exists", reason="exists")
        path = _parent_path(session, parent) + f"{code}/"
        _refuse_too_deep(depth(path))
        session.add(Department(code=code, name=name, parent_code=parent, path=path))
        rt.audit.append(session, "department_created", actor=actor,
                        data={"code": code, "name": name, "parent": parent})


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
    """Rename (``name``), (de)activate (``active``) or move (``parent``, None: make it a root)
    a department; returns it. Moving carries its whole subtree along."""
    changes = {k: v for k, v in changes.items() if k in ("name", "active", "parent")}
    with rt.db.write() as session:
        department = session.get(Department, code)
        if department is None:
            raise NotFound(f"no department {code!r}", reason="no_department")
        if "parent" in changes and changes["parent"] != department.parent_code:
            _move(session, department, changes["parent"])
        for key, value in changes.items():
            if key != "parent":
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


def subtree_path(session, code, field="under"):
    """The path of department ``code`` (a query's ``?under=``, ``?children_of=``): InvalidInput
    (``field``, ``unknown_department``) when there is none."""
    department = session.get(Department, code)
    if department is None:
        raise InvalidInput(f"unknown department {code!r}",
                           details=[problem(field, "unknown_department", "unknown department")])
    return department.path


def department_out(department):
    return {"code": department.code, "name": department.name, "active": department.active,
            "parent": department.parent_code, "depth": depth(department.path)}


def tree_order(departments):
    """``departments`` in tree order: each after its parent, siblings by code (a page shows
    the tree by indenting each row by its depth)."""
    return sorted(departments, key=lambda d: d.path.strip("/").split("/"))


@bp.post("/departments")
@bp.auth_required(token_auth)
@require_roles("admin")
@bp.input(DepartmentIn, arg_name="body")
@bp.output(DepartmentOut, status_code=201)
@bp.doc(summary="Create a department", responses=[400, 403, 409])
def create_department(body):
    rt = engine()
    add_department(rt, body["code"], body["name"], current_actor().username, body.get("parent"))
    with rt.db.read() as session:
        return department_out(session.get(Department, body["code"]))


@bp.patch("/departments/<code>")
@bp.auth_required(token_auth)
@require_roles("admin")
@bp.input(DepartmentPatch, arg_name="body")
@bp.output(DepartmentOut)
@bp.doc(summary="Rename, (de)activate or move a department (``parent``: its new parent's code, "
                "null for a root; its subdepartments move along)", responses=[400, 403, 404])
def patch_department(code, body):
    return department_out(change_department(engine(), code, body, current_actor().username))


@bp.get("/departments")
@bp.auth_required(token_auth)
@bp.input(Page, location="query", arg_name="page")
@bp.output(DepartmentPage)
@bp.doc(summary="Departments, in tree order (each after its parent; ``depth`` 1 for a root)")
def list_departments(page):
    with engine().db.read() as session:
        total = session.scalar(select(func.count()).select_from(Department))
        # Sorted here, not by the database: collations order "/" among punctuation differently.
        rows = tree_order(session.scalars(select(Department)))[page["offset"]:page["offset"] + page["limit"]]
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
