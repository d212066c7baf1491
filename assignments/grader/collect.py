"""Put submissions that reached you outside nbgrader's exchange (e-mail, a shared drive, a USB stick)
where nbgrader expects them, with the timestamp.txt that autograde (lateness) and release_feedback need.

    python -m grader.collect ASSIGNMENT FOLDER [--time "2026-12-01 17:00:00"]

(from assignments/; `make assignments-collect A=ASSIGNMENT FROM=FOLDER`).  FOLDER holds one notebook per
student named STUDENT_ID.ipynb, or one folder per student, STUDENT_ID/ASSIGNMENT.ipynb.  Each becomes
submitted/STUDENT_ID/ASSIGNMENT/ASSIGNMENT.ipynb; timestamp.txt gets --time (UTC) or else the file's
modification time.  A previous submission of the same student is replaced (and said so).
A submission_secret.txt is written too, as the exchange does: without it nbgrader release_feedback
stops at that student.
"""
import argparse
import secrets
import shutil
from datetime import datetime, timezone
from pathlib import Path

FORMAT = "%Y-%m-%d %H:%M:%S.%f UTC"   # what nbgrader's own collect writes (parsed as UTC)


def found(folder, assignment):
    for p in sorted(Path(folder).iterdir()):
        if p.is_file() and p.suffix == ".ipynb":
            yield p.stem, p
        elif p.is_dir() and (p / f"{assignment}.ipynb").exists():
            yield p.name, p / f"{assignment}.ipynb"


def collect(assignment, folder, when=None, root=Path(".")):
    done = []
    for student, path in found(folder, assignment):
        dest = root / "submitted" / student / assignment
        if dest.exists():
            print(f"{student}: replacing the previous submission")
            shutil.rmtree(dest)
        dest.mkdir(parents=True)
        shutil.copy2(path, dest / f"{assignment}.ipynb")
        stamp = when or datetime.fromtimestamp(path.stat().st_mtime, timezone.utc)
        (dest / "timestamp.txt").write_text(stamp.strftime(FORMAT))
        # nbgrader release_feedback reads it for every graded student (the exchange writes it on submit);
        # these students get their feedback page from you, not through the exchange
        (dest / "submission_secret.txt").write_text(secrets.token_hex(16))
        print(f"{student}: {path} -> {dest / (assignment + '.ipynb')}, submitted {stamp.strftime(FORMAT)}")
        done.append(student)
    if not done:
        raise SystemExit(f"no STUDENT.ipynb or STUDENT/{assignment}.ipynb in {folder}")
    return done


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("assignment")
    parser.add_argument("folder")
    parser.add_argument("--time", help="submission time for all, UTC, e.g. '2026-12-01 17:00:00'")
    args = parser.parse_args(argv)
    when = datetime.fromisoformat(args.time).replace(tzinfo=timezone.utc) if args.time else None
    collect(args.assignment, args.folder, when)


if __name__ == "__main__":
    main()
