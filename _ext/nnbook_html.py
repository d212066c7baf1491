"""Small fixes to the HTML pages of the book, found by the browser tests (tests/browser).

sphinx-thebe 0.3.1 registers its inline configuration script (``const THEBE_JS_URL = ...``)
twice under Sphinx 7, and the second copy is a JavaScript error ("Identifier 'THEBE_JS_URL' has
already been declared") on every page.  Here each page keeps one copy of every script.

MyST-NB also embeds the notebook's ipywidgets state (about 100 kB a chapter) for a widget
manager to render.  The book loads none (``nb_ipywidgets_js: {}``: its figures show their
plain-JavaScript view), so that state is dropped from the page.

nnbook-print.css (in static/) lays out printed pages for `make pdf`; nnbook-ledger.css styles the
marks that checked formulas carry and each chapter's table of checks (lib/ledger.py).
"""
from pathlib import Path

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


def setup(app):
    app.connect("config-inited", _add_static)
    app.add_css_file("nnbook-print.css", media="print")
    app.add_css_file("nnbook-ledger.css")  # marks of checked formulas and the ledger table
    # After the themes and extensions have added their scripts for the page.
    app.connect("html-page-context", _tidy_scripts, priority=900)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
