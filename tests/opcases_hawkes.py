"""Registry-table rows for cysym/ops/hawkes.py, with a NumPy reference written from the
definition of the Hawkes log likelihood (MXNet's numbers are in test_hawkes.py)."""
import math

import numpy as np

from opcase import Case, integers, positive

N, K, T = 3, 2, 5


def np_hawkesll(lda, alpha, beta, state, lags, marks, valid_length, max_time):
    """Each process k of sample i: intensity lda + alpha * beta * sum_{t_j < t} exp(-beta (t - t_j))
    (the initial state counting as events before 0); the log likelihood sums log intensity at
    each event minus the intensity's integral over (0, max_time]; the state is that sum at
    max_time."""
    ll = np.zeros(lda.shape[0])
    out_state = np.zeros(lda.shape)
    for i in range(lda.shape[0]):
        times = np.cumsum(lags[i])[:math.ceil(valid_length[i])]
        events = marks[i, :len(times)].astype(int)
        for k in range(lda.shape[1]):
            own = times[events == k]
            s0, a, b, mu = state[i, k], alpha[k], beta[k], lda[i, k]

            def excitation(t):
                earlier = own[own < t]
                return s0 * math.exp(-b * t) + np.exp(-b * (t - earlier)).sum()

            def integral(t):   # of alpha * beta * excitation over (0, t]
                earlier = own[own < t]
                return a * (s0 * (1 - math.exp(-b * t)) + (1 - np.exp(-b * (t - earlier))).sum())

            ll[i] += sum(math.log(mu + a * b * excitation(t)) for t in own)
            ll[i] -= mu * max_time[i] + integral(max_time[i])
            out_state[i, k] = s0 * math.exp(-b * max_time[i]) + np.exp(-b * (max_time[i] - own)).sum()
    return [ll, out_state]


def fixed(values):
    return lambda rng, shape: np.asarray(values, dtype=np.float64).reshape(shape)


def small(rng, shape):
    return rng.uniform(0.1, 0.6, shape)


CASE_LIST = [
    Case("_contrib_hawkesll",
         {"lda": ((N, K), positive), "alpha": ((K,), small), "beta": ((K,), positive),
          "state": ((N, K), small), "lags": ((N, T), small), "marks": ((N, T), integers(K)),
          "valid_length": ((N,), fixed([5, 3, 4])), "max_time": ((N,), fixed([3.5, 3.2, 4.0]))},
         ref=np_hawkesll, grad_tol=(1e-5, 1e-7),
         bad=[("shapes", {"lda": (N, K), "alpha": (K + 1,), "beta": (K,), "state": (N, K),
                          "lags": (N, T), "marks": (N, T), "valid_length": (N,), "max_time": (N,)}),
              ("shapes", {"lda": (N, K), "alpha": (K,), "beta": (K,), "state": (N, K),
                          "lags": (N, T), "marks": (N, T + 1), "valid_length": (N,),
                          "max_time": (N,)})]),
]
