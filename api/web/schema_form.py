"""Task forms: a JSON Schema rendered as HTML form fields, and a submitted form turned back into data.

The schema is a task's ``formSchema`` (JSON Schema 2020-12, see ``engine.forms``). Supported:
strings (single line, or a textarea for long text), integers and numbers with minimum /
maximum, booleans (是/否 radios, so "not answered" stays distinguishable from "no"), enums
(a select; titles from ``enumNames`` or :data:`labels.ENUM_VALUES`), ``format: date`` and
``date-time``, nested objects, arrays of objects (rows that can be added and removed, e.g.
milestones), arrays of enum strings (checkboxes), arrays of other strings (one per line) and
evidence files (an array whose items say ``"format": "file"``: a file input that uploads each
chosen file at once, with a progress bar, and keeps the ids in hidden inputs named like the
field — ``web.js``; ``api.web.files``).

Form field names are the data paths joined by dots: ``milestones.0.date``. Three steps:
:func:`parse` turns ``request.form`` into ``(data, values, errors)`` — the typed data, the raw
strings to show again (row indices compacted, so they match the data), and conversion
errors; :func:`validate` adds the schema's problems with Chinese messages, keyed by the same
names; :func:`fields` builds the tree of :class:`Field` the template renders. The engine
validates again on completion: this module only makes the answers readable.
"""
import dataclasses
import datetime as dt
import re

import jsonschema

from api.web import labels

_FORMAT_CHECKER = jsonschema.Draft202012Validator.FORMAT_CHECKER
SHORT_TEXT_NAMES = {"owner", "username", "assignee", "name", "code", "title", "email", "phone", "target"}
MISSING = object()


@dataclasses.dataclass
class Field:
    name: str                 # the form name: data path joined by dots
    key: str                  # the property name (or row index)
    title: str
    widget: str               # text textarea integer number boolean select date datetime
    #                           object rows checkboxes lines files
    schema: dict
    required: bool = False
    description: str = ""
    options: list = dataclasses.field(default_factory=list)   # [(value, label)]
    children: list = dataclasses.field(default_factory=list)  # object members
    rows: list = dataclasses.field(default_factory=list)      # rows: [[Field]] per row
    template: list = dataclasses.field(default_factory=list)  # rows: one row named with __index__

    @property
    def minimum(self):
        return self.schema.get("minimum")

    @property
    def maximum(self):
        return self.schema.get("maximum")

    @property
    def max_length(self):
        return self.schema.get("maxLength")


def _name(path):
    return ".".join(str(p) for p in path)


def properties(schema):
    return schema.get("properties") or {} if isinstance(schema, dict) else {}


def _options(schema):
    values = schema.get("enum") or []
    titles = schema.get("enumNames") or schema.get("x-enumNames") or []
    return [(str(v), titles[i] if i < len(titles) else labels.ENUM_VALUES.get(v, str(v)))
            for i, v in enumerate(values)]


def widget(schema, key=""):
    """Which control a (sub)schema gets."""
    kind = schema.get("type")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), None)
    if schema.get("x-widget"):
        return schema["x-widget"]
    if "enum" in schema:
        return "select"
    if kind == "boolean":
        return "boolean"
    if kind in ("integer", "number"):
        return kind
    if kind == "object":
        return "object"
    if kind == "array":
        items = schema.get("items") or {}
        if items.get("type") == "object":
            return "rows"
        if items.get("format") == "file":
            return "files"
        return "checkboxes" if "enum" in items else "lines"
    fmt = schema.get("format")
    if fmt == "date":
        return "date"
    if fmt == "date-time":
        return "datetime"
    max_length = schema.get("maxLength")
    if (max_length is not None and max_length <= 100) or str(key) in SHORT_TEXT_NAMES:
        return "text"
    return "textarea"


# -- render ----------------------------------------------------------------------------------
def fields(schema, values=None, path=()):
    """The fields of an object schema; rows as many as ``values`` holds (at least one)."""
    values = values or {}
    required = set(schema.get("required") or [])
    out = []
    for key, sub in properties(schema).items():
        out.append(_field(sub, path + (key,), key, key in required, values))
    return out


def _field(schema, path, key, required, values):
    kind = widget(schema, key)
    field = Field(name=_name(path), key=str(key), title=schema.get("title") or str(key), widget=kind,
                  schema=schema, required=required, description=schema.get("description") or "")
    if kind == "select":
        field.options = _options(schema)
    elif kind == "checkboxes":
        field.options = _options(schema.get("items") or {})
    elif kind == "object":
        field.children = fields(schema, values, path)
    elif kind == "rows":
        items = schema.get("items") or {}
        count = max(row_count(values, field.name), int(schema.get("minItems") or 0), 1)
        field.rows = [fields(items, values, path + (i,)) for i in range(count)]
        field.template = fields(items, {}, path + ("__index__",))
    return field


def row_count(values, name):
    prefix = name + "."
    indices = [int(m.group(1)) for k in values if k.startswith(prefix)
               for m in [re.match(r"(\d+)\.", k[len(prefix):])] if m]
    return max(indices) + 1 if indices else 0


# -- the row buttons without JavaScript ------------------------------------------------------
def row_action(schema, values, action):
    """The no-JavaScript row buttons: ``add:NAME`` appends a row, ``remove:NAME:I`` drops row I."""
    parts = action.split(":")
    name = parts[1] if len(parts) > 1 else ""
    if parts[0] == "add":
        count = row_count(values, name)
        template = fields(_rows_schema(schema, name) or {}, {}, ())
        for f in template:
            values[f"{name}.{max(count, 1)}.{f.key}"] = ""
    elif parts[0] == "remove" and len(parts) == 3 and parts[2].isdigit():
        drop, prefix, kept = int(parts[2]), name + ".", {}
        for key, value in values.items():
            rest = key[len(prefix):] if key.startswith(prefix) else None
            index = rest.split(".", 1)[0] if rest else None
            if index is None or not index.isdigit():
                kept[key] = value
            elif int(index) != drop:
                shifted = int(index) - (int(index) > drop)
                kept[f"{prefix}{shifted}.{rest.split('.', 1)[1]}"] = value
        values = kept
    return values


def _rows_schema(schema, name):
    sub = schema
    for part in name.split("."):
        sub = properties(sub).get(part) or {}
    return sub.get("items")


# -- parse -----------------------------------------------------------------------------------
class _Parse:
    def __init__(self, form, tz):
        self.form, self.tz = form, tz
        self.values, self.errors = {}, {}

    def raw(self, src):
        return self.form.get(_name(src), "")

    def object(self, schema, src, dst):
        out = {}
        for key, sub in properties(schema).items():
            value = self.value(sub, src + (key,), dst + (key,), key, key in (schema.get("required") or []))
            if value is not MISSING:
                out[key] = value
        return out

    def value(self, schema, src, dst, key, required):
        kind, name = widget(schema, key), _name(dst)
        if kind == "object":
            value = self.object(schema, src, dst)
            return value if value or required else MISSING
        if kind == "rows":
            return self.rows(schema, src, dst, required)
        if kind == "files":
            ids = [v for v in (self.form.getlist(_name(src)) if hasattr(self.form, "getlist") else []) if v]
            self.values[name] = ids
            return ids if ids or required else MISSING
        if kind == "checkboxes":
            chosen = self.form.getlist(_name(src)) if hasattr(self.form, "getlist") else []
            for i, item in enumerate(chosen):
                self.values[f"{name}.{i}"] = item
            self.values[name] = chosen
            return chosen if chosen or required else MISSING
        text = self.raw(src)
        text = text.strip() if isinstance(text, str) else text
        if kind == "lines":
            self.values[name] = text
            lines = [line.strip() for line in text.splitlines() if line.strip()]
            return lines if lines or required else MISSING
        self.values[name] = text
        if text == "":
            return MISSING
        return self.scalar(schema, kind, text, name)

    def scalar(self, schema, kind, text, name):
        try:
            if kind == "integer":
                return int(text)
            if kind == "number":
                number = float(text)
                return int(number) if number.is_integer() and "." not in text else number
            if kind == "boolean":
                return {"true": True, "false": False}[text]
            if kind == "datetime":
                moment = dt.datetime.fromisoformat(text)
                if moment.tzinfo is None:
                    moment = moment.replace(tzinfo=self.tz)
                return moment.isoformat()
        except (ValueError, KeyError):
            self.errors[name] = [{"integer": "请输入整数", "number": "请输入数字", "boolean": "请选择是或否",
                                  "datetime": "请输入有效的日期时间"}[kind]]
            return MISSING
        if kind == "select":
            for value in schema.get("enum") or []:
                if str(value) == text:
                    return value
            self.errors[name] = ["请选择有效选项"]
            return MISSING
        return text

    def rows(self, schema, src, dst, required):
        prefix = _name(src) + "."
        indices = sorted({int(m.group(1)) for k in self.form
                          for m in [re.match(r"(\d+)\.", k[len(prefix):])] if k.startswith(prefix) and m})
        items, out = schema.get("items") or {}, []
        for index in indices:
            row = _Parse(self.form, self.tz)
            value = row.object(items, src + (index,), dst + (len(out),))
            if not value and not row.errors and not any(v for v in row.values.values()):
                continue  # an empty row left on the page
            self.values.update(row.values)
            self.errors.update(row.errors)
            out.append(value)
        return out if out or required else MISSING


def parse(schema, form, tz):
    """``(data, values, errors)`` from a submitted form (a MultiDict or a plain dict)."""
    state = _Parse(form, tz)
    data = state.object(schema or {}, (), ())
    return data, state.values, state.errors


def flatten(schema, data, tz=None, path=()):
    """Form values (strings) showing ``data``: for a form pre-filled with earlier answers."""
    values = {}
    for key, sub in properties(schema).items():
        if not isinstance(data, dict) or key not in data:
            continue
        _flatten_value(sub, data[key], path + (key,), key, values, tz)
    return values


def _flatten_value(schema, value, path, key, values, tz):
    kind, name = widget(schema, key), _name(path)
    if kind == "object" and isinstance(value, dict):
        values.update(flatten(schema, value, tz, path))
    elif kind == "rows" and isinstance(value, list):
        for i, row in enumerate(value):
            values.update(flatten(schema.get("items") or {}, row, tz, path + (i,)))
    elif kind in ("checkboxes", "files") and isinstance(value, list):
        values[name] = [str(v) for v in value]
    elif kind == "lines" and isinstance(value, list):
        values[name] = "\n".join(str(v) for v in value)
    elif kind == "boolean":
        values[name] = "true" if value else "false"
    elif kind == "datetime" and isinstance(value, str):
        try:
            moment = dt.datetime.fromisoformat(value)
            values[name] = (moment.astimezone(tz) if tz and moment.tzinfo else moment).strftime("%Y-%m-%dT%H:%M")
        except ValueError:
            values[name] = value
    elif value is not None:
        values[name] = str(value)


# -- validate ----------------------------------------------------------------------------------
def validate(schema, data):
    """``{name: [message]}``: the schema's problems with ``data``, in Chinese."""
    errors = {}
    if not schema:
        return errors
    validator = jsonschema.Draft202012Validator(schema, format_checker=_FORMAT_CHECKER)
    for error in validator.iter_errors(data):
        name, message = _describe(error)
        errors.setdefault(name, [])
        if message not in errors[name]:
            errors[name].append(message)
    return errors


def _describe(error):
    path, kind, limit = [str(p) for p in error.path], error.validator, error.validator_value
    if kind == "required":
        missing = [n for n in limit if isinstance(error.instance, dict) and n not in error.instance
                   and repr(n) in error.message]
        return _name(path + missing[:1]), "此项为必填"
    if kind == "additionalProperties" and isinstance(error.instance, dict):
        extra = sorted(n for n in error.instance if n not in properties(error.schema))
        return _name(path + extra[:1]), "表单中没有此项"
    messages = {
        "minLength": "不能为空" if limit == 1 else f"至少 {limit} 个字符",
        "maxLength": f"不能超过 {limit} 个字符",
        "minimum": f"不能小于 {limit}", "maximum": f"不能大于 {limit}",
        "exclusiveMinimum": f"须大于 {limit}", "exclusiveMaximum": f"须小于 {limit}",
        "minItems": f"至少填写 {limit} 项", "maxItems": f"最多填写 {limit} 项",
        "enum": "请选择有效选项", "const": "取值不符合要求", "pattern": "格式不正确",
        "uniqueItems": "不能重复",
        "type": {"integer": "请输入整数", "number": "请输入数字", "boolean": "请选择是或否",
                 "string": "请输入文字", "array": "格式不正确", "object": "格式不正确"}.get(
                     limit if isinstance(limit, str) else "", "格式不正确"),
        "format": {"date": "请输入有效日期（年-月-日）", "date-time": "请输入有效的日期时间",
                   "email": "请输入有效的电子邮箱"}.get(limit, "格式不正确"),
    }
    return _name(path), messages.get(kind, "填写的内容不符合要求")  # never the validator's English


def submit(schema, form, tz):
    """Parse and validate a submitted form: ``(data, values, errors)``.

    A field that could not be converted keeps its conversion message only (not also "required").
    """
    data, values, errors = parse(schema, form, tz)
    for name, messages in validate(schema, data).items():
        errors.setdefault(name, messages)
    return data, values, errors
