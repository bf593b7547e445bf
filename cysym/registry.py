"""What an operator declaration is: Param, OpDef, and the registry of all operators.

Every operator is declared once, in `cysym/ops/<family>.py`, with `register(OpDef(...))`.
The declaration holds everything about it: parameters, input/output names, shape and
dtype rules, gradient rule, in-place pairs and the kernel that runs it.  The symbol
layer, inference, autodiff and the executor all read these declarations.
"""
import ast

import difflib

import numpy as np

from .base import OperatorError, parse_bool, parse_tuple

__all__ = ["Param", "OpDef", "register", "get_op", "find_op", "all_ops", "unknown_operator_message",
           "REQUIRED", "FLOAT_DTYPES", "NUMBER_DTYPES", "ARRAY_DTYPES", "MAX_NODE_ARITY"]


class _Required:
    def __repr__(self):
        return "REQUIRED"


REQUIRED = _Required()

# dtypes an op's kernel computes in (OpDef.dtypes): float32/float64 unless it says more.
# NUMBER_DTYPES are those of the kernels' fused `number` type (cysym/_ops/_common.pxd): copies,
# integer arithmetic, and index inputs (cysym/_ops/_index.pxd reads all four); ARRAY_DTYPES
# are every dtype an array of a bound graph may have (Cast converts between all of them)
FLOAT_DTYPES = ("float32", "float64")
INT64_MIN, INT64_MAX = -(1 << 63), (1 << 63) - 1
# How many outputs (num_outputs) or inputs (a variadic op's count) one node may have: counts
# beyond this are absurd or hostile, and are refused before any list of names is built.
MAX_NODE_ARITY = 1 << 16
NUMBER_DTYPES = FLOAT_DTYPES + ("int32", "int64")
ARRAY_DTYPES = NUMBER_DTYPES + ("uint8", "int8")

_PARSERS = {
    "int": lambda v: _parse_int(v),
    "float": lambda v: float(v),
    "bool": parse_bool,
    "str": lambda v: str(v),
    "shape": parse_tuple,
    "floats": lambda v: _parse_floats(v),
}


def _parse_floats(value):
    """MXNet's Tuple<float>: '(1,0.5)', '[1, 0.5]', '0.5' or a Python sequence -> tuple of floats."""
    if isinstance(value, (tuple, list)):
        values = value
    else:
        text = str(value).strip()
        if text in ("", "()", "[]"):
            return ()
        try:
            parsed = ast.literal_eval(text)
        except (ValueError, SyntaxError):
            raise ValueError(f"expected a tuple of numbers, got {text!r}") from None
        values = parsed if isinstance(parsed, (tuple, list)) else (parsed,)
    if any(isinstance(v, (bool, np.bool_)) or not isinstance(v, (int, float, np.number)) for v in values):
        raise ValueError(f"expected a tuple of numbers, got {value!r}")
    return tuple(float(v) for v in values)


def _parse_int(value):
    if isinstance(value, (bool, np.bool_)):
        raise ValueError(f"expected an integer, got {value!r}")
    if isinstance(value, (int, np.integer)):
        return _int64(int(value))
    text = str(value).strip()
    if len(text) > 40:      # int() of a long digit string is quadratic; no int64 is this long
        raise ValueError(f"expected an integer, got {text[:40]!r}...")
    try:
        return _int64(int(text))
    except ValueError:
        number = float(text)   # MXNet accepts "2.0" for an int parameter
        if not np.isfinite(number) or number != int(number):
            raise ValueError(f"expected an integer, got {value!r}") from None
        return _int64(int(number))


def _int64(number):
    """number, if it fits in MXNet's widest integer parameter (int64); ValueError if not."""
    if not INT64_MIN <= number <= INT64_MAX:
        raise ValueError(f"{number} does not fit in a 64-bit integer")
    return number


class Param:
    """One operator parameter: its type, default, allowed values and documentation.

    kind is 'int', 'float', 'bool', 'str' or 'shape' (a tuple of ints);
    optional=True also accepts None (MXNet's `dmlc::optional`).
    """

    def __init__(self, name, kind, default=REQUIRED, doc="", choices=None, optional=False,
                 low=None, high=None, length=None):
        if kind not in _PARSERS:
            raise ValueError(f"unknown parameter kind {kind!r}")
        self.name = name
        self.kind = kind
        self.default = default
        self.doc = doc
        self.choices = tuple(choices) if choices else None
        self.optional = optional
        self.low = low
        self.high = high
        self.length = length

    @property
    def required(self):
        """Whether the parameter has no default."""
        return self.default is REQUIRED

    def parse(self, value):
        """The Python value of `value` (a Python value or MXNet's string form); ValueError if bad."""
        if value is None or (isinstance(value, str) and value == "None"):
            if self.optional or self.default is None:
                return None
            raise ValueError("None is not allowed")
        parsed = _PARSERS[self.kind](value)
        if self.choices is not None and parsed not in self.choices:
            raise ValueError(f"{parsed!r} is not one of {list(self.choices)}")
        if self.kind in ("int", "float"):
            if self.low is not None and parsed < self.low:
                raise ValueError(f"{parsed!r} is below the minimum {self.low}")
            if self.high is not None and parsed > self.high:
                raise ValueError(f"{parsed!r} is above the maximum {self.high}")
        if self.kind == "shape":
            for v in parsed:
                if v is not None:
                    _int64(v)
        if self.kind in ("shape", "floats"):
            if self.length is not None and len(parsed) not in self.length:
                raise ValueError(f"expected {' or '.join(map(str, self.length))} values, got {len(parsed)}")
            if any(v is not None and v < 0 for v in parsed) and self.low is not None:
                raise ValueError(f"{parsed!r} has negative entries")
        return parsed

    def describe(self):
        """The parameter's line in a generated docstring: name, type, default, then its doc."""
        kind = {"shape": "Shape(tuple)", "str": "string", "floats": "tuple of <float>"}.get(self.kind, self.kind)
        if self.choices:
            kind = "{" + ", ".join(repr(c) for c in self.choices) + "}"
        extra = "required" if self.required else f"optional, default={self.default!r}"
        return f"{self.name} : {kind}, {extra}\n    {self.doc}"


def _as_callable(value):
    """Declarations give lists or functions of the parsed params; normalise to a function."""
    if callable(value):
        return value
    frozen = tuple(value)
    return lambda params: frozen


class OpDef:
    """The complete declaration of one operator.

    Its attributes, the constructor's keyword arguments::

        name        canonical name (what JSON files store: 'FullyConnected', 'elemwise_add')
        aliases     other names that create or load it ('Softmax', '_Plus', '_plus')
        params      list of Param
        inputs      argument names, or a function params -> names (no_bias drops 'bias')
        aux         auxiliary-state names (BatchNorm's moving_mean/moving_var), or a function
        outputs     output names (['output'] by default), or a function of params
        num_visible_outputs  function params -> how many outputs users see (BatchNorm hides mean/var)
        variadic    name of the int param counting the inputs of a variadic op ('num_args'),
                    whose inputs are then named arg0, arg1, ...
        variadic_counts  function params -> False when, for these params, the variadic param does
                    not count the inputs and `inputs` names them (bilinear UpSampling takes
                    (data, weight) whatever num_args says); default: it always counts them
        infer_shape function (ctx, in_shapes, out_shapes) -> (in_shapes, out_shapes); shapes are
                    tuples or None; in_shapes lists arguments then aux states
        partial_shapes  True when infer_shape handles partial shapes (tuples with None for unknown
                    dimensions); default: whether the rule is marked by shapes.partial_shape_rule.
                    Other rules see a partial shape as None.
        infer_type  function (ctx, in_types, out_types) -> (in_types, out_types); default: all equal
        gradient    see cysym.autodiff; None means the op has no gradient
        no_grad     inputs that never receive a gradient (labels, indices)
        inplace     (input_index, output_index) pairs the kernel may alias, or a function of params
        shape_only  inputs whose values the kernel never reads, only their shape (reshape_like's
                    rhs), or a function of params: the memory planner lets their buffers go early
        mutates     inputs the kernel updates in place (an optimizer update's mom, mean, var: MXNet's
                    FMutateInputs), or a function of params; the imperative call (cysym.nd) writes
                    them back into the caller's arrays
        kernel      function (bind) -> None appending the op's calls to a plan (cysym.executor)
        map_call    for ops whose kernel, on float32 and float64 arrays, is one call of an
                    element-wise map (cysym._ops.elemwise's append_unary, append_binary):
                    function params -> (append, map name, s0, s1), the call being
                    append(plan, map, *inputs, output, req, label, s0, s1).  Bind makes that
                    call itself, without `kernel`'s function (a 10^5-node chain has 10^5 of them)
        workspace   function (params, in_shapes, out_shapes, dtype) -> bytes of scratch memory
        var_attrs   extra attributes for automatically created input variables
                    ({'moving_var': {'__init__': '["one", {}]'}})
        loss        True for heads that supply their own gradient (SoftmaxOutput, MakeLoss...), or a
                    function of params (SoftmaxOutput with out_grad=True takes a head gradient)
        hidden      True for internal ops (backward nodes) not exported to cysym.sym
        dynamic_shape  None, or why the op's output shape depends on the values of its inputs
                    (boolean_mask): such an op composes, infers and saves, but binding it is an
                    error, as no memory can be planned for it
        dtypes      the dtypes its kernel computes in: a tuple of names for every input and output,
                    or a dict from input/output names to tuples, the unnamed ones taking
                    FLOAT_DTYPES (the default); bind refuses any other dtype, naming the entry.
                    Inputs read for their shape only (shape_only) may have any dtype.
    """

    def __init__(self, name, params=(), inputs=("data",), aux=(), outputs=("output",),
                 num_visible_outputs=None, variadic=None, infer_shape=None, partial_shapes=None,
                 infer_type=None,
                 gradient=None, no_grad=(), inplace=(), shape_only=(), kernel=None, map_call=None,
                 workspace=None,
                 aliases=(), var_attrs=None, loss=False, hidden=False, dynamic_shape=None, doc="",
                 variadic_counts=None, dtypes=FLOAT_DTYPES, mutates=()):
        self.name = name
        self.aliases = tuple(aliases)
        self.params = {p.name: p for p in params}
        self._inputs = _as_callable(inputs)
        self._aux = _as_callable(aux)
        self._outputs = _as_callable(outputs)
        self._num_visible_outputs = num_visible_outputs
        self.variadic = variadic
        self._variadic_counts = variadic_counts or (lambda params: True)
        self.infer_shape = infer_shape
        if partial_shapes is None:    # ops without a rule get cysym.shapes.same_shape, which has the mark
            partial_shapes = infer_shape is None or getattr(infer_shape, "partial_shapes", False)
        self.partial_shapes = partial_shapes
        self.infer_type = infer_type
        self.gradient = gradient
        self.no_grad = tuple(no_grad)
        self._inplace = _as_callable(inplace)
        self._shape_only = _as_callable(shape_only)
        self._mutates = _as_callable(mutates)
        self.kernel = kernel
        self.map_call = map_call
        self.workspace = workspace
        self.var_attrs = dict(var_attrs or {})
        self._loss = loss if callable(loss) else (lambda params, _value=bool(loss): _value)
        self.hidden = hidden
        self.dynamic_shape = dynamic_shape
        self._dtypes = ({name: _dtype_set(names) for name, names in dtypes.items()}
                        if isinstance(dtypes, dict) else _dtype_set(dtypes))
        self.doc = doc

    def __repr__(self):
        return f"<OpDef {self.name}>"

    # -- parameters -----------------------------------------------------------------

    def parse_params(self, attrs, instance=None):
        """Parsed values of every declared parameter from string (or Python) attrs.

        Keys that are not parameters are ignored here (they are user attributes such as
        `__lr_mult__` or `ctx_group`); `check_params` rejects unknown keyword arguments.
        """
        parsed = {}
        for pname, param in self.params.items():
            if pname in attrs:
                try:
                    parsed[pname] = param.parse(attrs[pname])
                except (ValueError, TypeError, OverflowError, SyntaxError, MemoryError,
                        RecursionError) as err:
                    raise OperatorError(
                        f"{self.label(instance)}: invalid value {attrs[pname]!r} for parameter "
                        f"'{pname}': {err}. Expected {param.describe()}") from None
            elif param.required:
                raise OperatorError(
                    f"{self.label(instance)}: required parameter '{pname}' is missing. "
                    f"Parameters: {self.param_summary()}")
            else:
                parsed[pname] = param.default
        for pname in ("num_outputs", self.variadic):
            if pname in parsed and (parsed[pname] or 0) > MAX_NODE_ARITY:
                raise OperatorError(
                    f"{self.label(instance)}: {pname}={parsed[pname]} is more than the "
                    f"{MAX_NODE_ARITY} a node may have")
        return parsed

    def param_summary(self):
        """The parameters' names, required ones marked, comma-separated ('(none)' without any)."""
        if not self.params:
            return "(none)"
        return ", ".join(
            f"{p.name}{'' if not p.required else ' (required)'}" for p in self.params.values())

    def label(self, instance=None):
        """How errors name the operator: ``Op(name='instance')``."""
        return f"{self.name}(name='{instance}')" if instance else self.name

    # -- structure --------------------------------------------------------------------

    def input_names(self, params):
        """The argument names for these parsed parameters."""
        if self.counts_inputs(params):
            return [f"arg{i}" for i in range(params[self.variadic])]
        return list(self._inputs(params))

    def counts_inputs(self, params):
        """True when the op is variadic and its variadic param is the number of its inputs."""
        return bool(self.variadic) and self._variadic_counts(params)

    def aux_names(self, params):
        """The auxiliary-state names for these parsed parameters."""
        return list(self._aux(params))

    def output_names(self, params):
        """The output names for these parsed parameters."""
        return list(self._outputs(params))

    def num_visible_outputs(self, params):
        """How many outputs users see for these parameters."""
        if self._num_visible_outputs is None:
            return len(self.output_names(params))
        return self._num_visible_outputs(params)

    def inplace_pairs(self, params):
        """The (input index, output index) pairs the kernel may alias."""
        return list(self._inplace(params))

    def shape_only_inputs(self, params):
        """Positions (among arguments then aux states) of the inputs read for their shape only."""
        names = self.input_names(params) + self.aux_names(params)
        return {names.index(name) for name in self._shape_only(params)}

    def mutated_inputs(self, params):
        """Names of the inputs the kernel updates in place."""
        return list(self._mutates(params))

    def kernel_dtypes(self, entry):
        """The dtypes (np.dtype) the kernel takes for the input or output named `entry`."""
        if isinstance(self._dtypes, dict):
            return self._dtypes.get(entry, _FLOAT_SET)
        return self._dtypes

    def is_loss(self, params):
        """True when a node with these params makes its own gradient instead of taking one."""
        return bool(self._loss(params))


def _dtype_set(names):
    return frozenset(np.dtype(name) for name in names)


_FLOAT_SET = _dtype_set(FLOAT_DTYPES)

_REGISTRY = {}


def register(op):
    """Add an OpDef under its name and aliases; a name may be taken only once."""
    keys = (op.name,) + op.aliases
    for key in keys:   # check every name first, so a refused op leaves nothing behind
        if key in _REGISTRY or keys.count(key) > 1:
            raise ValueError(f"operator name {key!r} is registered twice")
    for key in keys:
        _REGISTRY[key] = op
    return op


def find_op(name):
    """The OpDef registered under `name` (canonical or alias), or None."""
    return _REGISTRY.get(name)


def get_op(name):
    """The OpDef registered under ``name`` or an alias; OperatorError naming the closest names if none."""
    op = _REGISTRY.get(name)
    if op is None:
        raise OperatorError(unknown_operator_message(name))
    return op


def unknown_operator_message(name):
    """'unknown operator ...', with the registered names closest to it (typos, other spellings)."""
    visible = [key for key, op in _REGISTRY.items() if not op.hidden]
    close = difflib.get_close_matches(str(name), visible, n=3, cutoff=0.6)
    lowered = {key.lower().strip("_"): key for key in visible}
    same = lowered.get(str(name).lower().strip("_"))
    if same:
        close = [same] + [key for key in close if key != same]
    hint = f"; closest registered: {', '.join(close)}" if close else ""
    return f"unknown operator {name!r} (cysym does not have it{hint})"


def all_ops():
    """Every distinct OpDef, canonical names sorted."""
    return sorted({id(op): op for op in _REGISTRY.values()}.values(), key=lambda op: op.name)

