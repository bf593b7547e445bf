"""The kernels of norm.pyx, compiled for AVX2 + FMA (setup.py); cysym._ops.load picks this build
where the CPU has it.  Same source; only vector width and FMA differ."""
include "norm.pyx"
