"""Weight initializers (MXNet's mx.init / mx.initializer).

An initializer is called as `initializer(InitDesc(name, attrs), array)` and fills `array` in place.
Which rule applies is decided from the variable: an `__init__` attribute (a JSON string such as
'["constant", {"value": 1.0}]', set by `Variable(init=...)` or by an operator for its auxiliary
states) wins; otherwise the name's suffix picks it (`weight` -> `_init_weight`, `bias` -> 0 ...).
All randomness comes from `cysym.random.generator()`, so `cysym.random.seed(n)` reproduces it.
"""
import json
import logging
import re

import numpy as np

from . import random as _random

_LOG = logging.getLogger(__name__)

__all__ = ["InitDesc", "Initializer", "register", "alias", "create", "Load", "Mixed", "Zero", "One",
           "Constant", "Uniform", "Normal", "Orthogonal", "Xavier", "MSRAPrelu", "Bilinear",
           "LSTMBias", "FusedRNN"]


class InitDesc(str):
    """A parameter's name (the str itself) with its symbol attributes and the global initializer.

    attrs: the variable's attributes, e.g. {'__init__': '["zero", {}]', '__lr_mult__': '2.0'}.
    global_init: the initializer the user passed to init_params (set on first call if None).
    """

    def __new__(cls, name, attrs=None, global_init=None):
        ret = super().__new__(cls, name)
        ret.attrs = dict(attrs or {})
        ret.global_init = global_init
        return ret

    def __getnewargs__(self):
        return (str(self), self.attrs, self.global_init)


_INITIALIZER_REGISTRY = {}


def register(klass):
    """Register an Initializer subclass under its lower-cased class name (decorator)."""
    if not (isinstance(klass, type) and issubclass(klass, Initializer)):
        raise TypeError(f"register: {klass!r} is not an Initializer subclass")
    _INITIALIZER_REGISTRY[klass.__name__.lower()] = klass
    return klass


def alias(*aliases):
    """Register extra names for an Initializer subclass (decorator, MXNet's `mx.init.alias`)."""
    def _decorate(klass):
        for name in aliases:
            _INITIALIZER_REGISTRY[name.lower()] = klass
        return klass
    return _decorate


def create(initializer, *args, **kwargs):
    """An Initializer from an instance (returned as is), a registered name, or a dumps() JSON string."""
    if isinstance(initializer, Initializer):
        if args or kwargs:
            raise ValueError("create: cannot pass arguments together with an Initializer instance")
        return initializer
    if not isinstance(initializer, str):
        raise TypeError(f"create: expected an Initializer, a name or a JSON string, got {initializer!r}")
    name = initializer
    if name.lstrip().startswith("["):
        if args or kwargs:
            raise ValueError("create: cannot pass arguments together with a JSON string")
        try:
            name, kwargs = json.loads(name)
        except (ValueError, TypeError) as err:
            raise ValueError(f"create: {initializer!r} is not a valid initializer JSON "
                             f"'[\"name\", {{kwargs}}]': {err}") from None
    klass = _INITIALIZER_REGISTRY.get(name.lower())
    if klass is None:
        raise ValueError(f"Cannot find initializer {name!r}; registered: "
                         f"{sorted(_INITIALIZER_REGISTRY)}")
    return klass(*args, **kwargs)


def _fill(arr, values):
    """arr[...] = values, for NumPy arrays (and their subclasses) filled in place."""
    arr[...] = values


class Initializer:
    """Base class: dispatches on the variable's `__init__` attribute, then on its name's suffix."""

    def __init__(self, **kwargs):
        self._kwargs = kwargs
        self._verbose = False
        self._print_func = None

    def set_verbosity(self, verbose=False, print_func=None):
        """Log a statistic (default: the norm / sqrt(size)) of every array after filling it."""
        self._verbose = verbose
        if print_func is None:
            def print_func(x):
                return str(float(np.linalg.norm(np.asarray(x, dtype=np.float64))) / np.sqrt(x.size))
        self._print_func = print_func
        return self

    def _verbose_print(self, desc, init, arr):
        if self._verbose and self._print_func:
            _LOG.info("Initialized %s as %s: %s", desc, init, self._print_func(arr))

    def dumps(self):
        """'["<registered name>", {kwargs}]', the form stored in a variable's `__init__` attribute."""
        return json.dumps([self.__class__.__name__.lower(), self._kwargs])

    def __repr__(self):
        return f"{self.__class__.__name__}({', '.join(f'{k}={v!r}' for k, v in self._kwargs.items())})"

    def __call__(self, desc, arr):
        """Fill arr (in place) for the parameter described by desc (an InitDesc or a name)."""
        if not isinstance(desc, InitDesc):
            if not isinstance(desc, str):
                raise TypeError(f"initializer: desc must be an InitDesc or a name, not {desc!r}")
            desc = InitDesc(desc)
        if not isinstance(arr, np.ndarray):
            raise TypeError(f"initializer: {desc}: the array to fill must be a NumPy array, "
                            f"not {type(arr).__name__}")
        if desc.global_init is None:
            desc.global_init = self
        init = desc.attrs.get("__init__", "")
        if init:
            # the variable's own initializer (Variable(init=...) or an operator's aux default)
            create(init)._init_weight(desc, arr)
            self._verbose_print(desc, init, arr)
            return
        for suffix, method in self._PATTERNS:
            if desc.endswith(suffix):
                getattr(self, method)(desc, arr)
                self._verbose_print(desc, suffix, arr)
                return
        self._init_default(desc, arr)

    # MXNet's suffix dispatch (InitDesc path plus the auxiliary-state names of its legacy path).
    # Order matters: longer suffixes that end in a shorter one come first.
    _PATTERNS = (
        ("weight", "_init_weight"),
        ("bias", "_init_bias"),
        ("gamma", "_init_gamma"),
        ("beta", "_init_beta"),
        ("moving_mean", "_init_zero"),
        ("running_mean", "_init_zero"),
        ("moving_inv_var", "_init_zero"),
        ("moving_var", "_init_one"),
        ("running_var", "_init_one"),
        ("moving_avg", "_init_zero"),
        ("min", "_init_zero"),
        ("max", "_init_one"),
    )

    def _init_bilinear(self, _, arr):
        shape = arr.shape
        size = int(np.prod(shape))
        weight = np.zeros(size, dtype="float32")
        f = np.ceil(shape[3] / 2.0)
        c = (2 * f - 1 - f % 2) / (2.0 * f)
        for i in range(size):
            x = i % shape[3]
            y = (i // shape[3]) % shape[2]
            weight[i] = (1 - abs(x / f - c)) * (1 - abs(y / f - c))
        _fill(arr, weight.reshape(shape))

    def _init_zero(self, _, arr):
        _fill(arr, 0.0)

    def _init_one(self, _, arr):
        _fill(arr, 1.0)

    def _init_bias(self, _, arr):
        _fill(arr, 0.0)

    def _init_gamma(self, _, arr):
        _fill(arr, 1.0)

    def _init_beta(self, _, arr):
        _fill(arr, 0.0)

    def _init_weight(self, name, arr):
        raise NotImplementedError(f"{self.__class__.__name__} does not initialize weights "
                                  f"(while initializing {name!r}); override _init_weight")

    def _init_default(self, name, _):
        raise ValueError(
            f"Unknown initialization pattern for {name}. Default initialization is now limited "
            f'to "weight", "bias", "gamma" (1.0), and "beta" (0.0). Please use '
            f"mx.sym.Variable(init=mx.init.*) to set initialization pattern")


class Load:
    """Initialize from a dict of arrays (or a .params file), falling back to default_init.

    'arg:' / 'aux:' prefixes of the keys are stripped.
    """

    def __init__(self, param, default_init=None, verbose=False):
        if isinstance(param, str):
            from . import ndarray as nd  # lazily: ndarray is not needed otherwise
            param = nd.load(param)
        if not isinstance(param, dict):
            raise TypeError("Load: param must be a dict of arrays or a file name, "
                            f"not {type(param).__name__}")
        self.param = {}
        for name, arr in param.items():
            if name.startswith("arg:") or name.startswith("aux:"):
                name = name[4:]
            self.param[name] = arr
        self.default_init = default_init
        self.verbose = verbose

    def __call__(self, name, arr):
        if name in self.param:
            value = np.asarray(self.param[name])
            if value.shape != arr.shape:
                raise ValueError(f"Load: parameter {name!r} cannot be initialized from loading: "
                                 f"shape mismatch, target {arr.shape} vs loaded {value.shape}")
            _fill(arr, value)
            if self.verbose:
                _LOG.info("Initialized %s by loading", name)
        else:
            if self.default_init is None:
                raise ValueError(f"Load: cannot initialize {name!r}: not found in the loaded "
                                 f"parameters and no default Initializer is provided")
            self.default_init(name, arr)
            if self.verbose:
                _LOG.info("Initialized %s by default", name)


class Mixed:
    """Initialize with the first initializer whose regex pattern matches the name (re.match)."""

    def __init__(self, patterns, initializers):
        if len(patterns) != len(initializers):
            raise ValueError(f"Mixed: {len(patterns)} patterns but {len(initializers)} initializers")
        self.map = list(zip([re.compile(p) for p in patterns], initializers))

    def __call__(self, name, arr):
        for prog, init in self.map:
            if prog.match(name):
                init(name, arr)
                return
        raise ValueError(f"Parameter name {name} did not match any pattern. Consider add a "
                         f'".*" pattern at the and with default Initializer.')


@register
@alias("zeros")
class Zero(Initializer):
    """Fill with 0."""

    def _init_weight(self, _, arr):
        _fill(arr, 0.0)


@register
@alias("ones")
class One(Initializer):
    """Fill with 1."""

    def _init_weight(self, _, arr):
        _fill(arr, 1.0)


@register
class Constant(Initializer):
    """Fill with value (a scalar, or an array broadcast to the parameter's shape)."""

    def __init__(self, value):
        super().__init__(value=value)
        self.value = value

    def _init_weight(self, _, arr):
        _fill(arr, np.asarray(self.value))

    def dumps(self):
        value = self._kwargs["value"]
        if isinstance(value, np.ndarray):
            value = value.tolist()
        elif isinstance(value, np.generic):
            value = value.item()
        return json.dumps([self.__class__.__name__.lower(), {"value": value}])


@register
class Uniform(Initializer):
    """Weights ~ U(-scale, scale)."""

    def __init__(self, scale=0.07):
        super().__init__(scale=scale)
        self.scale = scale

    def _init_weight(self, _, arr):
        _fill(arr, _random.generator().uniform(-self.scale, self.scale, size=arr.shape))


@register
class Normal(Initializer):
    """Weights ~ N(0, sigma^2)."""

    def __init__(self, sigma=0.01):
        super().__init__(sigma=sigma)
        self.sigma = sigma

    def _init_weight(self, _, arr):
        _fill(arr, _random.generator().normal(0.0, self.sigma, size=arr.shape))


@register
class Orthogonal(Initializer):
    """Weights = scale * an orthonormal basis (rows or columns) of a random (out, in) matrix."""

    def __init__(self, scale=1.414, rand_type="uniform"):
        super().__init__(scale=scale, rand_type=rand_type)
        self.scale = scale
        self.rand_type = rand_type

    def _init_weight(self, name, arr):
        nout = arr.shape[0]
        nin = int(np.prod(arr.shape[1:]))
        gen = _random.generator()
        if self.rand_type == "uniform":
            tmp = gen.uniform(-1.0, 1.0, size=(nout, nin))
        elif self.rand_type == "normal":
            tmp = gen.normal(0.0, 1.0, size=(nout, nin))
        else:
            raise ValueError(f"Orthogonal: unknown rand_type {self.rand_type!r} for {name!r}; "
                             f"expected 'uniform' or 'normal'")
        u, _, v = np.linalg.svd(tmp, full_matrices=False)
        res = u if u.shape == tmp.shape else v
        _fill(arr, self.scale * res.reshape(arr.shape))


@register
class Xavier(Initializer):
    """Weights ~ U(-s, s) or N(0, s^2) with s = sqrt(magnitude / factor).

    factor is fan_in ('in'), fan_out ('out') or their mean ('avg'), where for a weight of shape
    ``(out, in, *kernel)``: fan_in = in * prod(kernel), fan_out = out * prod(kernel).
    """

    def __init__(self, rnd_type="uniform", factor_type="avg", magnitude=3):
        super().__init__(rnd_type=rnd_type, factor_type=factor_type, magnitude=magnitude)
        self.rnd_type = rnd_type
        self.factor_type = factor_type
        self.magnitude = float(magnitude)

    def _init_weight(self, name, arr):
        shape = arr.shape
        if len(shape) < 2:
            raise ValueError(f"Xavier initializer cannot be applied to vector {name}. "
                             f"It requires at least 2D.")
        hw_scale = float(np.prod(shape[2:])) if len(shape) > 2 else 1.0
        fan_in, fan_out = shape[1] * hw_scale, shape[0] * hw_scale
        if self.factor_type == "avg":
            factor = (fan_in + fan_out) / 2.0
        elif self.factor_type == "in":
            factor = fan_in
        elif self.factor_type == "out":
            factor = fan_out
        else:
            raise ValueError(f"Incorrect factor type {self.factor_type!r}; expected 'avg', 'in' or 'out'")
        scale = np.sqrt(self.magnitude / factor)
        gen = _random.generator()
        if self.rnd_type == "uniform":
            _fill(arr, gen.uniform(-scale, scale, size=shape))
        elif self.rnd_type == "gaussian":
            _fill(arr, gen.normal(0.0, scale, size=shape))
        else:
            raise ValueError(f"Unknown random type {self.rnd_type!r}; expected 'uniform' or 'gaussian'")


@register
class MSRAPrelu(Xavier):
    """He/MSRA init for PReLU: Gaussian Xavier with magnitude 2 / (1 + slope^2)."""

    def __init__(self, factor_type="avg", slope=0.25):
        magnitude = 2.0 / (1 + slope ** 2)
        super().__init__("gaussian", factor_type, magnitude)
        self._kwargs = {"factor_type": factor_type, "slope": slope}


@register
class Bilinear(Initializer):
    """Bilinear-upsampling kernel weights (for Deconvolution)."""

    def _init_weight(self, name, arr):
        self._init_bilinear(name, arr)


@register
class LSTMBias(Initializer):
    """Zero bias except the forget gate (second quarter), set to forget_bias."""

    def __init__(self, forget_bias=1.0):
        super().__init__(forget_bias=forget_bias)
        self.forget_bias = forget_bias

    def _init_weight(self, name, arr):
        _fill(arr, 0.0)
        num_hidden = arr.shape[0] // 4
        arr[num_hidden:2 * num_hidden] = self.forget_bias


@register
class FusedRNN(Initializer):
    """The flat parameter vector of a FusedRNNCell: each gate's weight initialized by `init`
    (the global initializer if None), LSTM forget-gate biases set to forget_bias."""

    def __init__(self, init, num_hidden, num_layers, mode, bidirectional=False, forget_bias=1.0):
        if isinstance(init, str):
            init = create(init)
        super().__init__(init=init.dumps() if init is not None else None, num_hidden=num_hidden,
                         num_layers=num_layers, mode=mode, bidirectional=bidirectional,
                         forget_bias=forget_bias)
        self._init = init
        self._num_hidden = num_hidden
        self._num_layers = num_layers
        self._mode = mode
        self._bidirectional = bidirectional
        self._forget_bias = forget_bias

    def _init_weight(self, desc, arr):
        from .rnn import rnn_cell   # the cells sit above the initializers
        cell = rnn_cell.FusedRNNCell(self._num_hidden, self._num_layers, self._mode,
                                     self._bidirectional, forget_bias=self._forget_bias, prefix="")
        args = cell.unpack_weights({"parameters": arr})
        for name in args:
            arg_desc = InitDesc(name, global_init=desc.global_init)
            if self._mode == "lstm" and name.endswith("_f_bias"):
                args[name][:] = self._forget_bias
            elif self._init is None:
                desc.global_init(arg_desc, args[name])
            else:
                self._init(arg_desc, args[name])
        arr[:] = cell.pack_weights(args)["parameters"]
