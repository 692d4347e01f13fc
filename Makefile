# Two commands on a fresh machine with python3 and make: `make demo` and `make test`.
# Both create or update .venv from uv.lock first (seconds when it is already current).
PYTHON ?= python3
UV_VERSION := 0.13.9
TOOLS := .tools
UV := $(TOOLS)/bin/uv
VENV := .venv
# Never let uv fetch a Python build from the internet: use the machine's python3.
export UV_PYTHON_DOWNLOADS := never

.PHONY: demo ui test test-unit test-integration test-stack test-lowest lint i18n venv clean

demo: $(VENV)/.synced
	$(VENV)/bin/trainguard demo

# The Airflow UI with the Governance page on the demo's folder (after `make demo`).
PORT ?= 8080
ui: $(VENV)/.synced
	$(VENV)/bin/trainguard ui --port $(PORT)

# The unit tier on both cores (pytest-xdist; its tests share nothing), then the integration
# tier in one process: its session fixtures (the demo, the DAG runs) are built once.
test: $(VENV)/.synced
	$(VENV)/bin/python -m pytest -m unit -n 2
	$(VENV)/bin/python -m pytest -m "integration and not lowest" --durations=15

test-unit: $(VENV)/.synced
	$(VENV)/bin/python -m pytest -m unit -n 2

test-integration: $(VENV)/.synced
	$(VENV)/bin/python -m pytest -m "integration and not lowest" --durations=15

# The Celery topology of docker-compose.yml as local processes, on this machine's
# PostgreSQL (127.0.0.1:5432) and Redis (127.0.0.1:6379), configured from .env.example.
test-stack: $(VENV)/.synced
	$(VENV)/bin/python -m pytest -m stack tests/stack

# The lowest versions pyproject.toml's ranges allow (uv's lowest-direct resolution, e.g.
# Airflow 3.2.0, MLflow 3.16.0), in a venv of their own: the unit tier and one real
# pretraining_gate DAG run. uv.lock and .venv stay on the tested pins.
LOWEST := .venv-lowest
test-lowest: | $(UV)
	$(UV) venv --quiet --allow-existing --python $(PYTHON) $(LOWEST)
	$(UV) pip install --quiet --python $(LOWEST)/bin/python --resolution lowest-direct \
		--compile-bytecode -c stack/lowest-constraints.txt -e ".[dev]"
	$(LOWEST)/bin/python -m pytest -m unit -q -n 2
	$(LOWEST)/bin/python -m pytest -m lowest -q -s tests/integration/test_installed_wheel.py

# ruff (broad rule set, every ignore commented in pyproject.toml), ruff format, mypy.
lint: $(VENV)/.synced
	$(VENV)/bin/ruff check plugins dags tests bench
	$(VENV)/bin/ruff format --check plugins dags tests bench
	$(VENV)/bin/mypy

# Messages for translation: extract (Text(...) and N_() in Python, _() in templates), merge
# into the Chinese catalogue, compile the .mo the package ships. Then translate the new
# entries in the .po and run it again; tests/unit/test_i18n.py fails on any left empty.
LOCALE := plugins/trainguard/locale
i18n: $(VENV)/.synced
	@mkdir -p build
	$(VENV)/bin/pybabel --quiet extract -F babel.cfg -k Text -k N_ --no-location --sort-output \
		--omit-header -o build/trainguard.pot .
	$(VENV)/bin/pybabel --quiet update -i build/trainguard.pot -d $(LOCALE) -D trainguard -l zh \
		--no-fuzzy-matching --ignore-obsolete
	$(VENV)/bin/pybabel compile -d $(LOCALE) -D trainguard -l zh --statistics

venv: $(VENV)/.synced

$(UV):
	$(PYTHON) -m venv $(TOOLS)
	$(TOOLS)/bin/pip install --quiet --disable-pip-version-check uv==$(UV_VERSION)

# The lock pins every package; --frozen fails rather than silently re-resolving.
# --compile-bytecode writes the stack's .pyc once here: with PYTHONDONTWRITEBYTECODE set
# (as on CI machines) every process would otherwise compile GX, MLflow and Airflow again,
# 4.6 of the 11.5 s a `trainguard scan` of the demo took.
$(VENV)/.synced: uv.lock pyproject.toml Makefile | $(UV)
	$(UV) sync --frozen --extra dev --python $(PYTHON) --quiet --compile-bytecode
	@touch $@

clean:
	rm -rf $(VENV) $(LOWEST) $(TOOLS) .trainguard-demo .pytest_cache build
