"""Reinforcement learning (chapter 9): dynamic programming on a transition table, temporal-difference
updates, exploration, returns and advantages, and a categorical (softmax) policy.

Tables follow Gymnasium's toy-text convention: ``P[s][a]`` is a list of transitions
``(probability, next_state, reward, terminated)``.  ``transition_table`` turns it into two arrays,
``p`` (S, C, S) and ``r`` (S, C), where C is the number of actions and ``p`` keeps only the
transitions that continue (a terminated episode has no future value), so every Bellman backup reads
``q = r + gamma * p @ v``.  Policies over a table are arrays (S, C) of action probabilities.
Randomness only through a ``numpy.random.Generator``.
"""
import math

import numpy as np

from lib import activations

# ----- arguments --------------------------------------------------------------------------------


def check_discount(gamma):
    """Return gamma as a float, or raise a ValueError unless 0 <= gamma <= 1."""
    g = float(gamma)
    if not 0.0 <= g <= 1.0:
        raise ValueError(f"the discount factor gamma must be in [0, 1], got {gamma}")
    return g


def check_probabilities(p, what="probabilities", atol=1e-9):
    """Return p as a float array, or raise a ValueError unless each row (last axis) is a distribution."""
    p = np.asarray(p, dtype=float)
    if p.ndim == 0 or p.shape[-1] == 0:
        raise ValueError(f"{what} must have a last axis of actions, got shape {p.shape}")
    if not np.all(np.isfinite(p)) or np.any(p < 0):
        raise ValueError(f"{what} must be finite and non-negative, got a minimum of {np.nanmin(p)}")
    total = p.sum(axis=-1)
    if np.any(np.abs(total - 1.0) > atol):
        worst = total.ravel()[np.argmax(np.abs(total - 1.0).ravel())]
        raise ValueError(f"{what} must sum to one along the last axis, got a row summing to {worst!r}")
    return p


def check_actions(actions, n_actions):
    """Return actions as an integer array, or raise a ValueError unless each is in 0 .. n_actions - 1."""
    a = np.asarray(actions)
    if a.size and not (np.issubdtype(a.dtype, np.integer) or np.all(a == np.round(a))):
        raise ValueError(f"actions must be integers 0..{n_actions - 1}, got {a.ravel()[:5]}")
    a = a.astype(int)
    if np.any(a < 0) or np.any(a >= n_actions):
        bad = a[(a < 0) | (a >= n_actions)].ravel()[0]
        raise ValueError(f"invalid action {bad}: there are {n_actions} actions, numbered 0..{n_actions - 1}")
    return a


# ----- tables and dynamic programming -----------------------------------------------------------


def transition_table(P):
    """Arrays (p, r) from a Gymnasium-style table P[s][a] = [(prob, s_next, reward, terminated), ...].

    p[s, a, s'] = probability of moving to s' *and continuing*; r[s, a] = expected reward.
    Each P[s][a] must list probabilities that sum to one.  Returns p (S, C, S) and r (S, C).
    """
    n_states = len(P)
    n_actions = len(P[0])
    p = np.zeros((n_states, n_actions, n_states))
    r = np.zeros((n_states, n_actions))
    for s in range(n_states):
        if len(P[s]) != n_actions:
            raise ValueError(f"state {s} has {len(P[s])} actions, state 0 has {n_actions}")
        for a in range(n_actions):
            total = 0.0
            for prob, s_next, reward, terminated in P[s][a]:
                total += prob
                r[s, a] += prob * reward
                if not terminated:
                    p[s, a, s_next] += prob
            if abs(total - 1.0) > 1e-9:
                raise ValueError(f"the transitions of state {s}, action {a} have probabilities summing to {total}")
    return p, r


MOVES = ((0, -1), (1, 0), (0, 1), (-1, 0))  # left, down, right, up: FrozenLake's action order


def gridworld(rows, goal_reward=1.0, pit_reward=-1.0, step_reward=0.0):
    """A deterministic grid world as a Gymnasium-style table P (the format of FrozenLake's P).

    rows: strings of equal length; 'S' start, '.' free, 'G' goal (goal_reward, ends the episode),
    'X' pit (pit_reward, ends the episode), '#' wall.  Actions 0..3 move left, down, right, up;
    a move into a wall or off the grid stays put.  Every move into a free cell earns step_reward.
    Returns (P, start) with states numbered row by row (walls included, never entered).
    """
    grid = [list(row) for row in rows]
    n_rows, n_cols = len(grid), len(grid[0])
    if any(len(row) != n_cols for row in grid) or set("".join(rows)) - set("SG.X#"):
        raise ValueError(f"gridworld expects equal-length rows of 'S', '.', 'G', 'X', '#', got {rows}")
    starts = [i * n_cols + j for i in range(n_rows) for j in range(n_cols) if grid[i][j] == "S"]
    if len(starts) != 1:
        raise ValueError(f"gridworld expects exactly one start 'S', got {len(starts)}")
    P = {}
    for i in range(n_rows):
        for j in range(n_cols):
            s = i * n_cols + j
            if grid[i][j] in "GX#":  # absorbing, as FrozenLake's holes and goal are
                P[s] = {a: [(1.0, s, 0.0, True)] for a in range(4)}
                continue
            P[s] = {}
            for a, (di, dj) in enumerate(MOVES):
                ni, nj = i + di, j + dj
                if not (0 <= ni < n_rows and 0 <= nj < n_cols) or grid[ni][nj] == "#":
                    ni, nj = i, j
                cell = grid[ni][nj]
                reward = {"G": goal_reward, "X": pit_reward}.get(cell, step_reward)
                P[s][a] = [(1.0, ni * n_cols + nj, reward, cell in "GX")]
    return P, starts[0]


def _check_table(p, r, policy=None):
    p, r = np.asarray(p, dtype=float), np.asarray(r, dtype=float)
    if p.ndim != 3 or p.shape[0] != p.shape[2] or r.shape != p.shape[:2]:
        raise ValueError(f"expected p (S, C, S) and r (S, C), got p {p.shape} and r {r.shape}")
    if policy is not None:
        policy = check_probabilities(policy, "a policy's action probabilities")
        if policy.shape != r.shape:
            raise ValueError(f"a policy for this table has shape {r.shape}, got {policy.shape}")
    return p, r, policy


def q_from_v(p, r, v, gamma):
    """The Bellman backup q(s, a) = r(s, a) + gamma * sum_s' p(s'|s, a) v(s').  Returns (S, C)."""
    gamma = check_discount(gamma)
    p, r, _ = _check_table(p, r)
    return r + gamma * p @ np.asarray(v, dtype=float)


def bellman_expectation(p, r, policy, v, gamma):
    """(T_pi v)(s) = sum_a pi(a|s) q(s, a): one step of policy evaluation.  Returns (S,)."""
    p, r, policy = _check_table(p, r, policy)
    return np.sum(policy * q_from_v(p, r, v, gamma), axis=1)


def bellman_optimality(p, r, v, gamma, epsilon=0.0):
    """(T* v)(s) = max_a q(s, a); with epsilon > 0, the backup of the best epsilon-greedy policy,
    (1 - epsilon) max_a q + epsilon mean_a q.  Returns (S,)."""
    q = q_from_v(p, r, v, gamma)
    if not 0.0 <= epsilon <= 1.0:
        raise ValueError(f"epsilon must be in [0, 1], got {epsilon}")
    return (1 - epsilon) * q.max(axis=1) + epsilon * q.mean(axis=1)


def policy_evaluation(p, r, policy, gamma, tol=1e-12, max_iter=100_000):
    """Iterative policy evaluation: v <- T_pi v from v = 0 until max |change| <= tol.

    Returns v (S,) and the number of sweeps.  With gamma = 1 the values of an episodic task
    (e.g. FrozenLake's probability of reaching the goal) still converge from below.
    """
    p, r, policy = _check_table(p, r, policy)
    gamma = check_discount(gamma)
    p_pi = np.einsum("sa,sat->st", policy, p)
    r_pi = np.sum(policy * r, axis=1)
    v = np.zeros(len(r))
    for sweep in range(1, max_iter + 1):
        new = r_pi + gamma * p_pi @ v
        change = np.max(np.abs(new - v))
        v = new
        if change <= tol:
            return v, sweep
    return v, max_iter


def greedy(q):
    """The deterministic greedy policy as an (S, C) array of 0/1 (ties go to the lowest action)."""
    q = np.asarray(q, dtype=float)
    return np.eye(q.shape[-1])[np.argmax(q, axis=-1)]


def value_iteration(p, r, gamma, tol=1e-12, max_iter=100_000, epsilon=0.0):
    """v <- T* v from v = 0 until max |change| <= tol.

    Returns v (S,), the greedy policy (S, C) and the list of sup-norm changes per sweep.  With
    epsilon > 0 it finds the best epsilon-greedy policy (whose greedy part is returned).
    """
    p, r, _ = _check_table(p, r)
    v, changes = np.zeros(len(r)), []
    for _ in range(max_iter):
        new = bellman_optimality(p, r, v, gamma, epsilon)
        changes.append(float(np.max(np.abs(new - v))))
        v = new
        if changes[-1] <= tol:
            break
    return v, greedy(q_from_v(p, r, v, gamma)), changes


def policy_iteration(p, r, gamma, max_rounds=1000):
    """Evaluate, improve greedily, repeat until the policy is stable.

    Starts from the uniform random policy.  Returns the policy (S, C), its values (S,) and the
    number of improvement rounds.
    """
    p, r, _ = _check_table(p, r)
    policy = np.full(r.shape, 1.0 / r.shape[1])
    for rounds in range(1, max_rounds + 1):
        v, _ = policy_evaluation(p, r, policy, gamma)
        q = q_from_v(p, r, v, gamma)
        new = greedy(q)
        current = np.argmax(policy, axis=1)
        keep = q[np.arange(len(q)), current] >= q.max(axis=1) - 1e-10  # no strictly better action
        if rounds > 1:  # after the first round the policy is deterministic: keep it where nothing beats it
            new[keep] = policy[keep]
        if np.array_equal(new, policy):
            return policy, v, rounds
        policy = new
    raise RuntimeError(f"policy iteration did not settle in {max_rounds} rounds")


# ----- exploration ------------------------------------------------------------------------------


def epsilon_greedy_probs(q, epsilon):
    """pi(a) = epsilon / C + (1 - epsilon) 1[a = argmax q] (ties share the greedy mass).  q (..., C)."""
    if not 0.0 <= epsilon <= 1.0:
        raise ValueError(f"epsilon must be in [0, 1], got {epsilon}")
    q = np.asarray(q, dtype=float)
    best = q == q.max(axis=-1, keepdims=True)
    return epsilon / q.shape[-1] + (1 - epsilon) * best / best.sum(axis=-1, keepdims=True)


def softmax_probs(q, beta):
    """Boltzmann exploration pi(a) = exp(beta q_a) / sum_j exp(beta q_j); beta >= 0 is the inverse
    temperature (0: uniform; large: greedy).  q (..., C)."""
    if not beta >= 0:
        raise ValueError(f"the inverse temperature beta must be >= 0, got {beta}")
    return activations.softmax(beta * np.asarray(q, dtype=float))


def sample_actions(probs, rng):
    """One action per row of probs (..., C), drawn with rng by inverting the cumulative sum."""
    probs = check_probabilities(probs, "action probabilities")
    u = rng.random(probs.shape[:-1] + (1,))
    a = np.sum(np.cumsum(probs, axis=-1) < u, axis=-1)
    return np.minimum(a, probs.shape[-1] - 1)  # guard against a cumulative sum of 1 - 1e-16


# ----- temporal-difference updates --------------------------------------------------------------


def q_learning_target(r, q_next, terminated, gamma):
    """r + gamma * max_a' q(s', a'), with no future after a terminal transition.

    r (N,), q_next (N, C) the rows q(s', .), terminated (N,) booleans.  Returns (N,).
    """
    gamma = check_discount(gamma)
    q_next = np.atleast_2d(np.asarray(q_next, dtype=float))
    return np.asarray(r, dtype=float) + gamma * np.where(terminated, 0.0, q_next.max(axis=-1))


def sarsa_target(r, q_next, a_next, terminated, gamma):
    """r + gamma * q(s', a') for the action a' the policy actually takes next.  Returns (N,)."""
    gamma = check_discount(gamma)
    q_next = np.atleast_2d(np.asarray(q_next, dtype=float))
    a_next = check_actions(np.atleast_1d(a_next), q_next.shape[-1])
    chosen = np.take_along_axis(q_next, a_next[:, None], axis=-1)[:, 0]
    return np.asarray(r, dtype=float) + gamma * np.where(terminated, 0.0, chosen)


def td_update(q, s, a, target, eta):
    """q(s, a) <- q(s, a) + eta (target - q(s, a)), in place, for distinct pairs (s, a).

    Returns the TD errors target - q(s, a) (before the update)."""
    if not 0.0 < eta <= 1.0:
        raise ValueError(f"the step size eta must be in (0, 1], got {eta}")
    s, a = np.atleast_1d(s), check_actions(np.atleast_1d(a), q.shape[1])
    if len(set(zip(s.tolist(), a.tolist()))) != len(s):
        raise ValueError("td_update applies updates at once, so each (state, action) pair may appear only once")
    delta = np.asarray(target, dtype=float) - q[s, a]
    q[s, a] += eta * delta
    return delta


def _choose(row, rng, explore, param):
    # one action for one state, in plain Python: the TD loops call this at every step
    values = row.tolist()
    top = max(values)
    if explore == "epsilon":
        if rng.random() < param:
            return int(rng.integers(len(values)))
        best = [i for i, v in enumerate(values) if v == top]
        return best[0] if len(best) == 1 else best[int(rng.integers(len(best)))]
    weights = [math.exp(param * (v - top)) for v in values]
    u, total = rng.random() * sum(weights), 0.0
    for i, weight in enumerate(weights):
        total += weight
        if u < total:
            return i
    return len(weights) - 1


def td_control(env, method, episodes, rng, gamma=0.99, eta=0.1, explore="epsilon", param=0.1):
    """Tabular Q-learning (method "q") or SARSA ("sarsa") in a Gymnasium environment.

    explore: "epsilon" (epsilon-greedy with epsilon = param) or "softmax" (inverse temperature
    beta = param).  The environment is seeded once from rng.  Returns q (S, C) and the return of
    every episode.
    """
    if method not in ("q", "sarsa") or explore not in ("epsilon", "softmax"):
        raise ValueError(f"td_control expects method 'q' or 'sarsa' and explore 'epsilon' or 'softmax', "
                         f"got {method!r} and {explore!r}")
    gamma = check_discount(gamma)
    if not 0.0 < eta <= 1.0:
        raise ValueError(f"the step size eta must be in (0, 1], got {eta}")
    q = np.zeros((env.observation_space.n, env.action_space.n))
    returns = np.zeros(episodes)
    s, _ = env.reset(seed=int(rng.integers(2**31)))
    for episode in range(episodes):
        if episode:
            s, _ = env.reset()
        a, done, total = _choose(q[s], rng, explore, param), False, 0.0
        while not done:
            s_next, reward, terminated, truncated, _ = env.step(a)
            a_next = _choose(q[s_next], rng, explore, param)
            future = 0.0 if terminated else (max(q[s_next].tolist()) if method == "q" else q[s_next, a_next])
            q[s, a] += eta * (reward + gamma * future - q[s, a])
            s, a, total, done = s_next, a_next, total + reward, terminated or truncated
        returns[episode] = total
    return q, returns


def rollout(env, policy, episodes, rng):
    """Run a fixed tabular policy (S, C) in a Gymnasium environment; return each episode's return.

    The environment is seeded once from rng; actions are drawn from the policy's rows with rng."""
    policy = check_probabilities(policy, "a policy's action probabilities")
    returns = np.zeros(episodes)
    s, _ = env.reset(seed=int(rng.integers(2**31)))
    for episode in range(episodes):
        if episode:
            s, _ = env.reset()
        done = False
        while not done:
            a = int(np.searchsorted(np.cumsum(policy[s]), rng.random() * policy[s].sum(), side="right"))
            s, reward, terminated, truncated, _ = env.step(min(a, policy.shape[1] - 1))
            returns[episode] += reward
            done = terminated or truncated
    return returns


# ----- returns and advantages -------------------------------------------------------------------


def discounted_returns(rewards, gamma):
    """G_t = r_{t+1} + gamma G_{t+1} along the last axis (time); rewards (..., T).  Returns (..., T).

    Here rewards[..., t] is the reward that follows the action at time t.  Padding an episode with
    zero rewards after its end leaves its returns unchanged.
    """
    gamma = check_discount(gamma)
    rewards = np.asarray(rewards, dtype=float)
    out = np.empty_like(rewards)
    running = np.zeros(rewards.shape[:-1])
    for t in range(rewards.shape[-1] - 1, -1, -1):
        running = rewards[..., t] + gamma * running
        out[..., t] = running
    return out


def advantages(returns, mask=None, baseline="time"):
    """Returns minus a baseline, for REINFORCE.  returns (N, T); mask (N, T) marks real steps.

    baseline: "none"; "mean" (the mean return over every real step); "time" (the mean return at
    each time step over the episodes still running).  A baseline that does not depend on the
    action leaves the expected gradient unchanged (chapter 9).  Returns (N, T), zero off the mask.
    """
    returns = np.asarray(returns, dtype=float)
    mask = np.ones(returns.shape, bool) if mask is None else np.asarray(mask, bool)
    if mask.shape != returns.shape:
        raise ValueError(f"mask must have the shape of returns {returns.shape}, got {mask.shape}")
    if baseline == "none":
        b = 0.0
    elif baseline == "mean":
        b = returns[mask].mean()
    elif baseline == "time":
        b = np.sum(returns * mask, axis=0) / np.maximum(mask.sum(axis=0), 1)
    else:
        raise ValueError(f"baseline must be 'none', 'mean' or 'time', got {baseline!r}")
    return np.where(mask, returns - b, 0.0)


# ----- the categorical (softmax) policy ---------------------------------------------------------


def categorical_forward(z, actions):
    """log pi(a | z) = z_a - log sum_j exp(z_j) for each row: the log-probability of the action taken.

    z: (N, C) logits; actions: (N,) integers in 0..C-1.  Returns logp (N,) and the cache.
    """
    z = np.asarray(z, dtype=float)
    if z.ndim != 2:
        raise ValueError(f"categorical_forward expects logits z of shape (N, C), got {z.shape}")
    actions = check_actions(actions, z.shape[1])
    if actions.shape != (z.shape[0],):
        raise ValueError(f"categorical_forward expects actions of shape ({z.shape[0]},), got {actions.shape}")
    logp_all = activations.log_softmax(z)
    return logp_all[np.arange(len(z)), actions], (logp_all, actions)


def categorical_backward(dlogp, cache):
    """dz = dlogp[:, None] * (onehot(a) - softmax(z)): the gradient of log pi(a|z) is 1[j = a] - p_j.

    dlogp: (N,) upstream gradient.  Returns dz (N, C).
    """
    logp_all, actions = cache
    dlogp = np.asarray(dlogp, dtype=float)
    if dlogp.shape != actions.shape:
        raise ValueError(f"categorical_backward expects dlogp of shape {actions.shape}, got {dlogp.shape}")
    dz = -np.exp(logp_all)
    dz[np.arange(len(actions)), actions] += 1.0
    return dz * dlogp[:, None]


def tabular_softmax_return(p, r, rho, logits, gamma):
    """The exact expected return J = rho^T (I - gamma P_pi)^{-1} r_pi of the softmax policy
    pi(.|s) = softmax(logits[s]), and its gradient by the policy-gradient theorem.

    rho (S,) start distribution; logits (S, C).  The gradient is
    dJ/dlogits[s] = d(s) * sum_a pi(a|s) q(s, a) (1[. = a] - pi(.|s)), with the discounted visits
    d = rho^T (I - gamma P_pi)^{-1}; each term uses categorical_backward.  Returns J and (S, C).
    """
    p, r, _ = _check_table(p, r)
    gamma = check_discount(gamma)
    policy = activations.softmax(np.asarray(logits, dtype=float))
    n = len(r)
    p_pi = np.einsum("sa,sat->st", policy, p)
    inv = np.linalg.inv(np.eye(n) - gamma * p_pi)
    v = inv @ np.sum(policy * r, axis=1)
    visits = np.asarray(rho, dtype=float) @ inv
    q = q_from_v(p, r, v, gamma)
    grad = np.zeros_like(policy)
    for a in range(r.shape[1]):  # sum over actions of pi(a|s) q(s,a) grad log pi(a|s)
        _, cache = categorical_forward(logits, np.full(n, a))
        grad += categorical_backward(visits * policy[:, a] * q[:, a], cache)
    return float(np.asarray(rho) @ v), grad


# ----- policy-gradient training on a vector environment -----------------------------------------


def _sample_logits(z, rng):
    # sample_actions without its checks (softmax rows are distributions by construction): the
    # CartPole loop calls it once per step
    e = np.exp(z - z.max(axis=1, keepdims=True))
    c = np.cumsum(e, axis=1)
    return np.minimum(np.sum(c < rng.random((len(z), 1)) * c[:, -1:], axis=1), z.shape[1] - 1)


def run_episodes(env, model, rng, greedy_actions=False):
    """One episode in each of the N copies of a Gymnasium vector environment (NEXT_STEP autoreset).

    The environment is reset with a seed drawn from rng; actions are sampled from
    softmax(model(obs)) (or the argmax when greedy_actions).  Steps after a copy's episode ended
    are masked out.  Returns obs (N, T, D), actions (N, T), rewards (N, T), mask (N, T).
    """
    obs, _ = env.reset(seed=int(rng.integers(2**31)))
    alive = np.ones(env.num_envs, bool)
    history = {"obs": [], "actions": [], "rewards": [], "mask": []}
    while alive.any():
        x = obs.astype(float)
        z = model.forward(x)
        a = np.argmax(z, axis=1) if greedy_actions else _sample_logits(z, rng)
        obs, reward, terminated, truncated, _ = env.step(a)
        for key, value in zip(history, (x, a, reward * alive, alive.copy())):
            history[key].append(value)
        alive &= ~(terminated | truncated)
    return tuple(np.stack(history[k], axis=1) for k in history)


def reinforce_loss(z, actions, weights):
    """The REINFORCE surrogate L = -sum_i weights_i log pi(a_i | z_i) and its gradient dL/dz.

    Its gradient is the policy-gradient estimate (weights: advantages, divided by the number of
    episodes); the loss value itself means nothing.  z (N, C), actions (N,), weights (N,).
    Returns (L, dz), like the book's losses.
    """
    logp, cache = categorical_forward(z, actions)
    weights = np.asarray(weights, dtype=float)
    return float(-np.sum(weights * logp)), categorical_backward(-weights, cache)


def reinforce_update(model, optimizer, obs, actions, rewards, mask, gamma, baseline="time"):
    """One REINFORCE step: ascend mean over steps of advantage * log pi(a_t | s_t).

    The loss handed to backpropagation is L = -sum(adv * log pi) / (number of episodes), so
    dL/dlogp = -adv / N.  Returns the mean episode return of the batch.
    """
    adv = advantages(discounted_returns(rewards, gamma), mask, baseline)
    scale = adv[mask].std()
    adv = adv / scale if scale > 0 else adv
    _, dz = reinforce_loss(model.forward(obs[mask]), actions[mask], adv[mask] / len(obs))
    model.backward(dz)
    optimizer.step(model.params(), model.grads())
    return float(rewards.sum(axis=1).mean())


def train_reinforce(env, model, optimizer, rng, iterations, gamma=0.99, baseline="time", stop_at=None):
    """REINFORCE on a vector environment: each iteration runs one episode per copy, then one update.

    Stops early once an iteration's mean return reaches stop_at (when given).  Returns the mean
    return of every iteration (the learning curve).
    """
    curve = []
    for _ in range(iterations):
        batch = run_episodes(env, model, rng)
        curve.append(reinforce_update(model, optimizer, *batch, gamma=gamma, baseline=baseline))
        if stop_at is not None and curve[-1] >= stop_at:
            break
    return np.array(curve)
