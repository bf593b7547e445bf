"""The operator reference (docs/operators/*) says each operator's shapes: its "Shapes" field is
the first paragraph of the shape rule's docstring, so every visible operator's rule needs one
(a rule without it showed as a bare function name). Needs no Sphinx."""
import inspect

from cysym.registry import all_ops


def test_every_visible_shape_rule_says_the_shapes():
    undocumented = sorted({f"{op.infer_shape.__module__}.{op.infer_shape.__qualname__} ({op.name})"
                           for op in all_ops() if not op.hidden and op.infer_shape is not None
                           and not (inspect.getdoc(op.infer_shape) or "").strip()})
    assert not undocumented, "shape rules without a docstring:\n" + "\n".join(undocumented)
