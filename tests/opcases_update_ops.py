"""Registry-table rows for the optimizer update operators (cysym/ops/update_ops.py).

The references are NumPy, written from MXNet 1.9.1's kernels (src/operator/optimizer_op-inl.h,
contrib/adamw-inl.h); test_update_ops.py checks the same operators against MXNet's numbers and
their in-place updates of the states.  The rows check the returned weight only (the table binds
the states as ordinary inputs), and no gradient: MXNet defines none."""
import functools
import inspect

import numpy as np

from opcase import Case, positive, signed
from opcases_index import fixed

SHAPE = (2, 3)


def mxnet_params(ref):
    """ref seeing its float parameters (defaults included) rounded to float32, as MXNet's
    kernels do (its parameters are float32 whatever the weight's dtype)."""
    defaults = {name: p.default for name, p in inspect.signature(ref).parameters.items()
                if isinstance(p.default, float)}

    @functools.wraps(ref)
    def rounded(**kw):
        kw = {**defaults, **kw}
        return ref(**{k: float(np.float32(v)) if isinstance(v, float) else v for k, v in kw.items()})
    return rounded


def _clip(g, bound):
    return np.clip(g, -bound, bound) if bound >= 0 else g


@mxnet_params
def sgd(weight, grad, lr, wd=0.0, rescale_grad=1.0, clip_gradient=-1.0, **_):
    return (1 - lr * wd) * weight - lr * _clip(rescale_grad * grad, clip_gradient)


@mxnet_params
def sgd_mom(weight, grad, mom, lr, momentum=0.0, wd=0.0, rescale_grad=1.0, clip_gradient=-1.0, **_):
    return weight + momentum * mom - lr * wd * weight - lr * _clip(rescale_grad * grad, clip_gradient)


@mxnet_params
def nag_mom(weight, grad, mom, lr, momentum=0.0, wd=0.0, rescale_grad=1.0, clip_gradient=-1.0, **_):
    kept = momentum * mom
    return weight - kept + (momentum + 1) * (kept - lr * (_clip(rescale_grad * grad, clip_gradient)
                                                          + wd * weight))


@mxnet_params
def adam(weight, grad, mean, var, lr, beta1=0.9, beta2=0.999, epsilon=1e-8, wd=0.0,
         rescale_grad=1.0, clip_gradient=-1.0, **_):
    g = _clip(rescale_grad * grad + wd * weight, clip_gradient)
    mean = beta1 * mean + (1 - beta1) * g
    var = beta2 * var + (1 - beta2) * g * g
    return weight - lr * mean / (np.sqrt(var) + epsilon)


@mxnet_params
def adamw(weight, grad, mean, var, rescale_grad, lr, eta, beta1=0.9, beta2=0.999, epsilon=1e-8,
          wd=0.0, clip_gradient=-1.0, **_):
    g = _clip(float(np.float32(rescale_grad[0])) * grad, clip_gradient)   # read as a float
    mean = beta1 * mean + (1 - beta1) * g
    var = beta2 * var + (1 - beta2) * g * g
    return weight - eta * (lr * mean / (np.sqrt(var) + epsilon) + wd * weight)


@mxnet_params
def rmsprop(weight, grad, n, lr, gamma1=0.95, epsilon=1e-8, wd=0.0, rescale_grad=1.0,
            clip_gradient=-1.0, clip_weights=-1.0, **_):
    g = _clip(rescale_grad * grad + wd * weight, clip_gradient)
    n = (1 - gamma1) * g * g + gamma1 * n
    return _clip(weight - lr * g / np.sqrt(n + epsilon), clip_weights)


@mxnet_params
def rmspropalex(weight, grad, n, g, delta, lr, gamma1=0.95, gamma2=0.9, epsilon=1e-8, wd=0.0,
                rescale_grad=1.0, clip_gradient=-1.0, clip_weights=-1.0, **_):
    step = _clip(rescale_grad * grad + wd * weight, clip_gradient)
    n = (1 - gamma1) * step * step + gamma1 * n
    g = (1 - gamma1) * step + gamma1 * g
    delta = gamma2 * delta - lr * step / np.sqrt(n - g * g + epsilon)
    return _clip(weight + delta, clip_weights)


@mxnet_params
def ftrl(weight, grad, z, n, lr, lamda1=0.01, beta=1.0, wd=0.0, rescale_grad=1.0,
         clip_gradient=-1.0, **_):
    g = _clip(rescale_grad * grad, clip_gradient)
    z = z + g - (np.sqrt(n + g * g) - np.sqrt(n)) * weight / lr
    n = n + g * g
    return (np.sign(z) * lamda1 - z) / ((beta + np.sqrt(n)) / lr + wd) * (np.abs(z) > lamda1)


@mxnet_params
def ftml(weight, grad, d, v, z, lr, t, beta1=0.6, beta2=0.999, epsilon=1e-8, wd=0.0,
         rescale_grad=1.0, clip_grad=-1.0, **_):
    g = _clip(rescale_grad * grad + wd * weight, clip_grad)
    v = beta2 * v + (1 - beta2) * g * g
    d_t = (1 - beta1 ** t) / lr * (np.sqrt(v / (1 - beta2 ** t)) + epsilon)
    z = beta1 * z + (1 - beta1) * g - (d_t - beta1 * d) * weight
    return -z / d_t


@mxnet_params
def signsgd(weight, grad, lr, wd=0.0, **_):
    return (1 - lr * wd) * weight - lr * np.sign(grad)


@mxnet_params
def signum(weight, grad, mom, lr, momentum=0.0, wd=0.0, rescale_grad=1.0, clip_gradient=-1.0,
           wd_lh=0.0, **_):
    mom = momentum * mom - (1 - momentum) * wd * weight - (1 - momentum) * _clip(
        rescale_grad * grad, clip_gradient)
    return (1 - lr * wd_lh) * weight + lr * np.sign(mom)


@mxnet_params
def lamb_phase1(weight, grad, mean, var, t, wd, beta1=0.9, beta2=0.999, epsilon=1e-6,
                bias_correction=True, rescale_grad=1.0, clip_gradient=-1.0, **_):
    g = _clip(rescale_grad * grad, clip_gradient)
    mean = beta1 * mean + (1 - beta1) * g
    var = beta2 * var + (1 - beta2) * g * g
    if bias_correction:
        mean, var = mean / (1 - beta1 ** t), var / (1 - beta2 ** t)
    return mean / (np.sqrt(var) + epsilon) + wd * weight


@mxnet_params
def lamb_phase2(weight, g, r1, r2, lr, lower_bound=-1.0, upper_bound=-1.0, **_):
    r1 = r1[0]
    if lower_bound >= 0:
        r1 = max(r1, lower_bound)
    if upper_bound >= 0:
        r1 = min(r1, upper_bound)
    ratio = 1.0 if r1 == 0 or r2[0] == 0 else r1 / r2[0]
    return weight - lr * ratio * g


def master(ref):
    """The mp_ form of ref: the update of the master copy weight32, whatever the weight holds."""
    def mp_ref(weight, weight32, **kw):
        return ref(weight=weight32, **kw)
    return mp_ref


def mp_lamb_phase2(weight, g, r1, r2, weight32, **kw):
    return lamb_phase2(weight=weight32, g=g, r1=r1, r2=r2, **kw)


def multi(ref, group):
    def multi_ref(lrs, wds, num_weights, **kw):
        inputs = [kw.pop(f"{name}_{i}") for i in range(num_weights) for name in group]
        outs = []
        for i in range(num_weights):
            values = dict(zip(group, inputs[i * len(group):(i + 1) * len(group)]))
            update = master(ref) if "weight32" in group else ref
            outs.append(update(**values, lr=lrs[i], wd=wds[i], **kw))
        return outs
    return multi_ref


def sum_sq_float32(*arrays):
    """MXNet's multi_sum_sq: each square added in order to a float32 total."""
    totals = []
    for array in arrays:
        total = np.float32(0)
        for x in array.ravel():
            total = np.float32(total + np.float32(x * x))
        totals.append(total)
    return np.array(totals, np.float32)


@mxnet_params
def lars(lrs, weights_sum_sq, grads_sum_sq, wds, eta, eps, rescale_grad=1.0):
    w_norm, g_norm = np.sqrt(weights_sum_sq), np.sqrt(grads_sum_sq)
    valid = (w_norm > 0) & (g_norm > 0)
    return np.where(valid, lrs * eta * w_norm / (g_norm * rescale_grad + wds * w_norm + eps + ~valid), lrs)


def multi_lamb(mp, learning_rates, wds, step_count, num_tensors, lower_bound=-1.0, **kw):
    """Both LAMB phases per tensor, with MXNet's float32 sums of squares for the norms."""
    outs = []
    for i in range(num_tensors):
        arrays = {k: kw.pop(f"{k}_{i}") for k in ("weight", "grad", "mean", "var", "weight32")
                  if f"{k}_{i}" in kw}
        weight = arrays.pop("weight32") if mp else arrays["weight"]
        arrays["weight"] = weight
        g = lamb_phase1(**arrays, t=step_count[i], wd=wds[i], **kw)
        r1, r2 = (np.sqrt(sum_sq_float32(x)).astype(np.float64) for x in (weight, g))
        outs.append(lamb_phase2(weight=weight, g=g, r1=r1, r2=r2, lr=learning_rates[i],
                                lower_bound=lower_bound))
    return outs


def one_element(rng, shape):
    return rng.uniform(0.5, 1.5, shape)


def state(kind=signed):
    return (SHAPE, kind)


W = {"weight": state(), "grad": state()}
BAD_MOM = [("shapes", {"weight": (2, 3), "grad": (2, 3), "mom": (3, 2)})]

CASE_LIST = [
    Case("sgd_update", W, params=dict(lr=0.1, wd=0.05, rescale_grad=0.5), ref=sgd, grad=(),
         bad=[("params", {"lr": None}), ("shapes", {"weight": (2, 3), "grad": (3, 2)})]),
    Case("sgd_update", W, params=dict(lr=0.1, clip_gradient=0.3), ref=sgd, grad=(),
         id="sgd_update-clip"),
    Case("sgd_mom_update", {**W, "mom": state()}, params=dict(lr=0.1, momentum=0.9, wd=0.01,
                                                              clip_gradient=0.4),
         ref=sgd_mom, grad=(), bad=BAD_MOM),
    Case("nag_mom_update", {**W, "mom": state()}, params=dict(lr=0.1, momentum=0.9, wd=0.01),
         ref=nag_mom, grad=(), bad=BAD_MOM),
    Case("adam_update", {**W, "mean": state(), "var": state(positive)},
         params=dict(lr=0.01, wd=0.1, clip_gradient=0.6, rescale_grad=1.5), ref=adam, grad=()),
    Case("_adamw_update", {**W, "mean": state(), "var": state(positive),
                           "rescale_grad": ((1,), one_element)},
         params=dict(lr=0.01, eta=0.7, wd=0.1), ref=adamw, grad=(),
         bad=[("params", {"eta": None}),
              ("shapes", {"weight": (2, 3), "grad": (2, 3), "mean": (2, 3), "var": (2, 3),
                          "rescale_grad": (2,)})]),
    Case("rmsprop_update", {**W, "n": state(positive)},
         params=dict(lr=0.01, gamma1=0.8, wd=0.1, clip_weights=0.5), ref=rmsprop, grad=()),
    Case("rmspropalex_update", {**W, "n": ((2, 3), lambda rng, shape: rng.uniform(2, 3, shape)),
                                "g": state(), "delta": state()},
         params=dict(lr=0.01, gamma1=0.8, gamma2=0.7, clip_gradient=0.9), ref=rmspropalex,
         grad=()),
    Case("ftrl_update", {**W, "z": state(), "n": state(positive)},
         params=dict(lr=0.1, lamda1=0.3, beta=1.5, wd=0.05), ref=ftrl, grad=()),
    Case("ftml_update", {**W, "d": state(positive), "v": state(positive), "z": state()},
         params=dict(lr=0.1, t=3, wd=0.05, clip_grad=0.7), ref=ftml, grad=(),
         bad=[("params", {"t": None})]),
    Case("signsgd_update", W, params=dict(lr=0.1, wd=0.05), ref=signsgd, grad=()),
    Case("signum_update", {**W, "mom": state()},
         params=dict(lr=0.1, momentum=0.9, wd=0.05, wd_lh=0.02), ref=signum, grad=()),
    Case("lamb_update_phase1", {**W, "mean": state(), "var": state(positive)},
         params=dict(t=4, wd=0.1, clip_gradient=0.5), ref=lamb_phase1, grad=(),
         bad=[("params", {"wd": None})]),
    Case("lamb_update_phase2", {"weight": state(), "g": state(), "r1": ((1,), one_element),
                                "r2": ((1,), one_element)},
         params=dict(lr=0.1, lower_bound=0.9), ref=lamb_phase2, grad=(),
         bad=[("shapes", {"weight": (2, 3), "g": (2, 3), "r1": (2,), "r2": (1,)})]),
    # mp_ forms: weight32 is the weight updated, the weight input only gives the shape
    Case("mp_sgd_update", {**W, "weight32": state()}, params=dict(lr=0.1, wd=0.05),
         ref=master(sgd), grad=()),
    Case("mp_sgd_mom_update", {**W, "mom": state(), "weight32": state()},
         params=dict(lr=0.1, momentum=0.9), ref=master(sgd_mom), grad=()),
    Case("mp_nag_mom_update", {**W, "mom": state(), "weight32": state()},
         params=dict(lr=0.1, momentum=0.9), ref=master(nag_mom), grad=()),
    Case("mp_lamb_update_phase1", {**W, "mean": state(), "var": state(positive),
                                   "weight32": state()},
         params=dict(t=2, wd=0.1), ref=master(lamb_phase1), grad=()),
    Case("mp_lamb_update_phase2", {"weight": state(), "g": state(), "r1": ((1,), one_element),
                                   "r2": ((1,), one_element), "weight32": state()},
         params=dict(lr=0.1), ref=mp_lamb_phase2, grad=()),
    Case("_mp_adamw_update", {**W, "mean": state(), "var": state(positive), "weight32": state(),
                              "rescale_grad": ((1,), one_element)},
         params=dict(lr=0.01, eta=0.7, wd=0.1), ref=master(adamw), grad=()),
    # multi_ forms: two weights of different shapes
    Case("multi_sgd_update", {"weight_0": state(), "grad_0": state(),
                              "weight_1": ((4, 5), signed), "grad_1": ((4, 5), signed)},
         params=dict(lrs=(0.1, 0.2), wds=(0.01, 0.0), num_weights=2, clip_gradient=0.5),
         ref=multi(sgd, ("weight", "grad")), grad=(),
         bad=[("params", {"lrs": (0.1,)}),
              ("shapes", {"weight_0": (2, 3), "grad_0": (2, 3), "weight_1": (4, 5),
                          "grad_1": (5, 4)})]),
    Case("multi_sgd_mom_update", {"weight_0": state(), "grad_0": state(), "mom_0": state(),
                                  "weight_1": ((4, 5), signed), "grad_1": ((4, 5), signed),
                                  "mom_1": ((4, 5), signed)},
         params=dict(lrs=(0.1, 0.2), wds=(0.01, 0.0), momentum=0.9, num_weights=2),
         ref=multi(sgd_mom, ("weight", "grad", "mom")), grad=()),
    Case("multi_mp_sgd_update", {"weight_0": state(), "grad_0": state(), "weight32_0": state(),
                                 "weight_1": ((4, 5), signed), "grad_1": ((4, 5), signed),
                                 "weight32_1": ((4, 5), signed)},
         params=dict(lrs=(0.1, 0.2), wds=(0.01, 0.0), num_weights=2),
         ref=multi(sgd, ("weight", "grad", "weight32")), grad=()),
    Case("multi_mp_sgd_mom_update", {"weight_0": state(), "grad_0": state(), "mom_0": state(),
                                     "weight32_0": state(), "weight_1": ((4, 5), signed),
                                     "grad_1": ((4, 5), signed), "mom_1": ((4, 5), signed),
                                     "weight32_1": ((4, 5), signed)},
         params=dict(lrs=(0.1, 0.2), wds=(0.01, 0.0), momentum=0.9, num_weights=2),
         ref=multi(sgd_mom, ("weight", "grad", "mom", "weight32")), grad=()),
    # preloaded_ forms: lrs and wds are inputs
    *[Case(f"preloaded_{name}", {**{f"{k}_{i}": (shape, signed) for i, shape in enumerate([SHAPE, (4, 5)])
                                    for k in group}, "lrs": ((2,), fixed([0.125, 0.25])),
                                 "wds": ((2,), fixed([0.0625, 0.0]))},
           params=dict(num_weights=2, **extra),
           ref=lambda lrs, wds, ref=ref, group=group, **kw: multi(ref, group)(
               lrs=tuple(lrs), wds=tuple(wds), **kw),
           grad=(), bad=[("shapes", {**{f"{k}_{i}": shape for i, shape in enumerate([SHAPE, (4, 5)])
                                        for k in group}, "lrs": (3,), "wds": (2,)})])
      for name, ref, group, extra in [
          ("multi_sgd_update", sgd, ("weight", "grad"), {}),
          ("multi_sgd_mom_update", sgd_mom, ("weight", "grad", "mom"), {"momentum": 0.875}),
          ("multi_mp_sgd_update", sgd, ("weight", "grad", "weight32"), {}),
          ("multi_mp_sgd_mom_update", sgd_mom, ("weight", "grad", "mom", "weight32"),
           {"momentum": 0.875})]],
    # _multi_adamw forms: one rescale_grad for all the weights
    *[Case(name, {**{f"{k}_{i}": (shape, positive if k == "var" else signed)
                     for i, shape in enumerate([SHAPE, (4, 5)])
                     for k in ("weight", "grad", "mean", "var") + (("weight32",) if mp else ())},
                  "rescale_grad": ((1,), one_element)},
           params=dict(lrs=(0.125, 0.25), wds=(0.0625, 0.0), etas=(0.75, 1.0), num_weights=2),
           ref=lambda lrs, wds, etas, num_weights, rescale_grad, mp=mp, **kw: [
               (master(adamw) if mp else adamw)(
                   **{k: kw[f"{k}_{i}"] for k in ("weight", "grad", "mean", "var")
                      + (("weight32",) if mp else ())},
                   rescale_grad=rescale_grad, lr=lrs[i], wd=wds[i], eta=etas[i])
               for i in range(num_weights)],
           grad=(), bad=[("params", {"etas": (0.75,)})])
      for name, mp in [("_multi_adamw_update", False), ("_multi_mp_adamw_update", True)]],
    Case("multi_sum_sq", {"arg0": ((2, 3), signed), "arg1": ((4, 5), signed)},
         params=dict(num_arrays=2), ref=lambda arg0, arg1, **_: sum_sq_float32(arg0, arg1),
         grad=()),
    Case("multi_lars", {"lrs": ((3,), positive), "weights_sum_sq": ((3,), fixed([4.0, 0.0, 2.5])),
                        "grads_sum_sq": ((3,), fixed([0.25, 1.0, 0.0])), "wds": ((3,), positive)},
         params=dict(eta=0.125, eps=0.0, rescale_grad=0.5), ref=lars, grad=(),
         bad=[("shapes", {"lrs": (3,), "weights_sum_sq": (2,), "grads_sum_sq": (3,), "wds": (3,)})]),
    *[Case(name, {f"{k}_{i}": (shape, positive if k == "var" else signed)
                  for i, shape in enumerate([SHAPE, (4, 5)])
                  for k in ("weight", "grad", "mean", "var") + (("weight32",) if mp else ())},
           params=dict(learning_rates=(0.125, 0.25), wds=(0.0625, 0.0), step_count=(3, 5),
                       lower_bound=0.5, num_tensors=2),
           ref=lambda mp=mp, **kw: multi_lamb(mp, **kw), grad=(),
           bad=[("params", {"step_count": (3,)})])
      for name, mp in [("_multi_lamb_update", False), ("_multi_mp_lamb_update", True)]],
]
