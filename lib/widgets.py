"""Interactive figures that work both in Jupyter and in the static HTML book.

``explore(draw, a=[...], b=[...])`` calls ``draw(a=..., b=...)`` (which returns a
matplotlib Figure) for every combination of the listed values, once, while the notebook
executes, and keeps each figure as a small PNG frame.  The displayed object carries two
views of the same figure:

* a live ipywidgets control (one selection slider per parameter) that Jupyter shows while a
  kernel runs, redrawing on change;
* an HTML block with plain <input type="range"> sliders and a few lines of JavaScript that
  swap the precomputed frames, which the built book shows where no kernel runs.

The book's configuration tells MyST-NB to prefer the HTML view, so the page never waits
for a widget manager.
"""
import base64
import hashlib
import html
import io
import itertools
import json

import numpy as np

FRAME_LIMIT = 400

_SCRIPT = """
(function () {
  var root = document.getElementById("%(id)s");
  var data = JSON.parse(root.querySelector("script.nnb-frames").textContent);
  var img = root.querySelector("img.nnb-frame");
  var sliders = root.querySelectorAll("input.nnb-slider");
  function update() {
    var flat = 0;
    for (var i = 0; i < sliders.length; i++) {
      var k = parseInt(sliders[i].value, 10);
      flat = flat * data.sizes[i] + k;
      root.querySelector("output[data-param='" + i + "']").textContent = data.labels[i][k];
    }
    img.src = data.frames[flat];
    img.setAttribute("data-frame", flat);
  }
  for (var i = 0; i < sliders.length; i++) { sliders[i].addEventListener("input", update); }
})();
"""


def _label(v):
    if isinstance(v, (float, np.floating)):
        return f"{float(v):.4g}"
    return str(v)


def figure_to_png(fig, dpi=72):
    """A matplotlib figure as a base64 data URI (PNG); the figure is closed."""
    import matplotlib.pyplot as plt

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi, bbox_inches="tight")
    plt.close(fig)
    return "data:image/png;base64," + base64.b64encode(_palette_png(buf.getvalue())).decode("ascii")


def _palette_png(png):
    """An opaque PNG as a 256-colour palette PNG when that is smaller (about 3x for line plots,
    with no visible change), since every frame of every figure is embedded in the page."""
    from PIL import Image

    img = Image.open(io.BytesIO(png))
    if img.mode == "RGBA" and img.getchannel("A").getextrema()[0] < 255:
        return png  # transparency: keep it exact
    out = io.BytesIO()
    img.convert("RGB").quantize(colors=256, dither=Image.Dither.NONE).save(out, format="PNG", optimize=True)
    return out.getvalue() if out.tell() < len(png) else png


def static_html(names, values, frames, initial, title=""):
    """The kernel-free view: sliders over value indices, an <img>, the frames as JSON."""
    digest = hashlib.sha1("".join(frames).encode()).hexdigest()[:10]
    uid = f"nnb-explore-{digest}"
    sizes = [len(v) for v in values]
    labels = [[_label(x) for x in v] for v in values]
    flat = int(np.ravel_multi_index(initial, sizes))
    controls = []
    for i, (name, k) in enumerate(zip(names, initial)):
        controls.append(
            f'<label style="margin-right:1.5em">{html.escape(name)} '
            f'<input class="nnb-slider" type="range" min="0" max="{sizes[i] - 1}" step="1" value="{k}" '
            f'aria-label="{html.escape(name)}" data-param="{i}"> '
            f'<output data-param="{i}">{html.escape(labels[i][k])}</output></label>'
        )
    data = json.dumps({"sizes": sizes, "labels": labels, "frames": frames})
    caption = f'<div class="nnb-title"><strong>{html.escape(title)}</strong></div>' if title else ""
    return (
        f'<div class="nnb-explore" id="{uid}">{caption}'
        f'<div class="nnb-controls">{"".join(controls)}</div>'
        f'<img class="nnb-frame" data-frame="{flat}" src="{frames[flat]}" alt="{html.escape(title or "interactive figure")}" '
        f'style="max-width:100%">'
        f'<script type="application/json" class="nnb-frames">{data}</script>'
        f"<script>{_SCRIPT % {'id': uid}}</script></div>"
    )


class Explorable:
    """Displays as the live widget in Jupyter and as the static slider in the built book."""

    def __init__(self, html_view, widget=None):
        self.html = html_view
        self.widget = widget

    def _repr_mimebundle_(self, include=None, exclude=None):
        bundle = {"text/plain": "Interactive figure (move the sliders).", "text/html": self.html}
        if self.widget is not None:
            live = self.widget._repr_mimebundle_()
            if live:
                bundle.update({k: v for k, v in live.items() if k != "text/plain"})
        return bundle


def _live_widget(draw, names, values, initial):
    try:
        import ipywidgets as w
        from IPython.display import display
    except ImportError:  # without ipywidgets the static view is all there is
        return None
    import matplotlib.pyplot as plt

    sliders = {
        n: w.SelectionSlider(options=[(_label(x), x) for x in v], value=v[k], description=n, continuous_update=False)
        for n, v, k in zip(names, values, initial)
    }
    out = w.Output()

    def redraw(**kwargs):
        with out:
            out.clear_output(wait=True)
            fig = draw(**kwargs)
            display(fig)
            plt.close(fig)

    w.interactive_output(redraw, sliders)
    return w.VBox([w.HBox(list(sliders.values())), out])


def explore(draw, title="", initial=None, dpi=72, **params):
    """Precompute draw(**combination) over the grid of params and return an Explorable.

    params: name -> sequence of values (each becomes a slider).  initial: name -> index of
    the value shown first (default: the middle of each list).
    """
    if not params:
        raise ValueError("explore needs at least one parameter, e.g. explore(draw, lr=[0.01, 0.1])")
    names = list(params)
    values = [list(v) for v in params.values()]
    if any(len(v) == 0 for v in values):
        raise ValueError("every parameter of explore needs at least one value")
    count = int(np.prod([len(v) for v in values]))
    if count > FRAME_LIMIT:
        raise ValueError(f"explore would draw {count} frames; keep the grid under {FRAME_LIMIT}")
    start = [len(v) // 2 for v in values]
    for name, k in (initial or {}).items():
        start[names.index(name)] = k
    frames = [
        figure_to_png(draw(**dict(zip(names, combo))), dpi=dpi)
        for combo in itertools.product(*values)
    ]
    return Explorable(static_html(names, values, frames, start, title), _live_widget(draw, names, values, start))
