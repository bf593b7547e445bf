"""The fused optimizer updates of optim.pyx, compiled for AVX-512 (setup.py); cysym._ops.load
picks this build where the CPU has them.  Same source; only vector width differs."""
include "optim.pyx"
