"""Every setting trainguard reads, in one place: environment variables and ``[trainguard]``.

Two kinds of settings:

- ``ENV``: ``TRAINGUARD_*`` environment variables, read by the core (no Airflow needed);
- ``OPTIONS``: the ``[trainguard]`` section of ``airflow.cfg`` (or
  ``AIRFLOW__TRAINGUARD__<OPTION>``), read only by the Airflow layer, which is why
  ``option()`` imports Airflow's configuration inside the function.

A third source feeds ``ENV``: ``trainguard.toml``, the file ``trainguard demo`` writes in
its working folder (``use_workspace``). The command line reads it from ``--workdir``, from
``$TRAINGUARD_HOME`` or from the nearest folder above the current one that holds it, so a
command finds the stores a demo or a deployment made without a dozen exports.

No other module reads ``os.environ`` for a setting or calls ``conf.get("trainguard", ...)``;
``get_provider_info()`` declares the options to Airflow (the ``apache_airflow_provider``
entry point), so ``airflow config list`` shows them with their defaults.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class EnvSetting:
    """An environment variable: its name, default ("" = unset) and what it is for."""

    name: str
    default: str
    description: str


@dataclass(frozen=True)
class Option:
    """A ``[trainguard]`` option of airflow.cfg, declared as an Airflow provider does."""

    name: str
    type: str  # string | integer | boolean | float (the provider schema's types)
    default: str
    description: str
    example: str | None = None


_ENV = [
    EnvSetting(
        "TRAINGUARD_HOME",
        "",
        "trainguard's own folder (fetched datasets, registry "
        "SQLite, waivers, exports, scan intermediates); default ~/.trainguard. Shared "
        "by every worker of a distributed deployment, unless TRAINGUARD_SHARED_URL is set.",
    ),
    EnvSetting(
        "TRAINGUARD_SHARED_URL",
        "",
        "where the gate's tasks hand on their files, e.g. s3://bucket/trainguard (fsspec; "
        "s3 needs trainguard[s3]): workers then share no disk. Default: TRAINGUARD_HOME",
    ),
    EnvSetting(
        "TRAINGUARD_HASH_KEY",
        "",
        "key of the HMAC-SHA256 of personal-information "
        "values (consent ledger, deletion requests); required to scan",
    ),
    EnvSetting("TRAINGUARD_POLICY", "", "policy YAML the API and CLI use (empty: defaults)"),
    EnvSetting(
        "TRAINGUARD_EXPECTATIONS_DIR",
        "",
        "folder of the GX suites (default: the installed package's trainguard/expectations)",
    ),
    EnvSetting(
        "TRAINGUARD_EXPERIMENT", "trainguard", "MLflow experiment of gate and training runs"
    ),
    EnvSetting("TRAINGUARD_ARTIFACT_ROOT", "", "artifact location of a new experiment"),
    EnvSetting(
        "TRAINGUARD_MLFLOW_UI_URL",
        "http://127.0.0.1:5000",
        "MLflow UI base URL for links from Airflow and the Governance page",
    ),
    EnvSetting(
        "TRAINGUARD_REGISTRY_URL",
        "",
        "SQLAlchemy URL of the violation registry (default: SQLite in TRAINGUARD_HOME)",
    ),
    EnvSetting("TRAINGUARD_WAIVERS", "", "waiver log (default: TRAINGUARD_HOME/waivers.jsonl)"),
    EnvSetting("TRAINGUARD_EXPORT_KEY", "", "shared secret that HMAC-signs export bundles"),
    EnvSetting(
        "TRAINGUARD_EXPORT_SIGNING_KEY",
        "",
        "path of an Ed25519 private key (PEM) that signs export bundles",
    ),
    EnvSetting("TRAINGUARD_ALERT_WEBHOOK", "", "URL the SLA check posts alerts to"),
    EnvSetting("TRAINGUARD_ALERT_EMAIL", "", "comma-separated recipients of SLA alerts"),
    EnvSetting("TRAINGUARD_ALERT_FROM", "trainguard@localhost", "sender of SLA alert mails"),
    EnvSetting("TRAINGUARD_SMTP", "localhost:25", "SMTP server host[:port] for SLA alerts"),
    EnvSetting(
        "TRAINGUARD_DAGS_FOLDER",
        "",
        "folder of trainguard's DAG files (embedded "
        "Airflow of the demo; default: the installed package's trainguard/dags)",
    ),
    EnvSetting(
        "TRAINGUARD_LANGUAGE",
        "",
        "language of the CLI's reports and finding messages: en (default) or zh "
        "(Simplified Chinese); --lang overrides it",
    ),
    EnvSetting(
        "TRAINGUARD_AUDIT_KEY",
        "",
        "secret that keys the violation registry's event chain (HMAC-SHA256); keep it "
        "outside the database (default: derived from TRAINGUARD_HASH_KEY)",
    ),
    EnvSetting(
        "TRAINGUARD_DEBUG",
        "",
        "1: the CLI prints the traceback of an unexpected error (exit 3) for a bug report; "
        "off by default, since a traceback may quote the input",
    ),
    EnvSetting(
        "TRAINGUARD_BATCH_ROWS",
        "65536",
        "records read, scanned and reduced at a time; peak memory follows it (about 110-170 "
        "MB above the fixed cost at the default, measured) and never the number of records",
    ),
    EnvSetting(
        "TRAINGUARD_WORKER_NAME",
        "",
        "host name a Celery worker of the local stack reports (default: the machine's)",
    ),
]
ENV: dict[str, EnvSetting] = {setting.name: setting for setting in _ENV}

_OPTIONS = [
    Option(
        "scan_retries",
        "integer",
        "0",
        "retries of a mapped shard scan (idempotent); the "
        "production stack sets 2 so a scan lost with its worker runs again elsewhere",
        "2",
    ),
    Option("scan_retry_delay_seconds", "integer", "5", "seconds between shard-scan retries"),
    Option(
        "reporter_roles",
        "string",
        "user, op, admin",
        "Airflow roles that may file violations through the API and the Governance page",
    ),
    Option(
        "reviewer_roles",
        "string",
        "op, admin",
        "Airflow roles that may move violations along their lifecycle",
    ),
    Option(
        "auditor_roles",
        "string",
        "viewer, admin",
        "Airflow roles that may start and download provenance exports",
    ),
    Option(
        "assessment_traces",
        "integer",
        "50",
        "answers of a release assessment also logged as an MLflow evaluation (failed "
        "first); each costs about 0.08 s on a SQLite store, every answer is in the table",
    ),
    Option(
        "max_request_bytes",
        "integer",
        str(64 * 1024),
        "largest request body the API reads; larger ones get 413 before they are parsed",
    ),
    Option(
        "language",
        "string",
        "en",
        "language of the Governance page and the export's report.html when the request "
        "names none (Accept-Language, ?lang=): en or zh (Simplified Chinese)",
        "zh",
    ),
]
OPTIONS: dict[str, Option] = {option.name: option for option in _OPTIONS}
SECTION = "trainguard"


def env(name: str) -> str:
    """The value of a declared ``TRAINGUARD_*`` variable, or its default."""
    setting = ENV[name]  # a KeyError here is a bug: every variable is declared above
    return os.environ.get(name) or setting.default


def option(name: str) -> str:
    """A ``[trainguard]`` option from Airflow's configuration (Airflow layer only)."""
    from airflow.configuration import conf

    declared = OPTIONS[name]
    return str(conf.get(SECTION, name, fallback=declared.default))


def int_option(name: str) -> int:
    return int(option(name))


def use_language(language: str) -> None:
    """``--lang``: the language every report and message of this process is written in."""
    os.environ["TRAINGUARD_LANGUAGE"] = language


def batch_rows() -> int:
    """``$TRAINGUARD_BATCH_ROWS``: how many records each stage holds at a time."""
    from trainguard.exceptions import ConfigError

    value = env("TRAINGUARD_BATCH_ROWS")
    try:
        rows = int(value)
    except ValueError:
        rows = 0
    if rows < 1:
        raise ConfigError(f"TRAINGUARD_BATCH_ROWS={value!r}: expected a whole number above 0")
    return rows


def trainguard_home() -> Path:
    """``$TRAINGUARD_HOME``, else ``~/.trainguard``: datasets, registry, waivers, exports."""
    return Path(env("TRAINGUARD_HOME") or Path.home() / ".trainguard")


def quiet_mlflow_progress() -> None:
    """MLflow's artifact reads each draw a progress bar; a server's log wants none."""
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")


def package_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("trainguard")
    except PackageNotFoundError:  # running from a source tree that is not installed
        return "0+unknown"


CONFIG_FILE = "trainguard.toml"
# The settings a trainguard.toml may carry: trainguard's own, and MLflow's tracking URI.
CONFIG_KEYS = (*ENV, "MLFLOW_TRACKING_URI")


@dataclass(frozen=True)
class Workspace:
    """Where a command's settings come from: a ``trainguard.toml`` and how it was found
    (``--workdir``, ``TRAINGUARD_HOME``, or found above the current folder), or none."""

    config: Path | None
    found_by: str
    values: dict[str, str]

    def describe(self) -> str:
        if self.config is None:
            return f"no {CONFIG_FILE} ({self.found_by})"
        return f"{self.config} ({self.found_by})"


def read_config(path: Path) -> dict[str, str]:
    """The ``[env]`` table of a ``trainguard.toml``: setting name -> value (strings)."""
    import tomllib

    from trainguard.exceptions import ConfigError

    try:
        document = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read it ({exc})") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML ({exc})") from None
    unknown_tables = sorted(set(document) - {"env"})
    if unknown_tables:
        raise ConfigError(f"{path}: unknown table(s) {unknown_tables}; expected only [env]")
    values = document.get("env", {})
    if not isinstance(values, dict):
        raise ConfigError(f'{path}: [env] must be a table of NAME = "value"')
    for name, value in values.items():
        if name not in CONFIG_KEYS:
            raise ConfigError(
                f"{path}: [env] {name} is not a trainguard setting; expected one of "
                f"{', '.join(CONFIG_KEYS)}"
            )
        if not isinstance(value, str):
            raise ConfigError(f"{path}: [env] {name} must be a string, got {value!r}")
    return dict(values)


def write_config(folder: Path, values: dict[str, str], *, comment: str) -> Path:
    """Write ``folder/trainguard.toml`` (owner-only: it may hold keys)."""
    import json

    unknown = sorted(set(values) - set(CONFIG_KEYS))
    if unknown:  # a bug in the caller, not the user's input
        raise ValueError(f"not trainguard settings: {unknown}")
    lines = [f"# {line}" for line in comment.splitlines()]
    # A JSON string is a valid TOML basic string (same escapes), so json.dumps quotes.
    lines += ["[env]", *(f"{name} = {json.dumps(value)}" for name, value in values.items())]
    path = folder / CONFIG_FILE
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    path.chmod(0o600)
    return path


def find_workspace(workdir: Path | None = None, start: Path | None = None) -> Workspace:
    """The ``trainguard.toml`` a command uses: ``workdir``'s, else ``$TRAINGUARD_HOME``'s,
    else the nearest one in ``start`` (the current folder) or a folder above it."""
    from trainguard.exceptions import ConfigError

    if workdir is not None:
        if not workdir.is_dir():
            raise ConfigError(f"--workdir {workdir}: no such folder")
        config = workdir / CONFIG_FILE
        if config.is_file():
            return Workspace(config, "--workdir", read_config(config))
        return Workspace(None, f"--workdir {workdir} has none", {})
    home = os.environ.get("TRAINGUARD_HOME")
    if home and (Path(home) / CONFIG_FILE).is_file():
        config = Path(home) / CONFIG_FILE
        return Workspace(config, "$TRAINGUARD_HOME", read_config(config))
    here = (start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        if (folder / CONFIG_FILE).is_file():
            config = folder / CONFIG_FILE
            return Workspace(config, f"found above {here}", read_config(config))
    return Workspace(None, f"none in {here} or above, and --workdir not given", {})


_workspace: Workspace | None = None


def use_workspace(workdir: Path | None = None) -> Workspace:
    """Apply the settings of the command's ``trainguard.toml`` to this process.

    Given ``--workdir``, its file wins over the environment and ``TRAINGUARD_HOME``
    becomes the folder (a flag is the most explicit choice); a file found otherwise
    fills in only what the environment leaves unset.
    """
    global _workspace
    workspace = find_workspace(workdir)
    explicit = workdir is not None
    values = dict(workspace.values)
    if explicit:
        values.setdefault("TRAINGUARD_HOME", str(workdir.resolve()))  # type: ignore[union-attr]
    for name, value in values.items():
        if explicit or not os.environ.get(name):
            os.environ[name] = value
    _workspace = replace(workspace, values=values)
    return _workspace


def workspace() -> Workspace:
    """The workspace ``use_workspace`` applied (none: the environment alone)."""
    return _workspace or Workspace(None, "settings from the environment only", {})


OPERATOR_MODULES = ("assessment", "dvc", "export", "gate", "scan", "training", "violations")


def bundled_dags() -> Path:
    """The DAG files the package carries: a link to the checkout's dags/, real files in a
    wheel."""
    return Path(__file__).parent / "dags"


def dag_purpose(path: Path) -> str:
    """The first line of a DAG file's docstring."""
    import ast

    docstring = ast.get_docstring(ast.parse(path.read_text(encoding="utf-8"))) or ""
    return docstring.split("\n", 1)[0]


def bundled_dag_list() -> list[dict[str, str]]:
    """Each DAG file the package carries, with what it does."""
    return [
        {"dag-id": path.stem, "description": dag_purpose(path)}
        for path in sorted(bundled_dags().glob("*.py"))
    ]


def get_provider_info() -> dict[str, Any]:
    """Provider metadata for Airflow's ProvidersManager (``apache_airflow_provider``).

    The plugin is not listed here: the ``airflow.plugins`` entry point already loads it,
    and a second declaration would register it twice.
    """
    return {
        "package-name": "trainguard",
        "name": "trainguard",
        "description": "Gates generative-model training on data legality and quality "
        "(China's Measures for generative AI services).",
        "integrations": [
            {
                "integration-name": "trainguard",
                "tags": ["ai", "governance"],
            }
        ],
        "operators": [
            {
                "integration-name": "trainguard",
                "python-modules": [f"trainguard.operators.{name}" for name in OPERATOR_MODULES],
            }
        ],
        # Not an Airflow provider concept: the DAG files the wheel carries, for
        # `airflow providers get trainguard` and `trainguard dags install`.
        "dags": bundled_dag_list(),
        "config": {
            SECTION: {
                "description": "trainguard's gate DAGs, Governance page and REST API.",
                "options": {
                    o.name: {
                        "description": o.description,
                        "version_added": "0.1.0",
                        "type": o.type,
                        "example": o.example,
                        "default": o.default,
                    }
                    for o in _OPTIONS
                },
            }
        },
    }
