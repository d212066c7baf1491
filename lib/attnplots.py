"""Figures of chapter 6: attention weights as heat maps, the saturation sweep, image patches."""
import matplotlib.pyplot as plt
import numpy as np


def weights_frame(weights, query, title):
    """A (T_q, T_k) weight matrix as a heat map with row `query` framed, beside that row as bars."""
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(7, 3), gridspec_kw={"width_ratios": [1.1, 1]})
    t_q, t_k = weights.shape
    ax1.imshow(weights, cmap="viridis", vmin=0, vmax=1)
    ax1.add_patch(plt.Rectangle((-0.5, query - 0.5), t_k, 1, fill=False, edgecolor="red", linewidth=2))
    ax1.set_xlabel("key position $j$")
    ax1.set_ylabel("query position $i$")
    ax1.set_title(title, fontsize=9)
    ax2.bar(np.arange(t_k), weights[query], color="tab:blue")
    for ax, n in ((ax1, t_k), (ax2, t_k)):
        ax.set_xticks(np.arange(n), [str(j + 1) for j in range(n)])  # positions counted from 1
    ax1.set_yticks(np.arange(t_q), [str(i + 1) for i in range(t_q)])
    ax2.set_ylim(0, 1)
    ax2.set_xlabel("key position $j$")
    ax2.set_title(f"weights $\\alpha_{{{query + 1}j}}$ of query {query + 1}", fontsize=9)
    fig.tight_layout()
    return fig


def saturation(dks, largest, grad_norm):
    """Two panels against d_k: the largest softmax weight and the size of the softmax's Jacobian,
    for unscaled and scaled scores.  largest, grad_norm: dict name -> (seeds, len(dks)) arrays."""
    fig, axes = plt.subplots(1, 2, figsize=(7.5, 3))
    for name, style in zip(largest, ("o-", "s--")):
        for ax, data in zip(axes, (largest, grad_norm)):
            v = np.asarray(data[name])
            ax.errorbar(dks, v.mean(axis=0), yerr=v.std(axis=0), fmt=style, label=name, capsize=3)
    axes[0].set_ylabel("largest weight $\\max_j \\alpha_j$")
    axes[1].set_ylabel("Jacobian size $\\|\\mathrm{diag}(p) - pp^\\top\\|_F$")
    axes[1].set_yscale("log")
    for ax in axes:
        ax.set_xscale("log", base=2)
        ax.set_xlabel("$d_k$")
        ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def attention_grid(maps, titles, suptitle=""):
    """Several (T, T) weight matrices side by side, query positions down, key positions across."""
    fig, axes = plt.subplots(1, len(maps), figsize=(2.4 * len(maps), 2.6), squeeze=False)
    for ax, m, title in zip(axes[0], maps, titles):
        ax.imshow(m, cmap="viridis", vmin=0, vmax=1)
        ticks = np.arange(0, m.shape[0], 2)
        ax.set_xticks(ticks, [str(k + 1) for k in ticks])  # positions counted from 1, as in the text
        ax.set_yticks(ticks, [str(k + 1) for k in ticks])
        ax.set_title(title, fontsize=9)
        ax.set_xlabel("key")
        ax.set_ylabel("query")
    if suptitle:
        fig.suptitle(suptitle, fontsize=10)
    fig.tight_layout()
    return fig


def patches_figure(image, tokens, p):
    """An image with its patch grid, and its patch tokens in reading order."""
    n = len(tokens)
    fig = plt.figure(figsize=(7, 2.6))
    ax = fig.add_subplot(1, 2, 1)
    ax.imshow(image, cmap="gray_r")
    h, w = image.shape
    for k in range(0, h + 1, p):
        ax.axhline(k - 0.5, color="red", linewidth=1)
    for k in range(0, w + 1, p):
        ax.axvline(k - 0.5, color="red", linewidth=1)
    ax.set_xticks([])
    ax.set_yticks([])
    ax.set_title("image and its patches", fontsize=9)
    ax = fig.add_subplot(1, 2, 2)
    ax.imshow(tokens.T, cmap="gray_r", aspect="auto")
    ax.set_xticks(np.arange(0, n, 2))
    ax.set_yticks(np.arange(p * p))
    ax.set_xlabel("token (patch in reading order)")
    ax.set_ylabel("pixel within the patch")
    ax.set_title(f"{n} tokens of {p * p} pixels", fontsize=9)
    fig.tight_layout()
    return fig
