// Debian's libopenblas-dev: CBLAS interface (sgemm for prefill matmuls).
#include <cblas.h>
