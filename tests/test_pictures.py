"""The matplotlib pictures: a bound plan's memory timeline (Executor.plot_memory,
cysym.viz.plot_memory), the training curves Module.fit records (fit_history, plot_fit_history),
and the demo writing both."""
import builtins
import os
import re

import numpy as np
import pytest

import cysym as mx
from cysym import demo

from matplotlib.patches import Rectangle


def _lenet_training_executor():
    # batch 3 of 1x8x8 images: nothing square or repeated in the shapes that matter
    return demo.lenet().simple_bind(mx.cpu(), data=(3, 1, 8, 8))


def _bars(figure):
    (ax,) = figure.axes
    (container,) = ax.containers
    return ax, list(container)


def test_memory_timeline_is_a_valid_placement():
    executor = _lenet_training_executor()
    rows = mx.viz.memory_timeline(executor)
    stats = executor.memory_stats()
    names = [name for name, *_ in rows]
    assert "conv1_output" in names and "fc1_backward_data_grad" in names
    # the user's arrays are not in the arena
    assert not set(names) & set(executor.arg_dict) - {"data"}
    assert "data" not in names
    assert sum(nbytes for *_, nbytes in rows) <= stats["naive_bytes"]
    assert max(offset + nbytes for *_, offset, nbytes in rows) <= stats["planned_bytes"]
    peak = max(sum(nbytes for _, first, last, _, nbytes in rows if first <= step <= last)
               for step in range(max(last for _, _, last, _, _ in rows) + 1))
    assert 0 < peak <= stats["peak_live_bytes"]     # the planner counts sizes rounded up to 64
    # two buffers live at once never overlap in memory, except an in-place pair: the same
    # offset, one born at the step where the other dies
    for i, (name_a, first_a, last_a, off_a, size_a) in enumerate(rows):
        for name_b, first_b, last_b, off_b, size_b in rows[i + 1:]:
            live_together = first_a <= last_b and first_b <= last_a
            share_memory = off_a < off_b + size_b and off_b < off_a + size_a
            if live_together and share_memory:
                assert off_a == off_b and (last_a == first_b or last_b == first_a), (name_a, name_b)


def test_plot_memory_bars_are_the_buffers(tmp_path):
    executor = _lenet_training_executor()
    path = tmp_path / "memory.png"
    figure = executor.plot_memory(str(path), title="LeNet")
    assert path.stat().st_size > 0 and path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    rows = mx.viz.memory_timeline(executor)
    ax, bars = _bars(figure)
    assert len(bars) == len(rows)
    for bar, (name, first, last, offset, nbytes) in zip(bars, rows):
        assert isinstance(bar, Rectangle)
        assert (bar.get_x(), bar.get_width()) == (first, last + 1 - first), name
        assert (bar.get_y(), bar.get_height()) == (offset, nbytes), name
    stats = executor.memory_stats()
    title = ax.get_title()
    assert title.startswith("LeNet\n")
    numbers = [int(n.replace(",", "")) for n in re.findall(r"([\d,]+) bytes", title)]
    assert numbers == [stats["planned_bytes"], stats["naive_bytes"], stats["lower_bound_bytes"]]
    assert stats["lower_bound_bytes"] <= stats["planned_bytes"] < stats["naive_bytes"]
    # workspaces grey, backward buffers another colour than forward ones
    colors = {name: bar.get_facecolor() for bar, (name, *_) in zip(bars, rows)}
    assert colors["conv1_output"] != colors["fc1_backward_data_grad"]


def test_plot_memory_of_an_inference_bind_is_svg(tmp_path):
    executor = demo.seed_mlp().simple_bind(mx.cpu(), grad_req="null", data=(5, 3, 7))
    path = tmp_path / "memory.svg"
    figure = mx.viz.plot_memory(executor, str(path))
    assert path.read_text().lstrip().startswith("<?xml")
    _, bars = _bars(figure)
    rows = mx.viz.memory_timeline(executor)
    assert [(b.get_y(), b.get_height()) for b in bars] == \
        [(offset, nbytes) for *_, offset, nbytes in rows]
    # no backward pass: the forward colour, and grey for workspaces (the small-batch
    # FullyConnected forward has one)
    colors = {name.endswith("_workspace"): set() for name, *_ in rows}
    for bar, (name, *_) in zip(bars, rows):
        colors[name.endswith("_workspace")].add(bar.get_facecolor())
    assert all(len(found) == 1 for found in colors.values()), colors
    assert len(set().union(*colors.values())) == len(colors)


def _fit(eval_data=None, num_epoch=3):
    mx.random.seed(7)
    rng = np.random.default_rng(3)
    x = rng.standard_normal((40, 6)).astype(np.float32)
    y = (x[:, 0] > 0).astype(np.float32)
    net = mx.sym.FullyConnected(mx.sym.Variable("data"), num_hidden=2, name="fc")
    net = mx.sym.SoftmaxOutput(net, name="softmax")
    module = mx.mod.Module(net)
    module.fit(mx.io.NDArrayIter(x, y, 8, shuffle=True), eval_data=eval_data, num_epoch=num_epoch,
               eval_metric=["acc", "ce"], optimizer_params={"learning_rate": 0.5}, progress=False)
    return module, x, y


def test_fit_records_metrics_per_epoch():
    rng = np.random.default_rng(4)
    val_x = rng.standard_normal((15, 6)).astype(np.float32)
    val_iter = mx.io.NDArrayIter(val_x, (val_x[:, 0] > 0).astype(np.float32), 5)
    module, _, _ = _fit(val_iter)
    history = module.fit_history
    assert [record["epoch"] for record in history] == [0, 1, 2]
    for record in history:
        assert set(record) == {"epoch", "time", "train-accuracy", "train-cross-entropy",
                               "validation-accuracy", "validation-cross-entropy"}
        assert 0 <= record["train-accuracy"] <= 1 and record["train-cross-entropy"] > 0
    # learning: the training loss falls
    assert history[-1]["train-cross-entropy"] < history[0]["train-cross-entropy"]
    # the last epoch's validation numbers are the trained module's score
    assert dict(module.score(val_iter, ["acc", "ce"])) == pytest.approx(
        {"accuracy": history[-1]["validation-accuracy"],
         "cross-entropy": history[-1]["validation-cross-entropy"]})
    # a new fit starts a new history
    module.fit(mx.io.NDArrayIter(val_x, (val_x[:, 0] > 0).astype(np.float32), 5), num_epoch=1, progress=False, force_init=True)
    assert [sorted(r) for r in module.fit_history] == [["epoch", "time", "train-accuracy"]]


def test_plot_fit_history_lines_are_the_records(tmp_path):
    module, _, _ = _fit()
    path = tmp_path / "training.pdf"
    figure = mx.viz.plot_fit_history(module.fit_history, str(path), title="toy")
    assert path.read_bytes()[:5] == b"%PDF-"
    accuracy_ax, loss_ax = figure.axes
    assert (accuracy_ax.get_ylabel(), loss_ax.get_ylabel()) == ("accuracy", "cross-entropy")
    for ax, key in ((accuracy_ax, "train-accuracy"), (loss_ax, "train-cross-entropy")):
        (line,) = ax.get_lines()    # no validation data: the training line only
        assert list(line.get_xdata()) == [0, 1, 2]
        assert list(line.get_ydata()) == [r[key] for r in module.fit_history]
    with pytest.raises(ValueError, match="history is empty"):
        mx.viz.plot_fit_history([])


def test_demo_writes_both_pictures_and_says_where(capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    demo.main(["--epochs", "2", "--plot", "run-network"])
    out = capsys.readouterr().out
    for what, name in (("memory plan picture", "run-memory.png"), ("training curves picture", "run-training.png")):
        assert f"{what}: {tmp_path / name}" in out
        assert (tmp_path / name).read_bytes()[:4] == b"\x89PNG"


def test_without_matplotlib_the_demo_says_so(capsys, tmp_path, monkeypatch):
    real_import = builtins.__import__

    def no_matplotlib(name, *args, **kwargs):
        if name.startswith("matplotlib"):
            raise ImportError("No module named 'matplotlib'")
        return real_import(name, *args, **kwargs)

    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(builtins, "__import__", no_matplotlib)
    with pytest.raises(ImportError, match=r"pip install 'cysym\[viz\]'"):
        mx.viz.plot_memory(_lenet_training_executor())
    demo.main(["--epochs", "1"])
    assert "memory and training pictures: skipped (pip install matplotlib)" in capsys.readouterr().out
    assert not [f for f in os.listdir(tmp_path) if f.endswith("-memory.png") or f.endswith("-training.png")]


def test_pictures_go_into_a_folder_that_does_not_exist_yet(capsys, tmp_path):
    # as the network picture does (graphviz makes the folder): the demo writes all three there
    demo.main(["--epochs", "1", "--plot", str(tmp_path / "new" / "folder" / "demo")])
    out = capsys.readouterr().out
    for name in ("demo-memory.png", "demo-training.png"):
        path = tmp_path / "new" / "folder" / name
        assert path.read_bytes()[:4] == b"\x89PNG" and str(path) in out
