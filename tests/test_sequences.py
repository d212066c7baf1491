"""lib.sequences: text as input, the sequence tasks, and the seq2seq and character models."""
import numpy as np
import pytest
from sklearn.feature_extraction.text import TfidfVectorizer

from lib import sequences as S
from lib.gradcheck import check_model


def test_tokens_vocabulary_one_hot_and_errors():
    tokens = S.tokenize("The cat sees the Moon.")
    assert tokens == ["the", "cat", "sees", "the", "moon"]
    itos, stoi = S.vocabulary(tokens)
    assert itos == ["cat", "moon", "sees", "the"]
    ids = S.encode(tokens, stoi)
    np.testing.assert_array_equal(S.one_hot(ids, 4).argmax(axis=1), ids)
    with pytest.raises(ValueError, match="not in the vocabulary"):
        S.encode(["dog"], stoi)
    with pytest.raises(ValueError, match="one_hot expects ids"):
        S.one_hot(np.array([4]), 4)
    with pytest.raises(ValueError, match="temperature must be > 0"):
        S.temperature_softmax(np.zeros(3), 0.0)
    with pytest.raises(ValueError, match="steps >= 2"):
        S.recall_task(3, 1, np.random.default_rng(0))


def test_tfidf_matches_scikit_learn(rng):
    docs = [S.tokenize(s) for s in S.generated_text(rng, 12).split(".") if s.strip()]
    itos, stoi = S.vocabulary([t for d in docs for t in d])
    ours = S.tfidf(S.count_matrix(docs, stoi))
    vec = TfidfVectorizer(vocabulary=itos, token_pattern=r"[a-z']+")
    theirs = vec.fit_transform([" ".join(d) for d in docs]).toarray()
    np.testing.assert_allclose(ours, theirs, rtol=1e-12, atol=1e-15)
    with pytest.raises(ValueError, match="non-negative counts"):
        S.tfidf(-np.ones((2, 2)))


def test_generated_text_uses_only_grammar_words(rng):
    text = S.generated_text(rng, 50)
    assert S.word_validity(text) == 1.0
    assert S.word_validity("the cxt sees") == pytest.approx(2 / 3)
    assert text.count(".") == 50


def test_tasks_shapes_and_labels(rng):
    x, y = S.recall_task(6, 9, rng)
    assert x.shape == (6, 9, 8) and np.all(x.sum(axis=2) == 1)
    np.testing.assert_array_equal(x[:, 0, :4].argmax(axis=1), y)
    src, tgt_in, tgt_out = S.reverse_task(4, 5, rng)
    np.testing.assert_array_equal(tgt_out, src[:, ::-1])
    np.testing.assert_array_equal(tgt_in[:, 1:], tgt_out[:, :-1])
    assert np.all(tgt_in[:, 0] == 0)


def test_seq2seq_and_char_lm_gradients(rng):
    from lib import recurrent as R
    model = S.Seq2Seq(6, 3, 4, rng)
    src, tgt_in, tgt_out = S.reverse_task(2, 3, rng)
    loss_fn = R.sequence_cross_entropy
    assert check_model(model, loss_fn, (src, tgt_in), tgt_out) < 1e-6
    lm = S.CharLM(5, 3, 4, rng)
    ids = rng.integers(0, 5, (2, 4))
    assert check_model(lm, loss_fn, ids, rng.integers(0, 5, (2, 4))) < 1e-6
    out = lm.sample([1, 2], 6, 0.8, np.random.default_rng(0))
    assert len(out) == 8 and out[:2] == [1, 2]


def test_greedy_decoding_equals_teacher_forcing_on_its_own_outputs(rng):
    model = S.Seq2Seq(6, 3, 4, rng)
    src, _, _ = S.reverse_task(3, 4, rng)
    pred = model.greedy(src, 4)
    fed = np.concatenate([np.zeros((3, 1), dtype=int), pred[:, :-1]], axis=1)
    np.testing.assert_array_equal(model.forward(src, fed).argmax(axis=2), pred)


def test_a_short_recall_run_beats_chance():
    acc = S.train_recall("gru", 5, seed=0, iters=60, test=200)
    assert acc > 0.9   # measured 1.0: five steps are easy for every cell


def test_chapter_5_figures_return_figures():
    import matplotlib

    from lib import seqplots
    matplotlib.use("Agg")
    figs = [seqplots.gradient_norms({"a": [1.0, 0.5, 0.0]}, "t"),
            seqplots.accuracy_strip({"rnn": [0.2, 0.3, 0.25, 0.3, 0.2]}, chance=0.25),
            seqplots.temperature_frame("the cat sees the moon.", np.full(4, 0.25), list("ab c"), 0.5, "the ")]
    assert all(isinstance(f, matplotlib.figure.Figure) for f in figs)
