"""Pictures of a network: a text summary table and a graphviz drawing (MXNet's mx.viz)."""
import numpy as np


__all__ = ["print_summary", "plot_network"]


def _shapes(symbol, shape):
    """Output shape per entry name of the internals, when input shapes are given."""
    if not shape:
        return {}
    internals = symbol.get_internals()
    _, out_shapes, _ = internals.infer_shape_partial(**shape)
    return dict(zip(internals.list_outputs(), out_shapes))


def _is_parameter(node, shape):
    return node.is_variable and node.name not in (shape or {}) and not node.name.endswith("label")


def _slot_names(node):
    """The operator's name for each input of node ('data', 'weight', 'label', ...)."""
    if node.is_variable:
        return []
    try:
        names = node.op.input_names(node.params) + node.op.aux_names(node.params)
    except Exception:   # an operator that cannot name its inputs: no names
        names = []
    return names + [None] * (len(node.inputs) - len(names))


def summary_rows(symbol, shape=None):
    """(layer, output shape without the batch axis, parameter count, previous layers) per node.

    As MXNet's print_summary, the count is of learned parameters: auxiliary states (BatchNorm's
    moving mean and variance) are not counted, so a BatchNorm layer has 2 * channels."""
    entry_shapes = _shapes(symbol, shape)
    aux_names = set(symbol.list_auxiliary_states())
    rows, total = [], 0
    for node in symbol._nodes():
        if node.is_variable and _is_parameter(node, shape):
            continue
        if node.is_variable and node.name.endswith("label"):
            continue
        params = 0
        for src, slot in zip((src for src, _ in node.inputs), _slot_names(node)):
            if slot == "label":     # a loss's label, whatever its variable is called
                continue
            if _is_parameter(src, shape) and src.name not in aux_names:
                src_shape = entry_shapes.get(src.name)
                params += int(np.prod(src_shape)) if src_shape else 0
        total += params
        out_shape = entry_shapes.get(node.output_name(0)) or ()
        previous = [src.name for src, _ in node.inputs if not _is_parameter(src, shape)
                    and not src.name.endswith("label")]
        kind = "null" if node.is_variable else node.op.name
        rows.append((f"{node.name}({kind})", tuple(out_shape[1:]), params, previous))
    return rows, total


def print_summary(symbol, shape=None, line_length=120, positions=(0.44, 0.64, 0.74, 1.0)):
    """Print a table of layers: name(type), output shape, parameter count, previous layers;
    then the total parameter count.  `shape` maps input names to shapes (batch first)."""
    from .symbol import Symbol
    if not isinstance(symbol, Symbol):
        raise TypeError("print_summary expects a Symbol")
    rows, total = summary_rows(symbol, shape)
    stops = [int(line_length * p) for p in positions]

    def line(fields):
        text = ""
        for field, stop in zip(fields, stops):
            text = (text + str(field))[:stop - 1].ljust(stop)
        print(text.rstrip())

    print("_" * line_length)
    line(["Layer (type)", "Output Shape", "Param #", "Previous Layer"])
    print("=" * line_length)
    for k, (layer, out_shape, params, previous) in enumerate(rows):
        shown = "x".join(str(d) for d in out_shape) if out_shape else ""
        line([layer, shown, params, previous[0] if previous else ""])
        for extra in previous[1:]:
            line(["", "", "", extra])
        print(("=" if k == len(rows) - 1 else "_") * line_length)
    print(f"Total params: {total}")
    print("_" * line_length)
    return total


_COLORS = {"FullyConnected": "#fb8072", "Convolution": "#fb8072", "Activation": "#ffffb3",
           "LeakyReLU": "#ffffb3", "BatchNorm": "#bebada", "Pooling": "#80b1d3",
           "Concat": "#fdb462", "Flatten": "#fdb462", "Reshape": "#fdb462",
           "SoftmaxOutput": "#b3de69"}


def _label(node):
    if node.is_variable:
        return node.name
    p = node.params
    if node.op.name == "FullyConnected":
        return f"FullyConnected\n{p['num_hidden']}"
    if node.op.name == "Convolution":
        kernel = "x".join(map(str, p["kernel"]))
        return f"Convolution\n{kernel}, {p['num_filter']}"
    if node.op.name in ("Activation", "LeakyReLU"):
        return f"{node.op.name}\n{p['act_type']}"
    if node.op.name == "Pooling":
        return f"Pooling\n{p['pool_type']}, " + "x".join(map(str, p["kernel"]))
    return f"{node.op.name}\n{node.name}"


def plot_network(symbol, title="plot", save_format="pdf", shape=None, dtype=None,
                 node_attrs=None, hide_weights=True):
    """A graphviz.Digraph of the network (needs the `graphviz` package: pip install graphviz,
    and the system `dot` program to render it).  Edges are labelled with shapes when given."""
    try:
        from graphviz import Digraph
    except ImportError as err:
        raise ImportError("plot_network needs the graphviz package: pip install 'cysym[viz]' "
                          "(and the 'dot' program: apt-get install graphviz)") from err
    from .symbol import Symbol
    if not isinstance(symbol, Symbol):
        raise TypeError("plot_network expects a Symbol")
    entry_shapes = _shapes(symbol, shape)
    # MXNet's node style, a little wider: "FullyConnected" and "softmax_label" overflow 1.3 inches
    style = {"shape": "box", "fixedsize": "true", "width": "1.7", "height": "0.8034", "style": "filled"}
    style.update(node_attrs or {})
    graph = Digraph(name=title, format=save_format)
    hidden = set()
    for node in symbol._nodes():
        if node.is_variable and hide_weights and _is_parameter(node, shape or {}) \
                and node.name.rsplit("_", 1)[-1] in ("weight", "bias", "gamma", "beta", "var", "mean",
                                                     "moving_mean", "moving_var", "label"):
            hidden.add(id(node))
            continue
        attrs = dict(style)
        attrs["fillcolor"] = "#8dd3c7" if node.is_variable else _COLORS.get(node.op.name, "#fccde5")
        if node.is_variable:
            attrs["shape"] = "oval"
        graph.node(name=node.name, label=_label(node), **attrs)
    for node in symbol._nodes():
        if node.is_variable:
            continue
        for src, index in node.inputs:
            if id(src) in hidden:
                continue
            edge_shape = entry_shapes.get(src.output_name(index))
            label = "x".join(map(str, edge_shape[1:])) if edge_shape else ""
            graph.edge(tail_name=node.name, head_name=src.name, label=label, dir="back",
                       arrowtail="open")
    return graph
