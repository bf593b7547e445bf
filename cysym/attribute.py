"""AttrScope: attributes attached to every symbol created inside a `with` block."""
import threading

__all__ = ["AttrScope"]

_state = threading.local()


class AttrScope:
    """`with AttrScope(ctx_group='dev1'):` adds those attributes to the symbols made inside.

    Scopes nest: an inner scope adds to (and overrides) the outer one's attributes.
    """

    def __init__(self, **kwargs):
        for key, value in kwargs.items():
            if not isinstance(value, str):
                raise ValueError(f"AttrScope: attribute {key!r} must be a string, got {value!r}")
        self._attr = kwargs
        self._previous = None

    def get(self, attr):
        """The scope's attributes merged with `attr` (explicit ones win)."""
        merged = dict(self._attr)
        if attr:
            merged.update(attr)
        return merged

    def __enter__(self):
        self._previous = AttrScope.current()
        merged = dict(self._previous._attr)
        merged.update(self._attr)
        self._attr = merged
        _state.current = self
        return self

    def __exit__(self, *exc):
        _state.current = self._previous
        self._previous = None

    @staticmethod
    def current():
        """The innermost active AttrScope of this thread (an empty one if none)."""
        scope = getattr(_state, "current", None)
        if scope is None:
            scope = _state.current = AttrScope()
        return scope
