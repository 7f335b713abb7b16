"""流程设计: processes and decisions with their versions, the bpmn-js / dmn-js modelers,
deploying (through ``engine.deploy``, the same validation as the API), and comparing versions.

Deploying answers JSON to the modeler page's script: ``{"deployed": true, "key", "version",
"created"}``, or ``{"deployed": false, "error": {"code", "message" (Chinese, from the problem's
code), "details": {"element", "line", "code"}, "technical" (the parser's English)}}`` so the page
can mark the element the engine named — with status 200 either way:
the refusal is the answer the page asked for (the API's POST /api/v1/definitions answers 400),
and browsers log every 4xx as a console error. Identical bytes return the existing version.
"""
import difflib

from flask import g, jsonify, render_template, request, url_for
from lxml import etree
from sqlalchemy import func, select

from api.definitions import definition_filename
from api.headers import user_document
from api.runtime import engine
from api.web import bp, paging
from api.web.labels import ELEMENT_KINDS, error_text
from api.web.session import roles_required
from engine.definitions import parse_xml
from engine.errors import EngineError
from engine.models import Definition, Instance
from workflows import access

NEW_PROCESS = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" xmlns:bpmndi="http://www.omg.org/spec/BPMN/20100524/DI" xmlns:dc="http://www.omg.org/spec/DD/20100524/DC" xmlns:di="http://www.omg.org/spec/DD/20100524/DI" xmlns:spiffworkflow="http://spiffworkflow.org/bpmn/schema/1.0/core" id="Definitions_new" targetNamespace="http://example.gov.cn/bpmn">
  <bpmn:process id="new_process" name="新流程" isExecutable="true">
    <bpmn:startEvent id="start" name="开始"/>
  </bpmn:process>
  <bpmndi:BPMNDiagram id="Diagram_new">
    <bpmndi:BPMNPlane id="Plane_new" bpmnElement="new_process">
      <bpmndi:BPMNShape id="start_di" bpmnElement="start">
        <dc:Bounds x="180" y="160" width="36" height="36"/>
      </bpmndi:BPMNShape>
    </bpmndi:BPMNPlane>
  </bpmndi:BPMNDiagram>
</bpmn:definitions>
"""


def _definition(key, version=None):
    with engine().db.read() as db:
        return engine().definitions.get(db, key, version)


@bp.get("/designer")
@roles_required("designer")
def designer():
    with engine().db.read() as db:
        counts = dict(db.execute(select(Definition.key, func.count()).group_by(Definition.key)).all())
        latest = (select(Definition.key, func.max(Definition.version).label("v"))
                  .group_by(Definition.key).subquery())
        rows = list(db.scalars(select(Definition).join(
            latest, (Definition.key == latest.c.key) & (Definition.version == latest.c.v))
            .order_by(Definition.kind, Definition.key)))
    return render_template("designer/index.html", definitions=rows, counts=counts)


@bp.get("/designer/<key>")
@roles_required("designer")
def designer_versions(key):
    with engine().db.read() as db:
        rows = list(db.scalars(select(Definition).where(Definition.key == key)
                               .order_by(Definition.version.desc())))
        scope = access.instance_scope(g.actor)  # counts no instance the designer may not see
        running = dict(db.execute(select(Instance.definition_version, func.count())
                                  .where(Instance.definition_key == key, Instance.status == "running",
                                         *([scope] if scope is not None else []))
                                  .group_by(Instance.definition_version)).all())
    if not rows:
        return render_template("error.html", status=404, message="未找到该流程。", detail=key), 404
    return render_template("designer/versions.html", key=key, versions=rows, running=running)


@bp.get("/designer/<key>/<int:version>.xml")
@roles_required("designer")
def designer_xml(key, version):
    definition = _definition(key, version)
    return user_document(definition.source, "application/xml", definition_filename(definition))


@bp.get("/designer/<key>/<int:version>/edit")
@roles_required("designer")
def designer_edit(key, version):
    definition = _definition(key, version)
    template = "designer/dmn.html" if definition.kind == "dmn" else "designer/modeler.html"
    with engine().db.read() as db:
        latest = db.scalar(select(func.max(Definition.version)).where(Definition.key == key))
    return render_template(template, definition=definition, latest=latest,
                           xml_url=url_for("web.designer_xml", key=key, version=version))


@bp.get("/designer/new")
@roles_required("designer")
def designer_new():
    return render_template("designer/modeler.html", definition=None, latest=None,
                           xml_url=url_for("web.designer_new_xml"))


@bp.get("/designer/new.xml")
@roles_required("designer")
def designer_new_xml():
    return user_document(NEW_PROCESS, "application/xml", "new_process.bpmn")  # like every definition's XML


@bp.post("/designer/deploy")
@roles_required("designer")
def designer_deploy():
    """The modeler's XML (body, ``application/xml``; CSRF token in ``X-CSRFToken``) → engine.deploy."""
    source = request.get_data()
    if not source.strip():
        return jsonify(deployed=False, error={"code": "invalid_input", "message": "文档为空", "details": None})
    try:
        definition, created = engine().deploy(source, actor=g.actor.username)
    except EngineError as err:
        # The page shows the Chinese words of the problem's code; the parser's English stays a tooltip.
        details = err.details if isinstance(err.details, dict) else {}
        kind = ELEMENT_KINDS.get(_element_tag(source, details.get("element")))
        return jsonify(deployed=False, error={"code": err.code, "message": error_text(err, element_kind=kind),
                                              "details": err.details, "technical": err.message})
    return jsonify(deployed=True, key=definition.key, name=definition.name or definition.key,
                   version=definition.version, kind=definition.kind, created=created,
                   url=url_for("web.designer_versions", key=definition.key),
                   edit_url=url_for("web.designer_edit", key=definition.key, version=definition.version))


def _element_tag(source, element_id):
    """The kind (tag's local name, e.g. ``startEvent``) of the element ``element_id`` of a refused
    source, for the Chinese message (开始事件没有流出的顺序流); None when it cannot be told."""
    if not element_id:
        return None
    try:
        root = parse_xml(source)
    except EngineError:
        return None
    for node in root.iter():
        if node.get("id") == element_id and isinstance(node.tag, str):
            return etree.QName(node.tag).localname
    return None


@bp.get("/designer/<key>/diff")
@roles_required("designer")
def designer_diff(key):
    with engine().db.read() as db:
        versions = list(db.scalars(select(Definition.version).where(Definition.key == key)
                                   .order_by(Definition.version)))
    if not versions:
        return render_template("error.html", status=404, message="未找到该流程。", detail=key), 404
    a = paging.small_int("a") or (versions[-2] if len(versions) > 1 else versions[-1])
    b = paging.small_int("b") or versions[-1]
    left, right = _definition(key, a), _definition(key, b)
    raw = request.args.get("raw") == "1"
    shown = (lambda text: text) if raw else normalized
    lines = list(difflib.unified_diff(shown(left.source).splitlines(), shown(right.source).splitlines(),
                                      f"{key} 版本 {a}", f"{key} 版本 {b}", lineterm="", n=3))
    return render_template("designer/diff.html", key=key, versions=versions, a=a, b=b, raw=raw,
                           lines=[(_line_class(line), line) for line in lines])


def normalized(source):
    """The XML canonicalized (C14N 2.0: attributes sorted, whitespace between elements dropped)
    and pretty-printed, so a diff shows changes, not a modeler's reformatting."""
    try:
        parser = etree.XMLParser(resolve_entities=False, no_network=True, remove_blank_text=True)
        tree = etree.ElementTree(etree.fromstring(source.encode("utf-8"), parser))
        canonical = etree.canonicalize(tree, strip_text=True)
        return etree.tostring(etree.fromstring(canonical.encode("utf-8")), pretty_print=True,
                              encoding="unicode")
    except (etree.XMLSyntaxError, ValueError, TypeError):
        return source


def _line_class(line):
    if line.startswith(("+++", "---")):
        return "file"
    return {"+": "add", "-": "del", "@": "hunk"}.get(line[:1], "")
