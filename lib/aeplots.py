"""Figures for the autoencoder chapter (4b): rows of small images, and a VAE's two-dimensional
latent space beside what the decoder makes of it.  Each returns a matplotlib Figure."""
import numpy as np


def _images(x, side):
    x = np.asarray(x, dtype=float)
    if x.ndim != 2 or x.shape[1] != side * side:
        raise ValueError(f"expected images flattened to shape (T, {side * side}), got {x.shape}")
    return x.reshape(-1, side, side)


def digit_rows(rows, labels, side=8, figsize=None):
    """One row of images per entry of rows (each (T, side^2) with values in [0, 1], black = 1),
    labelled on the left; the grey scale is fixed at [0, 1] so rows can be compared."""
    import matplotlib.pyplot as plt

    if len(rows) != len(labels) or not rows:
        raise ValueError(f"digit_rows expects as many labels as rows (at least one), got {len(rows)} and {len(labels)}")
    tiles = [_images(r, side) for r in rows]
    t = max(len(r) for r in tiles)
    fig, axes = plt.subplots(len(rows), t, figsize=figsize or (0.62 * t + 1.2, 0.68 * len(rows)), squeeze=False)
    for i, (imgs, label) in enumerate(zip(tiles, labels)):
        for j in range(t):
            ax = axes[i, j]
            ax.set_xticks([])
            ax.set_yticks([])
            if j < len(imgs):
                ax.imshow(imgs[j], cmap="gray_r", vmin=0, vmax=1)
            else:
                ax.axis("off")
        axes[i, 0].set_ylabel(label, rotation=0, ha="right", va="center", fontsize=8)
    fig.subplots_adjust(wspace=0.05, hspace=0.08, left=0.16)
    return fig


def latent_grid(decode, n=9, lim=3.0, side=8):
    """The decoder's images at an n x n grid of latent points on [-lim, lim]^2, tiled into one
    image (with a blank line between tiles) whose top row has the largest second coordinate, as
    on a plot's y axis."""
    axis = np.linspace(-lim, lim, n)
    g1, g2 = np.meshgrid(axis, axis[::-1])
    imgs = _images(decode(np.column_stack([g1.ravel(), g2.ravel()])), side)
    # one blank (NaN) row and column after each tile, so neighbouring images do not run together
    imgs = np.pad(imgs, ((0, 0), (0, 1), (0, 1)), constant_values=np.nan)
    k = side + 1
    return imgs.reshape(n, n, k, k).transpose(0, 2, 1, 3).reshape(n * k, n * k)[:-1, :-1]


def latent_figure(mu, labels, image, lim=3.0, point=None, titles=("", ""), figsize=(8, 3.6)):
    """Left: the latent means mu (N, 2) coloured by label; right: image, drawn over [-lim, lim]^2
    when point is None (a latent_grid), or as one decoded digit of the marked point otherwise."""
    import matplotlib.pyplot as plt

    mu = np.asarray(mu, dtype=float)
    if mu.ndim != 2 or mu.shape[1] != 2 or len(labels) != len(mu):
        raise ValueError(f"latent_figure expects 2-D latent means (N, 2) and N labels, got {mu.shape} and {len(labels)}")
    fig, (ax0, ax1) = plt.subplots(1, 2, figsize=figsize, gridspec_kw={"width_ratios": [1.25, 1]})
    sc = ax0.scatter(mu[:, 0], mu[:, 1], c=labels, cmap="tab10", s=6, vmin=-0.5, vmax=9.5)
    fig.colorbar(sc, ax=ax0, ticks=range(10), label="digit" if point is None else None)
    ax0.set(xlim=(-lim, lim), ylim=(-lim, lim), xlabel=r"$\xi_1$", ylabel=r"$\xi_2$", title=titles[0])
    ax0.set_aspect("equal")
    if point is None:
        ax1.imshow(image, cmap="gray_r", vmin=0, vmax=1, extent=(-lim, lim, -lim, lim))
        ax1.set(xlabel=r"$\xi_1$", ylabel=r"$\xi_2$")
    else:
        ax0.plot(*point, marker="X", ms=14, mec="white", mfc="black")
        ax1.imshow(image, cmap="gray_r", vmin=0, vmax=1)
        ax1.set(xticks=[], yticks=[])
    ax1.set_title(titles[1])
    fig.tight_layout()
    return fig
