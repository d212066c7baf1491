import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from lib import convfig, plots  # noqa: E402


def test_window_counts_same_padding():
    cover = convfig.window_counts(6, 3, pad=1)
    inner = cover[1:-1, 1:-1]                   # the image without its padding
    assert inner[0, 0] == 4 and inner[0, 2] == 6 and inner[2, 2] == 9
    assert cover.sum() == 6 * 6 * 9             # every window has 9 pixels
    assert np.all(convfig.window_counts(7, 3, pad=0, stride=3)[:, 6] == 0)   # the last column is dropped


def test_figures_return_figures(rng):
    figs = [
        convfig.windows_figure(3, 1, 2),
        convfig.kernel_figure(rng.normal(size=(8, 8)), np.eye(3), "digit", "diagonal"),
        convfig.filters_figure(rng.normal(size=(8, 8)), rng.normal(size=(4, 3, 3)), rng.normal(size=(4, 8, 8))),
        convfig.accuracy_bars({"a": [0.5, 0.6, 0.7], "b": [0.9, 0.8, 0.85]}),
    ]
    for fig in figs:
        assert isinstance(fig, Figure) and fig.axes
        plt.close(fig)
    assert "stride 2" in convfig.windows_alt(3, 1, 2) and "from 1 to 4" in convfig.windows_alt(3, 1, 2)


def test_html_table():
    table = plots.html_table(["a", "b<"], [(1, 2.5), ("x", "y&")])
    html = table.data
    assert html.count("<tr>") == 3 and '<th scope="col">b&lt;</th>' in html and "<td>y&amp;</td>" in html
    with pytest.raises(ValueError, match="rows of 2 values"):
        plots.html_table(["a", "b"], [(1,)])


def test_montage():
    tiles = np.stack([np.arange(4.0).reshape(2, 2), -np.ones((2, 2)), np.array([[2.0, -4.0], [0.0, 1.0]])])
    m = plots.montage(tiles, gap=1)
    assert m.shape == (2, 9) and np.isnan(m[:, 2]).all()
    np.testing.assert_allclose(m[:, :2], [[0, 1 / 3], [2 / 3, 1]])
    assert np.all(m[:, 3:5] == 0)              # a constant tile does not divide by zero
    s = plots.montage(tiles, symmetric=True, gap=0)
    np.testing.assert_allclose(s[:, 4:6], [[0.75, 0.0], [0.5, 0.625]])
    with pytest.raises(ValueError, match=r"\(T, h, w\)"):
        plots.montage(np.zeros((2, 2)))


def test_kernel_playground(rng):
    box = convfig.kernel_playground({"noise": rng.normal(size=(8, 8))}, np.eye(3))
    grid, choice, canvas = box.children
    assert len(grid.children) == 9 and choice.value == "noise"
    grid.children[0].value = 2.0          # a change redraws without error
    with pytest.raises(ValueError, match="3x3"):
        convfig.kernel_playground({"a": np.zeros((4, 4))}, np.eye(2))
    plt.close("all")
