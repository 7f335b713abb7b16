"""``duban serve``: the HTTP server, on one process or several.

``[server] processes = 1`` (the default): waitress in this process with ``[server] threads``
threads, and with ``[scheduler] in_process`` the timer scheduler in this process too.

``processes = N > 1``: a prefork server (gunicorn, ``gthread`` workers). The master binds the
listening socket and forks N worker processes that share it, each with ``threads`` threads.
The master never builds the app: ``preload_app`` is off, so every worker creates its own app,
engine and SQLAlchemy pool after the fork (a pool must never cross a fork), and with
``[scheduler] in_process`` starts its own scheduler once its app is loaded and stops it when
it exits. Several schedulers are safe: a timer row is leased (``FOR UPDATE SKIP LOCKED`` on
PostgreSQL; claims serialised by ``BEGIN IMMEDIATE`` on SQLite) and fires under the
instance's version check, and a periodic job's occurrence is a unique ``job_run`` row.

The master replaces a worker that dies; SIGTERM stops every worker gracefully (requests in
flight finish, schedulers give back their leases), SIGINT quickly. Why several processes:
Python runs one thread at a time per process (the GIL), so one process uses one core.

Trade-off: gunicorn's workers race to ``accept()`` on the shared socket, so connections are
not spread evenly (an idle worker tends to win); a balancer in front of several hosts spreads
load between hosts, not between one host's workers.
"""
import errno
import logging
import os
import socket

from gunicorn.app.base import BaseApplication

log = logging.getLogger(__name__)


class ServeError(Exception):
    """A configuration or environment problem that stops ``duban serve`` before it serves."""


def _whole_number(server, key, minimum):
    value = server.get(key)
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ServeError(f"[server] {key} must be a whole number ≥ {minimum}, not {value!r}")
    return value


def settings(config):
    """``(host, port, threads, processes)`` from ``[server]``, checked (:class:`ServeError`)."""
    server = config["server"]
    host = server.get("host")
    if not isinstance(host, str) or not host:
        raise ServeError(f"[server] host must be a host name or address, not {host!r}")
    port = _whole_number(server, "port", 1)
    if port > 65535:
        raise ServeError(f"[server] port must be at most 65535, not {port}")
    return host, port, _whole_number(server, "threads", 1), _whole_number(server, "processes", 1)


def check_listen(host, port):
    """Fail early and clearly when ``host:port`` cannot be listened on (port in use, no such
    address, a privileged port) instead of in the server's own retry loop or traceback."""
    try:
        family, kind, proto, _name, address = socket.getaddrinfo(
            host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)[0]
    except socket.gaierror as err:
        raise ServeError(f"cannot listen on {host}:{port}: {err.strerror}") from None
    with socket.socket(family, kind, proto) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as both servers do
        try:
            probe.bind(address)
        except OSError as err:
            hint = " (another process is listening there)" if err.errno == errno.EADDRINUSE else ""
            raise ServeError(f"cannot listen on {host}:{port}: {err.strerror}{hint}") from None


def serve(config, echo=print):
    """Serve until stopped; ``echo`` prints where. Raises :class:`ServeError` before serving."""
    host, port, threads, processes = settings(config)
    check_listen(host, port)
    if processes == 1:
        _serve_waitress(config, host, port, threads, echo)
    else:
        _serve_prefork(config, host, port, threads, processes, echo)


def _serve_waitress(config, host, port, threads, echo):
    import waitress

    from api.app import create_app
    from api.runtime import engine_of
    from api.scheduler import start_scheduler, stop_scheduler

    app = create_app(config)
    engine = engine_of(app)
    scheduler = start_scheduler(engine) if config["scheduler"]["in_process"] else None
    try:
        server = waitress.create_server(app, host=host, port=port, threads=threads, ident="duban")
    except OSError as err:  # lost the port between the check and now
        raise ServeError(f"cannot listen on {host}:{port}: {err.strerror}") from None
    echo(f"serving on http://{host}:{port}")
    try:
        server.run()
    finally:
        if scheduler:
            stop_scheduler(engine, scheduler)


def _serve_prefork(config, host, port, threads, processes, echo):
    # Import the modules (not the app) once in the master: workers fork with them loaded,
    # boot faster and share those pages. Nothing here opens a database connection.
    import api.app  # noqa: F401
    from api import web

    # Every worker must sign page sessions with one key. Resolve it once here, before the
    # fork, so N workers starting together never race to generate var/secret_key.
    config.setdefault("web", {})["secret_key"] = web.secret_key(config)
    bind = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"

    def when_ready(_arbiter):
        echo(f"serving on http://{host}:{port} ({processes} processes × {threads} threads)")

    Prefork(config, {"bind": [bind], "workers": processes, "threads": threads},
            when_ready).run()


class Prefork(BaseApplication):
    """gunicorn driven from ``duban serve``: the config file is Duban's, never gunicorn's own
    (no ``gunicorn.conf.py``, no ``GUNICORN_CMD_ARGS``), and the hooks start and stop each
    worker's scheduler and engine."""

    def __init__(self, config, options, when_ready):
        self.config, self.options, self.on_ready = config, options, when_ready
        self.engine = self.scheduler = None  # set in each worker, after the fork
        super().__init__(prog="duban serve")

    def load_config(self):
        settings = {
            **self.options,
            "worker_class": "gthread",
            "preload_app": False,            # each worker builds app, engine and pool itself
            "proc_name": "duban",
            "control_socket_disable": True,  # no gunicornc socket in $HOME: several servers may run
            # Duban's ProxyFix ([server] trusted_proxies) alone decides what forwarding headers
            # mean, as with waitress: gunicorn trusts no peer for X-Forwarded-Proto & co.
            "forwarded_allow_ips": "",
            "accesslog": None,
            "errorlog": "-",
            "loglevel": "info",
            "when_ready": self.on_ready,
            "post_worker_init": _post_worker_init,
            "worker_exit": _worker_exit,
        }
        for key, value in settings.items():
            self.cfg.set(key, value)

    def load(self):
        """In a worker process, after the fork: this worker's app, engine and pool."""
        from api.app import create_app
        from api.runtime import engine_of

        app = create_app(self.config)
        self.engine = engine_of(app)
        return app


def _post_worker_init(worker):
    """In the worker, its app loaded: start its own timer scheduler (``in_process``)."""
    from api.scheduler import start_scheduler

    application = worker.app
    engine = application.engine
    if engine.config["scheduler"]["in_process"]:
        application.scheduler = start_scheduler(engine)
        log.info("worker %s: firing timers every %ss", engine.timers.owner,
                 engine.config["scheduler"]["interval_seconds"])


def _worker_exit(_arbiter, worker):
    """In the exiting worker: finish the scheduler's tick, give back leases, close the pool.
    (gunicorn also calls this in the master for a worker that vanished: nothing to do there.)"""
    from api.scheduler import stop_scheduler

    application = worker.app
    if application.engine is None or worker.pid != os.getpid():
        return
    if application.scheduler is not None:
        stop_scheduler(application.engine, application.scheduler)
        application.scheduler = None
    application.engine.close()
    application.engine = None
