"""The dense rows of the peer benchmark (shared/bench) in ONE process: a JAX step (one jitted
function: forward, gradient and SGD), cysym's step (simple_bind, forward, backward, then
mx.nd.sgd_update(w, g, lr=..., out=w) per parameter, as MXNet code runs it) and the floor (the
same GEMMs called back to back through SciPy's sgemm), interleaved round by round, so that the
load of a shared machine falls on all three alike.  Prints, per row, the median ms of each and
the median over rounds of the per-round ratios.

Needs jax in the interpreter that runs it (not a cysym dependency):
  env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE OMP_NUM_THREADS=1 PYTHONPATH=. \\
      chrt -f 10 taskset -c 0 python3 asv_bench/compare_jax.py --rows mlp_train:32 deep_train:16
Two threads: taskset -c 0,1 and --threads 2 (cysym's kernels on 2 threads, the floor's sgemm
on 2 OpenBLAS threads; XLA takes the cores the process may run on).

Workloads (shared/bench/common.py's): mlp = 784-FC128-relu-FC64-relu-FC10, deep = 256 ->
20 x (FC256 + relu) -> FC10; '_train' rows end in softmax cross-entropy with plain SGD
(lr 0.01), '_infer' rows are the forward with softmax.
"""
import argparse
import statistics
import time

import numpy as np
from scipy.linalg.blas import sgemm
from threadpoolctl import threadpool_info, threadpool_limits

import cysym as mx

LR = 0.01


def layers(model):
    """(in, out, relu after) of each FullyConnected layer."""
    if model == "mlp":
        return [(784, 128, True), (128, 64, True), (64, 10, False)]
    return [(256, 256, True)] * 20 + [(256, 10, False)]


def data(model, batch):
    """He-initialised parameters (zero biases) and one batch, as shared/bench makes them."""
    rng = np.random.RandomState(0)
    params = {}
    for i, (fan_in, fan_out, _) in enumerate(layers(model), 1):
        params[f"fc{i}_weight"] = (rng.standard_normal((fan_out, fan_in)) * np.sqrt(2.0 / fan_in)).astype(np.float32)
        params[f"fc{i}_bias"] = np.zeros(fan_out, np.float32)
    rng = np.random.RandomState(1)
    x = rng.standard_normal((batch, layers(model)[0][0])).astype(np.float32)
    return params, x, rng.randint(0, 10, size=batch)


def cysym_step(model, batch, train):
    params, x, y = data(model, batch)
    h = mx.sym.Variable("data")
    for i, (_, fan_out, relu) in enumerate(layers(model), 1):
        h = mx.sym.FullyConnected(h, num_hidden=fan_out, name=f"fc{i}")
        if relu:
            h = mx.sym.Activation(h, act_type="relu", name=f"relu{i}")
    if train:
        net = mx.sym.SoftmaxOutput(h, name="softmax", normalization="batch")
        req = dict({name: "write" for name in params}, data="null", softmax_label="null")
        exe = net.simple_bind(mx.cpu(), grad_req=req, data=x.shape, softmax_label=y.shape)
        exe.arg_dict["softmax_label"][:] = y
    else:
        exe = mx.sym.softmax(h, name="softmax").simple_bind(mx.cpu(), grad_req="null", data=x.shape)
    for name, value in params.items():
        exe.arg_dict[name][:] = value
    exe.arg_dict["data"][:] = x
    pairs = [(exe.arg_dict[name], exe.grad_dict[name]) for name in params] if train else []

    def step():
        exe.forward(is_train=train)
        if train:
            exe.backward()
            for weight, grad in pairs:
                mx.nd.sgd_update(weight, grad, lr=LR, wd=0.0, out=weight)
    return step


def jax_step(model, batch, train):
    import jax
    import jax.numpy as jnp
    params, x, y = data(model, batch)
    params = {k: jnp.asarray(v) for k, v in params.items()}
    x, y = jnp.asarray(x), jnp.asarray(y.astype(np.int32))

    def forward(p, h):
        for i, (_, _, relu) in enumerate(layers(model), 1):
            h = h @ p[f"fc{i}_weight"].T + p[f"fc{i}_bias"]
            h = jax.nn.relu(h) if relu else h
        return h

    def loss(p):
        logp = jax.nn.log_softmax(forward(p, x))
        return -jnp.mean(jnp.take_along_axis(logp, y[:, None], axis=1))

    if not train:
        infer = jax.jit(lambda p: jax.nn.softmax(forward(p, x)))
        return lambda: infer(params).block_until_ready()
    update = jax.jit(lambda p: jax.tree_util.tree_map(lambda a, g: a - LR * g, p, jax.grad(loss)(p)),
                     donate_argnums=(0,))
    state = [params]

    def step():
        state[0] = update(state[0])
        jax.block_until_ready(state[0])
    return step


def floor_step(model, batch, train):
    """The step's GEMMs in the layouts the network has them (forward x @ w.T, dW = dy.T @ x,
    dX = dy @ w, none for the data), each as one sgemm on column-major views."""
    rng = np.random.RandomState(0)
    calls = []
    for index, (fan_in, fan_out, _) in enumerate(layers(model)):
        x, w = rng.standard_normal((batch, fan_in)).astype(np.float32), rng.standard_normal((fan_out, fan_in)).astype(np.float32)
        y = np.empty((batch, fan_out), np.float32)
        calls.append(lambda x=x, w=w, y=y: sgemm(1.0, w.T, x.T, c=y.T, trans_a=1, overwrite_c=1))
        if train:
            dy, dw = rng.standard_normal((batch, fan_out)).astype(np.float32), np.empty((fan_out, fan_in), np.float32)
            calls.append(lambda x=x, dy=dy, dw=dw: sgemm(1.0, x.T, dy.T, c=dw.T, trans_b=1, overwrite_c=1))
            if index > 0:
                dx = np.empty((batch, fan_in), np.float32)
                calls.append(lambda w=w, dy=dy, dx=dx: sgemm(1.0, w.T, dy.T, c=dx.T, overwrite_c=1))

    def step():
        for call in calls:
            call()
    return step


def median_ms(step, number):
    times = []
    for _ in range(number):
        start = time.perf_counter()
        step()
        times.append(time.perf_counter() - start)
    return 1e3 * statistics.median(times)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", nargs="+", default=["mlp_train:32", "mlp_train:128", "mlp_train:1024",
                                                      "mlp_infer:1024", "deep_train:16"])
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--threads", type=int, default=1,
                        help="cysym's kernel threads, and OpenBLAS's for the floor")
    args = parser.parse_args()
    mx.set_num_threads(args.threads)
    # as shared/bench's driver: OpenBLAS on --threads (the floor's sgemm); cysym holds it to one
    # thread while its plans run, since its kernels split the GEMMs themselves
    blas_limit = threadpool_limits(args.threads, user_api="blas")  # noqa: F841 (kept alive)
    print("OpenBLAS:", ", ".join(f"{pool['filepath'].rsplit('/', 1)[-1]} {pool['architecture']}"
                                 for pool in threadpool_info() if pool["internal_api"] == "openblas"),
          f"| threads {args.threads}", flush=True)
    for row in args.rows:
        workload, batch = row.split(":")
        model, train, batch = workload.split("_")[0], workload.endswith("train"), int(batch)
        steps = {"floor": floor_step(model, batch, train), "jax": jax_step(model, batch, train),
                 "cysym": cysym_step(model, batch, train)}
        for step in steps.values():
            for _ in range(30):
                step()
        number = max(5, int(50 / median_ms(steps["floor"], 3)))     # ~50 ms of floor per round
        times = {name: [] for name in steps}
        for _ in range(args.rounds):
            for name, step in steps.items():
                times[name].append(median_ms(step, number))

        def ratio(a, b):
            return statistics.median(x / y for x, y in zip(times[a], times[b]))
        print(f"{row:<15} ms: floor {statistics.median(times['floor']):.3f}  jax {statistics.median(times['jax']):.3f}"
              f"  cysym {statistics.median(times['cysym']):.3f} | cysym/jax {ratio('cysym', 'jax'):.3f}"
              f"  cysym/floor {ratio('cysym', 'floor'):.3f}  jax/floor {ratio('jax', 'floor'):.3f}", flush=True)


if __name__ == "__main__":
    main()
