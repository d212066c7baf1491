"""The book's reader mechanisms, on a small book built with the real _config.yml and _ext/:
quoted numbers ({eval}`glued(...)`) and exercises whose solutions are hidden behind a toggle,
or left out entirely by `make book-without-solutions`.

Each build takes some 15-30 s (one notebook executes), so both builds run once per session.
"""
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from bs4 import BeautifulSoup

ROOT = Path(__file__).resolve().parents[1]
JB = Path(sys.executable).with_name("jupyter-book")

PROSE_SOLUTION = "The loss falls because the step is against the gradient (prose-solution-marker)."
GATED_PROSE = "Check it symbolically (gated-solution-marker):"
GATED_CODE = "gated_code_marker = sp.diff(x**3, x)"


def chapter():
    md, code = nbformat.v4.new_markdown_cell, nbformat.v4.new_code_cell
    cells = [
        md("# A chapter\n\nSome prose."),
        code("import sympy as sp\nfrom lib.glue import glue, glued\n\nx = sp.symbols('x')"),
        md('Forward quote: the mean is {eval}`glued("mean", ".3f")` and the count is {eval}`glued("count")`.'),
        code('glue("mean", 2 / 3, display=False)\nglue("count", 1797, display=False)\nglue("pair", "3 vs 8", display=False)'),
        md('The share is {eval}`glued("mean", ".1%")`, the hardest pair {eval}`glued("pair")`.'),
        md(":::{exercise}\n:label: ex-test-descent\nWhy does the loss fall?\n:::"),
        md(f":::{{solution}} ex-test-descent\n:class: dropdown\n{PROSE_SOLUTION}\n:::"),
        md(":::{exercise}\n:label: ex-test-cube\nDifferentiate $x^3$.\n:::"),
        md("```{solution-start} ex-test-cube\n:class: dropdown\n```"),
        md(GATED_PROSE),
        code(f"{GATED_CODE}\nassert gated_code_marker == 3 * x**2"),
        md("```{solution-end}\n```"),
        md("After the exercises (after-marker)."),
        figure_cell(),
    ]
    nb = nbformat.v4.new_notebook(cells=cells)
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    return nb


FIGURE_ALT = "a straight line rising from the origin (alt-marker)"


def figure_cell():
    """A figure whose alt text comes from the cell's metadata, as the chapters give it."""
    cell = nbformat.v4.new_code_cell(
        "import matplotlib.pyplot as plt\nfig, ax = plt.subplots(figsize=(2, 2))\nax.plot([0, 1], [0, 1])\nplt.show()")
    cell.metadata["mystnb"] = {"image": {"alt": FIGURE_ALT}}
    return cell


@pytest.fixture(scope="session")
def small_book(tmp_path_factory):
    src = tmp_path_factory.mktemp("reader-book")
    for name in ("_config.yml", "intro.md", "references.md", "references.bib", "favicon.svg"):
        shutil.copy(ROOT / name, src / name)
    shutil.copytree(ROOT / "_ext", src / "_ext")
    (src / "_vendor").mkdir()  # no MathJax needed here: html_static_path must exist
    (src / "chapters").mkdir()
    nbformat.write(chapter(), src / "chapters" / "test_chapter.ipynb")
    (src / "_toc.yml").write_text("format: jb-book\nroot: intro\nchapters:\n  - file: chapters/test_chapter\n  - file: references\n")
    return src


def build(src, out, solutions):
    env = dict(os.environ, NNBOOK_SOLUTIONS=solutions)
    run = subprocess.run(
        [str(JB), "build", str(src), "--path-output", str(out), "--warningiserror", "--keep-going"],
        env=env, capture_output=True, text=True, timeout=600,
    )
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-4000:]
    return out / "_build" / "html"


@pytest.fixture(scope="session")
def with_solutions(small_book, tmp_path_factory):
    return build(small_book, tmp_path_factory.mktemp("with"), "show")


@pytest.fixture(scope="session")
def without_solutions(small_book, tmp_path_factory):
    return build(small_book, tmp_path_factory.mktemp("without"), "omit")


def page(html_dir):
    return BeautifulSoup((html_dir / "chapters" / "test_chapter.html").read_text(encoding="utf-8"), "html.parser")


def test_glued_numbers_are_formatted_like_jupyter(with_solutions):
    from lib.glue import format_value

    text = re.sub(r"\s+([.,])", r"\1", " ".join(page(with_solutions).select_one("main").get_text(" ").split()))
    # lib.glue formats what JupyterLab shows; the book must show the same strings
    assert f"the mean is {format_value(2 / 3, '.3f')} and the count is 1797." in text
    assert format_value(2 / 3, ".3f") == "0.667" and format_value(2 / 3, ".1%") == "66.7%"
    assert "The share is 66.7%, the hardest pair 3 vs 8." in text
    assert "{eval}" not in text and "glued(" not in text


def test_solutions_are_on_the_page_behind_a_toggle(with_solutions):
    soup = page(with_solutions)
    solutions = soup.select("div.solution")
    assert len(solutions) == 2, [s.get("class") for s in solutions]
    assert all("dropdown" in s.get("class") for s in solutions), "a solution is not hidden behind a toggle"
    text = soup.get_text(" ")
    for marker in (PROSE_SOLUTION, GATED_PROSE, "gated_code_marker"):
        assert marker in text


def test_the_book_without_solutions_has_none(without_solutions):
    soup = page(without_solutions)
    text = soup.get_text(" ")
    assert "Why does the loss fall?" in text and "after-marker" in text  # the exercises stay
    assert not soup.select("div.solution")
    for marker in ("prose-solution-marker", "gated-solution-marker", "gated_code_marker"):
        for path in without_solutions.rglob("*"):
            if path.is_file() and path.suffix in (".html", ".js", ".ipynb", ".txt"):
                assert marker not in path.read_text(encoding="utf-8", errors="replace"), f"{marker} in {path}"
    nb = json.loads((without_solutions / "_sources" / "chapters" / "test_chapter.ipynb").read_text())
    assert any("after-marker" in "".join(c["source"]) for c in nb["cells"])


def test_hide_solutions_true_is_read_as_omit(monkeypatch):
    """sphinx-exercise's own switch, which crashes on gated solutions by itself, works too."""
    from _ext_loader import load

    ext = load("nnbook_solutions")

    class Config:
        nnbook_solutions, hide_solutions = "show", True

    cfg = Config()
    monkeypatch.delenv("NNBOOK_SOLUTIONS", raising=False)
    ext._read_mode(None, cfg)
    assert cfg.nnbook_solutions == "omit" and cfg.hide_solutions is False
    cfg.nnbook_solutions = "sometimes"
    cfg.hide_solutions = False
    with pytest.raises(ValueError, match="must be one of"):
        ext._read_mode(None, cfg)


def test_solution_cells_of_a_notebook():
    from _ext_loader import load

    cells = json.loads(nbformat.writes(chapter()))["cells"]
    dropped = load("nnbook_solutions").solution_cells(cells)
    assert dropped == {6, 8, 9, 10, 11}


def test_figure_alt_text_comes_from_cell_metadata(with_solutions):
    """myst-nb 1.4 reads "mystnb": {"image": {"alt": ...}} from a code cell's metadata."""
    alts = [img.get("alt") for img in page(with_solutions).select("main .cell_output img")]
    assert FIGURE_ALT in alts, alts


def test_the_book_reads_only_plain_glued_calls():
    from _ext_loader import load

    parse = load("nnbook_eval").parse_glued
    assert parse('glued("acc", ".1%")') == ("acc", ".1%")
    assert parse(' glued("n") ') == ("n", "")
    for other in ('glued(name)', 'glued("a", spec=".1f")', 'f"{x:.2f}"', 'glued("a", ".1f", 3)', 'glued(', "x"):
        assert parse(other) is None, other
