"""Figures for chapter 5 (recurrent networks): gradient norms through time, accuracies over seeds,
and the language model's next-character distribution at a temperature."""
import textwrap

import matplotlib.pyplot as plt
import numpy as np


def gradient_norms(curves, title="", ylabel=r"$\|\partial L / \partial h_t\|$"):
    """Semilog plot of gradient norms against the number of steps back from the loss.

    curves: dict label -> norms (index 0 = the last step, where the loss is).
    """
    fig, ax = plt.subplots(figsize=(5.5, 3.2))
    for label, norms in curves.items():
        norms = np.asarray(norms, dtype=float)
        ax.semilogy(np.arange(len(norms)), np.maximum(norms, 1e-300), label=label)
    ax.set_xlabel("steps back from the loss, $T - t$")
    ax.set_ylabel(ylabel)
    ax.set_title(title, fontsize=10)
    ax.legend(fontsize=8)
    ax.grid(True, which="major", alpha=0.3)
    fig.tight_layout()
    return fig


def accuracy_strip(results, chance=None, title="", ylabel="test accuracy"):
    """One column of dots per model (one dot per seed) with its mean as a bar."""
    fig, ax = plt.subplots(figsize=(5.5, 3.0))
    for k, (name, values) in enumerate(results.items()):
        values = np.asarray(values, dtype=float)
        ax.plot(np.full(values.size, k) + np.linspace(-0.12, 0.12, values.size), values, "o", alpha=0.7)
        ax.hlines(values.mean(), k - 0.3, k + 0.3, color="black")
    if chance is not None:
        ax.axhline(chance, ls="--", color="grey", lw=1, label="chance")
        ax.legend(fontsize=8, loc="center right")
    ax.set_xticks(range(len(results)), list(results), fontsize=9)
    ax.set_ylim(0, 1.05)
    ax.set_ylabel(ylabel)
    ax.set_title(title, fontsize=10)
    fig.tight_layout()
    return fig


def temperature_frame(sample, probs, symbols, temperature, prefix=""):
    """The next-symbol distribution after prefix (bars) and a sample drawn at that temperature (text)."""
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(6, 3.6), gridspec_kw={"height_ratios": [1.2, 1]})
    labels = ["␣" if s == " " else s for s in symbols]
    top.bar(range(len(probs)), probs, color="tab:blue")
    top.set_xticks(range(len(probs)), labels, fontsize=7)
    top.set_ylim(0, 1)
    top.set_ylabel("p(next)", fontsize=8)
    top.set_title(f"temperature {temperature:g}: next character after {prefix!r}", fontsize=9)
    bottom.axis("off")
    bottom.text(0, 1, "\n".join(textwrap.wrap(sample, 70)[:5]), va="top", family="monospace", fontsize=8)
    fig.tight_layout()
    return fig
