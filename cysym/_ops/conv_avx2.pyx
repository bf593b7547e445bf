"""The convolution and pooling kernels of conv.pyx, compiled for AVX2 + FMA (setup.py); cysym._ops.load
picks this build where the CPU has them.  Same source; only vector width and FMA differ."""
include "conv.pyx"
