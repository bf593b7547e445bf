"""What the ONNX test files share: ONNX Runtime sessions and cysym's kernels on one thread, and
models holding many small graphs side by side (one checker pass, one session, one import
instead of hundreds)."""
import os

import onnx
import onnxruntime as ort
import pytest

import cysym as mx


def session(model, optimized=True):
    """An ONNX Runtime session of `model` (a ModelProto, serialized bytes or a path) on one
    thread: a pool of threads that spin after each run costs these small models more CPU than
    it saves, and CI's cores are shared.  optimized=False skips ONNX Runtime's graph rewrites
    (two thirds of the time of a session of many small graphs)."""
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    if not optimized:
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    if isinstance(model, onnx.ModelProto):
        model = model.SerializeToString()
    elif isinstance(model, os.PathLike):
        model = str(model)
    return ort.InferenceSession(model, options, providers=["CPUExecutionProvider"])


@pytest.fixture(scope="module", autouse=True)
def one_kernel_thread():
    """cysym's kernels on one thread while a module runs (imported by the test modules): their
    OpenMP threads spin between kernels, which on a loaded machine cost the real networks'
    forwards up to 50 times their CPU time (tests/test_threads.py covers two threads)."""
    before = mx.get_num_threads()
    mx.set_num_threads(1)
    yield
    mx.set_num_threads(before)


class SideBySide:
    """One model holding the graphs of `models` ({key: ModelProto}, all of one opset), each
    graph's names prefixed by its key's position: feeds() and outputs() translate between the
    merged model's values and each graph's."""

    def __init__(self, models):
        self.prefixes = {key: f"g{i}_" for i, key in enumerate(models)}
        self.output_names = {key: [output.name for output in model.graph.output]
                             for key, model in models.items()}
        first = next(iter(models.values()))
        graph = onnx.helper.make_graph([], "side_by_side", [], [])
        for key, model in models.items():
            part = onnx.compose.add_prefix(model, self.prefixes[key]).graph
            for field in ("node", "input", "output", "initializer", "value_info"):
                getattr(graph, field).extend(getattr(part, field))
        self.model = onnx.helper.make_model(graph, opset_imports=first.opset_import)
        self.model.ir_version = first.ir_version

    def feeds(self, feeds):
        """The merged model's feeds from {key: {input name: value}}."""
        return {self.prefixes[key] + name: value
                for key, values in feeds.items() for name, value in values.items()}

    def outputs(self, names, results):
        """{key: [its graph's outputs]} from the merged model's output `names` and `results`."""
        by_name = dict(zip(names, results))
        return {key: [by_name[prefix + name] for name in self.output_names[key]]
                for key, prefix in self.prefixes.items()}
