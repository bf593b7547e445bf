"""The child process of the fuzz suite: reads one case per line (JSON) on stdin, runs it and
answers one line (JSON) on stdout: {"outcome": "ok" | "mxnet_error" | "other_error", "detail"}.

A case that crashes the interpreter (a segfault in a kernel) ends this process; the parent
(tests/fuzz/harness.py) counts that case as a crash and starts a new worker for the next one.

Cases:
  {"kind": "params", "data": <base64 bytes>}       cysym.nd.load of those bytes as a file
  {"kind": "json", "text": <str>}                  cysym.sym.load of that text as a file,
                                                   then infer_shape with the variables' __shape__
  {"kind": "op", "op": name, "params": {...}, "inputs": {name: shape}, "aux": {name: shape},
   "dtype": "float32", "backward": bool}           the operator bound to arrays of those shapes
                                                   (every array ends at a guard page), forward and,
                                                   when asked, backward
"""
import base64
import json
import os
import resource
import sys
import tempfile
import traceback

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from guarded import guarded_array  # noqa: E402

import cysym as mx  # noqa: E402
from cysym.registry import get_op  # noqa: E402

_SCRATCH = tempfile.mkdtemp(prefix="cysym-fuzz-")


def _as_file(data, suffix):
    path = os.path.join(_SCRATCH, "case" + suffix)
    with open(path, "wb") as f:
        f.write(data)
    return path


def run_params(case):
    mx.nd.load(_as_file(base64.b64decode(case["data"]), ".params"))


def run_json(case):
    symbol = mx.sym.load(_as_file(case["text"].encode("utf-8", "surrogatepass"), "-symbol.json"))
    symbol.infer_shape_partial()
    symbol.infer_type()


def _values(shape, dtype, rng):
    return guarded_array(rng.uniform(-1.5, 1.5, shape).astype(dtype))


def run_op(case):
    op = get_op(case["op"])
    dtype = np.dtype(case.get("dtype", "float32"))
    rng = np.random.default_rng(0)
    variables = {name: mx.sym.Variable(name) for name in case["inputs"]}
    function = getattr(mx.sym, case["op"])
    if op.variadic:
        symbol = function(*variables.values(), name="op", **case["params"])
    else:
        symbol = function(name="op", **variables, **case["params"])
    # every shape is given (a 0 dimension is an empty axis here, not an unknown one as in
    # infer_shape), and bind takes the arrays as they are
    args = {name: _values(shape, dtype, rng) for name, shape in case["inputs"].items()}
    aux = {f"op_{name}": _values(shape, dtype, rng) for name, shape in case.get("aux", {}).items()}
    backward = case.get("backward", False)
    grads = {name: guarded_array(np.zeros(array.shape, dtype)) for name, array in args.items()} \
        if backward else None
    executor = symbol.bind(mx.cpu(), args, args_grad=grads, grad_req="write" if backward else "null",
                           aux_states=aux)
    outputs = executor.forward(is_train=backward)
    if backward:
        if op.is_loss(op.parse_params(case["params"])):   # a loss head makes its own gradient
            executor.backward()
        else:
            executor.backward([_values(out.shape, dtype, rng) for out in outputs])
    return [tuple(out.shape) for out in outputs]


RUNNERS = {"params": run_params, "json": run_json, "op": run_op}


# An attribute may ask for more memory than the machine has: the allocation must then fail
# (and be reported as an MXNetError) instead of waking the OOM killer. 0: no limit (under
# AddressSanitizer, which reserves terabytes of address space for its shadow memory).
ADDRESS_SPACE = int(os.environ.get("CYSYM_FUZZ_ADDRESS_SPACE", str(8 << 30)))


def main():
    if ADDRESS_SPACE:
        resource.setrlimit(resource.RLIMIT_AS, (ADDRESS_SPACE, ADDRESS_SPACE))
    # answers go to the original stdout; anything else written there (BLAS/LAPACK's xerbla
    # prints to the C stdout) is sent to stderr instead
    answers = os.fdopen(os.dup(1), "w")
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    for line in sys.stdin:
        case = json.loads(line)
        try:
            result = RUNNERS[case["kind"]](case)
            answer = {"outcome": "ok", "detail": repr(result)}
        except mx.MXNetError as err:
            answer = {"outcome": "mxnet_error", "detail": f"{type(err).__name__}: {err}"[:2000]}
        except Exception as err:  # noqa: BLE001 - the point is to report any other type
            answer = {"outcome": "other_error",
                      "detail": "".join(traceback.format_exception(err))[-4000:]}
        answers.write(json.dumps(answer) + "\n")
        answers.flush()


if __name__ == "__main__":
    main()
