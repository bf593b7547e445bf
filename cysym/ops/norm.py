"""BatchNorm."""
from ..registry import OpDef, Param, register
from .common import normalize_axis


def _bn_shape(ctx, ins, outs):
    data = ins[0] if ins[0] is not None else outs[0]
    if data is None:
        return ins, outs
    axis = normalize_axis(ctx, ctx.params["axis"], len(data))
    channel = (data[axis],)
    return [data, channel, channel, channel, channel], [data, channel, channel]


register(OpDef(
    "BatchNorm",
    params=[
        Param("eps", "float", 1e-3, "Epsilon to prevent div 0.", low=0.0),
        Param("momentum", "float", 0.9, "Momentum for moving average."),
        Param("fix_gamma", "bool", True, "Fix gamma while training (treated as 1)."),
        Param("use_global_stats", "bool", False, "Use the moving statistics in training too."),
        Param("output_mean_var", "bool", False, "Output the batch mean and variance as well."),
        Param("axis", "int", 1, "The channel axis."),
        Param("cudnn_off", "bool", False, "Ignored (no cuDNN)."),
        Param("min_calib_range", "float", None, "Ignored (no quantization).", optional=True),
        Param("max_calib_range", "float", None, "Ignored (no quantization).", optional=True),
    ],
    inputs=("data", "gamma", "beta"),
    aux=("moving_mean", "moving_var"),
    outputs=("output", "mean", "var"),
    var_attrs={"moving_mean": {"__init__": '["zero", {}]'}, "moving_var": {"__init__": '["one", {}]'}},
    num_visible_outputs=lambda params: 3 if params["output_mean_var"] else 1,
    infer_shape=_bn_shape,
    doc="Batch normalization: (x - mean) / sqrt(var + eps) * gamma + beta over the channel axis; "
        "moving_mean and moving_var are auxiliary states.",
))
