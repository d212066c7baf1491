"""lib.rl (chapter 9): the policy's gradient against finite differences, dynamic programming against an
MDP solved by hand, and the errors a reader meets first."""
import gymnasium as gym
import numpy as np
import pytest

from lib import nn, optim, rl
from lib.gradcheck import check_layer, directional_check, numerical_gradient, rel_error


def two_state_mdp():
    """State 0: action 0 stays (reward 0), action 1 moves to state 1 (reward 1).
    State 1: either action ends the episode with reward 2."""
    P = {
        0: {0: [(1.0, 0, 0.0, False)], 1: [(1.0, 1, 1.0, False)]},
        1: {0: [(1.0, 1, 2.0, True)], 1: [(1.0, 1, 2.0, True)]},
    }
    return rl.transition_table(P)


# ----- the categorical policy ----------------------------------------------------------------


def test_categorical_log_prob_gradient_passes_finite_differences(rng):
    z = rng.normal(size=(6, 4))
    actions = rng.integers(0, 4, size=6)
    fwd = lambda z: rl.categorical_forward(z, actions)  # noqa: E731
    assert check_layer(fwd, rl.categorical_backward, [z], rng) < 1e-8


def test_categorical_directional_check_at_realistic_size(rng):
    z = 3 * rng.normal(size=(512, 10))
    actions = rng.integers(0, 10, size=512)
    fwd = lambda z: rl.categorical_forward(z, actions)  # noqa: E731
    assert directional_check(fwd, rl.categorical_backward, [z], rng) < 1e-8


def test_categorical_is_the_log_softmax_and_finite_at_extremes():
    z = np.array([[0.0, np.log(3.0)], [1000.0, -1000.0], [-1000.0, 1000.0]])
    logp, cache = rl.categorical_forward(z, np.array([1, 0, 0]))
    assert np.allclose(logp[0], np.log(0.75)) and logp[1] == 0.0 and logp[2] == -2000.0
    dz = rl.categorical_backward(np.ones(3), cache)
    assert np.all(np.isfinite(dz)) and np.allclose(dz.sum(axis=1), 0.0)
    assert np.allclose(dz[2], [1.0, -1.0])  # the action taken was nearly impossible: push it up


def test_categorical_rejects_invalid_actions_and_shapes():
    z = np.zeros((3, 2))
    with pytest.raises(ValueError, match="invalid action 2"):
        rl.categorical_forward(z, np.array([0, 1, 2]))
    with pytest.raises(ValueError, match="invalid action -1"):
        rl.categorical_forward(z, np.array([0, -1, 1]))
    with pytest.raises(ValueError, match="integers"):
        rl.categorical_forward(z, np.array([0.5, 1, 1]))
    with pytest.raises(ValueError, match=r"shape \(N, C\)"):
        rl.categorical_forward(np.zeros(3), np.array([0]))
    with pytest.raises(ValueError, match=r"actions of shape \(3,\)"):
        rl.categorical_forward(z, np.array([0, 1]))
    _, cache = rl.categorical_forward(z, np.array([0, 1, 1]))
    with pytest.raises(ValueError, match="dlogp of shape"):
        rl.categorical_backward(np.ones(2), cache)


def test_policy_gradient_theorem_matches_finite_differences_of_the_exact_return(rng):
    P = gym.make("FrozenLake-v1").unwrapped.P
    p, r = rl.transition_table(P)
    rho = np.eye(16)[0]
    logits = rng.normal(size=(16, 4))
    J, grad = rl.tabular_softmax_return(p, r, rho, logits, 0.95)
    numeric = numerical_gradient(lambda w: rl.tabular_softmax_return(p, r, rho, w, 0.95)[0], logits.copy())
    assert 0 < J < 1 and rel_error(grad, numeric) < 1e-7


# ----- dynamic programming against a hand-solved MDP ------------------------------------------


@pytest.mark.parametrize("gamma", [0.0, 0.5, 0.9, 1.0])
def test_dynamic_programming_on_a_hand_solved_mdp(gamma):
    p, r = two_state_mdp()
    # by hand: v*(1) = 2, q*(0, 1) = 1 + 2 gamma >= q*(0, 0) = gamma v*(0), so v*(0) = 1 + 2 gamma
    v, policy, _ = rl.value_iteration(p, r, gamma)
    assert np.allclose(v, [1 + 2 * gamma, 2.0])
    if gamma < 1:  # at gamma = 1 staying put ties with moving on (and earns nothing): greedy cannot tell
        assert policy[0, 1] == 1
        pi_policy, pi_v, rounds = rl.policy_iteration(p, r, gamma)
        assert pi_policy[0, 1] == 1 and np.allclose(pi_v, v) and rounds <= 3
    else:
        assert policy[0, 0] == 1
    # the uniform policy: v(0) = (gamma v(0) + 1 + 2 gamma) / 2, so v(0) = (1 + 2 gamma) / (2 - gamma)
    u, _ = rl.policy_evaluation(p, r, np.full((2, 2), 0.5), gamma)
    assert np.allclose(u, [(1 + 2 * gamma) / (2 - gamma), 2.0])


def test_transition_table_of_frozenlake_keeps_probability():
    p, r = rl.transition_table(gym.make("FrozenLake-v1").unwrapped.P)
    assert p.shape == (16, 4, 16) and r.shape == (16, 4)
    assert np.all(p.sum(axis=2) <= 1 + 1e-12) and np.isclose(r.max(), 1 / 3)
    assert np.all(p[5] == 0)  # a hole: nothing continues


def test_gridworld_values_are_discounted_distances():
    P, start = rl.gridworld(["...G", "S.#."])
    p, r = rl.transition_table(P)
    v, _, changes = rl.value_iteration(p, r, 0.9)
    assert start == 4 and np.isclose(v[start], 0.9**3)  # four moves, the last one earns 1
    assert all(b <= 0.9 * a + 1e-15 for a, b in zip(changes, changes[1:]))  # the contraction
    with pytest.raises(ValueError, match="exactly one start"):
        rl.gridworld(["..G", "..."])
    with pytest.raises(ValueError, match="equal-length"):
        rl.gridworld(["S.G", ".."])


def test_bad_tables_policies_and_discounts_raise():
    p, r = two_state_mdp()
    with pytest.raises(ValueError, match="summing to 0.9"):
        rl.transition_table({0: {0: [(0.9, 0, 0.0, False)]}})
    with pytest.raises(ValueError, match="sum to one"):
        rl.policy_evaluation(p, r, np.array([[0.5, 0.6], [0.5, 0.5]]), 0.9)
    with pytest.raises(ValueError, match="non-negative"):
        rl.policy_evaluation(p, r, np.array([[1.5, -0.5], [0.5, 0.5]]), 0.9)
    with pytest.raises(ValueError, match=r"shape \(2, 2\)"):
        rl.policy_evaluation(p, r, np.full((2, 3), 1 / 3), 0.9)
    for bad in (-0.1, 1.01, np.nan):
        with pytest.raises(ValueError, match=r"gamma must be in \[0, 1\]"):
            rl.value_iteration(p, r, bad)
        with pytest.raises(ValueError, match=r"gamma must be in \[0, 1\]"):
            rl.discounted_returns(np.ones(3), bad)
    with pytest.raises(ValueError, match="sum to one"):
        rl.sample_actions(np.array([0.2, 0.2]), np.random.default_rng(0))


# ----- TD updates, exploration, returns -------------------------------------------------------


def test_td_targets_and_update():
    q = np.array([[0.0, 1.0], [2.0, -1.0]])
    target = rl.q_learning_target(np.array([1.0, 1.0]), q[[1, 1]], np.array([False, True]), 0.5)
    assert np.allclose(target, [2.0, 1.0])
    assert np.allclose(rl.sarsa_target([1.0], q[[1]], [1], [False], 0.5), [0.5])
    delta = rl.td_update(q, np.array([0]), np.array([1]), np.array([3.0]), 0.25)
    assert np.allclose(delta, [2.0]) and q[0, 1] == 1.5
    with pytest.raises(ValueError, match="invalid action 2"):
        rl.sarsa_target([1.0], q[[1]], [2], [False], 0.5)
    with pytest.raises(ValueError, match="only once"):
        rl.td_update(q, np.array([0, 0]), np.array([1, 1]), np.array([1.0, 2.0]), 0.5)
    with pytest.raises(ValueError, match="step size"):
        rl.td_update(q, np.array([0]), np.array([1]), np.array([1.0]), 0.0)


def test_exploration_probabilities():
    q = np.array([[1.0, 3.0, 2.0], [0.0, 5.0, 5.0]])
    pe = rl.epsilon_greedy_probs(q, 0.3)
    assert np.allclose(pe[0], [0.1, 0.8, 0.1]) and np.allclose(pe[1], [0.1, 0.45, 0.45])
    assert np.allclose(rl.softmax_probs(q, 0.0), 1 / 3)
    assert np.allclose(rl.softmax_probs(q, 200.0)[0], [0, 1, 0])
    with pytest.raises(ValueError, match="epsilon"):
        rl.epsilon_greedy_probs(q, 1.5)
    with pytest.raises(ValueError, match="beta"):
        rl.softmax_probs(q, -1.0)


def test_sample_actions_follows_the_probabilities(rng):
    probs = np.tile([0.1, 0.6, 0.3], (20000, 1))
    counts = np.bincount(rl.sample_actions(probs, rng), minlength=3) / 20000
    assert np.all(np.abs(counts - [0.1, 0.6, 0.3]) < 0.015)  # about 4 standard errors


def test_discounted_returns_and_advantages():
    g = rl.discounted_returns(np.array([[1.0, 0.0, 2.0], [1.0, 1.0, 0.0]]), 0.5)
    assert np.allclose(g, [[1.5, 1.0, 2.0], [1.5, 1.0, 0.0]])
    mask = np.array([[1, 1, 1], [1, 1, 0]], bool)
    adv = rl.advantages(g, mask, "time")
    assert np.allclose(adv, [[0, 0, 0], [0, 0, 0]])
    assert np.allclose(rl.advantages(g, mask, "none"), g * mask)
    assert np.isclose(rl.advantages(g, mask, "mean")[mask].sum(), 0.0)
    with pytest.raises(ValueError, match="baseline"):
        rl.advantages(g, mask, "median")


def test_td_control_on_frozenlake_is_reproducible_and_learns():
    env = gym.make("FrozenLake-v1")
    q1, ret1 = rl.td_control(env, "q", 300, np.random.default_rng(1))
    q2, ret2 = rl.td_control(gym.make("FrozenLake-v1"), "q", 300, np.random.default_rng(1))
    assert np.array_equal(q1, q2) and np.array_equal(ret1, ret2) and ret1.sum() > 0
    with pytest.raises(ValueError, match="method"):
        rl.td_control(env, "dqn", 1, np.random.default_rng(0))


def test_cartpole_episodes_and_one_reinforce_step(rng):
    env = gym.make_vec("CartPole-v1", num_envs=4, vectorization_mode="vector_entry_point")
    model = nn.mlp([4, 8, 2], rng, activation="tanh")
    obs, actions, rewards, mask = rl.run_episodes(env, model, rng)
    assert obs.shape[:2] == actions.shape == rewards.shape == mask.shape and obs.shape[2] == 4
    assert np.array_equal(rewards, mask.astype(float))  # CartPole pays 1 per step while running
    assert np.all(mask[:, 0]) and not np.any(mask[:, -1] & ~mask[:, -2]) if mask.shape[1] > 1 else True
    before = {k: v.copy() for k, v in model.params().items()}
    mean = rl.reinforce_update(model, optim.Adam(lr=0.01), obs, actions, rewards, mask, 0.99)
    assert mean == rewards.sum(axis=1).mean()
    assert any(not np.array_equal(before[k], v) for k, v in model.params().items())


def test_rl_figures_are_figures():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from lib import plots

    fig = plots.agent_environment_loop()
    assert isinstance(fig, matplotlib.figure.Figure)
    rows = ["...", "S.G", "XXX"]
    p, r = rl.transition_table(rl.gridworld(rows)[0])
    v, policy, _ = rl.value_iteration(p, r, 0.9)
    fig2, ax = plt.subplots()
    assert plots.grid_values(ax, rows, v, policy) is not None
    plt.close("all")


def test_reinforce_loss_gradient_through_a_network(rng):
    from lib.gradcheck import check_model

    model = nn.mlp([4, 5, 3], rng, activation="tanh")
    x, actions, weights = rng.normal(size=(7, 4)), rng.integers(0, 3, size=7), rng.normal(size=7)
    assert check_model(model, lambda z, y: rl.reinforce_loss(z, *y), x, (actions, weights)) < 1e-7


def test_rollout_of_a_fixed_policy_in_frozenlake(rng):
    env = gym.make("FrozenLake-v1", is_slippery=False)
    path = np.eye(4)[[2, 2, 1, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 2, 0]]  # right, right, down x3, right
    assert np.array_equal(rl.rollout(env, path, 3, rng), [1.0, 1.0, 1.0])
    assert np.array_equal(rl.rollout(env, np.eye(4)[np.zeros(16, int)], 2, rng), [0.0, 0.0])  # left: never
    with pytest.raises(ValueError, match="sum to one"):
        rl.rollout(env, np.zeros((16, 4)), 1, rng)
