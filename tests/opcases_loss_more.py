"""Registry-table rows for SVMOutput, softmax_cross_entropy and IdentityAttachKLSparseReg
(cysym/ops/loss.py) and the CTC loss (cysym/ops/ctc.py).

SVMOutput and IdentityAttachKLSparseReg have gradients that are MXNet's formulas rather than
derivatives of their (identity) forward, so their rows check the forward only;
test_loss_more.py compares their gradients with numbers MXNet computed."""
import numpy as np

from opcase import Case, signed


def fixed(values):
    values = np.asarray(values, dtype=np.float64)
    return lambda rng, shape: values.reshape(shape)


def np_softmax_cross_entropy(data, label):
    z = data - data.max(axis=1, keepdims=True)
    log_p = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
    picked = log_p[np.arange(len(label)), label.astype(int)]
    return np.array([-np.maximum(picked, np.log(1e-8)).sum()])


def unit_interval(rng, shape):
    """Activations of a sigmoid, away from 0 and 1."""
    return rng.uniform(0.1, 0.9, shape)


CASE_LIST = [
    Case("SVMOutput", {"data": ((3, 5), signed), "label": ((3,), fixed([1, 4, 0]))},
         params=dict(margin=0.8, regularization_coefficient=1.5), ref=lambda data, **_: data,
         grad=(), bad=[("shapes", {"data": (3, 5), "label": (5,)})]),
    Case("SVMOutput", {"data": ((2, 3, 4), signed), "label": ((2, 3), fixed([[0, 3, 1], [2, 2, 0]]))},
         params=dict(use_linear=True), ref=lambda data, **_: data, grad=(), id="SVMOutput-linear-3d"),
    Case("softmax_cross_entropy", {"data": ((3, 5), signed), "label": ((3,), fixed([1, 4, 0]))},
         ref=np_softmax_cross_entropy,
         bad=[("shapes", {"data": (3, 5), "label": (2,)}),
              ("shapes", {"data": (3, 5, 2), "label": (3,)})]),
    Case("IdentityAttachKLSparseReg", {"data": ((4, 3), unit_interval)},
         aux={"moving_avg": ((3,), unit_interval)},
         params=dict(sparseness_target=0.2, penalty=0.01, momentum=0.7),
         ref=lambda data, moving_avg, **_: data, grad=(),
         bad=[("shapes", {"data": (4, 3, 2)}), ("params", {"sparseness_target": 1.5})]),
]
