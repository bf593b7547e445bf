"""The optimizer update operators (cysym/ops/update_ops.py) against MXNet 1.9.1's numbers,
called as MXNet's training loops call them (mx.nd.<op>(..., out=weight)) and in a graph."""
import numpy as np
import pytest

import cysym as mx
from cysym.ndarray_ops import invoke

SHAPE = (2, 3)
STATE_NAMES = {"mom", "mean", "var", "n", "g", "delta", "z", "d", "v", "weight32"}


def values(kind, k):
    """The inputs MXNet was run with (input k of a case, of the given kind)."""
    i = np.arange(6, dtype=np.float64)
    if kind == "signed":
        return np.sin(0.7 * i + k).reshape(SHAPE)
    if kind == "positive":
        return (0.2 + np.abs(np.cos(0.9 * i + k))).reshape(SHAPE)
    if kind == "large":
        return (2.0 + np.abs(np.cos(0.9 * i + k))).reshape(SHAPE)
    return np.array([0.5 + 0.25 * k])   # "one": a one-element input (rescale_grad, r1, r2)


# (op, {input: kind}, params, MXNet's results) made by /tmp/mxref (MXNet 1.9.1) with float32
# inputs values(kind, k) in this order, through mx.nd.<op> (mx.nd._internal for _adamw_update):
# `output` is the returned array, the others the states after the call.  The mp_ forms ran with
# float16 weight and grad (MXNet's mp_lamb/mp_adamw require it): here they get the same values
# rounded to float16, in float32, and the output is compared at float16's precision.
MXNET_CASES = [
    ('sgd_update', {'weight': 'signed', 'grad': 'signed'}, {'lr': 0.1, 'wd': 0.05, 'rescale_grad': 0.5}, {'output': [[-0.0420735, 0.5914133, 0.9467493], [0.8568143, 0.3639061, -0.3001528]]}),
    ('sgd_update', {'weight': 'signed', 'grad': 'signed'}, {'lr': 0.1, 'clip_gradient': 0.3}, {'output': [[-0.03, 0.6142176, 0.9554497], [0.8590513, 0.3649881, -0.3207832]]}),
    ('sgd_update', {'weight': 'signed', 'grad': 'signed'}, {'lr': 0.1, 'clip_gradient': 0.0}, {'output': [[0.0, 0.6442177, 0.9854497], [0.8632094, 0.3349881, -0.3507832]]}),
    ('sgd_mom_update', {'weight': 'signed', 'grad': 'signed', 'mom': 'signed'}, {'lr': 0.1, 'momentum': 0.9, 'wd': 0.01, 'clip_gradient': 0.4}, {'output': [[0.7783676, 0.9882153, 0.7144773], [0.1217387, -0.5218949, -0.9454187]], 'mom': [[0.7783675789833069, 0.34399768710136414, -0.2709724009037018], [-0.7414705753326416, -0.8568831086158752, -0.5946354866027832]]}),
    ('nag_mom_update', {'weight': 'signed', 'grad': 'signed', 'mom': 'signed'}, {'lr': 0.1, 'momentum': 0.9, 'wd': 0.01, 'rescale_grad': 2.0}, {'output': [[0.4167719, 0.6123387, 0.519913], [0.1829642, -0.2400357, -0.5501429]], 'mom': [[0.6500734090805054, 0.18566469848155975, -0.366065114736557], [-0.7456287145614624, -0.7745115756988525, -0.43912941217422485]]}),
    ('nag_mom_update', {'weight': 'signed', 'grad': 'signed', 'mom': 'signed'}, {'lr': 0.1, 'momentum': 0.8, 'clip_gradient': 0.5}, {'output': [[0.4919503, 0.8277408, 0.7319034], [0.3320274, -0.2125571, -0.712329]], 'mom': [[0.6774379014968872, 0.29190391302108765, -0.25443288683891296], [-0.6587797999382019, -0.7469316124916077, -0.5144321918487549]]}),
    ('adam_update', {'weight': 'signed', 'grad': 'signed', 'mean': 'signed', 'var': 'positive'}, {'lr': 0.01, 'wd': 0.1, 'clip_gradient': 0.6, 'rescale_grad': 1.5}, {'output': [[-0.0080548, 0.6395954, 0.9886196], [0.8703066, 0.3439102, -0.3413816]], 'mean': [[0.8783677220344543, 0.4446418881416321, -0.16998699307441711], [-0.7215802073478699, -0.9565482139587402, -0.6949862837791443]], 'var': [[1.1891626119613647, 0.9253664016723633, 0.28757140040397644], [1.0337001085281372, 1.1494423151016235, 0.5464487075805664]]}),
    ('_adamw_update', {'weight': 'signed', 'grad': 'signed', 'mean': 'signed', 'var': 'positive', 'rescale_grad': 'one'}, {'lr': 0.01, 'eta': 0.7, 'wd': 0.1, 'clip_gradient': 0.6}, {'output': [[-0.0056384, 0.5958869, 0.9186872], [0.8078122, 0.3177844, -0.3196473]], 'mean': [[0.8783677220344543, 0.4446418881416321, -0.16998699307441711], [-0.7302122116088867, -0.9565482139587402, -0.6949862837791443]], 'var': [[1.1891626119613647, 0.9253664016723633, 0.28757140040397644], [1.0336819887161255, 1.1494423151016235, 0.5464487075805664]]}),
    ('rmsprop_update', {'weight': 'signed', 'grad': 'signed', 'n': 'positive'}, {'lr': 0.01, 'gamma1': 0.8, 'wd': 0.1, 'rescale_grad': 0.9, 'clip_weights': 0.5}, {'output': [[-0.0097155, 0.5, 0.5], [0.5, 0.3406514, -0.3420946]], 'n': [[0.607625424861908, 1.119905710220337, 0.8925917744636536], [0.1729733943939209, 0.8339462876319885, 1.1086621284484863]]}),
    ('rmspropalex_update', {'weight': 'signed', 'grad': 'signed', 'n': 'large', 'g': 'signed', 'delta': 'signed'}, {'lr': 0.01, 'gamma1': 0.8, 'gamma2': 0.7, 'wd': 0.1, 'clip_gradient': 0.9}, {'output': [[-0.5357186, -0.0614444, 0.4390206], [0.7344772, 0.6849071, 0.3114603]], 'n': [[2.0745320320129395, 2.538766622543335, 2.3525919914245605], [1.613182783126831, 2.2873525619506836, 2.5432701110839844]], 'g': [[0.2811901867389679, -0.2438689023256302, -0.6064800024032593], [-0.7150713801383972, -0.4873535931110382, -0.007903999648988247]], 'delta': [[-0.5357186198234558, -0.7056620121002197, -0.5464292168617249], [-0.12873220443725586, 0.3499189019203186, 0.6622434854507446]]}),
    ('ftrl_update', {'weight': 'signed', 'grad': 'signed', 'z': 'signed', 'n': 'positive'}, {'lr': 0.1, 'lamda1': 0.3, 'beta': 1.5, 'wd': 0.05, 'rescale_grad': 1.2}, {'output': [[-0.0541225, 0.0574071, 0.1388148], [0.0189796, 0.0781413, -0.0031769]], 'z': [[1.919062614440918, -2.0425169467926025, -3.7382395267486572], [-0.7789381146430969, -2.4916601181030273, 0.3918622136116028]], 'n': [[2.209618091583252, 2.342027187347412, 0.9444999098777771], [1.0372024774551392, 1.6893255710601807, 1.9226493835449219]]}),
    ('ftml_update', {'weight': 'signed', 'grad': 'signed', 'd': 'positive', 'v': 'positive', 'z': 'signed'}, {'lr': 0.1, 'beta1': 0.6, 'beta2': 0.99, 't': 3, 'wd': 0.05, 'clip_grad': 0.7}, {'output': [[0.0035183, 0.64118, 0.9690156], [0.8624579, 0.3297536, -0.3518293]], 'd': [[49.47907257080078, 43.67123031616211, 24.477825164794922], [46.04402542114258, 48.62003707885742, 33.616641998291016]], 'v': [[1.1829925775527954, 0.9215729236602783, 0.28952398896217346], [1.024437427520752, 1.142271876335144, 0.5460690259933472]], 'z': [[-0.17408150434494019, -28.00111961364746, -23.71939468383789], [-39.71103286743164, -16.032630920410156, 11.82731819152832]]}),
    ('signsgd_update', {'weight': 'signed', 'grad': 'signed'}, {'lr': 0.1, 'wd': 0.05}, {'output': [[-0.1, 0.5409966, 0.8805225], [0.7588933, 0.4333132, -0.2490293]]}),
    ('signum_update', {'weight': 'signed', 'grad': 'signed', 'mom': 'signed'}, {'lr': 0.1, 'momentum': 0.9, 'wd': 0.05, 'wd_lh': 0.02, 'clip_gradient': 0.3}, {'output': [[0.1, 0.7429293, 0.8834788], [0.761483, 0.2343182, -0.4500817]], 'mom': [[0.7883676290512085, 0.3514207899570465, -0.26491421461105347], [-0.7449234127998352, -0.8682230710983276, -0.6032323241233826]]}),
    ('lamb_update_phase1', {'weight': 'signed', 'grad': 'signed', 'mean': 'signed', 'var': 'positive'}, {'t': 4, 'wd': 0.1, 'rescale_grad': 0.8, 'clip_gradient': 0.5}, {'output': [[0.1463427, 0.1474581, 0.0368544], [-0.04619, -0.1285728, -0.2053799]], 'mean': [[0.8683676719665527, 0.43464189767837524, -0.17998699843883514], [-0.7331228852272034, -0.9454967975616455, -0.6849862933158875]], 'var': [[1.1890525817871094, 0.9252563714981079, 0.28746140003204346], [1.0336791276931763, 1.1493219137191772, 0.546338677406311]]}),
    ('lamb_update_phase1', {'weight': 'signed', 'grad': 'signed', 'mean': 'signed', 'var': 'positive'}, {'t': 4, 'wd': 0.1, 'bias_correction': False, 'beta1': 0.8}, {'output': [[0.8212845, 0.6258324, -0.0307373], [-0.5493677, -0.8239577, -1.0625418]], 'mean': [[0.8957321047782898, 0.54023677110672, -0.0693403035402298], [-0.6463056206703186, -0.9193031787872314, -0.7599381804466248]], 'var': [[1.189510703086853, 0.9259896874427795, 0.2876676917076111], [1.0336798429489136, 1.1494566202163696, 0.5470442771911621]]}),
    ('lamb_update_phase2', {'weight': 'signed', 'g': 'signed', 'r1': 'one', 'r2': 'one'}, {'lr': 0.1, 'lower_bound': 0.6}, {'output': [[-0.0673177, 0.5648845, 0.9314127], [0.8598829, 0.3839368, -0.2725808]]}),
    ('lamb_update_phase2', {'weight': 'signed', 'g': 'signed', 'r1': 'one', 'r2': 'one'}, {'lr': 0.1, 'upper_bound': 0.3}, {'output': [[-0.0201953, 0.6204177, 0.9692386], [0.8622114, 0.3496727, -0.3273225]]}),
    ('mp_sgd_mom_update', {'weight': 'signed', 'grad': 'signed', 'mom': 'signed', 'weight32': 'signed'}, {'lr': 0.1, 'momentum': 0.9, 'wd': 0.01}, {'output': [[0.875, -0.2437744, -1.2480469], [-1.6650391, -1.2998047, -0.3222656]], 'mom': [[0.734095573425293, 0.2860018014907837, -0.2965646982192993], [-0.7396830916404724, -0.8349018096923828, -0.5374475121498108]], 'weight32': [[0.8752155900001526, -0.24383430182933807, -1.248166799545288], [-1.6654977798461914, -1.299504041671753, -0.32232749462127686]]}),
    ('mp_nag_mom_update', {'weight': 'signed', 'grad': 'signed', 'mom': 'signed', 'weight32': 'signed'}, {'lr': 0.1, 'momentum': 0.9, 'wd': 0.01}, {'output': [[0.7177734, -0.3710938, -1.2851562], [-1.5947266, -1.1542969, -0.1710205]], 'mom': [[0.7335191965103149, 0.28584301471710205, -0.296231210231781], [-0.739014208316803, -0.8342121243476868, -0.5370613932609558]], 'weight32': [[0.7175341844558716, -0.3710745871067047, -1.285088062286377], [-1.5947632789611816, -1.1543676853179932, -0.1710440069437027]]}),
    ('mp_lamb_update_phase1', {'weight': 'signed', 'grad': 'signed', 'mean': 'signed', 'var': 'positive', 'weight32': 'signed'}, {'t': 2, 'wd': 0.1}, {'output': [[0.1190399, 0.0183177, -0.1485524], [-0.187704, -0.1607947, -0.1393241]], 'mean': [[0.9024984836578369, 0.48381179571151733, -0.16245770454406738], [-0.7322897911071777, -0.9577298164367676, -0.7327402234077454]], 'var': [[1.1895103454589844, 0.9259899258613586, 0.28766751289367676], [1.0336798429489136, 1.1494566202163696, 0.5470442771911621]], 'weight32': [[-0.756802499294281, -0.9999232292175293, -0.7727645039558411], [-0.18216249346733093, 0.49411338567733765, 0.9380000233650208]]}),
    ('mp_lamb_update_phase2', {'weight': 'signed', 'g': 'signed', 'r1': 'one', 'r2': 'one', 'weight32': 'signed'}, {'lr': 0.1}, {'output': [[-0.8242188, -1.0791016, -0.8266602], [-0.1855469, 0.5429688, 1.0166016]], 'weight32': [[-0.756802499294281, -0.9999232292175293, -0.7727645039558411], [-0.18216249346733093, 0.49411338567733765, 0.9380000233650208]]}),
    ('_mp_adamw_update', {'weight': 'signed', 'grad': 'signed', 'mean': 'signed', 'var': 'positive', 'weight32': 'signed', 'rescale_grad': 'one'}, {'lr': 0.01, 'eta': 0.7, 'wd': 0.1}, {'output': [[-0.7099609, -0.934082, -0.7172852], [-0.1644287, 0.4660645, 0.8798828]], 'mean': [[0.9655966758728027, 0.5581892132759094, -0.11181069910526276], [-0.7291702032089233, -1.0036160945892334, -0.8060556054115295]], 'var': [[1.1909701824188232, 0.9280182123184204, 0.28860801458358765], [1.0336833000183105, 1.1502286195755005, 0.5490151047706604]], 'weight32': [[-0.7100200057029724, -0.9339845776557922, -0.7172141075134277], [-0.16439080238342285, 0.4660758972167969, 0.879954993724823]]}),
]


def _inputs(op, kinds, dtype):
    arrays = {}
    for k, (name, kind) in enumerate(kinds.items()):
        value = values(kind, k)
        if op.startswith(("mp_", "_mp_")) and name in ("weight", "grad"):
            value = value.astype(np.float16)
        arrays[name] = mx.nd.array(value, dtype=dtype)
    return arrays


def _op_function(op):
    """mx.nd.<op> (mx.nd._internal.<op> for the _-prefixed names), as MXNet's training loops
    call the update operators."""
    return getattr(mx.nd._internal if op.startswith("_") else mx.nd, op)


def _case_id(case):
    op, _, params, _ = case
    return op + "-" + "-".join(f"{k}={v}" for k, v in params.items())


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("case", MXNET_CASES, ids=[_case_id(c) for c in MXNET_CASES])
def test_update_matches_mxnet(case, dtype):
    op, kinds, params, expected = case
    if op.startswith(("mp_", "_mp_")) and dtype == "float64":
        pytest.skip("the mp_ forms keep a float32 master copy")
    arrays = _inputs(op, kinds, dtype)
    weight_before = arrays["weight"].copy()
    # float64 updates see MXNet's float32 parameters; their results differ from MXNet's float32
    # ones by float32 rounding only
    rtol = 1e-3 if op.startswith(("mp_", "_mp_")) else 2e-5 if dtype == "float32" else 1e-4
    if op.startswith("lamb_update_phase1") or op.startswith("mp_lamb_update_phase1"):
        out = _op_function(op)(*arrays.values(), **params)
        np.testing.assert_array_equal(arrays["weight"], weight_before)   # phase 1 reads it only
    else:
        out = _op_function(op)(*arrays.values(), out=arrays["weight"], **params)
        assert out is arrays["weight"]
    assert out.dtype == np.dtype(dtype)
    np.testing.assert_allclose(out, expected["output"], rtol=rtol, atol=1e-6)
    for name, value in expected.items():
        if name != "output":
            np.testing.assert_allclose(arrays[name], value, rtol=2e-5 if dtype == "float32" else 1e-4,
                                       atol=1e-6, err_msg=f"state {name}")


def test_update_without_out_leaves_the_weight_and_updates_the_states():
    weight, grad, mom = (mx.nd.array(values("signed", k)) for k in range(3))
    before, mom_before = weight.copy(), mom.copy()
    new = mx.nd.nag_mom_update(weight, grad, mom, lr=0.125, momentum=0.875)
    np.testing.assert_array_equal(weight, before)
    assert not np.array_equal(mom, mom_before)
    expected_mom = 0.875 * mom_before - 0.125 * grad
    np.testing.assert_allclose(mom, expected_mom, rtol=1e-6)
    np.testing.assert_allclose(new, before - 0.875 * mom_before + 1.875 * expected_mom, rtol=1e-6)


def test_adamw_skips_the_update_on_a_non_finite_rescale():
    arrays = [mx.nd.array(values(kind, k)) for k, kind in enumerate(["signed", "signed", "signed", "positive"])]
    mean_before = arrays[2].copy()
    out = mx.nd._internal._adamw_update(*arrays, mx.nd.array([np.inf]), lr=0.1, eta=1.0)
    # MXNet leaves everything as it was (its out= is left unwritten: here it is the weight)
    np.testing.assert_array_equal(out, arrays[0])
    np.testing.assert_array_equal(arrays[2], mean_before)
    assert mx.nd.contrib.adamw_update is not None


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_multi_updates_are_the_single_ones_per_weight(dtype):
    groups = [[mx.nd.array(values("signed", 3 * i + k), dtype=dtype) for k in range(3)]
              for i in range(2)]
    lrs, wds = (0.1, 0.2), (0.01, 0.02)
    singles = [[a.copy() for a in group] for group in groups]
    flat = [a for group in groups for a in group]
    outs = mx.nd.multi_sgd_mom_update(*flat, lrs=lrs, wds=wds, momentum=0.9, clip_gradient=0.5,
                                      num_weights=2)
    for i, (weight, grad, mom) in enumerate(singles):
        expected = invoke("sgd_mom_update", weight, grad, mom, lr=lrs[i], wd=wds[i],
                          momentum=0.9, clip_gradient=0.5)
        np.testing.assert_allclose(outs[i], expected, rtol=1e-6)
        np.testing.assert_allclose(groups[i][2], mom, rtol=1e-6)
    outs = mx.nd.multi_sgd_update(*[a for group in groups for a in group[:2]], lrs=lrs, wds=wds,
                                  num_weights=2)
    assert [o.shape for o in outs] == [SHAPE, SHAPE]


def test_multi_mp_sgd_mom_updates_the_master_copies():
    weights = [mx.nd.array(values("signed", k)) for k in range(8)]
    masters = [weights[3].copy(), weights[7].copy()]
    outs = mx.nd.multi_mp_sgd_mom_update(*weights, lrs=(0.1, 0.2), wds=(0.0, 0.0), momentum=0.5,
                                         num_weights=2)
    for i in range(2):
        assert not np.array_equal(weights[4 * i + 3], masters[i])
        np.testing.assert_array_equal(outs[i], weights[4 * i + 3])


def test_update_in_a_graph_mutates_its_bound_state():
    weight, grad, mom = (mx.sym.Variable(name) for name in ("weight", "grad", "mom"))
    net = mx.sym.sgd_mom_update(weight, grad, mom, lr=0.1, momentum=0.9, name="update")
    arrays = {name: mx.nd.array(values("signed", k)) for k, name in enumerate(net.list_arguments())}
    mom_before = arrays["mom"].copy()
    executor = net.bind(mx.cpu(), arrays, grad_req="null")
    out = executor.forward()[0]
    expected_mom = 0.9 * mom_before - 0.1 * arrays["grad"]
    np.testing.assert_allclose(executor.arg_dict["mom"], expected_mom, rtol=1e-6)
    np.testing.assert_allclose(out, arrays["weight"] + expected_mom, rtol=1e-6)


@pytest.mark.parametrize("op, args, params, message", [
    ("sgd_mom_update", [(2, 3), (2, 3), (3, 2)], dict(lr=0.1), "mom"),
    ("lamb_update_phase2", [(2, 3), (2, 3), (2,), (1,)], dict(lr=0.1), "r1"),
    ("multi_sgd_update", [(2, 3), (2, 3), (4, 5), (4, 5)], dict(lrs=(0.1,), wds=(0.0, 0.0), num_weights=2), "lrs"),
    ("multi_sgd_update", [(2, 3), (2, 3), (4, 5), (5, 4)], dict(lrs=(0.1, 0.1), wds=(0.0, 0.0), num_weights=2), "grad_1"),
])
def test_bad_shapes_name_the_input(op, args, params, message):
    with pytest.raises(mx.MXNetError, match=message):
        invoke(op, *[mx.nd.zeros(shape) for shape in args], **params)


def test_bad_params_are_refused():
    with pytest.raises(mx.MXNetError, match="lr"):
        invoke("sgd_update", mx.nd.zeros((2, 3)), mx.nd.zeros((2, 3)), out=mx.nd.zeros((2, 3)))
    with pytest.raises(mx.MXNetError, match="t"):
        mx.nd.ftml_update(*[mx.nd.zeros((2, 3))] * 5, lr=0.1)


def test_no_gradient_flows_through_an_update():
    weight = mx.sym.Variable("weight")
    net = mx.sym.sgd_update(weight * 2, mx.sym.Variable("grad"), lr=0.1)
    executor = net.simple_bind(mx.cpu(), weight=(2, 3), grad=(2, 3))
    executor.forward(is_train=True)
    executor.backward(mx.nd.ones((2, 3)))
    np.testing.assert_array_equal(executor.grad_dict["weight"], np.zeros((2, 3)))


# mx.nd.<op>(*ws, ..., momentum=0.9, clip_gradient=0.5, num_weights=2, out=[ws[0], ws[3]]) in
# MXNet 1.9.1 with ws[k] = sin(0.7 * i + k) of shapes (2, 3) x 3 then (4,) x 3: weight_0, mom_0,
# weight_1, mom_1 after the call (MXNet's multi_ forms need out= when called imperatively)
MULTI_MOM_EXPECTED = [
    [[0.76836758852005, 0.9782152771949768, 0.7044773101806641],
     [0.12173870205879211, -0.5118950009346008, -0.9354187250137329]],
    [[0.76836758852005, 0.3339976966381073, -0.2809723913669586],
     [-0.7414705753326416, -0.8468831181526184, -0.5846354961395264]],
    [-0.6224762797355652, -0.9233338236808777, -0.7429013848304749, -0.22960680723190308],
    [-0.7635962963104248, -0.3934975862503052, 0.20870070159435272, 0.6962078809738159],
]


@pytest.mark.parametrize("preloaded", [False, True], ids=["multi", "preloaded"])
def test_multi_sgd_mom_matches_mxnet(preloaded):
    i = np.arange(6)
    ws = [mx.nd.array(np.sin(0.7 * i[:int(np.prod(shape))] + k).reshape(shape))
          for k, shape in enumerate([(2, 3)] * 3 + [(4,)] * 3)]
    common = dict(momentum=0.9, clip_gradient=0.5, num_weights=2, out=[ws[0], ws[3]])
    if preloaded:
        mx.nd.preloaded_multi_sgd_mom_update(*ws, mx.nd.array([0.1, 0.2]), mx.nd.array([0.01, 0.02]),
                                             **common)
    else:
        mx.nd.multi_sgd_mom_update(*ws, lrs=(0.1, 0.2), wds=(0.01, 0.02), **common)
    for k, expected in zip((0, 2, 3, 5), MULTI_MOM_EXPECTED):
        np.testing.assert_allclose(ws[k], expected, rtol=1e-6, atol=1e-7)


def _sines(k, shape):
    return mx.nd.array(np.sin(0.7 * np.arange(int(np.prod(shape))) + k).reshape(shape))


def test_multi_sum_sq_and_multi_lars_match_mxnet():
    # mx.nd.multi_sum_sq(sin(0.7 i) (2, 3), sin(0.7 i + 1) (4,), num_arrays=2)
    sums = mx.nd.multi_sum_sq(_sines(0, (2, 3)), _sines(1, (4,)), num_arrays=2)
    assert sums.dtype == np.float32
    # two float32 ulps: the order of the squares' sum follows the build's vector width
    np.testing.assert_allclose(sums, [2.3665237426757812, 2.1494522094726562], rtol=2.5e-7)
    # mx.nd.multi_lars(lrs, weights_sum_sq, grads_sum_sq, wds, eta=0.001, eps=1e-8, rescale_grad=0.5)
    rates = mx.nd.multi_lars(mx.nd.array([0.1, 0.2, 0.3]), mx.nd.array([4.0, 0.0, 2.5]),
                             mx.nd.array([0.25, 1.0, 0.0]), mx.nd.array([0.01, 0.02, 0.03]),
                             eta=0.001, eps=1e-8, rescale_grad=0.5)
    np.testing.assert_allclose(rates, [0.00074074073927477, 0.20000000298023224, 0.30000001192092896],
                               rtol=1e-7)


def test_multi_adamw_matches_mxnet():
    # mx.nd._internal._multi_adamw_update(*ws, mx.nd.array([0.5]), lrs=(0.01, 0.02), wds=(0.1, 0.2),
    #     etas=(0.7, 0.9), clip_gradient=0.3, num_weights=2, out=[ws[0], ws[4]]) with the var
    #     inputs abs(sin) + 0.2: weight_0, mean_0, var_0, weight_1, mean_1, var_1 after the call
    ws = [_sines(0, (2, 3)), _sines(1, (2, 3)), _sines(2, (2, 3)), np.abs(_sines(3, (2, 3))) + 0.2,
          _sines(4, (4,)), _sines(5, (4,)), _sines(6, (4,)), np.abs(_sines(7, (4,))) + 0.2]
    mx.nd._internal._multi_adamw_update(*ws, mx.nd.array([0.5]), lrs=(0.01, 0.02), wds=(0.1, 0.2),
                                        etas=(0.7, 0.9), clip_gradient=0.3, num_weights=2,
                                        out=[ws[0], ws[4]])
    expected = [
        [[-0.010171599686145782, 0.5957233905792236, 0.917773425579071],
         [0.8076320290565491, 0.319498211145401, -0.31900081038475037]],
        [[0.8483675718307495, 0.4146418869495392, -0.19998699426651],
         [-0.7343704104423523, -0.9265481233596802, -0.6649861931800842]],
        [[0.34086889028549194, 0.7291961908340454, 1.1505405902862549],
         [1.1246893405914307, 0.6640275716781616, 0.4147948920726776]],
        [-0.6151025891304016, -0.8255017995834351, -0.6479533910751343, -0.1719398945569992],
        [-0.28147390484809875, 0.3368307054042816, 0.8146647214889526, 0.9029008150100708],
        [0.8562195897102356, 1.1870559453964233, 1.053547739982605, 0.5186691880226135]]
    for k, values in zip((0, 2, 3, 4, 6, 7), expected):
        np.testing.assert_allclose(ws[k], values, rtol=2e-6, atol=1e-7)


def test_adamw_skips_the_update_on_a_zero_rescale():
    arrays = [mx.nd.array(values(kind, k)) for k, kind in enumerate(["signed", "signed", "signed", "positive"])]
    out = mx.nd._internal._adamw_update(*arrays, mx.nd.array([0.0]), lr=0.1, eta=1.0)
    np.testing.assert_array_equal(out, arrays[0])


def test_multi_lamb_matches_mxnet():
    # mx.nd._internal._multi_lamb_update(*ws, learning_rates=(0.01, 0.02), wds=(0.1, 0.2),
    #     step_count=(3, 5), clip_gradient=0.3, rescale_grad=0.8, lower_bound=0.1, num_tensors=2,
    #     out=[ws[0], ws[4]]) with ws as in test_multi_adamw_matches_mxnet: weight_0, mean_0,
    #     var_0, weight_1, mean_1, var_1 after the call
    ws = [_sines(0, (2, 3)), _sines(1, (2, 3)), _sines(2, (2, 3)), np.abs(_sines(3, (2, 3))) + 0.2,
          _sines(4, (4,)), _sines(5, (4,)), _sines(6, (4,)), np.abs(_sines(7, (4,))) + 0.2]
    mx.nd._internal._multi_lamb_update(*ws, learning_rates=(0.01, 0.02), wds=(0.1, 0.2),
                                       step_count=(3, 5), clip_gradient=0.3, rescale_grad=0.8,
                                       lower_bound=0.1, num_tensors=2, out=[ws[0], ws[4]])
    expected = [
        [[-0.009693999774754047, 0.6388508081436157, 0.9834390878677368],
         [0.8649703860282898, 0.34146741032600403, -0.34273651242256165]],
        [[0.8483676910400391, 0.4146418869495392, -0.19998699426651],
         [-0.7331228852272034, -0.926548182964325, -0.6649863123893738]],
        [[0.34086889028549194, 0.729196310043335, 1.1505405902862549],
         [1.1246899366378784, 0.6640275716781616, 0.4147948920726776]],
        [-0.7372536063194275, -0.9858204126358032, -0.7711287140846252, -0.19940930604934692],
        [-0.28147390484809875, 0.3343648910522461, 0.8181611895561218, 0.9029008746147156],
        [0.8562195897102356, 1.1870701313018799, 1.0535529851913452, 0.5186691880226135]]
    for k, values in zip((0, 2, 3, 4, 6, 7), expected):
        np.testing.assert_allclose(ws[k], values, rtol=2e-6, atol=1e-7)
