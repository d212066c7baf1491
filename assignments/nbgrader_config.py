# nbgrader configuration of the book's course.  Run every nbgrader command from this folder
# (`cd assignments`): nbgrader reads this file from the current directory, and the course
# root (source/, release/, submitted/, autograded/, feedback/, gradebook.db) is that folder.
c = get_config()  # noqa: F821 (provided by nbgrader when it loads this file)

c.CourseDirectory.course_id = "nnbook"

# Each cell of a student's notebook gets at most this many seconds when the notebook is
# executed (nbgrader validate, nbgrader autograde).  A cell that runs longer is interrupted and
# recorded as an error (CellTimeoutError), so its test cell scores zero and grading goes on with
# the next cell.  Every solution cell of the book's assignments finishes in a few seconds.
c.ExecutePreprocessor.timeout = 30

# A student who prints in a loop fills the graded notebook: keep the first 1000 lines of each
# cell's output and the ends of long tracebacks (nbgrader's defaults, stated here on purpose).
c.LimitOutput.max_lines = 1000
c.LimitOutput.max_traceback = 100
