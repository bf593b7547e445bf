"""mx.profiler: kernel calls of bound executors, per operator and as a Chrome trace."""
import json

import numpy as np
import pytest

import cysym as mx


def _bound_mlp():
    data = mx.sym.Variable("data")
    fc = mx.sym.FullyConnected(data, num_hidden=7, name="fc1")
    act = mx.sym.Activation(fc, act_type="relu", name="relu1")
    net = mx.sym.SoftmaxOutput(mx.sym.FullyConnected(act, num_hidden=3, name="fc2"), name="softmax")
    exe = net.simple_bind(mx.cpu(), data=(5, 4))
    rng = np.random.default_rng(0)
    for array in exe.arg_dict.values():
        array[:] = rng.uniform(-1, 1, array.shape)
    exe.arg_dict["softmax_label"][:] = [0, 2, 1, 1, 0]
    return exe


@pytest.fixture(autouse=True)
def _unfused(monkeypatch):
    # the counts below are per operator of the graph as written: bound without fusion (the MLP's
    # FullyConnected + relu would run as _FusedFullyConnected, see test_dense_fusion.py)
    monkeypatch.setattr(mx.fusion, "ENABLED", False)


@pytest.fixture(autouse=True)
def _stopped_and_empty():
    mx.profiler.set_state("stop")
    mx.profiler.dumps(reset=True)
    yield
    mx.profiler.set_state("stop")
    mx.profiler.dumps(reset=True)


def test_records_each_kernel_call_while_running_only():
    exe = _bound_mlp()
    exe.forward(is_train=True)                      # not running: nothing recorded
    mx.profiler.set_state("run")
    assert mx.profiler.state() == "run"
    exe.forward(is_train=True)
    exe.backward()
    mx.profiler.set_state("stop")
    exe.forward()
    stats = json.loads(mx.profiler.dumps(format="json"))["Time"]["operator"]
    assert stats["FullyConnected"]["Count"] == 2
    assert stats["Activation"]["Count"] == 1
    assert stats["_backward_FullyConnected"]["Count"] == 2
    assert all(row["Min"] <= row["Avg"] <= row["Max"] and row["Total"] > 0 for row in stats.values())


def test_profiled_run_computes_the_same_numbers():
    exe = _bound_mlp()
    exe.forward(is_train=True)
    exe.backward()
    expected = [exe.outputs[0].copy(), exe.grad_dict["fc1_weight"].copy()]
    mx.profiler.set_state("run")
    exe.forward(is_train=True)
    exe.backward()
    mx.profiler.set_state("stop")
    np.testing.assert_array_equal(exe.outputs[0], expected[0])
    np.testing.assert_array_equal(exe.grad_dict["fc1_weight"], expected[1])


def test_pause_resume_and_table():
    exe = _bound_mlp()
    mx.profiler.set_state("run")
    mx.profiler.pause()
    exe.forward()
    assert "FullyConnected" not in mx.profiler.dumps()
    mx.profiler.resume()
    exe.forward()
    table = mx.profiler.dumps(sort_by="count", ascending=True)
    lines = [line.split() for line in table.splitlines() if line.startswith(("FullyConnected", "Activation"))]
    assert [(line[0], int(line[1])) for line in lines] == [("Activation", 1), ("FullyConnected", 2)]


def test_dump_writes_a_chrome_trace_naming_the_nodes(tmp_path):
    target = tmp_path / "trace.json"
    mx.profiler.set_config(profile_all=True, filename=str(target), aggregate_stats=True)
    exe = _bound_mlp()
    mx.profiler.set_state("run")
    exe.forward(is_train=True)
    exe.backward()
    mx.profiler.set_state("stop")
    mx.profiler.dump()
    events = json.loads(target.read_text())["traceEvents"]
    names = {(e["name"], e["args"]["name"], e["cat"]) for e in events}
    assert ("FullyConnected", "fc2", "forward") in names
    assert ("_backward_FullyConnected", "fc1_backward", "backward") in names
    assert all(e["ph"] == "X" and e["dur"] >= 0 for e in events)
    assert mx.profiler.dumps(format="json") == json.dumps({"Time": {"operator": {}}, "Unit": {"Time": "ms"}})


def test_a_kernel_error_while_profiling_is_reported_and_the_calls_before_it_kept():
    data = mx.sym.Variable("data")
    net = mx.sym.take(mx.sym.Activation(data, act_type="relu", name="r"), mx.sym.Variable("idx"),
                      mode="raise", name="t")
    exe = net.simple_bind(mx.cpu(), data=(3, 2), idx=(2,), grad_req="null")
    exe.arg_dict["idx"][:] = [0, 7]
    mx.profiler.set_state("run")
    with pytest.raises(mx.MXNetError, match="t"):
        exe.forward()
    stats = json.loads(mx.profiler.dumps(format="json"))["Time"]["operator"]
    assert stats["Activation"]["Count"] == 1


def test_bad_options_are_refused():
    with pytest.raises(mx.MXNetError, match="unknown option"):
        mx.profiler.set_config(profile_everything=True)
    with pytest.raises(mx.MXNetError, match="'run' or 'stop'"):
        mx.profiler.set_state("go")
    with pytest.raises(mx.MXNetError, match="sort_by"):
        mx.profiler.dumps(sort_by="median")
