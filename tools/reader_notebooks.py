#!/usr/bin/env python3
"""Make the chapters read the same in Jupyter as in the book, and run anywhere.

    .venv/bin/python tools/reader_notebooks.py chapters/*.ipynb          # convert in place
    .venv/bin/python tools/reader_notebooks.py --check chapters/*.ipynb  # list what is left

Mechanical and idempotent (a second run changes nothing):

1. Markdown ``{glue:text}`name:spec``` and ``{glue}`name``` become
   ``{eval}`glued("name", "spec")```: MyST-NB evaluates the role while it builds the book
   (inline execution) and jupyterlab-myst evaluates it in JupyterLab, so the number shows in
   both.  ``from myst_nb import glue`` becomes ``from lib.glue import glue, glued`` (lib.glue
   works with or without MyST-NB).  Other glue roles and directives (``{glue:figure}``,
   ``{glue:md}``, ...) have no Jupyter rendering: they are reported, not converted.
2. The first code cell becomes the reader set-up cell: where ``lib`` is missing (Colab, a
   downloaded notebook), it installs the book's library from the repository that
   ``_config.yml`` names (``repository.url`` and ``branch``); elsewhere it does nothing.

``--check`` also reports a number quoted before the cell that glues it (the book build and
Jupyter's Run All both evaluate prose in reading order, so such a role would fail).
"""
import argparse
import re
import sys
from pathlib import Path

import nbformat
import yaml

ROOT = Path(__file__).resolve().parents[1]
SETUP_ID = "reader-setup"
GLUE_ROLE = re.compile(r"\{glue(?::text)?\}`([A-Za-z_][A-Za-z0-9_]*)(?::([^`]*))?`")
OTHER_GLUE = re.compile(r"\{glue:[a-z]+\}`[^`]*`|[`:]{3,}\s*\{glue(?::[a-z]+)?\}")
EVAL_GLUED = re.compile(r"\{eval\}`glued\(\"([A-Za-z_][A-Za-z0-9_]*)\"")
STATIC_GLUE = re.compile(r"\bglue\(\s*[\"']([A-Za-z_][A-Za-z0-9_]*)[\"']")
MYST_NB_IMPORT = re.compile(r"^from myst_nb import glue\s*$", re.M)
LIB_IMPORT = "from lib.glue import glue, glued"


def repository(config=ROOT / "_config.yml"):
    """(url, branch) of the book's repository: the one place they are written."""
    repo = yaml.safe_load(Path(config).read_text())["repository"]
    return repo["url"].rstrip("/"), repo.get("branch", "main")


def setup_source(url, branch):
    return (
        "# Set-up for Colab or a downloaded copy of this notebook: where the book's library `lib`\n"
        "# is missing, install it (and what it needs) from the book's repository; where it is\n"
        "# installed, as in the book's own environment, do nothing.\n"
        "# (Written by tools/reader_notebooks.py from _config.yml; edit it there.)\n"
        "import importlib\n"
        "import importlib.util\n"
        "import subprocess\n"
        "import sys\n"
        "\n"
        'if importlib.util.find_spec("lib") is None:\n'
        "    subprocess.run(\n"
        f'        [sys.executable, "-m", "pip", "install", "--quiet", "git+{url}@{branch}"],\n'
        "        check=True,\n"
        "    )\n"
        "    importlib.invalidate_caches()"
    )


def glue_to_eval(match):
    name, spec = match.group(1), match.group(2)
    return f'{{eval}}`glued("{name}", "{spec}")`' if spec else f'{{eval}}`glued("{name}")`'


def convert(nb, url, branch):
    """Convert nb in place; return True if anything changed."""
    changed = False
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            new = GLUE_ROLE.sub(glue_to_eval, cell.source)
        elif cell.cell_type == "code" and cell.get("id") != SETUP_ID:
            new = MYST_NB_IMPORT.sub(LIB_IMPORT, cell.source)
        else:
            continue
        if new != cell.source:
            cell.source, changed = new, True
    source = setup_source(url, branch)
    setup = [c for c in nb.cells if c.get("id") == SETUP_ID]
    if setup:
        cell = setup[0]
        if cell.source != source:
            cell.source, changed = source, True
    else:
        cell = nbformat.v4.new_code_cell(source, id=SETUP_ID)
        cell.metadata["tags"] = ["remove-cell"]  # the book needs no set-up: its pages do not show it
        first_code = next((i for i, c in enumerate(nb.cells) if c.cell_type == "code"), len(nb.cells))
        nb.cells.insert(first_code, cell)
        changed = True
    return changed


def problems(nb, url, branch):
    """What keeps a notebook from reading the same in Jupyter as in the book (list of str)."""
    found = []
    code = [i for i, c in enumerate(nb.cells) if c.cell_type == "code"]
    if not code or nb.cells[code[0]].get("id") != SETUP_ID:
        found.append("the first code cell is not the reader set-up cell (run tools/reader_notebooks.py)")
    elif nb.cells[code[0]].source != setup_source(url, branch):
        found.append("the reader set-up cell disagrees with _config.yml's repository (run tools/reader_notebooks.py)")
    glued_at = {}
    for i, cell in enumerate(nb.cells):
        if cell.cell_type == "code":
            for name in STATIC_GLUE.findall(cell.source):
                glued_at.setdefault(name, i)
            if MYST_NB_IMPORT.search(cell.source):
                found.append(f"cell {i}: imports glue from myst_nb (lib.glue works without MyST-NB)")
    for i, cell in enumerate(nb.cells):
        if cell.cell_type != "markdown":
            continue
        for m in GLUE_ROLE.finditer(cell.source):
            found.append(f"cell {i}: unconverted role {m.group(0)}")
        for m in OTHER_GLUE.finditer(cell.source):
            if not GLUE_ROLE.fullmatch(m.group(0)):
                found.append(f"cell {i}: {m.group(0)} has no Jupyter rendering; use glue + {{eval}}`glued(...)`")
        for name in EVAL_GLUED.findall(cell.source):
            if glued_at.get(name, -1) > i:
                found.append(f"cell {i}: quotes {name!r}, which cell {glued_at[name]} glues only later")
    return found


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("notebooks", nargs="+", type=Path)
    parser.add_argument("--check", action="store_true", help="change nothing; exit 1 if a notebook needs converting")
    args = parser.parse_args(argv)
    url, branch = repository()
    status = 0
    for path in args.notebooks:
        nb = nbformat.read(path, as_version=4)
        if not args.check and convert(nb, url, branch):
            nbformat.write(nb, path)
            print(f"converted {path}")
        for p in problems(nb, url, branch):
            print(f"{path}: {p}")
            status = 1
    return status


if __name__ == "__main__":
    sys.exit(main())
