# The two commands of the README: `make book` and `make test`.  Both set up .venv first if needed.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
# Matplotlib keeps its font cache inside the venv, so a fresh machine needs nothing in $HOME.
export MPLCONFIGDIR := $(abspath $(VENV))/mpl

.PHONY: setup book test test-lib test-notebooks clean

setup: $(STAMP)

$(STAMP): requirements.txt pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet -r requirements.txt
	$(BIN)/python -m pip install --quiet --no-build-isolation --no-deps -e .
	touch $@

# Executes the notebooks (Jupyter Book's cache re-runs only those that changed) and builds
# the HTML into _build/html; any Sphinx warning is an error.
book: $(STAMP)
	$(BIN)/jupyter-book build . --warningiserror --keep-going

# lib's unit tests, every notebook under chapters/ through nbval, then the book build.
test: $(STAMP) book
	$(BIN)/python -m pytest -n 2 tests chapters

test-lib: $(STAMP)
	$(BIN)/python -m pytest tests

test-notebooks: $(STAMP)
	$(BIN)/python -m pytest -n 2 chapters

clean:
	rm -rf _build
