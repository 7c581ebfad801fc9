# The two commands of README.md:  `make book`  and  `make test`.
# Each creates the project's virtual environment (.venv) on first use, with the exact versions in
# requirements/constraints.txt, so two builds months apart install the same packages.

PYTHON ?= $(shell command -v python3.11 2>/dev/null || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

# A project-local IPython profile: it silences ipykernel's per-notebook "running over TCP" notice,
# and rewrites each cell's asserts so that a failing claim check shows its numbers.
export IPYTHONDIR := $(CURDIR)/.ipython
# The numeric environment (hash seed, BLAS threads and kernels), one KEY=VALUE per line, shared
# with the root conftest.py; OPENBLAS_CORETYPE only on x86-64.
include requirements/numeric.env
NUMERIC_ENV := $(shell sed -n 's/^\([A-Z_]*\)=.*/\1/p' requirements/numeric.env)
ifneq ($(shell uname -m),x86_64)
NUMERIC_ENV := $(filter-out OPENBLAS_CORETYPE,$(NUMERIC_ENV))
endif
export $(NUMERIC_ENV)

TEST_LAYERS := fast notebooks book browser grading
.PHONY: book test $(addprefix test-,$(TEST_LAYERS)) lint types pytest browser-deps offline learner release bench lab execute constraints clean

# Debian's chromium and chromium-driver, for the browser tests and the PDF (sudo unless root).
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

$(STAMP): pyproject.toml instructor/pyproject.toml requirements/constraints.txt lossmod/_version.py
	$(PYTHON) -c 'import sys; assert sys.version_info[:2] >= (3, 11), "Python 3.11 or newer is needed"'
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check \
	    -c requirements/constraints.txt -e '.[test]' -e ./instructor
	touch $@

## book: build the HTML book into _build/html (notebooks executed, warnings are errors)
book: $(STAMP)
	$(BIN)/jupyter-book build . --warningiserror --nitpick --keep-going

## test: lint, types, then every test: unit, properties, notebooks (nbval), the strict book build
## and the book opened in headless Chromium
test: lint types browser-deps pytest

lint: $(STAMP)
	$(BIN)/ruff check conftest.py lossmod instructor tests tools _ext benchmarks
	$(BIN)/ruff format --check conftest.py lossmod instructor tests tools _ext benchmarks

types: $(STAMP)
	$(BIN)/mypy

pytest: $(STAMP)
	$(BIN)/python -m pytest -n 2 --dist loadfile

## test-fast, test-notebooks, test-book, test-browser, test-grading: one layer of the tests
## (markers set by tests/helpers/layers.py; CONTRIBUTING.md says which to run when)
## (the fast layer on one worker: its 3,000 small tests run faster there than spread over two)
test-fast: $(STAMP)
	$(BIN)/python -m pytest -m fast

$(addprefix test-,$(filter-out fast,$(TEST_LAYERS))): test-%: $(STAMP)
	$(BIN)/python -m pytest -n 2 --dist loadfile -m $*

browser-deps:
	@command -v chromium >/dev/null && command -v chromedriver >/dev/null || { \
	  echo "Installing Debian's chromium and chromium-driver (browser tests, PDF)"; \
	  $(SUDO) apt-get update -qq && \
	  $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver; }

## offline: a copy for offline reading: _build/offline/*-html.zip and a PDF of the whole book
offline: book browser-deps
	$(BIN)/python tools/offline_copy.py --html _build/html --out _build/offline

## learner: the learner's hand-out in _build/learner: README, the book and every lesson notebook
## with every exercise and no answers, the lossmod wheel without the course platform
learner: $(STAMP)
	$(BIN)/python tools/learner_edition.py --out _build/learner

## release: every artefact of this version in dist/<version>/ (HTML zip, instructor and learner
## PDFs, learner hand-out, wheel) with SHA256SUMS
release: book learner browser-deps
	$(BIN)/python tools/release.py --html _build/html --learner _build/learner --out dist

## bench: lossmod's speed against torch, scikit-learn, scipy and the machine's limits (a table)
BENCH := .venv-bench
bench:
	test -x $(BENCH)/bin/python || $(PYTHON) -m venv $(BENCH)
	grep -v '^mpmath==' requirements/constraints.txt > $(BENCH)/constraints.txt
	$(BENCH)/bin/python -m pip install --quiet --disable-pip-version-check \
	    -c $(BENCH)/constraints.txt -e '.[bench]'
	$(BENCH)/bin/python benchmarks/losses.py

## lab: open the learner notebooks (built by `make learner` when missing) in Jupyter Lab, MyST
## rendered as in the book; LAB_DIR=chapters opens the instructor's notebooks, LAB_ARGS passes
## flags to `jupyter lab`
LAB_DIR   ?= _build/learner/notebooks
LAB_ARGS  ?=
LAB_STAMP := $(VENV)/.lab-installed
# Jupyter refuses to start as root without --allow-root (containers often run as root).
LAB_ROOT  := $(shell [ "$$(id -u)" = 0 ] && echo --allow-root)

$(LAB_STAMP): $(STAMP) pyproject.toml requirements/constraints.txt
	$(BIN)/python -m pip install --quiet --disable-pip-version-check \
	    -c requirements/constraints.txt -e '.[lab]'
	touch $@

lab: $(LAB_STAMP)
	@test -d '$(LAB_DIR)' || [ '$(LAB_DIR)' != _build/learner/notebooks ] || $(MAKE) --no-print-directory learner
	@test -d '$(LAB_DIR)' || { echo "No $(LAB_DIR): no such folder;" \
	  "\`make lab LAB_DIR=chapters\` opens the instructor's notebooks."  >&2; exit 1; }
	$(BIN)/jupyter lab $(LAB_ROOT) $(LAB_ARGS) '$(LAB_DIR)'

## execute: run notebooks in place and store their outputs (NB=chapters/x.ipynb; default: all)
execute: $(STAMP)
	$(BIN)/python tools/execute_notebooks.py $(NB)

## constraints: re-pin every package after a change to the dependencies in pyproject.toml
constraints:
	rm -rf $(VENV).pin && $(PYTHON) -m venv $(VENV).pin
	$(VENV).pin/bin/python -m pip install --quiet -e '.[test,lab]'
	{ sed -n '1,2p' requirements/constraints.txt; $(VENV).pin/bin/python -m pip freeze --exclude-editable; } > requirements/constraints.new
	mv requirements/constraints.new requirements/constraints.txt && rm -rf $(VENV).pin

clean:
	rm -rf _build dist .pytest_cache .mypy_cache .ruff_cache .hypothesis
