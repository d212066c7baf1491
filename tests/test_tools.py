"""The book's own tools: the gradient checker must catch wrong gradients; SymPy helpers must catch wrong steps."""
import numpy as np
import pytest
import sympy as sp

from lib import data, perceptron, widgets
from lib.gradcheck import check_layer, numerical_gradient, rel_error
from lib.symbolic import Derivation, assert_equal, check_numeric


def test_gradcheck_catches_a_wrong_backward(rng):
    def fwd(x):
        return x**2, x

    def wrong(dout, x):
        return dout * x  # missing the factor 2

    assert check_layer(fwd, wrong, [rng.normal(size=5)], rng) > 0.1


def test_numerical_gradient_of_a_known_function():
    x = np.array([1.0, 2.0, 3.0])
    np.testing.assert_allclose(numerical_gradient(lambda a: np.sum(a**3), x), 3 * x**2, rtol=1e-8)
    assert rel_error(np.zeros(3), np.zeros(3)) == 0.0


def test_derivation_rejects_a_wrong_step():
    x = sp.symbols("x")
    s = 1 / (1 + sp.exp(-x))
    d = Derivation("s'", sp.diff(s, x)).step(s * (1 - s), "factor")
    assert "aligned" in d.latex()
    with pytest.raises(AssertionError, match="step 2"):
        d.step(s * (1 + s))
    with pytest.raises(AssertionError):
        assert_equal(sp.sin(x) ** 2, 1 - sp.sin(x) ** 2)


def test_check_numeric_catches_disagreement():
    x = sp.symbols("x")
    xs = np.linspace(-3, 3, 7)
    check_numeric(sp.tanh(x), {x: xs}, np.tanh(xs), "tanh")
    with pytest.raises(AssertionError):
        check_numeric(sp.tanh(x), {x: xs}, np.sin(xs), "tanh against sin")
    with pytest.raises(ValueError, match="first edition"):
        check_numeric(sp.tanh(x), [x], np.tanh, xs[:, None])


def test_perceptron_converges_on_separable_data(rng):
    x, y, _ = data.linearly_separable(200, rng, margin=0.2)
    w, b, mistakes, converged = perceptron.perceptron_train(x, y, rng)
    assert converged and mistakes > 0
    np.testing.assert_array_equal(perceptron.perceptron_predict(x, w, b), y)


def test_perceptron_fails_on_xor(rng):
    x = np.array([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
    y = np.array([-1.0, 1.0, 1.0, -1.0])
    *_, converged = perceptron.perceptron_train(x, y, rng, max_epochs=50)
    assert not converged


def test_mp_neuron_and_gate():
    x = np.array([[0, 0], [0, 1], [1, 0], [1, 1]])
    np.testing.assert_array_equal(perceptron.mp_neuron(x, [1, 1], 2), [0, 0, 0, 1])
    with pytest.raises(ValueError, match="2 features"):
        perceptron.mp_neuron(np.zeros((4, 3)), [1, 1], 2)


def test_digits_split_is_stratified_and_offline(rng):
    xtr, xte, ytr, yte = data.digits(rng)
    assert xtr.shape[1] == 64 and len(xtr) + len(xte) == 1797
    assert set(np.unique(yte)) == set(range(10)) and 0 <= xtr.min() and xtr.max() <= 1
    img = data.digits(rng, images=True)[0]
    assert img.shape[1:] == (1, 8, 8)


def test_explore_makes_one_frame_per_combination_and_a_working_slider():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    def draw(a, b):
        fig, ax = plt.subplots(figsize=(2, 2))
        ax.plot([0, 1], [0, a * b])
        return fig

    ex = widgets.explore(draw, title="demo", precompute=True, a=[1, 2, 3], b=[0.5, 1.0])
    html = ex.html
    assert html.count("data:image/png;base64,") == 6 + 1  # six frames, plus the one shown first
    assert html.count('type="range"') == 2 and 'max="2"' in html and 'max="1"' in html
    assert "<output data-param=\"0\" aria-live=\"polite\">2</output>" in html  # the middle value shows first
    bundle = ex._repr_mimebundle_()
    assert "text/html" in bundle and "application/vnd.jupyter.widget-view+json" in bundle
    with pytest.raises(ValueError, match="frames"):
        widgets.explore(draw, a=range(30), b=range(30))


def test_frames_are_palette_pngs_close_to_the_full_colour_figure():
    import base64
    import io

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from PIL import Image

    def fig():
        f, ax = plt.subplots(figsize=(3, 2))
        ax.plot(np.linspace(0, 1, 50), np.linspace(0, 1, 50) ** 2)
        ax.set_title("a frame")
        return f

    full = io.BytesIO()
    f = fig()
    f.savefig(full, format="png", dpi=72, bbox_inches="tight")
    plt.close(f)
    png = base64.b64decode(widgets.figure_to_png(fig()).split(",", 1)[1])
    assert len(png) < len(full.getvalue())
    small, exact = Image.open(io.BytesIO(png)), Image.open(full).convert("RGB")
    assert small.mode == "P" and small.size == exact.size
    diff = np.abs(np.asarray(small.convert("RGB"), int) - np.asarray(exact, int))
    assert diff.mean() < 1.0  # out of 255: the picture is the same to the eye
