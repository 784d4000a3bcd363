# crmkit's two README commands, `make demo` and `make test`, do all set-up themselves.

PYTHON ?= python3
VENV := .venv
PY := $(abspath $(VENV))/bin/python
FLOOR_VENV := .venv-floor
FLOOR_PY := $(abspath $(FLOOR_VENV))/bin/python
POLARS_VERSION ?= 2.1.0
POLARS_FLOOR ?= 1.28.1
# Compiled dependencies live outside the checkout, so fresh clones and CI reuse them.
export CARGO_TARGET_DIR ?= $(HOME)/.cache/crmkit-target
PYLIBDIR = $(shell $(PY) -c "import sysconfig; print(sysconfig.get_config_var('LIBDIR'))")

.PHONY: demo test build test-rust test-python test-floor bench venv clean-venv

demo: build
	$(VENV)/bin/crmkit demo --out demo_output

test: build
	$(MAKE) test-rust
	$(MAKE) test-python
	$(MAKE) test-floor

venv: $(VENV)/.installed

$(VENV)/.installed: requirements-dev.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -r requirements-dev.txt "polars==$(POLARS_VERSION)"
	touch $@

# Release build of the extension, installed into .venv in development mode.
build: venv
	VIRTUAL_ENV=$(abspath $(VENV)) PATH=$(abspath $(VENV))/bin:$$PATH maturin develop --release --quiet

test-rust: venv
	LD_LIBRARY_PATH=$(PYLIBDIR) PYO3_PYTHON=$(PY) cargo test --release --lib --quiet

test-python: build
	$(PY) -m pytest -q

# The same suite against the oldest polars crmkit supports (notebooks excluded).
$(FLOOR_VENV)/.installed: requirements-dev.txt
	$(PYTHON) -m venv $(FLOOR_VENV)
	$(FLOOR_PY) -m pip install -q --upgrade pip
	$(FLOOR_PY) -m pip install -q -r requirements-dev.txt "polars==$(POLARS_FLOOR)"
	touch $@

test-floor: build $(FLOOR_VENV)/.installed
	PYTHONPATH=$(abspath python) $(FLOOR_PY) -m pytest -q -p no:cacheprovider --ignore=tests/test_notebooks.py

bench: build
	$(PY) tests/bench/run.py

clean-venv:
	rm -rf $(VENV) $(FLOOR_VENV)
