"""Autoencoders: the plain, sparse and denoising autoencoder, and the variational autoencoder
(chapter 4b, which derives every formula here).

Encoder and decoder are ``lib.nn`` modules; the decoder outputs logits, and the reconstruction
loss is the Bernoulli cross-entropy of chapter 2 (``losses.sigmoid_cross_entropy``) against the
clean input.  The pieces added here, as forward/backward pairs or (loss, gradient) functions:

* ``kl_sparsity``: the penalty sum_j KL(rho || rho_hat_j) on the mean activation of each code unit;
* ``corrupt``: the denoising autoencoder's masking (and Gaussian) noise;
* ``gaussian_forward`` / ``gaussian_backward``: the VAE encoder's head, (mean, log-variance);
* ``reparameterize_forward`` / ``reparameterize_backward``: z = mu + exp(logvar / 2) eps;
* ``gaussian_kl_forward`` / ``gaussian_kl_backward``: KL between diagonal Gaussians, in closed form;
* ``elbo_loss``: the negative evidence lower bound, Bernoulli decoder and N(0, I) prior.

Shapes: N batch, D input features, H code (hidden) units, Z latent dimensions.
Randomness only through a passed ``numpy.random.Generator``.
"""
import numpy as np

from lib import linear, losses, nn
from lib.activations import sigmoid
from lib.gradcheck import numerical_gradient, rel_error

TINY = np.finfo(float).tiny


def _rng(name, rng):
    if not isinstance(rng, np.random.Generator):
        raise ValueError(f"{name} expects a numpy.random.Generator, got {type(rng).__name__}")
    return rng


def _batch(name, x, what="x"):
    x = np.asarray(x, dtype=float)
    if x.ndim != 2 or x.shape[0] == 0:
        raise ValueError(f"{name} expects {what} of shape (N, features) with N >= 1, got {x.shape}")
    return x


def _pair(name, a, b, names=("mu", "logvar")):
    a, b = _batch(name, a, names[0]), np.asarray(b, dtype=float)
    if b.shape != a.shape:
        raise ValueError(f"{name} expects {names[1]} of the shape of {names[0]} {a.shape}, got {b.shape}")
    return a, b


def exp_minus_one_minus(x):
    """g(x) = e^x - 1 - x >= 0, accurate to a few ulps for every x (also where it is tiny).

    For |x| < 1 the naive form cancels (g(1e-8) is 5e-17), so the series sum_{k>=2} x^k/k! is
    summed by Horner's rule; elsewhere expm1(x) - x loses nothing.
    """
    x = np.asarray(x, dtype=float)
    small = np.abs(x) < 1.0
    t = np.where(small, x, 0.0)
    series = np.zeros_like(t)
    for k in range(19, 1, -1):  # x^2/2! + ... + x^19/19!: the next term is below 1e-17 relative
        series = (series + 1.0) * t / k
    series = series * t  # Horner above built (x/2)(1 + x/3 (1 + ...)); one more factor of x
    with np.errstate(over="ignore"):
        big = np.expm1(np.where(small, 0.0, x)) - np.where(small, 0.0, x)
    return np.where(small, series, big)


# ----- the sparse autoencoder ---------------------------------------------------------------------


def kl_bernoulli(rho, r):
    """KL(rho || r) = rho log(rho / r) + (1 - rho) log((1 - rho) / (1 - r)) between Bernoulli
    distributions, elementwise; r is floored at the smallest positive float on both sides."""
    r = np.asarray(r, dtype=float)
    lo, hi = np.maximum(r, TINY), np.maximum(1.0 - r, TINY)
    return rho * np.log(rho / lo) + (1.0 - rho) * np.log((1.0 - rho) / hi)


def kl_sparsity(a, rho):
    """The sparsity penalty P = sum_j KL(rho || rho_hat_j), rho_hat_j = (1/N) sum_n a_nj.

    a: (N, H) code activations in [0, 1] (sigmoid units); rho in (0, 1), the target mean activation.
    Returns (P, dP/da) with dP/da_nj = (-rho / rho_hat_j + (1 - rho) / (1 - rho_hat_j)) / N.
    A unit whose mean activation is exactly 0 or 1 gets a large finite penalty and gradient.
    """
    a = _batch("kl_sparsity", a, "activations a")
    if not 0.0 < rho < 1.0:
        raise ValueError(f"kl_sparsity expects a target activation rho in (0, 1), got {rho}")
    if np.any((a < 0) | (a > 1)) or not np.all(np.isfinite(a)):
        raise ValueError("kl_sparsity expects activations in [0, 1] (a sigmoid code layer), got values "
                         f"from {np.nanmin(a)} to {np.nanmax(a)}")
    n = a.shape[0]
    r = a.mean(axis=0)
    lo, hi = np.maximum(r, TINY), np.maximum(1.0 - r, TINY)
    grad = (-rho / lo + (1.0 - rho) / hi) / n
    return float(np.sum(kl_bernoulli(rho, r))), np.broadcast_to(grad, a.shape).copy()


# ----- the denoising autoencoder ------------------------------------------------------------------


def corrupt(x, rng, q=0.0, s=0.0):
    """A corrupted copy of x: each entry is set to 0 with probability q (masking noise), then
    Gaussian noise of standard deviation s is added.  E[masked x] = (1 - q) x.  x: (N, D)."""
    _rng("corrupt", rng)
    x = _batch("corrupt", x)
    if not 0.0 <= q < 1.0 or s < 0:
        raise ValueError(f"corrupt expects a masking probability q in [0, 1) and s >= 0, got q={q}, s={s}")
    out = x * (rng.random(x.shape) >= q) if q else x.copy()
    return out + s * rng.standard_normal(x.shape) if s else out


# ----- the variational autoencoder: Gaussian layer, reparameterisation, KL, ELBO -------------------


def gaussian_forward(x, w, b):
    """The VAE encoder's head: one affine map x @ w + b of width 2Z, split into (mu, logvar).

    x: (N, H); w: (H, 2Z); b: (2Z,).  Returns (mu (N, Z), logvar (N, Z)) and the cache.
    """
    if w.ndim != 2 or w.shape[1] % 2:
        raise ValueError(f"gaussian_forward expects w of shape (H, 2Z) with an even width, got {w.shape}")
    out, cache = linear.affine_forward(x, w, b)
    z = w.shape[1] // 2
    return (out[:, :z], out[:, z:]), cache


def gaussian_backward(dmu, dlogvar, cache):
    """Given dL/dmu and dL/dlogvar (N, Z), return dx (N, H), dw (H, 2Z), db (2Z,)."""
    dmu, dlogvar = _pair("gaussian_backward", dmu, dlogvar, ("dmu", "dlogvar"))
    return linear.affine_backward(np.concatenate([dmu, dlogvar], axis=1), cache)


def reparameterize_forward(mu, logvar, rng=None, eps=None):
    """z = mu + exp(logvar / 2) * eps with eps ~ N(0, I): a sample of N(mu, diag(exp(logvar)))
    written as a differentiable function of (mu, logvar).

    Pass rng (a Generator, which draws eps) or eps itself (N, Z).  Returns z (N, Z) and the cache.
    """
    mu, logvar = _pair("reparameterize_forward", mu, logvar)
    if (rng is None) == (eps is None):
        raise ValueError("reparameterize_forward expects exactly one of rng and eps")
    if eps is None:
        eps = _rng("reparameterize_forward", rng).standard_normal(mu.shape)
    eps = np.asarray(eps, dtype=float)
    if eps.shape != mu.shape:
        raise ValueError(f"reparameterize_forward expects eps of shape {mu.shape}, got {eps.shape}")
    with np.errstate(over="ignore"):
        std = np.exp(0.5 * logvar)
    return mu + std * eps, (std, eps)


def reparameterize_backward(dz, cache):
    """Given dL/dz (N, Z), return dmu = dz and dlogvar = dz * eps * exp(logvar / 2) / 2."""
    std, eps = cache
    dz = np.asarray(dz, dtype=float)
    if dz.shape != eps.shape:
        raise ValueError(f"reparameterize_backward expects dz of shape {eps.shape}, got {dz.shape}")
    return dz.copy(), 0.5 * dz * eps * std


def gaussian_kl_forward(mu, logvar, mu_p=None, logvar_p=None):
    """KL(N(mu, diag e^logvar) || N(mu_p, diag e^logvar_p)) per sample, summed over the Z dimensions:

    KL_n = (1/2) sum_j [ g(logvar - logvar_p) + (mu - mu_p)^2 e^(-logvar_p) ],  g(t) = e^t - 1 - t.

    mu, logvar: (N, Z); the prior's mu_p, logvar_p: (N, Z), default 0 (the standard normal).
    Both terms are nonnegative, so nothing cancels.  Returns kl (N,) and the cache.
    """
    mu, logvar = _pair("gaussian_kl_forward", mu, logvar)
    mu_p = np.zeros_like(mu) if mu_p is None else np.asarray(mu_p, dtype=float)
    logvar_p = np.zeros_like(mu) if logvar_p is None else np.asarray(logvar_p, dtype=float)
    if mu_p.shape != mu.shape or logvar_p.shape != mu.shape:
        raise ValueError(f"gaussian_kl_forward expects the prior's mu_p and logvar_p of shape {mu.shape}, "
                         f"got {mu_p.shape} and {logvar_p.shape}")
    t = logvar - logvar_p
    diff = mu - mu_p
    with np.errstate(over="ignore"):
        inv_var_p = np.exp(-logvar_p)
    kl = 0.5 * np.sum(exp_minus_one_minus(t) + diff**2 * inv_var_p, axis=1)
    return kl, (t, diff, inv_var_p)


def gaussian_kl_backward(dkl, cache):
    """Given dL/dkl (N,), return (dmu, dlogvar, dmu_p, dlogvar_p), each (N, Z):

    dKL/dmu = (mu - mu_p) e^(-logvar_p);  dKL/dlogvar = (e^(logvar - logvar_p) - 1) / 2;
    the prior's gradients are minus these, plus -(mu - mu_p)^2 e^(-logvar_p) / 2 for logvar_p.
    """
    t, diff, inv_var_p = cache
    dkl = np.asarray(dkl, dtype=float)
    if dkl.shape != (t.shape[0],):
        raise ValueError(f"gaussian_kl_backward expects dkl of shape ({t.shape[0]},), got {dkl.shape}")
    up = dkl[:, None]
    dmu = up * diff * inv_var_p
    dlogvar = up * 0.5 * np.expm1(t)
    return dmu, dlogvar, -dmu, -dlogvar - up * 0.5 * diff**2 * inv_var_p


def gaussian_log_density(z, mu, logvar):
    """log N(z; mu, diag e^logvar) per sample, summed over dimensions: (N,) from (N, Z) arrays."""
    mu, logvar = _pair("gaussian_log_density", mu, logvar)
    z = np.asarray(z, dtype=float)
    if z.shape != mu.shape:
        raise ValueError(f"gaussian_log_density expects z of shape {mu.shape}, got {z.shape}")
    return -0.5 * np.sum(np.log(2 * np.pi) + logvar + (z - mu) ** 2 * np.exp(-logvar), axis=1)


def bernoulli_log_likelihood(logits, x):
    """log p(x | z) = sum_d [x_d log sigma(z_d) + (1 - x_d) log(1 - sigma(z_d))] per sample: (N,)."""
    logits, x = _pair("bernoulli_log_likelihood", logits, x, ("logits", "x"))
    per = np.where(logits >= 0, logits * (1.0 - x), -logits * x) + np.log1p(np.exp(-np.abs(logits)))
    return -per.sum(axis=1)


def elbo_loss(logits, x, mu, logvar, beta=1.0):
    """The negative ELBO averaged over the batch, for a Bernoulli decoder and the prior N(0, I):

    L = (1/N) sum_n [ -log p(x_n | z_n) + beta KL(q(z | x_n) || N(0, I)) ],

    with logits (N, D) decoded from one sample z_n of q(z | x_n) = N(mu_n, diag e^logvar_n).
    beta = 1 is the ELBO itself.  Returns (L, dL/dlogits, dL/dmu, dL/dlogvar), the last two
    only through the KL term (the path through z is the reparameterisation's).
    """
    logits, x = _pair("elbo_loss", logits, x, ("logits", "x"))
    if np.any((x < 0) | (x > 1)):
        raise ValueError(f"elbo_loss expects x in [0, 1], got values from {x.min()} to {x.max()}")
    if beta < 0:
        raise ValueError(f"elbo_loss expects beta >= 0, got {beta}")
    if len(mu) != len(x):
        raise ValueError(f"elbo_loss expects mu with one row per sample ({len(x)}), got {np.shape(mu)}")
    rec, dlogits = losses.sigmoid_cross_entropy(logits, x)
    kl, cache = gaussian_kl_forward(mu, logvar)
    n = x.shape[0]
    dmu, dlogvar, _, _ = gaussian_kl_backward(np.full(n, beta / n), cache)
    return rec + beta * kl.mean(), dlogits, dmu, dlogvar


# ----- models -------------------------------------------------------------------------------------


def _prefixed(**modules):
    return lambda attr: {f"{name}.{k}": v for name, m in modules.items() for k, v in getattr(m, attr)().items()}


class Autoencoder:
    """An encoder (x (N, D) -> code (N, H)) and a decoder (code -> logits (N, D)), ``lib.nn`` modules.

    Loss: L = (1/N) sum_n BCE(x_n, decoder(encoder(x~_n))) + beta * sum_j KL(rho || rho_hat_j),
    where x~ is x itself (plain), or x corrupted by masking noise q (denoising); beta > 0 makes
    it a sparse autoencoder and needs a code in [0, 1] (sigmoid code units).
    """

    def __init__(self, encoder, decoder, beta=0.0, rho=0.05, q=0.0):
        if beta < 0 or not 0.0 < rho < 1.0 or not 0.0 <= q < 1.0:
            raise ValueError(f"Autoencoder expects beta >= 0, rho in (0, 1) and q in [0, 1), got {beta}, {rho}, {q}")
        self.encoder, self.decoder, self.beta, self.rho, self.q = encoder, decoder, beta, rho, q
        self._collect = _prefixed(enc=encoder, dec=decoder)

    def params(self):
        return self._collect("params")

    def grads(self):
        return self._collect("grads")

    def encode(self, x):
        return self.encoder.forward(_batch("Autoencoder.encode", x))

    def reconstruct(self, x):
        """The decoder's probabilities sigma(logits) for the input x (N, D)."""
        return sigmoid(self.decoder.forward(self.encode(x)))

    def loss(self, x_in, target):
        """Forward and backward for input x_in and clean target (N, D); returns (L, reconstruction
        loss, sparsity penalty) and leaves the gradients in ``grads()``."""
        code = self.encode(x_in)
        rec, dlogits = losses.sigmoid_cross_entropy(self.decoder.forward(code), target)
        dcode = self.decoder.backward(dlogits)
        penalty = 0.0
        if self.beta:
            penalty, dpen = kl_sparsity(code, self.rho)
            dcode = dcode + self.beta * dpen
        self.encoder.backward(dcode)
        return rec + self.beta * penalty, rec, penalty

    def step(self, x, optimizer, rng):
        """One optimiser step on the batch x (corrupted first if q > 0); returns the loss."""
        x_in = corrupt(x, rng, q=self.q) if self.q else x
        total = self.loss(x_in, x)[0]
        optimizer.step(self.params(), self.grads())
        return total


class VAE:
    """A variational autoencoder: encoder (x -> features), a Gaussian head (features -> mu, logvar,
    weights w (H, 2Z), b (2Z,)), and a decoder (z (N, Z) -> logits (N, D)); prior N(0, I).

    Trained by minimising ``elbo_loss`` with one reparameterised sample z per input.
    """

    def __init__(self, encoder, decoder, hidden, latent, rng, beta=1.0):
        if int(latent) != latent or latent < 1 or beta < 0:
            raise ValueError(f"VAE expects an integer latent >= 1 and beta >= 0, got {latent} and {beta}")
        self.encoder, self.decoder, self.latent, self.beta = encoder, decoder, int(latent), beta
        self.head = nn.Linear(hidden, 2 * self.latent, _rng("VAE", rng))
        self._collect = _prefixed(enc=encoder, head=self.head, dec=decoder)

    def params(self):
        return self._collect("params")

    def grads(self):
        return self._collect("grads")

    def encode(self, x):
        """The approximate posterior's (mu, logvar), each (N, Z)."""
        (mu, logvar), self._head_cache = gaussian_forward(self.encoder.forward(_batch("VAE.encode", x)),
                                                          self.head.w, self.head.b)
        return mu, logvar

    def decode(self, z):
        """The decoder's pixel probabilities sigma(logits) for latent points z (N, Z)."""
        return sigmoid(self.decoder.forward(_batch("VAE.decode", z, "z")))

    def loss(self, x, rng=None, eps=None):
        """Forward and backward of the negative ELBO on x (N, D) with one sample per input (eps
        drawn from rng, or given); returns (L, reconstruction term, KL term), batch means."""
        mu, logvar = self.encode(x)
        z, rep_cache = reparameterize_forward(mu, logvar, rng=rng, eps=eps)
        logits = self.decoder.forward(z)
        total, dlogits, dmu, dlogvar = elbo_loss(logits, x, mu, logvar, self.beta)
        dmu_z, dlogvar_z = reparameterize_backward(self.decoder.backward(dlogits), rep_cache)
        dx, dw, db = gaussian_backward(dmu + dmu_z, dlogvar + dlogvar_z, self._head_cache)
        self.head._grads = {"w": dw, "b": db}
        self.encoder.backward(dx)
        kl = gaussian_kl_forward(mu, logvar)[0].mean()
        return total, total - self.beta * kl, kl

    def step(self, x, optimizer, rng):
        total = self.loss(x, rng=rng)[0]
        optimizer.step(self.params(), self.grads())
        return total

    def elbo(self, x, rng, samples=1):
        """A Monte Carlo estimate of each input's ELBO (N,), averaged over ``samples`` draws of z."""
        mu, logvar = self.encode(x)
        kl = gaussian_kl_forward(mu, logvar)[0]
        rec = np.mean([bernoulli_log_likelihood(self.decoder.forward(reparameterize_forward(mu, logvar, rng)[0]), x)
                       for _ in range(int(samples))], axis=0)
        return rec - kl

    def importance_bound(self, x, rng, k):
        """The importance-weighted bound log (1/k) sum_i p(x, z_i) / q(z_i | x) <= log p(x), per input (N,);
        k = 1 is a one-sample ELBO, and the bound tightens as k grows."""
        mu, logvar = self.encode(x)
        logw = []
        for _ in range(int(k)):
            z, _ = reparameterize_forward(mu, logvar, rng)
            prior = gaussian_log_density(z, np.zeros_like(z), np.zeros_like(z))
            logw.append(bernoulli_log_likelihood(self.decoder.forward(z), x) + prior
                        - gaussian_log_density(z, mu, logvar))
        logw = np.array(logw)
        top = logw.max(axis=0)
        return top + np.log(np.mean(np.exp(logw - top), axis=0))

    def sample(self, n, rng):
        """n new inputs' pixel probabilities, decoded from z ~ N(0, I)."""
        return self.decode(_rng("VAE.sample", rng).standard_normal((int(n), self.latent)))


def make_autoencoder(d, code, rng, hidden=(), activation="relu", code_activation="sigmoid", **kw):
    """An Autoencoder of dense layers: D -> hidden... -> code (code_activation) -> ...hidden -> D logits.

    Further keywords (beta, rho, q) go to ``Autoencoder``.
    """
    _rng("make_autoencoder", rng)
    enc = nn.mlp([d, *hidden, code], rng, activation=activation)
    enc.layers.append(nn.Activation(code_activation))
    dec = nn.mlp([code, *reversed(hidden), d], rng, activation=activation)
    return Autoencoder(enc, dec, **kw)


def make_vae(d, latent, rng, hidden=64, activation="relu", beta=1.0):
    """A VAE with one hidden layer each way: D -> hidden -> (mu, logvar) of size Z; Z -> hidden -> D."""
    _rng("make_vae", rng)
    if int(latent) != latent or latent < 1:
        raise ValueError(f"make_vae expects an integer latent >= 1, got {latent}")
    enc = nn.Sequential(nn.Linear(d, hidden, rng, "he"), nn.Activation(activation))
    dec = nn.mlp([latent, hidden, d], rng, activation=activation)
    return VAE(enc, dec, hidden, latent, rng, beta=beta)


def gradient_error(model, loss, h=1e-6):
    """The largest relative error between a model's gradients and central finite differences.

    loss() runs the model's forward and backward passes and returns the scalar loss (for a VAE,
    with fixed eps, so that it is a deterministic function of the parameters).
    """
    loss()
    grads = {k: g.copy() for k, g in model.grads().items()}
    return max(rel_error(grads[k], numerical_gradient(lambda _: loss(), p, h)) for k, p in model.params().items())


def train(model, x, optimizer, rng, epochs=10, batch_size=64):
    """Minibatch training of an Autoencoder or a VAE; returns the mean training loss of each epoch."""
    _rng("train", rng)
    x = _batch("train", x)
    history = []
    for _ in range(int(epochs)):
        total = 0.0
        for idx in nn.minibatches(len(x), batch_size, rng):
            total += model.step(x[idx], optimizer, rng) * len(idx)
        history.append(total / len(x))
    return history
