"""Imperative operators: one `cysym.nd.<Op>` per registered operator, run by the real executor.

`cysym.nd.FullyConnected(data=x, weight=w, bias=b, num_hidden=4)` builds the one-op symbol
`FullyConnected(data=Variable('data'), weight=Variable('weight'), bias=Variable('bias'))`, binds
it (grad_req 'null') to arrays of the inputs' shapes and dtypes, copies the inputs in, runs
forward and returns the outputs as new NDArrays (a list when the op has several visible
outputs, as MXNet does), or writes them into `out=`.

The functions are generated from the registry exactly as `cysym.sym.<Op>` are
(`cysym.symbol.op_functions`): a real `inspect.Signature` and a docstring built from the
parameter docs, no exec'd source.

Calling conventions (MXNet's `mx.nd` ones)
------------------------------------------
* Leading positional arrays (or None placeholders) are the inputs in declaration order;
  positional values after them fill the parameters in declaration order
  (`mx.nd.clip(x, 0, 1)`). Keyword arrays are inputs or auxiliary states by name
  (`mx.nd.BatchNorm(x, gamma, beta, moving_mean=m, moving_var=v)`); other keywords are
  parameters. Variadic ops (Concat, add_n, stack, UpSampling) take their inputs positionally.
* Every input the operator declares must be given (no variables are invented).
* dtypes: float32 and float64 arrays are bound as they are, and so are integer arrays where
  the operator's kernel computes in their dtype (OpDef.dtypes: int64 indices of take, int32
  operands of broadcast_div, the input of Cast). Every other input (other integer indices or
  labels, booleans, float16, Python lists) is converted to the float dtype of the first
  float32/float64 input, or to float32 when there is none - so a list becomes float32, as
  `mx.nd.array` makes it, and integer labels become the data's float dtype, as MXNet's float
  kernels expect.
* float16: cysym's kernels have no float16 arithmetic, so float16 is computed in float32 and
  returned as float16, as MXNet returns it: when float16 inputs are the only float ones, or
  when `dtype='float16'` is asked for (Cast, amp_cast, the samplers, _zeros...), the op runs in
  float32 and its float32 outputs are rounded to float16 (an explicit other `dtype=` is kept:
  `Cast(x16, dtype='float32')` is float32).
* `out=` (an array, or a list of arrays for several outputs) receives the values (cast to its
  dtype) and is returned; inputs may alias `out`.
* `name=` is accepted and ignored, as in MXNet's imperative API.
* Inputs an operator updates in place (OpDef.mutates: the states of the optimizer updates,
  `mx.nd.rmsprop_update(w, g, n, lr=0.01, out=w)` changes n) are copied back into the
  caller's arrays after the call.

Mode: every call runs forward with is_train=False. This is MXNet's imperative behaviour outside
`autograd.record()` (cysym has no autograd): Dropout is the identity, BatchNorm normalises with
the given moving statistics and does not update them, loss heads (SoftmaxOutput...) return
their forward values.

Executor cache: bound executors are kept in a small LRU keyed by (operator name, parameter
values, input shapes and bound dtypes), so calling an op again with the same shapes copies the
inputs into the already-planned executor instead of re-inferring, re-planning and re-binding.
`cache_info()` reports hits, misses and size; `clear_cache()` empties it. An executor is taken
out of the cache while it runs, so two threads never share one.
"""
import builtins
import functools
import threading
from collections import OrderedDict

import numpy as np

from . import _ops
from .base import MXNetError, OperatorError, ShapeError
from .context import cpu
from .executor import bind
from .ndarray import NDArray
from .registry import all_ops, find_op, unknown_operator_message
from .symbol.op_functions import operator_signature
from .symbol.symbol import Variable, create_op

__all__ = ["make_op_function", "public_functions", "install", "invoke", "cache_info", "clear_cache",
           "CACHE_SIZE"]

# Bound executors kept for reuse; each holds one copy of its inputs and its planned arena.
CACHE_SIZE = 64
_KERNEL_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))
# Registered names whose MXNet `mx.nd` helper IS the operator: the generated function replaces
# the helper of the same name in cysym.ndarray (and keeps what it did).
_HELPERS_THAT_ARE_OPS = ("concat",)


# --------------------------------------------------------------------------- executor cache

class _ExecutorCache:
    """An LRU of bound one-op executors; an entry is checked out while a call uses it."""

    def __init__(self, maxsize):
        self.maxsize = maxsize
        self._entries = OrderedDict()
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    def take(self, key):
        with self._lock:
            entry = self._entries.pop(key, None)
            if entry is None:
                self.misses += 1
            else:
                self.hits += 1
            return entry

    def give_back(self, key, entry):
        with self._lock:
            self._entries[key] = entry
            self._entries.move_to_end(key)
            while len(self._entries) > self.maxsize:
                self._entries.popitem(last=False)

    def clear(self):
        with self._lock:
            self._entries.clear()
            self.hits = self.misses = 0

    def info(self):
        with self._lock:
            return {"hits": self.hits, "misses": self.misses, "size": len(self._entries),
                    "maxsize": self.maxsize}


_CACHE = _ExecutorCache(CACHE_SIZE)


def cache_info():
    """{'hits', 'misses', 'size', 'maxsize'} of the executor cache (misses = executors bound)."""
    return _CACHE.info()


def clear_cache():
    """Drop every cached executor and reset the counters."""
    _CACHE.clear()


class _Bound:
    """A cached executor and where each call's arrays go: (slot, source key) per input."""

    __slots__ = ("executor", "targets", "multi_output", "mutated", "_follows_inputs")

    def __init__(self, executor, targets, multi_output, mutated=()):
        self.executor = executor
        self.targets = targets            # [(bound array, source key)], source key: int or str
        self.multi_output = multi_output
        self.mutated = mutated            # the targets the kernel updates in place (OpDef.mutates)
        self._follows_inputs = None

    def follows_inputs(self):
        """Per output, whether its dtype is the float inputs' (float64 inputs would make it
        float64) rather than fixed (to_tensor's float32): found once, by type inference."""
        if self._follows_inputs is None:
            symbol = self.executor._symbol
            widened = {name: np.float64 if array.dtype == np.float32 else array.dtype
                       for name, array in self.executor.arg_dict.items()}
            widened.update({name: np.float64 if array.dtype == np.float32 else array.dtype
                            for name, array in self.executor.aux_dict.items()})
            _, out_types, _ = symbol.infer_type(**widened)
            self._follows_inputs = [np.dtype(t) == np.float64 for t in out_types]
        return self._follows_inputs


# --------------------------------------------------------------------------- calling

def _is_input_value(value):
    return isinstance(value, (np.ndarray, np.generic, list, tuple))


@functools.lru_cache(maxsize=None)
def _slot_names(op):
    """(input names, aux names) under the default parameters; ([], []) when unknown."""
    if op.variadic:
        return (), ()
    defaults = {k: (None if p.required else p.default) for k, p in op.params.items()}
    try:
        return tuple(op.input_names(defaults)), tuple(op.aux_names(defaults))
    except Exception:  # Custom: the inputs come from the registered CustomOpProp
        return (), ()


def _possible_input_names(op):
    """Input and aux names under default parameters (for sorting arguments into inputs and
    parameters), or None when they are not known before parsing: variadic ops, and ops whose
    inputs come from a required parameter (Custom's op_type)."""
    input_names, aux_names = _slot_names(op)
    names = input_names + aux_names
    if op.variadic or (not names and any(p.required for p in op.params.values())):
        return None
    return names


def _input_names_for(op, kwargs):
    """Input and aux names under the default parameters overridden by the keyword ones, as MXNet
    counts positional inputs (LeakyReLU's act_type='prelu' adds gamma, Deconvolution's
    no_bias=False adds bias); None when they are not known before parsing."""
    names = _possible_input_names(op)
    given = {key: value for key, value in kwargs.items()
             if key in op.params and not isinstance(value, np.ndarray)}
    if names is None or not given:
        return names
    params = {k: (None if p.required else p.default) for k, p in op.params.items()}
    try:
        params.update({key: op.params[key].parse(value) for key, value in given.items()})
        return tuple(op.input_names(params)) + tuple(op.aux_names(params))
    except (ValueError, TypeError, KeyError, OverflowError, SyntaxError, MXNetError):
        return names    # a bad value: create_op reports it


def _as_source_array(value, op, input_name):
    array = value if isinstance(value, np.ndarray) else np.asarray(value)
    if array.dtype.kind not in "biuf":
        raise TypeError(f"{op.name}: input '{input_name}' must be a numeric array, got "
                        f"{type(value).__name__} of dtype {array.dtype}")
    return array


def _freeze(value):
    """A hashable stand-in for a parameter value (lists become tuples)."""
    if isinstance(value, (list, tuple)):
        return tuple(_freeze(v) for v in value)
    if isinstance(value, np.ndarray):
        return ("ndarray", value.dtype.str, value.shape, value.tobytes())
    try:
        hash(value)
    except TypeError:
        return repr(value)
    return (type(value).__name__, value)


def _split_arguments(op, args, kwargs):
    """(positional inputs, positional params, keyword inputs, keyword params).

    Leading positional arrays, lists, tuples or None fill the input slots (as many as the op
    has); what follows fills parameters in order, so `mx.nd.Reshape(x, (2, 3))` passes a shape
    and `mx.nd.dot([[1, 2]], [[3], [4]])` two arrays."""
    input_names = _input_names_for(op, kwargs)
    max_inputs = len(args) if input_names is None else len(input_names)
    input_names = input_names or ()
    count = 0
    while (count < min(len(args), max_inputs)
           and (args[count] is None or isinstance(args[count], (np.ndarray, list, tuple)))):
        count += 1
    positional_inputs = list(args[:count])
    # None placeholders for inputs that these parameters drop (bias with no_bias=True) go
    # unused, as in MXNet's generated signatures (data=None, weight=None, bias=None)
    slots_by_default = len(_possible_input_names(op) or ())
    while count < min(len(args), slots_by_default) and args[count] is None:
        count += 1
    positional_params = list(args[count:])
    if positional_params and isinstance(positional_params[0], np.ndarray):
        raise OperatorError(f"{op.label()}: {count + 1} or more input arrays given, but with these "
                            f"parameters it takes {count}: {list(input_names)} (MXNet: 'expects "
                            f"{count} inputs'); parameters such as no_bias=False or act_type='prelu' "
                            f"add inputs")
    keyword_inputs, keyword_params = {}, {}
    for key, value in kwargs.items():
        # No parameter takes an array, so an array is an input under any name (Custom's
        # parameters accept every keyword, its inputs are known only once op_type is parsed).
        if isinstance(value, np.ndarray) or key in input_names or (
                key not in op.params and _is_input_value(value) and not key.startswith("__")):
            if value is not None:
                keyword_inputs[key] = value
        else:
            keyword_params[key] = value
    return positional_inputs, positional_params, keyword_inputs, keyword_params


def _bound_dtypes(op, slots, arrays):
    """The dtype each input is bound with (see the module docstring); slots are the inputs'
    names where known (None otherwise)."""
    # dtype.char 'f'/'d' is float32/float64 in native byte order: a cheap `in _KERNEL_DTYPES`
    float_dtype = next((a.dtype for a in arrays if a.dtype.char in "fd" and a.dtype.isnative),
                       _KERNEL_DTYPES[0])
    return [a.dtype if a.dtype.char in "fd" and a.dtype.isnative
            or (slot is not None and a.dtype in op.kernel_dtypes(slot)) else float_dtype
            for slot, a in zip(slots, arrays)]


def _build(op, func_name, sources, positional_params, keyword_params, shapes, dtypes):
    """Bind a one-op symbol for these inputs; returns a _Bound."""
    positional_keys = [k for k in sources if isinstance(k, int)]
    keyword_keys = [k for k in sources if isinstance(k, str)]
    count = (max(positional_keys) + 1) if positional_keys else 0
    # First pass: placeholder variables, so that create_op checks every parameter and input
    # name and parses the parameters that decide the input names (no_bias, num_args...).
    placeholders = [Variable(f"_input{i}") if i in sources else None for i in range(count)]
    probe = create_op(func_name, *placeholders, *positional_params, name=func_name,
                      **{k: Variable(k) for k in keyword_keys}, **keyword_params)
    node = probe._outputs[0][0]
    params = node._params
    slots = op.input_names(params) + op.aux_names(params)
    slot_of = {i: slots[i] for i in positional_keys}
    slot_of.update({k: k for k in keyword_keys})
    given = set(slot_of.values())
    missing = [s for s in slots if s not in given]
    if missing:
        raise OperatorError(f"{op.label()}: input '{missing[0]}' is missing; inputs are {slots}")
    # Second pass: the same call with each variable named after its slot, so that errors and
    # the executor's argument names read 'data', 'weight', ...
    if op.variadic:
        symbol = create_op(func_name, *[Variable(slot_of[i]) for i in range(count)],
                           *positional_params, name=func_name, **keyword_params)
    else:
        named = [None] * count
        symbol = create_op(func_name, *named, *positional_params, name=func_name,
                           **{slot: Variable(slot) for slot in slots}, **keyword_params)
    arrays = {slot_of[key]: np.zeros(shapes[key], dtypes[key]).view(NDArray) for key in sources}
    aux_names = symbol.list_auxiliary_states()
    executor = bind(symbol, cpu(), {n: arrays[n] for n in symbol.list_arguments()},
                    grad_req="null", aux_states={n: arrays[n] for n in aux_names})
    targets = [(arrays[slot_of[key]], key) for key in sources]
    mutated_slots = set(op.mutated_inputs(params))
    mutated = [(array, key) for array, key in targets if slot_of[key] in mutated_slots]
    return _Bound(executor, targets, len(symbol._outputs) > 1, mutated)


def _write_out(op, results, out, multi_output):
    outs = list(out) if isinstance(out, (list, tuple)) else [out]
    if len(outs) != len(results):
        raise OperatorError(f"{op.name}: out= has {len(outs)} arrays, the operator has "
                            f"{len(results)} outputs")
    for k, (target, value) in enumerate(zip(outs, results)):
        where = f"out[{k}]" if multi_output else "out"
        if not isinstance(target, np.ndarray):
            raise TypeError(f"{op.name}: {where} must be an NDArray, not {type(target).__name__}")
        if target.shape != value.shape:
            raise ShapeError(f"{op.name}: {where} has shape {target.shape}, the output has shape "
                             f"{value.shape}")
        np.copyto(target, value, casting="unsafe")
    return outs if multi_output else outs[0]


def _computes_half_in_float32(sources, positional_names, positional_params, keyword_params):
    """Why the call computes float16 in float32 and rounds float32 outputs back: "asked" for a
    `dtype='float16'` parameter (rewritten to float32 here: every float32 output), "inputs" for
    float16 inputs with no float32 or float64 one and no other dtype asked for (the outputs whose
    dtype follows the inputs'); None when it does not."""
    if "dtype" in positional_names:
        where, key = positional_params, positional_names.index("dtype")
    else:
        where, key = keyword_params, "dtype"
    asked = where[key] if key in (range(len(where)) if isinstance(where, list) else where) else None
    if asked is not None and str(np.dtype(asked) if not isinstance(asked, str) else asked) == "float16":
        where[key] = "float32"
        return "asked"
    dtypes = {array.dtype for array in sources.values()}
    if asked is None and np.dtype(np.float16) in dtypes and not dtypes & set(_KERNEL_DTYPES):
        return "inputs"
    return None


def invoke(func_name, *args, out=None, name=None, **kwargs):
    """Run the operator registered as `func_name` on arrays; see the module docstring."""
    op = find_op(func_name)
    if op is None:
        raise OperatorError(unknown_operator_message(func_name))
    positional_inputs, positional_params, keyword_inputs, keyword_params = _split_arguments(
        op, args, kwargs)
    sources = {}
    values = dict(enumerate(positional_inputs)) | keyword_inputs
    names = _input_names_for(op, kwargs)
    for i, value in enumerate(positional_inputs):
        if value is not None:
            label = names[i] if names else f"arg{i}"
            sources[i] = _as_source_array(value, op, label)
    for key, value in keyword_inputs.items():
        sources[key] = _as_source_array(value, op, key)
    positional_names = [p for p in op.params if p != op.variadic][:len(positional_params)]
    half = _computes_half_in_float32(sources, positional_names, positional_params, keyword_params)
    dtype_param = op.params.get("dtype")
    if (not sources and dtype_param is not None and dtype_param.default is None
            and keyword_params.get("dtype") is None and "dtype" not in positional_names):
        # An op without inputs (_zeros) takes its dtype from its consumers in a graph; alone,
        # it makes MXNet's default, float32.
        keyword_params["dtype"] = "float32"
    keys = list(sources)
    slots = [k if isinstance(k, str) else (names[k] if names and k < len(names) else
                                           f"arg{k}" if op.variadic else None) for k in keys]
    # a list is data as `mx.nd.array` makes it (a float array), never integer indices
    kernel_slots = [None if isinstance(values[k], (list, tuple)) else slot
                    for k, slot in zip(keys, slots)]
    bound_dtypes = dict(zip(keys, _bound_dtypes(op, kernel_slots, [sources[k] for k in keys])))
    shapes = {k: sources[k].shape for k in keys}
    cache_key = (func_name,
                 tuple(_freeze(v) for v in positional_params),
                 tuple(sorted((k, _freeze(v)) for k, v in keyword_params.items())),
                 tuple((k, shapes[k], bound_dtypes[k]) for k in keys))
    # A Custom node holds its Python CustomOp, made from whatever class op_type names now.
    cacheable = op.name != "Custom"
    entry = _CACHE.take(cache_key) if cacheable else None
    if entry is None:
        entry = _build(op, func_name, sources, positional_params, keyword_params, shapes,
                       bound_dtypes)
    try:
        for target, key in entry.targets:
            np.copyto(target, sources[key], casting="unsafe")
        results = entry.executor.forward(is_train=False)
        for target, key in entry.mutated:   # MXNet updates an optimizer's states in place
            np.copyto(sources[key], target, casting="unsafe")
        if half:
            follows = entry.follows_inputs() if half == "inputs" else [True] * len(results)
            with np.errstate(over="ignore"):    # beyond float16's range: inf, as MXNet's
                results = [r.astype(np.float16) if r.dtype == np.float32 and follow else r
                           for r, follow in zip(results, follows)]
        if out is not None:
            returned = _write_out(op, results, out, entry.multi_output)
        else:
            copies = [np.array(r, copy=True, subok=False).view(NDArray) for r in results]
            returned = copies if entry.multi_output else copies[0]
    finally:
        if cacheable:
            _CACHE.give_back(cache_key, entry)
    return returned


# --------------------------------------------------------------------------- generation

def _signature(op):
    input_names, aux_names = _slot_names(op)
    return operator_signature(op, input_names + aux_names, ("out", "name"))


def _docstring(op, func_name):
    lines = [op.doc or op.name, ""]
    if func_name != op.name:
        lines += [f"Alias of {op.name}.", ""]
    lines += ["Runs imperatively in inference mode (is_train=False) through a cached one-op "
              "executor; see cysym.ndarray_ops.", ""]
    if op.name == "Concat":
        lines += ["Arrays that all have one dtype the float kernels do not take (int32, ...) are "
                  "joined by NumPy and keep it, as MXNet's Concat does.", ""]
    lines += ["Parameters", "----------"]
    input_names, aux_names = _slot_names(op)
    if op.variadic:
        lines += ["*data : NDArray", "    The input arrays."]
    for input_name in input_names:
        lines += [f"{input_name} : NDArray", f"    The {input_name} input."]
    for aux_name in aux_names:
        lines += [f"{aux_name} : NDArray", f"    Auxiliary state {aux_name}."]
    lines += [param.describe() for param in op.params.values()
              if not (op.variadic and param.name == op.variadic)]
    if op.variadic:
        variadic = op.params[op.variadic]
        lines += [f"{variadic.name} : int, optional", "    Number of inputs (default: len(data))."]
    lines += ["out : NDArray or list of NDArray, optional", "    The output array(s) to write.",
              "name : str, optional", "    Accepted and ignored, as in MXNet.",
              "", "Returns", "-------", "NDArray, or a list of NDArray when the operator has "
              "several outputs (out when given)"]
    return "\n".join(lines)


def _concat_compatible(func_name):
    """Concat that, as MXNet's, keeps a dtype its float kernels do not take (int32 in, int32
    out) by joining such arrays with NumPy; float32/float64 inputs run the operator."""
    op = find_op(func_name)

    def concat_function(*data, dim=1, num_args=None, out=None, name=None):
        arrays = [a for a in data if isinstance(a, np.ndarray)]
        if (data and len(arrays) == len(data) and arrays[0].dtype not in _KERNEL_DTYPES
                and all(a.dtype == arrays[0].dtype for a in arrays)):
            try:
                result = np.concatenate(arrays, axis=dim).view(NDArray)
            except ValueError as err:  # includes numpy.exceptions.AxisError
                raise ShapeError(f"{op.name}(dim={dim}): cannot join shapes "
                                 f"{[a.shape for a in arrays]}: {err}") from err
            return result if out is None else _write_out(op, [result], out, False)
        extra = {} if num_args is None else {"num_args": num_args}
        return invoke(func_name, *data, dim=dim, out=out, name=name, **extra)

    return concat_function


# Parameters of sgd_update / sgd_mom_update the direct path passes on (lazy_update only matters
# for sparse gradients; name is ignored, as everywhere in mx.nd).
def _sgd_in_place(func_name):
    """sgd_update / sgd_mom_update as a training loop calls them once per parameter and step
    (`sgd_update(w, g, lr=..., out=w)`): on C-contiguous float32/float64 arrays of one shape and
    dtype that do not overlap, the fused loop runs straight on the caller's arrays
    (cysym._ops.optim), without the one-op executor's copies in and out and its argument
    handling (measured here: 110 us a call on a 256 x 256 weight before, 9 us now); every other
    call takes the general path.  The numbers are the same: both round the parameters to
    float32, as MXNet's."""
    op = find_op(func_name)
    with_mom = op.name == "sgd_mom_update"
    arity = 3 if with_mom else 2

    def sgd_function(*args, out=None, **params):
        # the keywords are checked in the kernel module (plain numbers only; anything the general
        # path would convert or reject goes there)
        if (len(args) == arity and out is args[0] and _ops.load("optim").sgd_update_keywords(
                out, args[1], args[2] if with_mom else None, params, with_mom)):
            return out
        return invoke(func_name, *args, out=out, **params)

    return sgd_function


def make_op_function(op, func_name):
    """The cysym.nd function for the operator `op` under the name `func_name`."""
    if op.name in ("sgd_update", "sgd_mom_update"):
        op_function = _sgd_in_place(func_name)
    elif op.name == "Concat":
        op_function = _concat_compatible(func_name)
    else:
        def op_function(*args, **kwargs):
            return invoke(func_name, *args, **kwargs)

    op_function.__name__ = func_name
    op_function.__qualname__ = func_name
    op_function.__module__ = "cysym.ndarray"
    op_function.__signature__ = _signature(op)
    op_function.__doc__ = _docstring(op, func_name)
    return op_function


def public_functions():
    """{function name: function} for every visible registered name, aliases included."""
    functions = {}
    for op in all_ops():
        if op.hidden:
            continue
        for func_name in (op.name,) + op.aliases:
            functions[func_name] = make_op_function(op, func_name)
    return functions


class _Namespace:
    """Holds the functions whose names start with '_' (MXNet's `nd._internal`)."""


def install(namespace):
    """Put the generated functions into a module namespace (cysym.ndarray's globals).

    A name the module already defines keeps its helper, except the helpers that ARE the
    operator in MXNet (`concat`). Names of Python builtins (max, min, sum, abs, slice) are
    served by the module's `__getattr__` instead of its globals, so that the module's own code
    keeps calling the builtins while `cysym.nd.max` and `from cysym.nd import max` give the
    operator. Returns the public names added, for `__all__`."""
    from . import ops as _ops  # noqa: F401  (registers every operator)
    internal = namespace.setdefault("_internal", _Namespace())
    added = []
    beside_builtins = {}
    for func_name, function in public_functions().items():
        if func_name in namespace and func_name not in _HELPERS_THAT_ARE_OPS:
            continue
        if hasattr(builtins, func_name):
            beside_builtins[func_name] = function
        else:
            namespace[func_name] = function
        if func_name.startswith("_"):
            setattr(internal, func_name, function)
        else:
            added.append(func_name)
    module_name = namespace.get("__name__", "module")

    def __getattr__(attribute):
        try:
            return beside_builtins[attribute]
        except KeyError:
            raise AttributeError(f"module {module_name!r} has no attribute {attribute!r}") from None

    def __dir__():
        return sorted(set(namespace) | set(beside_builtins))

    namespace["__getattr__"] = __getattr__
    namespace["__dir__"] = __dir__
    return sorted(added)
