"""Sphinx extension: draws the site's pictures of memory plans when the build starts, into
docs/_generated/ (not kept in git), with cysym.viz.plot_memory, so that they always show the
planner of the cysym being documented."""
import os

import cysym as mx
from cysym.demo import lenet, seed_mlp

# (file, network, input shape, grad_req, title)
FIGURES = [
    ("memory-mlp-training.png", seed_mlp, (32, 8, 8), "write", "seed MLP, one training step, batch 32"),
    ("memory-lenet-training.png", lenet, (32, 1, 8, 8), "write", "LeNet-style CNN, one training step, batch 32"),
    ("memory-lenet-inference.png", lenet, (32, 1, 8, 8), "null", "LeNet-style CNN, inference, batch 32"),
]


def draw(app):
    folder = os.path.join(app.srcdir, "_generated")
    os.makedirs(folder, exist_ok=True)
    for name, network, shape, grad_req, title in FIGURES:
        executor = network().simple_bind(mx.cpu(), grad_req=grad_req, data=shape)
        executor.plot_memory(os.path.join(folder, name), title=title)


def setup(app):
    app.connect("builder-inited", draw)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
