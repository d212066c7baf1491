"""Plotting helpers shared by the chapters, so that notebook cells stay short."""
import numpy as np


def grid_over(x, steps=200, pad=0.5):
    """A (steps*steps, 2) grid covering the 2-D points x with some padding, and its two mesh arrays."""
    lo, hi = x.min(axis=0) - pad, x.max(axis=0) + pad
    g0, g1 = np.meshgrid(np.linspace(lo[0], hi[0], steps), np.linspace(lo[1], hi[1], steps))
    return np.column_stack([g0.ravel(), g1.ravel()]), g0, g1


def decision_regions(ax, predict, x, y, steps=200, pad=0.5, alpha=0.25, cmap="coolwarm"):
    """Shade the plane by predict(grid) (class labels or scores) and scatter the labelled points x, y."""
    grid, g0, g1 = grid_over(x, steps, pad)
    z = np.asarray(predict(grid)).reshape(g0.shape)
    ax.contourf(g0, g1, z, alpha=alpha, cmap=cmap, levels=np.unique(z).size if z.dtype.kind in "iu" else 20)
    ax.scatter(x[:, 0], x[:, 1], c=y, cmap=cmap, edgecolors="k", linewidths=0.4, s=18)
    ax.set_xlim(g0.min(), g0.max())
    ax.set_ylim(g1.min(), g1.max())
    return ax


def hyperplane(ax, w, b, **style):
    """Draw the line w[0] x0 + w[1] x1 + b = 0 across the current axes limits."""
    (x0, x1), (y0, y1) = ax.get_xlim(), ax.get_ylim()
    if abs(w[1]) > 1e-12:
        xs = np.array([x0, x1])
        ax.plot(xs, -(w[0] * xs + b) / w[1], **style)
    elif abs(w[0]) > 1e-12:
        ax.axvline(-b / w[0], **style)
    ax.set_xlim(x0, x1)
    ax.set_ylim(y0, y1)
    return ax


def probability_image(ax, predict_proba, x, y, steps=60, pad=0.5, cmap="coolwarm"):
    """Shade the plane by predict_proba(grid), a probability in [0, 1] per point, and scatter x, y.

    A cheap image (imshow) rather than contours, so that widgets can draw dozens of frames.
    Returns the image, for a colorbar.
    """
    grid, g0, g1 = grid_over(x, steps, pad)
    p = np.asarray(predict_proba(grid), dtype=float).reshape(g0.shape)
    extent = (g0.min(), g0.max(), g1.min(), g1.max())
    im = ax.imshow(p, origin="lower", extent=extent, cmap=cmap, vmin=0, vmax=1, alpha=0.45, aspect="auto")
    ax.contour(g0, g1, p, levels=[0.5], colors="k", linewidths=0.8)
    ax.scatter(x[:, 0], x[:, 1], c=y, cmap=cmap, edgecolors="k", linewidths=0.3, s=10)
    ax.set_xlim(extent[:2])
    ax.set_ylim(extent[2:])
    return im


def loss_curves(ax, curves, logy=True, xlabel="epoch", ylabel="loss"):
    """Plot named curves {label: sequence} against 1, 2, ...; a log scale suits losses."""
    for label, values in curves.items():
        ax.plot(np.arange(1, len(values) + 1), values, label=label)
    if logy:
        ax.set_yscale("log")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.legend(frameon=False, fontsize="small")
    return ax


def gan_snapshot(real, fake, d_grid, extent, title="", curve=None, marker=None, figsize=(7.5, 3.2)):
    """A GAN at one moment of training, as a Figure (chapter 8).

    Left: the discriminator's output D(x) as an image over the plane (d_grid, a square array over
    extent = (x0, x1, y0, y1)), the real samples (black) and the generated ones (orange).
    Right (when curve = (steps, values, label) is given): a quantity over training, with the
    current step marked at ``marker``.
    """
    import matplotlib.pyplot as plt

    real, fake, d_grid = np.asarray(real), np.asarray(fake), np.asarray(d_grid)
    if real.ndim != 2 or real.shape[1] != 2 or fake.ndim != 2 or fake.shape[1] != 2 or d_grid.ndim != 2:
        raise ValueError(f"gan_snapshot expects 2-D samples (N, 2) and a grid image, got {real.shape}, "
                         f"{fake.shape}, {d_grid.shape}")
    fig, axes = plt.subplots(1, 2 if curve else 1, figsize=figsize, squeeze=False)
    ax = axes[0, 0]
    im = ax.imshow(d_grid, origin="lower", extent=extent, cmap="Blues", vmin=0, vmax=1, aspect="equal")
    ax.scatter(real[:, 0], real[:, 1], s=3, c="k", alpha=0.5, label="data")
    ax.scatter(fake[:, 0], fake[:, 1], s=3, c="tab:orange", alpha=0.6, label="generated")
    ax.set_xlim(extent[:2])
    ax.set_ylim(extent[2:])
    ax.set_title(title, fontsize=9)
    ax.legend(loc="upper right", fontsize=7, markerscale=3, frameon=True)
    fig.colorbar(im, ax=ax, fraction=0.046, pad=0.04, label="D(x)")
    if curve:
        steps, values, label = curve
        ax2 = axes[0, 1]
        ax2.plot(steps, values, "o-", ms=3)
        if marker is not None:
            ax2.axvline(marker, color="tab:orange", lw=1)
        ax2.set_xlabel("training step")
        ax2.set_ylabel(label)
    fig.tight_layout()
    return fig


def html_table(header, rows):
    """A small HTML table (IPython HTML object): header is a list of column names, rows tuples of values.

    Values are escaped, and the header cells are marked as column headers for screen readers.
    """
    import html

    from IPython.display import HTML

    header = list(header)
    rows = [tuple(r) for r in rows]
    if any(len(r) != len(header) for r in rows):
        raise ValueError(f"html_table expects rows of {len(header)} values to match the header, got lengths "
                         f"{sorted({len(r) for r in rows})}")
    cells = lambda tag, row: "".join(f"<{tag}>{html.escape(str(v))}</{tag}>" for v in row)  # noqa: E731
    head = "".join(f'<th scope="col">{html.escape(str(v))}</th>' for v in header)
    body = "".join(f"<tr>{cells('td', r)}</tr>" for r in rows)
    return HTML(f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>")


def montage(tiles, symmetric=False, gap=1):
    """Tiles (T, h, w) side by side in one (h, T (w + gap)) image, each tile scaled to [0, 1].

    symmetric=True maps 0 to 0.5 and the tile's largest |value| to 0 or 1 (for kernels, with a
    diverging colour map); otherwise each tile's minimum goes to 0 and its maximum to 1.  The gap
    columns are NaN, which imshow leaves blank.
    """
    tiles = np.asarray(tiles, dtype=float)
    if tiles.ndim != 3 or tiles.shape[0] == 0:
        raise ValueError(f"montage expects tiles of shape (T, h, w) with T >= 1, got {tiles.shape}")
    if symmetric:
        scaled = 0.5 + tiles / (2 * np.abs(tiles).max(axis=(1, 2), keepdims=True) + 1e-300)
    else:
        lo = tiles.min(axis=(1, 2), keepdims=True)
        span = np.ptp(tiles, axis=(1, 2), keepdims=True)
        scaled = np.divide(tiles - lo, span, out=np.zeros_like(tiles), where=span > 0)
    padded = np.pad(scaled, ((0, 0), (0, 0), (0, gap)), constant_values=np.nan)
    return np.concatenate(list(padded), axis=1)


def agent_environment_loop():
    """The reinforcement-learning loop as a diagram: the agent sends an action a_t, the environment
    answers with the next state s_{t+1} and a reward r_{t+1} (chapter 9).  Returns the Figure."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5, 2.4))
    boxes = {"agent": (0.18, 0.5), "environment": (0.82, 0.5)}
    for name, (x, y) in boxes.items():
        ax.text(x, y, name, ha="center", va="center", fontsize=11,
                bbox=dict(boxstyle="round,pad=0.6", fc="#e8f0fb" if name == "agent" else "#fbeee6", ec="k"))
    ax.annotate("", xy=(0.68, 0.62), xytext=(0.3, 0.62),
                arrowprops=dict(arrowstyle="->", lw=1.4, connectionstyle="arc3,rad=-0.35"))
    ax.annotate("", xy=(0.3, 0.38), xytext=(0.68, 0.38),
                arrowprops=dict(arrowstyle="->", lw=1.4, connectionstyle="arc3,rad=-0.35"))
    ax.text(0.5, 0.9, "action $a_t$", ha="center", fontsize=10)
    ax.text(0.5, 0.04, "next state $s_{t+1}$ and reward $r_{t+1}$", ha="center", fontsize=10)
    ax.set(xlim=(0, 1), ylim=(0, 1))
    ax.axis("off")
    return fig


ARROWS = {0: (-1, 0), 1: (0, -1), 2: (1, 0), 3: (0, 1)}  # left, down, right, up (FrozenLake's order)


def grid_values(ax, rows, v, policy=None, vmin=-1.0, vmax=1.0, cmap="RdYlGn"):
    """Draw a grid world (rows of 'S', '.', 'G', 'X', '#'): each cell coloured by its value v (one per
    cell, row by row) and labelled with it, terminal cells marked, and an arrow for the greedy action
    of policy (S, C) in every other cell (chapter 9).  Returns the image."""
    import matplotlib
    n_rows, n_cols = len(rows), len(rows[0])
    values = np.asarray(v, dtype=float).reshape(n_rows, n_cols)
    terminal = np.array([[c in "GX#" for c in row] for row in rows])
    colours = matplotlib.colormaps[cmap].with_extremes(bad="#d9d9d9")  # terminal cells in grey
    im = ax.imshow(np.ma.masked_where(terminal, values), cmap=colours, vmin=vmin, vmax=vmax)
    for i in range(n_rows):
        for j in range(n_cols):
            cell, s = rows[i][j], i * n_cols + j
            if cell in "GX#":
                ax.text(j, i, {"G": "goal", "X": "pit", "#": "wall"}[cell], ha="center", va="center", fontsize=11)
                continue
            ax.text(j, i + 0.3, f"{values[i, j]:.2f}", ha="center", va="center", fontsize=11)
            if policy is not None:
                dx, dy = ARROWS[int(np.argmax(policy[s]))]
                ax.arrow(j - 0.18 * dx, i + 0.18 * dy - 0.08, 0.36 * dx, -0.36 * dy, head_width=0.09,
                         length_includes_head=True, color="k")
            if cell == "S":
                ax.text(j - 0.42, i - 0.28, "S", fontsize=11, fontweight="bold")
    ax.set_xticks([])
    ax.set_yticks([])
    return im


def perceptron_halfplanes(ax, w, b, x, t, lim=1.7, steps=120):
    """Shade the half-planes of sign(x . w + b) over [-lim, lim]^2, draw the boundary and the
    points x (N, 2) coloured by their labels t in {-1, +1}; circle the misclassified points.

    Returns the number of misclassified points.  Used by chapter 1's interactive figures.
    """
    from lib.perceptron import perceptron_predict

    w = np.asarray(w, dtype=float)
    g = np.linspace(-lim, lim, steps)
    g0, g1 = np.meshgrid(g, g)
    pred = perceptron_predict(np.column_stack([g0.ravel(), g1.ravel()]), w, b).reshape(g0.shape)
    ax.imshow(pred, extent=(-lim, lim, -lim, lim), origin="lower", cmap="coolwarm", vmin=-3, vmax=3,
              aspect="auto")
    ax.scatter(x[:, 0], x[:, 1], c=t, cmap="coolwarm", vmin=-1, vmax=1, edgecolors="k", linewidths=0.4,
               s=22)
    if np.any(w != 0):
        # the boundary x . w + b = 0, solved for the better-conditioned coordinate
        if abs(w[1]) > abs(w[0]):
            ax.plot(g, -(w[0] * g + b) / w[1], "k-", lw=1.5)
        else:
            ax.plot(-(w[1] * g + b) / w[0], g, "k-", lw=1.5)
    ax.set_xlim(-lim, lim)
    ax.set_ylim(-lim, lim)
    wrong = perceptron_predict(x, w, b) != t
    ax.scatter(x[wrong, 0], x[wrong, 1], s=90, facecolors="none", edgecolors="k", linewidths=1.2)
    return int(wrong.sum())
