"""The classroom assignments (assignments/, an nbgrader course with its grader), tested end to end.

Every folder under assignments/source/ is picked up.  For each, a copy of the course in a
temporary directory goes through nbgrader's own command line and its real SQLite gradebook:
generate the student release, then autograde, in one run, every kind of submission a teacher
gets: the instructor's version, the release untouched, a correct solution written differently,
versions with one part wrong, an honest one with warnings, a print flood and a deleted test cell,
one whose cell loops forever, and one per way of cheating (tests/assignment_submissions.py).
Then the grading report and the feedback.  The scores are read back from the gradebook.
The grading runs once per assignment and is shared by the tests below (a file lock keeps
pytest-xdist's workers from grading the same assignment twice).  test_teachers_guide_runs_as_written
follows README's guide command by command on a fresh copy of the course.
"""
import csv
import fcntl
import importlib
import json
import os
import re
import shutil
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import nbformat
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
import assignment_submissions as subs  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
COURSE = ROOT / "assignments"
ASSIGNMENTS = sorted(p.name for p in (COURSE / "source").glob("*") if p.is_dir() and list(p.glob("*.ipynb")))
TIMEOUT = 30  # seconds per cell; test_timeout_is_configured checks that nbgrader reads this value
# nbgrader runs the `alembic` command of its environment to set up the gradebook, so the
# environment's bin/ must be on PATH even when it is not activated (as under make).
ENV = {**os.environ, "PATH": os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")])}
GENERATED = ("release", "submitted", "autograded", "feedback", "reports", "gradebook.db", ".nbgrader.log",
             "grades.csv", "exchange", "downloaded")
GRADED_NOTE = "# Graded again by the course's grader in a separate Python process"


@dataclass
class Break:
    """How to get one part wrong: in solution cell `cell`, replace `find` by `replace`.

    `loses` names the grade cells that must then score zero; every other grade cell must keep
    full marks, so choose a part that no later part builds on.  `says`: words the failed check's
    message must contain.  The runaway-loop submission puts `while True: pass` at the start of the
    first break's cell (of LOOPED only), so the same cells lose.
    """
    cell: str
    find: str
    replace: str
    loses: frozenset
    says: str = ""


# One list per assignment; a new assignment fails test_every_assignment_has_its_submissions until it has one.
BREAKS = {
    "01_perceptron": [
        Break("part4_backward", "dz = da * a * (1.0 - a)", "dz = -da * a * (1.0 - a)",
              frozenset({"part4_backward_tests"}), "dx is not dL/dx"),
        Break("part3_answer", "for _ in range(max_epochs):", "for _ in range(max_epochs + 1):",
              frozenset({"part3_tests"}), "should make exactly"),
        Break("part4_backward", "dz.sum()", "dz.sum(keepdims=True)",
              frozenset({"part4_backward_tests"}), "db should be a single number"),
    ],
    "02_backprop": [Break("part3_backward", "return p * (dp - ", "return -p * (dp - ",
                          frozenset({"part3_backward_tests"}), "dz is not J^T dp")],
    "03_cnn": [Break("part4_backward", "+= dout[:, :, i, j]", "-= dout[:, :, i, j]",
                     frozenset({"part4_backward_tests"}), "dx is not each window's dout")],
}
# ----- 07_gnn (chapter 7's assignment) -----
BREAKS["07_gnn"] = [Break("part1_answer", "(xs[i] - xs[j]) ** 2", "(xs[i] + xs[j]) ** 2",
                          frozenset({"part1_tests"}), "edge_sum is not the sum")]
# ----- end of 07_gnn -----
# 08_gan (chapter 8): its own block, so that the additions for other assignments merge cleanly
BREAKS["08_gan"] = [
    Break("part2_discriminator", "return float(loss), -sig_minus_real", "return float(loss), sig_minus_real",
          frozenset({"part2_discriminator_tests"}), "dz_real is not dL_D/dz_real"),
    Break("part2_generator", "np.mean(np.logaddexp(0.0, -z_fake))", "np.mean(-np.log(1.0 / (1.0 + np.exp(-z_fake))))",
          frozenset({"part2_generator_tests"}), "contains NaN or infinity"),
]
# ---- 09_rl (chapter 9): its own block, so that merging other assignments' entries stays clean ----
BREAKS["09_rl"] = [
    Break("part2_backward", "dz = -np.exp(log_probs)", "dz = np.exp(log_probs)",
          frozenset({"part2_backward_tests"}), "dz is not dL/dz"),
    Break("part3_answer", "if change <= tol:", "if change < tol / 10:",
          frozenset({"part3_tests"}), "the number of sweeps is not"),
    Break("part1_answer", "half * 2)", "half * 4)", frozenset({"part1_tests"}), "v_pi does not solve"),
]
# ---- end of 09_rl ----
# ---- 06_attention (chapter 6): its own block, so that merging other assignments' entries stays clean ----
BREAKS["06_attention"] = [
    Break("part1_answer", "[-sp.sin(k * omega), sp.cos(k * omega)]", "[sp.sin(k * omega), sp.cos(k * omega)]",
          frozenset({"part1_tests"}), "rotation does not map"),
]
# ---- end of 06_attention ----
# ---- 04_rbm_dbn (chapter 4): its own block, so that merging other assignments' entries stays clean ----
BREAKS["04_rbm_dbn"] = [
    Break("part1_answer", "weights[1] / (weights[0] + weights[1])", "weights[0] / (weights[0] + weights[1])",
          frozenset({"part1_tests"}), "p_h_on is not"),
    Break("part5_answer", "for _ in range(steps):", "for _ in range(steps + 1):",
          frozenset({"part5_tests"}), "does not follow Part 5's recipe"),
]
# ---- end of 04_rbm_dbn ----
TAMPERING = sorted(subs.TAMPERING)
# The cell timeout is the same for every assignment and costs 2 x 30 s (the kernel's and the grader's),
# so one assignment is enough to test it.
LOOPED = "01_perceptron"


# ------------------------------------------------------------------------------------------
# Reading notebooks


def notebooks(folder):
    return sorted(Path(folder).glob("*.ipynb"))


def nbgrader_meta(cell):
    return cell.metadata.get("nbgrader", {})


def grade_cells(nb):
    return {nbgrader_meta(c)["grade_id"]: c for c in nb.cells if nbgrader_meta(c).get("grade")}


def autograded_cells(nb):
    """The autograded test cells (grade cells that are not written answers)."""
    return {gid: c for gid, c in grade_cells(nb).items() if not nbgrader_meta(c).get("solution")}


def solution_cells(nb):
    return {nbgrader_meta(c)["grade_id"]: c for c in nb.cells if nbgrader_meta(c).get("solution")}


def regions(source, begin, end):
    """The lines strictly between each `begin` marker line and the next `end` marker line."""
    inside, found = False, []
    for line in source.splitlines():
        if begin in line:
            inside = True
        elif end in line:
            inside = False
        elif inside:
            found.append(line)
    return found


def secret_lines(nb):
    """Lines of solutions and rubrics that appear nowhere else in the instructor's notebook."""
    secret, public = set(), set()
    for cell in nb.cells:
        hidden = {line.strip() for line in regions(cell.source, "### BEGIN SOLUTION", "### END SOLUTION")}
        secret |= hidden
        public |= {line.strip() for line in cell.source.splitlines()} - hidden
    # a line too short or too generic to identify a solution (")", "return dx") is not evidence
    return {line for line in secret - public if len(line) >= 12 and not line.startswith("#")}


def edit_solution(nb, cell_id, edit):
    """Apply edit(region_lines, indent) -> new lines to the solution region of one cell."""
    cell = solution_cells(nb)[cell_id]
    lines = cell.source.splitlines()
    start = next(i for i, line in enumerate(lines) if "### BEGIN SOLUTION" in line)
    stop = next(i for i, line in enumerate(lines) if "### END SOLUTION" in line)
    indent = lines[start][: len(lines[start]) - len(lines[start].lstrip())]
    cell.source = "\n".join(lines[: start + 1] + edit(lines[start + 1: stop], indent) + lines[stop:])


# ------------------------------------------------------------------------------------------
# Running nbgrader and the grader


def run(course, *args, timeout=900, env=None):
    """Run `python ARGS` in the course folder; return (seconds, completed process)."""
    start = time.monotonic()
    proc = subprocess.run([sys.executable, *args], cwd=course, capture_output=True, text=True, timeout=timeout,
                          env=env or ENV)
    return time.monotonic() - start, proc


def nbgrader(course, *args, timeout=900, env=None):
    return run(course, "-m", "nbgrader", *args, timeout=timeout, env=env)


def copy_course(dest):
    shutil.copytree(COURSE, dest, ignore=shutil.ignore_patterns(*GENERATED, "__pycache__", ".ipynb_checkpoints"))
    return dest


def submit(course, student, assignment, nbs):
    folder = course / "submitted" / student / assignment
    folder.mkdir(parents=True)
    for name, nb in nbs.items():
        nbformat.write(nb, folder / name)


SCORES = """
import json, sys
from nbgrader.api import Gradebook
db, assignment, students = sys.argv[1], sys.argv[2], sys.argv[3:]
found = {}
with Gradebook(db) as gb:
    for student in students:
        found[student] = {}
        for nb in gb.find_assignment(assignment).notebooks:
            sub = gb.find_submission_notebook(nb.name, assignment, student)
            found[student][nb.name] = {g.name: (None if g.needs_manual_grade else g.score, g.max_score)
                                       for g in sub.grades}
print(json.dumps(found))
"""


def scores(course, assignment, students):
    """{student: {notebook: {grade_id: [score, max_score]}}}, read from the course's gradebook; the score
    is None while the cell waits for a manual grade."""
    proc = subprocess.run([sys.executable, "-c", SCORES, f"sqlite:///{course / 'gradebook.db'}", assignment, *students],
                          capture_output=True, text=True, env=ENV, check=True)
    return json.loads(proc.stdout)


LOG_FORMAT = "%(asctime)s.%(msecs)03d [%(name)s | %(levelname)s] %(message)s"


def execution_seconds(log):
    """{student: seconds} from nbgrader's log: from 'Autograding <notebook>' to writing its graded copy
    (the kernel's run and the grader's, one after the other)."""
    started, took = {}, {}
    for line in log.splitlines():
        m = re.match(r"(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3}) .*?(Autograding|Writing \d+ bytes to) (\S+)", line)
        if not m or "/autograded/" not in m.group(3):
            continue
        when = datetime.strptime(m.group(1), "%Y-%m-%d %H:%M:%S.%f").timestamp()
        student = Path(m.group(3)).parts[-3]
        if m.group(2) == "Autograding":
            started[student] = when
        elif student in started:
            took[student] = when - started.pop(student)
    return took


def clone(nbs):
    return {name: subs.clone(nb) for name, nb in nbs.items()}


def honest_but_untidy(source, assignment):
    """The instructor's answers from a student who leaves a print flood and a warning in, deletes a
    test cell by accident and edits the introduction."""
    nbs = clone(source)
    for nb in nbs.values():
        cells = solution_cells(nb)
        first = next(iter(cells.values()))
        first.source = "for line in range(20000):  # a student's forgotten debug print\n    print('debug', line)\n" \
            + first.source
        function_cell = next(c for c in cells.values() if "def " in c.source)
        function_cell.source = function_cell.source.replace(
            "### BEGIN SOLUTION", "### BEGIN SOLUTION\n    import warnings\n    warnings.warn('a leftover warning')", 1)
        last_test = list(autograded_cells(nb))[-1]
        nb.cells = [c for c in nb.cells if nbgrader_meta(c).get("grade_id") != last_test]
        nb.cells[0].source += "\n\nMy notes: remember to restart the kernel."
    return nbs


def grade_everything(assignment, work):
    """Generate, submit, autograde, report, feedback; write work/results.json.  Runs once per assignment."""
    course = copy_course(work / "course")
    result = {}
    t, proc = nbgrader(course, "generate_assignment", assignment)
    assert proc.returncode == 0, proc.stderr
    result["generate_seconds"] = t

    source = {p.name: nbformat.read(p, as_version=4) for p in notebooks(course / "source" / assignment)}
    release = {p.name: nbformat.read(p, as_version=4) for p in notebooks(course / "release" / assignment)}
    (name, src), (_, rel) = next(iter(source.items())), next(iter(release.items()))
    students = {"instructor": source, "untouched": release, "fair": honest_but_untidy(source, assignment),
                "different": {name: subs.different(src, assignment)}}
    for i, brk in enumerate(BREAKS[assignment]):
        mutant = clone(source)
        cell = solution_cells(mutant[name])[brk.cell]
        assert cell.source.count(brk.find) == 1, f"{brk.find!r} should occur once in cell {brk.cell}"
        cell.source = cell.source.replace(brk.find, brk.replace)
        students[f"mutant{i}"] = mutant
    if assignment == LOOPED:
        looper = clone(source)
        edit_solution(looper[name], BREAKS[assignment][0].cell,
                      lambda lines, indent: [f"{indent}import time", f"{indent}while True:  # a runaway loop",
                                             f"{indent}    time.sleep(0.01)  # (idle, so the test costs no CPU)"] + lines)
        students["looper"] = looper
    for kind, make in subs.TAMPERING.items():
        students[f"tamper_{kind}"] = {name: make(rel, assignment)}
    for student, nbs in students.items():
        submit(course, student, assignment, nbs)

    # one run grades every student, one after the other; the log's timestamps time each notebook
    t, proc = nbgrader(course, "autograde", assignment, f"--Application.log_format={LOG_FORMAT}")
    result["autograde"] = {"seconds": t, "returncode": proc.returncode, "log": proc.stderr[-5000:],
                           "execution_seconds": execution_seconds(proc.stderr)}
    result["scores"] = scores(course, assignment, list(students))
    t, proc = run(course, "-m", "grader.report", assignment)
    result["report"] = {"seconds": t, "returncode": proc.returncode, "text": proc.stdout, "stderr": proc.stderr[-3000:]}
    t, proc = nbgrader(course, "generate_feedback", assignment)
    result["feedback"] = {"seconds": t, "returncode": proc.returncode, "log": proc.stderr[-3000:]}
    (work / "results.json").write_text(json.dumps(result))


@dataclass
class Graded:
    assignment: str
    course: Path
    results: dict

    def autograded(self, student):
        folder = self.course / "autograded" / student / self.assignment
        return {p.name: nbformat.read(p, as_version=4) for p in notebooks(folder)}

    def grader_result(self, student):
        return json.loads((self.course / "reports" / self.assignment / f"{student}.json").read_text())

    def problems(self):
        return json.loads((self.course / "reports" / f"{self.assignment}.json").read_text())

    def total(self, student):
        return sum(s or 0.0 for per_nb in self.results["scores"][student].values() for s, _ in per_nb.values())


# Assignments graded at the same time: one per core.  Grading is CPU-bound (kernels, the grader's
# processes): on the 2-core CI machine four at a time made the suite's pytest part slower (600 s
# against 572 s with two).
GRADING_THREADS = 2


@pytest.fixture(scope="session")
def graded(tmp_path_factory):
    """graded(assignment) -> Graded.  The first call starts the grading of every assignment,
    GRADING_THREADS at a time in the background (pytest-xdist's --dist loadfile keeps this file on
    one worker); a file lock shares the results between workers when the tests are spread otherwise."""
    base = tmp_path_factory.getbasetemp()
    shared = base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base

    def grade(assignment):
        work = shared / f"assignment-{assignment}"
        with open(shared / f"assignment-{assignment}.lock", "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)  # another worker waits here, then reads the results
            if not (work / "results.json").exists():
                shutil.rmtree(work, ignore_errors=True)
                work.mkdir()
                grade_everything(assignment, work)
        return Graded(assignment, work / "course", json.loads((work / "results.json").read_text()))

    with ThreadPoolExecutor(max_workers=GRADING_THREADS) as pool:
        futures = {}

        def get(assignment):
            if not futures:
                futures.update({a: pool.submit(grade, a) for a in ASSIGNMENTS})
            return futures[assignment].result()

        yield get
        for future in futures.values():
            future.cancel()


def source_notebooks(assignment):
    return {p.name: nbformat.read(p, as_version=4) for p in notebooks(COURSE / "source" / assignment)}


def max_points(assignment, manual=False):
    """{notebook: {grade_id: points}} of the autograded test cells (and the written answers with manual=True)."""
    return {nb: {gid: float(nbgrader_meta(c)["points"]) for gid, c in (grade_cells(n) if manual else autograded_cells(n)).items()}
            for nb, n in source_notebooks(assignment).items()}


def auto_scores(g, student):
    """The student's scores of the autograded test cells only."""
    auto = max_points(g.assignment)
    return {stem(nb): {gid: v for gid, v in g.results["scores"][student][stem(nb)].items() if gid in auto[nb]}
            for nb in auto}


def stem(name):
    return Path(name).stem


def full_marks(assignment):
    return {stem(nb): {gid: [p, p] for gid, p in points.items()} for nb, points in max_points(assignment).items()}


# ------------------------------------------------------------------------------------------
# The course's structure


def test_assignments_are_found():
    assert {"01_perceptron", "02_backprop", "03_cnn"} <= set(ASSIGNMENTS)


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_every_assignment_has_its_submissions_and_checks(assignment):
    assert assignment in BREAKS, f"add a Break for {assignment} to BREAKS in {Path(__file__).name}"
    for table in ("DIFFERENT", "TOP_LEVEL", "COPIES"):
        assert assignment in getattr(subs, table), f"add {assignment} to {table} in assignment_submissions.py"
    sys.path.insert(0, str(COURSE))
    checks = importlib.import_module(f"grader.checks_{assignment}")
    for nb in source_notebooks(assignment).values():
        assert set(checks.CHECKS) == set(autograded_cells(nb)), "grader/checks_ASSIGNMENT.py has one check per test cell"
        locked_code = {nbgrader_meta(c)["grade_id"] for c in nb.cells if c.cell_type == "code"
                       and nbgrader_meta(c)["locked"] and not nbgrader_meta(c)["grade"]}
        assert set(checks.FRESH_DATA) <= locked_code, "FRESH_DATA replaces locked data cells only"


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_notebook_structure(assignment):
    """Metadata nbgrader relies on, set by hand in these notebooks, checked without running anything."""
    from nbgrader.nbgraderformat import MetadataValidator

    nbs = source_notebooks(assignment)
    assert list(nbs) == [f"{assignment}.ipynb"], "one notebook per assignment, named like its folder"
    for name, nb in nbs.items():
        MetadataValidator().validate_nb(nb)  # raises on a bad schema, a missing grade_id, duplicate ids
        written = 0
        for cell in nb.cells:
            assert not cell.get("outputs"), f"{name}: notebooks are committed without outputs"
            meta = nbgrader_meta(cell)
            assert meta, f"{name}: every cell belongs to nbgrader (locked or answer)"
            assert meta["schema_version"] == 3
            if meta["grade"] and not meta["solution"]:  # an autograded test cell: locked, worth points
                assert cell.cell_type == "code" and meta["locked"], meta["grade_id"]
                assert meta["points"] > 0, meta["grade_id"]
                # the checks live in grader/, so nothing hidden is left in the notebook (nor in its feedback)
                assert "HIDDEN TESTS" not in cell.source, meta["grade_id"]
                assert cell.source.splitlines()[-1].startswith(GRADED_NOTE), meta["grade_id"]
                for line in cell.source.splitlines():
                    if line.lstrip().startswith("assert ") or "assert_" in line:
                        assert "," in line or "err_msg" in cell.source, f"{meta['grade_id']}: an assert without a message"
            if meta["grade"] and meta["solution"]:  # a written answer, graded by hand from a rubric
                assert cell.cell_type == "markdown" and meta["points"] > 0
                rubric = "\n".join(regions(cell.source, "### BEGIN SOLUTION", "### END SOLUTION"))
                assert "Rubric" in rubric and "point" in rubric, meta["grade_id"]
                written += 1
            if meta["solution"] and not meta["grade"]:
                assert not meta["locked"], meta["grade_id"]
            if meta["solution"]:
                assert "### BEGIN SOLUTION" in cell.source and "### END SOLUTION" in cell.source, meta["grade_id"]
        assert written >= 1, f"{name}: at least one written answer graded by hand"
        parts = {gid.split("_")[0] for gid in grade_cells(nb)}
        assert 3 <= len(parts) <= 7, f"{name}: expected 3-7 graded parts, found {sorted(parts)}"
        assert all(re.fullmatch(r"part\d+", p) for p in parts), sorted(parts)
        # the introduction states the points, the cell limit and the rule on lib, and its total is right
        intro = nb.cells[0].source
        total = sum(float(nbgrader_meta(c)["points"]) for c in grade_cells(nb).values())
        auto = sum(float(nbgrader_meta(c)["points"]) for c in autograded_cells(nb).values())
        assert f"Total: **{total:g} points** ({auto:g} graded automatically, {total - auto:g} by your teacher" in intro
        assert "**30 seconds**" in intro and "do **not** import anything from `lib`" in intro


def test_timeout_and_grader_are_configured():
    """The course config sets the per-cell timeout nbgrader's Execute preprocessor uses, and puts the
    grader between nbgrader's execution and its recording of the scores."""
    from nbgrader.converters import Autograde
    from nbgrader.preprocessors import Execute, LimitOutput, OverwriteCells, SaveAutoGrades
    from traitlets.config.loader import PyFileConfigLoader

    config = PyFileConfigLoader("nbgrader_config.py", path=str(COURSE)).load_config()
    execute = Execute(config=config)
    assert execute.timeout == TIMEOUT
    assert execute.interrupt_on_timeout  # a runaway cell is interrupted, so the kernel serves the next cell
    pipeline = [pp.__name__ for pp in Autograde(config=config).autograde_preprocessors]
    assert pipeline.index(LimitOutput.__name__) < pipeline.index("TrustedGrade") < pipeline.index(SaveAutoGrades.__name__)
    assert OverwriteCells(config=config).add_missing_cells
    trusted = importlib.import_module("grader.trusted")
    assert trusted.CELL_SECONDS == TIMEOUT


def test_sources_pass_nbgrader_validate(tmp_path):
    """`nbgrader validate` on every source notebook, in one run (each nbgrader start costs seconds)."""
    course = copy_course(tmp_path / "course")
    files = [str(p.relative_to(course)) for a in ASSIGNMENTS for p in notebooks(course / "source" / a)]
    _, proc = nbgrader(course, "validate", *files)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout.count("Success! Your notebook passes all the tests.") == len(files), proc.stdout + proc.stderr


# ------------------------------------------------------------------------------------------
# Grading


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_instructor_version_gets_full_marks(assignment, graded):
    g = graded(assignment)
    assert g.results["autograde"]["returncode"] == 0, g.results["autograde"]["log"]
    assert auto_scores(g, "instructor") == full_marks(assignment)
    manual = {gid for pts in max_points(assignment, manual=True).values() for gid in pts} - \
        {gid for pts in max_points(assignment).values() for gid in pts}
    # a written answer waits for the teacher: no score yet (an unchanged stub scores zero: see untouched)
    assert manual and all(g.results["scores"][student][stem(nb)][gid][0] is None
                          for student in ("instructor", "different") for nb in max_points(assignment) for gid in manual)
    # nbgrader reads a number a test cell displays as partial credit: a test cell must display nothing
    for name, nb in g.autograded("instructor").items():
        for gid, cell in autograded_cells(nb).items():
            assert not [o for o in cell.outputs if o.output_type == "execute_result"], f"{name}: {gid} displays a value"
            assert not [o for o in cell.outputs if o.output_type == "error"], f"{name}: {gid} failed"


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_a_correct_solution_written_differently_gets_full_marks(assignment, graded):
    g = graded(assignment)
    assert auto_scores(g, "different") == full_marks(assignment)
    problems = g.problems()
    assert "different" not in problems["tampering"] + problems["failed"]
    assert "instructor" not in problems["tampering"] + problems["failed"]


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_release_has_no_solutions_or_rubrics(assignment, graded):
    g = graded(assignment)
    release = g.course / "release" / assignment
    source = source_notebooks(assignment)
    released = notebooks(release)
    assert [p.name for p in released] == list(source)
    texts = {}
    for path in release.rglob("*"):
        if path.is_file():
            if path.suffix == ".ipynb":
                texts[path.name] = "\n".join(c.source for c in nbformat.read(path, as_version=4).cells)
            else:
                texts[path.name] = path.read_text(errors="replace")
    for name, text in texts.items():
        for marker in ("BEGIN SOLUTION", "END SOLUTION", "HIDDEN TESTS", "Rubric"):
            assert marker not in text, f"{name} still contains {marker}"
    for name, nb in source.items():
        secrets = secret_lines(nb)
        assert len(secrets) >= 10, "too few solution lines to make this check meaningful"
        leaked = [line for line in secrets if any(line in text for text in texts.values())]
        assert not leaked, f"{name}: the release contains solution lines {leaked[:5]}"
        student = nbformat.read(release / name, as_version=4)
        for gid, cell in solution_cells(student).items():
            if cell.cell_type == "code":
                assert "raise NotImplementedError()" in cell.source, f"{gid} has no stub for the student"
        assert grade_cells(student).keys() == grade_cells(nb).keys()


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_untouched_release_scores_zero(assignment, graded):
    g = graded(assignment)
    assert g.results["autograde"]["returncode"] == 0, g.results["autograde"]["log"]
    for nb, points in max_points(assignment, manual=True).items():
        got = g.results["scores"]["untouched"][stem(nb)]
        assert got == {gid: [0.0, p] for gid, p in points.items()}
    # grading went through every cell: each test cell recorded the student's missing answer
    for name, nb in g.autograded("untouched").items():
        for gid, cell in autograded_cells(nb).items():
            assert [o.ename for o in cell.outputs if o.output_type == "error"], f"{gid} did not run"


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_one_wrong_part_loses_exactly_its_points(assignment, graded):
    g = graded(assignment)
    total = sum(p for pts in max_points(assignment).values() for p in pts.values())
    for i, brk in enumerate(BREAKS[assignment]):
        student = f"mutant{i}"
        for nb, points in max_points(assignment).items():
            want = {gid: [0.0 if gid in brk.loses else p, p] for gid, p in points.items()}
            assert auto_scores(g, student)[stem(nb)] == want, brk
        lost = sum(p for pts in max_points(assignment).values() for gid, p in pts.items() if gid in brk.loses)
        assert 0 < lost < total and g.total(student) == total - lost
        messages = [v["message"] for gid, v in g.grader_result(student)["parts"].items() if gid in brk.loses]
        assert all(brk.says in m for m in messages), (brk, messages)
        assert student not in g.problems()["tampering"]


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_warnings_prints_and_a_deleted_test_cell_cost_nothing(assignment, graded):
    """Fairness: stderr in the student's code does not zero a cell, a print flood is cut and graded,
    a deleted test cell is put back and graded; the report lists the deleted and the edited cell."""
    g = graded(assignment)
    assert auto_scores(g, "fair") == full_marks(assignment)
    for nb in g.autograded("fair").values():
        first = next(iter(solution_cells(nb).values()))
        text = "".join(o.text for o in first.outputs if o.output_type == "stream")
        assert "Output truncated" in text and len(text.splitlines()) <= 1001
        assert any("[stderr]" in o.get("text", "") and "leftover warning" in o.get("text", "")
                   for c in autograded_cells(nb).values() for o in c.outputs), "the warning is shown, as text"
        assert len(autograded_cells(nb)) == len(next(iter(max_points(assignment).values())))
    edits = g.grader_result("fair")["edits"]
    last_test = list(next(iter(max_points(assignment).values())))[-1]
    assert edits == [f"intro: edited (nbgrader graded the original)", f"{last_test}: deleted (nbgrader put it back)"]
    assert "fair" in g.problems()["tampering"] and "fair" not in g.problems()["failed"]
    assert f"{last_test}: deleted" in g.results["report"]["text"]


def test_runaway_loop_is_stopped_by_the_timeout(graded):
    assignment = LOOPED
    g = graded(assignment)
    run_ = g.results["autograde"]
    assert run_["returncode"] == 0, run_["log"]
    loses = BREAKS[assignment][0].loses
    for nb, points in max_points(assignment).items():
        assert auto_scores(g, "looper")[stem(nb)] == {gid: [0.0 if gid in loses else p, p] for gid, p in points.items()}
    # What nbgrader 0.9 does on a timeout: it interrupts the kernel (which survives), the cell gets
    # two error outputs, the kernel's KeyboardInterrupt and nbgrader's CellTimeoutError, and the
    # next cells run as usual.  The grader's own process stops that cell after 30 s too.
    # (in a test cell the grader turns the kernel's errors into text: "... raised CellTimeoutError")
    timed_out = [cell for nb in g.autograded("looper").values() for cell in nb.cells if cell.cell_type == "code"
                 and any(o.output_type == "error" and o.ename == "CellTimeoutError"
                         or "raised CellTimeoutError" in o.get("text", "") for o in cell.outputs)]
    assert len(timed_out) == 1
    assert all("did not finish within 30 s" in g.grader_result("looper")["parts"][gid]["message"] for gid in loses)
    seconds = run_["execution_seconds"]
    print(f"{assignment}: kernel and grader took {seconds} s with a {TIMEOUT} s cell timeout")
    # the kernel and the grader each wait 30 s once; the rest takes seconds, like the instructor's notebook
    assert 2 * TIMEOUT <= seconds["looper"] < 2 * TIMEOUT + seconds["instructor"] + 30


@pytest.mark.parametrize("kind", TAMPERING)
@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_tampering_scores_at_most_a_tenth_and_is_flagged(assignment, kind, graded):
    g = graded(assignment)
    student = f"tamper_{kind}"
    total = sum(p for pts in max_points(assignment).values() for p in pts.values())
    assert g.total(student) <= 0.1 * total, g.results["scores"][student]
    assert student in g.problems()["tampering"], g.results["report"]["text"]
    assert student not in g.problems()["failed"], g.results["report"]["text"]


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_feedback_shows_no_check_and_no_reference_value(assignment, graded):
    g = graded(assignment)
    assert g.results["feedback"]["returncode"] == 0, g.results["feedback"]["log"]
    pages = {p.parents[1].name: p.read_text() for p in (g.course / "feedback").glob(f"*/{assignment}/*.html")}
    assert set(pages) == set(g.results["scores"])
    # lines the notebook itself shows (a locked cell, a visible test, the instructor's own solution) are not secret
    public = {line.strip() for nb in source_notebooks(assignment).values() for c in nb.cells
              for line in c.source.splitlines()}
    grader_lines = {line.strip() for p in (COURSE / "grader").glob("*.py") for line in p.read_text().splitlines()
                    if len(line.strip()) >= 25 and not line.strip().startswith(("#", '"""'))} - public
    import html
    for student, page in pages.items():
        text = html.unescape(re.sub(r"<[^>]+>", "", page))
        assert "HIDDEN TESTS" not in text, student
        # what the student wrote is theirs to see, even where it matches a grader line (an import)
        written = "\n".join(c.source for nb_path in (g.course / "submitted" / student / assignment).glob("*.ipynb")
                             for c in nbformat.read(nb_path, as_version=4).cells)
        leaked = [line for line in grader_lines if line in text and line not in written]
        assert not leaked, f"{student}'s feedback shows the grader's code: {leaked[:3]}"
    # a failed check's message is in the feedback, written for the student
    for i, brk in enumerate(BREAKS[assignment]):
        assert brk.says in html.unescape(pages[f"mutant{i}"])
    # and no message carries a reference value: only relative errors and tolerances are numbers
    for student in g.results["scores"]:
        for gid, verdict in g.grader_result(student)["parts"].items():
            message = re.sub(r"\(relative error [^)]*\)", "", verdict["message"])
            assert not re.search(r"\d\.\d{2,}", message), (student, gid, message)


# ------------------------------------------------------------------------------------------
# The teacher's guide (README), step by step


def guide_commands():
    """The README's teacher's guide: every command in its numbered steps, in order."""
    text = (ROOT / "README.md").read_text()
    guide = text[text.index("## Teacher's guide"):]
    guide = guide[: guide.index("\n## ", 10)]
    return re.findall(r"`((?:nbgrader|make|python -m grader)[^`]*)`", guide)


def test_the_guide_names_every_step():
    commands = " | ".join(guide_commands())
    for step in ("make assignments", "nbgrader db student add", "nbgrader db assignment add", "--duedate",
                 "nbgrader release_assignment", "nbgrader fetch_assignment", "nbgrader submit", "nbgrader collect",
                 "make assignments-collect", "make assignments-grade", "python -m grader.written",
                 "nbgrader generate_feedback", "nbgrader release_feedback", "nbgrader fetch_feedback",
                 "nbgrader export"):
        assert step in commands, f"the teacher's guide lacks {step}"
    readme = (ROOT / "README.md").read_text()
    for assignment in ASSIGNMENTS:  # the points the guide states are the notebooks' points
        total = sum(p for pts in max_points(assignment, manual=True).values() for p in pts.values())
        assert re.search(rf"`{assignment}`\s+\({total:g} points\)", readme), assignment


def test_teachers_guide_runs_as_written(tmp_path):
    """README's guide on a fresh copy of the course, with the exchange in a folder (no root), four
    students on the class list, a due date, two submissions through the exchange, two by hand (one
    late), one broken file, the written answers graded, the feedback returned and the grades exported."""
    assignment = "01_perceptron"
    repo = tmp_path / "repo"
    repo.mkdir()
    for name in ("Makefile", "requirements.txt", "pyproject.toml"):
        shutil.copy2(ROOT / name, repo / name)
    course = copy_course(repo / "assignments")
    exchange = tmp_path / "exchange"
    exchange.mkdir()
    env = {**ENV, "NBGRADER_EXCHANGE": str(exchange)}
    # make with this environment; a fresh stamp tells it the environment is installed (never reinstall it here)
    (repo / ".stamp").touch()
    make = ["make", "-C", str(repo), f"VENV={Path(sys.executable).parents[1]}", f"STAMP={repo / '.stamp'}"]

    def sh(cmd, cwd=course, who=None, ok=True):
        e = {**env, "USER": who, "LOGNAME": who} if who else env
        proc = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, env=e, timeout=900)
        assert not ok or proc.returncode == 0, f"{cmd}:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
        return proc

    py = [sys.executable, "-m"]
    # 1-2: validate, generate (make from the repository root), the class list and the due date
    assert "Success!" in sh(py + ["nbgrader", "validate", f"source/{assignment}/{assignment}.ipynb"]).stdout
    sh(make + ["assignments"])
    assert (course / "release" / assignment / f"{assignment}.ipynb").exists()
    for student, first, last in [("ada", "Ada", "Lovelace"), ("alan", "Alan", "Turing"),
                                 ("grace", "Grace", "Hopper"), ("kurt", "Kurt", "Goedel")]:
        sh(py + ["nbgrader", "db", "student", "add", student, f"--first-name={first}", f"--last-name={last}"])
    sh(py + ["nbgrader", "db", "assignment", "add", assignment, "--duedate=2030-01-01 12:00:00 UTC"])
    # 3: release through the exchange; two students fetch, answer and submit
    sh(py + ["nbgrader", "release_assignment", assignment])
    source = nbformat.read(course / "source" / assignment / f"{assignment}.ipynb", as_version=4)
    answers = subs.different(source, assignment)
    for student in ("ada", "alan"):
        home = tmp_path / student
        home.mkdir()
        sh(py + ["nbgrader", "fetch_assignment", assignment, "--course", "nnbook",
                 f"--Exchange.root={exchange}"], cwd=home, who=student)
        nbformat.write(answers if student == "ada" else source, home / assignment / f"{assignment}.ipynb")
        # on a shared server each student is an OS user; here one user submits for two (--student)
        sh(py + ["nbgrader", "submit", assignment, "--course", "nnbook", f"--Exchange.root={exchange}",
                 f"--student={student}"], cwd=home, who=student)
    # 4: collect them; two more came by e-mail (one after the due date) and one file is broken
    sh(py + ["nbgrader", "collect", assignment])
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    nbformat.write(source, inbox / "grace.ipynb")
    (inbox / "kurt.ipynb").write_text("{ this is not a notebook")
    sh(make + ["assignments-collect", f"A={assignment}", f"FROM={inbox}", "TIME=2030-01-02 09:00:00"])
    for student in ("ada", "alan", "grace", "kurt"):
        assert (course / "submitted" / student / assignment / "timestamp.txt").exists()
    # 5: autograde and the report: kurt's grading failed, nobody tampered, grace is late
    proc = sh(make + ["assignments-grade", f"A={assignment}"], ok=False)
    report = (course / "reports" / f"{assignment}.txt").read_text()
    problems = json.loads((course / "reports" / f"{assignment}.json").read_text())
    assert problems == {"failed": ["kurt"], "tampering": []}, report + proc.stdout + proc.stderr[-2000:]
    assert re.search(r"grace: 10/12, late by 21\.0 h", report), report
    # 6: the written answers: the sheet, scores filled in, stored in the gradebook
    sh(py + ["grader.written", assignment])
    sheet = course / "reports" / f"{assignment}-written.csv"
    rows = list(csv.DictReader(sheet.open()))
    assert sorted(r["student"] for r in rows) == ["ada", "alan", "grace"]
    for r in rows:
        r["score"], r["comment"] = {"ada": ("2", "clear"), "alan": ("1.5", "no norm argument"), "grace": ("1", "")}[r["student"]]
    with sheet.open("w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    sh(py + ["grader.written", assignment, "--load", str(sheet)])
    # 7: feedback, returned through the exchange to every student whose notebook was graded
    sh(py + ["nbgrader", "generate_feedback", assignment])
    for student in ("ada", "alan", "grace"):
        assert (course / "feedback" / student / assignment / f"{assignment}.html").exists()
    sh(py + ["nbgrader", "release_feedback", assignment])
    home = tmp_path / "ada"
    sh(py + ["nbgrader", "fetch_feedback", assignment, "--course", "nnbook", f"--Exchange.root={exchange}",
             "--student=ada"], cwd=home, who="ada")
    assert list((home / assignment / "feedback").glob(f"*/{assignment}.html"))
    # 8: export: every student on the class list, with names, the due date and the written scores
    sh(py + ["nbgrader", "export"])
    grades = {r["student_id"]: r for r in csv.DictReader((course / "grades.csv").open())}
    assert set(grades) == {"ada", "alan", "grace", "kurt"}
    assert grades["ada"]["first_name"] == "Ada" and grades["ada"]["duedate"].startswith("2030-01-01 12:00:00")
    assert float(grades["ada"]["score"]) == 12.0 and float(grades["alan"]["score"]) == 11.5
    assert float(grades["grace"]["score"]) == 11.0 and float(grades["grace"]["max_score"]) == 12.0
    # a notebook that rewrites the grader's checks while nbgrader runs it stops its own grading, loudly
    mallory = subs.clone(source)
    cell = solution_cells(mallory)["part2_answer"]
    cell.source = "with open('../../../grader/checks_01_perceptron.py', 'a') as fh:\n    fh.write('# all pass')\n" \
        + cell.source
    (tmp_path / "late").mkdir()
    nbformat.write(mallory, tmp_path / "late" / "mallory.ipynb")
    sh(py + ["grader.collect", assignment, str(tmp_path / "late")])
    sh(py + ["nbgrader", "autograde", assignment, "--student=mallory"], ok=False)
    sh(py + ["grader.report", assignment])
    problems = json.loads((course / "reports" / f"{assignment}.json").read_text())
    assert problems["failed"] == ["kurt", "mallory"] and problems["tampering"] == ["mallory"]
# ---- 05_rnn_lstm (chapter 5): its own block, so that merging other assignments' entries stays clean ----
BREAKS["05_rnn_lstm"] = [
    Break("part3_answer", "return dx, carry, dwx, dwh, db", "return dx, 0.0 * carry, dwx, dwh, db",
          frozenset({"part3_tests"}), "is not dL/dh0"),   # Part 4 does not use dh0
    Break("part1_answer", "dh2_dh0 = (1 - h2 ** 2) * w_h * (1 - h1 ** 2) * w_h", "dh2_dh0 = (1 - h2 ** 2) * w_h",
          frozenset({"part1_tests"}), "dh2_dh0 is not"),
]
# ---- end of 05_rnn_lstm ----
