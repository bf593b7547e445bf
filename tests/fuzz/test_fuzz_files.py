"""Fuzzing the file loaders: `.params`/`.nd` files (cysym.nd.load) and symbol JSON files
(cysym.sym.load, then shape and type inference). Every file is loaded in a child process
(harness.Worker): the only acceptable outcomes are a result or a cysym.MXNetError; a crash, a hang
or any other exception fails the test with the file that caused it (hypothesis shrinks it).

The normal run draws CYSYM_FUZZ_EXAMPLES (40) examples per test from a fixed seed. A longer run:

    CYSYM_FUZZ_EXAMPLES=20000 CYSYM_FUZZ_RANDOM=1 python3 -m pytest -q tests/fuzz
"""
import base64
import json
import struct

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

import cysym as mx
from conftest import FUZZ
from harness import ACCEPTED

# Values that sit on the edges of the formats' integer fields.
INTERESTING_INTS = [0, 1, 2, 3, 31, 32, 33, 255, 0x112, 2 ** 16, 2 ** 31 - 1, 2 ** 31, 2 ** 32 - 1,
                    2 ** 32, 2 ** 48, 2 ** 62, 2 ** 63 - 1, 2 ** 63, 2 ** 64 - 1,
                    0xF993FAC8, 0xF993FAC9, 0xF993FACA]


def _params_seeds():
    """Valid files of every record kind: V2 dicts of every dtype, a list, empty and 0-d arrays,
    and hand-made V1 and legacy records."""
    from cysym.ndarray import _encode
    dtypes = ["float32", "float64", "float16", "uint8", "int32", "int8", "int64", "bool"]
    seeds = [
        _encode({f"arg:w{i}": np.arange(6).reshape(2, 3).astype(d) for i, d in enumerate(dtypes)}),
        _encode([np.ones((2, 0, 3), np.float32), np.float32(2.5) * np.ones(()), np.arange(5.0)]),
        _encode({"aux:mean": np.zeros(4, np.float32)}),
    ]
    v1 = struct.pack("<QQQ", 0x112, 0, 1) + struct.pack("<Ii2q", 0xF993FAC8, 2, 2, 1) + \
        struct.pack("<iii", 1, 0, 0) + np.ones(2, np.float32).tobytes() + struct.pack("<Q", 0)
    legacy = struct.pack("<QQQ", 0x112, 0, 1) + struct.pack("<I2I", 2, 3, 1) + \
        struct.pack("<iii", 1, 0, 1) + np.ones(3).tobytes() + struct.pack("<Q", 0)
    return seeds + [v1, legacy]


PARAMS_SEEDS = _params_seeds()


@st.composite
def mutated(draw, seeds):
    """A seed file with a few edits: integers written over it, flipped bytes, cuts, insertions."""
    data = bytearray(draw(st.sampled_from(seeds)))
    for _ in range(draw(st.integers(1, 4))):
        kind = draw(st.sampled_from(["int32", "int64", "flip", "cut", "insert"]))
        at = draw(st.integers(0, max(len(data) - 1, 0)))
        if kind in ("int32", "int64"):
            size = 4 if kind == "int32" else 8
            value = draw(st.sampled_from(INTERESTING_INTS)) % (1 << (8 * size))
            data[at:at + size] = value.to_bytes(size, "little")
        elif kind == "flip":
            data[at] = data[at] ^ draw(st.integers(1, 255)) if data else 0
        elif kind == "cut":
            del data[at:at + draw(st.integers(1, 64))]
        else:
            data[at:at] = draw(st.binary(min_size=1, max_size=16))
    return bytes(data)


def _check(worker, case):
    outcome, detail = worker.run(case)
    assert outcome in ACCEPTED, f"{outcome}: {detail}"


@FUZZ
@given(data=st.binary(max_size=256))
def test_params_loader_on_random_bytes(worker, data):
    _check(worker, {"kind": "params", "data": base64.b64encode(struct.pack("<Q", 0x112) + data).decode()})


@FUZZ
@given(data=mutated(PARAMS_SEEDS))
def test_params_loader_on_mutated_files(worker, data):
    _check(worker, {"kind": "params", "data": base64.b64encode(data).decode()})


def _json_seed():
    data = mx.sym.Variable("data", shape=(2, 3, 8, 8))
    net = mx.sym.Convolution(data, kernel=(3, 3), num_filter=4, pad=(1, 1), name="conv")
    net = mx.sym.BatchNorm(net, name="bn")
    net = mx.sym.Pooling(net, kernel=(2, 2), stride=(2, 2), pool_type="max", name="pool")
    parts = mx.sym.SliceChannel(net, num_outputs=2, axis=1, name="split")
    net = mx.sym.Concat(parts[0], parts[1], dim=1, name="concat")
    net = mx.sym.FullyConnected(mx.sym.Flatten(net), num_hidden=5, name="fc")
    net = mx.sym.SoftmaxOutput(net, name="softmax")
    return json.loads(net.tojson())


JSON_SEED = _json_seed()
OP_NAMES = sorted({op.name for op in mx.registry.all_ops() if not op.hidden})
INTERESTING_ATTRS = ["0", "-1", "1", "2", "3", "65536", "65537", "2147483648", str(2 ** 63 - 1),
                     str(2 ** 64), "1e400", "-1e400", "inf", "nan", "1.5", "(0, 0)", "(-1, -1)",
                     "(1e400, 2)", "()", "(2, 2, 2, 2, 2)", "(3, 3)", f"({2 ** 62}, {2 ** 62})",
                     "True", "false", "None", "", "[" * 60, "'a'", "max", "avg", "valid", "full",
                     "(1, 1)", "[2, 3]"]
PARAM_NAMES = sorted({name for op in mx.registry.all_ops() for name in op.params} | {"__shape__", "__dtype__"})


@st.composite
def mutated_graph(draw):
    graph = json.loads(json.dumps(JSON_SEED))
    nodes = graph["nodes"]
    for _ in range(draw(st.integers(1, 4))):
        node = draw(st.sampled_from(nodes))
        kind = draw(st.sampled_from(["attr", "attr", "attr", "input", "op", "drop", "heads", "value"]))
        if kind == "attr":
            if not isinstance(node.get("attrs"), dict):     # an earlier edit replaced it
                node["attrs"] = {}
            key = draw(st.sampled_from(sorted(node["attrs"]) + PARAM_NAMES))
            node["attrs"][key] = draw(st.sampled_from(INTERESTING_ATTRS))
        elif kind == "input":
            entries = [e for e in node.get("inputs") or [] if isinstance(e, list) and e] \
                if isinstance(node.get("inputs"), list) else []
            if entries:
                entry = draw(st.sampled_from(entries))
                entry[draw(st.integers(0, len(entry) - 1))] = draw(st.sampled_from(INTERESTING_INTS + [-1, -2]))
        elif kind == "op":
            node["op"] = draw(st.sampled_from(OP_NAMES + ["null", "nonexistent"]))
        elif kind == "drop":
            key = draw(st.sampled_from(sorted(node)))
            del node[key]
        elif kind == "heads":
            graph["heads"] = [[draw(st.integers(-1, len(nodes))), draw(st.integers(-1, 3)), 0]]
        else:
            node[draw(st.sampled_from(["attrs", "inputs", "name", "op"]))] = draw(
                st.sampled_from([None, 0, [], {}, "x", [[0]], {"a": 1}, 1e400]))
    return json.dumps(graph)


@FUZZ
@given(text=mutated_graph())
def test_json_loader_on_mutated_graphs(worker, text):
    _check(worker, {"kind": "json", "text": text})


@FUZZ
@given(text=st.one_of(st.text(max_size=200),
                      st.recursive(st.none() | st.booleans() | st.integers() | st.text(max_size=8),
                                   lambda children: st.lists(children, max_size=4)
                                   | st.dictionaries(st.sampled_from(["nodes", "heads", "op", "name",
                                                                      "inputs", "attrs", "arg_nodes"]),
                                                     children, max_size=4),
                                   max_leaves=30).map(json.dumps)))
def test_json_loader_on_random_documents(worker, text):
    _check(worker, {"kind": "json", "text": text})
