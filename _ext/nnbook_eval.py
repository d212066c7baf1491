"""The ``{eval}`glued("name", "spec")``` role of the chapters' prose, in the book build.

In JupyterLab, jupyterlab-myst evaluates such a role in the kernel (lib.glue.glued formats the
value glued under "name").  MyST-NB evaluates ``{eval}`` only when it executes notebooks inline;
this book executes through jupyter-cache (``execute_notebooks: cache``), which re-runs only
changed notebooks and lets prose quote a number glued further down.  So here the same role
reads the value from the notebook's glue data, which lib.glue.glue also writes, and formats it
exactly as lib.glue.glued does (MyST-NB's {glue:text} formatting).  Any other ``{eval}``
expression goes to MyST-NB's own role, which needs inline execution.
"""
import ast

from docutils import nodes
from myst_nb.core.variables import RetrievalError, format_plain_text
from myst_nb.ext.eval import EvalRoleAny
from myst_nb.ext.glue.utils import retrieve_glue_data
from myst_nb.ext.utils import RoleBase


def parse_glued(text):
    """('name', 'spec') for the expression glued("name") or glued("name", "spec"), else None."""
    try:
        call = ast.parse(text.strip(), mode="eval").body
    except SyntaxError:
        return None
    if not (isinstance(call, ast.Call) and isinstance(call.func, ast.Name) and call.func.id == "glued"):
        return None
    args = call.args
    if call.keywords or not 1 <= len(args) <= 2:
        return None
    if not all(isinstance(a, ast.Constant) and isinstance(a.value, str) for a in args):
        return None
    return args[0].value, (args[1].value if len(args) == 2 else "")


class GluedRole(RoleBase):
    def __call__(self, name, rawtext, text, lineno, inliner, options=None, content=()):
        self.call = (name, rawtext, text, lineno, inliner, options, content)
        return super().__call__(name, rawtext, text, lineno, inliner, options, content)

    def run(self):
        parsed = parse_glued(self.text)
        if parsed is None:  # some other expression: MyST-NB's role (inline execution only)
            return EvalRoleAny()(*self.call)
        name, spec = parsed
        try:
            data = retrieve_glue_data(self.document, name)
            text = format_plain_text(data.data["text/plain"], spec)
        except (RetrievalError, KeyError, ValueError, TypeError) as exc:
            msg = self.document.reporter.warning(
                f'{{eval}}`{self.text}`: {exc!r} (is "{name}" glued by a code cell of this page?)',
                line=self.line,
            )
            return [], [msg]
        node = nodes.inline(text, text, classes=["pasted-text", "nnb-glued"])
        self.set_source_info(node)
        return [node], []


def setup(app):
    app.add_role("eval", GluedRole(), override=True)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
