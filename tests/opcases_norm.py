"""Registry-table rows for BatchNorm's relatives (cysym/ops/norm.py): GroupNorm,
_contrib_SyncBatchNorm and _contrib_BatchNormWithReLU (BatchNorm's own rows are in
test_ops.py).

References are NumPy from MXNet 1.9.1's sources: GroupNorm's gamma and beta hold one value
per group (src/operator/nn/group_norm.cc); SyncBatchNorm on one machine is BatchNorm over
axis 1; BatchNormWithReLU is max(BatchNorm, 0).  Rows marked "MXNet 1.9.1" compare with
values MXNet computed."""
import numpy as np

from opcase import Case, positive, signed
from opcases_resize import mxnet_pattern


def fixed(values):
    values = np.asarray(values, dtype=np.float64)
    return lambda rng, shape: values.reshape(shape)


def np_group_norm(data, gamma, beta, num_groups=1, eps=1e-5, output_mean_var=False):
    n = data.shape[0]
    groups = data.reshape(n, num_groups, -1)
    mean = groups.mean(axis=2)
    std = np.sqrt(groups.var(axis=2) + eps)
    out = (groups - mean[:, :, None]) / std[:, :, None] * gamma[None, :, None] \
        + beta[None, :, None]
    out = out.reshape(data.shape)
    return [out, mean, std] if output_mean_var else out


def np_batch_norm(data, gamma, beta, moving_mean, moving_var, eps=1e-3, fix_gamma=True,
                  use_global_stats=False, output_mean_var=False, axis=1, is_train=True,
                  relu=False, **_):
    axis %= data.ndim
    axes = tuple(k for k in range(data.ndim) if k != axis)
    shape = [1] * data.ndim
    shape[axis] = data.shape[axis]
    if is_train and not use_global_stats:
        mean, var = data.mean(axis=axes), data.var(axis=axes)
    else:
        mean, var = moving_mean, moving_var
    scale = (np.ones_like(gamma) if fix_gamma else gamma) / np.sqrt(var + eps)
    out = (data - mean.reshape(shape)) * scale.reshape(shape) + beta.reshape(shape)
    if relu:
        out = np.maximum(out, 0)
    return [out, mean, var] if output_mean_var else out


def batch_norm_case(op, relu=False, is_train=True, shape=(2, 3, 5), channels=3, **kw):
    inputs = {"data": (shape, signed), "gamma": ((channels,), positive),
              "beta": ((channels,), signed)}
    aux = {"moving_mean": ((channels,), signed), "moving_var": ((channels,), positive)}
    return Case(op, inputs, aux=aux, is_train=is_train,
                ref=lambda **values: np_batch_norm(is_train=is_train, relu=relu, **values), **kw)


def agrees_with(reference, mxnet_values, rtol=1e-6, atol=1e-6):
    np.testing.assert_allclose(reference, mxnet_values, rtol=rtol, atol=atol,
                               err_msg="the NumPy reference disagrees with MXNet")
    return reference


# MXNet 1.9.1: mx.nd.contrib.BatchNormWithReLU(x, gamma, beta, zeros(3), ones(3),
# fix_gamma=False, eps=1e-3) recorded for training (float32), on x = mxnet_pattern((2, 3, 2, 2)),
# gamma = [1.5, 0.5, 2.0], beta = [0.25, -0.5, 0.1]
MXNET_BATCH_NORM_RELU = np.array([
    0.0, 0.31478869915008545, 2.388026475906372, 0.0, 0.0, 0.0, 0.0, 0.0, 3.574732542037964, 0.0,
    1.7618286609649658, 0.0, 0.31478869915008545, 2.388026475906372, 0.0, 0.8330981731414795,
    0.0, 0.0, 0.0, 0.16948306560516357, 0.0, 1.7618286609649658, 0.0, 0.0]).reshape(2, 3, 2, 2)

BAD_CHANNELS = ("shapes", {"data": (2, 3, 5), "gamma": (5,), "beta": (3,)})

CASE_LIST = [
    # -- GroupNorm ---------------------------------------------------------------------------
    Case("GroupNorm", {"data": ((2, 6, 5), signed), "gamma": ((3,), positive),
                       "beta": ((3,), signed)}, params=dict(num_groups=3), ref=np_group_norm,
         bad=[("params", {"num_groups": 4}), ("shapes", {"data": (2, 6)}),
              # one value per group, not per channel
              ("shapes", {"data": (2, 6, 5), "gamma": (6,), "beta": (6,)})]),
    # one group of 60 values: gradients reach ~15, and finite differences of the
    # smallest ones (~2e-4) carry ~1e-8 of truncation error
    Case("GroupNorm", {"data": ((2, 4, 3, 5), signed), "gamma": ((1,), positive),
                       "beta": ((1,), signed)}, params=dict(eps=1e-3), ref=np_group_norm,
         grad_tol=(1e-5, 1e-7), id="GroupNorm-one-group-4d"),
    # mean and std as outputs: no gradient flows through them (as MXNet), so only the forward
    # and the in-place checks apply
    Case("GroupNorm", {"data": ((3, 4, 5), signed), "gamma": ((2,), positive),
                       "beta": ((2,), signed)}, params=dict(num_groups=2, output_mean_var=True),
         ref=np_group_norm, grad=(), id="GroupNorm-output-mean-var"),
    # MXNet 1.9.1: mx.nd.GroupNorm(x, gamma, beta, num_groups=2, eps=1e-5,
    # output_mean_var=True) on x = mxnet_pattern((2, 4, 3)), gamma = [1.5, -0.5],
    # beta = [0.25, -1.0] in float64
    Case("GroupNorm", {"data": ((2, 4, 3), mxnet_pattern), "gamma": ((2,), fixed([1.5, -0.5])),
                       "beta": ((2,), fixed([0.25, -1.0]))},
         params=dict(num_groups=2, eps=1e-5, output_mean_var=True), grad=(),
         ref=lambda **_: [np.array(v).reshape(s) for v, s in (
             ([-1.7929397817300137, 0.02300669091888735, 1.8389531635677887, -1.3389531635677887,
               0.47699330908111265, 2.2929397817300137, -0.6019879612193634, -1.1990060193903183,
               -1.7960240775612732, -0.7512424757621021, -1.3482605339330571,
               -0.30347893213388577, -0.1794446956703093, 1.881889843547175, -1.7254456000834226,
               0.3358889391340618, 2.3972234783515467, -1.2101119652790515, -1.1581126181125656,
               -1.790563090562828, -0.6837747637748688, -1.3162252362251312,
               -0.20943690943717208, -0.8418873818874344], (2, 4, 3)),
             ([-0.125, -0.08333333333333333, -0.041666666666666664, 0.0], (2, 2)),
             ([0.826015536576894, 0.8374956052951181, 0.7276839210046051, 0.7905757395719574],
              (2, 2)))],
         id="GroupNorm-mxnet"),

    # -- _contrib_SyncBatchNorm ------------------------------------------------------------------
    batch_norm_case("_contrib_SyncBatchNorm", params=dict(key="sbn", fix_gamma=False),
                    bad=[BAD_CHANNELS]),
    batch_norm_case("_contrib_SyncBatchNorm", is_train=False,
                    shape=(2, 3, 4, 5), params=dict(key="sbn", use_global_stats=True, ndev=4),
                    grad=("data", "beta"), id="_contrib_SyncBatchNorm-global-stats-fix-gamma"),
    batch_norm_case("_contrib_SyncBatchNorm",
                    params=dict(key="sbn", fix_gamma=False, output_mean_var=True, eps=1e-2),
                    grad=(), id="_contrib_SyncBatchNorm-output-mean-var"),

    # -- _contrib_BatchNormWithReLU ------------------------------------------------------------
    batch_norm_case("_contrib_BatchNormWithReLU", relu=True, params=dict(fix_gamma=False),
                    bad=[BAD_CHANNELS, ("params", {"axis": 3})]),
    batch_norm_case("_contrib_BatchNormWithReLU", relu=True, shape=(2, 5, 3),
                    params=dict(axis=-1), id="_contrib_BatchNormWithReLU-last-axis-fix-gamma"),
    batch_norm_case("_contrib_BatchNormWithReLU", relu=True, is_train=False,
                    shape=(2, 3, 4, 5), params=dict(use_global_stats=True, fix_gamma=False),
                    id="_contrib_BatchNormWithReLU-global-stats"),
    # MXNet 1.9.1 runs it in float32 only (MKL-DNN), so its values check the NumPy reference
    # (to float32 accuracy), which the kernels then match in both dtypes
    Case("_contrib_BatchNormWithReLU",
         {"data": ((2, 3, 2, 2), mxnet_pattern), "gamma": ((3,), fixed([1.5, 0.5, 2.0])),
          "beta": ((3,), fixed([0.25, -0.5, 0.1]))},
         aux={"moving_mean": ((3,), fixed([0, 0, 0])), "moving_var": ((3,), fixed([1, 1, 1]))},
         params=dict(fix_gamma=False), is_train=True, grad=(),
         ref=lambda **values: agrees_with(
             np_batch_norm(relu=True, **values), MXNET_BATCH_NORM_RELU),
         id="_contrib_BatchNormWithReLU-mxnet"),
]
