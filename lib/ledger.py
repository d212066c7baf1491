"""The verification ledger: every check a chapter makes, what kind it is and what it measured.

Each check (a SymPy identity, SymPy against ``lib``, finite differences, a statistic over
seeds, a single run) adds a row here as it passes; a failing check raises before it is recorded,
so the notebook stops.  Each check shows a small mark of its kind that links to its row, and
``table()`` at the end of the chapter lists them all.  Used from chapter 1 on.
"""
import html
from dataclasses import dataclass, field

import numpy as np

KINDS = {
    # kind: (short label on the mark, what the kind means, for the table's legend)
    "symbolic": ("SymPy", "an identity or derivation step proved by SymPy"),
    "lib": ("lib", "the SymPy formula evaluated numerically against what lib computes"),
    "finite-difference": ("FD", "lib's backward pass against central finite differences"),
    "statistical": ("seeds", "a measurement repeated over seeds, asserted on the mean"),
    "experiment": ("run", "a single run's result, asserted against a stated window"),
}


@dataclass
class Entry:
    """One row of the ledger.  Truthy, so ``assert assert_equal(...)`` still reads naturally."""

    number: int
    chapter: str
    kind: str
    what: str
    measured: str = ""
    formula: str = ""
    extra: dict = field(default_factory=dict)

    @property
    def anchor(self):
        return f"check-{self.chapter}-{self.number}"

    def mark_html(self, in_text=True):
        """The mark: in the text it links down to the ledger row (and is the row's way back up)."""
        label = KINDS[self.kind][0]
        title = html.escape(f"Check {self.number} ({self.kind}): {self.what}. {self.measured}".strip())
        if self.extra.get("after_table"):  # an exercise's solution, checked after the table was shown
            return f'<span class="nnb-mark nnb-mark-{self.kind}" title="{title}">&#10003;&#8201;{label}</span>'
        where = f'id="{self.anchor}-at" href="#{self.anchor}"' if in_text else f'href="#{self.anchor}-at"'
        # the visible text is the link's name (what a screen reader says); the title describes it
        return (
            f'<a class="nnb-mark nnb-mark-{self.kind}" {where} title="{title}">'
            f"&#10003;&#8201;{label}&#8201;{self.number}</a>"
        )

    def what_html(self):
        what = html.escape(self.what)
        if self.formula:  # typeset by MathJax, like the page's own math
            tex = html.escape(self.formula, quote=False)
            what += f' <span class="math notranslate nohighlight">\\({tex}\\)</span>'
        return what

    def _repr_html_(self):
        what = html.escape(self.what)
        measured = f" &middot; {html.escape(self.measured)}" if self.measured else ""
        return f'<div class="nnb-check">{self.mark_html()} <span>{what}{measured}</span></div>'

    def _ipython_display_(self):
        # shown once: when the check runs, not again when a cell ends with the returned entry
        if not self.extra.get("shown"):
            from IPython.display import HTML, display

            self.extra["shown"] = True
            display(HTML(self._repr_html_()))

    def show(self, lhs=None):
        """Render the checked identity lhs = rhs (when there is one) with this entry's mark."""
        from lib.symbolic import render_checked

        render_checked(self, lhs)
        return self

    def __bool__(self):
        return True


class Ledger:
    def __init__(self, chapter="book"):
        self.start(chapter)

    def start(self, chapter):
        if not str(chapter).replace("-", "").replace("_", "").isalnum():
            raise ValueError(f"ledger.start expects a short name such as 'ch2', got {chapter!r}")
        self.chapter, self.entries, self.table_shown = str(chapter), [], False
        return self

    def record(self, kind, what, measured="", formula="", **extra):
        if kind not in KINDS:
            raise ValueError(f"unknown check kind {kind!r}; known: {', '.join(KINDS)}")
        if self.table_shown:  # checks in the exercises' solutions still run and show their kind
            extra["after_table"] = True
        entry = Entry(len(self.entries) + 1, self.chapter, kind, what, measured, formula, extra)
        self.entries.append(entry)
        return entry

    def counts(self):
        return {k: sum(e.kind == k for e in self.entries) for k in KINDS}

    def table_html(self):
        counts = self.counts()
        summary = ", ".join(f"{n} {KINDS[k][0]}" for k, n in counts.items() if n)
        rows = "".join(
            f'<tr id="{e.anchor}"><td>{e.number}</td>'
            f"<td>{e.mark_html(in_text=False) if e.extra.get('shown') else KINDS[e.kind][0]}</td>"
            f"<td>{e.what_html()}</td><td>{html.escape(e.measured)}</td></tr>"
            for e in self.entries
        )
        legend = "".join(
            f'<li><span class="nnb-mark nnb-mark-{k}">&#10003;&#8201;{lab}</span> {html.escape(d)}</li>'
            for k, (lab, d) in KINDS.items()
        )
        return (
            f'<div class="nnb-ledger"><p><strong>{len(self.entries)} checks</strong> ran when this '
            f"page was built, and every one passed: {summary}.</p>"
            f'<ul class="nnb-ledger-legend">{legend}</ul>'
            '<table class="nnb-ledger-table"><thead><tr><th scope="col">#</th><th scope="col">kind</th>'
            '<th scope="col">what was checked</th><th scope="col">measured</th></tr></thead>'
            f"<tbody>{rows}</tbody></table></div>"
        )


LEDGER = Ledger()


def start(chapter):
    """Begin a chapter's ledger (the notebook's first code cell); earlier rows are dropped."""
    return LEDGER.start(chapter)


def record(kind, what, measured="", formula="", show=True, **extra):
    """Add a row of the given kind and (by default) display its mark; return the entry."""
    entry = LEDGER.record(kind, what, measured, formula, **extra)
    if show:
        _display(entry)
    return entry


def _display(obj):
    try:
        from IPython import get_ipython
        from IPython.display import display
    except ImportError:  # plain Python: nothing to show
        return
    if get_ipython() is not None:
        display(obj)


def _fmt(x):
    return f"{x:.3g}"


def check_fd(what, error, tol=1e-7):
    """Record a finite-difference check: assert the relative error is at most tol."""
    error = float(error)
    if not np.isfinite(error) or error > tol:
        raise AssertionError(f"{what}: finite-difference relative error {error:.3g} exceeds {tol:.1g}")
    return record("finite-difference", what, f"relative error {_fmt(error)} (tolerance {tol:.0e})")


@dataclass
class Summary:
    """Mean, standard deviation and count of a measurement over seeds (plain floats, for glue)."""

    mean: float
    std: float
    n: int
    values: tuple

    def __str__(self):
        return f"{_fmt(self.mean)} ± {_fmt(self.std)} over {self.n} seeds"

    __repr__ = __str__


def summarize(values):
    v = np.asarray(values, dtype=float).ravel()
    if v.size == 0 or not np.all(np.isfinite(v)):
        raise ValueError(f"summarize expects finite values, got {v}")
    std = float(v.std(ddof=1)) if v.size > 1 else 0.0
    return Summary(float(v.mean()), std, int(v.size), tuple(float(a) for a in v))


MIN_SEEDS = 5


def measure(what, values, low=None, high=None):
    """Assert a measured quantity lies in [low, high] and record it.

    values: one number (kind "experiment", a single run) or one number per seed (kind
    "statistical": at least five seeds; the mean is asserted and the spread recorded).
    Returns a Summary (mean, std, n) whose fields are plain Python numbers for glue.
    """
    v = np.atleast_1d(np.asarray(values, dtype=float)).ravel()
    if v.size > 1 and v.size < MIN_SEEDS:
        raise ValueError(f"{what}: a statistical measurement needs at least {MIN_SEEDS} seeds, got {v.size}")
    s = summarize(v)
    window = f"[{'' if low is None else _fmt(low)}, {'' if high is None else _fmt(high)}]"
    if (low is not None and s.mean < low) or (high is not None and s.mean > high):
        raise AssertionError(f"{what}: measured {s} is outside the expected window {window}")
    kind = "statistical" if v.size > 1 else "experiment"
    shown = str(s) if v.size > 1 else f"{_fmt(s.mean)} (one run)"
    record(kind, what, f"{shown}; expected in {window}")
    return s


def rank(what, results, order):
    """Assert that the means of results[name] (one value per seed) increase in the given order.

    results: dict name -> values over the same >= 5 seeds; order: names, smallest mean first.
    Records the means with their spread and the fraction of seeds in which the order held.
    Returns a dict name -> Summary.
    """
    if sorted(order) != sorted(results):
        raise ValueError(f"{what}: order {order} must name each of {sorted(results)} once")
    arrays = {k: np.asarray(results[k], dtype=float).ravel() for k in order}
    sizes = {v.size for v in arrays.values()}
    if len(sizes) != 1 or min(sizes) < MIN_SEEDS:
        raise ValueError(f"{what}: a ranking needs the same >= {MIN_SEEDS} seeds for each entry, got sizes "
                         f"{ {k: v.size for k, v in arrays.items()} }")
    summaries = {k: summarize(v) for k, v in arrays.items()}
    means = [summaries[k].mean for k in order]
    if not all(a < b for a, b in zip(means, means[1:])):
        got = ", ".join(f"{k}: {summaries[k]}" for k in order)
        raise AssertionError(f"{what}: the means are not in the order {' < '.join(order)} ({got})")
    stacked = np.stack([arrays[k] for k in order])
    held = int(np.sum(np.all(np.diff(stacked, axis=0) > 0, axis=0)))
    text = " < ".join(f"{k} {_fmt(summaries[k].mean)}±{_fmt(summaries[k].std)}" for k in order)
    record("statistical", what, f"{text}; order held in {held} of {stacked.shape[1]} seeds")
    return summaries


def table():
    """Display the chapter's ledger: every check that ran, its kind and what it measured.

    A row whose check shows a mark in the text links back up to it.  Checks made after the table
    (in the exercises' solutions, which a build for students leaves out) still show the mark of
    their kind, without a number or link."""
    from IPython.display import HTML, display

    display(HTML(LEDGER.table_html()))
    LEDGER.table_shown = True
