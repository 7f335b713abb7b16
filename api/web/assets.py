"""Front-end packages from npm, served by the app itself (no CDN: pages work offline).

``make setup`` runs ``npm ci`` from the committed package-lock.json (exact versions); this route
serves only the built folder of the packages listed here, e.g.
``/vendor/bpmn-js/bpmn-modeler.production.min.js``, ``/vendor/echarts/echarts.common.min.js``
(the report pages' charts) or ``/vendor/swagger-ui-dist/swagger-ui-bundle.js`` (the API docs).

``/vendor/duban/`` serves what ``npm run build`` (run by ``make setup`` after ``npm ci``) builds
into ``node_modules/.duban/``: the designer's properties panel, bundled by esbuild from
``api/web/static_src/`` with the bpmn-js properties panel packages (they ship ES modules, no
browser bundle holding a provider of our own). Built, not committed: the bundle follows the
locked packages, and a copy of ``node_modules`` carries it.
"""
import logging

from flask import abort, send_from_directory

from api.web import bp
from engine.config import REPO_ROOT

log = logging.getLogger(__name__)
NODE_MODULES = REPO_ROOT / "node_modules"
# URL name: folder under node_modules
PACKAGES = {"bpmn-js": "bpmn-js/dist", "dmn-js": "dmn-js/dist", "echarts": "echarts/dist",
            "swagger-ui-dist": "swagger-ui-dist", "duban": ".duban"}
# Scripts, styles and the fonts and images they load; not the packages' demo pages (swagger-ui-dist's
# index.html would run the petstore demo on our origin).
SUFFIXES = (".js", ".css", ".map", ".woff", ".woff2", ".ttf", ".eot", ".svg", ".png")


def check_installed():
    missing = [p for p, folder in PACKAGES.items() if not (NODE_MODULES / folder).is_dir()]
    if missing:
        log.warning("front-end packages missing (%s): run `make setup` (npm ci); the diagram, "
                    "designer, report and API docs pages need them (duban: `npm run build`)", ", ".join(missing))


@bp.get("/vendor/<package>/<path:filename>")
def vendor(package, filename):
    if package not in PACKAGES or not filename.endswith(SUFFIXES):
        abort(404)
    return send_from_directory(NODE_MODULES / PACKAGES[package], filename, max_age=86400)
