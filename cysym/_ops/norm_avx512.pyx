"""The kernels of norm.pyx, compiled for AVX-512 (setup.py); cysym._ops.load picks this build
where the CPU has it.  Same source; only vector width differs."""
include "norm.pyx"
