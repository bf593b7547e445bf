"""Graph nodes and the traversal every layer shares (DFS post-order, as nnvm's DFSVisit)."""

import contextlib
import gc
import itertools
import operator

__all__ = ["Node", "topo_order", "gc_paused", "EntryIndex", "operators_of"]


@contextlib.contextmanager
def gc_paused():
    """Run a pass that creates an object per node or entry with Python's cyclic garbage collector
    paused: on a large graph each collection it triggers walks every live object (a 10^5-node
    chain: loading took 9 s instead of 1). Nothing such a pass creates is garbage in a cycle.

    What the pass leaves (a graph, a plan) lives long: it goes to the oldest generation at
    once (freeze then unfreeze moves every tracked object there, without walking them),
    instead of the next young collection walking each of its objects (0.2-0.5 s after a
    10^5-node pass); a full collection still looks at them.  Not when the program keeps
    objects frozen itself (gc.freeze before a fork): unfreeze would thaw those too."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            if not gc.get_freeze_count():
                gc.freeze()
                gc.unfreeze()
            gc.enable()


class Node:
    """One graph node: a variable (op is None) or an operator application.

    attrs holds MXNet's string-valued attributes (the parameters the user gave plus user
    attributes such as `__lr_mult__`); inputs are (node, output_index) entries, arguments
    first, then auxiliary states.
    """

    __slots__ = ("op", "name", "attrs", "inputs", "_params", "_output_names", "_num_args")

    def __init__(self, op, name, attrs=None, inputs=()):
        self.op = op
        self.name = name
        self.attrs = dict(attrs or {})
        self.inputs = list(inputs)
        self._params = None
        self._output_names = None
        self._num_args = None

    @classmethod
    def built(cls, op, name, attrs, inputs, params=None, output_names=None, num_args=None):
        """A node that owns `attrs` and `inputs` as given (no copies), with its caches (parsed
        parameters, (params, output names), (params, argument count)) already known: for
        loaders that make 10^5 of them from objects nobody else holds."""
        node = cls.__new__(cls)
        node.op = op
        node.name = name
        node.attrs = attrs
        node.inputs = inputs
        node._params = params
        node._output_names = output_names
        node._num_args = num_args
        return node

    @property
    def is_variable(self):
        """True for a variable (an input of the graph), which has no operator."""
        return self.op is None

    @property
    def params(self):
        """Parsed operator parameters (cached; attrs of an op node are not changed after creation)."""
        if self._params is None:
            self._params = self.op.parse_params(self.attrs, self.name) if self.op else {}
        return self._params

    def output_names(self):
        """The operator's output names for these params, built once per params (a SliceChannel
        may have 65,536, and every reference to one of them asks)."""
        params = self.params
        if self._output_names is None or self._output_names[0] is not params:
            self._output_names = (params, self.op.output_names(params))
        return self._output_names[1]

    def num_outputs(self):
        """How many outputs the node has, hidden ones included (1 for a variable)."""
        if self.op is None:
            return 1
        cached = self._output_names     # output_names() without its calls: inference asks per node
        if cached is not None and cached[0] is self._params is not None:
            return len(cached[1])
        return len(self.output_names())

    def num_visible_outputs(self):
        """How many outputs a Symbol of this node shows (MXNet hides some, e.g. BatchNorm's mean)."""
        return 1 if self.op is None else self.op.num_visible_outputs(self.params)

    def output_name(self, index):
        """'<node>_<output>' of output `index` (a variable's own name)."""
        if self.op is None:
            return self.name
        return f"{self.name}_{self.output_names()[index]}"

    def num_args(self):
        """How many leading inputs are arguments (the rest are auxiliary states); built once per
        params, as output_names."""
        if self.op is None:
            return 0
        params = self.params
        if self._num_args is None or self._num_args[0] is not params:
            self._num_args = (params, len(self.op.input_names(params)))
        return self._num_args[1]

    def __repr__(self):
        return f"<Node {self.op.name if self.op else 'null'} {self.name}>"


def operators_of(nodes):
    """The distinct operators (OpDefs) of `nodes`, found in a pass in C: for the checks and
    passes that have nothing to do on most graphs, and would otherwise look at every node."""
    ops = set(map(_op_of, nodes))
    ops.discard(None)
    return ops


def topo_order(heads):
    """Nodes reachable from the head entries, each after its inputs (DFS post-order).

    Iterative, so that deep graphs do not hit Python's recursion limit: each node on the path
    keeps an iterator over its inputs, which the inner for-loop advances without a Python step
    per input already visited.
    """
    order = []
    visited = set()
    for head, _ in heads:
        if id(head) in visited:
            continue
        visited.add(id(head))
        path, pending = [head], [iter(head.inputs)]
        while path:
            for child, _ in pending[-1]:
                if id(child) not in visited:
                    visited.add(id(child))
                    path.append(child)
                    pending.append(iter(child.inputs))
                    break
            else:
                pending.pop()
                order.append(path.pop())
    return order


class EntryIndex:
    """The entries (node outputs) of a node list numbered 0..count-1, so that what inference
    and bind know of each entry is a list indexed by entry id rather than a dict keyed by
    (id(node), output): a node's outputs are consecutive, from first[position].

    nodes: the list numbered, in topological order; first[p], num_outputs[p]: node p's first
    entry and output count; inputs[p]: the entry ids node p reads (a list); count: how many
    entries there are; start: id(node) -> first entry, also of nodes outside the list that it
    reads (numbered when first read, so that inference over part of a graph sees their values)
    and of nodes that `aliases` ({(id(replaced node), index): (node of the list, index)})
    replaces; keys[e]: the (id(node), output) of entry e, to go to and from the dicts other
    passes keep.  Each step is a pass in C over all nodes where it can be (map, zip,
    accumulate): a 10^5-node graph is numbered at every bind."""

    __slots__ = ("nodes", "first", "num_outputs", "inputs", "count", "params", "_start", "_keys",
                 "_op_positions")

    def __init__(self, nodes, aliases=None, base=None):
        """Number `nodes`; after the entries of the EntryIndex `base` (whose nodes come first)
        when given."""
        if base is None:
            self.nodes, self.first, self.num_outputs, self.inputs, self.params = [], [], [], [], []
            self.count, self._start, self._keys = 0, {}, []
        else:
            self.nodes, self.first = list(base.nodes), list(base.first)
            self.num_outputs = list(base.num_outputs)
            self.inputs, self.params, self.count = list(base.inputs), list(base.params), base.count
            self._start, self._keys = dict(base.start), list(base.keys)
        counts = list(map(Node.num_outputs, nodes))
        firsts = list(itertools.accumulate(counts, initial=self.count))
        self._number(nodes, counts, firsts)
        start = self._start
        start.update(zip(map(id, nodes), firsts))
        for (replaced_id, replaced_index), (target, index) in (aliases or {}).items():
            start[replaced_id] = start[id(target)] + index - replaced_index
        # every node's inputs in one flat list of entry ids, then cut into a list per node
        node_inputs = list(map(_inputs_of, nodes))
        bounds = list(itertools.accumulate(map(len, node_inputs), initial=0))
        pairs = list(itertools.chain.from_iterable(node_inputs))
        try:
            flat = list(map(operator.add, map(start.__getitem__, map(id, map(_first, pairs))),
                            map(_second, pairs)))
        except KeyError:    # a node outside the list: numbered when first read
            flat = [self._first_of(src) + index for src, index in pairs]
        self.inputs += map(flat.__getitem__, map(slice, bounds[:-1], bounds[1:]))

    @classmethod
    def of_loaded(cls, nodes, counts, firsts, inputs):
        """The index a loader worked out as it made the nodes (their output counts, first
        entries and the entry ids each reads), without looking at the nodes again."""
        index = cls.__new__(cls)
        index.nodes, index.first, index.num_outputs, index.inputs, index.params = [], [], [], inputs, []
        index.count, index._start, index._keys = 0, None, None
        index._number(nodes, counts, firsts + [firsts[-1] + counts[-1]])
        return index

    def _number(self, nodes, counts, firsts):
        """Append `nodes` (counts: their output counts; firsts: their first entries and the
        next one after them)."""
        self.nodes += nodes
        self.num_outputs += counts
        self.first += firsts[:-1]
        self.count = firsts[-1]
        self.params += map(_parsed_params, nodes)
        if self._keys is not None:
            self._keys += _keys_of(nodes, counts)
        self._op_positions = None

    @property
    def start(self):
        """{id(node): its first entry} (made when first asked for, for a loader's index)."""
        if self._start is None:
            self._start = dict(zip(map(id, self.nodes), self.first))
        return self._start

    @property
    def keys(self):
        """[(id(node), output)] of every entry, in entry order (made when first asked for)."""
        if self._keys is None:
            self._keys = _keys_of(self.nodes, self.num_outputs)
        return self._keys

    @property
    def op_positions(self):
        """The positions of the operator nodes (not variables), in order."""
        if self._op_positions is None:
            self._op_positions = [p for p, node in enumerate(self.nodes) if node.op is not None]
        return self._op_positions

    def _first_of(self, node):
        entry = self._start.get(id(node))
        return self._outside(node) if entry is None else entry

    def _outside(self, node):
        """The first entry of a node outside the list, numbered when first read."""
        first = self._start[id(node)] = self.count
        count = node.num_outputs()
        self._keys += _keys_of([node], [count])
        self.count += count
        return first

    def is_current(self, nodes):
        """Whether this numbers `nodes` (in this order) with the parameters (and so the outputs)
        they had when numbered: Symbol._set_attr drops a node's parsed parameters."""
        same_nodes = nodes is self.nodes or (len(nodes) == len(self.nodes)
                                             and all(map(operator.is_, nodes, self.nodes)))
        return same_nodes and all(map(operator.is_, map(_parsed_params, nodes), self.params))


def _keys_of(nodes, counts):
    """[(id(node), output)] of every output of `nodes`, in order."""
    if counts.count(1) == len(counts):
        return list(zip(map(id, nodes), itertools.repeat(0)))
    return [(id(node), i) for node, count in zip(nodes, counts) for i in range(count)]


_parsed_params = operator.attrgetter("_params")
_op_of = operator.attrgetter("op")
_inputs_of = operator.attrgetter("inputs")
_first, _second = operator.itemgetter(0), operator.itemgetter(1)


def copy_graph(heads, memo):
    """Copies of the nodes reachable from heads (sharing `memo`), and the copied heads."""
    for node in topo_order(heads):
        if id(node) not in memo:
            twin = Node(node.op, node.name, node.attrs,
                        [(memo[id(src)], index) for src, index in node.inputs])
            twin._params = node._params
            memo[id(node)] = twin
    return [(memo[id(node)], index) for node, index in heads]
