"""The book without its exercises' solutions: the build a teacher gives to students.

``make book-without-solutions`` sets NNBOOK_SOLUTIONS=omit (or set ``nnbook_solutions: omit``
under ``sphinx.config``).  Every solution is then left out: the prose ``{solution}`` blocks
and the gated ones (``{solution-start}`` ... ``{solution-end}``, with the code cells between),
from the pages, the search index and the downloadable notebooks under ``_sources/``.

sphinx-exercise's own ``hide_solutions: true`` drops only the ``solution-start`` marker and
then fails on the ``solution-end`` node left behind ("unknown node type: solution_end_node"),
and it would leave the gated code cells on the page.  Here ``hide_solutions: true`` is read
as ``nnbook_solutions: omit`` instead, and the solutions are removed after sphinx-exercise has
merged each gated solution into one node.
"""
import json
import os
from pathlib import Path

from sphinx.transforms import SphinxTransform
from sphinx.util import logging
from sphinx_exercise.nodes import solution_end_node, solution_node, solution_start_node
from sphinx_exercise.transforms import MergeGatedSolutions

LOGGER = logging.getLogger(__name__)
MODES = ("show", "omit")


def omitting(config):
    return config.nnbook_solutions == "omit"


def _read_mode(app, config):
    env = os.environ.get("NNBOOK_SOLUTIONS")
    if env:
        config.nnbook_solutions = env
    if config.hide_solutions:
        config.nnbook_solutions = "omit"
        config.hide_solutions = False  # sphinx-exercise's own way crashes on gated solutions
    if config.nnbook_solutions not in MODES:
        raise ValueError(f"nnbook_solutions (or NNBOOK_SOLUTIONS) must be one of {MODES}, got {config.nnbook_solutions!r}")


class OmitSolutions(SphinxTransform):
    """Remove every solution (merged gated ones included) from the doctree."""

    default_priority = MergeGatedSolutions.default_priority + 1

    def apply(self):
        if not omitting(self.config):
            return
        for cls in (solution_node, solution_start_node, solution_end_node):
            for node in list(self.document.findall(cls)):
                node.parent.remove(node)


def solution_cells(cells):
    """Indices of the cells of a notebook that belong to a solution (markers included)."""
    drop, inside = set(), False
    for i, cell in enumerate(cells):
        text = "".join(cell.get("source", "")) if cell.get("cell_type") == "markdown" else ""
        if "{solution-start}" in text:
            inside = True
        if inside or "{solution}" in text:
            drop.add(i)
        if "{solution-end}" in text:
            inside = False
    return drop


def _strip_sources(app, exception):
    """The notebooks a reader downloads from the page (_sources/) lose their solutions too."""
    if exception or not omitting(app.config) or app.builder.format != "html":
        return
    for path in Path(app.outdir, "_sources").rglob("*.ipynb"):
        nb = json.loads(path.read_text(encoding="utf-8"))
        drop = solution_cells(nb.get("cells", []))
        if drop:
            nb["cells"] = [c for i, c in enumerate(nb["cells"]) if i not in drop]
            path.write_text(json.dumps(nb, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")


def setup(app):
    app.add_config_value("nnbook_solutions", "show", "env")
    app.connect("config-inited", _read_mode)
    app.add_transform(OmitSolutions)
    app.connect("build-finished", _strip_sources)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
