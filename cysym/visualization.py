"""Pictures: a network's summary table and graphviz drawing (MXNet's mx.viz), and, beyond MXNet,
a bound executor's memory plan and a training run's curves (matplotlib)."""
import os

import numpy as np


__all__ = ["print_summary", "plot_network", "memory_timeline", "plot_memory", "plot_fit_history"]


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


# -- matplotlib pictures (cysym's own) ---------------------------------------------------------

def _figure(nrows=1, ncols=1, size=(10, 5)):
    """A matplotlib Figure on the Agg canvas: no pyplot, so no global figure state, no window."""
    try:
        from matplotlib.figure import Figure
    except ImportError as err:
        raise ImportError("this picture needs matplotlib: pip install 'cysym[viz]'") from err
    figure = Figure(figsize=size, layout="constrained")
    return figure, figure.subplots(nrows, ncols, squeeze=False)


def _save(figure, path):
    """Save to `path` unless it is None, making its folder first, as graphviz's render does for
    plot_network (the demo writes all three pictures beside each other)."""
    if path is None:
        return
    folder = os.path.dirname(os.fspath(path))
    if folder:
        os.makedirs(folder, exist_ok=True)
    figure.savefig(path, dpi=120)


def memory_timeline(executor):
    """The executor's planned buffers as the planner saw them.

    Parameters
    ----------
    executor : Executor
        A bound executor.

    Returns
    -------
    list of tuple
        One ``(name, first_step, last_step, offset, nbytes)`` per buffer of the arena (arguments,
        auxiliary states and gradients the user holds are not in it). Steps number the bound
        operators in run order (forward, then backward); a buffer is live from the step that
        writes it through the last step that reads it, or to the end if it is an output. Buffers
        that share memory in place have the same offset and touching intervals.
    """
    reads, writes, persistent = executor._plan_steps
    last_step = max(len(reads) - 1, 0)
    producer, last_read = {}, {}
    for step, (ins, outs) in enumerate(zip(reads, writes)):
        for entry in outs:
            producer[entry] = step
        for entry in ins:
            last_read[entry] = step
    offsets = executor._memory["offsets"]
    rows = []
    for entry, (name, _, _) in enumerate(executor._entry_meta):
        if executor._external[entry]:
            continue
        first = producer.get(entry, 0)
        last = last_step if persistent[entry] else max(last_read.get(entry, first), first)
        rows.append((name, first, last, int(offsets[entry]), executor._entry_bytes[entry]))
    return rows


def plot_memory(executor, path=None, title=None):
    """Draw a bound executor's memory plan as a timeline.

    One bar per planned buffer: across the steps where it is live, at its place in the arena
    (offset up to offset + bytes). Forward buffers are blue, backward ones orange, kernel
    workspaces grey; a dashed line marks where the backward pass starts. The title gives the
    planned arena against the naive sum of all buffers and the peak-live lower bound.

    Parameters
    ----------
    executor : Executor
        A bound executor (``symbol.simple_bind(...)``, ``module._exec``).
    path : str, optional
        Where to save the picture; the format follows the extension (``.png``, ``.svg``,
        ``.pdf``). None only returns the figure.
    title : str, optional
        A first title line (the byte counts follow on the second).

    Returns
    -------
    matplotlib.figure.Figure
        The figure; its axes hold one bar (``Rectangle``) per buffer of
        :func:`memory_timeline`, in that order.

    Notes
    -----
    MXNet has no such picture; its planner's result is only visible through
    ``Executor.debug_str()``, which cysym also prints.
    """
    rows = memory_timeline(executor)
    stats = executor.memory_stats()
    forward_steps = executor._forward_count
    figure, axes = _figure()
    ax = axes[0][0]
    colors = ["#bbbbbb" if name.endswith("_workspace") else
              ("#4c72b0" if first < forward_steps else "#dd8452") for name, first, _, _, _ in rows]
    ax.bar([first for _, first, _, _, _ in rows], [nbytes for *_, nbytes in rows],
           width=[last + 1 - first for _, first, last, _, _ in rows],
           bottom=[offset for _, _, _, offset, _ in rows], align="edge", color=colors,
           edgecolor="black", linewidth=0.3)
    from matplotlib.patches import Patch
    ax.legend(handles=[Patch(color="#4c72b0", label="forward"), Patch(color="#dd8452", label="backward"),
                       Patch(color="#bbbbbb", label="workspace")],
              loc="upper left", bbox_to_anchor=(1.0, 1.0))
    steps = max(len(executor._plan_steps[0]), 1)
    if 0 < forward_steps < steps:
        ax.axvline(forward_steps, color="black", linestyle="--", linewidth=0.8)
    ax.axhline(stats["planned_bytes"], color="black", linewidth=0.8)
    ax.set_xlim(0, steps)
    ax.set_ylim(0, max(stats["planned_bytes"], 1) * 1.02)
    ax.set_xlabel("step (bound operator, in run order)")
    ax.set_ylabel("arena offset (bytes)")
    numbers = (f"planned {stats['planned_bytes']:,} bytes, naive {stats['naive_bytes']:,} bytes, "
               f"lower bound {stats['lower_bound_bytes']:,} bytes")
    ax.set_title(f"{title}\n{numbers}" if title else numbers)
    _save(figure, path)
    return figure


def plot_fit_history(history, path=None, title=None):
    """Draw a training run's metrics per epoch: one panel per metric, training and validation.

    Parameters
    ----------
    history : list of dict
        ``Module.fit_history``: one dict per epoch with ``'epoch'``, ``'train-<metric>'`` and,
        when ``fit`` had ``eval_data``, ``'validation-<metric>'`` items.
    path : str, optional
        Where to save the picture (format from the extension); None only returns the figure.
    title : str, optional
        The figure's title.

    Returns
    -------
    matplotlib.figure.Figure
        One axes per metric, with a line per phase (``'train'``, ``'validation'``) whose data are
        the recorded values.
    """
    if not history:
        raise ValueError("plot_fit_history: the history is empty (run Module.fit first)")
    metrics = []
    for record in history:
        for key in record:
            phase, _, metric = key.partition("-")
            if phase in ("train", "validation") and metric not in metrics:
                metrics.append(metric)
    figure, axes = _figure(1, len(metrics), size=(5 * len(metrics), 4))
    for ax, metric in zip(axes[0], metrics):
        for phase in ("train", "validation"):
            points = [(r["epoch"], r[f"{phase}-{metric}"]) for r in history if f"{phase}-{metric}" in r]
            if points:
                ax.plot(*zip(*points), marker="o", label=phase)
        ax.xaxis.get_major_locator().set_params(integer=True)
        ax.set_xlabel("epoch")
        ax.set_ylabel(metric)
        ax.legend()
    if title:
        figure.suptitle(title)
    _save(figure, path)
    return figure
