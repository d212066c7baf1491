"""The course's grader: it grades each submission in fresh Python processes, never in the kernel
that ran the student's notebook.  See assignments/README.md for the design and how to add an
assignment; grader.autograde plugs it into `nbgrader autograde` (nbgrader_config.py)."""
