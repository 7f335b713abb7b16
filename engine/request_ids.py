"""The request id of the work this thread is doing: what ties a request's log lines to the
audit records of the commands it ran.

The API sets it for each request (``api.observability``: the caller's ``X-Request-Id`` when
it is short and plain, else a fresh one); the audit log writes it into each record's data
(``engine.audit``) and the JSON log lines carry it. Work no request started — scheduler
ticks, ``duban worker`` — has none. A context variable, so threads never see each other's.
"""
import contextvars

_current = contextvars.ContextVar("duban_request_id", default=None)


def current():
    """The request id of the running request, or None."""
    return _current.get()


def use(request_id):
    """Make ``request_id`` current; returns the token :func:`reset` takes."""
    return _current.set(request_id)


def reset(token):
    _current.reset(token)
