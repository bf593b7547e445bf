"""Optimizer states on disk without pickle: arrays and plain values only.

`Updater.get_states()` writes, and `Updater.set_states()` reads, an MXNet NDArray-list file (the
`.params` container, cysym.ndarray's format) holding every state array under a key `array<k>`,
and under the key `__cysym_optimizer_states__` a uint8 array of UTF-8 JSON describing the rest:

    {"format": "cysym-optimizer-states", "version": 1,
     "states": <value>,        the Updater's {index: state} dict
     "optimizer": <value>}     the optimizer (its class and attributes), or null

where a <value> is JSON null, a boolean, number or string, or an object tagged by "t":
{"t": "array", "k": k} (the array stored as `array<k>`), {"t": "scalar", "dtype": d, "v": x}
(a NumPy scalar), {"t": "tuple" | "list", "v": [<value>...]}, {"t": "dict", "v": [[<value>,
<value>]...]} (keys may be ints), and {"t": "object", "class": name, "v": <dict value>} for an
optimizer or a learning-rate scheduler. Reading builds only those: arrays, plain values,
containers, and instances of the registered optimizers and of cysym.lr_scheduler's classes
(their attributes set from the file); nothing in the file is executed.

MXNet (and cysym before this format) pickled the states. Unpickling runs whatever code the file
names, so reading such a file needs `allow_pickle=True`, which is safe only for files you trust.
"""
import json
import pickle
import warnings

import numpy as np

from .base import MXNetError

__all__ = ["OptimizerStatesError", "dumps", "loads", "is_pickle"]

FORMAT = "cysym-optimizer-states"
VERSION = 1
_META_KEY = "__cysym_optimizer_states__"
_MAX_DEPTH = 64   # states nest a few levels (multi-precision: (master, (mean, var)))


class OptimizerStatesError(MXNetError, ValueError):
    """An optimizer-states file is malformed, or is a pickle read without allow_pickle=True."""


def is_pickle(data):
    """True for the bytes of a pickle (protocol 2 and later start with 0x80, the version)."""
    return len(data) >= 2 and data[0] == 0x80 and data[1] <= pickle.HIGHEST_PROTOCOL


# --------------------------------------------------------------------------- writing

def _classes():
    """The classes a file may name: every registered optimizer and every learning-rate scheduler."""
    from . import lr_scheduler, optimizer
    found = {}
    pending = [lr_scheduler.LRScheduler, optimizer.Optimizer]
    pending += list(optimizer.Optimizer.opt_registry.values())
    while pending:
        cls = pending.pop()
        name = f"{cls.__module__}.{cls.__qualname__}"
        if name not in found:
            found[name] = cls
            pending.extend(cls.__subclasses__())
    return found


def _encode(value, arrays, where):
    from . import lr_scheduler, optimizer
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, np.ndarray):
        arrays.append(np.asarray(value))
        return {"t": "array", "k": len(arrays) - 1}
    if isinstance(value, np.generic):
        return {"t": "scalar", "dtype": value.dtype.str, "v": value.item()}
    if isinstance(value, (tuple, list)):
        return {"t": type(value).__name__, "v": [_encode(v, arrays, where) for v in value]}
    if isinstance(value, dict):
        return {"t": "dict", "v": [[_encode(k, arrays, where), _encode(v, arrays, where)]
                                   for k, v in value.items()]}
    if isinstance(value, (optimizer.Optimizer, lr_scheduler.LRScheduler)):
        state = value.__getstate__() if hasattr(value, "__getstate__") else vars(value)
        return {"t": "object", "class": f"{type(value).__module__}.{type(value).__qualname__}",
                "v": _encode(dict(state), arrays, where)}
    raise OptimizerStatesError(f"cannot save {where}: it holds a {type(value).__name__}, and "
                               f"optimizer states hold only arrays, numbers, strings, containers, "
                               f"optimizers and learning-rate schedulers")


def dumps(states, optimizer=None):
    """The bytes of the file holding `states` (an Updater's dict) and, if given, `optimizer`."""
    from .ndarray import _encode as encode_arrays
    arrays = []
    meta = {"format": FORMAT, "version": VERSION,
            "states": _encode(states, arrays, "the optimizer states"),
            "optimizer": None if optimizer is None else _encode(optimizer, arrays, "the optimizer")}
    text = json.dumps(meta, allow_nan=True).encode("utf-8")
    contents = {f"array{k}": array for k, array in enumerate(arrays)}
    contents[_META_KEY] = np.frombuffer(text, np.uint8)
    return encode_arrays(contents)


# --------------------------------------------------------------------------- reading

class _Decoder:
    def __init__(self, arrays, source):
        self.arrays = arrays
        self.source = source
        self.classes = None

    def fail(self, message):
        raise OptimizerStatesError(f"{self.source}: invalid optimizer-states file: {message}")

    def decode(self, value, where, depth=0):
        if depth > _MAX_DEPTH:
            self.fail(f"{where} nests more than {_MAX_DEPTH} levels")
        if value is None or isinstance(value, (bool, int, float, str)):
            return value
        if not isinstance(value, dict) or not isinstance(value.get("t"), str):
            self.fail(f"{where}: expected a value or a tagged object, got {str(value)[:80]!r}")
        tag, inner = value["t"], value.get("v")
        if tag == "array":
            key = value.get("k")
            if isinstance(key, bool) or not isinstance(key, int) or f"array{key}" not in self.arrays:
                self.fail(f"{where}: refers to array {key!r}, which the file does not hold")
            return self.arrays[f"array{key}"]
        if tag == "scalar":
            try:
                return np.dtype(value.get("dtype")).type(inner)
            except (TypeError, ValueError, OverflowError) as err:
                self.fail(f"{where}: bad scalar {str(value)[:80]!r}: {err}")
        if tag in ("tuple", "list"):
            if not isinstance(inner, list):
                self.fail(f"{where}: a {tag} needs a list of values")
            items = [self.decode(v, f"{where}[{k}]", depth + 1) for k, v in enumerate(inner)]
            return tuple(items) if tag == "tuple" else items
        if tag == "dict":
            if not isinstance(inner, list) or not all(isinstance(p, list) and len(p) == 2 for p in inner):
                self.fail(f"{where}: a dict needs a list of [key, value] pairs")
            result = {}
            for k, (key, item) in enumerate(inner):
                key = self.decode(key, f"{where} key {k}", depth + 1)
                try:
                    hash(key)
                except TypeError:
                    self.fail(f"{where}: key {k} is a {type(key).__name__}, which cannot be a key")
                result[key] = self.decode(item, f"{where}[{key!r}]", depth + 1)
            return result
        if tag == "object":
            return self.instance(value, where, depth)
        self.fail(f"{where}: unknown tag {tag!r}")

    def instance(self, value, where, depth):
        if self.classes is None:
            self.classes = _classes()
        name = value.get("class")
        cls = self.classes.get(name)
        if cls is None:
            self.fail(f"{where}: class {name!r} is not a registered optimizer or a learning-rate "
                      f"scheduler")
        state = self.decode(value.get("v"), f"{where} ({name})", depth + 1)
        if not isinstance(state, dict) or not all(isinstance(k, str) for k in state):
            self.fail(f"{where}: the attributes of {name} must be a dict with string keys")
        obj = cls.__new__(cls)
        if hasattr(cls, "__setstate__"):
            obj.__setstate__(state)
        else:
            obj.__dict__.update(state)
        return obj


def loads(data, source="<optimizer states>", allow_pickle=False):
    """(states, optimizer or None) from the bytes `dumps` wrote; a pickle (MXNet's format, or
    cysym's before this one) only with allow_pickle=True."""
    data = bytes(data)
    if is_pickle(data):
        if not allow_pickle:
            raise OptimizerStatesError(
                f"{source}: this optimizer-states file is a pickle (written by MXNet or an older "
                f"cysym). Unpickling runs any code the file contains; pass allow_pickle=True only "
                f"if you trust the file, then save it again to get the safe format")
        warnings.warn(f"{source}: unpickling optimizer states (allow_pickle=True): this runs any code "
                      f"the file contains", stacklevel=3)
        states = pickle.loads(data)
        if isinstance(states, tuple) and len(states) == 2:
            return states
        return states, None
    from .ndarray import load_frombuffer
    contents = load_frombuffer(data, source)
    if not isinstance(contents, dict) or _META_KEY not in contents:
        raise OptimizerStatesError(f"{source}: not an optimizer-states file: an NDArray file without "
                                   f"the key {_META_KEY!r}")
    decoder = _Decoder(contents, source)
    raw = contents[_META_KEY]
    if raw.dtype != np.uint8 or raw.ndim != 1:
        decoder.fail(f"{_META_KEY} must be a 1-d uint8 array of JSON text")
    try:
        meta = json.loads(raw.tobytes().decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as err:
        decoder.fail(f"the description is not UTF-8 JSON: {err}")
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        decoder.fail(f"the description's format is not {FORMAT!r}")
    if meta.get("version") != VERSION:
        decoder.fail(f"version {meta.get('version')!r}; this cysym reads version {VERSION}")
    states = decoder.decode(meta.get("states"), "states")
    if not isinstance(states, dict):
        decoder.fail("the states must be a dict")
    optimizer = decoder.decode(meta.get("optimizer"), "optimizer")
    from .optimizer import Optimizer
    if optimizer is not None and not isinstance(optimizer, Optimizer):
        decoder.fail("'optimizer' must be an optimizer")
    return states, optimizer
