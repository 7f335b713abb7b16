"""Task forms: the JSON Schema in a user task's ``formSchema`` property, checked on completion.

A task without a schema accepts any JSON object. Keys named ``typename`` are refused anywhere
in the data (:func:`engine.serialization.typename_paths`).
"""
import functools
import json

import jsonschema

from engine.errors import FormInvalid, problem
from engine.serialization import typename_paths

_FORMAT_CHECKER = jsonschema.Draft202012Validator.FORMAT_CHECKER


def form_schema(task_spec):
    text = task_spec.extensions.get("properties", {}).get("formSchema")
    return _parse(text) if text else None


@functools.lru_cache(maxsize=512)
def _parse(text):
    return json.loads(text)


@functools.lru_cache(maxsize=512)
def _validator(text):
    return jsonschema.Draft202012Validator(_parse(text), format_checker=_FORMAT_CHECKER)


def validate(task_spec, data, reserved=()):
    """Raise :class:`FormInvalid` with one detail per problem; return ``data`` when valid.

    ``reserved``: the script functions' names. Task data lands in the same namespace as the
    functions, so a field named ``now`` would shadow ``now()`` for every later script: refused
    with ``reserved_name``, as start variables are (``engine.instances``)."""
    if not isinstance(data, dict):
        raise FormInvalid("task data must be a JSON object",
                          details=[problem("", "type", "expected an object")])
    problems = [problem(path, "reserved_key", "the key 'typename' is reserved")
                for path in typename_paths(data)]
    problems += [problem(name, "reserved_name", "this name is a script function")
                 for name in sorted(set(data) & set(reserved))]
    text = task_spec.extensions.get("properties", {}).get("formSchema")
    if text:
        for error in sorted(_validator(text).iter_errors(data), key=lambda e: list(e.path)):
            limit = error.validator_value  # maxLength's 400, minimum's 0: the pages' words need it
            numeric = isinstance(limit, (int, float)) and not isinstance(limit, bool)
            problems.append(problem(_field(error), error.validator, error.message,  # the keyword that failed
                                    **({"limit": limit} if numeric else {})))
    if problems:
        raise FormInvalid(f"{len(problems)} field problem(s) in the form", details=problems)
    return data


def _field(error):
    """The field's path; for a missing required property, the property's own path."""
    path = [str(p) for p in error.path]
    if error.validator == "required":
        missing = [name for name in error.validator_value
                   if isinstance(error.instance, dict) and name not in error.instance
                   and repr(name) in error.message]
        path += missing[:1]
    elif error.validator == "additionalProperties" and isinstance(error.instance, dict):
        known = set(error.schema.get("properties", {}))
        path += sorted(name for name in error.instance if name not in known)[:1]
    return "/".join(path)

