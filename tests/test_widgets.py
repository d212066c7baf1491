"""lib.widgets.explore: alt text for every frame, frames drawn on demand outside the book build,
labelled controls that fit long value labels."""
import html
import json
import re

import matplotlib
import pytest

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from lib import widgets  # noqa: E402

CALLS = []


def draw(a, b):
    CALLS.append((a, b))
    fig, ax = plt.subplots(figsize=(1.5, 1.5))
    ax.plot([0, 1], [0, a * b])
    return fig


def alt(a, b):
    return f"a line of slope {a * b} (a={a}, b={b})"


def frames_data(view):
    return json.loads(re.search(r'<script type="application/json" class="nnb-frames">(.*?)</script>', view).group(1))


def test_every_frame_has_its_own_alt_text_from_a_function():
    ex = widgets.explore(draw, title="demo", alt=alt, precompute=True, a=[1, 2, 3], b=[0.5, 1.0])
    data = frames_data(ex.html)
    assert len(data["alts"]) == len(data["frames"]) == 6
    assert data["alts"][0] == alt(1, 0.5) and data["alts"][-1] == alt(3, 1.0)
    shown = re.search(r'<img class="nnb-frame"[^>]*alt="([^"]*)"', ex.html).group(1)
    assert html.unescape(shown) == alt(2, 1.0)  # the first frame shown is (middle a, middle b)
    assert "img.alt = data.alts[flat]" in ex.html  # the script swaps the alt with the frame


def test_a_string_alt_serves_every_frame_and_bad_alts_are_refused():
    ex = widgets.explore(draw, alt="a line through the origin", precompute=True, a=[1, 2], b=[1])
    assert set(frames_data(ex.html)["alts"]) == {"a line through the origin"}
    with pytest.raises(ValueError, match="alt text is empty"):
        widgets.explore(draw, alt=" ", a=[1], b=[1])
    with pytest.raises(ValueError, match="alt function returned None"):
        widgets.explore(draw, alt=lambda a, b: None, a=[1], b=[1])
    with pytest.raises(ValueError, match="string or a function"):
        widgets.explore(draw, alt=3, a=[1], b=[1])


def test_frames_are_drawn_on_demand_outside_the_book_build(monkeypatch):
    monkeypatch.delenv(widgets.BOOK_BUILD_ENV, raising=False)
    CALLS.clear()
    ex = widgets.explore(draw, alt=alt, a=[1, 2, 3], b=[0.5, 1.0])
    assert CALLS == [(2, 1.0)], "a live kernel drew more than the first frame"
    assert ex.html.count("data:image/png;base64,") == 1 and 'type="range"' not in ex.html
    assert html.escape(alt(2, 1.0)) in ex.html
    monkeypatch.setenv(widgets.BOOK_BUILD_ENV, "1")
    CALLS.clear()
    widgets.explore(draw, alt=alt, a=[1, 2, 3], b=[0.5, 1.0])
    assert len(CALLS) == 6, "the book build must precompute every frame"


def test_the_live_widget_redraws_with_alt_and_shows_long_labels_whole(monkeypatch):
    import IPython.display

    monkeypatch.delenv(widgets.BOOK_BUILD_ENV, raising=False)
    shown_html = []
    monkeypatch.setattr(IPython.display, "display",
                        lambda obj: shown_html.append(obj.data) if isinstance(obj, IPython.display.HTML) else None)
    long_label = "horizontal edges (Sobel)"
    ex = widgets.explore(lambda kernel: draw(1, 1), alt=lambda kernel: f"the map of {kernel}",
                         kernel=["identity", long_label, "blur"])
    box = ex.widget
    row = box.children[0]
    slider, shown = row.children[0].children
    assert slider.description == "kernel" and slider.readout is False
    assert shown.value == long_label and shown.layout.width == "auto"
    slider.value = "blur"
    assert shown.value == "blur"
    assert len(shown_html) == 2, "the first frame and the one after the move"
    assert 'alt="the map of identity"' not in shown_html[0] and 'alt="the map of horizontal edges (Sobel)"' in shown_html[0]
    assert 'alt="the map of blur"' in shown_html[1] and shown_html[1].count("data:image/png;base64,") == 1


def test_static_sliders_carry_their_value_as_text():
    ex = widgets.explore(draw, precompute=True, a=[1, 2], b=["low", "high"])
    assert 'aria-valuetext="high"' in ex.html and "<label" in ex.html
