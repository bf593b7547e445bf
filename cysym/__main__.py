"""python -m cysym: the command line.

  python -m cysym operators     every operator cysym has, as the Markdown list in the README
  python -m cysym convert net-symbol.json net-0000.params net.onnx --shape 1,3,224,224
                                an MXNet checkpoint to ONNX (the onnx extra: cysym[onnx])
  python -m cysym convert net.onnx net [--epoch 0]
                                an ONNX model to net-symbol.json and net-0000.params
  python -m cysym info FILE     what a .params, -symbol.json or .onnx file holds
"""
import argparse
import collections
import json
import sys
import textwrap

import numpy as np

from .base import MXNetError
from .registry import all_ops


def operator_list(width=96):
    """Markdown: every user-visible operator, with the other names (aliases) JSON files may use."""
    entries = []
    for op in all_ops():
        if not op.hidden:
            aliases = f" ({', '.join(f'`{a}`' for a in op.aliases)})" if op.aliases else ""
            entries.append(f"`{op.name}`{aliases}")
    return textwrap.fill(", ".join(entries) + ".", width=width, break_long_words=False,
                         break_on_hyphens=False) + "\n"


def _shape(text):
    """'1,3,224,224' or 'data=1,3,224,224' -> (name or None, shape)."""
    name, _, dims = text.rpartition("=")
    try:
        shape = tuple(int(d) for d in dims.split(",") if d.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected [NAME=]D1,D2,..., got {text!r}") from None
    if not shape or any(d <= 0 for d in shape):
        raise argparse.ArgumentTypeError(f"expected positive dimensions, got {text!r}")
    return name or None, shape


def convert(args):
    """MXNet checkpoint -> ONNX, or ONNX -> MXNet checkpoint (by the first file's suffix)."""
    from . import model, onnx, symbol
    if args.source.endswith(".onnx"):
        if len(args.targets) != 1:
            raise SystemExit("convert MODEL.onnx PREFIX: one output prefix")
        sym, arg_params, aux_params = onnx.import_model(args.source)
        model.save_checkpoint(args.targets[0], args.epoch, sym, arg_params, aux_params)
        print(f"wrote {args.targets[0]}-symbol.json and {args.targets[0]}-{args.epoch:04d}.params")
        return
    if len(args.targets) != 2 or not args.targets[1].endswith(".onnx"):
        raise SystemExit("convert SYMBOL.json PARAMS OUT.onnx: a params file and an .onnx path")
    if not args.shape:
        raise SystemExit("convert to ONNX: give each input's shape, --shape [NAME=]D1,D2,...")
    params_file, onnx_file = args.targets
    named = [name for name, _ in args.shape if name]
    if named:    # names given: check them against the graph's inputs, in order
        from .onnx.export import graph_inputs
        inputs = graph_inputs(symbol.load(args.source), _param_names(params_file))
        if named != inputs:
            raise SystemExit(f"convert: the inputs are {inputs}, in this order; --shape named {named}")
    onnx.export_model(args.source, params_file, [shape for _, shape in args.shape],
                      in_types=np.dtype(args.dtype), onnx_file_path=onnx_file,
                      dynamic=args.dynamic,
                      dynamic_input_shapes=[(None,) + shape[1:] for _, shape in args.shape]
                      if args.dynamic else None, opset_version=args.opset)
    print(f"wrote {onnx_file}")


def _param_names(params_file):
    from . import ndarray
    loaded = ndarray.load(params_file)
    names = loaded if isinstance(loaded, dict) else {}
    return {key.split(":", 1)[-1] for key in names}


def _show_shape(shape):
    return "(" + ", ".join(str(d) for d in shape) + ("," if len(shape) == 1 else "") + ")"


def info(path, out):
    """Describe a file (read as untrusted: the loaders' checks apply)."""
    if path.endswith(".onnx"):
        return _onnx_info(path, out)
    if path.endswith(".json"):
        return _symbol_info(path, out)
    return _params_info(path, out)


def _params_info(path, out):
    from . import ndarray
    loaded = ndarray.load(path)
    items = loaded.items() if isinstance(loaded, dict) else ((f"[{i}]", v) for i, v in enumerate(loaded))
    total = 0
    out.write(f"{path}: MXNet NDArray file, {len(loaded)} arrays\n")
    for name, value in items:
        total += value.size
        out.write(f"  {name}  {_show_shape(value.shape)}  {np.dtype(value.dtype).name}\n")
    out.write(f"  {total} values in all\n")


def _symbol_info(path, out):
    from . import symbol
    sym = symbol.load(path)
    nodes = json.loads(sym.tojson())["nodes"]
    counts = collections.Counter(node["op"] for node in nodes if node["op"] != "null")
    out.write(f"{path}: MXNet symbol, {sum(counts.values())} operator nodes\n")
    out.write(f"  arguments: {', '.join(sym.list_arguments())}\n")
    out.write(f"  auxiliary states: {', '.join(sym.list_auxiliary_states()) or '(none)'}\n")
    out.write(f"  outputs: {', '.join(sym.list_outputs())}\n")
    out.write("  operators: " + ", ".join(f"{op} x{n}" for op, n in sorted(counts.items())) + "\n")


def _onnx_info(path, out):
    from .onnx.importer import read_model
    model = read_model(path)
    import onnx

    def describe(value):
        tensor = value.type.tensor_type
        dims = [d.dim_param or d.dim_value for d in tensor.shape.dim]
        dtype = np.dtype(onnx.helper.tensor_dtype_to_np_dtype(tensor.elem_type)).name
        return f"{value.name}  ({', '.join(map(str, dims))})  {dtype}"

    graph = model.graph
    opsets = ", ".join(f"{o.domain or 'ai.onnx'} {o.version}" for o in model.opset_import)
    out.write(f"{path}: ONNX model (IR {model.ir_version}, opset {opsets}, "
              f"producer {model.producer_name or '?'} {model.producer_version})\n")
    initializers = {t.name for t in graph.initializer}
    out.write("  inputs:\n")
    for value in graph.input:
        if value.name not in initializers:
            out.write(f"    {describe(value)}\n")
    out.write("  outputs:\n")
    for value in graph.output:
        out.write(f"    {describe(value)}\n")
    total = sum(int(np.prod(t.dims)) for t in graph.initializer)
    out.write(f"  initializers: {len(graph.initializer)} tensors, {total} values\n")
    for tensor in graph.initializer:
        dtype = np.dtype(onnx.helper.tensor_dtype_to_np_dtype(tensor.data_type)).name
        out.write(f"    {tensor.name}  {_show_shape(tuple(tensor.dims))}  {dtype}\n")
    counts = collections.Counter(node.op_type for node in graph.node)
    out.write(f"  operators ({len(graph.node)} nodes): "
              + ", ".join(f"{op} x{n}" for op, n in sorted(counts.items())) + "\n")


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m cysym", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("operators", help="print every operator (Markdown), as listed in the README")
    converter = commands.add_parser(
        "convert", help="MXNet checkpoint <-> ONNX",
        description="SYMBOL.json PARAMS OUT.onnx --shape ... (to ONNX), or MODEL.onnx PREFIX "
                    "(to PREFIX-symbol.json and PREFIX-EPOCH.params)")
    converter.add_argument("source", help="a -symbol.json file, or an .onnx file")
    converter.add_argument("targets", nargs="+", help="PARAMS OUT.onnx, or PREFIX")
    converter.add_argument("--shape", type=_shape, action="append", default=[],
                           help="[NAME=]D1,D2,...: one per input of the graph, in order")
    converter.add_argument("--dtype", default="float32", help="the inputs' dtype (float32)")
    converter.add_argument("--dynamic", action="store_true", help="a symbolic batch axis")
    converter.add_argument("--opset", type=int, default=None, help="ONNX opset (17)")
    converter.add_argument("--epoch", type=int, default=0, help="the epoch of the written .params")
    describer = commands.add_parser("info", help="what a .params, -symbol.json or .onnx file holds")
    describer.add_argument("file")
    args = parser.parse_args(argv)
    try:
        if args.command == "operators":
            sys.stdout.write(operator_list())
        elif args.command == "convert":
            convert(args)
        else:
            info(args.file, sys.stdout)
    except (MXNetError, ImportError) as err:
        sys.stderr.write(f"error: {err}\n")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
