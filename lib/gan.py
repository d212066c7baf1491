"""Generative adversarial networks: losses on the discriminator's logit, alternating training, and
measures of how good the generated samples are (chapter 8).

The discriminator outputs a logit z; D = sigma(z) is its probability that a sample is real.  All
losses take logits, never probabilities, so that a confident discriminator (|z| in the hundreds)
gives finite losses and gradients with full relative accuracy.  The forward values come from
``lib.losses.sigmoid_cross_entropy``; the gradients here are written as a difference of two
nonnegative terms that never cancel when the target is 0 or 1.

Generated data: a one-dimensional mixture of Gaussians and a ring of Gaussians in the plane.
Metrics: mode coverage and the fraction of high-quality samples, the Wasserstein-1 distance
between two 1-D samples, and the kernel maximum mean discrepancy (MMD).
Randomness only through a passed ``numpy.random.Generator``.
"""
import numpy as np

from lib import losses
from lib.activations import sigmoid

GENERATOR_LOSSES = ("saturating", "non-saturating")


def _logits(name, z):
    z = np.asarray(z, dtype=float)
    if z.ndim == 0 or z.size == 0:
        raise ValueError(f"{name} expects a non-empty batch of logits (N,) or (N, 1), got shape {z.shape}")
    if z.ndim == 2 and z.shape[1] != 1 or z.ndim > 2:
        raise ValueError(f"{name} expects logits of shape (N,) or (N, 1), got {z.shape}")
    return z


def _rng(name, rng):
    if not isinstance(rng, np.random.Generator):
        raise ValueError(f"{name} expects a numpy.random.Generator, got {type(rng).__name__}")
    return rng


# ----- losses on logits ---------------------------------------------------------------------------


def bce_logits(z, y):
    """Binary cross-entropy L = -(1/N) sum [y log sigma(z) + (1 - y) log(1 - sigma(z))] from logits.

    Returns (L, dL/dz).  The loss is ``losses.sigmoid_cross_entropy``'s (accurate to 1e-12 relative);
    the gradient (sigma(z) - y)/N is computed as ((1 - y) sigma(z) - y sigma(-z))/N, which keeps
    full relative accuracy in both tails for y in {0, 1}, where sigma(z) - 1 would round to 0.
    """
    z = _logits("bce_logits", z)
    y = np.broadcast_to(np.asarray(y, dtype=float), z.shape) if np.ndim(y) == 0 else np.asarray(y, dtype=float)
    if y.shape != z.shape:
        raise ValueError(f"bce_logits expects targets of the logits' shape {z.shape} (or a scalar), got {y.shape}")
    if np.any((y < 0) | (y > 1)):
        raise ValueError(f"bce_logits expects targets in [0, 1], got values from {y.min()} to {y.max()}")
    loss, _ = losses.sigmoid_cross_entropy(z, y)
    n = z.shape[0]
    return loss, ((1.0 - y) * sigmoid(z) - y * sigmoid(-z)) / n


def discriminator_loss(z_real, z_fake, real_label=1.0):
    """The discriminator's loss: BCE of real samples against real_label plus BCE of fakes against 0.

    L_D = -(1/N) sum log D(x) - (1/M) sum log(1 - D(G(xi))) for real_label = 1; a real_label
    below 1 is one-sided label smoothing.  Returns (L_D, dL/dz_real, dL/dz_fake).
    """
    if not 0.5 < real_label <= 1.0:
        raise ValueError(f"discriminator_loss expects real_label in (0.5, 1], got {real_label}")
    l_real, d_real = bce_logits(z_real, real_label)
    l_fake, d_fake = bce_logits(z_fake, 0.0)
    return l_real + l_fake, d_real, d_fake


def saturating_loss(z_fake):
    """The generator's loss of the original minimax game: L_G = (1/N) sum log(1 - sigma(z)).

    Minimised by the generator.  dL/dz = -sigma(z)/N, which vanishes as D(G(xi)) -> 0.
    """
    loss, _ = bce_logits(z_fake, 0.0)
    z = np.asarray(z_fake, dtype=float)
    return -loss, -sigmoid(z) / z.shape[0]


def non_saturating_loss(z_fake):
    """The non-saturating generator loss: L_G = -(1/N) sum log sigma(z).

    dL/dz = -(1 - sigma(z))/N = -sigma(-z)/N, which tends to -1/N as D(G(xi)) -> 0.
    """
    return bce_logits(z_fake, 1.0)


def generator_loss(z_fake, kind="non-saturating"):
    """(L_G, dL/dz) for kind "saturating" or "non-saturating"."""
    if kind == "saturating":
        return saturating_loss(z_fake)
    if kind == "non-saturating":
        return non_saturating_loss(z_fake)
    raise ValueError(f"unknown generator loss {kind!r}; known: {', '.join(GENERATOR_LOSSES)}")


def js_divergence(p, q):
    """Jensen-Shannon divergence (natural log) of two discrete distributions (probability vectors)."""
    p, q = np.asarray(p, dtype=float), np.asarray(q, dtype=float)
    if p.shape != q.shape or p.ndim != 1:
        raise ValueError(f"js_divergence expects two probability vectors of one shape, got {p.shape} and {q.shape}")
    for name, v in (("p", p), ("q", q)):
        if np.any(v < 0) or abs(v.sum() - 1.0) > 1e-9:
            raise ValueError(f"js_divergence: {name} must be nonnegative and sum to 1, got sum {v.sum()}")
    m = 0.5 * (p + q)

    def kl(a):
        return np.sum(np.where(a > 0, a * (losses.safe_log(a) - losses.safe_log(m)), 0.0))

    return 0.5 * kl(p) + 0.5 * kl(q)


def optimal_discriminator(p_data, p_g):
    """D*(x) = p_data(x) / (p_data(x) + p_g(x)), elementwise (where both are 0, 1/2)."""
    p_data, p_g = np.asarray(p_data, dtype=float), np.asarray(p_g, dtype=float)
    if p_data.shape != p_g.shape:
        raise ValueError(f"optimal_discriminator expects densities of one shape, got {p_data.shape} and {p_g.shape}")
    if np.any(p_data < 0) or np.any(p_g < 0):
        raise ValueError("optimal_discriminator expects nonnegative densities")
    total = p_data + p_g
    return np.where(total > 0, p_data / np.where(total > 0, total, 1.0), 0.5)


def value_discrete(p_data, p_g, d):
    """The GAN value V(D, G) = E_data[log D] + E_g[log(1 - D)] on a finite sample space."""
    p_data, p_g, d = (np.asarray(a, dtype=float) for a in (p_data, p_g, d))
    if not p_data.shape == p_g.shape == d.shape:
        raise ValueError(f"value_discrete expects arrays of one shape, got {p_data.shape}, {p_g.shape}, {d.shape}")
    if np.any((d < 0) | (d > 1)):
        raise ValueError("value_discrete expects discriminator outputs in [0, 1]")
    real = np.where(p_data > 0, p_data * losses.safe_log(d), 0.0)
    fake = np.where(p_g > 0, p_g * losses.safe_log(1.0 - d), 0.0)
    return float(real.sum() + fake.sum())


# ----- data -----------------------------------------------------------------------------------------


def ring_centres(modes=8, radius=2.0):
    """The centres (modes, 2) of a ring of Gaussians, evenly spaced on a circle, the first on the x axis."""
    if int(modes) != modes or modes < 1 or radius <= 0:
        raise ValueError(f"ring_centres expects an integer modes >= 1 and radius > 0, got {modes} and {radius}")
    angle = 2 * np.pi * np.arange(int(modes)) / modes
    return radius * np.column_stack([np.cos(angle), np.sin(angle)])


def mixture(n, centres, std, rng, weights=None):
    """n samples (n, D) from an equal-variance Gaussian mixture with the given centres (K, D) or (K,).

    Returns the samples and the component of each.  1-D centres give samples of shape (n, 1).
    """
    _rng("mixture", rng)
    c = np.asarray(centres, dtype=float)
    c = c[:, None] if c.ndim == 1 else c
    if c.ndim != 2 or len(c) == 0:
        raise ValueError(f"mixture expects centres of shape (K,) or (K, D), got {np.shape(centres)}")
    if std <= 0 or int(n) != n or n < 1:
        raise ValueError(f"mixture expects n >= 1 and std > 0, got {n} and {std}")
    if weights is None:
        k = rng.integers(len(c), size=int(n))
    else:
        w = np.asarray(weights, dtype=float)
        if w.shape != (len(c),) or np.any(w < 0) or abs(w.sum() - 1) > 1e-9:
            raise ValueError(f"mixture expects {len(c)} nonnegative weights summing to 1, got {weights}")
        k = np.minimum(np.searchsorted(np.cumsum(w), rng.random(int(n)), side="right"), len(c) - 1)
    return c[k] + std * rng.standard_normal((int(n), c.shape[1])), k


# ----- metrics --------------------------------------------------------------------------------------


def mode_coverage(x, centres, std, radius=3.0, min_fraction=0.01):
    """How many modes the samples x (N, D) cover, and what fraction of them is high quality.

    A sample is high quality when it lies within radius * std of its nearest centre; a mode is
    covered when at least min_fraction of all samples are high-quality samples near it.
    Returns (modes covered, high-quality fraction).
    """
    x = np.asarray(x, dtype=float)
    c = np.asarray(centres, dtype=float)
    c = c[:, None] if c.ndim == 1 else c
    x = x[:, None] if x.ndim == 1 else x
    if x.ndim != 2 or c.ndim != 2 or x.shape[1] != c.shape[1] or len(x) == 0:
        raise ValueError(f"mode_coverage expects samples (N, D) and centres (K, D), got {np.shape(x)} and {c.shape}")
    if std <= 0 or radius <= 0 or not 0 < min_fraction <= 1:
        raise ValueError(f"mode_coverage expects std > 0, radius > 0, 0 < min_fraction <= 1; got {std}, {radius}, "
                         f"{min_fraction}")
    d2 = ((x[:, None, :] - c[None, :, :]) ** 2).sum(axis=2)
    nearest = d2.argmin(axis=1)
    good = np.sqrt(d2[np.arange(len(x)), nearest]) <= radius * std
    counts = np.bincount(nearest[good], minlength=len(c))
    return int(np.sum(counts >= min_fraction * len(x))), float(good.mean())


def wasserstein_1d(a, b):
    """The Wasserstein-1 distance between the empirical distributions of two 1-D samples.

    W1 = integral |F_a(t) - F_b(t)| dt over the two empirical CDFs (exact for any sample sizes).
    """
    a, b = np.ravel(np.asarray(a, dtype=float)), np.ravel(np.asarray(b, dtype=float))
    if a.size == 0 or b.size == 0:
        raise ValueError(f"wasserstein_1d expects two non-empty samples, got sizes {a.size} and {b.size}")
    if not (np.all(np.isfinite(a)) and np.all(np.isfinite(b))):
        raise ValueError("wasserstein_1d expects finite values")
    a, b = np.sort(a), np.sort(b)
    t = np.concatenate([a, b])
    t.sort()
    fa = np.searchsorted(a, t[:-1], side="right") / a.size
    fb = np.searchsorted(b, t[:-1], side="right") / b.size
    return float(np.sum(np.abs(fa - fb) * np.diff(t)))


def mmd(x, y, bandwidth):
    """Squared maximum mean discrepancy with the Gaussian kernel k(u, v) = exp(-|u - v|^2 / (2 h^2)).

    The biased (V-statistic) estimate mean k(x, x') + mean k(y, y') - 2 mean k(x, y), which is >= 0
    and 0 exactly when the two samples are the same multiset.  x (N, D) and y (M, D), or 1-D arrays.
    """
    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    x = x[:, None] if x.ndim == 1 else x
    y = y[:, None] if y.ndim == 1 else y
    if x.ndim != 2 or y.ndim != 2 or x.shape[1] != y.shape[1] or len(x) == 0 or len(y) == 0:
        raise ValueError(f"mmd expects samples (N, D) and (M, D), got {np.shape(x)} and {np.shape(y)}")
    if bandwidth <= 0:
        raise ValueError(f"mmd expects bandwidth > 0, got {bandwidth}")

    def k(u, v):
        d2 = (u**2).sum(1)[:, None] + (v**2).sum(1)[None, :] - 2 * u @ v.T
        return np.exp(-np.maximum(d2, 0.0) / (2 * bandwidth**2))

    return float(max(k(x, x).mean() + k(y, y).mean() - 2 * k(x, y).mean(), 0.0))


# ----- alternating training ------------------------------------------------------------------------


class GAN:
    """A generator G (noise (N, noise_dim) -> samples) and a discriminator D (samples -> logits (N, 1)),
    both ``lib.nn`` modules, with one optimiser each (``lib.optim``).

    ``step`` is one round of the alternating game: k discriminator updates on fresh real and
    generated batches, then one generator update through the (fixed) discriminator.
    """

    def __init__(self, generator, discriminator, g_opt, d_opt, noise_dim, loss="non-saturating", k=1,
                 real_label=1.0, instance_noise=0.0):
        if loss not in GENERATOR_LOSSES:
            raise ValueError(f"unknown generator loss {loss!r}; known: {', '.join(GENERATOR_LOSSES)}")
        if int(k) != k or k < 1 or int(noise_dim) != noise_dim or noise_dim < 1:
            raise ValueError(f"GAN expects integers k >= 1 and noise_dim >= 1, got {k} and {noise_dim}")
        if not 0.5 < real_label <= 1.0:
            raise ValueError(f"GAN expects real_label in (0.5, 1], got {real_label}")
        self.G, self.D, self.g_opt, self.d_opt = generator, discriminator, g_opt, d_opt
        if instance_noise < 0:
            raise ValueError(f"GAN expects instance_noise >= 0, got {instance_noise}")
        self.noise_dim, self.loss, self.k, self.real_label = int(noise_dim), loss, int(k), real_label
        self.instance_noise = float(instance_noise)

    def _blur(self, x, rng):
        # instance noise: the discriminator sees every sample, real or generated, through Gaussian noise
        return x + self.instance_noise * rng.standard_normal(x.shape) if self.instance_noise else x

    def noise(self, n, rng):
        return _rng("GAN.noise", rng).standard_normal((int(n), self.noise_dim))

    def sample(self, n, rng):
        """n generated samples."""
        return self.G.forward(self.noise(n, rng))

    def discriminate(self, x):
        """D's probability that each row of x is real, shape (N,)."""
        return sigmoid(self.D.forward(np.asarray(x, dtype=float))).ravel()

    def d_step(self, x_real, rng):
        """One discriminator update on a real batch and as many generated samples; returns L_D."""
        x_real = np.asarray(x_real, dtype=float)
        n = len(x_real)
        x_fake = self.sample(n, rng)
        z = self.D.forward(self._blur(np.concatenate([x_real, x_fake]), rng))
        loss, d_real, d_fake = discriminator_loss(z[:n], z[n:], self.real_label)
        self.D.backward(np.concatenate([d_real, d_fake]))
        self.d_opt.step(self.D.params(), self.D.grads())
        return loss

    def g_step(self, n, rng):
        """One generator update through the discriminator (whose parameters stay put); returns L_G."""
        x_fake = self.sample(n, rng)
        loss, dz = generator_loss(self.D.forward(self._blur(x_fake, rng)), self.loss)
        self.G.backward(self.D.backward(dz))
        self.g_opt.step(self.G.params(), self.G.grads())
        return loss

    def step(self, sample_real, batch_size, rng):
        """k discriminator updates, then one generator update; sample_real(n, rng) -> (n, D) array."""
        for _ in range(self.k):
            d_loss = self.d_step(sample_real(batch_size, rng), rng)
        return d_loss, self.g_step(batch_size, rng)

    def train(self, sample_real, steps, batch_size, rng, every=0, callback=None):
        """Run ``steps`` rounds; every ``every`` rounds (and after the last) call callback(step, self).

        Returns a dict of per-round losses "d" and "g" and the callback's results under "log".
        """
        _rng("GAN.train", rng)
        if int(steps) != steps or steps < 1 or int(batch_size) != batch_size or batch_size < 1:
            raise ValueError(f"GAN.train expects integers steps >= 1 and batch_size >= 1, got {steps}, {batch_size}")
        history = {"d": [], "g": [], "log": []}
        for t in range(1, int(steps) + 1):
            d_loss, g_loss = self.step(sample_real, int(batch_size), rng)
            history["d"].append(float(d_loss))
            history["g"].append(float(g_loss))
            if callback is not None and ((every and t % every == 0) or t == steps):
                history["log"].append(callback(t, self))
        return history


def make_gan(rng, data_dim, noise_dim=2, hidden=32, lr_g=2e-3, lr_d=2e-3, **kw):
    """A GAN of two ReLU MLPs with two hidden layers each and Adam (beta1 = 0.5) for both players.

    G: noise_dim -> hidden -> hidden -> data_dim;  D: data_dim -> hidden -> hidden -> 1 (a logit).
    Further keywords (loss, k, real_label, instance_noise) go to ``GAN``.
    """
    from lib import nn, optim

    _rng("make_gan", rng)
    g = nn.mlp([noise_dim, hidden, hidden, data_dim], rng)
    d = nn.mlp([data_dim, hidden, hidden, 1], rng)
    return GAN(g, d, optim.Adam(lr_g, beta1=0.5), optim.Adam(lr_d, beta1=0.5), noise_dim, **kw)
