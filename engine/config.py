"""Configuration: ``config.toml`` at the repo root, or the file named by ``DUBAN_CONFIG``.

Loaded once per process and passed down as a plain dict. ``DUBAN_DATABASE_URL`` overrides
``[database] url``. Missing keys take the defaults below, so a partial file is valid.
"""
import copy
import os
import tomllib
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent

DEFAULTS = {
    "database": {"url": "sqlite:///var/duban.db"},
    "server": {"host": "127.0.0.1", "port": 5000, "threads": 8, "processes": 1},
    "clock": {"mode": "system", "start": None},
    "calendar": {
        "timezone": "Asia/Shanghai",
        "office_open": "09:00",
        "office_close": "18:00",
        "warning_working_days": 1,
        "extra_holidays": [],
        "extra_working_days": [],
    },
    "engine": {"max_steps_per_command": 10000, "max_seconds_per_command": 30.0, "workflow_cache_size": 256},
    "scripts": {"timeout_seconds": 2.0, "max_data_bytes": 4194304, "max_memory_bytes": 268435456},
    "scheduler": {
        "in_process": True,
        "interval_seconds": 5,
        "batch_size": 50,
        "lease_seconds": 60,
        "max_attempts": 5,
        "backoff_seconds": 30,
        "backoff_max_seconds": 3600,
        "pause_after_claim_seconds": 0,
    },
    "outbox": {
        "batch_size": 50,
        "lease_seconds": 60,
        "max_attempts": 5,
        "backoff_seconds": 30,
        "backoff_max_seconds": 3600,
        "exit_after_commit": False,
    },
    "limits": {"max_body_bytes": 1048576},
    "auth": {
        "token_hours": 12,
        "throttle_window_minutes": 15,
        "free_failures": 3,
        "max_delay_seconds": 60,
        "lock_failures": 10,
        "address_free_failures": 25,
        "address_lock_failures": 50,
        "lockout_minutes": 15,
    },
    "web": {"secure_cookies": False},
    "metrics": {"token": "", "bind": ""},
    "logging": {"format": "text"},
    "deadlines": {"escalation_working_days": 1, "approval_working_days": 2},
    # Evidence files (workflows.files): stored content-addressed under ``dir`` (relative: under
    # the repo root, like the SQLite file; several hosts point it at one shared volume).
    "files": {
        "dir": "var/files",
        "max_bytes": 20 * 1024 * 1024,
        "allowed": ["pdf", "jpeg", "png", "gif", "webp", "docx", "xlsx", "pptx", "ofd", "zip"],
        "orphan_hours": 24,
    },
}


def _merge(base, override):
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(base.get(key), dict):
            _merge(base[key], value)
        else:
            base[key] = value
    return base


def load_config(path=None, overrides=None):
    """Return the effective configuration dict.

    ``path`` defaults to ``$DUBAN_CONFIG`` or ``config.toml`` at the repo root; ``overrides``
    (a nested dict) wins over the file, and ``$DUBAN_DATABASE_URL`` wins over both for the URL.
    A relative SQLite path is resolved against the repo root so every process agrees.
    """
    config = copy.deepcopy(DEFAULTS)
    path = Path(path or os.environ.get("DUBAN_CONFIG") or REPO_ROOT / "config.toml")
    if path.exists():
        with open(path, "rb") as fh:
            _merge(config, tomllib.load(fh))
    _merge(config, overrides or {})
    if os.environ.get("DUBAN_DATABASE_URL"):
        config["database"]["url"] = os.environ["DUBAN_DATABASE_URL"]
    config["database"]["url"] = _absolute_sqlite(config["database"]["url"])
    config["files"]["dir"] = str(REPO_ROOT / config["files"]["dir"])  # an absolute path stays itself
    return config


def _absolute_sqlite(url):
    prefix = "sqlite:///"
    if url.startswith(prefix) and not url.startswith(prefix + "/") and ":memory:" not in url:
        return prefix + str(REPO_ROOT / url[len(prefix):])
    return url
