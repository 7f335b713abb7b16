"""Organisation (admin): departments and users, one department per user."""
from apiflask import APIBlueprint, Schema
from apiflask.fields import Integer, List, Nested, String
from apiflask.validators import Email, Length, OneOf, Regexp
from sqlalchemy import func, select
from werkzeug.security import generate_password_hash

from api.auth import UserOut, current_actor, require_roles, token_auth, user_out
from api.models import Department, User
from api.runtime import engine
from api.schemas import Page
from engine.errors import Conflict, InvalidInput, problem
from engine.roles import ROLES

bp = APIBlueprint("organisation", __name__, url_prefix="/api/v1", tag="Organisation")
CODE_PATTERN = r"^[A-Za-z0-9_.-]+$"
CODE = Regexp(CODE_PATTERN, error="letters, digits, '_', '.' and '-' only")


class DepartmentIn(Schema):
    code = String(required=True, validate=[Length(1, 100), CODE])
    name = String(required=True, validate=Length(1, 200))


class DepartmentOut(Schema):
    code = String(required=True)
    name = String(required=True)


class DepartmentPage(Schema):
    items = List(Nested(DepartmentOut), required=True)
    total = Integer(required=True)


class UserIn(Schema):
    username = String(required=True, validate=[Length(1, 100), CODE])
    password = String(required=True, validate=Length(8, 500))
    display_name = String(required=True, validate=Length(1, 200))
    department = String(required=True, allow_none=True, validate=Length(1, 100))
    roles = List(String(validate=OneOf(ROLES)), required=True, validate=Length(1, len(ROLES)))
    email = String(load_default=None, allow_none=True, validate=[Length(3, 320), Email()])


class UserPage(Schema):
    items = List(Nested(UserOut), required=True)
    total = Integer(required=True)


# -- the writes, shared by the API and the web pages (callers validate the fields' shapes) ------
def add_department(rt, code, name, actor):
    """Create a department; Conflict when the code exists."""
    with rt.db.write() as session:
        if session.get(Department, code) is not None:
            raise Conflict(f"department {code!r} exists", reason="exists")
        session.add(Department(code=code, name=name))
        rt.audit.append(session, "department_created", actor=actor, data={"code": code, "name": name})


def add_user(rt, body, actor):
    """Create a user from ``username, password, display_name, department, roles``; returns it.

    Conflict when the username exists; InvalidInput (field ``department``) for an unknown department.
    """
    with rt.db.write() as session:
        if session.get(User, body["username"]) is not None:
            raise Conflict(f"user {body['username']!r} exists", reason="exists")
        if body["department"] is not None and session.get(Department, body["department"]) is None:
            raise InvalidInput(f"unknown department {body['department']!r}",
                               details=[problem("department", "unknown_department", "unknown department")])
        user = User(username=body["username"], password_hash=generate_password_hash(body["password"]),
                    display_name=body["display_name"], department=body["department"],
                    roles=sorted(set(body["roles"])), email=body.get("email"), created_at=rt.clock.now())
        session.add(user)
        rt.audit.append(session, "user_created", actor=actor,
                        data={k: v for k, v in body.items() if k != "password"})
        session.flush()
        return user


@bp.post("/departments")
@bp.auth_required(token_auth)
@require_roles("admin")
@bp.input(DepartmentIn, arg_name="body")
@bp.output(DepartmentOut, status_code=201)
@bp.doc(summary="Create a department", responses=[400, 403, 409])
def create_department(body):
    add_department(engine(), body["code"], body["name"], current_actor().username)
    return body


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
        return {"items": [{"code": r.code, "name": r.name} for r in rows], "total": total}


@bp.post("/users")
@bp.auth_required(token_auth)
@require_roles("admin")
@bp.input(UserIn, arg_name="body")
@bp.output(UserOut, status_code=201)
@bp.doc(summary="Create a user", responses=[400, 403, 409])
def create_user(body):
    return user_out(add_user(engine(), body, current_actor().username))


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
        return {"items": [user_out(r) for r in rows], "total": total}
