# Gridline: `make run` serves the demo, `make test` runs every test. Both set up what they need.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# Installs follow constraints.txt (every package pinned exactly: `make lock` writes it anew).
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml constraints.txt | cksum | cut -d' ' -f1)
export PICCOLO_CONF := web.piccolo_conf

.PHONY: run test lint bench bench-full messages chromium clean lock

$(STAMP): pyproject.toml constraints.txt
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python 3.11 or newer is needed")'
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[test]'
	rm -f $(VENV)/.installed-* && touch $@

run: $(STAMP)
	$(BIN)/python -m web migrate
	$(BIN)/python -m web demo --if-empty
	$(BIN)/python -m web sign-ins
	$(BIN)/python -m web serve

# Debian's Chromium drives the browser tests (never a downloaded browser build).
chromium:
	@command -v chromium >/dev/null 2>&1 || { \
	  echo "installing Debian's chromium"; \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq chromium fonts-noto-cjk >/dev/null; }

# Errors and likely bugs (ruff), and types (mypy), over the whole tree: configured in pyproject.toml.
lint: $(STAMP)
	$(BIN)/ruff check web tests bench
	$(BIN)/mypy

test: lint chromium
	$(BIN)/python -m pytest $(PYTEST_ARGS)

bench: $(STAMP)
	$(BIN)/python -m bench $(BENCH_ARGS)
	$(BIN)/python -m bench.ingest
	$(BIN)/python -m bench.coverage $(BENCH_ARGS)

# Re-extract translatable strings and merge them into the catalogues.
messages: $(STAMP)
	$(BIN)/pybabel extract --no-wrap -F babel.cfg -k _ -k gettext -k ngettext:1,2 --no-location --sort-output -o web/translations/messages.pot . >/dev/null
	$(BIN)/pybabel update --no-wrap -i web/translations/messages.pot -d web/translations --no-fuzzy-matching --ignore-obsolete

# Pin what is installed now (after changing a dependency in pyproject.toml and installing it).
lock: $(STAMP)
	{ echo "# Exact versions of every package, for installs a month apart to run the same code."; \
	  $(BIN)/python -m pip freeze --exclude-editable | grep -v '^gridline'; } > constraints.txt

clean:
	rm -rf $(VENV) .pytest_cache
