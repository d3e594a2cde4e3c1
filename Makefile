# Two commands on a fresh machine with Python 3.11+ and make:
#   make run   — virtualenv, install, migrate, demo data, then web + worker + beat
#   make test  — the test suite (SQLite unless DATABASE_URL says otherwise)

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
HOST ?= 127.0.0.1
PORT ?= 8000

export HOST PORT

.PHONY: run test lint typecheck migrations-check check messages clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(STAMP): requirements.txt requirements-dev.txt | $(BIN)/python
	$(BIN)/python -m pip install --quiet -r requirements-dev.txt
	touch $(STAMP)

run: export DEBUG ?= true
run: $(STAMP)
	mkdir -p var
	$(BIN)/python manage.py migrate --noinput
	$(BIN)/python manage.py compile_translations
	$(BIN)/python manage.py load_demo_data --quiet-login
	@echo
	@echo "  ITSM is starting at http://$(HOST):$(PORT)/"
	@echo "  Admin (back office): http://$(HOST):$(PORT)/admin/   API docs: http://$(HOST):$(PORT)/api/docs/"
	@echo "  Demo login: admin / itsm-demo  (roles: maya = incident manager, agus = agent, rina = reporter)"
	@echo "  Stop with Ctrl-C."
	@echo
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/honcho --procfile Procfile start

test: export SECRET_KEY ?= insecure-test-only-key
# A queue of this run's own, so its Celery workers never take another run's tasks.
test: export CELERY_QUEUE ?= itsm-test-$(shell od -An -N4 -tx4 /dev/urandom | tr -d ' ')
# Parallel processes (pytest-xdist; tests/workers.py keeps them apart): the suite waits on real
# workers, servers and a browser much of the time, so three keep two cores busy. TEST_WORKERS=0
# runs it in one process. With Redis, worker N uses REDIS_URL's database number minus N.
TEST_WORKERS ?= 3
test: $(STAMP)
	mkdir -p var
	$(BIN)/python -m pytest -n $(TEST_WORKERS) --dist worksteal $(PYTEST_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: export DEBUG ?= true
typecheck: $(STAMP)
	$(BIN)/mypy .

migrations-check: export DEBUG ?= true
migrations-check: $(STAMP)
	$(BIN)/python manage.py makemigrations --check --dry-run

check: lint typecheck migrations-check test

# The Indonesian catalogue topped up with every string the code and templates mark: new ones
# arrive untranslated (or fuzzy, msgmerge's guess), translations already made are kept, strings
# gone from the code are dropped. Then check_translations lists what is left to translate and
# fails until nothing is. A developer tool: makemessages needs GNU gettext (apt install gettext);
# installing and running the app do not (compile_translations builds the .mo with Python alone).
messages: export DEBUG ?= true
messages: $(STAMP)
	$(BIN)/python manage.py makemessages -l id --ignore=.venv --ignore=var --ignore=bench --ignore=tests \
		--ignore=staticfiles --ignore=media --no-obsolete
	$(BIN)/python manage.py check_translations

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache
