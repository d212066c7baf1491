# The two commands of the README: `make book` and `make test`.  Both set up .venv first if needed.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
# Matplotlib keeps its font cache inside the venv, so a fresh machine needs nothing in $HOME.
export MPLCONFIGDIR := $(abspath $(VENV))/mpl

.PHONY: setup book test test-lib test-notebooks test-browser browser pdf clean

setup: $(STAMP)

$(STAMP): requirements.txt pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet -r requirements.txt
	$(BIN)/python -m pip install --quiet --no-build-isolation --no-deps -e .
	touch $@

# MathJax 3 from npm into _vendor/mathjax (not committed): the pages load it from the book's
# own _static/mathjax (mathjax_path in _config.yml), never from a CDN.
MATHJAX_VERSION := 3.2.2
MATHJAX := _vendor/mathjax/tex-chtml.js

$(MATHJAX):
	@command -v npm >/dev/null || { echo "make book needs npm (Node.js) to install MathJax $(MATHJAX_VERSION)"; exit 1; }
	rm -rf _vendor/mathjax _vendor/npm
	npm install --silent --no-save --no-audit --no-fund --prefix _vendor/npm mathjax@$(MATHJAX_VERSION)
	cp -r _vendor/npm/node_modules/mathjax/es5 _vendor/mathjax
	rm -rf _vendor/npm

# Executes the notebooks (Jupyter Book's cache re-runs only those that changed) and builds
# the HTML into _build/html; any Sphinx warning is an error.
book: $(STAMP) $(MATHJAX)
	$(BIN)/jupyter-book build . --warningiserror --keep-going

# The book build (above), then lib's unit tests and every notebook under chapters/ through nbval,
# then the browser tests of the built book.
# Two pytest workers on two cores, each with one BLAS thread so they do not oversubscribe; --dist loadfile
# keeps all cells of a notebook (nbval makes each cell a test) on one worker and so in one kernel.
test: $(STAMP) book browser
	OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 MKL_NUM_THREADS=1 $(BIN)/python -m pytest -n 2 --dist loadfile tests chapters
	$(BROWSER_TESTS)

test-lib: $(STAMP)
	$(BIN)/python -m pytest tests

test-notebooks: $(STAMP)
	$(BIN)/python -m pytest -n 2 --dist loadfile chapters

# Debian's Chromium, its driver and a CJK font (for the glossary's Chinese terms), installed
# with apt-get where that can be done (as root, as CI runs); never a browser download.
CHROMIUM     ?= /usr/bin/chromium
CHROMEDRIVER ?= /usr/bin/chromedriver
browser:
	@if [ ! -x $(CHROMIUM) ] || [ ! -x $(CHROMEDRIVER) ] || ! fc-list :lang=zh 2>/dev/null | grep -q .; then \
	  if command -v apt-get >/dev/null && [ "$$(id -u)" = 0 ]; then \
	    apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium chromium-driver fonts-wqy-microhei; \
	  else echo "browser: no $(CHROMIUM) or $(CHROMEDRIVER), and no apt-get as root to install them"; fi; \
	fi

# The built book in headless Chromium with the network blocked (tests/browser): every page loads
# with no console error or failed request, math is typeset, the figures' sliders change the
# frame, search works; a screenshot goes to _build/browser/.  Skips (except with CI=true)
# where there is no Chromium.
BROWSER_TESTS = NNBOOK_CHROMIUM=$(CHROMIUM) NNBOOK_CHROMEDRIVER=$(CHROMEDRIVER) $(BIN)/python -m pytest tests/browser -rs
test-browser: $(STAMP) book browser
	$(BROWSER_TESTS)

# The whole book as one PDF, _build/pdf/book.pdf: Jupyter Book's single-page HTML printed by
# the same headless Chromium, offline, after MathJax has typeset (the virtual-time budget);
# each interactive figure prints at the frame it first shows.  No LaTeX.
BOOK_ROOT = $(shell sed -n 's/^root: *//p' _toc.yml)
pdf: $(STAMP) $(MATHJAX) browser
	$(BIN)/jupyter-book build . --builder singlehtml --warningiserror --keep-going
	mkdir -p _build/pdf
	profile=$$(mktemp -d) && $(CHROMIUM) --headless=new --no-sandbox --disable-gpu --disable-quic \
	  --no-first-run --disable-background-networking --disable-component-update --disable-sync \
	  --user-data-dir=$$profile "--host-resolver-rules=MAP * ~NOTFOUND" --proxy-server=http://127.0.0.1:9 \
	  --run-all-compositor-stages-before-draw --virtual-time-budget=60000 --no-pdf-header-footer \
	  --print-to-pdf=_build/pdf/book.pdf file://$(abspath _build/singlehtml/$(BOOK_ROOT).html) 2>/dev/null; \
	  status=$$?; rm -rf $$profile; exit $$status
	@test -s _build/pdf/book.pdf && echo "PDF: _build/pdf/book.pdf"

# The student version of every assignment under assignments/source/ (solutions and hidden tests
# removed) into assignments/release/, with nbgrader; README's teacher's guide has the next steps.
# nbgrader runs the venv's alembic, so the venv's bin/ goes first on PATH.
.PHONY: assignments
assignments: $(STAMP)
	cd assignments && for a in source/*/; do \
	  PATH="$(abspath $(BIN)):$$PATH" nbgrader generate_assignment "$$(basename $$a)" --force || exit 1; \
	done

clean:
	rm -rf _build

# lib.conv against PyTorch's CPU kernels (benchmarks/bench_conv.py; the README's Benchmark section).
# PyTorch lives only in benchmarks/.venv, built from benchmarks/requirements.txt (one pinned CPU
# wheel); the book's .venv never sees it.
BENCH_VENV := benchmarks/.venv
.PHONY: bench
bench: $(BENCH_VENV)/.installed
	$(BENCH_VENV)/bin/python benchmarks/bench_conv.py
	$(BENCH_VENV)/bin/python benchmarks/bench_gcn.py

$(BENCH_VENV)/.installed: benchmarks/requirements.txt pyproject.toml
	test -x $(BENCH_VENV)/bin/python || $(PYTHON) -m venv $(BENCH_VENV)
	$(BENCH_VENV)/bin/python -m pip install --quiet -r benchmarks/requirements.txt
	$(BENCH_VENV)/bin/python -m pip install --quiet --no-build-isolation --no-deps -e .
	touch $@
