"""Deformable convolutions: _contrib_DeformableConvolution (DCN v1) and
_contrib_ModulatedDeformableConvolution (DCN v2, with a mask), 2-D NCHW as MXNet's CPU build.

Kernels in cysym/_ops/deformable.pyx: a deformable im2col (bilinear sampling at offset
positions) + GEMM, and one backward node giving every input gradient.  MXNet 1.9.1 has no CPU
backward for the modulated op (GPU only); cysym computes it with the same derivative rules.
"""
import numpy as np

from ..registry import OpDef, Param, register
from .common import backward_grads, kernels
from .conv import conv_geometry, conv_output_spatial


def _geometry_params(params):
    return dict(kernel=params["kernel"], stride=params["stride"], dilate=params["dilate"],
                pad=params["pad"], num_filter=params["num_filter"],
                num_group=params["num_group"],
                num_deformable_group=params["num_deformable_group"])


def _inputs(modulated):
    def names(params):
        inputs = ["data", "offset"] + (["mask"] if modulated else []) + ["weight"]
        return inputs if params["no_bias"] else inputs + ["bias"]
    return names


def _shape_rule(modulated):
    def rule(ctx, ins, outs):
        """data (N, C, H, W) -> (N, num_filter, H', W') as Convolution's; offset (N,
        num_deformable_group * 2 * kh * kw, H', W'), mask (N, num_deformable_group * kh * kw, H',
        W') when modulated, weight (num_filter, C / num_group, kh, kw), bias (num_filter,) unless
        no_bias; 2-D kernels only."""
        params = ctx.params
        kernel, stride, dilate, pad = conv_geometry(ctx, None)
        if len(kernel) != 2:
            raise ctx.error(f"kernel={kernel}: only 2-D deformable convolution is supported "
                            f"(as in MXNet's CPU build)")
        data = ins[0]
        filters, groups, dgroups = (params["num_filter"], params["num_group"],
                                    params["num_deformable_group"])
        bias = [] if params["no_bias"] else [(filters,)]
        if data is None:
            return ins, outs
        if len(data) != 4:
            raise ctx.error(f"Input data should be 4D in batch-num_filter-y-x, got data {data}")
        channels = data[1]
        if channels % groups or filters % groups or channels % dgroups:
            raise ctx.error(f"num_group={groups} must divide the input channels ({channels}) and "
                            f"num_filter ({filters}), num_deformable_group={dgroups} the input "
                            f"channels")
        spatial = conv_output_spatial(ctx, data, kernel, stride, dilate, pad)
        taps = kernel[0] * kernel[1]
        offset = (data[0], dgroups * 2 * taps) + spatial
        mask = [(data[0], dgroups * taps) + spatial] if modulated else []
        weight = (filters, channels // groups) + kernel
        out = (data[0], filters) + spatial
        return [data, offset] + mask + [weight] + bias, [out]
    return rule


def _workspace(modulated):
    def size(params, in_shapes, out_shapes, dtype):
        data, weight = in_shapes[0], in_shapes[3 if modulated else 2]
        geo = kernels("deformable").geometry(data, weight, **_geometry_params(params))
        return kernels("deformable").workspace_bytes(geo, np.dtype(dtype).itemsize)
    return size


def _split(modulated, arrays):
    """(data, offset, mask or None, weight, bias or None) of the forward inputs."""
    arrays = list(arrays)
    mask = arrays.pop(2) if modulated else None
    bias = arrays[3] if len(arrays) > 3 else None
    return arrays[0], arrays[1], mask, arrays[2], bias


def _kernel(modulated):
    def append(b):
        x, offset, mask, w, bias = _split(modulated, b.inputs)
        kernels("deformable").append_forward(b.plan, x, offset, mask, w, bias, b.outputs[0],
                                             workspace=b.workspace, req=b.req[0], label=b.label,
                                             **_geometry_params(b.params))
    return append


def _gradient(backward_name, modulated):
    def rule(g):
        count = 4 if modulated else 3   # data, offset, [mask,] weight: bias itself is not read
        return backward_grads(g, backward_name, *g.inputs[:count])
    return rule


def _backward_outputs(modulated):
    def names(params):
        return [f"{n}_grad" for n in _inputs(modulated)(params)]
    return names


def _backward_shape(ctx, ins, outs):
    bias = [] if ctx.params["no_bias"] else [(ctx.params["num_filter"],)]
    return ins, list(ins[1:]) + bias


def _backward_workspace(modulated):
    # inputs are (out_grad, data, offset, [mask,] weight): the forward's buffer
    return lambda params, in_shapes, out_shapes, dtype: _workspace(modulated)(
        params, in_shapes[1:], [in_shapes[0]], dtype)


def _backward_kernel(modulated):
    def append(b):
        dy = b.inputs[0]
        x, offset, mask, w, _ = _split(modulated, b.inputs[1:] + [None])
        grads = list(b.outputs)
        reqs = list(b.req)
        if not modulated:
            grads.insert(2, None)
            reqs.insert(2, "null")
        if b.params["no_bias"]:
            grads.append(None)
            reqs.append("null")
        kernels("deformable").append_backward(b.plan, dy, x, offset, mask, w, *grads,
                                              workspace=b.workspace, reqs=reqs, label=b.label,
                                              **_geometry_params(b.params))
    return append


def _params(modulated):
    params = [
        Param("kernel", "shape", doc="Convolution kernel size: (h, w) or (d, h, w)",
              length=(1, 2, 3)),
        Param("stride", "shape", (), "Convolution stride: (h, w) or (d, h, w). Defaults to 1 "
                                     "for each dimension."),
        Param("dilate", "shape", (), "Convolution dilate: (h, w) or (d, h, w). Defaults to 1 "
                                     "for each dimension."),
        Param("pad", "shape", (), "Zero pad for convolution: (h, w) or (d, h, w). Defaults to "
                                  "no padding."),
        Param("num_filter", "int", doc="Convolution filter(channel) number", low=1),
        Param("num_group", "int", 1, "Number of group partitions.", low=1),
        Param("num_deformable_group", "int", 1, "Number of deformable group partitions.", low=1),
        Param("workspace", "int", 1024, "Ignored: workspace is planned at bind time.", low=0),
        Param("no_bias", "bool", False, "Whether to disable bias parameter."),
    ]
    if modulated:
        params.append(Param("im2col_step", "int", 64, "Ignored: samples are processed one by "
                                                      "one.", low=1))
    params.append(Param("layout", "str", None, "Set layout for input, output and weight. Empty "
                                               "for default layout: NCW for 1d, NCHW for 2d and "
                                               "NCDHW for 3d (only NCHW is supported).",
                        optional=True, choices=("NCW", "NCHW", "NCDHW")))
    return params


for _name, _modulated, _doc in (
        ("_contrib_DeformableConvolution", False,
         "Deformable convolution (Dai et al., 2017): each kernel tap of each output position "
         "reads the input bilinearly at its grid position plus a learned offset.  offset is "
         "(N, num_deformable_group*2*kh*kw, Ho, Wo), (h, w) pairs per tap; samples outside the "
         "input read 0, and the last row/column is clamped, as MXNet's CPU build."),
        ("_contrib_ModulatedDeformableConvolution", True,
         "Modulated deformable convolution (DCN v2, Zhu et al., 2019): deformable convolution "
         "whose every sample is scaled by mask (N, num_deformable_group*kh*kw, Ho, Wo); "
         "bilinear sampling is zero-padded outside the input.")):
    register(OpDef(
        _name,
        params=_params(_modulated),
        inputs=_inputs(_modulated),
        infer_shape=_shape_rule(_modulated),
        kernel=_kernel(_modulated),
        gradient=_gradient(f"_backward{_name[len('_contrib'):]}", _modulated),
        workspace=_workspace(_modulated),
        doc=_doc,
    ))
    register(OpDef(
        f"_backward{_name[len('_contrib'):]}",
        params=_params(_modulated),
        inputs=lambda params, _m=_modulated: ["out_grad"] + _inputs(_m)(dict(params, no_bias=True)),
        outputs=_backward_outputs(_modulated),
        infer_shape=_backward_shape,
        kernel=_backward_kernel(_modulated),
        workspace=_backward_workspace(_modulated),
        hidden=True,
        doc="Gradients of data, offset, [mask,] weight and bias in one pass: the column "
            "gradient W.T @ dY taken back through the bilinear sampling.",
    ))
