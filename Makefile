# Two commands do all the setup: `make lab` and `make test`.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
PY     := $(BIN)/python

.PHONY: lab test test-browser bench notebooks nav chromium clean assignments autograde feedback

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip

# One stamp per extra; it is remade whenever pyproject.toml changes.
$(VENV)/.installed-lab: pyproject.toml | $(PY)
	$(PY) -m pip install --quiet -e .
	touch $@

$(VENV)/.installed-test: pyproject.toml | $(PY)
	$(PY) -m pip install --quiet -e '.[test]'
	touch $@ $(VENV)/.installed-lab

# JupyterLab refuses to run as root unless told to (containers, Binder-like hosts).
ROOT_FLAG := $(if $(filter 0,$(shell id -u)),--allow-root)

# The learner's copy of the course (workspace/, made once, never overwritten) from the source in notebooks/.
lab: $(VENV)/.installed-lab
	$(PY) tools/assignments.py self-study workspace
	cd workspace && $(abspath $(BIN))/jupyter lab $(ROOT_FLAG) 00-index.ipynb

# nbgrader, in the course folder $(CLASSROOM).  NB=01-why-cache and STUDENT=<id> narrow a command
# to one assignment and/or one student; without them it works on the whole class.
CLASSROOM ?= classroom
NB        ?=
STUDENT   ?=
ONLY      := $(NB) $(if $(STUDENT),--student $(STUDENT)) --course $(CLASSROOM)

# The student release in $(CLASSROOM)/release/, one assignment per notebook.
assignments: $(VENV)/.installed-lab
	$(PY) tools/assignments.py release $(NB) --course $(CLASSROOM)

# Grade $(CLASSROOM)/submitted/<student>/<notebook>/, feedback in $(CLASSROOM)/feedback/.
autograde: $(VENV)/.installed-lab
	$(PY) tools/assignments.py autograde $(ONLY)

# Feedback again from the gradebook, after grading open answers by hand; nothing is re-run.
feedback: $(VENV)/.installed-lab
	$(PY) tools/assignments.py feedback $(ONLY)

# Real traces (cachelab.lab.datasets) are read from the shared data folder beside the repo, not downloaded.
export CACHELAB_DATA ?= $(abspath $(CURDIR)/..)/shared/data

test: $(VENV)/.installed-test chromium
	$(PY) -m pytest

test-browser: $(VENV)/.installed-test chromium
	$(PY) -m pytest -m browser tests

# The browser checks drive Debian's Chromium; install it when it is missing.
chromium:
	@command -v chromium >/dev/null 2>&1 || { \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq chromium >/dev/null; }

bench: $(VENV)/.installed-test
	for b in benchmarks/bench_*.py; do $(PY) $$b || exit 1; done

# Re-run every notebook top to bottom and save it with its outputs.
notebooks: $(VENV)/.installed-test
	$(PY) tools/notebooks.py execute notebooks/[0-9]*.ipynb
	$(PY) tools/notebooks.py nav

nav: $(VENV)/.installed-lab
	$(PY) tools/notebooks.py nav

clean:
	rm -rf $(VENV) build *.egg-info
