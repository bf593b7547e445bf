"""Builds the backward graph of a symbol from the gradient rules kept with each operator.

A gradient rule is `rule(g) -> [entry or None per input]`, where `g` (GradContext) gives
the forward node's inputs, outputs and incoming output gradients as graph entries, and
`g.op(...)` adds a backward node.  Coarse layers add one registered `_backward_<Op>` node
whose kernel computes every input gradient in one pass; fine operators compose existing
operators.  Contributions to one entry from several readers are summed with add_n.
"""
from .base import MXNetError
from .registry import get_op
from .symbol.graph import Node

__all__ = ["GradContext", "build_backward", "HEAD_GRAD_PREFIX"]

HEAD_GRAD_PREFIX = "__head_grad_"


class GradContext:
    """What a gradient rule sees of one forward node, and how it adds backward nodes."""

    def __init__(self, node, out_grads):
        self.node = node
        self.params = node.params
        self.inputs = list(node.inputs)
        self.outputs = [(node, i) for i in range(node.num_outputs())]
        self.out_grads = out_grads
        self._count = 0

    @property
    def name(self):
        """The name of the node whose gradient is being built."""
        return self.node.name

    def op(self, op_name, *inputs, num_outputs=None, **params):
        """Add a node applying `op_name` to entries; returns its output entries (a list when
        the op has several outputs, else the single entry)."""
        op = get_op(op_name)
        attrs = {k: str(v) for k, v in params.items()}
        node = Node(op, f"{self.node.name}_backward{'' if not self._count else self._count}", attrs)
        self._count += 1
        node.inputs = list(inputs)
        expected = len(op.input_names(node.params)) + len(op.aux_names(node.params))
        if len(inputs) != expected:
            raise MXNetError(f"gradient of {self.node.op.name}: {op_name} takes {expected} inputs, "
                             f"got {len(inputs)}")
        outputs = [(node, i) for i in range(node.num_outputs())]
        return outputs if len(outputs) > 1 else outputs[0]

    def forward_attrs(self):
        """The forward node's parameters as attributes, for a `_backward_<Op>` node."""
        return {k: v for k, v in self.node.attrs.items() if k in self.node.op.params}


def _needs_grad(nodes, wanted, integer_entries):
    """id(node) -> True when some output of the node depends on a variable in `wanted`
    through float entries (no gradient flows through an integer array)."""
    needs = {}
    for node in nodes:
        if node.is_variable:
            needs[id(node)] = id(node) in wanted
        else:
            needs[id(node)] = any(needs[id(src)] and (id(src), index) not in integer_entries
                                  for src, index in node.inputs[:node.num_args()])
    return needs


def _sum(contributions, owner):
    if len(contributions) == 1:
        return contributions[0]
    node = Node(get_op("add_n"), f"{owner}_grad_sum", {"num_args": str(len(contributions))})
    node.inputs = list(contributions)
    return (node, 0)


def build_backward(symbol, wanted_args, integer_entries=frozenset()):
    """Gradient entries for the variables in `wanted_args` (a set of node ids).

    integer_entries holds the (id(node), index) entries of integer dtype: as the derivative of
    a rounding is zero, no gradient flows into or through them (MXNet instead passes gradients
    through Cast truncated to integers).

    Returns (gradients, head_grad_nodes): gradients maps id(variable) -> entry (absent when
    no gradient reaches it); head_grad_nodes lists, per symbol output, the variable node
    that receives the caller's head gradient, or None for loss heads (which make their own)
    and integer outputs.
    """
    nodes = symbol._nodes()
    needs = _needs_grad(nodes, wanted_args, integer_entries)
    grads = {}   # (id(node), index) -> list of gradient entries
    head_grad_nodes = []
    for position, (node, index) in enumerate(symbol._outputs):
        if ((node.op is not None and node.op.is_loss(node.params))
                or (id(node), index) in integer_entries):
            head_grad_nodes.append(None)
            continue
        head = Node(None, f"{HEAD_GRAD_PREFIX}{position}")
        head_grad_nodes.append(head)
        grads.setdefault((id(node), index), []).append((head, 0))
    for node in reversed(nodes):
        if node.is_variable or not needs[id(node)]:
            continue
        out_grads = [grads.get((id(node), i)) for i in range(node.num_outputs())]
        if all(g is None for g in out_grads) and not node.op.is_loss(node.params):
            continue
        if node.op.gradient is None:
            wanted_inputs = [node.op.input_names(node.params)[k]
                             for k, (src, _) in enumerate(node.inputs[:node.num_args()])
                             if needs[id(src)]]
            raise MXNetError(f"Gradient of {node.op.name} with respect to {wanted_inputs[0]} is "
                             f"not defined (operator instance '{node.name}')")
        ctx = GradContext(node, [None if g is None else _sum(g, f"{node.name}_out{i}")
                                 for i, g in enumerate(out_grads)])
        input_grads = node.op.gradient(ctx)
        if len(input_grads) < node.num_args():
            raise MXNetError(f"gradient rule of {node.op.name} returned {len(input_grads)} "
                             f"gradients for {node.num_args()} inputs")
        for (src, src_index), grad in zip(node.inputs[:node.num_args()], input_grads):
            if grad is not None and needs[id(src)] and (id(src), src_index) not in integer_entries:
                grads.setdefault((id(src), src_index), []).append(grad)
    gradients = {}
    for node in nodes:
        if not node.is_variable or id(node) not in wanted_args:
            continue
        if (id(node), 0) in grads:
            gradients[id(node)] = _sum(grads[(id(node), 0)], node.name)
        else:
            # as MXNet: a wanted gradient that nothing reaches (labels, BlockGrad) is zero,
            # written every backward so that a stale value never survives
            zero = Node(get_op("zeros_like"), f"{node.name}_zero_grad")
            zero.inputs = [(node, 0)]
            gradients[id(node)] = (zero, 0)
    return gradients, head_grad_nodes
