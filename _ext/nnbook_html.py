"""Small fixes to the HTML pages of the book, found by the browser tests (tests/browser).

sphinx-thebe 0.3.1 registers its inline configuration script (``const THEBE_JS_URL = ...``)
twice under Sphinx 7, and the second copy is a JavaScript error ("Identifier 'THEBE_JS_URL' has
already been declared") on every page.  Here each page keeps one copy of every script.

MyST-NB also embeds the notebook's ipywidgets state (about 100 kB a chapter) for a widget
manager to render.  The book loads none (``nb_ipywidgets_js: {}``: its figures show their
plain-JavaScript view), so that state is dropped from the page.

nnbook-print.css and nnbook-print.js (in static/) lay out printed pages for `make pdf` (the
script scales display equations wider than the text column to fit it); nnbook.css holds the
screen styles (figures on a white card in dark mode).

The kernels that execute the chapters for the book inherit NNBOOK_BOOK_BUILD=1 from this
process: lib.widgets.explore then precomputes every frame of an interactive figure for the
page's kernel-free view (in a live kernel elsewhere it draws frames on demand only).

nnbook-ledger.css styles the marks that checked formulas carry and each chapter's table of checks
(lib/ledger.py).
"""
import os
import re
from pathlib import Path

# What axe-core (tests/browser/test_accessibility.py) finds serious or critical in the theme's and
# docutils' HTML, and the smallest change that fixes it, applied to every written page:
ACCESSIBILITY_FIXES = [
    # label-content-name-mismatch: the search button shows "Search Ctrl+K" but is named "Search";
    # without the aria-label its name is its visible text.
    (re.compile(r'(<button class="btn search-button-field[^"]*"[^>]*?) aria-label="Search"'), r"\1"),
    # label-content-name-mismatch: the colour-mode button is named "Color mode", but its icons'
    # titles ("Light", "Dark", ...), which Font Awesome turns into SVG <title>s, count as its
    # content; the icons are decoration.
    (re.compile(r'<i class="theme-switch ([^"]*)"([^>]*?) title="[^"]*">'), r'<i aria-hidden="true" class="theme-switch \1"\2>'),
    # label-content-name-mismatch: MyST-NB's "Show code cell source" toggles are named "Toggle
    # hidden content"; their visible text is the better name.
    (re.compile(r'<summary aria-label="Toggle hidden content">'), "<summary>"),
    # aria-required-children (critical): docutils gives the bibliography role="list" but its
    # entries the deprecated role doc-biblioentry instead of listitem.
    (re.compile(r'role="doc-biblioentry"'), 'role="listitem"'),
]


def accessible_html(text):
    for pattern, repl in ACCESSIBILITY_FIXES:
        text = pattern.sub(repl, text)
    return text


def _fix_pages(app, exception):
    if exception or app.builder.format != "html":
        return
    for page in Path(app.outdir).rglob("*.html"):
        text = page.read_text(encoding="utf-8")
        fixed = accessible_html(text)
        if fixed != text:
            page.write_text(fixed, encoding="utf-8")

WIDGET_STATE = "application/vnd.jupyter.widget-state+json"


def _tidy_scripts(app, pagename, templatename, context, doctree):
    scripts = context.get("script_files")
    if not scripts:
        return
    no_widget_manager = not app.config["nb_ipywidgets_js"]
    seen, kept = set(), []
    for js in scripts:
        if no_widget_manager and getattr(js, "attributes", {}).get("type") == WIDGET_STATE:
            continue
        # An inline script comes once with filename None and once with "" (same body).
        key = (getattr(js, "filename", js) or "", repr(sorted(getattr(js, "attributes", {}).items())))
        if key not in seen:
            seen.add(key)
            kept.append(js)
    scripts[:] = kept


def _add_static(app, config):
    config.html_static_path.append(str(Path(__file__).parent / "static"))


def _skip(self, node):
    from docutils import nodes

    raise nodes.SkipNode


def _register_hidden_cells(app):
    """Cells tagged hide-input: MyST-NB wraps them in a HideCodeCellNode and
    sphinx-jupyterbook-latex puts a HiddenCellNode in them, and both register visitors for the
    html builder's translator only, so the singlehtml build of `make pdf` fails ("unknown node
    type").  The printed book shows neither the toggle nor the hidden input."""
    from myst_nb.sphinx_ import HideCodeCellNode

    def unwrap(self, node):  # print the cell's output only, without the toggle
        for child in node.children:
            if child.get("nb_element") == "cell_code_output":
                child.walkabout(self)
        from docutils import nodes

        raise nodes.SkipNode

    app.add_node(HideCodeCellNode, override=True, singlehtml=(unwrap, None))
    try:
        from sphinx_jupyterbook_latex.nodes import HiddenCellNode
    except ImportError:
        return
    app.add_node(HiddenCellNode, override=True, singlehtml=(_skip, None))


def _share_html_visitors(app):
    """Let the single-page builder (make pdf) render every node the HTML builder can.

    Sphinx looks up a node's visitors under the builder's name and falls back to its format
    ("html") only when no extension registered any for that name. sphinx-exercise registers
    some for "singlehtml", so sphinx-proof's html-only nodes (definitions, theorems) would have
    none there and the PDF build stops.
    """
    handlers = app.registry.translation_handlers
    single = handlers.setdefault("singlehtml", {})
    for node, pair in handlers.get("html", {}).items():
        single.setdefault(node, pair)


def setup(app):
    _register_hidden_cells(app)
    app.connect("builder-inited", _share_html_visitors)
    os.environ["NNBOOK_BOOK_BUILD"] = "1"  # lib.widgets.BOOK_BUILD_ENV
    app.connect("config-inited", _add_static)
    app.add_css_file("nnbook-print.css", media="print")
    app.add_css_file("nnbook-ledger.css")  # marks of checked formulas and the ledger table
    app.add_css_file("nnbook.css")
    app.add_js_file("nnbook-print.js")
    app.connect("build-finished", _fix_pages)
    # After the themes and extensions have added their scripts for the page.
    app.connect("html-page-context", _tidy_scripts, priority=900)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
