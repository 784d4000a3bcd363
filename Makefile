# crmkit's two README commands, `make demo` and `make test`, do all set-up themselves.

PYTHON ?= python3
VENV := .venv
PY := $(abspath $(VENV))/bin/python
FLOOR_VENV := .venv-floor
FLOOR_PY := $(abspath $(FLOOR_VENV))/bin/python
POLARS_VERSION ?= 2.1.0
POLARS_FLOOR ?= 1.28.1
# crmkit.spark is tested on Spark 4 (.venv, with Spark Connect) and Spark 3.5 (.venv-floor).
PYSPARK_VERSION ?= 4.3.0
PYSPARK_FLOOR ?= 3.5.9
# Compiled dependencies live outside the checkout, so fresh clones and CI reuse them.
export CARGO_TARGET_DIR ?= $(HOME)/.cache/crmkit-target
# One fixed interpreter for pyo3's build configuration, so the extension build and
# `cargo test` share every compiled artifact (a changed PYO3_PYTHON or VIRTUAL_ENV
# would rebuild the pyo3 crates each time).
BASE_PY := $(shell $(PYTHON) -c "import os, sys; print(os.path.realpath(sys.executable))")
PYLIBDIR := $(shell $(PYTHON) -c "import sysconfig; print(sysconfig.get_config_var('LIBDIR'))")
export PYO3_PYTHON := $(BASE_PY)
unexport VIRTUAL_ENV CONDA_PREFIX PYO3_BUILD_EXTENSION_MODULE
EXT := python/crmkit/_core.abi3.so
SITE = $(shell $(PY) -c "import sysconfig; print(sysconfig.get_paths()['purelib'])")

.PHONY: demo test build wheel test-rust test-python test-floor bench fuzz venv clean-venv java system-deps docs test-docs typecheck

demo: build
	$(PY) -m crmkit demo --out demo_output

# The notebooks run once, in the strict docs build (test-docs: a failing cell fails it);
# `pytest tests/test_notebooks.py` still runs them alone.
test: build
	$(MAKE) test-rust
	$(MAKE) test-python
	$(MAKE) test-floor
	$(MAKE) test-docs
	$(MAKE) typecheck

venv: $(VENV)/.installed

$(VENV)/.installed: requirements-dev.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -r requirements-dev.txt "polars==$(POLARS_VERSION)"
	touch $@

# Release build of the extension next to its Python sources; .venv sees python/ through
# a .pth file (a development install). The lock keeps parallel checkouts that share
# CARGO_TARGET_DIR from copying each other's library; and as the cdylib's file in the
# target dir is one for every checkout while cargo's freshness check is per checkout, a
# build after another checkout's build relinks (touch src/lib.rs) rather than copy that
# checkout's library. `make wheel` builds the wheel.
build: venv
	mkdir -p $(CARGO_TARGET_DIR)
	flock $(CARGO_TARGET_DIR)/.crmkit-build.lock sh -c '\
	  if [ "$$(cat $(CARGO_TARGET_DIR)/.crmkit-last-checkout 2>/dev/null)" != "$(CURDIR)" ]; then touch src/lib.rs; fi; \
	  cargo build --release --lib --quiet && echo "$(CURDIR)" > $(CARGO_TARGET_DIR)/.crmkit-last-checkout && \
	  cp $(CARGO_TARGET_DIR)/release/libcrmkit.so $(EXT).tmp'
	mv -f $(EXT).tmp $(EXT)
	echo "$(abspath python)" > $(SITE)/crmkit-dev.pth

wheel: venv
	VIRTUAL_ENV=$(abspath $(VENV)) PATH=$(abspath $(VENV))/bin:$$PATH maturin build --profile dist --out dist

test-rust: venv
	LD_LIBRARY_PATH=$(PYLIBDIR) cargo test --release --lib --quiet

# Spark needs a Java runtime (17 here); installed from Debian when absent.
java:
	@command -v java >/dev/null 2>&1 || (apt-get update -qq && apt-get install -y -qq --no-install-recommends openjdk-17-jre-headless)

# pyspark (about 300 MB a wheel) in each test venv, one stamp per version.
$(VENV)/.pyspark-$(PYSPARK_VERSION): $(VENV)/.installed requirements-spark.txt
	$(PY) -m pip install -q -r requirements-spark.txt "pyspark[connect]==$(PYSPARK_VERSION)"
	touch $@

$(FLOOR_VENV)/.pyspark-$(PYSPARK_FLOOR): $(FLOOR_VENV)/.installed
	$(FLOOR_PY) -m pip install -q "pyspark==$(PYSPARK_FLOOR)"
	touch $@

test-python: build system-deps java $(VENV)/.pyspark-$(PYSPARK_VERSION)
	$(PY) -m pytest -q --ignore=tests/test_docs.py --ignore=tests/test_notebooks.py

# Debian packages the tests use: chromium for the dashboard's browser tests (driven by
# playwright from requirements-dev.txt, no browser download) and a small CJK font so
# charts draw Chinese. Installed when absent and we are root; otherwise the browser
# tests skip with the reason (see README for the non-root way).
CHROMIUM := /usr/lib/chromium/chromium
system-deps:
	@if [ ! -x $(CHROMIUM) ] || [ ! -f /usr/share/fonts/truetype/wqy/wqy-microhei.ttc ]; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    echo "installing chromium and fonts-wqy-microhei (Debian packages)"; \
	    apt-get update -q >/dev/null && \
	    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends chromium fonts-wqy-microhei >/dev/null; \
	  else \
	    echo "note: chromium / fonts-wqy-microhei missing and not root: browser tests will skip (see README)"; \
	  fi; \
	fi

# The same suite against the oldest polars crmkit supports (notebooks excluded).
$(FLOOR_VENV)/.installed: requirements-dev.txt
	$(PYTHON) -m venv $(FLOOR_VENV)
	$(FLOOR_PY) -m pip install -q --upgrade pip
	$(FLOOR_PY) -m pip install -q -r requirements-dev.txt "polars==$(POLARS_FLOOR)"
	touch $@

test-floor: build system-deps java $(FLOOR_VENV)/.installed $(FLOOR_VENV)/.pyspark-$(PYSPARK_FLOOR)
	PYTHONPATH=$(abspath python) $(FLOOR_PY) -m pytest -q -p no:cacheprovider --ignore=tests/test_notebooks.py

# Benchmark-only peers (e.g. splink) live in requirements-bench.txt, installed on demand.
$(VENV)/.bench-installed: requirements-bench.txt $(VENV)/.installed
	$(PY) -m pip install -q -r requirements-bench.txt
	touch $@

bench: build java $(VENV)/.bench-installed $(VENV)/.pyspark-$(PYSPARK_VERSION)
	$(PY) tests/bench/run.py --record docs/bench_results.json

# Property-based runs with the long hypothesis profile (tests/test_properties.py; at
# least 10 minutes, 25-40 on two shared cores: CRMKIT_FUZZ_EXAMPLES per older test,
# CRMKIT_FUZZ_API_EXAMPLES per API-wide test), with the examples tried per test printed.
fuzz: build
	CRMKIT_HYPOTHESIS_PROFILE=fuzz $(PY) -m pytest -q -p no:cacheprovider tests/test_properties.py --hypothesis-show-statistics

clean-venv:
	rm -rf $(VENV) $(FLOOR_VENV)

# The documentation site (mkdocs + material + mkdocstrings + mkdocs-jupyter + markdown-exec,
# pinned in requirements-docs.txt) is built offline into site/ from docs/, the notebooks
# (executed) and the docstrings. `make test` builds it in strict mode (any warning, broken
# link, missing reference, failing notebook or guide fails) and checks the built pages.
$(VENV)/.docs-installed: requirements-docs.txt $(VENV)/.installed
	$(PY) -m pip install -q -r requirements-docs.txt
	touch $@

docs: build system-deps java $(VENV)/.docs-installed $(VENV)/.pyspark-$(PYSPARK_VERSION)
	NO_MKDOCS_2_WARNING=1 $(PY) -m mkdocs build --strict --site-dir site

test-docs: docs
	CRMKIT_DOCS_SITE=$(abspath site) $(PY) -m pytest -q -p no:cacheprovider tests/test_docs.py

# Static types: mypy (pinned in requirements-dev.txt, settings in pyproject.toml) over
# python/crmkit, against .venv's polars and pyspark (about 40 s cold, a few s warm).
typecheck: $(VENV)/.pyspark-$(PYSPARK_VERSION)
	$(PY) -m mypy
