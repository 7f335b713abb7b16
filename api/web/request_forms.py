"""A page form for an API request: the JSON Schema derived from the API's Marshmallow schema.

The API's request schema (``api.schemas``) is the one source of a request's rules — which
fields, which types, lengths and ranges. A page that sends the same request renders and
checks it through :mod:`api.web.schema_form`, which reads JSON Schema; :func:`form_schema`
converts the Marshmallow schema (with apispec, as the OpenAPI document does) and lays the
page's own words over it: Chinese titles, descriptions, widgets and choices, never rules.
"""
import copy

from apispec import APISpec
from apispec.ext.marshmallow import MarshmallowPlugin

_PLUGIN = MarshmallowPlugin(schema_name_resolver=lambda schema: None)  # None: nested schemas inline
APISpec("forms", "1", "3.0.3", plugins=[_PLUGIN])  # the plugin's converter needs a spec to exist
_WORDS = {"title", "description", "x-widget", "enum", "enumNames", "properties", "items"}


def form_schema(schema, words):
    """The JSON Schema of Marshmallow ``schema`` (class or instance) with ``words`` laid over it.

    ``words`` mirrors the schema's shape — ``{"reason": {"title": ...}, "milestones": {"items":
    {"properties": {"date": {"title": ...}}}}}`` — and may only add titles, descriptions,
    widgets and choices (``enum`` / ``enumNames``); anything else is a mistake (ValueError).
    """
    derived = _PLUGIN.converter.schema2jsonschema(schema)
    _lay_over(derived["properties"], words)
    return derived


def _lay_over(properties, words):
    for name, extra in words.items():
        if name not in properties:
            raise ValueError(f"the form names {name!r}, which the request schema has not")
        _lay_over_one(properties[name], extra)


def _lay_over_one(target, extra):
    for key, value in extra.items():
        if key not in _WORDS:
            raise ValueError(f"a page's words cannot set {key!r}: rules come from the request schema")
        if key == "properties":
            _lay_over(target["properties"], value)
        elif key == "items":
            _lay_over_one(target["items"], value)
        else:
            target[key] = copy.deepcopy(value)
