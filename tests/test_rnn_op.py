"""The fused RNN operator against numbers computed by MXNet 1.9.1, and what the registry table
does not cover: dropout between layers, the parameter-size inference that Gluon's exported
graphs rely on (_rnn_param_concat filling unknown inputs), errors.

The MXNET_* literals were made with /tmp/mxref (MXNet 1.9.1, MXNET_SUBGRAPH_BACKEND=NONE):
RNN(state_outputs=True, ...) bound with simple_bind at data (3, 2, 4), state_size 5, every input
set to `pattern(shape, position)`; float64 forward in training mode, then backward with head
gradients `pattern(output shape, 10 + output index)` (projection: inference only, as MXNet's CPU
code has no projection backward); float32 forward in inference mode (MXNet's oneDNN path)."""
import numpy as np
import pytest

import cysym as mx
from cysym.base import MXNetError
from cysym.ops.rnn import param_size

T, N, I, H = 3, 2, 4, 5


def pattern(shape, phase):
    n = int(np.prod(shape))
    return (0.5 * np.sin(np.arange(n) * 0.37 + phase)).reshape(shape)


MXNET_FLOAT64 = {
    'rnn_relu-L1-D1-P0': {
        'out_last': [0.84906739, 0, 0.2064539492, 1.461800218, 0],
        'out_first': [0.6474378109, 0, 0, 0.9067198634, 0.9291757941],
        'out_sum': 16.24097084,
        'hy_sum': 4.556193106,
        'ddata_first': [-0.05224233915, -0.1820292591, -0.2871793728, -0.3534611056],
        'ddata_sum': -3.351892898,
        'dparams_head': [0.1636512443, -0.03740374617, -0.233396315, -0.3977997876, -0.0572416616, -0.05525258385],
        'dparams_tail': [0.104062587, -1.226822793, -0.1149568483, 0.5799547508, 0.4147802219, 0.104062587],
        'dparams_abs': 16.84095822,
        'dstate_sum': -1.075603029,
    },
    'rnn_relu-L1-D2-P0': {
        'out_last': [0.5319672823, 0, 0, 0, 0.003670365782, 0.4814251065, 1.827827454, 0.4131559134, 0, 0.4101527631],
        'out_first': [0.4380656481, 0, 0, 0, 0, 1.490794659, 2.038397312, 0, 0, 1.656234503],
        'out_sum': 29.82971932,
        'hy_sum': 11.3080565,
        'ddata_first': [-0.1999883503, -0.1844078239, -0.1438685637, -0.08385736822],
        'ddata_sum': 0.9493889811,
        'dparams_head': [0.202784698, 0.1483653006, 0.07386535583, -0.01063191833, 0.2201401969, 0.2124905943],
        'dparams_tail': [-1.082020253, -1.112913392, -1.393851861, -0.2627348304, 0.3663161397, -1.082020253],
        'dparams_abs': 44.32444449,
        'dstate_sum': -1.905483311,
    },
    'rnn_relu-L2-D1-P0': {
        'out_last': [0.07374522835, 0.002704973333, 0, 0, 0],
        'out_first': [0, 0.4301017225, 0, 0, 0],
        'out_sum': 3.693964961,
        'hy_sum': 3.459960443,
        'ddata_first': [-0.04249265532, -0.119504515, -0.1803419992, -0.2167710398],
        'ddata_sum': 1.575961351,
        'dparams_head': [0.07644981445, 0.05361665099, 0.02352672534, -0.009747432211, 0.01308732714, 0.01263255853],
        'dparams_tail': [0.1861406267, -0.6022858471, -0.5730149522, 0, 0, 0.1861406267],
        'dparams_abs': 21.02922559,
        'dstate_sum': -0.1265991284,
    },
    'rnn_relu-L2-D2-P0': {
        'out_last': [0, 0, 0, 0, 0, 1.051460862, 0, 1.291204214, 0.1879858226, 0],
        'out_first': [0, 0.5994788408, 0, 0, 1.670366287, 1.179612756, 0.4965004027, 1.456649423, 0, 0],
        'out_sum': 25.3155152,
        'hy_sum': 18.51468921,
        'ddata_first': [0.4407065067, 0.4431495509, 0.3856143823, 0.275888116],
        'ddata_sum': 2.132717915,
        'dparams_head': [0.06709702965, 0.06724906365, 0.05829925236, 0.04145891076, -0.1372697253, -0.1324997702],
        'dparams_tail': [-0.2762297988, -1.146354303, -0.6888196468, -1.090294719, -0.1097030342, -0.2762297988],
        'dparams_abs': 99.24368433,
        'dstate_sum': 0.2963150094,
    },
    'rnn_tanh-L1-D1-P0': {
        'out_last': [0.406449242, -0.04607614599, -0.1882061882, 0.199849021, 0.749208662],
        'out_first': [0.569942609, -0.3796229106, -0.3366978408, 0.7195541657, 0.7302093944],
        'out_sum': 4.619043605,
        'hy_sum': 1.987277045,
        'ddata_first': [0.05539619392, 0.07195882359, 0.07878216407, 0.07494270823],
        'ddata_sum': -1.497081237,
        'dparams_head': [0.1227626431, -0.1089932982, -0.3259975079, -0.4988794842, 0.4584394957, 0.1850050796],
        'dparams_tail': [0.09941472355, -0.7612490665, -0.1627470138, -0.08593912268, 0.7563801024, 0.09941472355],
        'dparams_abs': 20.07899541,
        'dstate_sum': 0.623598091,
    },
    'rnn_tanh-L1-D2-P0': {
        'out_last': [0.2030893401, 0.4860333514, -0.9320350206, -0.9280326458, 0.7491130202, 0.4473842137, 0.9496130971, 0.3911490301, -0.248110859, 0.3886023729],
        'out_first': [0.4120397879, -0.7509931126, -0.8379662167, -0.1279182726, -0.1365804993, 0.7546479313, 0.9251307966, -0.1177636792, -0.042431348, 0.7236573429],
        'out_sum': 5.458688645,
        'hy_sum': 2.539743022,
        'ddata_first': [-0.0144471777, -0.1214325401, -0.2119825779, -0.2738417682],
        'ddata_sum': 0.7991192077,
        'dparams_head': [0.2087946683, 0.1223007163, 0.01925393598, -0.08639877421, 0.08665060488, 0.05310498605],
        'dparams_tail': [-0.3738122207, -0.2827574654, -0.001629561146, -0.3624278943, -0.5739701918, -0.3738122207],
        'dparams_abs': 22.52662873,
        'dstate_sum': -0.2914421402,
    },
    'rnn_tanh-L2-D1-P0': {
        'out_last': [0.1542535519, 0.3150565819, -0.6474472657, -0.669042839, -0.04020576645],
        'out_first': [0.07188288535, -0.1715066038, -0.3903064444, -0.4678897146, -0.511837822],
        'out_sum': -5.434449061,
        'hy_sum': -1.004103079,
        'ddata_first': [0.06437908237, 0.04496596206, 0.01946690974, -0.008666897494],
        'ddata_sum': -0.2625958002,
        'dparams_head': [0.08673998529, 0.05695565857, 0.01946265065, -0.02066453573, 0.1993181502, 0.1420846875],
        'dparams_tail': [-0.4365151278, -0.1932728695, -0.3954880045, -0.3694008118, -0.3234535794, -0.4365151278],
        'dparams_abs': 21.95120387,
        'dstate_sum': 0.207009368,
    },
    'rnn_tanh-L2-D2-P0': {
        'out_last': [-0.6981513266, 0.04659822625, -0.3876908637, -0.9279078233, 0.4608595578, 0.6417232004, 0.3369670048, 0.6410063853, 0.5404489516, -0.4675572132],
        'out_first': [-0.4097208144, -0.1785985405, -0.5487336088, -0.9154553567, 0.7629172704, 0.5760665738, 0.7441792949, 0.5465918069, 0.181388583, -0.3754370217],
        'out_sum': 2.180802422,
        'hy_sum': 4.887910823,
        'ddata_first': [-0.01145218511, 0.02008389985, 0.04890172318, 0.07110092769],
        'ddata_sum': 1.144419089,
        'dparams_head': [0.1198567527, 0.02943036209, -0.06497928999, -0.1505943, 0.3694810745, 0.2507755005],
        'dparams_tail': [-0.2284778744, -0.4765709804, -0.4883740383, -0.2187229652, -0.4422485081, -0.2284778744],
        'dparams_abs': 50.76163591,
        'dstate_sum': -0.3057943798,
    },
    'lstm-L1-D1-P0': {
        'out_last': [-0.01051905532, -0.1559319521, -0.08526453575, -0.02061939888, -0.236360564],
        'out_first': [-0.03064213729, -0.009759448754, -0.03305674314, -0.2444849441, -0.2531122434],
        'out_sum': -3.387185455,
        'hy_sum': -1.137324759,
        'cy_sum': -3.629917395,
        'ddata_first': [0.04955320232, 0.02375394083, -0.005260305125, -0.03356259346],
        'ddata_sum': 1.075898881,
        'dparams_head': [-0.02194935735, -0.01682569857, -0.009424760423, -0.0007482251635, -0.09400390422, -0.09485427951],
        'dparams_tail': [0.2713975255, 0.00155436452, -0.004717945707, -0.004594679898, 0.1023560243, -0.09812100551],
        'dparams_abs': 11.48593607,
        'dstate_sum': -0.4076728624,
        'dcell_sum': 0.3126253682,
    },
    'lstm-L1-D2-P0': {
        'out_last': [-0.1065893744, 0.01034879048, 0.1785891661, 0.1749421507, 0.09145962725, 0.1553129504, 0.0565673711, -0.02237323276, -0.05045880428, -0.2500802273],
        'out_first': [-0.1915807642, 0.1481268948, 0.1169218093, -0.0513882018, 0.004375503144, 0.1101594464, 0.06155170272, -0.0009498407452, -0.05496590833, -0.1761343248],
        'out_sum': 2.076650113,
        'hy_sum': 0.6512638315,
        'cy_sum': 1.568909622,
        'ddata_first': [0.100619082, 0.09986270167, 0.08559037315, 0.05973378915],
        'ddata_sum': 0.6637390328,
        'dparams_head': [-0.05803142289, -0.03887450958, -0.01445611377, 0.01191884923, -0.05560745288, -0.06350511879],
        'dparams_tail': [-0.3884718424, -0.03068819355, 0.0137842918, 0.1059348226, 0.06700329225, 0.0496697387],
        'dparams_abs': 18.52889891,
        'dstate_sum': -0.5070569654,
        'dcell_sum': -0.6584724425,
    },
    'lstm-L2-D1-P0': {
        'out_last': [0.0006756969363, -0.2277993009, -0.3500331043, -0.3072009175, -0.3623271977],
        'out_first': [-0.03413631625, -0.00108628028, -0.03642963198, -0.1082425605, -0.1467080638],
        'out_sum': -5.699947532,
        'hy_sum': -1.748999609,
        'cy_sum': -3.794422455,
        'ddata_first': [0.0105212959, 0.003011349851, -0.004906168274, -0.01215965954],
        'ddata_sum': -0.2262919812,
        'dparams_head': [0.005981888923, 0.003916299036, 0.001320656446, -0.001453730797, -0.006807746654, -0.0109754672],
        'dparams_tail': [-0.4001346465, -0.02498130937, -0.01009048683, -0.0002322022574, -0.008136767251, 0.01180647895],
        'dparams_abs': 16.75731604,
        'dstate_sum': -0.4551001179,
        'dcell_sum': -0.3999696079,
    },
    'lstm-L2-D2-P0': {
        'out_last': [0.3827669586, 0.05942406797, 0.3386083294, 0.139336156, 0.108396386, -0.03192314689, -0.07741332388, -0.06388738171, -0.1831233308, -0.3783104069],
        'out_first': [-0.1617405559, 0.00820651505, 0.1788380992, -0.093713713, -0.01462812643, -0.01516260558, 0.3275101382, -0.05956828082, -0.159792876, -0.2585289485],
        'out_sum': 2.026912529,
        'hy_sum': -1.374833889,
        'cy_sum': -4.047154813,
        'ddata_first': [0.1415902652, 0.09910206448, 0.04320086429, -0.01854737021],
        'ddata_sum': -0.4843959179,
        'dparams_head': [0.0005831928674, 0.003277231062, 0.005527711407, 0.007030041945, -0.07790545017, -0.0824241498],
        'dparams_tail': [0.172713511, 0.0467571538, 0.07116420061, 0.1034788556, 0.08052773845, 0.08909499047],
        'dparams_abs': 40.66377449,
        'dstate_sum': -0.8614202345,
        'dcell_sum': 0.2758739078,
    },
    'gru-L1-D1-P0': {
        'out_last': [-0.1470291454, -0.6934387408, -0.5614663293, 0.04975757851, -0.3119546959],
        'out_first': [0.1732012553, -0.1899051913, -0.01087180897, -0.1331986017, -0.4598013439],
        'out_sum': -9.059700731,
        'hy_sum': -3.476793312,
        'ddata_first': [-0.04075048765, -0.05052623566, -0.0534634947, -0.04916472055],
        'ddata_sum': 0.5014119952,
        'dparams_head': [0.001218340956, -0.003337202018, -0.007441070354, -0.01053782473, -0.007094551878, -0.001081292044],
        'dparams_tail': [0.04428371002, -0.2425761119, -0.08816334253, -0.125139857, 0.1595661072, 0.3462755908],
        'dparams_abs': 10.88327511,
        'dstate_sum': -1.374417455,
    },
    'gru-L1-D2-P0': {
        'out_last': [-0.02680869922, -0.6501960188, -0.5409526094, -0.02630102202, -0.4376625913, 0.3974226617, -0.003073560004, 0.4140134812, 0.3642944692, 0.1100226182],
        'out_first': [0.213165083, -0.1113827042, 0.01610153435, -0.1255671418, -0.4380326029, 0.1279353985, 0.008045783905, 0.1064152846, 0.006200884582, -0.1394375451],
        'out_sum': -5.466034501,
        'hy_sum': -2.841898535,
        'ddata_first': [0.01879742836, 0.01152350633, 0.002689931783, -0.006507712416],
        'ddata_sum': 1.000111728,
        'dparams_head': [0.002265954971, -0.001009184585, -0.004147735741, -0.006724910322, -0.002009223966, 0.0003325017917],
        'dparams_tail': [-0.08707985979, 0.01607540263, -0.06898871512, -0.3053831825, 0.0024641945, 0.009978956099],
        'dparams_abs': 19.4747882,
        'dstate_sum': -3.53634447,
    },
    'gru-L2-D1-P0': {
        'out_last': [0.0524342423, 0.400662491, 0.9037042556, 0.03291156738, -0.04385184287],
        'out_first': [0.06221359065, 0.3626443116, 0.2222638727, 0.1679620554, 0.2970337807],
        'out_sum': 8.609776124,
        'hy_sum': 0.4419098154,
        'ddata_first': [0.03620595948, 0.0404164525, 0.03915676828, 0.03259739916],
        'ddata_sum': 0.5592655652,
        'dparams_head': [0.003365657798, 0.0008759666387, -0.001732282496, -0.004106075321, -0.001870934923, -0.001118528875],
        'dparams_tail': [-0.05681458629, 0.001308288163, -0.04405829558, -0.03079279289, -0.03770133992, -0.05380623346],
        'dparams_abs': 7.693649366,
        'dstate_sum': -1.64578568,
    },
    'gru-L2-D2-P0': {
        'out_last': [-0.3038713061, -0.6331795085, -0.3667760097, -0.2935728788, -0.4786216811, 0.3578971081, 0.2539565188, -0.173093879, -0.1437817848, -0.5063861973],
        'out_first': [-0.1778688097, -0.3046111515, -0.3568183584, -0.54875737, -0.51807066, 0.6503324812, -0.100135445, 0.2503757258, 0.01327710222, -0.3435299236],
        'out_sum': -10.71922603,
        'hy_sum': -1.130587993,
        'ddata_first': [-0.1156779029, -0.09066421601, -0.05337955283, -0.008870217584],
        'ddata_sum': 0.3916396903,
        'dparams_head': [-0.01020044482, -0.001936731813, 0.006589108761, 0.01422314437, 0.009757107528, 0.00508237558],
        'dparams_tail': [0.1207080459, -0.1725274082, -0.3168875097, -0.170502315, 0.02049538676, -0.04995475605],
        'dparams_abs': 31.91129354,
        'dstate_sum': -0.1829608327,
    },
    'lstm-L1-D1-P3': {
        'out_last': [-0.1876506297, 0.02001158379, 0.1766206351],
        'out_first': [-0.1532039472, 0.09571700243, 0.1004466026],
        'out_sum': -0.05717484157,
        'hy_sum': -0.05112677475,
        'cy_sum': 0.9884563517,
    },
    'lstm-L2-D2-P3': {
        'out_last': [-0.2520158381, -0.4195758792, 0.4832778783, 0.01679888073, -0.1152288473, 0.04671301221],
        'out_first': [-0.3667723368, -0.3827715463, 0.5777485467, -0.1955426473, -0.2584886482, 0.338016548],
        'out_sum': -1.582931453,
        'hy_sum': -0.8632891211,
        'cy_sum': -1.135623331,
    },
}
MXNET_FLOAT32 = {
    'rnn_relu-L1-D1-P0': {'out_sum': 16.24097252, 'hy_sum': 4.556192875},
    'rnn_relu-L1-D2-P0': {'out_sum': 29.82971764, 'hy_sum': 11.30805588},
    'rnn_relu-L2-D1-P0': {'out_sum': 3.693964958, 'hy_sum': 3.459960222},
    'rnn_relu-L2-D2-P0': {'out_sum': 25.31551743, 'hy_sum': 18.5146904},
    'rnn_tanh-L1-D1-P0': {'out_sum': 4.619042873, 'hy_sum': 1.987276793},
    'rnn_tanh-L1-D2-P0': {'out_sum': 5.458688736, 'hy_sum': 2.539742947},
    'rnn_tanh-L2-D1-P0': {'out_sum': -5.43445015, 'hy_sum': -1.004103184},
    'rnn_tanh-L2-D2-P0': {'out_sum': 2.180802584, 'hy_sum': 4.887910843},
    'lstm-L1-D1-P0': {'out_sum': -3.387185574, 'hy_sum': -1.137324691, 'cy_sum': -3.629917622},
    'lstm-L1-D2-P0': {'out_sum': 2.076650381, 'hy_sum': 0.6512638927, 'cy_sum': 1.568909407},
    'lstm-L2-D1-P0': {'out_sum': -5.699947834, 'hy_sum': -1.748999596, 'cy_sum': -3.794422388},
    'lstm-L2-D2-P0': {'out_sum': 2.026912451, 'hy_sum': -1.374834061, 'cy_sum': -4.047154903},
    'gru-L1-D1-P0': {'out_sum': -9.059700012, 'hy_sum': -3.476793528},
    'gru-L1-D2-P0': {'out_sum': -5.466034889, 'hy_sum': -2.841898203},
    'gru-L2-D1-P0': {'out_sum': 8.609775543, 'hy_sum': 0.4419095814},
    'gru-L2-D2-P0': {'out_sum': -10.71922398, 'hy_sum': -1.130588055},
    'lstm-L1-D1-P3': {'out_sum': -0.05717483163, 'hy_sum': -0.05112677813, 'cy_sum': 0.9884564281},
    'lstm-L2-D2-P3': {'out_sum': -1.582931519, 'hy_sum': -0.8632891178, 'cy_sum': -1.135623097},
}


def config(key):
    mode, layers, directions, projection = key.split("-")
    params = dict(mode=mode, num_layers=int(layers[1:]), bidirectional=directions == "D2",
                  state_size=H, state_outputs=True)
    if projection != "P0":
        params["projection_size"] = int(projection[1:])
    return params


def run(params, dtype, train):
    names = ["data", "parameters", "state"] + (["state_cell"] if params["mode"] == "lstm" else [])
    sym = mx.sym.RNN(*[mx.sym.Variable(n) for n in names], **params)
    exe = sym.simple_bind(mx.cpu(), grad_req="write" if train else "null",
                          type_dict={n: dtype for n in names}, data=(T, N, I))
    for k, name in enumerate(names):
        exe.arg_dict[name][:] = pattern(exe.arg_dict[name].shape, k)
    outs = [np.array(o) for o in exe.forward(is_train=train)]
    grads = {}
    if train:
        exe.backward([pattern(o.shape, 10 + k) for k, o in enumerate(outs)])
        grads = {n: np.array(exe.grad_dict[n]) for n in names}
    return outs, grads


def check(actual, expected, tol, what):
    np.testing.assert_allclose(actual, expected, rtol=tol, atol=tol, err_msg=what)


@pytest.mark.parametrize("key", list(MXNET_FLOAT64))
def test_float64_matches_mxnet(key):
    params = config(key)
    ref = MXNET_FLOAT64[key]
    train = "ddata_sum" in ref
    outs, grads = run(params, np.float64, train)
    # MXNet's CPU rnn_relu rounds every activation to float32 (rnn_impl.h's relu casts to float)
    tol = 1e-6 if params["mode"] == "rnn_relu" else 1e-8
    check(outs[0][-1, -1], ref["out_last"], tol, "out[-1, -1]")
    check(outs[0][0, 0], ref["out_first"], tol, "out[0, 0]")
    check(outs[0].sum(), ref["out_sum"], tol, "out.sum()")
    check(outs[1].sum(), ref["hy_sum"], tol, "hy.sum()")
    if "cy_sum" in ref:
        check(outs[2].sum(), ref["cy_sum"], tol, "cy.sum()")
    if train:
        check(grads["data"][0, 0], ref["ddata_first"], tol, "ddata[0, 0]")
        check(grads["data"].sum(), ref["ddata_sum"], tol, "ddata.sum()")
        check(grads["parameters"][:6], ref["dparams_head"], tol, "dparameters[:6]")
        check(grads["parameters"][-6:], ref["dparams_tail"], tol, "dparameters[-6:]")
        check(np.abs(grads["parameters"]).sum(), ref["dparams_abs"], tol, "|dparameters|.sum()")
        check(grads["state"].sum(), ref["dstate_sum"], tol, "dstate.sum()")
        if "dcell_sum" in ref:
            check(grads["state_cell"].sum(), ref["dcell_sum"], tol, "dstate_cell.sum()")


@pytest.mark.parametrize("key", list(MXNET_FLOAT32))
def test_float32_matches_mxnet(key):
    outs, _ = run(config(key), np.float32, False)
    ref = MXNET_FLOAT32[key]
    for value, name in zip(outs, ("out_sum", "hy_sum", "cy_sum")):
        check(value.sum(), ref[name], 2e-5, name)


# ---------------------------------------------------------------------------------------------
# dropout between layers

def dropout_executor(mode, dtype=np.float64):
    params = dict(mode=mode, num_layers=3, state_size=H, p=0.4, bidirectional=True,
                  state_outputs=True)
    names = ["data", "parameters", "state"] + (["state_cell"] if mode == "lstm" else [])
    sym = mx.sym.RNN(*[mx.sym.Variable(n) for n in names], **params)
    exe = sym.simple_bind(mx.cpu(), type_dict={n: dtype for n in names}, data=(T, N, I))
    for k, name in enumerate(names):
        exe.arg_dict[name][:] = pattern(exe.arg_dict[name].shape, k)
    return exe, names


def test_dropout_only_in_training():
    exe, _ = dropout_executor("lstm")
    first = np.array(exe.forward(is_train=False)[0])
    np.testing.assert_array_equal(exe.forward(is_train=False)[0], first)
    mx.random.seed(3)
    trained = np.array(exe.forward(is_train=True)[0])
    assert not np.allclose(trained, first)
    mx.random.seed(3)
    np.testing.assert_array_equal(exe.forward(is_train=True)[0], trained)
    mx.random.seed(4)
    assert not np.allclose(exe.forward(is_train=True)[0], trained)


@pytest.mark.parametrize("mode", ["lstm", "gru", "rnn_tanh"])
def test_dropout_gradient_uses_the_forward_masks(mode):
    """The backward recomputes the forward: with the masks of the last training forward, so the
    gradient is that of the function the forward computed (finite differences, the same seed
    before every forward)."""
    exe, names = dropout_executor(mode)
    heads = [pattern(o.shape, 10 + k) for k, o in enumerate(exe.outputs)]

    def loss():
        mx.random.seed(5)
        outs = exe.forward(is_train=True)
        return sum(float((o * h).sum()) for o, h in zip(outs, heads))

    loss()
    exe.backward(heads)
    for name in names:
        analytic = np.array(exe.grad_dict[name]).ravel()
        values = exe.arg_dict[name].reshape(-1)
        for index in np.random.default_rng(0).choice(values.size, 6, replace=False):
            saved = values[index]
            values[index] = saved + 1e-6
            up = loss()
            values[index] = saved - 1e-6
            down = loss()
            values[index] = saved
            assert abs((up - down) / 2e-6 - analytic[index]) < 1e-6, (name, index)


# ---------------------------------------------------------------------------------------------
# shapes: what Gluon's exported graphs need

def test_param_size_matches_mxnet():
    # MXNet's GetRnnParamSize for these settings (as infer_shape reports in MXNet 1.9.1)
    assert param_size(dict(mode="lstm", num_layers=1, bidirectional=False, state_size=5,
                           projection_size=None), 4) == 220
    assert param_size(dict(mode="lstm", num_layers=1, bidirectional=False, state_size=5,
                           projection_size=3), 4) == 195


def test_rnn_infers_every_input_from_data():
    sym = mx.sym.RNN(mx.sym.Variable("data"), mx.sym.Variable("params"), mx.sym.Variable("h"),
                     mx.sym.Variable("c"), mode="lstm", state_size=7, num_layers=2,
                     bidirectional=True, state_outputs=True, projection_size=3)
    args, outs, _ = sym.infer_shape(data=(6, 2, 5))
    # per direction: 4 gates * 7 * (inputs + 3 + 2) + the 3 x 7 projection; inputs 5, then 2 * 3
    assert args == [(6, 2, 5), (2 * (28 * 10 + 21) + 2 * (28 * 11 + 21),), (4, 2, 3), (4, 2, 7)]
    assert outs == [(6, 2, 6), (4, 2, 3), (4, 2, 7)]


def gluon_like_lstm(hidden=6, layers=2, bidirectional=True):
    """What Gluon's rnn.LSTM exports: deferred-init weights (unknown input size as 0) reshaped
    to (-1,), joined by _rnn_param_concat, and zero begin states of unknown batch size."""
    directions = ["l", "r"][:2 if bidirectional else 1]
    pieces = []
    for kind in ("weight", "bias"):
        for layer in range(layers):
            for d in directions:
                for gate in ("i2h", "h2h"):
                    name = f"lstm0_{d}{layer}_{gate}_{kind}"
                    if kind == "weight":
                        inputs = 0 if layer == 0 and gate == "i2h" else (
                            hidden if gate == "h2h" else hidden * len(directions))
                        shape = (4 * hidden, inputs)
                    else:
                        shape = (4 * hidden,)
                    pieces.append(mx.sym.reshape(mx.sym.Variable(name, shape=shape), shape=(-1,)))
    params = mx.sym._internal._rnn_param_concat(*pieces, num_args=len(pieces), dim=0)
    units = layers * len(directions)
    h0 = mx.sym.zeros(shape=(units, 0, hidden))
    c0 = mx.sym.zeros(shape=(units, 0, hidden))
    return mx.sym.RNN(mx.sym.Variable("data"), params, h0, c0, mode="lstm", state_size=hidden,
                      num_layers=layers, bidirectional=bidirectional, state_outputs=True, name="lstm0_rnn0")


def test_gluon_parameter_vector_fills_unknown_weights():
    sym = gluon_like_lstm()
    args, outs, _ = sym.infer_shape(data=(4, 3, 9))
    shapes = dict(zip(sym.list_arguments(), args))
    assert shapes["lstm0_l0_i2h_weight"] == (24, 9)
    assert shapes["lstm0_r0_i2h_weight"] == (24, 9)
    assert shapes["lstm0_l1_i2h_weight"] == (24, 12)
    assert outs[0] == (4, 3, 12)


def test_gluon_like_graph_runs():
    sym = gluon_like_lstm(hidden=4, layers=1, bidirectional=False)
    exe = sym.simple_bind(mx.cpu(), grad_req="null", data=(3, 2, 5))
    for k, (name, array) in enumerate(exe.arg_dict.items()):
        array[:] = pattern(array.shape, k)
    out = exe.forward()[0]
    flat = np.concatenate([exe.arg_dict[n].ravel() for n in sym.list_arguments() if n != "data"])
    direct = mx.sym.RNN(mx.sym.Variable("data"), mx.sym.Variable("p"), mx.sym.Variable("h"),
                        mx.sym.Variable("c"), mode="lstm", state_size=4, num_layers=1)
    exe2 = direct.simple_bind(mx.cpu(), grad_req="null", data=(3, 2, 5))
    exe2.arg_dict["data"][:] = exe.arg_dict["data"]
    exe2.arg_dict["p"][:] = flat
    np.testing.assert_allclose(out, exe2.forward()[0], rtol=1e-6)


def test_param_concat_two_unknown_inputs_share_the_rest():
    a, b, c = (mx.sym.Variable(n) for n in "abc")
    sym = mx.sym._internal._rnn_param_concat(a, b, c, num_args=3, dim=0)
    args, outs, _ = sym.infer_shape_partial(a=(0,), b=(0,), c=(4,))
    assert outs == [()] or outs[0] in ((), None) or outs[0] == (0,)
    total = mx.sym.RNN(mx.sym.Variable("data"), sym, mx.sym.Variable("h"), mode="rnn_tanh",
                       state_size=2, num_layers=1)
    args, _, _ = total.infer_shape(data=(3, 1, 2), a=(0,), b=(0,), c=(4,))
    shapes = dict(zip(total.list_arguments(), args))
    # rnn_tanh, H=2, I=2: 2*(2 + 2 + 2) = 12 elements; c has 4, a and b share the other 8
    assert shapes["a"] == (4,) and shapes["b"] == (4,)


def test_param_concat_too_many_unknown_inputs():
    a, b, c = (mx.sym.Variable(n) for n in "abc")
    sym = mx.sym._internal._rnn_param_concat(a, b, c, num_args=3, dim=0)
    total = mx.sym.RNN(mx.sym.Variable("data"), sym, mx.sym.Variable("h"), mode="rnn_tanh",
                       state_size=2, num_layers=1)
    with pytest.raises(MXNetError, match="1 or 2 inputs"):
        total.infer_shape(data=(3, 1, 2), a=(0,), b=(0,), c=(0,))


# ---------------------------------------------------------------------------------------------
# errors

@pytest.mark.parametrize("params, message", [
    (dict(mode="gru", projection_size=2), "only supported for LSTM"),
    (dict(mode="lstm", lstm_state_clip_min=-1.0), "specified together"),
    (dict(mode="lstm", lstm_state_clip_min=1.0, lstm_state_clip_max=-1.0), "greater or equal"),
    (dict(mode="rnn_tanh", lstm_state_clip_min=-1.0, lstm_state_clip_max=1.0), "only supported for LSTM"),
    (dict(mode="lstm", p=1.0), "dropout rate"),
])
def test_bad_parameters(params, message):
    sym = mx.sym.RNN(mx.sym.Variable("data"), state_size=3, num_layers=1, name="rnn7", **params)
    with pytest.raises(MXNetError, match=message) as info:
        sym.infer_shape(data=(2, 3, 4))
    assert "rnn7" in str(info.value)


def test_bad_data_rank():
    sym = mx.sym.RNN(mx.sym.Variable("data"), state_size=3, num_layers=1, mode="gru", name="rnn8")
    with pytest.raises(MXNetError, match=r"rnn8.*\(sequence length, batch, input size\)"):
        sym.infer_shape(data=(2, 3))


def test_sequence_length_refused_at_bind():
    sym = mx.sym.RNN(mx.sym.Variable("data"), state_size=3, num_layers=1, mode="gru",
                     use_sequence_length=True, name="rnn9")
    assert sym.list_arguments() == ["data", "rnn9_parameters", "rnn9_state", "rnn9_sequence_length"]
    with pytest.raises(MXNetError, match="use_sequence_length"):
        sym.simple_bind(mx.cpu(), data=(2, 3, 4))


def test_json_round_trip_keeps_parameters():
    sym = mx.sym.RNN(mx.sym.Variable("data"), state_size=3, num_layers=2, mode="lstm", p=0.25,
                     bidirectional=True, state_outputs=True, projection_size=2, name="rnn1")
    again = mx.sym.load_json(sym.tojson())
    assert again.tojson() == sym.tojson()
    assert again.list_outputs() == ["rnn1_output", "rnn1_state_output", "rnn1_statecell_output"]
