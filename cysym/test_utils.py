"""MXNet's testing helpers (mxnet.test_utils), with its names, signatures and default
tolerances, so that test suites written for MXNet run after `import cysym as mx`.

As in MXNet, tolerances left as None come from the dtype of the arrays compared
(float32: rtol 1e-4, atol 1e-3; float64: rtol 1e-5, atol 1e-20), finite differences step by
`default_numeric_eps()` of the dtype, and the `check_*` functions cast the given location to
`dtype` (float32 unless told).  cysym runs on one CPU: `check_consistency` compares the
dtypes and grad_reqs of its ctx_list entries, all of which must name the CPU.

Differences from MXNet, all supersets: `check_numeric_gradient` also takes symbols with several
outputs (each projected and summed) and returns the symbolic gradients; every forward it runs
sees the same random draws, so Dropout-like ops can be checked; sparse storage does not exist,
so `rand_ndarray` refuses any stype other than 'default'.
"""
import contextlib
import numbers
import os
import sys
import time

import numpy as np
import numpy.testing as npt

from . import random as _random
from .base import MXNetError
from .context import Context, current_context
from .ndarray import array

# `from mxnet.test_utils import *` also brings `array`, `Context` and `current_context`, which
# MXNet's own tests use
__all__ = ["array", "Context", "current_context", "default_context", "set_default_context", "default_dtype", "default_rtols", "default_atols",
           "default_numeric_eps", "effective_dtype", "get_tolerance", "get_tols", "get_atol", "get_rtol",
           "get_etol", "random_arrays", "random_uniform_arrays", "random_sample", "rand_ndarray",
           "rand_shape_2d", "rand_shape_3d", "rand_shape_nd", "rand_coord_2d", "np_reduce", "same",
           "checkShapes", "almost_equal", "locationError", "assert_almost_equal", "assert_allclose",
           "assert_almost_equal_with_err", "assert_almost_equal_ignore_nan", "assert_exception", "retry",
           "simple_forward", "numeric_grad", "check_numeric_gradient", "check_symbolic_forward",
           "check_symbolic_backward", "check_speed", "check_consistency", "list_gpus", "same_array",
           "discard_stderr", "environment", "collapse_sum_like", "compare_ndarray_tuple",
           "compare_optimizer", "same_symbol_structure", "gen_buckets_probs_with_ppf", "mean_check",
           "var_check", "chi_square_check", "verify_generator"]

_FIXED_SEED = 1234   # every forward of a gradient check sees the same random draws (Dropout masks)


# -- contexts, dtypes and tolerances ---------------------------------------------------------------

def default_context():
    """The context tests run in: the current one (cpu(0) unless set)."""
    return current_context()


def set_default_context(ctx):
    """Make `ctx` the current context of this thread, as MXNet's does."""
    Context._state.value = ctx


def default_dtype():
    """The dtype test arrays are made in."""
    return np.float32


def default_rtols():
    """Relative tolerance of a comparison, by dtype."""
    return {np.dtype(np.float16): 1e-2, np.dtype(np.float32): 1e-4, np.dtype(np.float64): 1e-5,
            np.dtype(np.bool_): 0, np.dtype(np.int8): 0, np.dtype(np.uint8): 0, np.dtype(np.int32): 0,
            np.dtype(np.uint32): 0, np.dtype(np.int64): 0, np.dtype(np.uint64): 0}


def default_atols():
    """Absolute tolerance of a comparison, by dtype."""
    return {np.dtype(np.float16): 1e-1, np.dtype(np.float32): 1e-3, np.dtype(np.float64): 1e-20,
            np.dtype(np.bool_): 0, np.dtype(np.int8): 0, np.dtype(np.uint8): 0, np.dtype(np.int32): 0,
            np.dtype(np.uint32): 0, np.dtype(np.int64): 0, np.dtype(np.uint64): 0}


def default_numeric_eps():
    """Finite-difference step by dtype: powers of two, so that x + eps loses no bits of eps."""
    return {np.dtype(np.float16): 1.0 / 2**6, np.dtype(np.float32): 1.0 / 2**9,
            np.dtype(np.float64): 1.0 / 2**14}


def effective_dtype(dat):
    """The dtype whose tolerances apply to `dat`: its own (MXNet lowers float32 to float16 on
    TF32 GPUs, which cysym never runs on)."""
    return np.dtype(dat.dtype)


def get_tolerance(dat, tol, default_tol):
    """`tol` if it is a number; else its entry for dat's dtype, else default_tol's."""
    if isinstance(tol, numbers.Number):
        return tol
    dtype = effective_dtype(dat)
    tol = {} if tol is None else tol
    return tol.get(dtype, default_tol[dtype])


def get_tols(x, y, rtol, atol):
    """(rtol, atol) for comparing x with y: the larger default of their two dtypes when not given."""
    if isinstance(x, numbers.Number):
        x = np.array(x)
    if isinstance(y, numbers.Number):
        y = np.array(y)
    rtol = max(get_tolerance(x, rtol, default_rtols()), get_tolerance(y, rtol, default_rtols()))
    atol = max(get_tolerance(x, atol, default_atols()), get_tolerance(y, atol, default_atols()))
    return rtol, atol


def get_atol(atol=None, dtype=np.dtype(np.float64)):
    """``atol``, or the default absolute tolerance for ``dtype``."""
    return default_atols()[np.dtype(dtype)] if atol is None else atol


def get_rtol(rtol=None, dtype=np.dtype(np.float64)):
    """``rtol``, or the default relative tolerance for ``dtype``."""
    return default_rtols()[np.dtype(dtype)] if rtol is None else rtol


def get_etol(etol=None):
    """Tolerated fraction of mismatching elements (assert_almost_equal_with_err)."""
    return 0 if etol is None else etol


# -- random data -----------------------------------------------------------------------------------

def random_arrays(*shapes):
    """Standard normal NumPy arrays of default_dtype(), one per shape (one array for one shape)."""
    arrays = [np.array(np.random.randn(), dtype=default_dtype()) if len(s) == 0
              else np.random.randn(*s).astype(default_dtype()) for s in shapes]
    return arrays[0] if len(arrays) == 1 else arrays


def random_uniform_arrays(*shapes, **kwargs):
    """Uniform NumPy arrays in [low, high) (default [0, 1)), one per shape, always a list."""
    low = kwargs.pop("low", 0.0)
    high = kwargs.pop("high", 1.0)
    dtype = kwargs.pop("dtype", default_dtype())
    if kwargs:
        raise TypeError(f"Got unexpected argument/s : {list(kwargs)}")
    return [np.random.uniform(low, high, size=s).astype(dtype) for s in shapes]


def random_sample(population, k):
    """k elements of `population` in a random order, without repetition."""
    if not 0 <= k <= len(population):
        raise ValueError(f"random_sample: k={k} is not within 0..{len(population)}")
    population_copy = list(population)
    np.random.shuffle(population_copy)
    return population_copy[0:k]


def rand_ndarray(shape, stype="default", density=None, dtype=None, modifier_func=None,
                 shuffle_csr_indices=False, distribution=None, ctx=None):
    """A standard normal NDArray of `shape` (float32 unless `dtype`)."""
    if stype != "default":
        raise MXNetError(f"rand_ndarray: storage type {stype!r} is not supported; cysym arrays are "
                         f"dense (stype='default') only")
    return array(random_arrays(shape), dtype=dtype, ctx=ctx)


def rand_shape_2d(dim0=10, dim1=10, allow_zero_size=False):
    """A random 2-D shape, each size at most dim0, dim1."""
    low = 0 if allow_zero_size else 1
    return np.random.randint(low, dim0 + 1), np.random.randint(low, dim1 + 1)


def rand_shape_3d(dim0=10, dim1=10, dim2=10, allow_zero_size=False):
    """A random 3-D shape, each size at most dim0, dim1, dim2."""
    low = 0 if allow_zero_size else 1
    return np.random.randint(low, dim0 + 1), np.random.randint(low, dim1 + 1), np.random.randint(low, dim2 + 1)


def rand_shape_nd(num_dim, dim=10, allow_zero_size=False):
    """A random shape of num_dim sizes, each at most dim."""
    low = 0 if allow_zero_size else 1
    return tuple(np.random.randint(low, dim + 1, size=num_dim))


def rand_coord_2d(x_low, x_high, y_low, y_high):
    """A random (x, y) in [x_low, x_high) x [y_low, y_high)."""
    return (np.random.randint(x_low, x_high, dtype=np.int64),
            np.random.randint(y_low, y_high, dtype=np.int64))


def np_reduce(dat, axis, keepdims, numpy_reduce_func):
    """numpy_reduce_func (np.sum, np.max, ...) over `axis` (int, sequence or None), one axis at
    a time; keepdims keeps the reduced axes as size 1."""
    if isinstance(axis, int):
        axis = [axis]
    else:
        axis = list(axis) if axis is not None else range(len(dat.shape))
    ret = dat
    for i in reversed(sorted(axis)):
        ret = numpy_reduce_func(ret, axis=i)
    if keepdims:
        keepdims_shape = list(dat.shape)
        for i in axis:
            keepdims_shape[i] = 1
        ret = ret.reshape(tuple(keepdims_shape))
    return ret


def collapse_sum_like(a, shape):
    """`a` summed over the axes along which `shape` broadcasts to a.shape."""
    assert len(a.shape) >= len(shape)
    if np.prod(shape) == 0 or a.size == 0:
        return np.zeros(shape, dtype=a.dtype)
    axes = []
    leading = len(a.shape) - len(shape)
    for i, dim in enumerate(a.shape):
        if i < leading or shape[i - leading] != dim:
            axes.append(i)
    return np.sum(a, axis=tuple(axes)).reshape(shape)


# -- comparisons -----------------------------------------------------------------------------------

def _as_numpy(value):
    return value.asnumpy() if hasattr(value, "asnumpy") else value


def same(a, b):
    """True when the two arrays have the same shape and values."""
    return np.array_equal(a, b)


def checkShapes(a, b):
    """AssertionError unless a and b have the same shape."""
    if a.shape != b.shape:
        raise AssertionError(npt.build_err_msg([a, b], err_msg=f"a.shape = {a.shape} and "
                                               f"b.shape = {b.shape} are not equal"))


def almost_equal(a, b, rtol=None, atol=None, equal_nan=False, use_broadcast=True):
    """np.allclose with MXNet's float64 default tolerances for those not given."""
    if not use_broadcast:
        checkShapes(a, b)
    return np.allclose(_as_numpy(a), _as_numpy(b), rtol=get_rtol(rtol), atol=get_atol(atol),
                       equal_nan=equal_nan)


def _find_max_violation(a, b, rtol, atol):
    """(index, ratio) of the element that exceeds its tolerance the most (infs equal to themselves)."""
    absdiff = np.where(np.equal(a, b), 0, np.abs(a - b))
    violation = absdiff / (atol + rtol * np.abs(b) + 1e-20)
    loc = np.argmax(violation)
    return tuple(int(i) for i in np.unravel_index(loc, violation.shape)), np.max(violation)


def locationError(a, b, index, names, maxError=False):
    """The message naming where a and b differ (MXNet's helper)."""
    maximum = "maximum " if maxError else ""
    return "Location of %serror: %s, %s=%.8f, %s=%.8f" % (maximum, str(index), names[0], a[index],
                                                         names[1], b[index])


def _mismatch_message(a, b, rtol, atol, names, equal_nan, mismatches):
    """MXNet's report: the worst element, then how many elements (at least) are off."""
    a, b = np.broadcast_arrays(np.asarray(a), np.asarray(b))
    index, ratio = _find_max_violation(a, b, rtol, atol)
    if index == ():
        return "Error %f exceeds tolerance rtol=%e, atol=%e.\n" % (ratio, rtol, atol)
    bad = ~np.isclose(a, b, rtol=rtol, atol=atol, equal_nan=equal_nan)
    count = int(bad.sum())
    shown = list(zip(*np.nonzero(bad)))[:mismatches[0]]
    lines = ["%3d: %s" % (i + 1, locationError(a, b, tuple(int(v) for v in idx), names))
             for i, idx in enumerate(shown)]
    degree = "at least " if 0 < mismatches[1] < count else ""
    return ("Error %f exceeds tolerance rtol=%e, atol=%e (mismatch %s%f%%).\n%s\n%s"
            % (ratio, rtol, atol, degree, 100.0 * count / a.size,
               locationError(a, b, index, names, maxError=True), "\n".join(lines)))


def assert_almost_equal(a, b, rtol=None, atol=None, names=("a", "b"), equal_nan=False,
                        use_broadcast=True, mismatches=(10, 10)):
    """AssertionError unless ``|a - b| <= atol + rtol * |b|`` everywhere; tolerances not given come
    from the dtypes of a and b (the looser of the two)."""
    if not use_broadcast:
        checkShapes(a, b)
    rtol, atol = get_tols(a, b, rtol, atol)
    a, b = _as_numpy(a), _as_numpy(b)
    if getattr(a, "dtype", None) == np.bool_ and getattr(b, "dtype", None) == np.bool_:
        np.testing.assert_equal(a, b)
        return
    if almost_equal(a, b, rtol, atol, equal_nan=equal_nan):
        return
    a, b = np.asarray(a), np.asarray(b)
    message = _mismatch_message(a, b, rtol, atol, names, equal_nan, mismatches)
    with np.printoptions(threshold=4, suppress=True):
        raise AssertionError(npt.build_err_msg([a, b], err_msg=message, names=names))


def assert_allclose(a, b, rtol=1e-07, atol=0, equal_nan=True):
    """``assert_almost_equal`` with NumPy's default tolerances."""
    assert_almost_equal(a, b, rtol=rtol, atol=atol, equal_nan=equal_nan)


def assert_almost_equal_with_err(a, b, rtol=None, atol=None, etol=None, names=("a", "b"),
                                 equal_nan=False, mismatches=(10, 10)):
    """As assert_almost_equal, but passes while at most a fraction `etol` of elements differ."""
    etol = get_etol(etol)
    if etol <= 0:
        assert_almost_equal(a, b, rtol=rtol, atol=atol, names=names, equal_nan=equal_nan)
        return
    rtol, atol = get_tols(a, b, rtol, atol)
    a, b = np.asarray(_as_numpy(a)), np.asarray(_as_numpy(b))
    equals = np.isclose(a, b, rtol=rtol, atol=atol, equal_nan=equal_nan)
    if 1 - np.count_nonzero(equals) / equals.size > etol:
        message = _mismatch_message(a, b, rtol, atol, names, equal_nan, mismatches)
        with np.printoptions(threshold=4, suppress=True):
            raise AssertionError(npt.build_err_msg([a, b], err_msg=message, names=names))


def assert_almost_equal_ignore_nan(a, b, rtol=None, atol=None, names=("a", "b")):
    """assert_almost_equal after zeroing every element that is NaN in a or in b."""
    a = np.copy(_as_numpy(a))
    b = np.copy(_as_numpy(b))
    nan_mask = np.logical_or(np.isnan(a), np.isnan(b))
    a[nan_mask] = 0
    b[nan_mask] = 0
    assert_almost_equal(a, b, rtol, atol, names)


def assert_exception(f, exception_type, *args, **kwargs):
    """AssertionError unless ``f(*args, **kwargs)`` raises exception_type."""
    try:
        f(*args, **kwargs)
    except exception_type:
        return
    raise AssertionError(f"{getattr(f, '__name__', f)} did not raise {exception_type.__name__}")


def retry(n):
    """Decorator: run a stochastic test up to n times until it passes."""
    if n <= 0:
        raise ValueError(f"retry: n must be positive, got {n}")

    def decorate(f):
        def wrapper(*args, **kwargs):
            for i in range(n):
                try:
                    f(*args, **kwargs)
                    return
                except AssertionError:
                    if i == n - 1:
                        raise
        wrapper.__name__ = f.__name__
        return wrapper
    return decorate


def same_array(array1, array2):
    """True when the two arrays share their memory (a change to one shows in the other)."""
    array1[:] += 1
    if not same(_as_numpy(array1), _as_numpy(array2)):
        array1[:] -= 1
        return False
    array1[:] -= 1
    return same(_as_numpy(array1), _as_numpy(array2))


# -- symbols -------------------------------------------------------------------------------------

def _check_dtype(dtype, allow_asnumpy=True):
    if not ((allow_asnumpy and isinstance(dtype, str) and dtype == "asnumpy")
            or np.dtype(dtype) in (np.float16, np.float32, np.float64)):
        allowed = '"asnumpy", np.float16' if allow_asnumpy else "np.float16"
        raise ValueError(f"dtype must be {allowed}, np.float32 or np.float64, got {dtype!r}")


def _to_nd(value, dtype):
    if not isinstance(value, np.ndarray):
        return value
    return array(value, dtype=value.dtype if isinstance(dtype, str) and dtype == "asnumpy" else dtype)


def _parse_location(sym, location, ctx, dtype=default_dtype()):
    """{argument name: NDArray of dtype} from a list (in list_arguments order) or a dict."""
    if not isinstance(location, (dict, list, tuple)):
        raise TypeError(f"location must be a list, tuple or dict, not {type(location).__name__}")
    _check_dtype(dtype)
    if isinstance(location, dict):
        if set(location.keys()) != set(sym.list_arguments()):
            raise ValueError("Symbol arguments and keys of the given location do not match."
                             f"symbol args:{set(sym.list_arguments())}, location.keys():{set(location)}")
    else:
        location = dict(zip(sym.list_arguments(), location))
    return {k: _to_nd(v, dtype) for k, v in sorted(location.items())}


def _parse_aux_states(sym, aux_states, ctx, dtype=default_dtype()):
    """{auxiliary state name: NDArray of dtype}, or None when none are given."""
    _check_dtype(dtype)
    if aux_states is None:
        return None
    if isinstance(aux_states, dict):
        if set(aux_states.keys()) != set(sym.list_auxiliary_states()):
            raise ValueError("Symbol aux_states names and given aux_states do not match."
                             f"symbol aux_names:{set(sym.list_auxiliary_states())}, "
                             f"aux_states.keys:{set(aux_states)}")
    else:
        aux_states = dict(zip(sym.list_auxiliary_states(), aux_states))
    return {k: _to_nd(np.asarray(v), dtype) for k, v in aux_states.items()}


def simple_forward(sym, ctx=None, is_train=False, **inputs):
    """The outputs of `sym` at the given NumPy inputs, as NumPy arrays (one array for one output)."""
    ctx = ctx or default_context()
    exe = sym.bind(ctx, args={k: array(v) for k, v in inputs.items()})
    exe.forward(is_train=is_train)
    outputs = [x.asnumpy() for x in exe.outputs]
    return outputs[0] if len(outputs) == 1 else outputs


def numeric_grad(executor, location, aux_states=None, eps=1e-4, use_forward_train=True,
                 dtype=default_dtype()):
    """Central differences of the executor's summed outputs with respect to each floating
    point array of `location` ({name: NumPy array}, restored afterwards): for every element,
    (sum(f(x + eps/2)) - sum(f(x - eps/2))) / eps.  aux_states ({name: array}) are written back
    before every forward, and every forward sees the same random draws."""
    _check_dtype(dtype, allow_asnumpy=False)
    approx_grads = {k: np.zeros(np.shape(v), dtype=dtype) for k, v in location.items()}
    for k, v in location.items():
        executor.arg_dict[k][...] = np.asarray(v, dtype=dtype)
    for k in location:
        location[k] = np.array(location[k], order="C")

    def total():
        if aux_states is not None:
            for key, value in aux_states.items():
                executor.aux_dict[key][...] = value
        _random.seed(_FIXED_SEED)
        outputs = executor.forward(is_train=use_forward_train)
        return sum(float(np.sum(out, dtype=np.float64)) for out in outputs)

    for k, v in location.items():
        if v.dtype.kind != "f":
            continue
        target, flat = executor.arg_dict[k], v.reshape(-1)
        old_value = v.copy()
        for i in range(flat.size):
            flat[i] += eps / 2.0
            target[...] = v.astype(dtype)
            up = total()
            flat[i] -= eps
            target[...] = v.astype(dtype)
            down = total()
            approx_grads[k].reshape(-1)[i] = (up - down) / eps
            flat[i] = old_value.reshape(-1)[i]
        target[...] = old_value.astype(dtype)
    return approx_grads


def _projected_losses(sym, location, projections):
    """make_loss(output * projection) for every floating-point output of sym, grouped: its
    gradient is the projections back-propagated, its summed value their dot with the outputs."""
    from . import symbol as _sym
    _, out_types, _ = sym.infer_type(**{k: v.dtype for k, v in location.items()})
    outputs = list(sym)
    if out_types is not None:
        outputs = [o for o, t in zip(outputs, out_types) if np.dtype(t).kind == "f"]
    if not outputs:
        raise MXNetError(f"check_numeric_gradient: no output of {sym.list_outputs()} is floating point")
    if len(outputs) == 1 and len(sym.list_outputs()) == 1:
        names = ["__random_proj"]
    else:
        names = [f"__random_proj{i}" for i in range(len(outputs))]
    losses = [_sym.make_loss(o * _sym.Variable(n)) for o, n in zip(outputs, names)]
    index = {name: i for i, name in enumerate(sym.list_outputs())}
    projections.update({n: index[o.list_outputs()[0]] for o, n in zip(outputs, names)})
    return losses[0] if len(losses) == 1 else _sym.Group(losses)


def check_numeric_gradient(sym, location, aux_states=None, numeric_eps=None, rtol=None,
                           atol=None, grad_nodes=None, use_forward_train=True, ctx=None,
                           grad_stype_dict=None, dtype=default_dtype()):
    """Check the backward pass of `sym` against finite differences.

    The symbolic gradient of sum(output * P) for a random projection P (uniform in [0.1, 1.1))
    is compared with central differences of the same sum, at `location` cast to `dtype`.
    grad_nodes: the arguments to check (default: all), a list or a {name: grad_req} dict;
    'add' is checked against random initial gradients, 'null' for untouched ones.
    Loss heads (whose gradient is their own) cannot be checked this way.
    Returns {name: symbolic gradient} of the checked arguments.
    """
    _check_dtype(dtype, allow_asnumpy=False)
    if ctx is None:
        ctx = default_context()
    location = _parse_location(sym=sym, location=location, ctx=ctx, dtype=dtype)
    location_npy = {k: v.asnumpy() for k, v in location.items()}
    aux_states = _parse_aux_states(sym=sym, aux_states=aux_states, ctx=ctx, dtype=dtype)
    aux_states_npy = None if aux_states is None else {k: v.asnumpy() for k, v in aux_states.items()}
    if grad_nodes is None:
        grad_nodes = sym.list_arguments()
        grad_req = {k: "write" for k in grad_nodes}
    elif isinstance(grad_nodes, (list, tuple)):
        grad_nodes = list(grad_nodes)
        grad_req = {k: "write" for k in grad_nodes}
    elif isinstance(grad_nodes, dict):
        grad_req = grad_nodes.copy()
        grad_nodes = list(grad_nodes.keys())
    else:
        raise ValueError(f"grad_nodes must be a list, tuple or dict, not {type(grad_nodes).__name__}")

    _, out_shapes, _ = sym.infer_shape(**{k: v.shape for k, v in location.items()})
    projection_of = {}
    out = _projected_losses(sym, location, projection_of)
    location = dict(location)
    for name, index in projection_of.items():
        location[name] = array(np.random.rand(*out_shapes[index]) + 0.1, dtype=dtype)
    args_grad_npy = {k: np.random.normal(0, 0.01, size=location[k].shape) for k in grad_nodes}
    args_grad = {k: array(v, dtype=dtype) for k, v in args_grad_npy.items()}
    executor = out.bind(ctx, grad_req=grad_req, args=location, args_grad=args_grad,
                        aux_states=aux_states)
    if aux_states_npy is None:   # the state forward starts from, restored before every forward
        aux_states_npy = {k: np.array(v) for k, v in executor.aux_dict.items()} or None
    _random.seed(_FIXED_SEED)
    executor.forward(is_train=True)
    eps = get_tolerance(executor.outputs[0], numeric_eps, default_numeric_eps())
    if np.dtype(dtype) in (np.float32, np.float16) and eps < 1e-5:
        raise ValueError(f"numeric_eps={eps} is too small for finite differences in {np.dtype(dtype).name}")
    executor.backward()
    symbolic_grads = {k: np.array(executor.grad_dict[k]) for k in grad_nodes}
    # only the checked arguments are perturbed: index inputs, cast to floats, must stay whole
    numeric_gradients = numeric_grad(executor, {k: location_npy[k] for k in grad_nodes},
                                     aux_states_npy, eps=eps, use_forward_train=use_forward_train,
                                     dtype=dtype)
    for name in grad_nodes:
        fd_grad, orig_grad, sym_grad = numeric_gradients[name], args_grad_npy[name], symbolic_grads[name]
        names = (f"NUMERICAL_{name}", f"BACKWARD_{name}")
        if grad_req[name] == "write":
            assert_almost_equal(fd_grad, sym_grad, rtol, atol, names)
        elif grad_req[name] == "add":
            assert_almost_equal(fd_grad, sym_grad - orig_grad, rtol, atol, names)
        elif grad_req[name] == "null":
            assert_almost_equal(orig_grad.astype(dtype), sym_grad, rtol, atol, names)
        else:
            raise ValueError(f"Invalid grad_req {grad_req[name]} for argument {name}")
    return symbolic_grads


def check_symbolic_forward(sym, location, expected, rtol=None, atol=None, aux_states=None,
                           ctx=None, equal_nan=False, dtype=default_dtype()):
    """Bind `sym` at `location` (cast to dtype), run forward (not training) and compare every
    output with `expected` (a list, or a dict by output name).  Returns the outputs."""
    _check_dtype(dtype)
    if ctx is None:
        ctx = default_context()
    location = _parse_location(sym=sym, location=location, ctx=ctx, dtype=dtype)
    aux_states = _parse_aux_states(sym=sym, aux_states=aux_states, ctx=ctx, dtype=dtype)
    if isinstance(expected, dict):
        expected = [expected[k] for k in sym.list_outputs()]
    executor = sym.bind(ctx=ctx, args=location, aux_states=aux_states)
    executor.forward(is_train=False)
    for output_name, expect, output in zip(sym.list_outputs(), expected, executor.outputs):
        assert_almost_equal(expect, output, rtol, atol,
                            (f"EXPECTED_{output_name}", f"FORWARD_{output_name}"), equal_nan=equal_nan)
    return executor.outputs


def check_symbolic_backward(sym, location, out_grads, expected, rtol=None, atol=None,
                            aux_states=None, grad_req="write", ctx=None, grad_stypes=None,
                            equal_nan=False, dtype=default_dtype()):
    """Bind `sym` at `location`, run forward (training) and backward with out_grads (a list or a
    dict by output name; None for loss heads), and compare the gradients with `expected` (a
    list in list_arguments order or a dict by name).  'add' gradients start from random
    values, which are subtracted; 'null' ones must stay untouched.  Returns the gradients."""
    _check_dtype(dtype)
    if ctx is None:
        ctx = default_context()
    if grad_stypes and any(s not in (None, "default") for s in grad_stypes.values()):
        raise MXNetError("check_symbolic_backward: cysym gradients are dense (stype 'default') only")
    location = _parse_location(sym=sym, location=location, ctx=ctx, dtype=dtype)
    aux_states = _parse_aux_states(sym=sym, aux_states=aux_states, ctx=ctx, dtype=dtype)
    if isinstance(expected, (list, tuple)):
        expected = dict(zip(sym.list_arguments(), expected))
    # dirty the gradient buffers deterministically, for reproducibility
    args_grad_npy = {k: np.random.normal(size=np.shape(v)) for k, v in sorted(expected.items())}
    args_grad_data = {k: array(v, dtype=np.asarray(expected[k]).dtype
                               if isinstance(dtype, str) and dtype == "asnumpy" else dtype)
                      for k, v in args_grad_npy.items()}
    if isinstance(grad_req, str):
        grad_req = {k: grad_req for k in sym.list_arguments()}
    elif isinstance(grad_req, (list, tuple)):
        grad_req = dict(zip(sym.list_arguments(), grad_req))
    executor = sym.bind(ctx=ctx, args=location, args_grad=args_grad_data, aux_states=aux_states,
                        grad_req=grad_req)
    executor.forward(is_train=True)
    if isinstance(out_grads, dict):
        out_grads = [out_grads[k] for k in sym.list_outputs()]
    if out_grads is not None:
        out_grads = [_to_nd(g, dtype) for g in out_grads]
    executor.backward(out_grads)
    for name in expected:
        names = (f"EXPECTED_{name}", f"BACKWARD_{name}")
        grad = args_grad_data[name]
        if grad_req[name] == "write":
            assert_almost_equal(expected[name], grad, rtol, atol, names, equal_nan=equal_nan)
        elif grad_req[name] == "add":
            assert_almost_equal(expected[name], grad.asnumpy() - args_grad_npy[name], rtol, atol,
                                names, equal_nan=equal_nan)
        elif grad_req[name] == "null":
            assert_almost_equal(args_grad_npy[name], grad, rtol, atol, names, equal_nan=equal_nan)
        else:
            raise ValueError(f"Invalid grad_req {grad_req[name]} for argument {name}")
    return args_grad_data


def check_speed(sym, location=None, ctx=None, N=20, grad_req=None, typ="whole", **kwargs):
    """Seconds per run of forward + backward (typ 'whole') or forward only (typ 'forward'),
    averaged over N runs after one warm-up; shapes come from `location` or from kwargs."""
    if ctx is None:
        ctx = default_context()
    if grad_req is None:
        grad_req = "write"
    if location is None:
        exe = sym.simple_bind(grad_req=grad_req, ctx=ctx, **kwargs)
        location = {k: np.random.normal(size=arr.shape, scale=1.0) for k, arr in exe.arg_dict.items()}
    else:
        if not isinstance(location, dict):
            raise TypeError(f'Expect dict, get "location"={location}')
        exe = sym.simple_bind(grad_req=grad_req, ctx=ctx, **{k: v.shape for k, v in location.items()})
    for name, iarr in location.items():
        exe.arg_dict[name][...] = iarr.astype(exe.arg_dict[name].dtype)
    if typ == "whole":
        exe.forward(is_train=True)
        exe.backward(out_grads=exe.outputs)
        tic = time.time()
        for _ in range(N):
            exe.forward(is_train=True)
            exe.backward(out_grads=exe.outputs)
        return (time.time() - tic) / N
    if typ == "forward":
        exe.forward(is_train=False)
        tic = time.time()
        for _ in range(N):
            exe.forward(is_train=False)
        return (time.time() - tic) / N
    raise ValueError('typ can only be "whole" or "forward".')


def check_consistency(sym, ctx_list, scale=1.0, grad_req="write", arg_params=None, aux_params=None,
                      rtol=None, atol=None, raise_on_err=True, ground_truth=None, equal_nan=False,
                      use_uniform=False, rand_type=np.float64):
    """Run `sym` (or one symbol per entry) once per ctx_list entry ({'ctx': ..., input shapes
    by name, 'type_dict': {...}}) on the same random inputs, forward and backward, and compare
    outputs and gradients with those of the most precise entry (or `ground_truth`).
    Returns the ground truth {name: array}."""
    from .symbol import Symbol
    if len(ctx_list) <= 1:
        raise ValueError("check_consistency needs at least two ctx_list entries")
    if isinstance(sym, Symbol):
        sym = [sym] * len(ctx_list)
    elif len(sym) != len(ctx_list):
        raise ValueError(f"{len(sym)} symbols for {len(ctx_list)} ctx_list entries")
    output_names = sym[0].list_outputs()
    arg_names = sym[0].list_arguments()
    exe_list = []
    for s, ctx in zip(sym, ctx_list):
        if s.list_arguments() != arg_names or s.list_outputs() != output_names:
            raise ValueError("check_consistency: the symbols differ in their arguments or outputs")
        exe_list.append(s.simple_bind(grad_req=grad_req, **ctx))
    arg_params = {} if arg_params is None else arg_params
    aux_params = {} if aux_params is None else aux_params

    def smaller_dtype(dt1, dt2):
        """the less precise of two dtypes"""
        return dt1 if dt2 is None or np.dtype(dt1).itemsize < np.dtype(dt2).itemsize else dt2

    for n, arr in sorted(exe_list[0].arg_dict.items()):
        if n not in arg_params:
            if use_uniform:
                arg_params[n] = np.random.uniform(low=-0.92 * scale, high=0.92 * scale,
                                                  size=arr.shape).astype(rand_type)
            else:
                arg_params[n] = np.random.normal(size=arr.shape, scale=scale).astype(rand_type)
    for n in exe_list[0].aux_dict:
        aux_params.setdefault(n, 0)
    for exe in exe_list:
        for name, arr in exe.arg_dict.items():
            arr[...] = arg_params[name]
        for name, arr in exe.aux_dict.items():
            arr[...] = aux_params[name]
        if grad_req == "add":
            for arr in exe.grad_arrays:
                if arr is not None:
                    arr[...] = 0
    dtypes = [np.dtype(exe.outputs[0].dtype) for exe in exe_list]
    gt_idx = int(np.argmax([d.itemsize for d in dtypes]))
    gt = ground_truth
    if gt is None:
        gt = exe_list[gt_idx].output_dict.copy()
        if grad_req != "null":
            gt.update(exe_list[gt_idx].grad_dict)

    def compare(arr, gtarr, rt, at, what):
        try:
            assert_almost_equal(arr, gtarr, rtol=rt, atol=at, equal_nan=equal_nan)
        except AssertionError as err:
            if raise_on_err:
                raise
            print(f"{what}: {err}")

    for exe in exe_list:
        exe.forward(is_train=False)
    for i, exe in enumerate(exe_list):
        if i != gt_idx:
            for name, arr in zip(output_names, exe.outputs):
                compare(arr, gt[name], rtol, atol, f"Predict Err: ctx {i} vs ctx {gt_idx} at {name}")
    if grad_req != "null":
        for exe in exe_list:
            exe.forward(is_train=True)
        # the first executor's outputs, cast to the least precise dtype, are every one's head gradients
        least_precise = [out.dtype for out in exe_list[0].outputs]
        for exe in exe_list:
            least_precise = [smaller_dtype(out.dtype, dt) for out, dt in zip(exe.outputs, least_precise)]
        golden = [np.asarray(out).astype(dt) for out, dt in zip(exe_list[0].outputs, least_precise)]
        for exe in exe_list:
            exe.backward([g.astype(out.dtype) for g, out in zip(golden, exe.outputs)])
        for i, exe in enumerate(exe_list):
            if i == gt_idx:
                continue
            for name, arr in zip(output_names + arg_names, exe.outputs + exe.grad_arrays):
                if gt[name] is None:
                    if arr is not None:
                        raise AssertionError(f"{name}: ground truth has no gradient, ctx {i} has one")
                    continue
                rt, at = rtol, atol
                smaller_arr = smaller_dtype(arr.dtype, dtypes[i])
                smaller_gt = smaller_dtype(gt[name].dtype, dtypes[gt_idx])
                if smaller_arr != arr.dtype or smaller_gt != gt[name].dtype:
                    rt, at = get_tols(arr.astype(smaller_arr), gt[name].astype(smaller_gt), rtol, atol)
                compare(arr, gt[name], rt, at, f"Train Err: ctx {i} vs ctx {gt_idx} at {name}")
    return gt


def compare_ndarray_tuple(t1, t2, rtol=None, atol=None):
    """assert_almost_equal over two (nested) tuples of arrays; None on either side passes."""
    if t1 is None or t2 is None:
        return
    if isinstance(t1, tuple):
        for s1, s2 in zip(t1, t2):
            compare_ndarray_tuple(s1, s2, rtol, atol)
    else:
        assert_almost_equal(t1, t2, rtol=rtol, atol=atol)


def compare_optimizer(opt1, opt2, shape, dtype, w_stype="default", g_stype="default",
                      rtol=1e-4, atol=1e-5, compare_states=True, ntensors=1):
    """One update of the same uniform weights and gradients by opt1 and opt2: states and
    weights must agree.  A list of shapes updates ntensors weights (one at a time)."""
    if w_stype != "default" or g_stype != "default":
        raise MXNetError("compare_optimizer: cysym arrays are dense (stype 'default') only")
    from . import random as cysym_random
    shapes = shape if isinstance(shape, list) else [shape]
    if not isinstance(shape, list) and ntensors != 1:
        raise ValueError("compare_optimizer: ntensors > 1 needs a list of shapes")
    for index, one_shape in enumerate(shapes[:ntensors]):
        # drawn in float32 (the samplers' widest common dtype), then cast: float16 weights too
        w2 = cysym_random.uniform(shape=one_shape, dtype="float32").astype(dtype)
        g2 = cysym_random.uniform(shape=one_shape, dtype="float32").astype(dtype)
        w1, g1 = w2.copy(), g2.copy()
        state1 = opt1.create_state_multi_precision(index, w1)
        state2 = opt2.create_state_multi_precision(index, w2)
        if compare_states:
            compare_ndarray_tuple(state1, state2)
        opt1.update_multi_precision(index, w1, g1, state1)
        opt2.update_multi_precision(index, w2, g2, state2)
        if compare_states:
            compare_ndarray_tuple(state1, state2, rtol=rtol, atol=atol)
        assert_almost_equal(w1, w2, rtol=rtol, atol=atol)


def same_symbol_structure(sym1, sym2):
    """True when the two graphs have the same operator at every node position."""
    import json
    nodes1 = json.loads(sym1.tojson())["nodes"]
    nodes2 = json.loads(sym2.tojson())["nodes"]
    return all(n1["op"] == n2["op"] for n1, n2 in zip(nodes1, nodes2))


# -- checks of random generators (MXNet's tests of the sampling operators use them) -----------------

def gen_buckets_probs_with_ppf(ppf, nbuckets):
    """nbuckets equiprobable buckets [(ppf(i/n), ppf((i+1)/n))] of a distribution given by its
    quantile function, and their probabilities."""
    if nbuckets <= 0:
        raise ValueError(f"nbuckets must be positive, got {nbuckets}")
    probs = [1.0 / nbuckets for _ in range(nbuckets)]
    buckets = [(ppf(i / float(nbuckets)), ppf((i + 1) / float(nbuckets))) for i in range(nbuckets)]
    return buckets, probs


def mean_check(generator, mu, sigma, nsamples=1000000):
    """True when the mean of generator(nsamples) is within 3 sigma / sqrt(n) of mu."""
    sample_mean = np.array(generator(nsamples)).mean()
    return bool(mu - 3 * sigma / np.sqrt(nsamples) < sample_mean < mu + 3 * sigma / np.sqrt(nsamples))


def var_check(generator, sigma, nsamples=1000000):
    """True when the variance of generator(nsamples) is within 3 standard errors of sigma^2."""
    sample_var = np.array(generator(nsamples)).var(ddof=1)
    bound = 3 * np.sqrt(2 * sigma ** 4 / (nsamples - 1))
    return bool(sigma ** 2 - bound < sample_var < sigma ** 2 + bound)


def chi_square_check(generator, buckets, probs, nsamples=1000000):
    """(p-value, observed counts, expected counts) of Pearson's chi-square test of
    generator(nsamples) against buckets: (low, high) intervals of a continuous distribution,
    or the values of a discrete one."""
    from scipy import stats
    if not isinstance(buckets, list) or len(probs) != len(buckets):
        raise ValueError("chi_square_check: buckets must be a list with one probability each")
    samples = np.asarray(generator(nsamples)).reshape(-1)
    if isinstance(buckets[0], (list, tuple)):
        edges = np.array([edge for bucket in buckets for edge in bucket], dtype=np.float64)
        if np.any(np.diff(edges) < 0):
            raise ValueError("chi_square_check: buckets must be ordered and disjoint")
        ids = np.searchsorted(edges, samples, side="right")
        # a sample in [low_i, high_i) lands at 2 i + 1; between buckets it counts for none
        obs_freq = np.array([(ids == 2 * i + 1).sum() for i in range(len(buckets))])
    else:
        obs_freq = np.array([(samples == value).sum() for value in buckets])
    expected_freq = (nsamples * np.array(probs, dtype=np.float32)).astype(np.int32)
    # scipy insists that both sum to the same total; scale the expectation to what was observed
    scaled = expected_freq / expected_freq.sum() * obs_freq.sum()
    _, p = stats.chisquare(f_obs=obs_freq, f_exp=scaled)
    return p, obs_freq, expected_freq


def verify_generator(generator, buckets, probs, nsamples=1000000, nrepeat=5, success_rate=0.2,
                     alpha=0.05):
    """chi_square_check nrepeat times; AssertionError unless a fraction success_rate of the
    p-values exceed alpha.  Returns the p-values."""
    results = [chi_square_check(generator, buckets, probs, nsamples) for _ in range(nrepeat)]
    p_values = [p for p, _, _ in results]
    if (np.array(p_values) > alpha).sum() < nrepeat * success_rate:
        raise AssertionError(f"Generator test fails, Chi-square p={p_values}, obs_freq="
                             f"{[o for _, o, _ in results]}, expected_freq={[e for _, _, e in results]}."
                             f"\nbuckets={buckets}, probs={probs}")
    return p_values


def list_gpus():
    """The GPUs cysym can use: none."""
    return []


# -- process environment ---------------------------------------------------------------------------

@contextlib.contextmanager
def discard_stderr():
    """Send what the block writes to file descriptor 2 (C code included) to /dev/null."""
    with open(os.devnull, "w") as bit_bucket:
        # descriptor 2 itself, which C code writes to even when sys.stderr is replaced
        stderr_fileno = 2
        sys.stderr.flush()
        old_stderr = os.dup(stderr_fileno)
        try:
            os.dup2(bit_bucket.fileno(), stderr_fileno)
            yield
        finally:
            os.dup2(old_stderr, stderr_fileno)
            os.close(old_stderr)


@contextlib.contextmanager
def environment(*args):
    """Set environment variables for the block and restore them after, even on error:
    `environment(name, value)` or `environment({name: value, ...})`; a value None unsets."""
    if len(args) == 1 and isinstance(args[0], dict):
        env_vars = args[0]
    elif len(args) == 2:
        env_vars = {args[0]: args[1]}
    else:
        raise TypeError("environment: expecting one dict arg or two args: env var name and value")

    def set_environ(values):
        for name, value in values.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value

    snapshot = {name: os.environ.get(name) for name in env_vars}
    set_environ(env_vars)
    try:
        yield
    finally:
        set_environ(snapshot)
