/* OpenMP where the compiler has it (setup.py passes -fopenmp on Linux); elsewhere the same
   calls as one thread, so the kernels compile unchanged. */
#ifdef _OPENMP
#include <omp.h>
#else
static inline int omp_in_parallel(void) { return 0; }
static inline int omp_get_thread_num(void) { return 0; }
#endif
