"""What the registry-driven operator tests are made of: value generators, the Case record
and the builders of common cases.  test_ops.py holds the table of cases; a module
`tests/opcases_<family>.py` that defines CASE_LIST adds its rows to that table."""
import numpy as np

import cysym as mx
from cysym.registry import get_op

OP_NAME = "testop"

# ---------------------------------------------------------------------------------------------
# value generators: (rng, shape) -> float64 array

def signed(rng, shape, low=0.2, high=1.5):
    """Uniform magnitude in [low, high] with a random sign: never near 0 (relu, abs, sign kinks)."""
    return rng.uniform(low, high, shape) * rng.choice([-1.0, 1.0], shape)


def positive(rng, shape, low=0.5, high=2.0):
    return rng.uniform(low, high, shape)


def distinct(rng, shape, step=0.1):
    """Distinct values at least `step` apart (max/min/max-pool have no ties), shuffled."""
    n = int(np.prod(shape))
    values = (np.arange(n) - n / 2.0) * step + 0.01
    return rng.permutation(values).reshape(shape)


def integers(high):
    def gen(rng, shape):
        return rng.integers(0, high, shape).astype(np.float64)
    return gen


def small_ints(rng, shape):
    """Values in {0, 1, 2}: comparisons see ties."""
    return rng.integers(0, 3, shape).astype(np.float64)


def offset_ints(rng, shape):
    return rng.integers(0, 3, shape).astype(np.float64) + 0.5


# ---------------------------------------------------------------------------------------------
# the table rows

class Case:
    """One way of calling one operator.

    inputs    ordered {input name: (shape, generator)}; variadic inputs are arg0, arg1, ...
    params    keyword parameters of the symbol call
    ref       NumPy reference: ref(**inputs_as_float64, **params) -> array or list of arrays
    aux       {aux name: (shape, generator)} (BatchNorm's moving statistics)
    is_train  forward mode of the forward checks
    grad      inputs whose gradient is checked against finite differences (default: all
              inputs the op does not declare as no_grad); () for loss heads, whose gradient
              is their own and is tested in test_gradients.py
    zero_grad True: the derivative is zero almost everywhere; check the symbolic gradient is 0
    bad       list of (kind, value): ('params', {overrides}) must fail at symbol creation or
              shape inference; ('shapes', {input: shape}) must fail shape inference
    grad_tol  (rtol, atol) of the finite-difference comparison
    tol_scale forward tolerances (rtol and atol) times this: long sums round more in float32
    """

    def __init__(self, op, inputs, params=None, ref=None, aux=None, is_train=False, grad=None,
                 zero_grad=False, bad=(), grad_tol=(1e-5, 1e-8), id=None, dtype_params=None,
                 tol_scale=1.0):
        self.op, self.inputs, self.params = op, dict(inputs), dict(params or {})
        self.ref, self.aux, self.is_train = ref, dict(aux or {}), is_train
        self.grad, self.zero_grad, self.bad, self.grad_tol = grad, zero_grad, list(bad), grad_tol
        self.id = id or op
        self.tol_scale = tol_scale
        self.dtype_params = dtype_params or (lambda dtype: {})

    def build(self, variables, dtype=np.float64, **overrides):
        params = dict(self.params, **self.dtype_params(dtype), **overrides)
        fn = getattr(mx.sym, self.op)
        if get_op(self.op).variadic:
            return fn(*variables.values(), name=OP_NAME, **params)
        return fn(name=OP_NAME, **variables, **params)

    def values(self, seed=0):
        rng = np.random.default_rng(seed)
        vals = {n: gen(rng, shape) for n, (shape, gen) in self.inputs.items()}
        aux = {n: gen(rng, shape) for n, (shape, gen) in self.aux.items()}
        return vals, aux

    def expected(self, vals, aux):
        out = self.ref(**vals, **aux, **self.params)
        return out if isinstance(out, list) else [out]

    def grad_inputs(self):
        if self.grad is not None:
            return list(self.grad)
        return [n for n in self.inputs if n not in get_op(self.op).no_grad]


def unary(op, ref, gen=signed, **kw):
    return Case(op, {"data": ((2, 3, 5), gen)}, ref=lambda data: ref(data), **kw)


BAD_SHAPE_BINARY = [("shapes", {"lhs": (2, 3, 5), "rhs": (2, 5, 3)})]
BAD_SHAPE_BROADCAST = [("shapes", {"lhs": (2, 3, 5), "rhs": (2, 4, 5)})]


def binary(op, ref, gen_l=signed, gen_r=signed, **kw):
    return Case(op, {"lhs": ((2, 3, 5), gen_l), "rhs": ((2, 3, 5), gen_r)},
                ref=lambda lhs, rhs: ref(lhs, rhs), bad=BAD_SHAPE_BINARY, **kw)


def broadcast(op, ref, gen_l=signed, gen_r=signed, rhs_shape=(2, 1, 5), lhs_shape=(2, 3, 5),
              **kw):
    shape_id = "x".join(map(str, lhs_shape)) + "-" + "x".join(map(str, rhs_shape))
    return Case(op, {"lhs": (lhs_shape, gen_l), "rhs": (rhs_shape, gen_r)},
                ref=lambda lhs, rhs: ref(lhs, rhs), bad=BAD_SHAPE_BROADCAST,
                id=f"{op}-{shape_id}", **kw)


def scalar(op, ref, scalar_value=1.5, gen=signed, **kw):
    return Case(op, {"data": ((2, 3, 5), gen)}, params={"scalar": scalar_value},
                ref=lambda data, scalar: ref(data, scalar), **kw)


def softmax_label(rng, shape):
    return rng.integers(0, 5, shape).astype(np.float64)
