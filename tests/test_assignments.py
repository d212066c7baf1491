"""The classroom assignments (assignments/, an nbgrader course), tested end to end.

Every folder under assignments/source/ is picked up.  For each, a copy of the course in a
temporary directory goes through nbgrader's own command line and its real SQLite gradebook:
generate the student release, then autograde five submissions in one run -- the instructor's
version, the release untouched, a version with one part broken, one that prints a flood, and
one whose cell loops forever.  The scores are read back from the gradebook.
The grading runs once per assignment and is shared by the tests below (a file lock keeps
pytest-xdist's workers from grading the same assignment twice).
"""
import fcntl
import json
import os
import re
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]
COURSE = ROOT / "assignments"
ASSIGNMENTS = sorted(p.name for p in (COURSE / "source").glob("*") if p.is_dir() and list(p.glob("*.ipynb")))
TIMEOUT = 30  # seconds per cell; test_timeout_is_configured checks that nbgrader reads this value
# nbgrader runs the `alembic` command of its environment to set up the gradebook, so the
# environment's bin/ must be on PATH even when it is not activated (as under make).
ENV = {**os.environ, "PATH": os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")])}
GENERATED = ("release", "submitted", "autograded", "feedback", "gradebook.db", ".nbgrader.log", "grades.csv")


@dataclass
class Break:
    """How to get one part wrong: in solution cell `cell`, replace `find` by `replace`.

    `loses` names the grade cells that must then score zero; every other grade cell must keep
    full marks, so choose a part that no later part builds on.  The runaway-loop submission puts
    `while True: pass` at the start of the same cell's solution, so the same cells lose.
    """
    cell: str
    find: str
    replace: str
    loses: frozenset


# One entry per assignment; a new assignment fails test_every_assignment_has_a_break until it has one.
BREAKS = {
    "01_perceptron": Break("part4_backward", "dz = da * a * (1.0 - a)", "dz = -da * a * (1.0 - a)",
                           frozenset({"part4_backward_tests"})),
    "02_backprop": Break("part3_backward", "return p * (dp - ", "return -p * (dp - ",
                         frozenset({"part3_backward_tests"})),
    "03_cnn": Break("part4_backward", "+= dout[:, :, i, j]", "-= dout[:, :, i, j]",
                    frozenset({"part4_backward_tests"})),
}


# ------------------------------------------------------------------------------------------
# Reading notebooks


def notebooks(folder):
    return sorted(Path(folder).glob("*.ipynb"))


def nbgrader_meta(cell):
    return cell.metadata.get("nbgrader", {})


def grade_cells(nb):
    return {nbgrader_meta(c)["grade_id"]: c for c in nb.cells if nbgrader_meta(c).get("grade")}


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
    """Lines of solutions and hidden tests that appear nowhere else in the instructor's notebook."""
    secret, public = set(), set()
    for cell in nb.cells:
        hidden = regions(cell.source, "### BEGIN SOLUTION", "### END SOLUTION") + \
            regions(cell.source, "### BEGIN HIDDEN TESTS", "### END HIDDEN TESTS")
        hidden = {line.strip() for line in hidden}
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
# Running nbgrader


def nbgrader(course, *args, timeout=600):
    """Run `nbgrader ARGS` in the course folder with this interpreter; return (seconds, completed process)."""
    start = time.monotonic()
    proc = subprocess.run([sys.executable, "-m", "nbgrader", *args], cwd=course, capture_output=True,
                          text=True, timeout=timeout, env=ENV)
    return time.monotonic() - start, proc


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
            found[student][nb.name] = {g.name: (g.score, g.max_score) for g in sub.grades}
print(json.dumps(found))
"""


def scores(course, assignment, students):
    """{student: {notebook: {grade_id: [score, max_score]}}}, read from the course's gradebook."""
    proc = subprocess.run([sys.executable, "-c", SCORES, f"sqlite:///{course / 'gradebook.db'}", assignment, *students],
                          capture_output=True, text=True, env=ENV, check=True)
    return json.loads(proc.stdout)


LOG_FORMAT = "%(asctime)s.%(msecs)03d [%(name)s | %(levelname)s] %(message)s"


def execution_seconds(log):
    """{student: seconds} from nbgrader's log: from 'Autograding <notebook>' to writing its graded copy."""
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
    return {name: nbformat.from_dict(json.loads(json.dumps(nb))) for name, nb in nbs.items()}


def grade_everything(assignment, work):
    """Generate, submit, autograde; write work/results.json.  Runs once per assignment."""
    course = copy_course(work / "course")
    result = {}
    t, proc = nbgrader(course, "generate_assignment", assignment)
    assert proc.returncode == 0, proc.stderr
    result["generate_seconds"] = t

    source = {p.name: nbformat.read(p, as_version=4) for p in notebooks(course / "source" / assignment)}
    release = {p.name: nbformat.read(p, as_version=4) for p in notebooks(course / "release" / assignment)}
    brk = BREAKS[assignment]
    target = next(name for name, nb in source.items() if brk.cell in solution_cells(nb))

    mutant = clone(source)
    cell = solution_cells(mutant[target])[brk.cell]
    assert cell.source.count(brk.find) == 1, f"{brk.find!r} should occur once in cell {brk.cell}"
    cell.source = cell.source.replace(brk.find, brk.replace)

    noisy = clone(source)
    for nb in noisy.values():
        first = next(iter(solution_cells(nb).values()))
        first.source = "for line in range(20000):  # a student's forgotten debug print\n    print('debug', line)\n" + first.source

    looper = clone(source)
    edit_solution(looper[target], brk.cell,
                  lambda lines, indent: [f"{indent}while True:  # a runaway loop", f"{indent}    pass"] + lines)

    for student, nbs in [("instructor", source), ("untouched", release), ("mutant", mutant), ("noisy", noisy),
                         ("looper", looper)]:
        submit(course, student, assignment, nbs)
    # one run grades every student, one after the other; the log's timestamps time each notebook
    t, proc = nbgrader(course, "autograde", assignment, f"--Application.log_format={LOG_FORMAT}",
                       timeout=20 * TIMEOUT)
    result["autograde"] = {"seconds": t, "returncode": proc.returncode, "log": proc.stderr[-5000:],
                           "execution_seconds": execution_seconds(proc.stderr)}
    result["scores"] = scores(course, assignment, ["instructor", "untouched", "mutant", "noisy", "looper"])
    (work / "results.json").write_text(json.dumps(result))


@dataclass
class Graded:
    assignment: str
    course: Path
    results: dict

    def autograded(self, student):
        folder = self.course / "autograded" / student / self.assignment
        return {p.name: nbformat.read(p, as_version=4) for p in notebooks(folder)}


@pytest.fixture(scope="session")
def graded(tmp_path_factory):
    """graded(assignment) -> Graded; the grading is done once and shared between xdist workers."""
    base = tmp_path_factory.getbasetemp()
    shared = base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base
    done = {}

    def get(assignment):
        if assignment not in done:
            work = shared / f"assignment-{assignment}"
            with open(shared / f"assignment-{assignment}.lock", "w") as lock:
                fcntl.flock(lock, fcntl.LOCK_EX)  # the other worker waits here, then reads the results
                if not (work / "results.json").exists():
                    shutil.rmtree(work, ignore_errors=True)
                    work.mkdir()
                    grade_everything(assignment, work)
            done[assignment] = Graded(assignment, work / "course", json.loads((work / "results.json").read_text()))
        return done[assignment]

    return get


def source_notebooks(assignment):
    return {p.name: nbformat.read(p, as_version=4) for p in notebooks(COURSE / "source" / assignment)}


def max_points(assignment):
    return {nb: {gid: float(nbgrader_meta(c)["points"]) for gid, c in grade_cells(n).items()}
            for nb, n in source_notebooks(assignment).items()}


def stem(name):
    return Path(name).stem


# ------------------------------------------------------------------------------------------
# The tests


def test_assignments_are_found():
    assert {"01_perceptron", "02_backprop"} <= set(ASSIGNMENTS)


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_every_assignment_has_a_break(assignment):
    assert assignment in BREAKS, f"add a Break for {assignment} to BREAKS in {Path(__file__).name}"


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_notebook_structure(assignment):
    """Metadata nbgrader relies on, set by hand in these notebooks, checked without running anything."""
    from nbgrader.nbgraderformat import MetadataValidator

    nbs = source_notebooks(assignment)
    assert list(nbs) == [f"{assignment}.ipynb"], "one notebook per assignment, named like its folder"
    for name, nb in nbs.items():
        MetadataValidator().validate_nb(nb)  # raises on a bad schema, a missing grade_id, duplicate ids
        for cell in nb.cells:
            assert not cell.get("outputs"), f"{name}: notebooks are committed without outputs"
            meta = nbgrader_meta(cell)
            if not meta:
                continue
            assert meta["schema_version"] == 3
            if meta["grade"]:  # an autograded test cell: locked, worth points, with hidden tests
                assert cell.cell_type == "code" and meta["locked"] and not meta["solution"], meta["grade_id"]
                assert meta["points"] > 0, meta["grade_id"]
                assert "### BEGIN HIDDEN TESTS" in cell.source and "### END HIDDEN TESTS" in cell.source, meta["grade_id"]
            if meta["solution"]:
                assert not meta["locked"] and not meta["grade"], meta["grade_id"]
                assert "### BEGIN SOLUTION" in cell.source and "### END SOLUTION" in cell.source, meta["grade_id"]
        parts = {gid.split("_")[0] for gid in grade_cells(nb)}
        assert 3 <= len(parts) <= 6, f"{name}: expected 3-6 graded parts, found {sorted(parts)}"
        assert all(re.fullmatch(r"part\d+", p) for p in parts), sorted(parts)


def test_timeout_is_configured():
    """The course config sets the per-cell timeout that nbgrader's own Execute preprocessor then uses."""
    from nbgrader.preprocessors import Execute
    from traitlets.config.loader import PyFileConfigLoader

    config = PyFileConfigLoader("nbgrader_config.py", path=str(COURSE)).load_config()
    execute = Execute(config=config)
    assert execute.timeout == TIMEOUT
    assert execute.interrupt_on_timeout  # a runaway cell is interrupted, so the kernel serves the next cell


def test_sources_pass_nbgrader_validate(tmp_path):
    """`nbgrader validate` on every source notebook, in one run (each nbgrader start costs seconds)."""
    course = copy_course(tmp_path / "course")
    files = [str(p.relative_to(course)) for a in ASSIGNMENTS for p in notebooks(course / "source" / a)]
    _, proc = nbgrader(course, "validate", *files)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout.count("Success! Your notebook passes all the tests.") == len(files), proc.stdout + proc.stderr


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_instructor_version_gets_full_marks(assignment, graded):
    g = graded(assignment)
    assert g.results["autograde"]["returncode"] == 0, g.results["autograde"]["log"]
    for nb, points in max_points(assignment).items():
        got = g.results["scores"]["instructor"][stem(nb)]
        assert got == {gid: [p, p] for gid, p in points.items()}
    # nbgrader reads a number a test cell displays as partial credit: a test cell must display nothing
    for name, nb in g.autograded("instructor").items():
        for gid, cell in grade_cells(nb).items():
            assert not [o for o in cell.outputs if o.output_type == "execute_result"], f"{name}: {gid} displays a value"
            assert not [o for o in cell.outputs if o.output_type == "error"], f"{name}: {gid} failed"


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_release_has_no_solutions_or_hidden_tests(assignment, graded):
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
        for marker in ("BEGIN SOLUTION", "END SOLUTION", "BEGIN HIDDEN TESTS", "END HIDDEN TESTS"):
            assert marker not in text, f"{name} still contains {marker}"
    for name, nb in source.items():
        secrets = secret_lines(nb)
        assert len(secrets) >= 10, "too few solution lines to make this check meaningful"
        leaked = [line for line in secrets if any(line in text for text in texts.values())]
        assert not leaked, f"{name}: the release contains solution or hidden-test lines {leaked[:5]}"
        student = nbformat.read(release / name, as_version=4)
        for gid, cell in solution_cells(student).items():
            assert "raise NotImplementedError()" in cell.source, f"{gid} has no stub for the student"
        assert grade_cells(student).keys() == grade_cells(nb).keys()


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_untouched_release_scores_zero(assignment, graded):
    g = graded(assignment)
    assert g.results["autograde"]["returncode"] == 0, g.results["autograde"]["log"]
    for nb, points in max_points(assignment).items():
        got = g.results["scores"]["untouched"][stem(nb)]
        assert got == {gid: [0.0, p] for gid, p in points.items()}
    # grading went through every cell: each test cell ran and recorded the student's missing answer
    for name, nb in g.autograded("untouched").items():
        for gid, cell in grade_cells(nb).items():
            assert [o.ename for o in cell.outputs if o.output_type == "error"], f"{gid} did not run"


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_one_wrong_part_loses_exactly_its_points(assignment, graded):
    g = graded(assignment)
    loses = BREAKS[assignment].loses
    for nb, points in max_points(assignment).items():
        got = g.results["scores"]["mutant"][stem(nb)]
        want = {gid: [0.0 if gid in loses else p, p] for gid, p in points.items()}
        assert got == want
    total = sum(p for pts in max_points(assignment).values() for p in pts.values())
    lost = sum(p for pts in max_points(assignment).values() for gid, p in pts.items() if gid in loses)
    got_total = sum(s for per_nb in g.results["scores"]["mutant"].values() for s, _ in per_nb.values())
    assert 0 < lost < total and got_total == total - lost


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_flood_of_prints_is_truncated_and_graded(assignment, graded):
    g = graded(assignment)
    for nb, points in max_points(assignment).items():
        assert g.results["scores"]["noisy"][stem(nb)] == {gid: [p, p] for gid, p in points.items()}
    for nb in g.autograded("noisy").values():
        first = next(iter(solution_cells(nb).values()))
        text = "".join(o.text for o in first.outputs if o.output_type == "stream")
        assert "Output truncated" in text and len(text.splitlines()) <= 1001


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_runaway_loop_is_stopped_by_the_timeout(assignment, graded):
    g = graded(assignment)
    run = g.results["autograde"]
    assert run["returncode"] == 0, run["log"]
    loses = BREAKS[assignment].loses
    for nb, points in max_points(assignment).items():
        got = g.results["scores"]["looper"][stem(nb)]
        assert got == {gid: [0.0 if gid in loses else p, p] for gid, p in points.items()}
    # What nbgrader 0.9 does on a timeout: it interrupts the kernel (which survives), the cell gets
    # two error outputs, the kernel's KeyboardInterrupt and nbgrader's CellTimeoutError, so that
    # test cell scores zero, and the next cells run as usual.  Here the loop must be cut once.
    timed_out = [cell for nb in g.autograded("looper").values() for cell in nb.cells if cell.cell_type == "code"
                 and any(o.output_type == "error" and o.ename == "CellTimeoutError" for o in cell.outputs)]
    assert len(timed_out) == 1
    seconds = run["execution_seconds"]
    print(f"{assignment}: executing the notebooks took {seconds} s with a {TIMEOUT} s cell timeout")
    # the rest of the notebook takes seconds, like the instructor's whole notebook
    assert TIMEOUT <= seconds["looper"] < TIMEOUT + seconds["instructor"] + 30
