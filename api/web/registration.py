"""Registering a record from a page (立项交办, 问题登记): the flow both registration pages share.

GET shows the empty form. POST reads the answers against the form's JSON Schema
(``schema_form``) and the page's own checks, then registers through the domain's ``create``,
the function the API's POST calls too, with its own validation. Whatever is refused is shown
next to its field in Chinese (``labels.field_errors``) with every answer kept; nothing is
registered. On success: a flash and the new record's page.
"""
from flask import flash, g, redirect, render_template, request

from api.runtime import engine
from api.web import schema_form
from api.web.labels import field_errors
from engine.errors import InvalidInput


def registration_page(template, schema, create, registered, check=None, **context):
    """The response of a registration page.

    ``create(engine, data, actor)`` registers and returns the record; ``registered(record)``
    gives ``(flash text, url of the record's page)``; ``check(data) -> {field: [中文]}`` adds
    the page's own checks of the answers given (each must cope with a missing field);
    ``context``: more for the template.
    """
    rt = engine()
    errors, values = {}, {}
    if request.method == "POST":
        data, values, errors = schema_form.submit(schema, request.form, rt.calendar.tz)
        for field, messages in (check(data) if check else {}).items():
            errors.setdefault(field, []).extend(messages)
        if not errors:
            try:
                record = create(rt, data, g.actor)
            except InvalidInput as err:
                errors = field_errors(err)
            else:
                message, url = registered(record)
                flash(message)
                return redirect(url)
    return render_template(template, form_fields=schema_form.fields(schema, values), values=values,
                           errors=errors, **context)
