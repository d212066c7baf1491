"""Numbers the prose quotes, one source for the built book and for a live notebook.

A code cell records a result with ``glue("pair_mean", value, display=False)``; a markdown
cell quotes it with the inline role ``{eval}`glued("pair_mean", ".1%")```, where the second
argument is a Python format spec.  The same role is evaluated by MyST-NB while it builds the
book (``execute_notebooks: inline`` in ``_config.yml``) and by jupyterlab-myst in JupyterLab,
so the reader sees the number in both, and nobody types it.

``glue`` also hands the value to MyST-NB's own ``glue`` when MyST-NB is installed (so its
``{glue:...}`` roles keep working); without MyST-NB (Colab, a plain Jupyter), it only records
the value, and ``display=True`` shows it as any output would.  tools/jupyter_prose.py converts
``{glue:text}`` roles into this form.
"""
import re

_values = {}

NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


class Quoted:
    """A formatted value whose text/plain form is the text itself (no quotes around it)."""

    def __init__(self, text):
        self.text = text

    def __repr__(self):
        return self.text

    __str__ = __repr__

    def __eq__(self, other):
        return str(other) == self.text


def glue(name, value, display=True):
    """Record value under name for the prose (and for MyST-NB's glue, where installed)."""
    if not isinstance(name, str) or not NAME.match(name):
        raise ValueError(f"glue needs a Python identifier as its name, got {name!r}")
    if hasattr(value, "item") and getattr(value, "shape", None) == ():
        value = value.item()  # a NumPy scalar: its plain Python value reads the same everywhere
    _values[name] = value
    try:
        from myst_nb import glue as nb_glue
    except ImportError:
        if display:
            from IPython.display import display as show

            show(value)
        return
    nb_glue(name, value, display=display)


def glued(name, spec=""):
    """The value glued under name, formatted with the format spec (e.g. ".2f", ".1%", ",d")."""
    if name not in _values:
        known = ", ".join(sorted(_values)) or "none yet"
        raise ValueError(f"nothing was glued under {name!r} (glued so far: {known})")
    return Quoted(format_value(_values[name], spec))


def format_value(value, spec=""):
    """format(value, spec) as MyST-NB's {glue:text} does it: the spec's type letter decides
    the type (".0f" of an int, "d" of a whole float), and no spec is str(value)."""
    if spec == "":
        return str(value)
    kind = spec[-1]
    if kind == "s":
        value = str(value)
    elif kind in "bcdoxX":
        value = int(value)
    elif kind in "eEfFgGn%":
        value = float(value)
    return format(value, spec)


def values():
    """A copy of everything glued in this kernel so far (name -> value)."""
    return dict(_values)
