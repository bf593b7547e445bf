"""A BucketingModule on a 'dist_sync' store (under mpiexec), or alone on the workers' batches
put together (the reference): steps through buckets 6, 3, 4, 3, 6 (three of them created after
init_optimizer) and saves the parameters, for tests/test_kvstore_mpi.py.

python bucketing.py OUT [--single WORKERS]"""
import argparse

import numpy as np

import cysym as mx


def sym_gen(seq_len):
    data = mx.sym.Variable("data")
    embedded = mx.sym.Embedding(data, input_dim=10, output_dim=4, name="emb")
    fc = mx.sym.FullyConnected(mx.sym.sum(embedded, axis=1), num_hidden=3, name="fc")
    return mx.sym.SoftmaxOutput(fc, name="softmax"), ("data",), ("softmax_label",)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("out")
    parser.add_argument("--single", type=int, help="run alone on the batches of this many workers")
    args = parser.parse_args()
    kv = mx.kv.create("local" if args.single else "dist_sync")
    ranks = range(args.single) if args.single else [kv.rank]
    per_worker = 2
    batch = per_worker * len(ranks)
    mod = mx.mod.BucketingModule(sym_gen, default_bucket_key=6)
    mod.bind(data_shapes=[("data", (batch, 6))], label_shapes=[("softmax_label", (batch,))])
    init = np.random.RandomState(0)
    mod.init_params(arg_params={
        "emb_weight": mx.nd.array(init.uniform(-0.5, 0.5, (10, 4))),
        "fc_weight": mx.nd.array(init.uniform(-0.5, 0.5, (3, 4))),
        "fc_bias": mx.nd.array(init.uniform(-0.1, 0.1, (3,)))})
    mod.init_optimizer(kvstore=kv, optimizer="sgd", optimizer_params={"learning_rate": 0.1, "momentum": 0.9})
    for step, key in enumerate([6, 3, 4, 3, 6]):
        parts = [np.random.default_rng([rank, step]) for rank in ranks]
        data = np.concatenate([rng.integers(0, 10, (per_worker, key)) for rng in parts])
        label = np.concatenate([rng.integers(0, 3, per_worker) for rng in parts])
        mod.forward(mx.io.DataBatch(data=[mx.nd.array(data)], label=[mx.nd.array(label)], bucket_key=key,
                                    provide_data=[mx.io.DataDesc("data", (batch, key))],
                                    provide_label=[mx.io.DataDesc("softmax_label", (batch,))]),
                    is_train=True)
        mod.backward()
        mod.update()
    params, _ = mod.get_params()
    np.savez(f"{args.out}/rank{kv.rank}.npz", **{k: np.asarray(v) for k, v in params.items()})


if __name__ == "__main__":
    main()
