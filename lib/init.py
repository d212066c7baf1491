"""Weight initialisers (chapter 2 derives the variances).

For a weight of shape (D, M) the fan-in is D and the fan-out M; for a kernel
(F, C, KH, KW) they are C*KH*KW and F*KH*KW.  Keeping Var(w) = 2/(fan_in + fan_out)
(Glorot) or 2/fan_in (He, for ReLU) keeps activation variance steady through depth.
"""
import numpy as np


def fans(shape):
    """(fan_in, fan_out) of a dense weight (D, M) or a convolution kernel (F, C, KH, KW)."""
    if len(shape) == 2:
        return shape[0], shape[1]
    if len(shape) == 4:
        receptive = shape[2] * shape[3]
        return shape[1] * receptive, shape[0] * receptive
    raise ValueError(f"fans expects a shape (D, M) or (F, C, KH, KW), got {shape}")


def xavier_uniform(shape, rng):
    """U(-a, a) with a = sqrt(6 / (fan_in + fan_out)), so Var(w) = 2 / (fan_in + fan_out)."""
    fan_in, fan_out = fans(shape)
    a = np.sqrt(6.0 / (fan_in + fan_out))
    return rng.uniform(-a, a, size=shape)


def xavier_normal(shape, rng):
    """N(0, 2 / (fan_in + fan_out))."""
    fan_in, fan_out = fans(shape)
    return rng.normal(0.0, np.sqrt(2.0 / (fan_in + fan_out)), size=shape)


def he_normal(shape, rng):
    """N(0, 2 / fan_in): ReLU zeroes half the signal, so the variance doubles to compensate."""
    fan_in, _ = fans(shape)
    return rng.normal(0.0, np.sqrt(2.0 / fan_in), size=shape)


def he_uniform(shape, rng):
    """U(-a, a) with a = sqrt(6 / fan_in), so Var(w) = 2 / fan_in."""
    fan_in, _ = fans(shape)
    a = np.sqrt(6.0 / fan_in)
    return rng.uniform(-a, a, size=shape)


def normal(shape, rng, std=0.01):
    """N(0, std^2) with a fixed std, the naive choice the variance argument improves on."""
    return rng.normal(0.0, std, size=shape)


INITIALISERS = {
    "xavier": xavier_uniform,
    "xavier_uniform": xavier_uniform,
    "xavier_normal": xavier_normal,
    "he": he_normal,
    "he_normal": he_normal,
    "he_uniform": he_uniform,
    "normal": normal,
}


def get(name):
    if name not in INITIALISERS:
        raise ValueError(f"unknown initialiser {name!r}; known: {', '.join(sorted(INITIALISERS))}")
    return INITIALISERS[name]
