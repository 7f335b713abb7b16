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

**Metrics** (``api.observability``). With several processes each worker writes its metric
values to files in a directory made for this server run (``PROMETHEUS_MULTIPROC_DIR``, set by
:func:`prepare_metrics` before ``prometheus_client`` is first imported; removed on exit), a
scrape adds every worker's up, and the master drops a dead worker's live gauges
(``mark_process_dead``; its counters keep counting). ``[metrics] bind`` is a listener of its
own: in the waitress process, or in the gunicorn master (which then reads the database for the
scrape-time gauges through a pool-less connection, so nothing pooled crosses a fork; workers
close their inherited copy of that socket).
"""
import errno
import logging
import os
import shutil
import socket
import tempfile

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


def metrics_bind(config):
    """``(host, port)`` of ``[metrics] bind``, or None; :class:`ServeError` when malformed."""
    from api.observability import listen_address

    bind = (config.get("metrics") or {}).get("bind") or ""
    if not bind:
        return None
    try:
        return listen_address(bind)
    except ValueError as err:
        raise ServeError(str(err)) from None


MULTIPROCESS_ENV = "PROMETHEUS_MULTIPROC_DIR"


def prepare_metrics(config):
    """Before anything imports ``prometheus_client`` (``duban serve`` calls it first): with
    several processes, a fresh directory for the workers' metric files; returns it, or None."""
    try:
        processes = settings(config)[3]
    except ServeError:
        return None  # serve() says what is wrong
    if processes == 1:
        return None
    directory = tempfile.mkdtemp(prefix="duban-metrics-")
    os.environ[MULTIPROCESS_ENV] = directory
    return directory


def _multiprocess_values():
    """``prometheus_client`` chose its value class when imported: choose again. Values made
    before now keep their class (the engine's labelled ones are made on first use; the
    unlabelled timer-lag histogram is not), hence ``duban serve`` calls
    :func:`prepare_metrics` before any import instead."""
    import prometheus_client.values as values

    values.ValueClass = values.get_value_class()


def serve(config, echo=print):
    """Serve until stopped; ``echo`` prints where. Raises :class:`ServeError` before serving."""
    host, port, threads, processes = settings(config)
    check_listen(host, port)
    metrics_address = metrics_bind(config)
    if metrics_address:
        check_listen(*metrics_address)
    if processes == 1:
        _serve_waitress(config, host, port, threads, echo, metrics_address)
    else:
        if not os.environ.get(MULTIPROCESS_ENV):  # a caller other than `duban serve`
            prepare_metrics(config)
            _multiprocess_values()
        master = os.getpid()
        try:
            _serve_prefork(config, host, port, threads, processes, echo, metrics_address)
        finally:
            if os.getpid() == master:  # a worker's exit unwinds through here too
                shutil.rmtree(os.environ[MULTIPROCESS_ENV], ignore_errors=True)


def _serve_waitress(config, host, port, threads, echo, metrics_address):
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
    listener = _listener(metrics_address, engine) if metrics_address else None
    echo(f"serving on http://{host}:{port}")
    if listener:
        echo(f"metrics on http://{_url_host(metrics_address[0])}:{metrics_address[1]}/metrics")
    try:
        server.run()
    finally:
        if listener:
            listener.shutdown()
            listener.server_close()
        if scheduler:
            stop_scheduler(engine, scheduler)


def _url_host(host):
    return f"[{host}]" if ":" in host else host


def _serve_prefork(config, host, port, threads, processes, echo, metrics_address):
    # Import the modules (not the app) once in the master: workers fork with them loaded,
    # boot faster and share those pages. Nothing here opens a database connection.
    import api.app  # noqa: F401
    from api import web

    # Every worker must sign page sessions with one key. Resolve it once here, before the
    # fork, so N workers starting together never race to generate var/secret_key.
    config.setdefault("web", {})["secret_key"] = web.secret_key(config)
    bind = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    listener = _master_listener(config, metrics_address) if metrics_address else None

    def when_ready(_arbiter):
        echo(f"serving on http://{host}:{port} ({processes} processes × {threads} threads)")
        if listener:
            echo(f"metrics on http://{_url_host(metrics_address[0])}:{metrics_address[1]}/metrics")

    master = os.getpid()
    try:
        Prefork(config, {"bind": [bind], "workers": processes, "threads": threads},
                when_ready, listener).run()
    finally:
        if listener and os.getpid() == master:  # a worker exits through here: no listener thread
            listener.shutdown()
            listener.server_close()


def _master_listener(config, address):
    """``[metrics] bind`` in the master: every worker's values, and the database gauges read
    through connections opened per scrape (no pool to cross a fork)."""
    from types import SimpleNamespace

    from engine.clock import make_clock
    from engine.clock_store import DatabaseClockStore
    from engine.db import Database

    db = Database(config["database"]["url"], pooled=False)
    return _listener(address, SimpleNamespace(db=db, clock=make_clock(config["clock"], DatabaseClockStore(db))))


def _listener(address, runtime):
    from api.observability import start_listener

    try:
        return start_listener(address, runtime)
    except OSError as err:  # lost the port between the check and now
        raise ServeError(f"cannot listen on {address[0]}:{address[1]}: {err.strerror}") from None


class Prefork(BaseApplication):
    """gunicorn driven from ``duban serve``: the config file is Duban's, never gunicorn's own
    (no ``gunicorn.conf.py``, no ``GUNICORN_CMD_ARGS``), and the hooks start and stop each
    worker's scheduler and engine."""

    def __init__(self, config, options, when_ready, metrics_listener=None):
        self.config, self.options, self.on_ready = config, options, when_ready
        self.metrics_listener = metrics_listener  # the master's [metrics] bind server, or None
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
            "post_fork": _post_fork,
            "post_worker_init": _post_worker_init,
            "worker_exit": _worker_exit,
            "child_exit": _child_exit,
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


def _post_fork(_arbiter, worker):
    """In the new worker: close its copy of the master's metrics listener socket."""
    listener = worker.app.metrics_listener
    if listener is not None:
        listener.socket.close()


def _child_exit(_arbiter, worker):
    """In the master, a worker gone: its live gauges (pool use) stop counting."""
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)


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
