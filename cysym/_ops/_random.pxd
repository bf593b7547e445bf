"""The random numbers kernels draw (dropout masks): splitmix64, a counter-based generator whose
stream is fixed by its seed, so a mask can be drawn again from the same key."""


cdef inline unsigned long long _splitmix64(unsigned long long* state) noexcept nogil:
    """The next 64 random bits of the stream at *state (advanced)."""
    cdef unsigned long long z
    state[0] += 0x9E3779B97F4A7C15ULL
    z = state[0]
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL
    return z ^ (z >> 31)
