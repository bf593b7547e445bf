"""Under mpiexec: every rank pushes its own gradients to a 'dist_sync' store with 2-bit
compression (threshold 0.3) for three steps and saves what it pulls after each, for
tests/test_kvstore_mpi.py to compare with a NumPy model of MXNet's compression."""
import sys

import numpy as np

import cysym as mx

kv = mx.kv.create("dist_sync")
kv.set_gradient_compression({"type": "2bit", "threshold": 0.3})
kv.init("w", mx.nd.zeros((5, 7)))
pulled = []
for step in range(3):
    # two devices' gradients, summed on the worker before it quantizes them (as MXNet's dist)
    grads = np.random.default_rng([kv.rank, step]).uniform(-0.5, 0.5, (2, 5, 7)).astype(np.float32)
    kv.push("w", [mx.nd.array(grads[0]), mx.nd.array(grads[1])])
    out = mx.nd.zeros((5, 7))
    kv.pull("w", out=out)
    pulled.append(np.asarray(out))
np.save(f"{sys.argv[1]}/rank{kv.rank}.npy", np.stack(pulled))
