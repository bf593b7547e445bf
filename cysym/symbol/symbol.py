"""Symbol: an immutable handle on one or more outputs of a graph of named nodes."""
import numpy as np

from ..attribute import AttrScope
from ..base import (MXNetError, NotImplementedForSymbol, OperatorError, atomic_write, dtype_code,
                    format_value)
from ..name import NameManager
from ..registry import find_op, unknown_operator_message
from .graph import EntryIndex, Node, copy_graph, topo_order

__all__ = ["Symbol", "Variable", "var", "Group", "create_op", "install_fluent_methods", "pow", "power",
           "maximum", "minimum", "hypot"]

# MXNet stores these user attributes as `__key__` (c_api_symbolic.cc's kHiddenKeys): `lr_mult`
# given to an operator or an AttrScope is saved as `__lr_mult__`, which the optimizer and the
# executor (`__ctx_group__`) read; `attr('lr_mult')` and list_attr() show both spellings.
HIDDEN_KEYS = ("ctx_group", "lr_mult", "wd_mult", "force_mirroring", "mirror_stage", "profiler_scope")


def _stored_key(key, error=MXNetError):
    """The key MXNet stores for user attribute `key`."""
    for hidden in HIDDEN_KEYS:
        if key == hidden:
            return f"__{key}__"
        if key.endswith(hidden) and key != f"__{hidden}__" and not key.endswith(f"__{hidden}"):
            raise error(f"setting variable attributes with {key} is deprecated. please instead use\n"
                        f"w = Variable({hidden}=...)\nsym = YourSymbolName({key[:-len(hidden) - 1]}=w)")
    return key


def _with_visible_keys(attrs):
    """attrs plus `lr_mult` for `__lr_mult__` etc., as MXNet's list_attr/attr_dict show them."""
    listed = dict(attrs)
    for hidden in HIDDEN_KEYS:
        if f"__{hidden}__" in attrs:
            listed[hidden] = attrs[f"__{hidden}__"]
    return listed


def split_variables(variables, aux_ids):
    """(argument nodes, auxiliary-state nodes) of `variables`, in their order; aux_ids: the ids
    of the variables some operator reads as an auxiliary state."""
    return ([n for n in variables if id(n) not in aux_ids],
            [n for n in variables if id(n) in aux_ids])


class Symbol:
    """One or more output entries (node, index) of a computation graph."""

    __slots__ = ("_outputs", "_order", "_variable_nodes", "_entry_index", "_last_inference", "__weakref__")

    def __init__(self, outputs):
        self._outputs = list(outputs)
        self._order = None
        self._variable_nodes = None
        self._entry_index = None
        self._last_inference = None     # cysym.infer's, by kind

    # -- structure ----------------------------------------------------------------------

    def _nodes(self):
        """The graph's nodes in DFS post-order (do not modify the list).  Computed once per
        symbol: every query, inference and bind walks it, and on a 10^5-node graph each walk
        costs as much as a small model's whole bind.  A node's inputs are not changed after
        the symbols holding it exist (compose rewires its own fresh copy, then forgets the
        order)."""
        if self._order is None:
            self._order = topo_order(self._outputs)
        return self._order

    def _entries(self):
        """The graph's entries numbered in the order of _nodes() (an EntryIndex, do not modify
        it): inference and bind keep what they know of each entry in lists indexed by these
        numbers.  Computed once per symbol, and again when a node's parameters changed."""
        nodes, index = self._nodes(), self._entry_index
        if index is None or not index.is_current(nodes):
            index = self._entry_index = EntryIndex(nodes)     # (a loader's, in file order, may differ)
        index.nodes = nodes     # the same nodes: the next check compares the lists at once
        return index

    def _variables(self):
        """(argument nodes, auxiliary-state nodes), each in DFS order (do not modify the lists).
        Computed once per symbol, as _nodes()."""
        if self._variable_nodes is None:
            self._variable_nodes = self._find_variables()
        return self._variable_nodes

    def _find_variables(self):
        nodes = self._nodes()
        aux_ids = set()
        variables = []
        for node in nodes:
            if node.op is None:
                variables.append(node)
            elif len(node.inputs) > node.num_args():    # only these have auxiliary states
                for src, _ in node.inputs[node.num_args():]:
                    if src.op is None:
                        aux_ids.add(id(src))
        return split_variables(variables, aux_ids)

    @property
    def name(self):
        """The head node's name; None for a group of several outputs."""
        if len(self._outputs) != 1:
            return None
        return self._outputs[0][0].name

    def list_arguments(self):
        """The names of the symbol's arguments: every input variable that is not an auxiliary state,
        in depth-first order of the graph (data, weights, biases, labels).

        Returns
        -------
        list of str
            ``['data', 'fc1_weight', 'fc1_bias', ..., 'softmax_label']``, as MXNet lists them.
        """
        return [n.name for n in self._variables()[0]]

    def list_auxiliary_states(self):
        """The names of the auxiliary states: inputs an operator updates itself rather than learns
        (BatchNorm's ``moving_mean`` and ``moving_var``), in depth-first order.

        Returns
        -------
        list of str
        """
        return [n.name for n in self._variables()[1]]

    def list_inputs(self):
        """Every input variable's name, arguments and auxiliary states together, in graph order.

        Returns
        -------
        list of str
        """
        return [n.name for n in self._nodes() if n.op is None]

    def list_outputs(self):
        """The names of the symbol's outputs, ``<node>_<output>`` (``'fc1_output'``,
        ``'softmax_output'``), in order.

        Returns
        -------
        list of str
        """
        return [node.output_name(index) for node, index in self._outputs]

    def get_internals(self):
        """A group of every visible output of every node, in DFS order."""
        entries = []
        for node in self._nodes():
            entries.extend((node, i) for i in range(node.num_visible_outputs()))
        return Symbol(entries)

    def get_children(self):
        """The inputs of every head node, in order, as a group; None when there are none (a
        variable, or a group of variables)."""
        children = [entry for node, _ in self._outputs for entry in node.inputs]
        return Symbol(children) if children else None

    def __len__(self):
        return len(self._outputs)

    def __iter__(self):
        return (Symbol([entry]) for entry in self._outputs)

    def __getitem__(self, index):
        if isinstance(index, str):
            names = self.list_outputs()
            matches = [i for i, n in enumerate(names) if n == index]
            if not matches:
                raise ValueError(f"cannot find output {index!r}; outputs are {names}")
            if len(matches) > 1:
                raise ValueError(f"there are multiple outputs named {index!r}")
            index = matches[0]
        if isinstance(index, slice):
            return Symbol(self._outputs[index])
        if not isinstance(index, (int, np.integer)):
            raise TypeError(f"symbol index must be an int, a slice or an output name, not {index!r}")
        if not -len(self._outputs) <= index < len(self._outputs):
            raise IndexError(f"output index {index} out of range for {len(self._outputs)} outputs")
        return Symbol([self._outputs[index]])

    def __repr__(self):
        if len(self._outputs) == 1:
            return f"<Symbol {self.name}>"
        return f"<Symbol group [{', '.join(self.list_outputs())}]>"

    # -- attributes ---------------------------------------------------------------------

    def _head(self, what):
        if len(self._outputs) != 1:
            raise MXNetError(f"{what} works on a symbol with one output, not a group")
        return self._outputs[0][0]

    def attr(self, key):
        """The head node's attribute `key` as a string, or None."""
        attrs = self._head("attr").attrs
        if key not in attrs and key in HIDDEN_KEYS:
            return attrs.get(f"__{key}__")
        return attrs.get(key)

    def list_attr(self, recursive=False):
        """The head node's attributes (``__shape__``, ``lr_mult``, ``ctx_group`` ... and operator
        parameters), as strings.

        Parameters
        ----------
        recursive : bool
            Must be False; MXNet removed the recursive form, use :meth:`attr_dict`.

        Returns
        -------
        dict of str to str
        """
        if recursive:
            raise DeprecationWarning("list_attr(recursive=True) is removed in MXNet; use attr_dict()")
        return _with_visible_keys(self._head("list_attr").attrs)

    def attr_dict(self):
        """{node name: {key: value}} for every node that has attributes."""
        return {n.name: _with_visible_keys(n.attrs) for n in self._nodes() if n.attrs}

    def _set_attr(self, **kwargs):
        node = self._head("_set_attr")
        for key, value in kwargs.items():
            if not isinstance(value, str):
                raise ValueError(f"attribute {key!r} must be a string, got {value!r}")
            node.attrs[_stored_key(key)] = value
        node._params = None

    # -- copies and composition -----------------------------------------------------------

    def __copy__(self):
        return Symbol(copy_graph(self._outputs, {}))

    def __deepcopy__(self, memo):
        return self.__copy__()

    def __getstate__(self):
        return {"json": self.tojson()}

    def __setstate__(self, state):
        from .json_format import load_json
        self._outputs = load_json(state["json"])._outputs
        self._order = self._variable_nodes = self._entry_index = self._last_inference = None

    def __call__(self, *args, **kwargs):
        """A copy in which the free variables named by the keyword arguments are replaced by
        those symbols; `name=` renames the head node.  As in MXNet, a composed symbol takes
        keyword arguments only (positional ones would depend on the order of its arguments)."""
        name = kwargs.pop("name", None)
        if args and kwargs:
            raise TypeError("compose only accept input Symbols either as positional or keyword "
                            "arguments, not both")
        if args:
            raise MXNetError(f"General composition only support kwargs for now: {self!r} was given "
                             f"{len(args)} positional symbols; name the variables to replace, "
                             f"e.g. sym(data=other)")
        memo = {}
        heads = copy_graph(self._outputs, memo)
        composed = Symbol(heads)
        replacements = {}
        free_names = {n.name for n in composed._nodes() if n.is_variable}
        for key, value in kwargs.items():
            if key not in free_names:
                raise MXNetError(f"compose: keyword argument {key!r} is not a free variable; "
                                 f"candidates are {sorted(free_names)}")
            replacements[key] = value
        substitutes = {}
        for key, value in replacements.items():
            if not isinstance(value, Symbol):
                raise TypeError(f"compose: argument {key!r} must be a Symbol, not {type(value).__name__}")
            if len(value._outputs) != 1:
                raise MXNetError(f"compose: argument {key!r} is a group of {len(value._outputs)} outputs")
            substitutes[key] = copy_graph(value._outputs, memo)[0]
        for node in composed._nodes():
            node.inputs = [substitutes.get(src.name, (src, i)) if src.is_variable else (src, i)
                           for src, i in node.inputs]
        composed._outputs = [substitutes.get(n.name, (n, i)) if n.is_variable else (n, i)
                             for n, i in composed._outputs]
        # the inputs just changed
        composed._order = composed._variable_nodes = composed._entry_index = None
        if name is not None:
            composed._head("compose with name=").name = name
        return composed

    # -- arithmetic (MXNet's operator names, so that JSON files match) -------------------------

    def _binary(self, other, sym_op, scalar_op):
        if isinstance(other, Symbol):
            return create_op(sym_op, self, other)
        if isinstance(other, (int, float, np.number)) and not isinstance(other, bool):
            return create_op(scalar_op, self, scalar=other)
        return NotImplemented

    def _reversed(self, other, scalar_op):
        if isinstance(other, (int, float, np.number)) and not isinstance(other, bool):
            return create_op(scalar_op, self, scalar=other)
        return NotImplemented

    def __add__(self, other):
        return self._binary(other, "_Plus", "_PlusScalar")

    def __radd__(self, other):
        return self._reversed(other, "_PlusScalar")

    def __sub__(self, other):
        return self._binary(other, "_Minus", "_MinusScalar")

    def __rsub__(self, other):
        return self._reversed(other, "_RMinusScalar")

    def __mul__(self, other):
        return self._binary(other, "_Mul", "_MulScalar")

    def __rmul__(self, other):
        return self._reversed(other, "_MulScalar")

    def __truediv__(self, other):
        return self._binary(other, "_Div", "_DivScalar")

    def __rtruediv__(self, other):
        return self._reversed(other, "_RDivScalar")

    def __pow__(self, other):
        return self._binary(other, "_Power", "_PowerScalar")

    def __rpow__(self, other):
        return self._reversed(other, "_rpower_scalar")

    def __mod__(self, other):
        return self._binary(other, "_Mod", "_ModScalar")

    def __rmod__(self, other):
        return self._reversed(other, "_RModScalar")

    def __neg__(self):
        return self.__mul__(-1.0)

    def __abs__(self):
        return create_op("abs", self)

    # Comparisons build graph nodes, as MXNet's do (`3 > x` is x.__lt__(3): _lesser_scalar), so a
    # Symbol is unhashable and has no truth value: `if a == b` would otherwise always pass.
    def __eq__(self, other):
        return self._binary(other, "_equal", "_equal_scalar")

    def __ne__(self, other):
        return self._binary(other, "_not_equal", "_not_equal_scalar")

    def __gt__(self, other):
        return self._binary(other, "_greater", "_greater_scalar")

    def __ge__(self, other):
        return self._binary(other, "_greater_equal", "_greater_equal_scalar")

    def __lt__(self, other):
        return self._binary(other, "_lesser", "_lesser_scalar")

    def __le__(self, other):
        return self._binary(other, "_lesser_equal", "_lesser_equal_scalar")

    __hash__ = None

    def __bool__(self):
        raise NotImplementedForSymbol(self.__bool__, "bool")

    # -- inference, serialization, binding --------------------------------------------------

    def infer_shape(self, *args, **kwargs):
        """(arg_shapes, out_shapes, aux_shapes) from input shapes given by position (in
        list_arguments order) or by name; (None, None, None) while some shape is unknown.
        A 0 in a given shape marks an unknown dimension, as in MXNet."""
        from ..infer import infer_shape
        return infer_shape(self, args, kwargs, partial=False)

    def infer_shape_partial(self, *args, **kwargs):
        """As infer_shape, but returns what is known: () for an unknown shape, 0 for an unknown
        dimension."""
        from ..infer import infer_shape
        return infer_shape(self, args, kwargs, partial=True)

    def infer_type(self, *args, **kwargs):
        """(arg_types, out_types, aux_types) as NumPy scalar types from input dtypes given by
        position or by name; (None, None, None) while some dtype is unknown."""
        from ..infer import infer_type
        return infer_type(self, args, kwargs)

    def infer_type_partial(self, *args, **kwargs):
        """As infer_type, but what cannot be inferred is None instead of failing the whole."""
        from ..infer import infer_type
        return infer_type(self, args, kwargs, partial=True)

    def tojson(self):
        """The graph in MXNet's JSON format (nodes, arg_nodes, node_row_ptr, heads, attrs), which
        MXNet 1.x loads; :func:`cysym.symbol.load_json` reads it back.

        Returns
        -------
        str
            The same text MXNet writes for the same graph (attribute values are strings).
        """
        from .json_format import to_json
        return to_json(self)

    def save(self, fname, remove_amp_cast=True):
        """Write tojson() to fname (through a temporary file, so a failure leaves it intact)."""
        atomic_write(fname, self.tojson())

    def debug_str(self):
        """MXNet's textual dump of the graph: outputs, then every node with inputs and attrs."""
        lines = ["Symbol Outputs:"]
        for i, (node, index) in enumerate(self._outputs):
            lines.append(f"\toutput[{i}]={node.name}({index})")
        for node in self._nodes():
            if node.is_variable:
                lines.append(f"Variable:{node.name}")
                continue
            lines.append("-" * 20)
            lines.append(f"Op:{node.op.name}, Name={node.name}")
            lines.append("Inputs:")
            for i, (src, index) in enumerate(node.inputs):
                version = 1 if i >= node.num_args() and src.is_variable else 0
                lines.append(f"\targ[{i}]={src.name}({index}) version={version}")
            if node.attrs:
                lines.append("Attrs:")
                lines.extend(f"\t{k}={v}" for k, v in sorted(node.attrs.items()))
        return "\n".join(lines) + "\n"

    def simple_bind(self, ctx=None, grad_req="write", type_dict=None, stype_dict=None,
                    group2ctx=None, shared_arg_names=None, shared_exec=None,
                    shared_buffer=None, **kwargs):
        """Infer every shape and dtype from the given input shapes, allocate all arrays, and bind.

        Arguments, gradients and auxiliary states are allocated (zeros); the intermediate buffers
        are planned into one arena (see :meth:`cysym.executor.Executor.memory_stats`).

        Parameters
        ----------
        ctx : Context, optional
            ``cpu()`` (the default); other contexts are refused.
        grad_req : str, list or dict
            ``'write'``, ``'add'`` or ``'null'``, for every argument, per argument in
            :meth:`list_arguments` order, or by name.
        type_dict : dict of str to dtype, optional
            Input dtypes; by default float32 for every argument without a ``__dtype__`` attribute.
        shared_exec : Executor, optional
            Reuse this executor's argument and gradient arrays where names, shapes and dtypes agree
            (MXNet's bucketing).
        **kwargs
            Input shapes by name (``data=(32, 784)``); other keywords are ignored, as in MXNet.

        Returns
        -------
        Executor

        Notes
        -----
        ``stype_dict``, ``group2ctx``, ``shared_arg_names`` and ``shared_buffer`` are accepted for
        compatibility and ignored: cysym has dense storage on one CPU context, and plans its own memory.
        """
        from ..executor import simple_bind
        # as MXNet, keywords that are not shapes (a stray axis=1) are ignored
        shapes = {k: v for k, v in kwargs.items() if isinstance(v, (tuple, list))}
        return simple_bind(self, ctx, grad_req=grad_req, type_dict=type_dict,
                           shared_exec=shared_exec, shapes=shapes)

    def bind(self, ctx=None, args=None, args_grad=None, grad_req="write", aux_states=None,
             group2ctx=None, shared_exec=None):
        """Bind the symbol to the given arrays (used in place, not copied).

        Parameters
        ----------
        ctx : Context, optional
            ``cpu()`` (the default); other contexts are refused.
        args : list or dict of NDArray
            One array per argument, in :meth:`list_arguments` order or by name.
        args_grad : list or dict of NDArray, optional
            Arrays to receive the gradients; None computes no gradient. A dict may leave some out.
        grad_req : str, list or dict
            ``'write'``, ``'add'`` or ``'null'``, for every argument or per argument.
        aux_states : list or dict of NDArray, optional
            One array per auxiliary state.
        group2ctx, shared_exec
            Accepted for compatibility and ignored.

        Returns
        -------
        Executor
            Its shapes inferred from the arrays, its backward graph built and its memory planned.
        """
        from ..executor import bind
        return bind(self, ctx, args, args_grad=args_grad, grad_req=grad_req,
                    aux_states=aux_states, shared_exec=shared_exec)

    def gradient(self, wrt):
        """Not supported, as in MXNet 1.x: bind the symbol and call ``backward``.

        Raises
        ------
        MXNetError
            Always.
        """
        raise MXNetError("Symbol.gradient is not supported (as in MXNet 1.x); bind and call backward")


# -- creation -----------------------------------------------------------------------------

def Variable(name, attr=None, shape=None, lr_mult=None, wd_mult=None, dtype=None, init=None,
             stype=None, **kwargs):
    """A free variable named `name`: an argument or auxiliary state of the graphs using it."""
    if not isinstance(name, str):
        raise TypeError(f"Variable name must be a string, got {name!r}")
    attrs = {_stored_key(k): v for k, v in AttrScope.current().get(attr).items()}
    if shape is not None:
        # MXNet stores str(shape): a list is written "[2, 3]", a tuple "(2, 3)"
        attrs["__shape__"] = str(shape) if isinstance(shape, (tuple, list)) else format_value(tuple(shape))
    if lr_mult is not None:
        attrs["__lr_mult__"] = format_value(lr_mult)
    if wd_mult is not None:
        attrs["__wd_mult__"] = format_value(wd_mult)
    if dtype is not None:
        attrs["__dtype__"] = str(dtype_code(dtype))
    if init is not None:
        attrs["__init__"] = init if isinstance(init, str) else init.dumps()
    if stype is not None:
        attrs["__storage_type__"] = str(stype)
    for key, value in kwargs.items():
        if not (key.startswith("__") and key.endswith("__")):
            raise ValueError(f"Attribute name={key} is not supported. Additional attributes "
                             "must start and end with double underscores, e.g. __yourattr__")
        attrs[key] = format_value(value)
    for key, value in attrs.items():
        if not isinstance(value, str):
            raise ValueError(f"Variable {name!r}: attribute {key!r} must be a string, got {value!r}")
    return Symbol([(Node(None, name, attrs), 0)])


var = Variable


def Group(symbols):
    """One symbol whose outputs are the outputs of all `symbols`, in order."""
    symbols = list(symbols)
    if not symbols or any(not isinstance(s, Symbol) for s in symbols):
        raise TypeError("Group expects a non-empty list of Symbols")
    return Symbol([entry for s in symbols for entry in s._outputs])


def _single_entry(value, op, name, input_name):
    if not isinstance(value, Symbol):
        raise TypeError(f"{op.label(name)}: input '{input_name}' must be a Symbol, "
                        f"not {type(value).__name__}")
    if len(value._outputs) != 1:
        raise OperatorError(f"{op.label(name)}: input '{input_name}' is a group of "
                            f"{len(value._outputs)} outputs; pick one with [index]")
    return value._outputs[0]


def create_op(func_name, *args, hint=None, **kwargs):
    """Apply the operator registered as `func_name` (name or alias), MXNet-style.

    Positional args and keyword Symbols are inputs; other keywords are parameters;
    missing inputs become variables `<name>_<input>` carrying the node's attributes.
    An unnamed node is named after `hint` (default: func_name), lowercased, as MXNet names it
    after the function called (`mx.sym.contrib.arange_like` makes `arange_like0`).
    """
    op = find_op(func_name)
    if op is None:
        raise OperatorError(unknown_operator_message(func_name))
    name = kwargs.pop("name", None)
    attr = kwargs.pop("attr", None)
    # An input passed as None is simply not given (MXNet creates its variable).
    kwargs = {k: v for k, v in kwargs.items() if v is not None or k in op.params}
    args = _positional_params(op, name, args, kwargs)
    given_inputs = {k: v for k, v in kwargs.items() if isinstance(v, Symbol)}
    given_params = {k: v for k, v in kwargs.items() if not isinstance(v, Symbol)}
    # MXNet's generated functions pass np.dtype(dtype).name, so dtype=np.float32 works
    if op.params.get("dtype") is not None and op.params["dtype"].kind == "str" \
            and given_params.get("dtype") is not None and not isinstance(given_params["dtype"], str):
        try:
            given_params["dtype"] = np.dtype(given_params["dtype"]).name
        except TypeError:
            pass    # parse_params reports the bad value
    if op.variadic:
        if given_inputs:
            raise OperatorError(f"{op.label(name)} takes its inputs as positional arguments, "
                                f"got keyword inputs {sorted(given_inputs)}")
        given_params.setdefault(op.variadic, len(args))
    # hidden keys (lr_mult, ctx_group, ...) are attributes, not parameters, as in MXNet
    user_attrs = {}
    for key in [k for k in given_params if k not in op.params]:
        stored = _stored_key(key, OperatorError)
        if stored != key:
            user_attrs[stored] = format_value(given_params.pop(key))
    unknown = [k for k in given_params if k not in op.params]
    if not op.variadic:
        input_keys = op.input_names(_defaults(op)) + op.aux_names(_defaults(op))
        for key in unknown:
            if key in input_keys:
                raise TypeError(f"{op.label(name)}: input '{key}' must be a Symbol, "
                                f"not {type(given_params[key]).__name__}")
    if unknown:
        raise OperatorError(
            f"{op.label(name)}: unknown parameter{'s' if len(unknown) > 1 else ''} "
            f"{', '.join(repr(k) for k in unknown)}. Parameters: {op.param_summary()}"
            + ("" if op.variadic else f"; inputs: {op.input_names(_defaults(op))}"))
    params = op.parse_params(given_params, name)
    if op.counts_inputs(params) and params[op.variadic] != len(args):
        raise OperatorError(f"{op.label(name)}: {op.variadic}={params[op.variadic]} but "
                            f"{len(args)} inputs were given")
    input_names = op.input_names(params) + op.aux_names(params)
    # None stands for an input not given: Convolution(x, w, None, no_bias=True) as in MXNet
    while len(args) > len(input_names) and args[-1] is None:
        args.pop()
    if not op.counts_inputs(params) and len(args) > len(input_names):
        raise OperatorError(f"{op.label(name)}: {len(args)} positional inputs given, "
                            f"but it takes {input_names}")
    for position, value in enumerate(args):
        key = input_names[position]
        if value is None:
            continue
        if key in given_inputs:
            raise OperatorError(f"{op.label(name)}: input '{key}' given twice")
        given_inputs[key] = value
    known_inputs = set(input_names)
    extra = [k for k in given_inputs if k not in known_inputs]
    if extra:
        raise OperatorError(f"{op.label(name)}: unknown input {extra[0]!r}; inputs are {input_names}")

    name = NameManager.current().get(name, (hint or func_name).lower())
    attrs = {k: format_value(v) for k, v in given_params.items()}
    attrs.update(user_attrs)
    for key, value in AttrScope.current().get(attr).items():
        if not isinstance(value, str):
            raise ValueError(f"{op.label(name)}: attribute {key!r} must be a string, got {value!r}")
        attrs[_stored_key(key, OperatorError)] = value
    node = Node(op, name, attrs)
    node._params = params
    for key in input_names:
        if key in given_inputs:
            node.inputs.append(_single_entry(given_inputs[key], op, name, key))
        else:
            var_attrs = dict(attrs)
            var_attrs.update(op.var_attrs.get(key, {}))
            node.inputs.append((Node(None, f"{name}_{key}", var_attrs), 0))
    return Symbol([(node, i) for i in range(node.num_visible_outputs())])


def _positional_params(op, name, args, kwargs):
    """Leading Symbols (or None placeholders) are inputs; values after them fill parameters
    in declaration order, as MXNet's generated signatures allow (`x.reshape((2, 3))`)."""
    count = 0
    while count < len(args) and (args[count] is None or isinstance(args[count], Symbol)):
        count += 1
    inputs, values = list(args[:count]), args[count:]
    if values:
        names = [p for p in op.params if p != op.variadic]
        if len(values) > len(names):
            raise OperatorError(f"{op.label(name)}: too many positional arguments {values!r}")
        for key, value in zip(names, values):
            if key in kwargs:
                raise OperatorError(f"{op.label(name)}: parameter '{key}' given twice")
            kwargs[key] = value
    return inputs


def _defaults(op):
    return {k: (p.default if not p.required else None) for k, p in op.params.items()}


def _fluent(func_name, doc):
    def method(self, *args, **kwargs):
        return create_op(func_name, self, *args, **kwargs)
    method.__name__ = func_name
    method.__doc__ = f"Fluent form of cysym.sym.{func_name}(self, ...): {doc}"
    return method


# MXNet's fluent methods call the lower-case operator names, which is why `x.reshape(...)`
# is named `reshape0` while the JSON op is `Reshape`.
for _func_name, _doc in (
        ("reshape", "Reshape"), ("flatten", "Flatten"), ("sum", "sum over axes"),
        ("mean", "mean over axes"), ("max", "max over axes"), ("min", "min over axes"),
        ("transpose", "permute axes"), ("expand_dims", "insert an axis"),
        ("exp", "exp"), ("log", "log"), ("sqrt", "sqrt"), ("rsqrt", "1/sqrt"),
        ("square", "square"), ("abs", "abs"), ("sign", "sign"), ("relu", "relu"),
        ("sigmoid", "sigmoid"), ("tanh", "tanh"), ("softmax", "softmax"),
        ("log_softmax", "log_softmax"), ("clip", "clip"), ("zeros_like", "zeros_like"),
        ("ones_like", "ones_like"), ("dot", "dot"), ("split", "SliceChannel"),
        ("slice", "slice"), ("slice_axis", "slice_axis"), ("swapaxes", "SwapAxis"),
        ("broadcast_to", "broadcast_to"), ("broadcast_like", "broadcast_like"), ("tile", "tile"),
        ("repeat", "repeat"), ("argmax", "argmax"), ("argmin", "argmin"),
        ("argmax_channel", "argmax_channel"), ("one_hot", "one_hot"), ("pick", "pick"),
        ("take", "take"), ("reshape_like", "reshape_like")):
    setattr(Symbol, _func_name, _fluent(_func_name, _doc))
del _func_name, _doc


# MXNet's other fluent methods: installed by install_fluent_methods() for the operators that are
# registered once every operator module has loaded
_FLUENT_IF_REGISTERED = (
    "argsort", "sort", "topk", "prod", "nansum", "nanprod", "norm", "round", "rint", "fix", "floor",
    "ceil", "trunc", "squeeze", "flip", "shape_array", "size_array", "broadcast_axes", "pad",
    "slice_like", "depth_to_space", "space_to_depth", "diag", "reciprocal", "cbrt", "rcbrt",
    "sin", "cos", "tan", "arcsin", "arccos", "arctan", "sinh", "cosh", "arcsinh", "arccosh",
    "arctanh", "degrees", "radians", "expm1", "log1p", "log2", "log10", "softmin", "split_v2")


def install_fluent_methods():
    """Add the fluent methods of _FLUENT_IF_REGISTERED whose operators are registered."""
    for func_name in _FLUENT_IF_REGISTERED:
        if not hasattr(Symbol, func_name) and find_op(func_name) is not None:
            setattr(Symbol, func_name, _fluent(func_name, func_name))


def _ndarray_only(method_name):
    def method(self, *args, **kwargs):
        raise NotImplementedForSymbol(method, None, *args)
    method.__name__ = method_name
    method.__doc__ = "An NDArray method: a Symbol has no values (NotImplementedForSymbol, as in MXNet)."
    return method


for _method_name in ("asnumpy", "asscalar", "as_in_context", "copy", "wait_to_read", "backward", "detach"):
    setattr(Symbol, _method_name, _ndarray_only(_method_name))
del _method_name


def _eval(self, ctx=None, **kwargs):
    """The outputs (NDArrays) at the given argument arrays: bind and run forward once."""
    executor = self.bind(ctx, args=kwargs)
    return executor.forward()


Symbol.eval = _eval


def _astype(self, dtype, **kwargs):
    """Fluent form of cysym.sym.cast(self, dtype=...): as MXNet's Symbol.astype."""
    return create_op("cast", self, dtype=dtype, **kwargs)


Symbol.astype = _astype


# -- MXNet's binary functions of symbols and numbers ---------------------------------------------

_NUMBER_TYPES = (int, float, np.number)


def _symbol_or_number(left, right, both, scalar, reversed_scalar, numbers):
    """MXNet's dispatch: both symbols, symbol and number, number and symbol, two numbers."""
    if isinstance(left, Symbol) and isinstance(right, Symbol):
        return create_op(both, left, right)
    if isinstance(left, Symbol) and isinstance(right, _NUMBER_TYPES):
        return create_op(scalar, left, scalar=right)
    if isinstance(left, _NUMBER_TYPES) and isinstance(right, Symbol):
        return create_op(reversed_scalar, right, scalar=left)
    if isinstance(left, _NUMBER_TYPES) and isinstance(right, _NUMBER_TYPES):
        return numbers(left, right)
    raise TypeError(f"types ({type(left)}, {type(right)}) not supported")


def pow(base, exp):  # noqa: A001  (MXNet's name)
    """base ** exp for symbols and numbers (_Power, _PowerScalar, _RPowerScalar)."""
    return _symbol_or_number(base, exp, "_Power", "_PowerScalar", "_RPowerScalar",
                             lambda a, b: a ** b)


def power(base, exp):
    """Alias of pow."""
    return pow(base, exp)


def maximum(left, right):
    """Element-wise maximum of symbols and numbers (_Maximum, _MaximumScalar)."""
    return _symbol_or_number(left, right, "_Maximum", "_MaximumScalar", "_MaximumScalar",
                             lambda a, b: a if a > b else b)


def minimum(left, right):
    """Element-wise minimum of symbols and numbers (_Minimum, _MinimumScalar)."""
    return _symbol_or_number(left, right, "_Minimum", "_MinimumScalar", "_MinimumScalar",
                             lambda a, b: a if a < b else b)


def hypot(left, right):
    """sqrt(left^2 + right^2) of symbols and numbers (_Hypot, _HypotScalar)."""
    return _symbol_or_number(left, right, "_Hypot", "_HypotScalar", "_HypotScalar",
                             lambda a, b: float(np.hypot(a, b)))
