# nbgrader configuration of the book's course.  Run every nbgrader command from this folder
# (`cd assignments`): nbgrader reads this file from the current directory, and the course
# root (source/, release/, submitted/, autograded/, feedback/, reports/, gradebook.db) is that folder.
import os
import sys

from nbconvert.preprocessors import ClearMetadataPreprocessor
from nbgrader.preprocessors import (AssignLatePenalties, CheckCellMetadata, Execute, IgnorePattern, LimitOutput,
                                    SaveAutoGrades)

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from grader.autograde import TrustedGrade  # noqa: E402  (the course's grader, beside this file)

c = get_config()  # noqa: F821 (provided by nbgrader when it loads this file)

c.CourseDirectory.course_id = "nnbook"

# nbgrader's exchange (release_assignment, fetch, submit, collect, release_feedback): a folder every
# student can write to.  Without root, point it anywhere, e.g. `export NBGRADER_EXCHANGE=/shared/exchange`
# (students pass the same folder: --Exchange.root=/shared/exchange).
c.Exchange.root = os.environ.get("NBGRADER_EXCHANGE", "/srv/nbgrader/exchange")

# Each cell of a student's notebook gets at most this many seconds when the notebook is
# executed (nbgrader validate, nbgrader autograde).  A cell that runs longer is interrupted and
# recorded as an error (CellTimeoutError), and grading goes on with the next cell.  The grader's
# own calls into the student's code have the same limit (grader/trusted.py, CELL_SECONDS).
c.ExecutePreprocessor.timeout = 30

# A student who prints in a loop fills the graded notebook: keep the first 1000 lines of each
# cell's output and the ends of long tracebacks (nbgrader's defaults, stated here on purpose).
c.LimitOutput.max_lines = 1000
c.LimitOutput.max_traceback = 100

# A test cell the student deleted is put back (with a comment saying so) and graded as usual;
# grader.report lists it.  Edited locked cells are always replaced by the original by nbgrader.
c.OverwriteCells.add_missing_cells = True

# The grade of each test cell comes from the course's grader (grader/), which runs the student's
# answers again in fresh Python processes; the kernel's own run only provides the outputs shown in
# the feedback.  TrustedGrade must come after LimitOutput and before SaveAutoGrades.
c.Autograde.autograde_preprocessors = [Execute, IgnorePattern, ClearMetadataPreprocessor, LimitOutput, TrustedGrade,
                                       SaveAutoGrades, AssignLatePenalties, CheckCellMetadata]
