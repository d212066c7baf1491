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

Frames are precomputed only where the HTML view is what readers get: in the book build (the
book's Sphinx extension sets NNBOOK_BOOK_BUILD=1 for the kernels it starts).  In a live kernel
elsewhere (JupyterLab, Colab, nbval) only the first frame is drawn, for the HTML fallback, and
the live widget draws the others on demand.

Every frame has alt text: ``alt=`` is a string, or a function called with the same keyword
arguments as ``draw`` that returns one; the static view swaps it with the frame, the live
widget shows it with each redraw.
"""
import base64
import hashlib
import html
import io
import itertools
import json
import os

import numpy as np

FRAME_LIMIT = 400
BOOK_BUILD_ENV = "NNBOOK_BOOK_BUILD"

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
      sliders[i].setAttribute("aria-valuetext", data.labels[i][k]);
    }
    img.src = data.frames[flat];
    img.alt = data.alts[flat];
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


def static_html(names, values, frames, initial, title="", alts=None):
    """The kernel-free view: sliders over value indices, an <img>, the frames and their alt
    texts as JSON.  With a single frame (no precomputed grid) it is that frame alone."""
    sizes = [len(v) for v in values]
    labels = [[_label(x) for x in v] for v in values]
    alts = list(alts) if alts is not None else [title or "interactive figure"] * len(frames)
    digest = hashlib.sha1(("".join(frames) + "".join(alts)).encode()).hexdigest()[:10]
    uid = f"nnb-explore-{digest}"
    caption = f'<div class="nnb-title"><strong>{html.escape(title)}</strong></div>' if title else ""
    if len(frames) == 1 and np.prod(sizes) > 1:
        shown = ", ".join(f"{n} = {labels[i][k]}" for i, (n, k) in enumerate(zip(names, initial)))
        return (
            f'<div class="nnb-explore nnb-single" id="{uid}">{caption}'
            f'<img class="nnb-frame" src="{frames[0]}" alt="{html.escape(alts[0])}" style="max-width:100%">'
            f'<div class="nnb-note">{html.escape(shown)} (run the notebook with its widgets to move them)</div></div>'
        )
    flat = int(np.ravel_multi_index(initial, sizes))
    controls = []
    for i, (name, k) in enumerate(zip(names, initial)):
        controls.append(
            f'<label class="nnb-control">{html.escape(name)} '
            f'<input class="nnb-slider" type="range" min="0" max="{sizes[i] - 1}" step="1" value="{k}" '
            f'aria-valuetext="{html.escape(labels[i][k])}" data-param="{i}"> '
            f'<output data-param="{i}" aria-live="polite">{html.escape(labels[i][k])}</output></label>'
        )
    data = json.dumps({"sizes": sizes, "labels": labels, "frames": frames, "alts": alts})
    return (
        f'<div class="nnb-explore" id="{uid}">{caption}'
        f'<div class="nnb-controls">{"".join(controls)}</div>'
        f'<img class="nnb-frame" data-frame="{flat}" src="{frames[flat]}" alt="{html.escape(alts[flat])}" '
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


# ipywidgets' sliders (noUiSlider) give their handle role="slider" but no accessible name; the
# visible description beside it is not linked to it.  Run with each redraw, this names every
# slider handle on the page after its description (screen readers then say "lr, 0.03"); it
# retries for a few seconds, since the widget may be drawn after the script runs.
_NAME_HANDLES = """
(function () {
  var tries = 0;
  function name() {
    document.querySelectorAll(".widget-slider").forEach(function (s) {
      var label = s.querySelector(".widget-label"), handle = s.querySelector("[role='slider']");
      if (label && handle && !handle.getAttribute("aria-label")) {
        handle.setAttribute("aria-label", label.textContent.trim());
      }
    });
    if (++tries < 20) { setTimeout(name, 250); }
  }
  name();
})();
"""


def _key(kwargs):
    return repr(sorted(kwargs.items()))


def _live_widget(draw, names, values, initial, alt_of, dpi, drawn):
    try:
        import ipywidgets as w
        from IPython.display import HTML, Javascript, display
    except ImportError:  # without ipywidgets the static view is all there is
        return None

    sliders, controls = {}, []
    for n, v, k in zip(names, values, initial):
        # The value is shown by a label of its own, as wide as it needs (the slider's built-in
        # readout cuts long labels such as "horizontal edges (Sobel)"); the slider has an
        # accessible name (its description) and moves with the arrow keys once focused.
        slider = w.SelectionSlider(
            options=[(_label(x), x) for x in v], value=v[k], description=n, readout=False,
            continuous_update=False, style={"description_width": "initial"},
        )
        shown = w.Label(value=_label(v[k]), layout=w.Layout(width="auto", margin="0 1.5em 0 0.5em"))
        slider.observe(lambda change, shown=shown: setattr(shown, "value", _label(change["new"])), names="value")
        sliders[n] = slider
        controls.append(w.HBox([slider, shown], layout=w.Layout(width="auto")))
    out = w.Output()

    def redraw(**kwargs):
        with out:
            out.clear_output(wait=True)
            png = drawn.get(_key(kwargs)) or figure_to_png(draw(**kwargs), dpi=dpi)
            display(HTML(f'<img class="nnb-live-frame" src="{png}" alt="{html.escape(alt_of(kwargs))}" style="max-width:100%">'))
            display(Javascript(_NAME_HANDLES))

    w.interactive_output(redraw, sliders)
    return w.VBox([w.HBox(controls, layout=w.Layout(flex_flow="row wrap")), out])


def in_book_build():
    """True in a kernel that the book build started (see _ext/nnbook_html.py)."""
    return os.environ.get(BOOK_BUILD_ENV) == "1"


def _alt_function(alt, title, names):
    if alt is None:
        return lambda kwargs: title or "interactive figure"
    if isinstance(alt, str):
        if not alt.strip():
            raise ValueError("explore's alt text is empty; describe what the figure shows")
        return lambda kwargs: alt
    if callable(alt):
        def alt_of(kwargs):
            text = alt(**kwargs)
            if not isinstance(text, str) or not text.strip():
                raise ValueError(f"explore's alt function returned {text!r} for {kwargs}; expected a non-empty string")
            return text
        return alt_of
    raise ValueError(f"explore's alt must be a string or a function of {names}, got {type(alt).__name__}")


def explore(draw, title="", initial=None, dpi=72, alt=None, precompute=None, **params):
    """An interactive figure: draw(**combination) over the grid of params, as an Explorable.

    params: name -> sequence of values (each becomes a slider).  initial: name -> index of
    the value shown first (default: the middle of each list).  alt: the figure's alt text, a
    string or a function taking the same keyword arguments as draw.  precompute: draw every
    frame for the kernel-free view now (default: only in the book build, see in_book_build).
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
    alt_of = _alt_function(alt, title, names)
    if precompute is None:
        precompute = in_book_build()
    if precompute:
        combos = [dict(zip(names, combo)) for combo in itertools.product(*values)]
    else:
        combos = [{n: v[k] for n, v, k in zip(names, values, start)}]
    frames = [figure_to_png(draw(**kw), dpi=dpi) for kw in combos]
    alts = [alt_of(kw) for kw in combos]
    view = static_html(names, values, frames, start, title, alts)
    drawn = {_key(kw): png for kw, png in zip(combos, frames)}  # the live widget reuses them
    return Explorable(view, _live_widget(draw, names, values, start, alt_of, dpi, drawn))
