"""The grader inside `nbgrader autograde` (nbgrader_config.py puts TrustedGrade before SaveAutoGrades).

nbgrader runs the student's notebook in a kernel as usual, so the feedback shows the student's own
outputs.  Then TrustedGrade grades the notebook again with grader.trusted, in fresh processes, and
rewrites each autograded test cell's outputs so that nbgrader's SaveAutoGrades records exactly the
grader's verdict: the kernel's errors become plain text, stderr (warnings) cannot zero a cell, a
displayed value cannot claim partial credit, and a failed check becomes one error output whose
message is written for the student.  The full result, with what the teacher must look at, goes
to reports/ASSIGNMENT/STUDENT.json (grader.report lists it).
"""
import hashlib
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import nbformat

import lib
from nbformat.v4 import new_output

from nbgrader.preprocessors import NbGraderPreprocessor
from nbgrader import utils

from .trusted import defined_names, scan

HERE = Path(__file__).resolve().parent
LIB = Path(lib.__file__).resolve().parent   # the book's lib, as this environment imports it
TOTAL_SECONDS = 900   # a whole submission; every check call has its own 30 s limit as well


def manifest():
    """Hashes of the grader's and lib's files: student code runs with the teacher's permissions and
    could rewrite them, so they are checked before every submission is graded."""
    files = sorted(HERE.glob("*.py")) + sorted(LIB.glob("*.py"))
    return {str(p): hashlib.sha256(p.read_bytes()).hexdigest() for p in files}


MANIFEST = manifest()


def kernel_output_as_text(output):
    if output.output_type == "stream":
        return output.text if output.name == "stdout" else "".join(f"[stderr] {line}\n" for line in output.text.splitlines())
    if output.output_type == "error":
        return f"In your notebook this cell raised {output.ename}: {output.evalue}\n"
    return ""


class TrustedGrade(NbGraderPreprocessor):

    def preprocess(self, nb, resources):
        info = resources["nbgrader"]
        student, assignment, notebook = info["student"], info["assignment"], info["notebook"]
        root = Path.cwd()
        report = root / "reports" / assignment / f"{student}.json"
        report.parent.mkdir(parents=True, exist_ok=True)
        changed = [p for p, h in manifest().items() if MANIFEST.get(p) != h]
        if changed:
            message = (f"grader or lib files changed while grading: {changed}; restore them with git "
                       f"and grade again")
            source = nbformat.read(root / "source" / assignment / f"{notebook}.ipynb", as_version=4)
            locked = [c.source for c in source.cells if c.cell_type == "code" and utils.is_locked(c)
                      and not utils.is_grade(c)]
            answers = {c.metadata.nbgrader["grade_id"]: c.source for c in nb.cells
                       if c.cell_type == "code" and utils.is_solution(c)}
            report.write_text(json.dumps({"grading_failed": message, "parts": {}, "notebook": notebook,
                                          "flags": scan(answers, defined_names(locked))}, indent=1))
            raise RuntimeError(message)
        with tempfile.TemporaryDirectory(prefix="autograde-") as tmp:
            path = Path(tmp) / f"{notebook}.ipynb"
            nbformat.write(nb, path)
            out = Path(tmp) / "result.json"
            submitted = root / "submitted" / student / assignment / f"{notebook}.ipynb"
            try:
                proc = subprocess.run([sys.executable, "-m", "grader.trusted", assignment, str(path), str(out),
                                       "--submitted", str(submitted)], cwd=root, capture_output=True, text=True,
                                      timeout=TOTAL_SECONDS)
                failure = None if proc.returncode == 0 and out.exists() else proc.stderr[-3000:]
            except subprocess.TimeoutExpired:
                failure = f"the grader took longer than {TOTAL_SECONDS} s"
            result = json.loads(out.read_text()) if failure is None else {"grading_failed": failure, "parts": {}}
        result["notebook"] = notebook
        report.write_text(json.dumps(result, indent=1))
        if manifest() != MANIFEST:
            raise RuntimeError("grader or lib files changed while this submission was graded")

        for cell in nb.cells:
            if not utils.is_grade(cell) or utils.is_solution(cell) or cell.cell_type != "code":
                continue
            verdict = result["parts"].get(cell.metadata.nbgrader["grade_id"])
            text = "".join(kernel_output_as_text(o) for o in cell.outputs)
            cell.outputs = [new_output("stream", name="stdout", text=text)] if text else []
            if verdict is None:
                message = "this part could not be graded automatically; your teacher will grade it by hand"
            elif verdict["passed"]:
                continue
            else:
                message = verdict["message"]
            cell.outputs.append(new_output("error", ename="Check failed", evalue=message,
                                           traceback=[f"Check failed: {message}"]))
        return nb, resources
