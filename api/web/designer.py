"""流程设计: processes and decisions with their versions, the bpmn-js / dmn-js modelers,
deploying (through ``engine.deploy``, the same validation as the API), and comparing versions.

Deploying answers JSON to the modeler page's script: ``{"deployed": true, "key", "version",
"created"}``, or ``{"deployed": false, "error": {"code", "message" (Chinese, from the problem's
code), "details": {"element", "line", "code"}, "technical" (the parser's English)}}`` so the page
can mark the element the engine named — with status 200 either way:
the refusal is the answer the page asked for (the API's POST /api/v1/definitions answers 400),
and browsers log every 4xx as a console error. Identical bytes return the existing version.

The modeler page carries the properties panel (group 督办属性, built from
``api/web/static_src/designer-panel.js``, see there) and a form editor for a user task's
``formSchema`` whose preview is :func:`designer_form_preview`: the task page's own rendering
(``schema_form`` and the ``schema_form`` macro), answered like deploying (JSON, 200 with
``{"rendered": false, "error": ...}`` for a schema that cannot be a task form). Comparing two
versions shows both diagrams with the elements added, removed and changed
(``engine.definition_diff``) coloured and listed in Chinese, above the XML's line diff.
"""
import difflib
import json
import re

import jsonschema

from flask import g, jsonify, render_template, request, url_for
from lxml import etree
from sqlalchemy import func, select

from api.definitions import definition_filename
from api.headers import user_document
from api.runtime import engine
from api.web import bp, labels, paging, schema_form
from api.web.labels import ELEMENT_KINDS, error_text
from api.web.session import roles_required
from engine import definition_diff
from engine.definitions import parse_xml
from engine.errors import EngineError, InvalidInput
from engine.models import Definition, Instance
from engine.roles import ADMIN, DESIGNER, ROLES
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
    return render_template(template, definition=definition, latest=latest, roles=_panel_roles(),
                           xml_url=url_for("web.designer_xml", key=key, version=version))


def _panel_roles():
    """The roles a user task may name as ``candidateRole`` in the properties panel, in Chinese."""
    return [[role, labels.ROLES[role]] for role in ROLES if role not in (DESIGNER, ADMIN)]


@bp.get("/designer/new")
@roles_required("designer")
def designer_new():
    return render_template("designer/modeler.html", definition=None, latest=None, roles=_panel_roles(),
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


@bp.post("/designer/form-preview")
@roles_required("designer")
def designer_form_preview():
    """The form editor's preview: ``{"schema": "<JSON text>"}`` (CSRF token in ``X-CSRFToken``)
    → ``{"rendered": true, "html"}``, the fields as the task page renders them; or
    ``{"rendered": false, "error": {"code", "message" (Chinese), "details"}}``."""
    try:
        schema = _preview_schema(request.get_json(silent=True))
    except InvalidInput as err:
        return jsonify(rendered=False, error={"code": err.code, "message": error_text(err), "details": err.details})
    html = render_template("designer/_form_preview.html", schema=schema, form_fields=schema_form.fields(schema))
    return jsonify(rendered=True, html=html)


FIELD_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")


def _preview_schema(body):
    """The schema of a preview request, checked as deploy checks a ``formSchema`` (a valid JSON
    Schema) and, since a form's answers become the task's variables, an object whose field keys
    are names (letters, digits, ``_``)."""
    text = body.get("schema") if isinstance(body, dict) else None
    if not isinstance(text, str) or not text.strip():
        raise InvalidInput("schema (a JSON text) is required", reason="form_schema_missing")
    try:
        schema = json.loads(text)
    except ValueError as err:
        raise InvalidInput(f"schema is not JSON: {err}", reason="form_schema_not_json") from None
    if not isinstance(schema, dict) or schema.get("type") != "object":
        raise InvalidInput("a task form's schema is an object schema", reason="form_schema_not_object")
    try:
        jsonschema.Draft202012Validator.check_schema(schema)
    except jsonschema.SchemaError as err:
        raise InvalidInput(f"not a valid JSON Schema: {err.message}", reason="bad_form_schema") from None
    bad = [key for key in schema_form.properties(schema) if not FIELD_KEY.match(key)]
    if bad:
        raise InvalidInput(f"field keys must be names: {bad[0]!r}", reason="bad_field_key")
    return schema


@bp.get("/designer/<key>/diff")
@roles_required("designer")
def designer_diff(key):
    """``?from=1&to=2`` (or ``a``/``b``): both diagrams with the element changes, and the XML's
    line diff (``raw=1``: of the sources as stored, else normalized)."""
    with engine().db.read() as db:
        versions = list(db.scalars(select(Definition.version).where(Definition.key == key)
                                   .order_by(Definition.version)))
    if not versions:
        return render_template("error.html", status=404, message="未找到该流程。", detail=key), 404
    a = paging.small_int("from") or paging.small_int("a") or (versions[-2] if len(versions) > 1 else versions[-1])
    b = paging.small_int("to") or paging.small_int("b") or versions[-1]
    left, right = _definition(key, a), _definition(key, b)
    raw = request.args.get("raw") == "1"
    shown = (lambda text: text) if raw else normalized
    lines = list(difflib.unified_diff(shown(left.source).splitlines(), shown(right.source).splitlines(),
                                      f"{key} 版本 {a}", f"{key} 版本 {b}", lineterm="", n=3))
    changes = definition_diff.diff(left.source, right.source) if left.kind == right.kind == "bpmn" else None
    return render_template(
        "designer/diff.html", key=key, versions=versions, a=a, b=b, raw=raw, bpmn=changes is not None,
        lines=[(_line_class(line), line) for line in lines],
        changes=[_change_text(change) for change in changes.changes] if changes else [],
        layout_changed=bool(changes and changes.layout_changed),
        marks={kind: changes.ids(kind) for kind in ("added", "removed", "changed")} if changes else {},
        left_url=url_for("web.designer_xml", key=key, version=a),
        right_url=url_for("web.designer_xml", key=key, version=b))


def _change_text(change):
    """One change for the page: ``{"kind", "element", "what" (新增 用户任务「登记备案」),
    "aspects": [(中文, old, new)]}``; the old and new values are source, shown as typed."""
    kind = labels.ELEMENT_KINDS.get(change.tag) or labels.DIFF_ELEMENTS.get(change.tag, "元素")
    what = f"{labels.DIFF_KINDS[change.kind]}{kind}" + (f"「{change.name}」" if change.name else "")
    aspects = []
    for aspect, old, new in change.aspects:
        if aspect == "tag":
            old, new = labels.ELEMENT_KINDS.get(old, old), labels.ELEMENT_KINDS.get(new, new)
        aspects.append((_aspect_text(aspect), old, new, aspect == "property:formSchema"))
    return {"kind": change.kind, "element": change.element, "what": what, "named": bool(change.name),
            "aspects": aspects}


def _aspect_text(aspect):
    if aspect in labels.DIFF_ASPECTS:
        return labels.DIFF_ASPECTS[aspect]
    if aspect.startswith("property:"):
        return "扩展属性"
    tail = re.sub(r"\[\d+\]", "", aspect).rsplit("/", 1)[-1]
    return labels.DIFF_ASPECTS.get(tail, "其他设置")


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
