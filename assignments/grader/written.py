"""Grade the written answers (nbgrader's manually graded cells) without a notebook server.

    python -m grader.written ASSIGNMENT            writes reports/ASSIGNMENT-written.md (every student's
                                                   answers beside the rubric) and a score sheet
                                                   reports/ASSIGNMENT-written.csv to fill in
    python -m grader.written ASSIGNMENT --load reports/ASSIGNMENT-written.csv
                                                   stores the scores and comments in the gradebook

(from assignments/, after nbgrader autograde).  nbgrader's formgrader (a Jupyter server extension)
does the same in a browser; this is the same gradebook, so either can be used.
"""
import argparse
import csv
from pathlib import Path

import nbformat
from nbgrader.api import Gradebook


def manual_cells(nb):
    return [c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade")
            and c.metadata["nbgrader"].get("solution")]


def export(assignment, root=Path(".")):
    source = nbformat.read(root / "source" / assignment / f"{assignment}.ipynb", as_version=4)
    rubric = {c.metadata["nbgrader"]["grade_id"]: c.source for c in manual_cells(source)}
    md, rows = [f"# Written answers of {assignment}\n"], []
    for path in sorted((root / "autograded").glob(f"*/{assignment}/{assignment}.ipynb")):
        student = path.parents[1].name
        for cell in manual_cells(nbformat.read(path, as_version=4)):
            gid, points = cell.metadata["nbgrader"]["grade_id"], cell.metadata["nbgrader"]["points"]
            md += [f"## {student}, {gid} ({points:g} points)\n", cell.source.strip() + "\n"]
            rows.append({"student": student, "cell": gid, "max": points, "score": "", "comment": ""})
    md += ["# Rubrics\n"] + [f"## {gid}\n\n{text.replace('### BEGIN SOLUTION', '').replace('### END SOLUTION', '').strip()}\n"
                             for gid, text in rubric.items()]
    out = root / "reports"
    out.mkdir(exist_ok=True)
    (out / f"{assignment}-written.md").write_text("\n".join(md))
    with open(out / f"{assignment}-written.csv", "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=["student", "cell", "max", "score", "comment"])
        writer.writeheader()
        writer.writerows(rows)
    print(f"{len(rows)} answers: reports/{assignment}-written.md; fill in reports/{assignment}-written.csv")


def load(assignment, sheet, root=Path(".")):
    with open(sheet, newline="") as fh:
        rows = [r for r in csv.DictReader(fh) if r["score"].strip()]
    with Gradebook(f"sqlite:///{(root / 'gradebook.db').resolve()}") as gb:
        for r in rows:
            grade = gb.find_grade(r["cell"], assignment, assignment, r["student"])
            score = float(r["score"])
            if not 0 <= score <= grade.max_score:
                raise SystemExit(f"{r['student']} {r['cell']}: score {score} outside 0..{grade.max_score:g}")
            grade.manual_score = score
            grade.needs_manual_grade = False
            if r["comment"].strip():
                gb.find_comment(r["cell"], assignment, assignment, r["student"]).manual_comment = r["comment"]
        gb.db.commit()
    print(f"stored {len(rows)} scores from {sheet}")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("assignment")
    parser.add_argument("--load", metavar="CSV")
    args = parser.parse_args(argv)
    load(args.assignment, args.load) if args.load else export(args.assignment)


if __name__ == "__main__":
    main()
