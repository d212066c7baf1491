"""Figures of chapter 3 (convolutional networks), kept out of the notebook so its cells stay short.

Each function returns a matplotlib Figure (the interactive figures call them once per frame).
"""
import numpy as np

from lib import conv
from lib.plots import montage


def window_counts(size, kernel, pad=0, stride=1):
    """(size + 2 pad) x (size + 2 pad) array: how many kernel windows cover each pixel of the padded input.

    Computed by lib's backward pass: a kernel of ones and an upstream gradient of ones send
    exactly one unit to each pixel per window that contains it.  Chapter 3.
    """
    n = size + 2 * pad
    ho = conv.conv_output_size(size, kernel, stride, pad)
    _, cache = conv.conv2d_forward(np.zeros((1, 1, n, n)), np.ones((1, 1, kernel, kernel)), np.zeros(1),
                                   stride=stride)
    return conv.conv2d_backward(np.ones((1, 1, ho, ho)), cache)[0][0, 0]


def windows_figure(k, P, S, size=7):
    """The padded input shaded by the number of windows per pixel, the first and last window, and the output grid."""
    import matplotlib.pyplot as plt

    n, ho = size + 2 * P, conv.conv_output_size(size, k, S, P)
    cover = window_counts(size, k, P, S)
    fig, ax = plt.subplots(figsize=(5, 3))
    ax.imshow(cover, cmap="Blues", vmin=0, vmax=cover.max() + 1, extent=(0, n, n, 0))
    ax.imshow(np.full((ho, ho), 0.35), cmap="Greens", vmin=0, vmax=1, extent=(n + 1, n + 1 + ho, ho, 0))
    for x0, m in [(0, n), (n + 1, ho)]:
        ticks = np.arange(m + 1)
        ax.vlines(x0 + ticks, 0, m, color="0.6", lw=0.5)
        ax.hlines(ticks, x0, x0 + m, color="0.6", lw=0.5)
    ii, jj = np.nonzero(cover == 0)
    ax.scatter(jj + 0.5, ii + 0.5, marker="x", c="tab:red", s=12, lw=1)
    ax.add_patch(plt.Rectangle((P, P), size, size, fill=False, lw=1.5, ec="k"))
    for (i, j), c in [((0, 0), "tab:orange"), ((ho - 1, ho - 1), "tab:purple")]:
        ax.add_patch(plt.Rectangle((j * S, i * S), k, k, fill=False, lw=2, ec=c, ls="--"))
        ax.add_patch(plt.Rectangle((n + 1 + j, i), 1, 1, fill=True, alpha=0.6, fc=c))
    ax.set_xlim(-0.2, n + 1.2 + max(ho, 3))
    ax.set_ylim(n + 0.2, -0.2)
    ax.set_axis_off()
    ax.set_title(f"input {size}×{size}, pad {P}, kernel {k}, stride {S}  →  output "
                 f"⌊({size}+2·{P}−{k})/{S}⌋+1 = {ho}", fontsize=9)
    return fig


def windows_alt(k, P, S, size=7):
    """Alt text for ``windows_figure``."""
    ho = conv.conv_output_size(size, k, S, P)
    cover = window_counts(size, k, P, S)[P:P + size, P:P + size]
    return (f"A {size} by {size} input padded by {P}, shaded by how many {k} by {k} windows at stride {S} "
            f"cover each pixel (from {int(cover.min())} to {int(cover.max())}), next to the {ho} by {ho} output.")


def kernel_figure(image, kernel, image_name="", kernel_name=""):
    """Three panels on one axes: the image, the kernel with its values, the feature map (padding 1)."""
    import matplotlib.pyplot as plt

    k, img = np.asarray(kernel, dtype=float), np.asarray(image, dtype=float)
    fmap = conv.conv2d_forward(img[None, None], k[None, None], np.zeros(1), pad=k.shape[0] // 2)[0][0, 0]
    fig, ax = plt.subplots(figsize=(5, 2.1))
    v = np.abs(k).max() or 1.0
    ax.imshow(img, cmap="gray", extent=(0, 1, 1, 0))
    ax.imshow(k, cmap="coolwarm", vmin=-v, vmax=v, extent=(1.25, 1.85, 0.8, 0.2))
    ax.imshow(fmap, cmap="gray", extent=(2.1, 3.1, 1, 0))
    step = 0.6 / k.shape[0]
    for (i, j), val in np.ndenumerate(k):
        ax.text(1.25 + step * (j + 0.5), 0.2 + step * (i + 0.5), f"{val:.2g}", ha="center", va="center",
                fontsize=7)
    for xc, t in [(0.5, image_name), (1.55, kernel_name), (2.6, "feature map")]:
        ax.text(xc, -0.06, t, ha="center", fontsize=8)
    ax.text(1.95, 0.5, "→", ha="center", va="center", fontsize=12)
    ax.set_xlim(-0.02, 3.12)
    ax.set_ylim(1.02, -0.2)
    ax.set_axis_off()
    return fig


def filters_figure(image, kernels, maps, label="image"):
    """Three rows: one image (h, w), the first-layer kernels (F, k, k) and their feature maps (F, h, w)."""
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(3, 1, figsize=(8, 2.6))
    rows = [(np.asarray(image)[None], "gray", label), (kernels, "coolwarm", f"{len(kernels)} kernels"),
            (maps, "gray", f"{len(maps)} feature maps")]
    for ax, (tiles, cmap, title) in zip(axes, rows):
        ax.imshow(montage(tiles, symmetric=cmap == "coolwarm"), cmap=cmap, vmin=0, vmax=1)
        ax.set_title(title, fontsize=8, loc="left")
        ax.set_axis_off()
    return fig


def accuracy_bars(results, ylabel="test accuracy"):
    """Mean and the individual seeds of each named result {name: values over seeds}, as dots over bars."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5, 2.6))
    for i, (name, values) in enumerate(results.items()):
        values = np.asarray(values, dtype=float)
        ax.bar(i, values.mean(), color="0.8", edgecolor="0.3")
        ax.plot(np.full(values.size, i) + np.linspace(-0.2, 0.2, values.size), values, "o", ms=4, c="tab:blue")
    ax.set_xticks(range(len(results)), list(results), fontsize=8)
    ax.set_ylabel(ylabel)
    return fig


def kernel_playground(images, kernel, image=None):
    """A live widget: nine number boxes for a 3x3 kernel, an image menu, and the feature map, redrawn on change.

    images: {name: (h, w) array}.  Needs a running kernel (ipywidgets); returns the widget box.
    """
    import ipywidgets as ipw
    import matplotlib.pyplot as plt
    from IPython.display import display

    kernel = np.asarray(kernel, dtype=float)
    if kernel.shape != (3, 3):
        raise ValueError(f"kernel_playground expects a 3x3 starting kernel, got shape {kernel.shape}")
    boxes = [ipw.FloatText(value=float(v), layout=ipw.Layout(width="4.5em"), description=f"w{i // 3 + 1}{i % 3 + 1}",
                           style={"description_width": "2em"}) for i, v in enumerate(kernel.ravel())]
    choice = ipw.Dropdown(options=list(images), value=image or list(images)[0], description="image")
    canvas = ipw.Output()

    def redraw(_=None):
        k = np.array([bx.value for bx in boxes]).reshape(3, 3)
        with canvas:
            canvas.clear_output(wait=True)
            fig = kernel_figure(images[choice.value], k, choice.value, "your kernel")
            display(fig)
            plt.close(fig)

    for control in boxes + [choice]:
        control.observe(redraw, names="value")
    redraw()
    grid = ipw.GridBox(boxes, layout=ipw.Layout(grid_template_columns="repeat(3, 7em)"))
    return ipw.VBox([grid, choice, canvas])
