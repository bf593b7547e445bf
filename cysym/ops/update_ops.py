"""Optimizer update operators (MXNet's src/operator/optimizer_op.cc and contrib/adamw.cc,
multi_lamb.cc, multi_lars.cc, multi_sum_sq.cc): sgd_update ... lamb_update_phase2, their mp_
(master-copy), multi_ and preloaded_multi_ (many weights) forms, _multi_adamw_update,
_multi_lamb_update, and multi_sum_sq / multi_lars (the layer rates of LARS).

Called as MXNet's training loops call them, `mx.nd.rmsprop_update(w, g, n, lr=0.01, out=w)`,
or placed in a graph: the output is the new weight, and the states (mom, mean, var, n, z, ...,
and the mp_ forms' master copy weight32) are updated in place (OpDef.mutates).  No gradient
flows back through them (MXNet registers none).  The loops are those of the optimizers
(cysym._ops.optim), whose fused entry points (called by cysym.optimizer without a plan) give
the same numbers.

Parameters are float32 in MXNet, so they are rounded to float32 before a float64 update, as
MXNet's kernels see them.  Clipping is on for clip_gradient >= 0 (0 clips to 0, as in MXNet);
lazy_update concerns sparse gradients only and is accepted and ignored.

mp_ forms: MXNet keeps float16 weights and a float32 master copy.  They take float16 weights
and grads (computed in float32: cysym/float16.py) with float32 states and master copy, as
MXNet's, and float32 ones too (float64 ones with a float64 master copy: MXNet refuses those):
the master copy is updated in place and copied to the output, as MXNet computes it.

The states are inputs (arguments) here, where MXNet lists its mutated inputs among the
auxiliary states: list_arguments() of a graph with an update includes them.
"""
import numpy as np

from ..registry import OpDef, Param, register
from .common import kernels, prod

# inputs of one element (a scalar read at run time), not of the weight's shape
_SCALAR_INPUTS = ("rescale_grad", "r1", "r2")


def _f32(value):
    return float(np.float32(value))


def _update_shape(ctx, ins, outs):
    """Every input has the weight's shape, except the one-element ones; out = weight's shape."""
    names = ctx.input_names
    known = next((s for name, s in zip(names, ins) if s is not None and name not in _SCALAR_INPUTS),
                 outs[0])
    if known is None:
        return ins, outs
    shapes = []
    for name, shape in zip(names, ins):
        expected = (1,) if name in _SCALAR_INPUTS else tuple(known)
        if shape is not None and tuple(shape) != expected:
            raise ctx.error(f"input '{name}' has shape {tuple(shape)}, expected {expected} "
                            f"(the weight's shape is {tuple(known)})")
        shapes.append(expected)
    return shapes, [tuple(known)]


def _common_params(clip_name="clip_gradient"):
    params = [Param("wd", "float", 0.0, "Weight decay augments the objective function with a "
                                        "regularization term that penalizes large weights."),
              Param("rescale_grad", "float", 1.0, "Rescale gradient to grad = rescale_grad*grad.")]
    params.append(Param(clip_name, "float", -1.0, "Clip gradient to the range of [-clip_gradient, "
                        "clip_gradient]. If clip_gradient <= 0, gradient clipping is turned off. "
                        "grad = max(min(grad, clip_gradient), -clip_gradient)."))
    return params


_LR = Param("lr", "float", doc="Learning rate")
_MOMENTUM = Param("momentum", "float", 0.0, "The decay rate of momentum estimates at each epoch.")
_LAZY = Param("lazy_update", "bool", True, "If true, lazy updates are applied if gradient's "
                                           "stype is row_sparse (dense here: ignored).")


def _no_gradient(g):
    """MXNet registers no gradient for the updates: nothing flows back through one."""
    return [None] * len(g.inputs)


def _update_kernel(kind, states, master):
    """The bind function: states are the input names of the kind's states, in the kernel's
    order (adamw's rescale_grad and LAMB phase 2's r1, r2 among them)."""
    def kernel(b):
        names = b.node.op.input_names(b.params)
        arrays = dict(zip(names, b.inputs))
        params = {key: _f32(value) if isinstance(value, float) else value
                  for key, value in b.params.items()}
        kernels("optim").append_update(
            b.plan, kind, b.outputs[0], arrays["weight"], arrays[names[1]],
            [arrays[name] for name in states], params, arrays["weight32"] if master else None,
            label=b.label)
    return kernel


def _master_type(ctx, ins, outs):
    """mp_ forms: weight, grad (or g) and the new weight share a dtype; the states and the
    master copy are float32 for a float16 weight (MXNet's MP_InferType), else of the weight's."""
    weight = next((t for t in (ins[0], ins[1], outs[0]) if t is not None), None)
    if weight is None:
        return ins, outs
    state = np.dtype(np.float32) if np.dtype(weight) == np.float16 else weight
    return [weight, weight] + [state] * (len(ins) - 2), [weight]


def _register_update(name, kind, states, params, doc, master=False, aliases=()):
    """One update operator: inputs (weight, grad or g, *states[, weight32]) in MXNet's order."""
    grad_name = "g" if kind == "lamb_phase2" else "grad"
    inputs = ["weight", grad_name] + states
    if master:   # MXNet puts the master copy before adamw's rescale_grad, elsewhere last
        inputs.insert(len(inputs) - 1 if kind == "adamw" else len(inputs), "weight32")
    order = [name for name in states if name not in _SCALAR_INPUTS]
    register(OpDef(
        name,
        aliases=aliases,
        params=params,
        inputs=inputs,
        infer_shape=_update_shape,
        infer_type=_master_type if master else None,
        dtypes=("float32", "float64"),
        inplace=[(0, 0)],
        # LAMB's phase 2 reads the master copy only, as MXNet's mp_lamb_update_phase2
        mutates=order + (["weight32"] if master and kind != "lamb_phase2" else []),
        gradient=_no_gradient,
        kernel=_update_kernel(kind, states, master),
        doc=doc + (_MASTER_DOC.get(kind, _MASTER_DOC[None]) if master else ""),
    ))


_MASTER_DOC = {
    None: "\n\nmp_ form: updates the float32 master copy weight32 in place and returns it as "
          "the new weight (a float16 weight has float32 states).",
    "nag_mom": "\n\nmp_ form: updates the float32 master copy weight32 in place and returns it "
               "as the new weight (a float16 weight has float32 states).  As MXNet's, "
               "it decays mom with the updated weight: mom = momentum * mom - lr * (g + wd * "
               "new weight).",
    "lamb_phase2": "\n\nmp_ form: returns weight32 - lr * ratio * g and leaves the master copy "
                   "as it is, as MXNet's (a float16 weight has float32 states).",
}
_SGD_DOC = ("Update function for Stochastic Gradient Descent (SGD) optimizer:\n"
            "weight = (1 - lr * wd) * weight - lr * clip(rescale_grad * grad, clip_gradient)")
_SGD_MOM_DOC = ("Momentum update function for SGD:\n"
                "mom = momentum * mom - lr * wd * weight - lr * clip(rescale_grad * grad)\n"
                "weight = weight + mom")
_NAG_DOC = ("Update function for Nesterov Accelerated Gradient (NAG) optimizer:\n"
            "step = lr * (clip(rescale_grad * grad) + wd * weight);\n"
            "weight = weight - momentum * mom + (1 + momentum) * (momentum * mom - step);\n"
            "mom = momentum * mom - step")
_LAMB1_DOC = ("Phase I of the LAMB update: mean and var updated with g = clip(rescale_grad * "
              "grad); returns the step direction mean_hat / (sqrt(var_hat) + epsilon) + wd * "
              "weight (bias-corrected when bias_correction).")
_LAMB2_DOC = ("Phase II of the LAMB update: r1 = ||weight|| bounded by lower_bound/upper_bound "
              "(when >= 0), r2 = ||g||; weight = weight - lr * (r1 / r2 if both non-zero else 1) "
              "* g.")
_ADAMW_DOC = ("Update function for the AdamW optimizer (decoupled weight decay); skipped when "
              "the rescale_grad input is not finite or is 0:\n"
              "g = clip(rescale_grad * grad); mean = beta1 * mean + (1 - beta1) * g;\n"
              "var = beta2 * var + (1 - beta2) * g^2;\n"
              "weight = weight - eta * (lr * mean / (sqrt(var) + epsilon) + wd * weight)")

_BETAS = [Param("beta1", "float", 0.9, "The decay rate for the 1st moment estimates."),
          Param("beta2", "float", 0.999, "The decay rate for the 2nd moment estimates.")]
_LAMB1_PARAMS = _BETAS + [
    Param("epsilon", "float", 1e-6, "A small constant for numerical stability."),
    Param("t", "int", doc="Index update count."),
    Param("bias_correction", "bool", True, "Whether to use bias correction."),
    Param("wd", "float", doc="Weight decay augments the objective function with a "
                             "regularization term that penalizes large weights."),
    Param("rescale_grad", "float", 1.0, "Rescale gradient to grad = rescale_grad*grad."),
    Param("clip_gradient", "float", -1.0, "Clip gradient to the range of [-clip_gradient, "
                                          "clip_gradient]; off when negative.")]
_LAMB2_PARAMS = [_LR,
                 Param("lower_bound", "float", -1.0, "Lower limit of norm of weight. If "
                                                     "lower_bound <= 0, Lower limit is not set"),
                 Param("upper_bound", "float", -1.0, "Upper limit of norm of weight. If "
                                                     "upper_bound <= 0, Upper limit is not set")]
_ADAMW_PARAMS = [_LR] + _BETAS + [
    Param("epsilon", "float", 1e-8, "A small constant for numerical stability."),
    Param("wd", "float", 0.0, "Weight decay augments the objective function with a "
                              "regularization term that penalizes large weights."),
    Param("eta", "float", doc="Learning rate schedule multiplier"),
    Param("clip_gradient", "float", -1.0, "Clip gradient to the range of [-clip_gradient, "
                                          "clip_gradient]; off when negative.")]

for _master in (False, True):
    _prefix = "mp_" if _master else ""
    _register_update(f"{_prefix}sgd_update", "sgd", [], [_LR] + _common_params() + [_LAZY],
                     _SGD_DOC, _master)
    _register_update(f"{_prefix}sgd_mom_update", "sgd_mom", ["mom"],
                     [_LR, _MOMENTUM] + _common_params() + [_LAZY], _SGD_MOM_DOC, _master)
    _register_update(f"{_prefix}nag_mom_update", "nag_mom", ["mom"],
                     [_LR, _MOMENTUM] + _common_params(), _NAG_DOC, _master)
    _register_update(f"{_prefix}lamb_update_phase1", "lamb_phase1", ["mean", "var"],
                     _LAMB1_PARAMS, _LAMB1_DOC, _master)
    _register_update(f"{_prefix}lamb_update_phase2", "lamb_phase2", ["r1", "r2"],
                     _LAMB2_PARAMS, _LAMB2_DOC, _master)
    _register_update(f"_{_prefix}adamw_update", "adamw", ["mean", "var", "rescale_grad"],
                     _ADAMW_PARAMS, _ADAMW_DOC, _master,
                     aliases=(f"_contrib_{_prefix}adamw_update",))

_register_update(
    "adam_update", "adam", ["mean", "var"],
    [_LR] + _BETAS + [Param("epsilon", "float", 1e-8, "A small constant for numerical "
                                                      "stability.")]
    + _common_params() + [_LAZY],
    "Update function for Adam optimizer (bias correction folded into lr by the caller):\n"
    "g = clip(rescale_grad * grad + wd * weight); mean = beta1 * mean + (1 - beta1) * g;\n"
    "var = beta2 * var + (1 - beta2) * g^2; weight = weight - lr * mean / (sqrt(var) + epsilon)")

_RMSPROP_COMMON = [Param("epsilon", "float", 1e-8, "A small constant for numerical stability."),
                   *_common_params(),
                   Param("clip_weights", "float", -1.0, "Clip weights to the range of "
                         "[-clip_weights, clip_weights]; off when negative.")]
_GAMMA1 = Param("gamma1", "float", 0.95, "The decay rate of momentum estimates.")
_register_update(
    "rmsprop_update", "rmsprop", ["n"], [_LR, _GAMMA1] + _RMSPROP_COMMON,
    "Update function for RMSProp optimizer (Tieleman & Hinton):\n"
    "g = clip(rescale_grad * grad + wd * weight); n = (1 - gamma1) * g^2 + gamma1 * n;\n"
    "weight = clip(weight - lr * g / sqrt(n + epsilon), clip_weights)")
_register_update(
    "rmspropalex_update", "rmspropalex", ["n", "g", "delta"],
    [_LR, _GAMMA1, Param("gamma2", "float", 0.9, "Decay rate.")] + _RMSPROP_COMMON,
    "Update function for RMSPropAlex optimizer (Graves's centered RMSProp):\n"
    "g' = clip(rescale_grad * grad + wd * weight); n = (1 - gamma1) * g'^2 + gamma1 * n;\n"
    "g = (1 - gamma1) * g' + gamma1 * g;\n"
    "delta = gamma2 * delta - lr * g' / sqrt(n - g^2 + epsilon); weight = clip(weight + delta)")
_register_update(
    "ftrl_update", "ftrl", ["z", "n"],
    [_LR, Param("lamda1", "float", 0.01, "The L1 regularization coefficient."),
     Param("beta", "float", 1.0, "Per-Coordinate Learning Rate beta.")] + _common_params(),
    "Update function for Ftrl optimizer:\n"
    "g = clip(rescale_grad * grad); z += g - (sqrt(n + g^2) - sqrt(n)) * weight / lr; n += g^2;\n"
    "weight = (sign(z) * lamda1 - z) / ((beta + sqrt(n)) / lr + wd) * (|z| > lamda1)")
_register_update(
    "ftml_update", "ftml", ["d", "v", "z"],
    [_LR, Param("beta1", "float", 0.6, "Generally close to 0.5."),
     Param("beta2", "float", 0.999, "Generally close to 1."),
     Param("epsilon", "float", 1e-8, "Epsilon to prevent div 0."),
     Param("t", "int", doc="Number of update."),
     *_common_params(clip_name="clip_grad")],
    "The FTML optimizer (Follow the Moving Leader):\n"
    "g = clip(rescale_grad * grad + wd * weight); v = beta2 * v + (1 - beta2) * g^2;\n"
    "d_t = (1 - beta1^t) / lr * (sqrt(v / (1 - beta2^t)) + epsilon);\n"
    "z = beta1 * z + (1 - beta1) * g - (d_t - beta1 * d) * weight; d = d_t; weight = -z / d_t")
_register_update(
    "signsgd_update", "signsgd", [], [_LR] + _common_params(),
    "Update function for SignSGD optimizer (rescale_grad and clip_gradient do not change the "
    "sign, and are ignored as in MXNet):\nweight = (1 - lr * wd) * weight - lr * sign(grad)")
_register_update(
    "signum_update", "signum", ["mom"],
    [_LR, _MOMENTUM] + _common_params()
    + [Param("wd_lh", "float", 0.0, "The amount of weight decay that does not go into gradient/"
                                    "momentum calculations otherwise do weight decay "
                                    "algorithmically only.")],
    "SIGN momentUM (Signum) optimizer:\n"
    "mom = momentum * mom - (1 - momentum) * (wd * weight + clip(rescale_grad * grad));\n"
    "weight = (1 - lr * wd_lh) * weight + lr * sign(mom)")


# ---------------------------------------------------------------------------------------------
# multi_ forms: num_weights groups (weight_i, grad_i[, mom_i][, weight32_i]) in one node,
# each with its own lrs[i] and wds[i]: parameters, or (preloaded_ forms) two trailing inputs

def _multi_inputs(states, master, preloaded):
    def names(params):
        group = ["weight", "grad"] + states + (["weight32"] if master else [])
        return [f"{name}_{i}" for i in range(params["num_weights"]) for name in group] + (
            ["lrs", "wds"] if preloaded else [])
    return names


def _multi_shape(group_size, preloaded):
    def rule(ctx, ins, outs):
        """num_weights groups (weight_i, grad_i[, mom_i][, weight32_i]), each of one shape ->
        weight_i's shape for output i; preloaded forms also take lrs, wds (num_weights,)."""
        count = ctx.params["num_weights"]
        ins, outs = list(ins), list(outs)
        names = ctx.input_names
        if preloaded:
            for k in (-2, -1):
                if ins[k] is not None and tuple(ins[k]) != (count,):
                    raise ctx.error(f"input '{names[k]}' has shape {tuple(ins[k])}, expected "
                                    f"({count},) for num_weights={count}")
                ins[k] = (count,)
        else:
            for key in ("lrs", "wds"):
                if len(ctx.params[key]) != count:
                    raise ctx.error(f"{key} has {len(ctx.params[key])} values, num_weights={count}")
        for i in range(count):
            group = range(i * group_size, (i + 1) * group_size)
            known = next((ins[k] for k in group if ins[k] is not None), outs[i])
            if known is None:
                continue
            for k in group:
                if ins[k] is not None and tuple(ins[k]) != tuple(known):
                    raise ctx.error(f"input '{names[k]}' has shape {tuple(ins[k])}, expected "
                                    f"{tuple(known)} (the shape of weight_{i})")
                ins[k] = tuple(known)
            outs[i] = tuple(known)
        return ins, outs
    return rule


def _multi_kernel(kind, states, master, preloaded):
    group_size = 2 + len(states) + master

    def kernel(b):
        params = {key: _f32(value) if isinstance(value, float) else value
                  for key, value in b.params.items()}
        for i in range(b.params["num_weights"]):
            group = b.inputs[i * group_size:(i + 1) * group_size]
            if not preloaded:
                params.update(lr=_f32(b.params["lrs"][i]), wd=_f32(b.params["wds"][i]))
            kernels("optim").append_update(
                b.plan, kind, b.outputs[i], group[0], group[1], list(group[2:2 + len(states)]),
                params, group[-1] if master else None,
                (b.inputs[-2], b.inputs[-1], i) if preloaded else None, b.label)
    return kernel


def _multi_type(ctx, ins, outs):
    """Every weight, state and output share a dtype; the preloaded lrs and wds keep their own."""
    count = len(ins) - 2 if ctx.op.name.startswith("preloaded_") else len(ins)
    known = next((t for t in list(ins[:count]) + list(outs) if t is not None), None)
    return [known] * count + list(ins[count:]), [known] * len(outs)


def _multi_master_type(group_size, count="num_weights"):
    def rule(ctx, ins, outs):
        """mp_ forms: each group's weight, grad and new weight share a dtype; its states and
        master copy are float32 for a float16 weight, else of the weight's (MXNet's
        MP_InferType, per group); inputs after the groups (preloaded forms' lrs and wds,
        AdamW's rescale_grad) keep their own."""
        ins, outs = list(ins), list(outs)
        for i in range(ctx.params[count]):
            start = i * group_size
            weight = next((t for t in (ins[start], ins[start + 1], outs[i]) if t is not None), None)
            if weight is not None:
                state = np.dtype(np.float32) if np.dtype(weight) == np.float16 else weight
                ins[start:start + group_size] = [weight, weight] + [state] * (group_size - 2)
                outs[i] = weight
        return ins, outs
    return rule


def _register_multi(name, kind, states, master, doc, preloaded=False):
    group_size = 2 + len(states) + master
    params = [] if preloaded else [
        Param("lrs", "floats", doc="Learning rates."),
        Param("wds", "floats", doc="Weight decay augments the objective function with a "
                                   "regularization term that penalizes large weights. The penalty "
                                   "scales with the square of the magnitude of each weight.")]
    if kind == "sgd_mom":
        params.append(_MOMENTUM)
    params += [Param("rescale_grad", "float", 1.0, "Rescale gradient to grad = rescale_grad*grad."),
               Param("clip_gradient", "float", -1.0, "Clip gradient to the range of "
                     "[-clip_gradient, clip_gradient]; off when negative."),
               Param("num_weights", "int", 1, "Number of updated weights.", low=1)]
    register(OpDef(
        name,
        params=params,
        inputs=_multi_inputs(states, master, preloaded),
        outputs=lambda p: [f"output{i}" for i in range(p["num_weights"])],
        infer_shape=_multi_shape(group_size, preloaded),
        infer_type=_multi_master_type(group_size) if master else _multi_type if preloaded else None,
        dtypes={"lrs": ("float32", "float64"), "wds": ("float32", "float64")},
        inplace=lambda p: [(i * group_size, i) for i in range(p["num_weights"])],
        mutates=lambda p: [f"{state}_{i}" for i in range(p["num_weights"])
                           for state in states + (["weight32"] if master else [])],
        gradient=_no_gradient,
        kernel=_multi_kernel(kind, states, master, preloaded),
        doc=doc + "\n\nInputs: weight_0, grad_0, ... for each of the num_weights weights"
                  + (", then lrs and wds (one learning rate and weight decay per weight, read "
                     "when the graph runs)" if preloaded else "")
                  + "; returns the num_weights new weights.",
    ))


for _preloaded in (False, True):
    _prefix = "preloaded_" if _preloaded else ""
    _register_multi(f"{_prefix}multi_sgd_update", "sgd", [], False,
                    "Update function for Stochastic Gradient Descent (SGD) optimizer, on many "
                    "weights: " + _SGD_DOC.split("\n", 1)[1], _preloaded)
    _register_multi(f"{_prefix}multi_sgd_mom_update", "sgd_mom", ["mom"], False,
                    "Momentum update function for SGD, on many weights:\n"
                    + _SGD_MOM_DOC.split("\n", 1)[1], _preloaded)
    _register_multi(f"{_prefix}multi_mp_sgd_update", "sgd", [], True,
                    "Mixed-precision SGD update on many weights (float32 here: see the module "
                    "doc).", _preloaded)
    _register_multi(f"{_prefix}multi_mp_sgd_mom_update", "sgd_mom", ["mom"], True,
                    "Mixed-precision momentum SGD update on many weights (float32 here: see the "
                    "module doc).", _preloaded)


# ---------------------------------------------------------------------------------------------
# _multi_adamw_update, _multi_mp_adamw_update: groups (weight_i, grad_i, mean_i, var_i
# [, weight32_i]) and one trailing rescale_grad

def _multi_adamw_inputs(master):
    def names(params):
        group = ["weight", "grad", "mean", "var"] + (["weight32"] if master else [])
        return [f"{name}_{i}" for i in range(params["num_weights"]) for name in group] + [
            "rescale_grad"]
    return names


def _multi_adamw_shape(group_size):
    sgd_rule = _multi_shape(group_size, False)

    def rule(ctx, ins, outs):
        """num_weights groups (weight_i, grad_i, mean_i, var_i[, weight32_i]), each of one shape ->
        weight_i's shape for output i; rescale_grad (1,)."""
        count = ctx.params["num_weights"]
        if len(ctx.params["etas"]) != count:
            raise ctx.error(f"etas has {len(ctx.params['etas'])} values, num_weights={count}")
        if ins[-1] is not None and tuple(ins[-1]) != (1,):
            raise ctx.error(f"input 'rescale_grad' has shape {tuple(ins[-1])}, expected (1,)")
        group_ins, outs = sgd_rule(ctx, ins[:-1], outs)
        return group_ins + [(1,)], outs
    return rule


def _multi_adamw_kernel(master):
    group_size = 4 + master

    def kernel(b):
        params = {key: _f32(value) if isinstance(value, float) else value
                  for key, value in b.params.items()}
        for i in range(b.params["num_weights"]):
            group = b.inputs[i * group_size:(i + 1) * group_size]
            params.update(lr=_f32(b.params["lrs"][i]), wd=_f32(b.params["wds"][i]),
                          eta=_f32(b.params["etas"][i]))
            kernels("optim").append_update(
                b.plan, "adamw", b.outputs[i], group[0], group[1], [group[2], group[3], b.inputs[-1]],
                params, group[4] if master else None, label=b.label)
    return kernel


for _master in (False, True):
    _group = 4 + _master
    _name = "_multi_mp_adamw_update" if _master else "_multi_adamw_update"
    register(OpDef(
        _name,
        params=[Param("lrs", "floats", doc="Learning rates"),
                *_BETAS,
                Param("epsilon", "float", 1e-8, "A small constant for numerical stability."),
                Param("wds", "floats", doc="Weight decay augments the objective function with a "
                                           "regularization term that penalizes large weights."),
                Param("etas", "floats", doc="Learning rates schedule multiplier"),
                Param("clip_gradient", "float", -1.0, "Clip gradient to the range of "
                      "[-clip_gradient, clip_gradient]; off when negative."),
                Param("num_weights", "int", 1, "Number of updated weights.", low=1)],
        aliases=(f"_contrib{_name}",),
        inputs=_multi_adamw_inputs(_master),
        outputs=lambda p: [f"output{i}" for i in range(p["num_weights"])],
        infer_shape=_multi_adamw_shape(_group),
        infer_type=_multi_master_type(_group) if _master else None,
        inplace=lambda p, group=_group: [(i * group, i) for i in range(p["num_weights"])],
        mutates=lambda p, master=_master: [f"{state}_{i}" for i in range(p["num_weights"])
                                           for state in ["mean", "var"] + (["weight32"] if master else [])],
        gradient=_no_gradient,
        kernel=_multi_adamw_kernel(_master),
        doc="AdamW on many weights at once (see _adamw_update), each with its lrs[i], wds[i] and "
            "etas[i]; one rescale_grad input for all, the whole update skipped when it is not "
            "finite or is 0.\n\nInputs: weight_0, grad_0, mean_0, var_0"
            + (", weight32_0" if _master else "") + ", ... then rescale_grad."
            + (_MASTER_DOC[None] if _master else ""),
    ))


# ---------------------------------------------------------------------------------------------
# multi_sum_sq, multi_lars: the layer-wise rates of MXNet's LARS optimizer (float32)

def _multi_sum_sq_shape(ctx, ins, outs):
    """num_arrays arrays of any shapes -> (num_arrays,)."""
    return ins, [(ctx.params["num_arrays"],)]


register(OpDef(
    "multi_sum_sq",
    params=[Param("num_arrays", "int", doc="number of input arrays.", low=1)],
    variadic="num_arrays",
    infer_shape=_multi_sum_sq_shape,
    infer_type=lambda ctx, ins, outs: (ins, [np.dtype("float32")]),
    kernel=lambda b: kernels("optim").append_multi_sum_sq(b.plan, list(b.inputs), b.outputs[0],
                                                          b.label),
    gradient=_no_gradient,
    doc="Compute the sums of squares of multiple arrays: out[k] = sum(arrays[k] ** 2), "
        "float32, accumulated in float32 as MXNet's.",
))


def _lars_shape(ctx, ins, outs):
    """lrs, weights_sum_sq, grads_sum_sq, wds (L,) -> (L,)."""
    known = next((s for s in list(ins) + list(outs) if s is not None), None)
    if known is None:
        return ins, outs
    if len(known) != 1:
        raise ctx.error(f"the inputs must be 1-D (one value per layer), got {tuple(known)}")
    for name, shape in zip(ctx.input_names, ins):
        if shape is not None and tuple(shape) != tuple(known):
            raise ctx.error(f"input '{name}' has shape {tuple(shape)}, expected {tuple(known)}")
    return [tuple(known)] * 4, [tuple(known)]


register(OpDef(
    "multi_lars",
    params=[Param("eta", "float", doc="LARS eta"),
            Param("eps", "float", doc="LARS eps"),
            Param("rescale_grad", "float", 1.0, "Gradient rescaling factor")],
    inputs=("lrs", "weights_sum_sq", "grads_sum_sq", "wds"),
    infer_shape=_lars_shape,
    kernel=lambda b: kernels("optim").append_multi_lars(
        b.plan, *b.inputs, b.outputs[0], _f32(b.params["eta"]), _f32(b.params["eps"]),
        _f32(b.params["rescale_grad"]), b.label),
    gradient=_no_gradient,
    doc="Compute the LARS coefficients of multiple weights and grads from their sums of squares:"
        "\nout = lrs * eta * ||w|| / (||g|| * rescale_grad + wds * ||w|| + eps), or lrs where "
        "||w|| or ||g|| is 0.  MXNet takes float32 arrays only; float64 ones compute in float64 "
        "here.",
))


# ---------------------------------------------------------------------------------------------
# _multi_lamb_update, _multi_mp_lamb_update: both LAMB phases per tensor in one node

def _multi_lamb_inputs(master):
    def names(params):
        group = ["weight", "grad", "mean", "var"] + (["weight32"] if master else [])
        return [f"{name}_{i}" for i in range(params["num_tensors"]) for name in group]
    return names


def _multi_lamb_shape(group_size):
    def rule(ctx, ins, outs):
        """num_tensors groups (weight_i, grad_i, mean_i, var_i[, weight32_i]), each of one shape ->
        weight_i's shape for output i."""
        count = ctx.params["num_tensors"]
        for key in ("learning_rates", "wds", "step_count"):
            if len(ctx.params[key]) != count:
                raise ctx.error(f"{key} has {len(ctx.params[key])} values, num_tensors={count}")
        ins, outs = list(ins), list(outs)
        for i in range(count):
            group = range(i * group_size, (i + 1) * group_size)
            known = next((ins[k] for k in group if ins[k] is not None), outs[i])
            if known is None:
                continue
            for k in group:
                if ins[k] is not None and tuple(ins[k]) != tuple(known):
                    raise ctx.error(f"input '{ctx.input_names[k]}' has shape {tuple(ins[k])}, "
                                    f"expected {tuple(known)} (the shape of weight_{i})")
                ins[k] = tuple(known)
            outs[i] = tuple(known)
        return ins, outs
    return rule


def _multi_lamb_workspace(params, in_shapes, out_shapes, dtype):
    """One step direction, as large as the largest tensor."""
    return max(prod(shape) for shape in out_shapes) * np.dtype(dtype).itemsize


def _multi_lamb_kernel(master):
    group_size = 4 + master

    def kernel(b):
        params = {key: _f32(value) if isinstance(value, float) else value
                  for key, value in b.params.items()}
        for i in range(b.params["num_tensors"]):
            group = b.inputs[i * group_size:(i + 1) * group_size]
            params.update(lr=_f32(b.params["learning_rates"][i]), wd=_f32(b.params["wds"][i]),
                          t=b.params["step_count"][i])
            kernels("optim").append_lamb(b.plan, b.outputs[i], *group[:4], params, b.workspace,
                                         group[4] if master else None, b.label)
    return kernel


for _master in (False, True):
    _group = 4 + _master
    _name = "_multi_mp_lamb_update" if _master else "_multi_lamb_update"
    register(OpDef(
        _name,
        params=[Param("learning_rates", "floats", doc="List of learning rates"),
                *_BETAS,
                Param("epsilon", "float", 1e-6, "Small value to avoid division by 0."),
                Param("wds", "floats", doc="List of Weight decays.Weight decay augments the "
                                           "objective function with a regularization term that "
                                           "penalizes large weights."),
                Param("rescale_grad", "float", 1.0, "Gradient rescaling factor"),
                Param("lower_bound", "float", -1.0, "Lower limit of norm of weight. If "
                                                    "lower_bound <= 0, Lower limit is not set"),
                Param("upper_bound", "float", -1.0, "Upper limit of norm of weight. If "
                                                    "upper_bound <= 0, Upper limit is not set"),
                Param("clip_gradient", "float", -1.0, "Clip gradient to the range of "
                      "[-clip_gradient, clip_gradient]; off when negative."),
                Param("bias_correction", "bool", True, "Whether to use bias correction."),
                Param("step_count", "shape", doc="Step count for each tensor"),
                Param("num_tensors", "int", 1, "Number of tensors", low=1)],
        inputs=_multi_lamb_inputs(_master),
        outputs=lambda p: [f"output{i}" for i in range(p["num_tensors"])],
        infer_shape=_multi_lamb_shape(_group),
        infer_type=_multi_master_type(_group, "num_tensors") if _master else None,
        workspace=_multi_lamb_workspace,
        mutates=lambda p, master=_master: [f"{state}_{i}" for i in range(p["num_tensors"])
                                           for state in ["mean", "var"] + (["weight32"] if master else [])],
        gradient=_no_gradient,
        kernel=_multi_lamb_kernel(_master),
        doc="LAMB (lamb_update_phase1 then lamb_update_phase2 with r1 = ||weight||, r2 = ||g||, "
            "their sums of squares accumulated in float32 as MXNet's) on many tensors at once, "
            "each with its learning_rates[i], wds[i] and step_count[i].  The step direction is kept "
            "in the weight's dtype (MXNet keeps it in float32).\n\nInputs: weight_0, grad_0, "
            "mean_0, var_0" + (", weight32_0" if _master else "") + ", ..."
            + ("\n\nmp_ form: updates the master copy weight32 in place and returns it as the new "
               "weight (a float16 weight has float32 states)." if _master else ""),
    ))
