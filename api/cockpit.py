"""The leader's cockpit (驾驶舱): ``GET /api/v1/cockpit``, the figures of the page ``/cockpit``.

Leaders, the secretariat, supervisors and admins; a leader's figures are cut to his scope
(``workflows.supervision.cockpit`` states what each figure is, its scope and its cost).
"""
from apiflask import APIBlueprint

from api import reports as api_reports
from api.auth import current_actor, require_roles, token_auth
from api.runtime import engine
from workflows.supervision import cockpit

bp = APIBlueprint("cockpit", __name__, url_prefix="/api/v1", tag="Cockpit")
READERS = ("leader", "secretariat", "supervisor")  # admin passes every check


def read(actor):
    """The cockpit's figures as ``actor`` may see them, as of the engine clock: the API's answer
    and the page's data (one function, so the two never differ)."""
    rt = engine()
    with rt.db.read() as session:
        names = rt.registry.directory.departments(session)
        return cockpit.figures(session, actor, rt.calendar, rt.clock.now(), names, api_reports.ranked(session))


@bp.get("/cockpit")
@bp.auth_required(token_auth)
@require_roles(*READERS)
@bp.doc(summary="The leader's cockpit (驾驶舱): open items and problems by light, overdue steps by "
                "department, this week's due steps, the month's ranking ends, 12 weeks of registered/closed items",
        responses={200: "the figures", 403: "not allowed (staff, designers)"})
def get_cockpit():
    return read(current_actor())
