"""A thin module layer over the forward/backward pairs, for training loops (chapter 2).

A module keeps the cache of its last forward call, and after ``backward`` its
gradients sit in ``grads`` under the same names as ``params``.  Nothing here
differentiates automatically: each module calls the backward function that the
chapters derive.
"""
import numpy as np

from lib import activations, init, linear


class Module:
    training = True

    def params(self):
        return {}

    def grads(self):
        return {}

    def train(self, mode=True):
        self.training = mode
        return self

    def eval(self):
        return self.train(False)

    def __call__(self, x):
        return self.forward(x)


class WeightLayer(Module):
    """A layer with a weight w and a bias b; its backward pass stores dw and db in ``_grads``."""

    def params(self):
        return {"w": self.w, "b": self.b}

    def grads(self):
        return getattr(self, "_grads", {})  # empty until the first backward pass


class Linear(WeightLayer):
    """out = x @ w + b with w (D, M) drawn by a named initialiser from rng."""

    def __init__(self, d_in, d_out, rng, init_name="xavier"):
        self.w = init.get(init_name)((d_in, d_out), rng)
        self.b = np.zeros(d_out)

    def forward(self, x):
        out, self.cache = linear.affine_forward(x, self.w, self.b)
        return out

    def backward(self, dout):
        dx, dw, db = linear.affine_backward(dout, self.cache)
        self._grads = {"w": dw, "b": db}
        return dx


class Activation(Module):
    """An elementwise activation by name (see lib.activations.ACTIVATIONS)."""

    def __init__(self, name):
        activations.get(name)  # fail now, not at the first forward
        self.name = name

    def forward(self, x):
        out, self.cache = activations.activation_forward(x, self.name)
        return out

    def backward(self, dout):
        return activations.activation_backward(dout, self.cache)


class Dropout(Module):
    """Inverted dropout with drop probability p; the identity in eval mode."""

    def __init__(self, p, rng):
        if not 0.0 <= p < 1.0:
            raise ValueError(f"dropout probability must be in [0, 1), got {p}")
        self.p, self.rng = p, rng

    def forward(self, x):
        out, self.mask = linear.dropout_forward(x, self.p, self.rng, train=self.training)
        return out

    def backward(self, dout):
        return linear.dropout_backward(dout, self.mask)


class Sequential(Module):
    """Layers applied in order; backward runs them in reverse (backpropagation)."""

    def __init__(self, *layers):
        self.layers = list(layers)

    def forward(self, x):
        for layer in self.layers:
            x = layer.forward(x)
        return x

    def backward(self, dout):
        for layer in reversed(self.layers):
            dout = layer.backward(dout)
        return dout

    def train(self, mode=True):
        self.training = mode
        for layer in self.layers:
            layer.train(mode)
        return self

    def params(self):
        return {f"{i}.{k}": v for i, layer in enumerate(self.layers) for k, v in layer.params().items()}

    def grads(self):
        return {f"{i}.{k}": v for i, layer in enumerate(self.layers) for k, v in layer.grads().items()}

    def get_state(self):
        """A copy of every parameter, e.g. to restore the best epoch after early stopping."""
        return {k: v.copy() for k, v in self.params().items()}

    def set_state(self, state):
        for k, v in self.params().items():
            v[...] = state[k]


def mlp(sizes, rng, activation="relu", dropout=0.0, init_name=None):
    """A multilayer perceptron: Linear -> activation (-> Dropout) for each hidden layer, then a Linear output.

    sizes: [D, H1, ..., M].  The default initialiser is He for ReLU-like activations, Glorot otherwise.
    """
    if len(sizes) < 2:
        raise ValueError(f"mlp needs at least input and output sizes, got {sizes}")
    if init_name is None:
        init_name = "he" if activation in ("relu", "leaky_relu") else "xavier"
    layers = []
    for i, (d_in, d_out) in enumerate(zip(sizes[:-1], sizes[1:])):
        last = i == len(sizes) - 2
        layers.append(Linear(d_in, d_out, rng, init_name="xavier" if last else init_name))
        if not last:
            layers.append(Activation(activation))
            if dropout:
                layers.append(Dropout(dropout, rng))
    return Sequential(*layers)


def minibatches(n, batch_size, rng):
    """Index arrays that cover range(n) once in a random order, batch_size at a time."""
    order = rng.permutation(n)
    return [order[i:i + batch_size] for i in range(0, n, batch_size)]


def accuracy(model, x, y):
    """Fraction of rows of x whose highest score is the label y (model in eval mode)."""
    was = model.training
    model.eval()
    pred = model.forward(x).argmax(axis=1)
    model.train(was)
    return float(np.mean(pred == y))


def fit(model, loss_fn, optimizer, x, y, rng, epochs=10, batch_size=32, x_val=None, y_val=None, patience=None):
    """Minibatch training; returns a history dict of per-epoch mean training loss (and validation loss).

    With validation data and ``patience``, training stops once the validation loss has not
    improved for that many epochs, and the best parameters seen are restored (early stopping).
    """
    history = {"loss": [], "val_loss": []}
    best, best_state, waited = np.inf, None, 0
    for _ in range(epochs):
        model.train()
        total = 0.0
        for idx in minibatches(len(x), batch_size, rng):
            loss, dout = loss_fn(model.forward(x[idx]), y[idx])
            model.backward(dout)
            optimizer.step(model.params(), model.grads())
            total += loss * len(idx)
        history["loss"].append(total / len(x))
        if x_val is None:
            continue
        model.eval()
        val, _ = loss_fn(model.forward(x_val), y_val)
        history["val_loss"].append(float(val))
        if val < best:
            best, best_state, waited = val, model.get_state(), 0
        else:
            waited += 1
            if patience is not None and waited >= patience:
                break
    if patience is not None and best_state is not None:
        model.set_state(best_state)
    model.eval()
    return history
