"""cysym.viz: print_summary (layers, output shapes, parameter counts, totals) and plot_network
(a graphviz.Digraph naming every layer, edges labelled with shapes; SVG when `dot` exists)."""
import builtins
import re
import shutil

import pytest

import cysym as mx
from cysym.demo import lenet, seed_mlp

import graphviz

# the seed MLP on 28x28 inputs: Flatten gives 784 features
MLP_PARAMS = {"fc1": 784 * 128 + 128, "fc2": 128 * 64 + 64, "fc3": 64 * 10 + 10}


def _rows(text):
    """{layer name: (type, the rest of the line split on runs of spaces)} for the table rows."""
    rows = {}
    for line in text.splitlines():
        match = re.match(r"^(\w+)\((\w+)\)\s+(.*)$", line)
        if match:
            rows[match.group(1)] = (match.group(2), re.split(r"\s{2,}", match.group(3).strip()))
    return rows


def test_print_summary_seed_mlp_counts(capsys):
    total = mx.viz.print_summary(seed_mlp(), shape={"data": (1, 28, 28)})
    text = capsys.readouterr().out
    rows = _rows(text)
    assert list(rows) == ["data", "flatten", "fc1", "relu1", "fc2", "relu2", "fc3", "softmax"]
    assert rows["data"] == ("null", ["28x28", "0"])
    assert rows["flatten"] == ("Flatten", ["784", "0", "data"])
    assert rows["fc1"] == ("FullyConnected", ["128", str(MLP_PARAMS["fc1"]), "flatten"])
    assert rows["relu1"] == ("Activation", ["128", "0", "fc1"])
    assert rows["fc2"] == ("FullyConnected", ["64", str(MLP_PARAMS["fc2"]), "relu1"])
    assert rows["fc3"] == ("FullyConnected", ["10", str(MLP_PARAMS["fc3"]), "relu2"])
    assert rows["softmax"] == ("SoftmaxOutput", ["10", "0", "fc3"])
    assert f"Total params: {sum(MLP_PARAMS.values())}" in text      # 109386
    assert total == sum(MLP_PARAMS.values()) == 109386
    assert "Layer (type)" in text and "Output Shape" in text and "Param #" in text
    assert "weight" not in text and "softmax_label" not in text


def test_print_summary_batch_size_does_not_matter(capsys):
    mx.viz.print_summary(seed_mlp(), shape={"data": (1, 28, 28)})
    one = capsys.readouterr().out
    mx.viz.print_summary(seed_mlp(), shape={"data": (7, 28, 28)})
    assert capsys.readouterr().out == one


def test_print_summary_cnn_shapes_and_batchnorm(capsys):
    total = mx.viz.print_summary(lenet(), shape={"data": (2, 1, 8, 8)})
    rows = _rows(capsys.readouterr().out)
    assert rows["conv1"] == ("Convolution", ["16x8x8", str(16 * 1 * 3 * 3 + 16), "data"])
    # as MXNet: gamma and beta; the moving mean and variance are auxiliary states, not counted
    assert rows["bn1"] == ("BatchNorm", ["16x8x8", str(2 * 16), "conv1"])
    assert rows["pool1"][1][:2] == ["16x4x4", "0"]
    assert rows["conv2"] == ("Convolution", ["32x4x4", str(32 * 16 * 9 + 32), "pool1"])
    assert rows["flatten"][1][:2] == ["128", "0"]
    assert rows["fc1"][1][:2] == ["64", str(128 * 64 + 64)]
    assert total == 160 + 32 + 4640 + 8256 + 650


def test_print_summary_lists_every_previous_layer(capsys):
    data = mx.sym.Variable("data")
    a = mx.sym.FullyConnected(data, num_hidden=3, name="left")
    b = mx.sym.FullyConnected(data, num_hidden=5, name="right")
    net = mx.sym.Concat(a, b, dim=1, name="cat")
    mx.viz.print_summary(net, shape={"data": (2, 7)})
    text = capsys.readouterr().out
    cat_line = next(i for i, line in enumerate(text.splitlines()) if line.startswith("cat(Concat)"))
    lines = text.splitlines()
    assert lines[cat_line].split()[-1] == "left"
    assert lines[cat_line + 1].strip() == "right"
    assert "Total params: 64" in text      # 7*3+3 + 7*5+5
    assert _rows(text)["cat"][1][:2] == ["8", "0"]


def test_print_summary_rejects_non_symbol():
    with pytest.raises(TypeError):
        mx.viz.print_summary("not a symbol", shape={"data": (1, 2)})


def test_plot_network_source_names_layers_and_shapes():
    graph = mx.viz.plot_network(seed_mlp(), shape={"data": (1, 28, 28)}, title="seed-mlp")
    assert isinstance(graph, graphviz.Digraph)
    assert graph.name == "seed-mlp"
    source = graph.source
    assert source.startswith("digraph seed-mlp") or source.startswith('digraph "seed-mlp"')
    for layer in ("data", "flatten", "fc1", "relu1", "fc2", "relu2", "fc3", "softmax"):
        assert re.search(rf"^\s*{layer} \[", source, re.M), layer
    # weights and biases are hidden by default
    assert "fc1_weight" not in source and "fc2_bias" not in source
    # edges point from a layer back to its input, labelled with the input's shape (no batch axis)
    found = re.findall(r"^\s*(\w+) -> (\w+) \[label=\"?([^\" ]*)\"?", source, re.M)
    edges = {(tail, head): label for tail, head, label in found}
    assert edges[("flatten", "data")] == "28x28"
    assert edges[("fc1", "flatten")] == "784"
    assert edges[("fc2", "relu1")] == "128"
    assert edges[("softmax", "fc3")] == "10"
    assert "FullyConnected\n128" in source and "Activation\nrelu" in source


def test_plot_network_show_weights_and_no_shape():
    graph = mx.viz.plot_network(lenet(), hide_weights=False)
    source = graph.source
    for name in ("conv1_weight", "bn1_gamma", "bn1_moving_var", "fc2_bias"):
        assert re.search(rf"^\s*{name} \[", source, re.M), name
    assert "conv1 -> conv1_weight" in source
    assert 'label=""' in source     # no shapes without input shapes
    assert "Convolution\n3x3, 16" in source and "Pooling\nmax, 2x2" in source


def test_plot_network_node_attrs():
    graph = mx.viz.plot_network(seed_mlp(), node_attrs={"fixedsize": "false", "shape": "ellipse"})
    assert "fixedsize=false" in graph.source and "shape=ellipse" in graph.source


def test_plot_network_renders_svg(tmp_path):
    graph = mx.viz.plot_network(lenet(), shape={"data": (1, 1, 8, 8)}, title="lenet", save_format="svg")
    if shutil.which("dot") is None:
        # without Graphviz's program the failure names it, and nothing is left behind
        with pytest.raises(graphviz.ExecutableNotFound, match="dot"):
            graph.render(str(tmp_path / "lenet"), cleanup=True)
        assert not list(tmp_path.glob("lenet.svg"))
        return
    path = graph.render(str(tmp_path / "lenet"), cleanup=True)
    svg = open(path).read()
    assert path.endswith(".svg") and "<svg" in svg
    for layer in ("conv1", "bn1", "pool2", "fc2", "softmax"):
        assert f"<title>{layer}</title>" in svg, layer
    assert "16x4x4" in svg


def test_plot_network_without_graphviz_explains(monkeypatch):
    real_import = builtins.__import__

    def no_graphviz(name, *args, **kwargs):
        if name == "graphviz" or name.startswith("graphviz."):
            raise ImportError("No module named 'graphviz'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_graphviz)
    with pytest.raises(ImportError, match="pip install"):
        mx.viz.plot_network(seed_mlp(), shape={"data": (1, 8, 8)})


def test_plot_network_rejects_non_symbol():
    with pytest.raises(TypeError):
        mx.viz.plot_network(42)


def test_print_summary_does_not_count_a_loss_label(capsys):
    fc = mx.sym.FullyConnected(mx.sym.Variable("data"), num_hidden=3, name="fc")
    net = mx.sym.LinearRegressionOutput(fc, label=mx.sym.Variable("target"), name="lro")
    total = mx.viz.print_summary(net, shape={"data": (2, 5)})
    rows = _rows(capsys.readouterr().out)
    assert rows["lro"] == ("LinearRegressionOutput", ["3", "0", "fc"])
    assert total == 5 * 3 + 3
