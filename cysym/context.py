"""Context: where arrays live. cysym computes on the CPU only; the class keeps MXNet code running."""
import threading

__all__ = ["Context", "cpu", "gpu", "cpu_pinned", "current_context", "num_gpus"]

_DEVICE_TYPES = {1: "cpu", 2: "gpu", 3: "cpu_pinned", 5: "cpu_shared"}


class Context:
    """A device: `Context('cpu', 0)`; also a `with` block that sets the default context."""

    devtype2str = dict(_DEVICE_TYPES)
    devstr2type = {v: k for k, v in _DEVICE_TYPES.items()}
    _state = threading.local()

    def __init__(self, device_type, device_id=0):
        if isinstance(device_type, Context):
            device_type, device_id = device_type.device_type, device_type.device_id
        if device_type not in self.devstr2type:
            raise ValueError(f"unknown device type {device_type!r}; expected one of "
                             f"{sorted(self.devstr2type)}")
        self.device_type = device_type
        self.device_id = int(device_id)
        self._previous = None

    @property
    def device_typeid(self):
        """MXNet's integer device type (1 cpu, 2 gpu, 3 cpu_pinned, 5 cpu_shared)."""
        return self.devstr2type[self.device_type]

    def __eq__(self, other):
        return (isinstance(other, Context) and self.device_type == other.device_type
                and self.device_id == other.device_id)

    def __hash__(self):
        return hash((self.device_type, self.device_id))

    def __repr__(self):
        return f"{self.device_type}({self.device_id})"

    def __enter__(self):
        self._previous = current_context()
        Context._state.value = self
        return self

    def __exit__(self, *exc):
        Context._state.value = self._previous


def cpu(device_id=0):
    """The CPU context (the only one cysym computes on)."""
    return Context("cpu", device_id)


def gpu(device_id=0):
    """A GPU context, so that MXNet code naming one runs until it binds (cysym then says it
    computes on the CPU only)."""
    return Context("gpu", device_id)


def cpu_pinned(device_id=0):
    """MXNet's pinned-memory CPU context; cysym treats it as the CPU."""
    return Context("cpu_pinned", device_id)


def num_gpus():
    """0: cysym runs on the CPU only."""
    return 0


def current_context():
    """The context of the innermost `with Context(...)` block, else cpu(0)."""
    return getattr(Context._state, "value", None) or cpu()
