"""The grading report of one assignment: what the teacher must look at after `nbgrader autograde`.

    python -m grader.report ASSIGNMENT        (from assignments/; `make assignments-report A=...`)

One line per submitted student: score, lateness, and the problems, in three groups:
  GRADING FAILED  autograde crashed for this student (no graded notebook), the grader could not run,
                  or a check hit a fault of the grader: the score is not a grade; look and grade again.
  TAMPERING       what the student's code or notebook did that honest work does not: imports of lib or
                  of modules outside numpy/sympy/math..., IPython hooks, sys/builtins tricks, rebinding
                  numpy or the notebook's helpers, classes that redefine equality, results typed in or
                  not reproduced by the student's own functions, locked cells edited or deleted.
                  (The grade never depended on any of it; these are for the teacher to follow up.)
  to check        cells of the student's code that raised an error when the grader ran them (usual for
                  unfinished work).
nbgrader's own "checksum has changed" warnings are not used: they also appear for untouched
notebooks (nbgrader issue 1961); the report compares the cells' text instead.
The report is printed and written to reports/ASSIGNMENT.txt.
"""
import json
import sys
from pathlib import Path

from nbgrader.api import Gradebook, MissingEntry


def lines_for(assignment, root=Path(".")):
    submitted = sorted(p.parent.name for p in (root / "submitted").glob(f"*/{assignment}") if p.is_dir())
    out, problems = [], {"failed": [], "tampering": []}
    with Gradebook(f"sqlite:///{(root / 'gradebook.db').resolve()}") as gb:
        a = gb.find_assignment(assignment)
        due = a.duedate
        out.append(f"{assignment}: {len(submitted)} submissions, due {due or 'no due date set'}, "
                   f"max score {a.max_score:g}")
        for student in submitted:
            failed, tampering, check = [], [], []
            try:
                sub = gb.find_submission(assignment, student)
                score = f"{sub.score:g}/{a.max_score:g}"
                late = f", late by {sub.total_seconds_late / 3600:.1f} h" if sub.total_seconds_late > 0 else ""
                manual = sum(1 for nb in sub.notebooks for g in nb.grades if g.needs_manual_grade)
                if manual:
                    check.append(f"{manual} answer(s) to grade by hand")
            except MissingEntry:
                score, late = "not graded", ""
                failed.append("not in the gradebook: run nbgrader autograde")
            graded = root / "autograded" / student / assignment
            if not list(graded.glob("*.ipynb")):
                failed.append("autograde failed: no graded notebook (see nbgrader's log); the score is not a grade")
            report = root / "reports" / assignment / f"{student}.json"
            sent = root / "submitted" / student / assignment
            if not report.exists():
                failed.append("the grader has no result for this submission")
            else:
                r = json.loads(report.read_text())
                if any(p.stat().st_mtime > report.stat().st_mtime for p in sent.glob("*.ipynb")):
                    failed.append("the submission is newer than the grader's result: grade again")
                if r.get("grading_failed"):
                    failed.append("the grader could not run: " + r["grading_failed"].strip().splitlines()[-1][:200])
                failed += [f"grader fault in {e}" for e in r.get("grading_errors", [])]
                tampering += r.get("flags", []) + r.get("edits", [])
                check += [f"{gid} raised {err}"[:160] for gid, err in r.get("answer_errors", {}).items()]
            out.append(f"{student}: {score}{late}")
            out += [f"    GRADING FAILED  {x}" for x in failed]
            out += [f"    TAMPERING       {x}" for x in tampering]
            out += [f"    to check        {x}" for x in check]
            if failed:
                problems["failed"].append(student)
            if tampering:
                problems["tampering"].append(student)
    out.append(f"grading failed for: {', '.join(problems['failed']) or 'nobody'}")
    out.append(f"tampering flagged for: {', '.join(problems['tampering']) or 'nobody'}")
    return out, problems


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 1:
        sys.exit("usage: python -m grader.report ASSIGNMENT")
    lines, problems = lines_for(argv[0])
    text = "\n".join(lines) + "\n"
    Path("reports").mkdir(exist_ok=True)
    Path("reports", f"{argv[0]}.txt").write_text(text)
    Path("reports", f"{argv[0]}.json").write_text(json.dumps(problems))
    print(text, end="")


if __name__ == "__main__":
    main()
