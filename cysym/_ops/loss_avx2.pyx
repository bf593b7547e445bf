"""The softmax and loss kernels of loss.pyx, compiled for AVX2 + FMA (setup.py); cysym._ops.load
picks this build where the CPU has them.  Same source; only vector width and FMA differ."""
include "loss.pyx"
