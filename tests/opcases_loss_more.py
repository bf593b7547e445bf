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


def np_ctc(data, label, data_lengths=None, label_lengths=None, use_data_lengths=False,
           use_label_lengths=False, blank_label="first"):
    """-log p(label | data) per sample, by the forward recursion in probability space."""
    steps, batch, classes = data.shape
    blank = 0 if blank_label == "first" else classes - 1
    padding = 0 if blank_label == "first" else -1
    e = np.exp(data - data.max(axis=2, keepdims=True))
    probs = e / e.sum(axis=2, keepdims=True)
    costs = np.zeros(batch)
    for b in range(batch):
        row = [int(v) for v in label[b]]
        length = int(label_lengths[b]) if use_label_lengths else \
            (row.index(padding) if padding in row else len(row))
        labels = row[:length]
        t_end = int(data_lengths[b]) if use_data_lengths else steps
        extended = [blank]
        for k in labels:
            extended += [k, blank]
        alpha = np.zeros(len(extended))
        alpha[0] = probs[0, b, blank]
        if length:
            alpha[1] = probs[0, b, extended[1]]
        for t in range(1, t_end):
            previous = alpha.copy()
            for s, k in enumerate(extended):
                total = previous[s] + (previous[s - 1] if s >= 1 else 0)
                if s >= 2 and k != blank and k != extended[s - 2]:
                    total += previous[s - 2]
                alpha[s] = total * probs[t, b, k]
        costs[b] = -np.log(alpha[-1] + (alpha[-2] if length else 0))
    return costs


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
    # -- CTCLoss: padded labels with a repeat, the blank last, given lengths ---------------------
    Case("CTCLoss", {"data": ((6, 3, 5), signed),
                     "label": ((3, 4), fixed([[1, 2, 2, 0], [3, 0, 0, 0], [4, 1, 3, 2]]))},
         ref=np_ctc, grad_tol=(1e-5, 1e-7),
         bad=[("shapes", {"data": (6, 3, 5), "label": (2, 4)}),
              ("shapes", {"data": (3, 3, 5), "label": (3, 4)}),
              ("params", {"blank_label": "middle"})]),
    Case("CTCLoss", {"data": ((6, 3, 5), signed),
                     "label": ((3, 4), fixed([[1, 0, -1, -1], [3, 3, 3, -1], [0, 1, 2, 2]]))},
         params=dict(blank_label="last"), ref=np_ctc, grad_tol=(1e-5, 1e-7), id="CTCLoss-blank-last"),
    Case("CTCLoss", {"data": ((6, 3, 5), signed),
                     "label": ((3, 4), fixed([[1, 2, 2, 3], [3, 1, 0, 0], [4, 1, 3, 2]])),
                     "data_lengths": ((3,), fixed([4, 6, 5])), "label_lengths": ((3,), fixed([3, 2, 4]))},
         params=dict(use_data_lengths=True, use_label_lengths=True), ref=np_ctc,
         grad_tol=(1e-5, 1e-7), id="CTCLoss-lengths",
         bad=[("shapes", {"data": (6, 3, 5), "label": (3, 4), "data_lengths": (2,),
                          "label_lengths": (3,)})]),
]
