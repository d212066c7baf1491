"""Chapter 7's figures: a graph drawn from its adjacency, signals on it, embeddings over training."""
import matplotlib.pyplot as plt
import numpy as np
from matplotlib.collections import LineCollection

from lib import activations
from lib import graph as G

FACTIONS = ("tab:blue", "tab:orange")


def draw_graph(ax, adjacency, pos, values=None, cmap="coolwarm", vmin=None, vmax=None, marked=(), size=60):
    """Edges as grey lines, nodes at pos (N, 2) coloured by values (N,) (or one colour).

    marked: indices drawn with a black ring (e.g. the labelled nodes).  Returns the scatter.
    """
    pos = np.asarray(pos, dtype=float)
    senders, receivers, _ = G.edge_list(adjacency)
    keep = senders < receivers
    segments = np.stack([pos[senders[keep]], pos[receivers[keep]]], axis=1)
    ax.add_collection(LineCollection(segments, colors="0.75", linewidths=0.6, zorder=1))
    dots = ax.scatter(pos[:, 0], pos[:, 1], c="tab:gray" if values is None else values, cmap=cmap, vmin=vmin,
                      vmax=vmax, s=size, zorder=2, edgecolors="white", linewidths=0.5)
    marked = list(marked)
    if marked:
        ax.scatter(pos[marked, 0], pos[marked, 1], s=size * 2.2, facecolors="none", edgecolors="black",
                   linewidths=1.5, zorder=3)
    ax.set(xticks=[], yticks=[])
    ax.set_aspect("equal", adjustable="datalim")
    return dots


def signals(adjacency, pos, columns, titles, figsize=(7.5, 2.2)):
    """Small multiples: each column of ``columns`` (N, k) as node colours on the same drawing."""
    columns = np.asarray(columns, dtype=float)
    fig, axes = plt.subplots(1, columns.shape[1], figsize=figsize)
    for ax, col, title in zip(np.atleast_1d(axes), columns.T, titles):
        top = np.abs(col).max() or 1.0
        draw_graph(ax, adjacency, pos, col, vmin=-top, vmax=top, size=30)
        ax.set_title(title, fontsize=9)
    fig.tight_layout()
    return fig


def embedding_frame(adjacency, pos, z, y, labelled, title, limits=None):
    """Two panels for one moment of training: the drawing coloured by p(class 1) from the
    logits z (N, 2), and the nodes placed at z itself, coloured by their true class y."""
    fig, (ax0, ax1) = plt.subplots(1, 2, figsize=(6.4, 3.0))
    p1 = activations.softmax(z)[:, 1]
    draw_graph(ax0, adjacency, pos, p1, vmin=0, vmax=1, marked=labelled, size=45)
    ax0.set_title("p(class 1) on the graph", fontsize=9)
    draw_graph(ax1, adjacency, z, np.asarray(y, float), cmap="coolwarm", vmin=-0.3, vmax=1.3, marked=labelled,
               size=35)
    ax1.set_aspect("auto")
    if limits is not None:
        ax1.set(xlim=limits[0], ylim=limits[1])
    ax1.set_title("nodes placed at their logits $z$", fontsize=9)
    ax1.set(xlabel="$z_1$", ylabel="$z_2$", xticks=[], yticks=[])
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return fig


def depth_sweep(steps, accuracy, spread, chance=0.5):
    """Accuracy (mean and spread over seeds, rows = seeds) and the smoothness measure against depth."""
    accuracy = np.asarray(accuracy, dtype=float)
    fig, (ax0, ax1) = plt.subplots(1, 2, figsize=(6.4, 2.6))
    ax0.errorbar(steps, accuracy.mean(axis=0), yerr=accuracy.std(axis=0, ddof=1), marker="o", capsize=3)
    ax0.axhline(chance, color="0.5", ls="--", lw=1, label="chance")
    ax0.set(xscale="log", xlabel="propagation steps $K$", ylabel="accuracy (unlabelled)", ylim=(0.4, 1.02))
    ax0.legend(fontsize=8)
    ax1.plot(steps, spread, marker="o", color="tab:red")
    ax1.set(xscale="log", yscale="log", xlabel="propagation steps $K$", ylabel=r"spread $\rho(\bar A^K X)$")
    fig.tight_layout()
    return fig
