"""Scalar automatic differentiation on a computational graph (chapter 2, section 2.4).

A ``Value`` is one node of the graph: a float, the nodes it was computed from (its parents)
and the local derivatives d(node)/d(parent), recorded when the node is created.  Reverse
mode (``backward``) sweeps the graph once from the output, in reverse topological order,
and adds ``local * grad`` into each parent: the chain rule summed over all paths.  Forward
mode (``forward_derivative``) pushes a tangent from one input towards the output, so it
needs one sweep per input.  Both return how many edges they visited, the cost the chapter
compares.  Deliberately tiny: the layers in ``lib`` keep their explicit backward passes.
"""
import math
import numbers

import numpy as np

EXP_MAX = math.log(np.finfo(float).max)  # about 709.78: exp beyond this overflows float64


class Value:
    """One scalar node: ``data``, ``grad`` (filled by ``backward``), parents and local derivatives."""

    __slots__ = ("data", "grad", "parents", "local", "op")

    def __init__(self, data, parents=(), local=(), op="input"):
        if not isinstance(data, numbers.Real) or isinstance(data, (bool, np.bool_)):
            raise ValueError(f"Value expects a real number, got {data!r} of type {type(data).__name__}")
        self.data = float(data)
        self.grad = 0.0
        self.parents, self.local, self.op = tuple(parents), tuple(local), op

    def __repr__(self):
        return f"Value({self.data:.6g}, grad={self.grad:.6g}, op={self.op!r})"

    # Each operation: its value, and beside it the local derivative towards each parent.
    def __add__(self, other):
        other = _lift(other)
        return Value(self.data + other.data, (self, other), (1.0, 1.0), "+")

    def __mul__(self, other):
        other = _lift(other)
        return Value(self.data * other.data, (self, other), (other.data, self.data), "*")

    def __pow__(self, k):
        if not isinstance(k, numbers.Real) or isinstance(k, bool):
            raise ValueError(f"Value ** k expects a constant int or float k, got {type(k).__name__}")
        if self.data == 0.0 and k < 1:
            raise ValueError(f"Value ** {k} has no derivative at 0")
        return Value(self.data**k, (self,), (k * self.data ** (k - 1),), f"**{k}")

    def __neg__(self):
        return self * -1.0

    def __sub__(self, other):
        return self + (-_lift(other))

    def __truediv__(self, other):
        return self * _lift(other) ** -1

    __radd__ = __add__
    __rmul__ = __mul__

    def __rsub__(self, other):
        return _lift(other) - self

    def __rtruediv__(self, other):
        return _lift(other) / self

    def exp(self):
        if self.data > EXP_MAX:
            raise ValueError(f"exp overflows float64 for x = {self.data:.6g} > {EXP_MAX:.2f}")
        e = math.exp(self.data)
        return Value(e, (self,), (e,), "exp")

    def log(self):
        if self.data <= 0.0:
            raise ValueError(f"log expects a positive value, got {self.data:.6g}")
        return Value(math.log(self.data), (self,), (1.0 / self.data,), "log")

    def tanh(self):
        t = math.tanh(self.data)
        return Value(t, (self,), (1.0 - t * t,), "tanh")

    def sigmoid(self):
        e = math.exp(-abs(self.data))  # never overflows
        s = 1.0 / (1.0 + e) if self.data >= 0 else e / (1.0 + e)
        return Value(s, (self,), (e / (1.0 + e) ** 2,), "sigmoid")  # = s (1 - s), exact in the tails

    def relu(self):
        return Value(max(self.data, 0.0), (self,), (1.0 if self.data > 0 else 0.0,), "relu")


def _lift(x):
    return x if isinstance(x, Value) else Value(x, op="const")


def exp(v):
    return _lift(v).exp()


def log(v):
    return _lift(v).log()


def tanh(v):
    return _lift(v).tanh()


def sigmoid(v):
    return _lift(v).sigmoid()


def relu(v):
    return _lift(v).relu()


def topological_order(root):
    """Every node root depends on, each after all of its parents (iterative: deep graphs are fine)."""
    if not isinstance(root, Value):
        raise ValueError(f"topological_order expects a Value, got {type(root).__name__}")
    order, seen, stack = [], {id(root)}, [(root, iter(root.parents))]
    while stack:
        node, parents = stack[-1]
        for p in parents:
            if id(p) not in seen:
                seen.add(id(p))
                stack.append((p, iter(p.parents)))
                break
        else:
            stack.pop()
            order.append(node)
    return order


def backward(root):
    """Fill ``grad`` of every node with d(root)/d(node) in one reverse sweep; return the edges visited."""
    order = topological_order(root)
    for node in order:
        node.grad = 0.0
    root.grad = 1.0
    visits = 0
    for node in reversed(order):
        for parent, local in zip(node.parents, node.local):
            parent.grad += local * node.grad
            visits += 1
    return visits


def forward_derivative(root, wrt):
    """d(root)/d(wrt) by one forward sweep of tangents from the input ``wrt``; returns (value, edges visited).

    Only nodes that depend on ``wrt`` are visited; every other tangent is zero.
    """
    order = topological_order(root)
    if not any(node is wrt for node in order):
        raise ValueError("forward_derivative: wrt is not a node of the graph below root")
    tangent, visits = {id(wrt): 1.0}, 0
    for node in order:
        if node is wrt or not any(id(p) in tangent for p in node.parents):
            continue
        t = 0.0
        for parent, local in zip(node.parents, node.local):
            t += local * tangent.get(id(parent), 0.0)
            visits += 1
        tangent[id(node)] = t
    return tangent.get(id(root), 0.0), visits


def gradient(fn, *inputs):
    """(fn(*inputs), [d fn / d input, ...]) for a function of floats written with Value operations."""
    nodes = [Value(x) for x in inputs]
    out = fn(*nodes)
    if not isinstance(out, Value):
        raise ValueError(f"gradient expects fn to return a Value, got {type(out).__name__}")
    backward(out)
    return out.data, [n.grad for n in nodes]


def graph_size(root):
    """(nodes, edges) of the graph below root: the forward pass computes each node and each local derivative once."""
    order = topological_order(root)
    return len(order), sum(len(node.parents) for node in order)


def lift(a):
    """An object array of input Values with the values of the float array a (same shape)."""
    a = np.asarray(a, dtype=float)
    out = np.empty(a.shape, dtype=object)
    for i in np.ndindex(a.shape):
        out[i] = Value(a[i])
    return out


def data(arr):
    """The float values of an object array of Values."""
    return np.vectorize(lambda v: v.data, otypes=[float])(arr)


def grads(arr):
    """The gradients of an object array of Values (after ``backward``)."""
    return np.vectorize(lambda v: v.grad, otypes=[float])(arr)


def apply(fn, arr):
    """fn (e.g. autodiff.tanh) applied to every Value of an object array."""
    return np.vectorize(fn, otypes=[object])(arr)
