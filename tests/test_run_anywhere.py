"""A chapter runs wherever a reader takes it: downloaded into an empty folder, with nothing but
`pip install -r requirements.txt` (made from the repository's root) in a fresh virtual
environment; on Binder (binder/); in Colab (each chapter's set-up cell, tools/reader_notebooks.py);
and without MyST-NB (lib.glue).

The fresh environment takes a minute or two to install (from pip's local wheel cache), so it is
made once per session.  Each chapter, copied alone into an empty folder, then runs through nbval
in that environment: this is the run of every notebook under nbval that `make test` makes (it does
not run them again in the project's own environment; `make test-notebooks` does that, for authors).
"""
import os
import shutil
import subprocess
import sys
import venv
from pathlib import Path

import nbformat
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))
import reader_notebooks  # noqa: E402

# A chapter is chapters/NN_slug.ipynb, or a folder chapters/NN_slug/ of two or three notebooks.
CHAPTERS = sorted(p for p in (ROOT / "chapters").rglob("*.ipynb") if ".ipynb_checkpoints" not in p.parts)


@pytest.fixture(scope="session")
def fresh_venv(tmp_path_factory):
    where = tmp_path_factory.mktemp("fresh-venv") / "venv"
    venv.EnvBuilder(with_pip=True).create(where)
    py = where / "bin" / "python"
    run = subprocess.run(
        # --no-compile: the same files, without byte-compiling every module up front (saves about a
        # third of the time); Python compiles what the chapters import when they import it.
        [str(py), "-m", "pip", "install", "--quiet", "--no-compile", "-r", "requirements.txt"],
        cwd=ROOT, capture_output=True, text=True, timeout=900,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    return py


def downloaded_env(py, folder):
    """The environment of a reader's shell: the fresh venv first on PATH, a home of its own, and
    nothing inherited from the project's Python or Jupyter set-up."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("JUPYTER", "PYTHON", "VIRTUAL_ENV"))}
    env.update(
        HOME=str(folder), MPLCONFIGDIR=str(folder / ".mpl"), JUPYTER_DATA_DIR=str(folder / ".jupyter"),
        OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", PATH=f"{py.parent}:{env.get('PATH', '')}",
    )
    return env


def test_requirements_install_lib_in_a_fresh_venv(fresh_venv, tmp_path):
    check = subprocess.run([str(fresh_venv), "-c", "import lib.glue, lib.widgets; print(lib.__file__)"],
                           cwd=tmp_path, capture_output=True, text=True)
    assert check.returncode == 0, check.stderr
    assert Path(check.stdout.strip()).is_relative_to(ROOT / "lib"), check.stdout  # `-e .`: the repository's lib


def test_every_chapter_is_found():
    assert CHAPTERS, "no chapter to run"
    assert all(c.relative_to(ROOT / "chapters").parts[0][:2].isdigit() for c in CHAPTERS), CHAPTERS


@pytest.mark.parametrize("chapter", CHAPTERS, ids=lambda c: c.stem)
def test_chapter_runs_under_nbval_downloaded_into_an_empty_folder(fresh_venv, chapter, tmp_path):
    """nbval (every cell runs without error, in order, in one kernel) on a copy of the chapter alone,
    in the fresh environment: no file of the repository beside it, no MyST-NB build around it."""
    folder = tmp_path / "download"
    folder.mkdir()
    shutil.copy(chapter, folder / chapter.name)
    run = subprocess.run(
        [str(fresh_venv), "-m", "pytest", "-q", "-p", "no:cacheprovider", "--nbval-lax", "--nbval-current-env",
         "--nbval-cell-timeout=300", chapter.name],
        cwd=folder, env=downloaded_env(fresh_venv, folder), capture_output=True, text=True, timeout=900,
    )
    assert run.returncode == 0, run.stdout[-5000:] + run.stderr[-2000:]
    assert " passed" in run.stdout and " failed" not in run.stdout, run.stdout[-2000:]


def test_requirements_install_lib_and_keep_the_pins():
    lines = [ln.strip() for ln in (ROOT / "requirements.txt").read_text().splitlines()]
    assert "-e ." in lines, "requirements.txt must install lib itself (an `-e .` line)"
    pins = [ln for ln in lines if ln and not ln.startswith(("#", "-"))]
    assert pins and all("==" in ln for ln in pins), [ln for ln in pins if "==" not in ln]


def test_binder_installs_the_requirements_and_so_lib():
    post = ROOT / "binder" / "postBuild"
    assert os.access(post, os.X_OK), "binder/postBuild must be executable"
    commands = [ln for ln in post.read_text().splitlines() if ln and not ln.startswith("#")]
    assert any("pip install" in ln and "-r requirements.txt" in ln for ln in commands), commands
    runtime = (ROOT / "binder" / "runtime.txt").read_text().strip()
    assert runtime == f"python-{sys.version_info.major}.{sys.version_info.minor}", runtime


# Numbers that the prose of a chapter quotes before the cell that glues them: the built book
# shows them (it reads glue data after execution), Jupyter's Run All cannot (it renders the prose
# in reading order).  Known at the time of writing, for the chapters' authors to fix (glue the
# value earlier); any other is a failure.
KNOWN_FORWARD_QUOTES = {  # numbers a chapter quotes in the cell before the one that glues them
    ("01_perceptron", "aug_d"),
    ("01_perceptron", "cert_tol"),
    ("01_perceptron", "cover_p"),
    ("01_perceptron", "crit_n"),
    ("01_perceptron", "flip_share"),
    ("01_perceptron", "n_sets"),
    ("01_perceptron", "naive_zero_at"),
    ("01_perceptron", "pair_n"),
    ("01_perceptron", "pocket_seeds"),
    ("01_perceptron", "sep_mistakes"),
    ("01_perceptron", "sep_n"),
    ("01_perceptron", "sig_tail_value"),
    ("01_perceptron", "sig_zmax"),
    ("01_perceptron", "tanh_zmax"),
    ("01_perceptron", "xor_epochs"),
    ("01_perceptron", "xor_seeds"),
    ("02_backprop", "bn_features"),
    ("02_backprop", "depth"),
    ("02_backprop", "lr_adam"),
    ("02_backprop", "lr_sgd"),
    ("02_backprop", "moons_epochs"),
    ("02_backprop", "n_fd_points"),
    ("02_backprop", "noise_big"),
    ("02_backprop", "noise_small"),
    ("02_backprop", "width"),
    ("07_gnn", "n_random"),
    ("07_gnn", "n_rest"),
    ("08_gan", "lr_ratio"),
    ("08_gan", "ring_s"),
    ("08_gan", "sat_d_steps"),
}


def _problems(chapter):
    url, branch = reader_notebooks.repository()
    return reader_notebooks.problems(nbformat.read(chapter, as_version=4), url, branch)


@pytest.mark.parametrize("chapter", CHAPTERS, ids=lambda c: c.stem)
def test_chapter_reads_the_same_in_jupyter_and_starts_with_the_setup_cell(chapter):
    """No unconverted glue role, no myst_nb import, a set-up cell that matches _config.yml."""
    found = [p for p in _problems(chapter) if "glues only later" not in p]
    assert not found, f"run `.venv/bin/python tools/reader_notebooks.py chapters/*.ipynb chapters/*/*.ipynb`: {found}"


@pytest.mark.parametrize("chapter", CHAPTERS, ids=lambda c: c.stem)
def test_no_number_is_quoted_before_it_is_glued(chapter):
    forward = [p for p in _problems(chapter) if "glues only later" in p]
    names = {p.split("'")[1] for p in forward}
    unknown = [p for p in forward if p.split("'")[1] not in {n for c, n in KNOWN_FORWARD_QUOTES if c == chapter.stem}]
    assert not unknown, unknown
    if forward:
        pytest.xfail(f"known forward quotes, for the chapter's author to fix: {sorted(names)}")


def test_setup_cell_follows_the_repository_of_config(tmp_path):
    url, branch = reader_notebooks.repository()
    assert url == yaml.safe_load((ROOT / "_config.yml").read_text())["repository"]["url"].rstrip("/")
    nb = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_markdown_cell("Mean {glue:text}`m:.2f`, count {glue}`n`, also {glue:figure}`f`."),
        nbformat.v4.new_code_cell("from myst_nb import glue\nglue('m', 0.5)\nglue('n', 3)"),
        nbformat.v4.new_markdown_cell('Later {glue:text}`m:.1%`.'),
    ])
    before = reader_notebooks.problems(nb, url, branch)
    assert any("set-up cell" in p for p in before) and any("unconverted role" in p for p in before)
    assert reader_notebooks.convert(nb, url, branch)
    assert not reader_notebooks.convert(nb, url, branch), "a second conversion changed something"
    assert nb.cells[1].id == reader_notebooks.SETUP_ID and f"git+{url}@{branch}" in nb.cells[1].source
    assert nb.cells[2].source.startswith("from lib.glue import glue, glued")
    assert nb.cells[3].source == 'Later {eval}`glued("m", ".1%")`.'
    left = reader_notebooks.problems(nb, url, branch)
    assert any("quotes 'm', which cell 2 glues only later" in p for p in left)
    assert any("{glue:figure}" in p for p in left)
    # a set-up cell for another repository is caught
    assert any("disagrees" in p for p in reader_notebooks.problems(nb, "https://example.org/other", branch))


def test_glue_without_myst_nb(monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "myst_nb", None)  # as in Colab: importing it fails
    from lib import glue as g

    g.glue("acc_test", 0.91234, display=False)
    assert repr(g.glued("acc_test", ".1%")) == "91.2%"
    assert str(g.glued("acc_test")) == "0.91234"
    import numpy as np

    g.glue("count_test", np.int64(7), display=False)
    assert type(g.values()["count_test"]) is int and repr(g.glued("count_test", "d")) == "7"
    with pytest.raises(ValueError, match="nothing was glued under 'nope'"):
        g.glued("nope")
    with pytest.raises(ValueError, match="Python identifier"):
        g.glue("not a name", 1)


def test_glue_with_myst_nb_writes_its_glue_output(monkeypatch):
    shown = []
    import myst_nb

    monkeypatch.setattr(myst_nb, "glue", lambda name, value, display=True: shown.append((name, value, display)))
    from lib import glue as g

    g.glue("x_test", 2.5, display=False)
    assert shown == [("x_test", 2.5, False)]
