"""Automatic naming of symbols: NameManager and Prefix, as in MXNet."""
import threading

__all__ = ["NameManager", "Prefix"]

_state = threading.local()


class NameManager:
    """Gives unnamed operators the name `<hint><counter>`, one counter per hint.

    Used as a context manager: `with NameManager():` starts counting from zero again.
    """

    def __init__(self):
        self._counter = {}
        self._previous = None

    def get(self, name, hint):
        """The name to use: `name` when given, else the hint with its next counter value."""
        if name:
            return name
        count = self._counter.get(hint, 0)
        self._counter[hint] = count + 1
        return f"{hint}{count}"

    def __enter__(self):
        self._previous = NameManager.current()
        _state.current = self
        return self

    def __exit__(self, *exc):
        _state.current = self._previous
        self._previous = None

    @staticmethod
    def current():
        """The innermost active NameManager of this thread (a fresh one if none)."""
        manager = getattr(_state, "current", None)
        if manager is None:
            manager = _state.current = NameManager()
        return manager


class Prefix(NameManager):
    """Prepends `prefix` to every operator name made inside it, given or automatic."""

    def __init__(self, prefix):
        super().__init__()
        self._prefix = prefix

    def get(self, name, hint):
        return self._prefix + super().get(name, hint)
