"""The image classifiers of Gluon's model zoo (MXNet 1.9.1, gluon/model_zoo/vision), written with
cysym.sym: the same layers, channels, kernels, strides and paddings, ending in SoftmaxOutput.

Checked against the layer attributes of the (smaller) exports of the same architectures in
tests/fixtures/realmodels.  Differences from Gluon, none of which changes the arithmetic at
Gluon's input sizes:
- BatchNorm is Gluon's (fix_gamma=False, eps 1e-5; Inception's 1e-3).
- The last pooling of Inception v3 (AvgPool 8) and DenseNet-121 (AvgPool 7) is a global average
  pooling, so that the networks also run on smaller inputs.
"""
import cysym as mx

sym = mx.sym


def _conv(x, name, channels, kernel, stride=1, pad=0, groups=1, bias=False):
    pair = lambda v: v if isinstance(v, tuple) else (v, v)
    return sym.Convolution(x, name=name, num_filter=channels, kernel=pair(kernel), stride=pair(stride),
                           pad=pair(pad), num_group=groups, no_bias=not bias)


def _bn(x, name, eps=1e-5):
    return sym.BatchNorm(x, name=name, fix_gamma=False, eps=eps)


def _relu(x):
    return sym.Activation(x, act_type="relu")


def _relu6(x):
    return sym.clip(x, a_min=0.0, a_max=6.0)


def _classifier(x, name, classes=1000):
    x = sym.Flatten(x)
    return sym.SoftmaxOutput(sym.FullyConnected(x, name=name, num_hidden=classes), name="softmax")


def _global_avg(x):
    return sym.Pooling(x, pool_type="avg", kernel=(1, 1), global_pool=True)


# ---- ResNet v1 (resnet18_v1, resnet50_v1) ------------------------------------------------------

def _basic_block_v1(x, name, channels, stride, downsample):
    out = _relu(_bn(_conv(x, f"{name}_conv0", channels, 3, stride, 1), f"{name}_bn0"))
    out = _bn(_conv(out, f"{name}_conv1", channels, 3, 1, 1), f"{name}_bn1")
    if downsample:
        x = _bn(_conv(x, f"{name}_down_conv", channels, 1, stride), f"{name}_down_bn")
    return _relu(out + x)


def _bottleneck_v1(x, name, channels, stride, downsample):
    # Gluon's v1 bottleneck strides in its first 1x1 convolution; its 1x1 convolutions have biases
    out = _relu(_bn(_conv(x, f"{name}_conv0", channels // 4, 1, stride, bias=True), f"{name}_bn0"))
    out = _relu(_bn(_conv(out, f"{name}_conv1", channels // 4, 3, 1, 1), f"{name}_bn1"))
    out = _bn(_conv(out, f"{name}_conv2", channels, 1, bias=True), f"{name}_bn2")
    if downsample:
        x = _bn(_conv(x, f"{name}_down_conv", channels, 1, stride), f"{name}_down_bn")
    return _relu(out + x)


def _resnet_v1(block, layers, channels):
    x = _relu(_bn(_conv(sym.Variable("data"), "conv0", channels[0], 7, 2, 3), "bn0"))
    x = sym.Pooling(x, pool_type="max", kernel=(3, 3), stride=(2, 2), pad=(1, 1))
    in_channels = channels[0]
    for stage, (count, width) in enumerate(zip(layers, channels[1:])):
        for i in range(count):
            stride = 2 if i == 0 and stage > 0 else 1
            x = block(x, f"stage{stage + 1}_unit{i + 1}", width, stride, i == 0 and (stride != 1 or width != in_channels))
            in_channels = width
    return _classifier(_global_avg(x), "dense")


def resnet18_v1():
    return _resnet_v1(_basic_block_v1, [2, 2, 2, 2], [64, 64, 128, 256, 512])


def resnet50_v1():
    return _resnet_v1(_bottleneck_v1, [3, 4, 6, 3], [64, 256, 512, 1024, 2048])


# ---- MobileNet v1 and v2 (mobilenet1.0, mobilenetv2_1.0) ----------------------------------------

def mobilenet1_0():
    dw_channels = [32, 64] + [128] * 2 + [256] * 2 + [512] * 6 + [1024]
    channels = [64] + [128] * 2 + [256] * 2 + [512] * 6 + [1024] * 2
    strides = [1, 2] * 3 + [1] * 5 + [2, 1]
    x = _relu(_bn(_conv(sym.Variable("data"), "conv0", 32, 3, 2, 1), "bn0"))
    for i, (dw, pw, stride) in enumerate(zip(dw_channels, channels, strides)):
        x = _relu(_bn(_conv(x, f"dw{i}", dw, 3, stride, 1, groups=dw), f"dw{i}_bn"))
        x = _relu(_bn(_conv(x, f"pw{i}", pw, 1), f"pw{i}_bn"))
    return _classifier(_global_avg(x), "dense")


def _linear_bottleneck(x, name, in_channels, channels, expansion, stride):
    # Gluon expands with a 1x1 convolution even where the expansion factor is 1
    out = _relu6(_bn(_conv(x, f"{name}_expand", in_channels * expansion, 1), f"{name}_expand_bn"))
    out = _relu6(_bn(_conv(out, f"{name}_dw", in_channels * expansion, 3, stride, 1,
                           groups=in_channels * expansion), f"{name}_dw_bn"))
    out = _bn(_conv(out, f"{name}_project", channels, 1), f"{name}_project_bn")
    return out + x if stride == 1 and in_channels == channels else out


def mobilenetv2_1_0():
    in_channels = [32] + [16] + [24] * 2 + [32] * 3 + [64] * 4 + [96] * 3 + [160] * 3
    channels = [16] + [24] * 2 + [32] * 3 + [64] * 4 + [96] * 3 + [160] * 3 + [320]
    expansions = [1] + [6] * 16
    strides = [1, 2] * 2 + [1, 1, 2] + [1] * 6 + [2] + [1] * 3
    x = _relu6(_bn(_conv(sym.Variable("data"), "conv0", 32, 3, 2, 1), "bn0"))
    for i, args in enumerate(zip(in_channels, channels, expansions, strides)):
        x = _linear_bottleneck(x, f"bottleneck{i}", *args)
    x = _relu6(_bn(_conv(x, "conv_last", 1280, 1), "bn_last"))
    # Gluon's classifier is a 1x1 convolution without bias
    x = sym.Flatten(_conv(_global_avg(x), "pred", 1000, 1))
    return sym.SoftmaxOutput(x, name="softmax")


# ---- VGG-11 with BatchNorm (vgg11_bn) ----------------------------------------------------------

def vgg11_bn():
    x = sym.Variable("data")
    for stage, (count, width) in enumerate(zip([1, 1, 2, 2, 2], [64, 128, 256, 512, 512])):
        for i in range(count):
            name = f"stage{stage + 1}_conv{i}"
            x = _relu(_bn(_conv(x, name, width, 3, 1, 1, bias=True), f"{name}_bn"))
        x = sym.Pooling(x, pool_type="max", kernel=(2, 2), stride=(2, 2))
    x = sym.Flatten(x)
    for i in range(2):
        x = sym.Dropout(_relu(sym.FullyConnected(x, name=f"dense{i}", num_hidden=4096)), p=0.5)
    return sym.SoftmaxOutput(sym.FullyConnected(x, name="dense2", num_hidden=1000), name="softmax")


# ---- Inception v3 (inceptionv3) ----------------------------------------------------------------

def _basic(x, name, channels, kernel, stride=1, pad=0):
    return _relu(_bn(_conv(x, name, channels, kernel, stride, pad), f"{name}_bn", eps=1e-3))


def _avg_3x3(x):
    return sym.Pooling(x, pool_type="avg", kernel=(3, 3), stride=(1, 1), pad=(1, 1), count_include_pad=True)


def _max_3x3_s2(x):
    return sym.Pooling(x, pool_type="max", kernel=(3, 3), stride=(2, 2))


def _inception_a(x, name, pool_features):
    b1 = _basic(x, f"{name}_b1", 64, 1)
    b2 = _basic(_basic(x, f"{name}_b2a", 48, 1), f"{name}_b2b", 64, 5, pad=2)
    b3 = _basic(x, f"{name}_b3a", 64, 1)
    b3 = _basic(_basic(b3, f"{name}_b3b", 96, 3, pad=1), f"{name}_b3c", 96, 3, pad=1)
    b4 = _basic(_avg_3x3(x), f"{name}_b4", pool_features, 1)
    return sym.Concat(b1, b2, b3, b4, dim=1)


def _inception_b(x, name):
    b1 = _basic(x, f"{name}_b1", 384, 3, stride=2)
    b2 = _basic(_basic(x, f"{name}_b2a", 64, 1), f"{name}_b2b", 96, 3, pad=1)
    b2 = _basic(b2, f"{name}_b2c", 96, 3, stride=2)
    return sym.Concat(b1, b2, _max_3x3_s2(x), dim=1)


def _inception_c(x, name, c7):
    b1 = _basic(x, f"{name}_b1", 192, 1)
    b2 = _basic(x, f"{name}_b2a", c7, 1)
    b2 = _basic(_basic(b2, f"{name}_b2b", c7, (1, 7), pad=(0, 3)), f"{name}_b2c", 192, (7, 1), pad=(3, 0))
    b3 = _basic(x, f"{name}_b3a", c7, 1)
    for i, (kernel, pad) in enumerate([((7, 1), (3, 0)), ((1, 7), (0, 3)), ((7, 1), (3, 0))]):
        b3 = _basic(b3, f"{name}_b3{'bcd'[i]}", c7, kernel, pad=pad)
    b3 = _basic(b3, f"{name}_b3e", 192, (1, 7), pad=(0, 3))
    b4 = _basic(_avg_3x3(x), f"{name}_b4", 192, 1)
    return sym.Concat(b1, b2, b3, b4, dim=1)


def _inception_d(x, name):
    b1 = _basic(_basic(x, f"{name}_b1a", 192, 1), f"{name}_b1b", 320, 3, stride=2)
    b2 = _basic(x, f"{name}_b2a", 192, 1)
    b2 = _basic(_basic(b2, f"{name}_b2b", 192, (1, 7), pad=(0, 3)), f"{name}_b2c", 192, (7, 1), pad=(3, 0))
    b2 = _basic(b2, f"{name}_b2d", 192, 3, stride=2)
    return sym.Concat(b1, b2, _max_3x3_s2(x), dim=1)


def _split_1x3_3x1(x, name):
    return sym.Concat(_basic(x, f"{name}_1x3", 384, (1, 3), pad=(0, 1)),
                      _basic(x, f"{name}_3x1", 384, (3, 1), pad=(1, 0)), dim=1)


def _inception_e(x, name):
    b1 = _basic(x, f"{name}_b1", 320, 1)
    b2 = _split_1x3_3x1(_basic(x, f"{name}_b2a", 384, 1), f"{name}_b2")
    b3 = _basic(_basic(x, f"{name}_b3a", 448, 1), f"{name}_b3b", 384, 3, pad=1)
    b3 = _split_1x3_3x1(b3, f"{name}_b3")
    b4 = _basic(_avg_3x3(x), f"{name}_b4", 192, 1)
    return sym.Concat(b1, b2, b3, b4, dim=1)


def inceptionv3():
    x = _basic(sym.Variable("data"), "conv0", 32, 3, stride=2)
    x = _basic(x, "conv1", 32, 3)
    x = _max_3x3_s2(_basic(x, "conv2", 64, 3, pad=1))
    x = _basic(x, "conv3", 80, 1)
    x = _max_3x3_s2(_basic(x, "conv4", 192, 3))
    for i, pool_features in enumerate([32, 64, 64]):
        x = _inception_a(x, f"A{i}", pool_features)
    x = _inception_b(x, "B")
    for i, c7 in enumerate([128, 160, 160, 192]):
        x = _inception_c(x, f"C{i}", c7)
    x = _inception_d(x, "D")
    x = _inception_e(_inception_e(x, "E0"), "E1")
    return _classifier(sym.Dropout(_global_avg(x), p=0.5), "dense")


# ---- DenseNet-121 (densenet121) ----------------------------------------------------------------

def densenet121(growth=32, bn_size=4, blocks=(6, 12, 24, 16)):
    x = _relu(_bn(_conv(sym.Variable("data"), "conv0", 64, 7, 2, 3), "bn0"))
    x = sym.Pooling(x, pool_type="max", kernel=(3, 3), stride=(2, 2), pad=(1, 1))
    channels = 64
    for b, count in enumerate(blocks):
        for i in range(count):
            name = f"block{b + 1}_layer{i + 1}"
            out = _conv(_relu(_bn(x, f"{name}_bn0")), f"{name}_conv0", bn_size * growth, 1)
            out = _conv(_relu(_bn(out, f"{name}_bn1")), f"{name}_conv1", growth, 3, 1, 1)
            x = sym.Concat(x, out, dim=1)
            channels += growth
        if b != len(blocks) - 1:
            channels //= 2
            x = _conv(_relu(_bn(x, f"transition{b + 1}_bn")), f"transition{b + 1}_conv", channels, 1)
            x = sym.Pooling(x, pool_type="avg", kernel=(2, 2), stride=(2, 2), count_include_pad=True)
    return _classifier(_global_avg(_relu(_bn(x, "bn_last"))), "dense")


# name: (builder, Gluon's input side)
MODELS = {
    "resnet18_v1": (resnet18_v1, 224),
    "resnet50_v1": (resnet50_v1, 224),
    "mobilenet1.0": (mobilenet1_0, 224),
    "mobilenetv2_1.0": (mobilenetv2_1_0, 224),
    "vgg11_bn": (vgg11_bn, 224),
    "inceptionv3": (inceptionv3, 299),
    "densenet121": (densenet121, 224),
}
