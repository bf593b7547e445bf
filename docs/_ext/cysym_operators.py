"""Sphinx extension: the operator reference, generated from cysym's registry.

Each family of operators (the module of cysym/ops/ that declares it) gets a page,
operators/<family>.rst (beside operators.rst, which lists them), holding one ``.. cysym-operators:: <family>`` directive; the directive
turns each declaration (cysym.registry.OpDef) into a section: names and aliases, inputs and
outputs, parameters with types and defaults, the shape rule and the gradient. The pages are
written when the build starts (only when their text changes, so unchanged pages are not
rebuilt); the text of declarations is put into nodes as plain text, never parsed as
reStructuredText, so no operator's wording can break the build.
"""
import inspect
import os

from docutils import nodes
from sphinx.util.docutils import SphinxDirective

from cysym.registry import REQUIRED, all_ops, find_op

OTHER = "other"


def family_of(op):
    """'dense' for an op whose kernel is declared in cysym/ops/dense.py."""
    module = getattr(op.kernel, "__module__", None) or ""
    return module.rsplit(".", 1)[-1] if module.startswith("cysym.ops.") else OTHER


def families():
    """{family: [visible OpDef, ...]} in name order."""
    grouped = {}
    for op in all_ops():
        if not op.hidden:
            grouped.setdefault(family_of(op), []).append(op)
    return dict(sorted(grouped.items()))


def _summary(function):
    doc = inspect.getdoc(function) or ""
    return doc.split("\n\n")[0].replace("\n", " ")


def _function_name(function):
    name = getattr(function, "__qualname__", None) or repr(function)
    return name.replace(".<locals>", "")


def default_params(op):
    """The op's parameters at their defaults (required ones missing), for the name functions."""
    return {name: (None if p.required else p.default) for name, p in op.params.items()}


def _names(function_of_params, op):
    try:
        return list(function_of_params(default_params(op)))
    except Exception:   # depends on a required parameter: named by the parameters' docs
        return None


def shape_rule_text(op):
    rule = op.infer_shape
    if rule is None:
        return "same shape for every input and output (cysym.shapes.same_shape)"
    summary = _summary(rule)
    text = f"{rule.__module__}.{_function_name(rule)}" + (f": {summary}" if summary else "")
    if op.partial_shapes:
        text += " Handles partial shapes (unknown dimensions)."
    return text


def gradient_text(op):
    if op.gradient is None:
        return "none: backward through this operator is an error, as in MXNet"
    backward = find_op(f"_backward_{op.name}")
    if backward is not None and backward.hidden:
        text = f"a {backward.name} node with its own kernel"
    elif _function_name(op.gradient).startswith("_zero_gradient"):
        text = "zero (MXNet defines none or zeros)"
    else:
        text = "composed of other operators (" + _function_name(op.gradient) + ")"
    if op.no_grad:
        text += "; no gradient for " + ", ".join(op.no_grad)
    return text


def _param_text(param):
    kind = {"shape": "tuple of int", "str": "str", "floats": "tuple of float"}.get(param.kind, param.kind)
    if param.choices:
        kind = "one of " + ", ".join(repr(c) for c in param.choices)
    if param.optional:
        kind += " or None"
    default = "required" if param.default is REQUIRED else f"default {param.default!r}"
    return f"{kind}, {default}"


def _field(name, body):
    field = nodes.field()
    field += nodes.field_name(text=name)
    field_body = nodes.field_body()
    if isinstance(body, str):
        body = nodes.paragraph(text=body)
    field_body += body
    field += field_body
    return field


def operator_section(op):
    section = nodes.section(ids=[f"op-{op.name}"], names=[op.name])
    section += nodes.title(text=op.name)
    if op.doc:
        section += nodes.paragraph(text=op.doc)
    fields = nodes.field_list()
    if op.aliases:
        fields += _field("Aliases", ", ".join(op.aliases))
    inputs = _names(op.input_names, op)
    if op.variadic:
        inputs_text = f"arg0, arg1, ... (as many as {op.variadic})"
    else:
        inputs_text = ", ".join(inputs) if inputs else ("none" if inputs == [] else "depend on the parameters")
    fields += _field("Inputs", inputs_text)
    aux = _names(op.aux_names, op)
    if aux:
        fields += _field("Auxiliary states", ", ".join(aux))
    outputs = _names(op.output_names, op)
    fields += _field("Outputs", ", ".join(outputs) if outputs else "depend on the parameters")
    if op.params:
        items = nodes.bullet_list()
        for param in op.params.values():
            paragraph = nodes.paragraph()
            paragraph += nodes.literal(text=param.name)
            paragraph += nodes.Text(f" ({_param_text(param)})" + (f": {param.doc}" if param.doc else ""))
            item = nodes.list_item()
            item += paragraph
            items += item
        fields += _field("Parameters", items)
    fields += _field("Shapes", shape_rule_text(op))
    fields += _field("Gradient", gradient_text(op))
    if op.dynamic_shape:
        fields += _field("Binding", f"refused: {op.dynamic_shape}")
    section += fields
    return section


class OperatorsDirective(SphinxDirective):
    """``.. cysym-operators:: family``: a section per operator of the family."""
    required_arguments = 1

    def run(self):
        ops = families().get(self.arguments[0])
        if ops is None:
            raise self.error(f"no operator family {self.arguments[0]!r}")
        return [operator_section(op) for op in ops]


def family_title(family):
    if family == OTHER:
        return "Other operators"
    module = __import__(f"cysym.ops.{family}", fromlist=["_"])
    summary = (inspect.getdoc(module) or "").split("\n")[0].rstrip(".")
    return f"{family}: {summary}" if summary else family


def write_pages(app):
    """docs/operators/<family>.rst for every family, rewritten only when its text changes."""
    folder = os.path.join(app.srcdir, "operators")
    os.makedirs(folder, exist_ok=True)
    for family, ops in families().items():
        title = family_title(family)
        text = (f".. This page is generated by docs/_ext/cysym_operators.py: do not edit.\n\n"
                f"{title}\n{'=' * len(title)}\n\n{len(ops)} operator{'s' if len(ops) > 1 else ''}.\n\n"
                f".. cysym-operators:: {family}\n")
        path = os.path.join(folder, f"{family}.rst")
        if not os.path.exists(path) or open(path, encoding="utf-8").read() != text:
            with open(path, "w", encoding="utf-8") as f:
                f.write(text)


def setup(app):
    app.add_directive("cysym-operators", OperatorsDirective)
    app.connect("config-inited", lambda app, config: write_pages(app))
    return {"parallel_read_safe": True, "parallel_write_safe": True}
