"""Laws of the Symbol layer on random graphs: JSON round trip, inference, composition."""
import json

from hypothesis import given, settings, strategies as st

import cysym as mx

BATCH = 3

# one step: (kind, integer choice, float choice)
STEP = st.tuples(st.sampled_from(["fc", "act", "add", "mul", "scalar", "concat", "leaky", "bn",
                                  "split", "sum"]),
                 st.integers(min_value=1, max_value=7),
                 st.sampled_from([0.5, 2.0, -1.5, 3]))


def build(steps, features):
    """A random network on data (BATCH, features); returns it and the output shape we expect."""
    nodes = [(mx.sym.Variable("data"), (BATCH, features))]
    for kind, number, scalar in steps:
        sym, shape = nodes[-1]
        partner_sym, partner_shape = nodes[number % len(nodes)]
        if kind == "fc":
            nodes.append((mx.sym.FullyConnected(sym, num_hidden=number, no_bias=number % 2 == 0),
                          (BATCH, number)))
        elif kind == "act":
            act = ["relu", "sigmoid", "tanh", "softrelu", "softsign"][number % 5]
            nodes.append((mx.sym.Activation(sym, act_type=act), shape))
        elif kind == "add" and partner_shape == shape:
            nodes.append((sym + partner_sym, shape))
        elif kind == "mul" and partner_shape == shape:
            nodes.append((partner_sym * sym, shape))
        elif kind == "scalar":
            nodes.append(([sym + scalar, scalar * sym, sym / scalar, scalar - sym][number % 4], shape))
        elif kind == "concat":
            nodes.append((mx.sym.Concat(sym, partner_sym, dim=1), (BATCH, shape[1] + partner_shape[1])))
        elif kind == "leaky":
            nodes.append((mx.sym.LeakyReLU(sym, slope=abs(scalar) / 4), shape))
        elif kind == "bn":
            nodes.append((mx.sym.BatchNorm(sym, fix_gamma=number % 2 == 0), shape))
        elif kind == "split" and shape[1] % 2 == 0:
            nodes.append((mx.sym.SliceChannel(sym, num_outputs=2, axis=1)[number % 2],
                          (BATCH, shape[1] // 2)))
        elif kind == "sum":
            nodes.append((mx.sym.sum(sym, axis=1, keepdims=True), (BATCH, 1)))
    return nodes[-1]


GRAPHS = st.tuples(st.lists(STEP, min_size=1, max_size=12), st.integers(min_value=2, max_value=9))


@settings(max_examples=60, deadline=None)
@given(GRAPHS)
def test_json_round_trip_preserves_everything(graph):
    steps, features = graph
    with mx.name.NameManager():
        net, _ = build(steps, features)
    text = net.tojson()
    again = mx.sym.load_json(text)
    assert again.tojson() == text
    assert again.list_arguments() == net.list_arguments()
    assert again.list_auxiliary_states() == net.list_auxiliary_states()
    assert again.list_outputs() == net.list_outputs()
    assert again.get_internals().list_outputs() == net.get_internals().list_outputs()
    # node order in the file is a topological order
    for position, node in enumerate(json.loads(text)["nodes"]):
        assert all(entry[0] < position for entry in node["inputs"])


@settings(max_examples=60, deadline=None)
@given(GRAPHS)
def test_shape_inference_agrees_with_the_reloaded_graph(graph):
    steps, features = graph
    with mx.name.NameManager():
        net, expected = build(steps, features)
    shapes = net.infer_shape(data=(BATCH, features))
    assert shapes[1] == [expected]
    assert mx.sym.load_json(net.tojson()).infer_shape(data=(BATCH, features)) == shapes
    # inference from the inferred argument shapes gives the same answer (a fixed point)
    arg_shapes = dict(zip(net.list_arguments(), shapes[0]))
    assert net.infer_shape(**arg_shapes) == shapes
    assert net.infer_type(data="float64")[1] == [__import__("numpy").float64]


@settings(max_examples=40, deadline=None)
@given(st.lists(st.integers(min_value=1, max_value=6), min_size=3, max_size=3))
def test_composition_is_associative(widths):
    with mx.name.NameManager():
        a, b, c = (mx.sym.Activation(mx.sym.FullyConnected(mx.sym.Variable("data"), num_hidden=w,
                                                           name=f"fc_{tag}"), act_type="tanh", name=tag)
                   for tag, w in zip("abc", widths))
    left = a(data=b)(data=c)
    right = a(data=b(data=c))
    assert left.tojson() == right.tojson()
    assert left.list_arguments() == ["data", "fc_c_weight", "fc_c_bias", "fc_b_weight", "fc_b_bias",
                                     "fc_a_weight", "fc_a_bias"]
    assert left.infer_shape(data=(BATCH, 5))[1] == [(BATCH, widths[0])]
