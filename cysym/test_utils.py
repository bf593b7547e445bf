"""Checks used by the tests: forward against expected values, backward against expected
gradients, and symbolic gradients against central finite differences (float64)."""
import numpy as np

from . import random as _random
from .base import MXNetError

__all__ = ["check_numeric_gradient", "check_symbolic_forward", "check_symbolic_backward",
           "numeric_grad", "assert_almost_equal", "default_context"]

_FIXED_SEED = 1234   # every forward of a check sees the same random draws (Dropout masks)


def default_context():
    from .context import cpu
    return cpu()


def assert_almost_equal(actual, expected, rtol=1e-5, atol=1e-20, names=("actual", "expected")):
    np.testing.assert_allclose(np.asarray(actual), np.asarray(expected), rtol=rtol, atol=atol,
                               err_msg=f"{names[0]} vs {names[1]}")


def _location_dict(sym, location, dtype):
    names = sym.list_arguments()
    if isinstance(location, dict):
        unknown = [k for k in location if k not in names]
        if unknown:
            raise MXNetError(f"location names {unknown[0]!r}, which is not an argument of {names}")
        return {k: np.array(v, dtype=dtype) for k, v in location.items()}
    if len(location) != len(names):
        raise MXNetError(f"location has {len(location)} arrays for {len(names)} arguments {names}")
    return {k: np.array(v, dtype=dtype) for k, v in zip(names, location)}


def _aux_dict(sym, aux_states, dtype):
    names = sym.list_auxiliary_states()
    if aux_states is None:
        return {}
    if isinstance(aux_states, dict):
        return {k: np.array(v, dtype=dtype) for k, v in aux_states.items()}
    return {k: np.array(v, dtype=dtype) for k, v in zip(names, aux_states)}


def _bind(sym, location, aux_states, grad_req, dtype, grad_names=None):
    args = _location_dict(sym, location, dtype)
    aux = _aux_dict(sym, aux_states, dtype)
    names = sym.list_arguments()
    missing = [n for n in names if n not in args]
    if missing:
        raise MXNetError(f"location has no array for argument {missing[0]!r}")
    grad_names = names if grad_names is None else grad_names
    if isinstance(grad_req, str):
        grad_req = {n: (grad_req if n in grad_names else "null") for n in names}
    grads = {n: np.zeros_like(args[n]) for n in names if grad_req.get(n, "null") != "null"}
    exe = sym.bind(default_context(), args=args, args_grad=grads, grad_req=grad_req,
                   aux_states=aux if aux else None)
    return exe


def check_symbolic_forward(sym, location, expected, rtol=1e-4, atol=1e-20, aux_states=None,
                           ctx=None, is_train=False, dtype=np.float32):
    """Bind at `location`, run forward, compare every output with `expected` (list or dict)."""
    exe = _bind(sym, location, aux_states, "null", dtype)
    _random.seed(_FIXED_SEED)
    outputs = exe.forward(is_train=is_train)
    if isinstance(expected, dict):
        expected = [expected[name] for name in sym.list_outputs()]
    for name, out, exp in zip(sym.list_outputs(), outputs, expected):
        assert_almost_equal(out, exp, rtol, atol, (f"output {name}", "expected"))
    return [np.array(o) for o in outputs]


def check_symbolic_backward(sym, location, out_grads, expected, rtol=1e-5, atol=1e-20,
                            aux_states=None, grad_req="write", ctx=None, dtype=np.float32):
    """Bind, forward (training), backward with out_grads, compare gradients with `expected`."""
    if isinstance(expected, (list, tuple)):
        expected = dict(zip(sym.list_arguments(), expected))
    exe = _bind(sym, location, aux_states, grad_req, dtype, grad_names=list(expected))
    _random.seed(_FIXED_SEED)
    exe.forward(is_train=True)
    exe.backward(out_grads)
    for name, exp in expected.items():
        assert_almost_equal(exe.grad_dict[name], exp, rtol, atol, (f"gradient of {name}", "expected"))
    return {name: np.array(exe.grad_dict[name]) for name in expected}


def numeric_grad(f, x, eps=1e-6):
    """Central differences of the scalar function f at the array x (changed in place, restored)."""
    grad = np.zeros_like(x, dtype=np.float64)
    flat, flat_grad = x.reshape(-1), grad.reshape(-1)
    for i in range(flat.size):
        original = flat[i]
        flat[i] = original + eps
        up = f()
        flat[i] = original - eps
        down = f()
        flat[i] = original
        flat_grad[i] = (up - down) / (2 * eps)
    return grad


def check_numeric_gradient(sym, location, aux_states=None, numeric_eps=1e-6, rtol=1e-5,
                           atol=1e-8, grad_nodes=None, use_forward_train=True, ctx=None,
                           dtype=np.float64, seed=0):
    """Compare the symbolic gradient of sum(outputs * random projections) with central
    finite differences, in float64.  Loss heads (whose gradient is their own) are not
    differentiable this way; check them against their formula instead."""
    names = sym.list_arguments()
    grad_nodes = list(grad_nodes) if grad_nodes is not None else names
    exe = _bind(sym, location, aux_states, "write", dtype, grad_names=grad_nodes)
    aux_initial = {k: np.array(v) for k, v in exe.aux_dict.items()}
    rng = np.random.default_rng(seed)
    _random.seed(_FIXED_SEED)
    outputs = exe.forward(is_train=use_forward_train)
    projections = [rng.standard_normal(o.shape).astype(dtype) for o in outputs]

    def loss():
        for k, v in aux_initial.items():
            exe.aux_dict[k][...] = v
        _random.seed(_FIXED_SEED)
        outs = exe.forward(is_train=use_forward_train)
        return float(sum(np.sum(np.asarray(o, np.float64) * p) for o, p in zip(outs, projections)))

    loss()
    exe.backward(projections)
    symbolic = {n: np.array(exe.grad_dict[n], dtype=np.float64) for n in grad_nodes}
    for name in grad_nodes:
        numeric = numeric_grad(loss, exe.arg_dict[name], numeric_eps)
        assert_almost_equal(symbolic[name], numeric, rtol, atol,
                            (f"symbolic gradient of {name}", "finite differences"))
    return symbolic
