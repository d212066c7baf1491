# The two commands of the README: `make book` and `make test`.  Both set up .venv first if needed.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
# Matplotlib keeps its font cache inside the venv, so a fresh machine needs nothing in $HOME.
export MPLCONFIGDIR := $(abspath $(VENV))/mpl

.PHONY: setup book book-without-solutions test test-lib test-notebooks test-browser browser pdf clean

setup: $(STAMP)

$(STAMP): requirements.txt pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet -r requirements.txt   # lib too (its -e . line)
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

# axe-core from npm into tests/browser/vendor (not committed, and not part of the built book):
# the browser tests inject it into every page to check accessibility
# (tests/browser/test_accessibility.py); never from a CDN.
AXE_VERSION := 4.14.1
AXE := tests/browser/vendor/axe.min.js

$(AXE):
	@command -v npm >/dev/null || { echo "the browser tests need npm (Node.js) to install axe-core $(AXE_VERSION)"; exit 1; }
	rm -rf tests/browser/vendor tests/browser/npm-axe
	npm install --silent --no-save --no-audit --no-fund --prefix tests/browser/npm-axe axe-core@$(AXE_VERSION)
	mkdir -p tests/browser/vendor
	cp tests/browser/npm-axe/node_modules/axe-core/axe.min.js tests/browser/npm-axe/node_modules/axe-core/LICENSE tests/browser/vendor/
	rm -rf tests/browser/npm-axe

# Executes the notebooks (Jupyter Book's cache re-runs only those that changed) and builds
# the HTML into _build/html; any Sphinx warning is an error.  Jupyter Book executes the chapters
# one after the other, so jupyter-cache's own parallel executor runs the changed ones first, one
# per core, into the same cache (with the book build's NNBOOK_BOOK_BUILD=1, which makes the
# widgets precompute their frames); the build then reads them from the cache.  A notebook that
# fails there is not cached, so the build runs it again and reports its error.
NOTEBOOKS := $(wildcard chapters/*.ipynb chapters/*/*.ipynb)
JCACHE    := JUPYTERCACHE=_build/.jupyter_cache NNBOOK_BOOK_BUILD=1 OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 \
             MKL_NUM_THREADS=1 $(BIN)/jcache
book: $(STAMP) $(MATHJAX)
	mkdir -p _build/.jupyter_cache
	$(JCACHE) notebook add $(NOTEBOOKS) >/dev/null
	$(JCACHE) project execute --executor local-parallel --timeout 120 || true
	$(BIN)/jupyter-book build . --warningiserror --keep-going

# The book a teacher gives to students: every exercise, no solution (neither the prose ones nor
# the gated ones with their code cells; not in the pages, the search index or the downloadable
# notebooks), into _build/without-solutions/_build/html.  It reuses the executed notebooks of
# `make book` (the same jupyter-cache), so only Sphinx runs again.  See CONTRIBUTING.md, "Exercises".
STUDENT_BUILD := _build/without-solutions
book-without-solutions: $(STAMP) $(MATHJAX)
	mkdir -p $(STUDENT_BUILD)/_build _build/.jupyter_cache
	ln -sfn $(abspath _build/.jupyter_cache) $(STUDENT_BUILD)/_build/.jupyter_cache
	NNBOOK_SOLUTIONS=omit $(BIN)/jupyter-book build . --path-output $(STUDENT_BUILD) --warningiserror --keep-going

# The book build and the printed book (above and below), then lib's unit tests, the assignments,
# and every notebook under chapters/ through nbval, then the browser tests of the built book.
# The notebooks run under nbval once, in tests/test_run_anywhere.py: each copied alone into an empty
# folder, in a fresh virtual environment made from requirements.txt (`make test-notebooks` runs
# them under nbval in .venv instead, where they are).
# Two pytest workers on two cores, each with one BLAS thread so they do not oversubscribe; --dist loadfile
# keeps each test file on one worker: tests/test_run_anywhere.py makes its fresh virtual environment
# once, tests/test_reader_book.py builds its small book once, tests/test_assignments.py grades each
# assignment once.
# The browser tests (tests/browser): the built book's pages, axe-core on every page, the PDF's
# margins and outline, and chapter 1 in a live JupyterLab.
test: $(STAMP) book pdf browser
	OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 MKL_NUM_THREADS=1 $(BIN)/python -m pytest -n 2 --dist loadfile --durations=25 tests
	$(BROWSER_TESTS)

test-lib: $(STAMP)
	$(BIN)/python -m pytest tests

test-notebooks: $(STAMP)
	$(BIN)/python -m pytest -n 2 --dist loadfile chapters

# Debian's Chromium, its driver, a CJK font (for the glossary's Chinese terms) and poppler-utils
# (pdftoppm, for the PDF margin test), installed with apt-get where that can be done (as root,
# as CI runs); never a browser download.  Then axe-core (above) from npm.
CHROMIUM     ?= /usr/bin/chromium
CHROMEDRIVER ?= /usr/bin/chromedriver
browser: $(AXE)
	@if [ ! -x $(CHROMIUM) ] || [ ! -x $(CHROMEDRIVER) ] || ! command -v pdftoppm >/dev/null || ! fc-list :lang=zh 2>/dev/null | grep -q .; then \
	  if command -v apt-get >/dev/null && [ "$$(id -u)" = 0 ]; then \
	    apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium chromium-driver fonts-wqy-microhei poppler-utils; \
	  else echo "browser: no $(CHROMIUM), $(CHROMEDRIVER) or pdftoppm, and no apt-get as root to install them"; fi; \
	fi

# The built book in headless Chromium with the network blocked (tests/browser): every page loads
# with no console error or failed request, math is typeset, the figures' sliders change the
# frame, search works, axe-core finds no serious or critical accessibility violation, figures
# have alt text and stay legible in dark mode; the PDF (make pdf) has nothing in its margins and
# a bookmarked outline; chapter 1 runs in JupyterLab with live widgets and its glued numbers in
# the prose.  Screenshots and axe reports go to _build/browser/.  Skips (except with CI=true)
# where there is no Chromium.
BROWSER_TESTS = NNBOOK_CHROMIUM=$(CHROMIUM) NNBOOK_CHROMEDRIVER=$(CHROMEDRIVER) $(BIN)/python -m pytest tests/browser -rs --durations=10
test-browser: $(STAMP) book pdf browser
	$(BROWSER_TESTS)

# The whole book as one PDF, _build/pdf/book.pdf: Jupyter Book's single-page HTML printed by
# the same headless Chromium, offline, after MathJax has typeset (the virtual-time budget);
# each interactive figure prints at the frame it first shows, display equations wider than the
# column are scaled to fit (_ext/static/nnbook-print.js), and the headings become the PDF's
# bookmarks (--generate-pdf-document-outline).  No LaTeX.
BOOK_ROOT = $(shell sed -n 's/^root: *//p' _toc.yml)
pdf: $(STAMP) $(MATHJAX) browser
	$(BIN)/jupyter-book build . --builder singlehtml --warningiserror --keep-going
	mkdir -p _build/pdf
	profile=$$(mktemp -d) && $(CHROMIUM) --headless=new --no-sandbox --disable-gpu --disable-quic \
	  --no-first-run --disable-background-networking --disable-component-update --disable-sync \
	  --user-data-dir=$$profile "--host-resolver-rules=MAP * ~NOTFOUND" --proxy-server=http://127.0.0.1:9 \
	  --run-all-compositor-stages-before-draw --virtual-time-budget=60000 --no-pdf-header-footer \
	  --generate-pdf-document-outline \
	  --print-to-pdf=_build/pdf/book.pdf file://$(abspath _build/singlehtml/$(BOOK_ROOT).html) 2>/dev/null; \
	  status=$$?; rm -rf $$profile; exit $$status
	@test -s _build/pdf/book.pdf && echo "PDF: _build/pdf/book.pdf"

# The student version of every assignment under assignments/source/ (solutions and rubrics
# removed) into assignments/release/, with nbgrader; README's teacher's guide has the next steps.
# nbgrader runs the venv's alembic, so the venv's bin/ goes first on PATH.
.PHONY: assignments
assignments: $(STAMP)
	cd assignments && for a in source/*/; do \
	  PATH="$(abspath $(BIN)):$$PATH" nbgrader generate_assignment "$$(basename $$a)" --force || exit 1; \
	done

# The teacher's guide's other steps (README), run from the repository root like the target above
# (or `make -C .. TARGET` from assignments/); A names the assignment: make assignments-grade A=01_perceptron.
# assignments-collect: the notebooks in FROM (STUDENT_ID.ipynb each, or STUDENT_ID/A.ipynb) into
#   submitted/, with the timestamp.txt that lateness and release_feedback need; TIME="2026-12-01 17:00:00"
#   (UTC) stamps them all, else each file's modification time.
# assignments-grade: nbgrader autograde (the grade comes from assignments/grader, in fresh processes),
#   then the grading report: failed gradings, tampering, answers to grade by hand.
NBGRADER_ENV = cd assignments && export PATH="$(abspath $(BIN)):$$PATH" &&
.PHONY: assignments-collect assignments-grade assignments-report
assignments-collect: $(STAMP)
	@test -n "$(A)" -a -n "$(FROM)" || { echo "usage: make assignments-collect A=ASSIGNMENT FROM=FOLDER [TIME='YYYY-MM-DD HH:MM:SS']"; exit 1; }
	$(NBGRADER_ENV) python -m grader.collect $(A) "$(abspath $(FROM))" $(if $(TIME),--time "$(TIME)")

assignments-grade: $(STAMP)
	@test -n "$(A)" || { echo "usage: make assignments-grade A=ASSIGNMENT"; exit 1; }
	$(NBGRADER_ENV) { nbgrader autograde $(A) --force; status=$$?; python -m grader.report $(A) && exit $$status; }

assignments-report: $(STAMP)
	@test -n "$(A)" || { echo "usage: make assignments-report A=ASSIGNMENT"; exit 1; }
	$(NBGRADER_ENV) python -m grader.report $(A)

clean:
	rm -rf _build

# lib against PyTorch's CPU kernels: convolution, GCN layer, LSTM, multi-head attention (benchmarks/; the
# README's Benchmark section), one thread each by default (--threads 2 for the secondary table).
# PyTorch lives only in benchmarks/.venv, built from benchmarks/requirements.txt (one pinned CPU
# wheel); the book's .venv never sees it.
BENCH_VENV := benchmarks/.venv
.PHONY: bench
bench: $(BENCH_VENV)/.installed
	$(BENCH_VENV)/bin/python benchmarks/bench_conv.py
	$(BENCH_VENV)/bin/python benchmarks/bench_gcn.py
	$(BENCH_VENV)/bin/python benchmarks/bench_lstm.py
	$(BENCH_VENV)/bin/python benchmarks/bench_attention.py

$(BENCH_VENV)/.installed: benchmarks/requirements.txt pyproject.toml
	test -x $(BENCH_VENV)/bin/python || $(PYTHON) -m venv $(BENCH_VENV)
	$(BENCH_VENV)/bin/python -m pip install --quiet -r benchmarks/requirements.txt
	$(BENCH_VENV)/bin/python -m pip install --quiet --no-build-isolation --no-deps -e .
	touch $@
