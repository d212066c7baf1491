"""Figures for chapter 4 (energy-based models): grids of small images and side-by-side panels."""
import matplotlib.pyplot as plt
import numpy as np


def _tile(images, side, cols):
    """Images (N, side*side) tiled into one array, `cols` per row, with a one-pixel gap."""
    images = np.asarray(images, dtype=float)
    n = len(images)
    rows = int(np.ceil(n / cols))
    canvas = np.full((rows * (side + 1) - 1, cols * (side + 1) - 1), np.nan)
    for k, img in enumerate(images):
        r, q = divmod(k, cols)
        canvas[r * (side + 1): r * (side + 1) + side, q * (side + 1): q * (side + 1) + side] = img.reshape(side, side)
    return canvas


def image_panels(panels, titles, side=8, cols=8, suptitle="", cmap="gray_r", figsize=None, symmetric=None):
    """One axes per entry of `panels` (each an array (N, side*side) of images), titled by `titles`.

    symmetric: a list of booleans; a True panel is drawn with a colour scale centred on 0
    (for weights).  Returns the Figure.
    """
    if len(panels) != len(titles):
        raise ValueError(f"image_panels needs one title per panel, got {len(panels)} panels and {len(titles)} titles")
    symmetric = symmetric or [False] * len(panels)
    fig, axes = plt.subplots(1, len(panels), figsize=figsize or (2.6 * len(panels), 2.8), squeeze=False)
    for ax, imgs, title, sym in zip(axes[0], panels, titles, symmetric):
        canvas = _tile(imgs, side, cols)
        if sym:
            lim = np.nanmax(np.abs(canvas))
            ax.imshow(canvas, cmap="RdBu_r", vmin=-lim, vmax=lim)
        else:
            ax.imshow(canvas, cmap=cmap, vmin=0, vmax=1)
        ax.set_title(title, fontsize=9)
        ax.set_xticks([])
        ax.set_yticks([])
    if suptitle:
        fig.suptitle(suptitle, fontsize=10)
    fig.tight_layout()
    return fig
