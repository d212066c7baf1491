"""Text and sequence tasks for chapter 5, and the small models trained on them.

Text as input: tokens, vocabularies, one-hot vectors, TF-IDF; a generated corpus (the book writes
its own text, so nothing is downloaded); the delayed-recall memory task; sequence reversal for the
encoder-decoder; a character-level language model sampled with a temperature.  The layers are
lib.recurrent's; nothing here differentiates by itself.
"""
import re

import numpy as np

from lib import losses, nn, optim
from lib import recurrent as R
from lib.activations import log_softmax, softmax


# ----- text as input ----------------------------------------------------------------------------


def tokenize(text):
    """Lower-case word tokens (runs of letters and apostrophes)."""
    return re.findall(r"[a-z']+", text.lower())


def vocabulary(tokens):
    """(itos, stoi): the sorted distinct tokens and the map token -> index."""
    itos = sorted(set(tokens))
    return itos, {t: i for i, t in enumerate(itos)}


def encode(tokens, stoi):
    """Token ids as an int array; an unknown token is a ValueError naming it."""
    missing = [t for t in tokens if t not in stoi]
    if missing:
        raise ValueError(f"encode: {len(missing)} tokens are not in the vocabulary, e.g. {missing[0]!r}")
    return np.array([stoi[t] for t in tokens], dtype=int)


def one_hot(idx, size):
    """e_idx: one row of the identity per token id, shape idx.shape + (size,)."""
    idx = np.asarray(idx)
    if idx.size and (idx.min() < 0 or idx.max() >= size):
        raise ValueError(f"one_hot expects ids in [0, {size}), got range [{idx.min()}, {idx.max()}]")
    return np.eye(size)[idx]


def count_matrix(docs, stoi):
    """counts[d, v] = how often token v occurs in document d (a list of token lists)."""
    counts = np.zeros((len(docs), len(stoi)))
    for d, doc in enumerate(docs):
        np.add.at(counts[d], encode(doc, stoi), 1.0)
    return counts


def tfidf(counts, normalize=True):
    """tf-idf(d, v) = tf(d, v) * (ln((1 + n) / (1 + df(v))) + 1), rows scaled to unit length.

    counts: (n_docs, V) term counts; df(v) is the number of documents containing v.  This is
    scikit-learn's smoothed form (TfidfVectorizer's defaults).  Chapter 5.
    """
    counts = np.asarray(counts, dtype=float)
    if counts.ndim != 2 or np.any(counts < 0):
        raise ValueError(f"tfidf expects non-negative counts of shape (n_docs, V), got shape {counts.shape}")
    n = counts.shape[0]
    df = np.count_nonzero(counts, axis=0)
    out = counts * (np.log((1.0 + n) / (1.0 + df)) + 1.0)
    if normalize:
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        out = out / np.where(norms > 0, norms, 1.0)
    return out


SUBJECTS = ["the cat", "a dog", "the old fox", "my sister", "the robot", "a small bird", "the teacher"]
VERBS = ["sees", "likes", "follows", "draws", "finds", "carries", "hears"]
OBJECTS = ["the ball", "a red kite", "the moon", "a green apple", "the river", "a quiet song", "the map"]
PLACES = ["in the garden", "near the hill", "at noon", "by the lake", "after school", "in the rain"]


def generated_text(rng, sentences=400):
    """A corpus from a small grammar: subject verb object [place].  Sentences end with a full stop.

    Every word of every sentence comes from the lists above, so a sample can be scored by how
    many of its words are real words of the grammar.
    """
    out = []
    for _ in range(sentences):
        words = [SUBJECTS[rng.integers(len(SUBJECTS))], VERBS[rng.integers(len(VERBS))],
                 OBJECTS[rng.integers(len(OBJECTS))]]
        if rng.random() < 0.5:
            words.append(PLACES[rng.integers(len(PLACES))])
        out.append(" ".join(words) + ".")
    return " ".join(out)


def grammar_words():
    """Every word the grammar of generated_text can produce."""
    return set(tokenize(" ".join(SUBJECTS + VERBS + OBJECTS + PLACES)))


def word_validity(text):
    """The fraction of a sample's words (between spaces and full stops) that the grammar knows."""
    words = [w for w in re.split(r"[ .]+", text) if w]
    if not words:
        return 0.0
    known = grammar_words()
    return float(np.mean([w in known for w in words]))


# ----- tasks ------------------------------------------------------------------------------------


def recall_task(n, steps, rng, symbols=4, distractors=4):
    """Delayed recall: a symbol at t = 0, then steps - 1 random distractor symbols; the label is the first.

    x: (n, steps, symbols + distractors) one-hot; y: (n,) in [0, symbols).  Chance is 1 / symbols.
    """
    if steps < 2:
        raise ValueError(f"recall_task needs steps >= 2, got {steps}")
    y = rng.integers(0, symbols, n)
    x = np.zeros((n, steps, symbols + distractors))
    x[:, 0, :symbols] = np.eye(symbols)[y]
    noise = symbols + rng.integers(0, distractors, (n, steps - 1))
    x[np.arange(n)[:, None], np.arange(1, steps)[None], noise] = 1.0
    return x, y


def recall_model(kind, d_in, hidden, classes, rng, gate_bias=3.0):
    """cell -> last step -> linear.  gate_bias starts the LSTM's forget gate / the GRU's update gate near 1."""
    if kind == "lstm":
        layer = R.LSTM(d_in, hidden, rng, forget_bias=gate_bias)
    elif kind == "gru":
        layer = R.GRU(d_in, hidden, rng, update_bias=gate_bias)
    else:
        layer = R.cell(kind)(d_in, hidden, rng)
    return nn.Sequential(layer, R.LastStep(), nn.Linear(hidden, classes, rng))


def train_recall(kind, steps, seed, iters=200, hidden=16, batch=32, lr=0.01, clip=1.0, test=500):
    """Train recall_model on fresh recall_task batches with Adam and clipping; return the test accuracy."""
    rng = np.random.default_rng(seed)
    model = recall_model(kind, 8, hidden, 4, rng)
    opt = optim.Adam(lr=lr)
    for _ in range(iters):
        x, y = recall_task(batch, steps, rng)
        _, dz = losses.softmax_cross_entropy(model.forward(x), y)
        model.backward(dz)
        grads = model.grads()
        R.clip_grad_norm(grads, clip)
        opt.step(model.params(), grads)
    x, y = recall_task(test, steps, np.random.default_rng(10_000 + seed))
    return float(np.mean(model.forward(x).argmax(axis=1) == y))


def reverse_task(n, length, rng, symbols=5):
    """Sequence reversal for an encoder-decoder.  Tokens 1..symbols; 0 is the start token.

    Returns src (n, length), tgt_in = [0, reversed[:-1]] (what teacher forcing feeds the
    decoder) and tgt_out = reversed (what it must predict), all int arrays.
    """
    src = rng.integers(1, symbols + 1, (n, length))
    tgt_out = src[:, ::-1].copy()
    tgt_in = np.concatenate([np.zeros((n, 1), dtype=int), tgt_out[:, :-1]], axis=1)
    return src, tgt_in, tgt_out


# ----- models -----------------------------------------------------------------------------------


class _Composite(nn.Module):
    parts = ()

    def params(self):
        return {f"{p}.{k}": v for p in self.parts for k, v in getattr(self, p).params().items()}

    def grads(self):
        return {f"{p}.{k}": v for p in self.parts for k, v in getattr(self, p).grads().items()}


class Seq2Seq(_Composite):
    """Encoder-decoder (Sutskever et al. 2014; Cho et al. 2014) with GRUs.

    The encoder reads the embedded source; its last hidden state is the decoder's h0.  With
    teacher forcing the decoder reads the true previous target token at every step.
    forward(src, tgt_in) -> logits (N, T_out, V); backward(dlogits) sends the decoder's dL/dh0
    into the encoder's last step.
    """
    parts = ("src_embed", "encoder", "tgt_embed", "decoder", "out")

    def __init__(self, vocab, embed, hidden, rng):
        self.src_embed = R.Embedding(vocab, embed, rng)
        self.encoder = R.GRU(embed, hidden, rng)
        self.tgt_embed = R.Embedding(vocab, embed, rng)
        self.decoder = R.GRU(embed, hidden, rng)
        self.out = R.TimeLinear(hidden, vocab, rng)

    def forward(self, src, tgt_in=None):
        if tgt_in is None:  # one argument (src, tgt_in), as lib.gradcheck.check_model passes it
            src, tgt_in = src
        enc = self.encoder.forward(self.src_embed.forward(src))
        self.enc_shape = enc.shape
        dec = self.decoder.forward(self.tgt_embed.forward(tgt_in), enc[:, -1])
        return self.out.forward(dec)

    def backward(self, dlogits):
        self.tgt_embed.backward(self.decoder.backward(self.out.backward(dlogits)))
        denc = np.zeros(self.enc_shape)
        denc[:, -1] = self.decoder.dh0      # the only path from the loss to the encoder
        self.src_embed.backward(self.encoder.backward(denc))

    def greedy(self, src, length, start=0):
        """Decode without teacher forcing: each step reads the model's own previous prediction."""
        h = self.encoder.forward(self.src_embed.forward(src))[:, -1]
        token = np.full(len(src), start)
        out = []
        for _ in range(length):
            h, _ = R.gru_step_forward(self.tgt_embed.w[token], h, self.decoder.wx, self.decoder.wh, self.decoder.b)
            token = (h @ self.out.w + self.out.b).argmax(axis=1)
            out.append(token)
        return np.stack(out, axis=1)


class CharLM(_Composite):
    """Character-level language model: embedding -> LSTM -> per-step linear to next-character logits."""
    parts = ("embed", "lstm", "out")

    def __init__(self, vocab, embed, hidden, rng):
        self.embed = R.Embedding(vocab, embed, rng)
        self.lstm = R.LSTM(embed, hidden, rng)
        self.out = R.TimeLinear(hidden, vocab, rng)

    def forward(self, idx):
        return self.out.forward(self.lstm.forward(self.embed.forward(idx)))

    def backward(self, dlogits):
        self.embed.backward(self.lstm.backward(self.out.backward(dlogits)))

    def sample(self, prefix, length, temperature, rng):
        """Ids of prefix followed by length sampled ids, each drawn from softmax(z / temperature)."""
        hidden = self.lstm.hidden
        h = c = np.zeros((1, hidden))
        ids = list(prefix)
        for t in range(len(prefix) + length - 1):
            hc, _ = R.lstm_step_forward(self.embed.w[[ids[t]]], h, c, self.lstm.wx, self.lstm.wh, self.lstm.b)
            h, c = hc[:, :hidden], hc[:, hidden:]
            if t >= len(prefix) - 1:
                p = temperature_softmax(h @ self.out.w + self.out.b, temperature)[0]
                ids.append(int(rng.choice(len(p), p=p)))
        return ids


def temperature_softmax(z, temperature):
    """p = softmax(z / temperature): below 1 it sharpens towards the argmax, above 1 it flattens."""
    if not np.all(np.asarray(temperature) > 0):
        raise ValueError(f"temperature must be > 0, got {temperature}")
    return softmax(np.asarray(z, dtype=float) / temperature, axis=-1)


def entropy_bits(p):
    """Shannon entropy in bits of each row of p."""
    p = np.asarray(p, dtype=float)
    return -np.sum(np.where(p > 0, p * np.log2(np.where(p > 0, p, 1.0)), 0.0), axis=-1)


def text_windows(ids, length, batch, rng):
    """batch random windows of the id stream: inputs ids[s:s+length], targets ids[s+1:s+length+1]."""
    start = rng.integers(0, len(ids) - length - 1, batch)
    cols = start[:, None] + np.arange(length)[None]
    return ids[cols], ids[cols + 1]


def fit(model, batches, iters, lr=0.01, clip=1.0):
    """Adam on sequence_cross_entropy: batches() -> (inputs..., targets).  Returns the losses."""
    opt = optim.Adam(lr=lr)
    history = []
    for _ in range(iters):
        *inputs, target = batches()
        loss, dz = R.sequence_cross_entropy(model.forward(*inputs), target)
        model.backward(dz)
        grads = model.grads()
        R.clip_grad_norm(grads, clip)
        opt.step(model.params(), grads)
        history.append(loss)
    return np.array(history)


def mean_log_likelihood(model, inputs, target):
    """Mean log p(next token) per step in nats (minus the cross-entropy)."""
    logits = model.forward(*inputs) if isinstance(inputs, tuple) else model.forward(inputs)
    lp = log_softmax(logits)
    return float(np.mean(np.take_along_axis(lp, target[..., None], axis=-1)))
