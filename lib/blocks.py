"""Composite blocks built from lib's layers: shortcuts, parallel branches, Inception (chapter 3).

Each block is a ``lib.nn.Module`` whose backward pass is assembled from the backward passes of
its parts, so nothing new is differentiated here: a residual block adds the identity's gradient
to the branch's, a concatenation splits the upstream gradient by channels and sums what the
branches send back.  Chapter 3 derives each rule and checks it against finite differences.
"""
import numpy as np

from lib import conv
from lib.nn import Activation, Linear, Module, Sequential


def count_params(module):
    """The number of trainable numbers in a module (the sum of the sizes of its parameters)."""
    if not isinstance(module, Module):
        raise ValueError(f"count_params expects a lib.nn.Module, got {type(module).__name__}")
    return int(sum(p.size for p in module.params().values()))


class Identity(Module):
    """out = x; the gradient passes through unchanged."""

    def forward(self, x):
        return x

    def backward(self, dout):
        return dout


class _Container(Module):
    """Shared bookkeeping for blocks made of named parts."""

    parts = ()

    def train(self, mode=True):
        self.training = mode
        for part in self.parts:
            part.train(mode)
        return self

    def params(self):
        return {f"{i}.{k}": v for i, part in enumerate(self.parts) for k, v in part.params().items()}

    def grads(self):
        return {f"{i}.{k}": v for i, part in enumerate(self.parts) for k, v in part.grads().items()}

    def get_state(self):
        return {k: v.copy() for k, v in self.params().items()}

    def set_state(self, state):
        for k, v in self.params().items():
            v[...] = state[k]


class Residual(_Container):
    """out = x + F(x) with F the layers in order; backward: dx = dout + F's backward of dout.

    The branch must keep the shape of its input (ResNet's identity shortcut).  Chapter 3.
    """

    def __init__(self, *layers):
        if not layers:
            raise ValueError("Residual expects at least one layer in its branch, got none")
        self.branch = Sequential(*layers)
        self.parts = (self.branch,)

    def forward(self, x):
        out = self.branch.forward(x)
        if out.shape != np.shape(x):
            raise ValueError(f"Residual: the branch maps shape {np.shape(x)} to {out.shape}; "
                             "an identity shortcut needs the same shape")
        return x + out

    def backward(self, dout):
        return dout + self.branch.backward(dout)


class Concat(_Container):
    """Branches applied to the same input, outputs concatenated along the channel axis (axis 1).

    Backward: dout is split into each branch's channels, and the branches' input gradients add
    up (the input fans out to every branch).  Chapter 3.
    """

    def __init__(self, *branches):
        if not branches:
            raise ValueError("Concat expects at least one branch, got none")
        self.parts = tuple(b if isinstance(b, Module) else Sequential(*b) for b in branches)

    def forward(self, x):
        outs = [b.forward(x) for b in self.parts]
        heads = {o.shape[:1] + o.shape[2:] for o in outs}
        if len(heads) != 1:
            raise ValueError(f"Concat: the branches disagree on batch or spatial shape: "
                             f"{[o.shape for o in outs]}")
        self.sizes = [o.shape[1] for o in outs]
        return np.concatenate(outs, axis=1)

    def backward(self, dout):
        if dout.shape[1] != sum(self.sizes):
            raise ValueError(f"Concat backward expects {sum(self.sizes)} channels in dout, got {dout.shape}")
        pieces = np.split(dout, np.cumsum(self.sizes)[:-1], axis=1)
        return sum(b.backward(np.ascontiguousarray(g)) for b, g in zip(self.parts, pieces))


class PadSame(Module):
    """Pad height and width by `pad` pixels of a constant value (-inf before a max pool, so padding never wins)."""

    def __init__(self, pad, value=0.0):
        if isinstance(pad, bool) or not isinstance(pad, (int, np.integer)) or pad < 0:
            raise ValueError(f"PadSame expects a non-negative integer pad, got {pad!r}")
        self.pad, self.value = pad, value

    def forward(self, x):
        if np.ndim(x) != 4:
            raise ValueError(f"PadSame expects x of shape (N, C, H, W), got {np.shape(x)}")
        p = self.pad
        return np.pad(x, ((0, 0), (0, 0), (p, p), (p, p)), constant_values=self.value)

    def backward(self, dout):
        p = self.pad
        return dout[:, :, p:dout.shape[2] - p, p:dout.shape[3] - p]


def inception(c_in, c1, c3, c5, c_pool, rng):
    """An Inception block (GoogLeNet): four branches on one input, concatenated along channels.

    c1: channels of the 1x1 branch; c3 = (reduce, out): a 1x1 convolution down to `reduce`
    channels, then a 3x3 one (padding 1); c5 = (reduce, out) likewise with a 5x5 (padding 2);
    c_pool: a 3x3 max pool (stride 1, padded so the size stays) followed by a 1x1 convolution.
    Every convolution is followed by a ReLU.  The output has c1 + c3[1] + c5[1] + c_pool channels
    and the input's height and width.  Chapter 3.
    """
    for name, pair in (("c3", c3), ("c5", c5)):
        if not isinstance(pair, (tuple, list)) or len(pair) != 2:
            raise ValueError(f"inception expects {name} = (reduce, out) channels, got {pair!r}")
    relu = lambda: Activation("relu")  # noqa: E731
    return Concat(
        Sequential(conv.Conv2D(c_in, c1, 1, rng), relu()),
        Sequential(conv.Conv2D(c_in, c3[0], 1, rng), relu(), conv.Conv2D(c3[0], c3[1], 3, rng, pad=1), relu()),
        Sequential(conv.Conv2D(c_in, c5[0], 1, rng), relu(), conv.Conv2D(c5[0], c5[1], 5, rng, pad=2), relu()),
        Sequential(PadSame(1, -np.inf), conv.MaxPool2D(3, stride=1), conv.Conv2D(c_in, c_pool, 1, rng), relu()),
    )


def dense_layer(c_in, growth, rng):
    """One DenseNet layer: the input concatenated with `growth` new ReLU feature maps of it (3x3, padding 1)."""
    return Concat(Identity(), Sequential(conv.Conv2D(c_in, growth, 3, rng, pad=1), Activation("relu")))


def small_cnn(rng, classes=10, c1=16, c2=32, pool=True, size=8):
    """The chapter's digits network: two (3x3 conv, ReLU, 2x2 max pool) blocks, flatten, a Linear head.

    pool=False keeps the convolutions and drops the pooling (the head then sees every position).
    Returns (body, model) where body is the Sequential of the feature extractor that model starts with.
    """
    def block(c_in, c_out):
        layers = [conv.Conv2D(c_in, c_out, 3, rng, pad=1), Activation("relu")]
        return layers + [conv.MaxPool2D(2)] if pool else layers

    body = Sequential(*block(1, c1), *block(c1, c2), conv.Flatten())
    side = size // 4 if pool else size
    return body, Sequential(*body.layers, Linear(c2 * side * side, classes, rng))


def receptive_field_extent(layers, size=48):
    """Height and width of the input region that the centre output unit of a stack of layers depends on.

    Measured, not computed: parameters are made positive (so nothing cancels), a one-hot upstream
    gradient is sent back through the layers, and the extent of the non-zero input gradient is
    returned.  The layers' parameters are overwritten.  Chapter 3.
    """
    net = Sequential(*layers)
    for p in net.params().values():
        p[...] = np.abs(p) + 0.1
    out = net.forward(np.ones((1, layers[0].w.shape[1] if hasattr(layers[0], "w") else 1, size, size)))
    dout = np.zeros_like(out)
    dout[0, 0, out.shape[2] // 2, out.shape[3] // 2] = 1.0
    rows, cols = np.nonzero(net.backward(dout)[0].sum(axis=0))
    return int(rows.max() - rows.min() + 1), int(cols.max() - cols.min() + 1)
