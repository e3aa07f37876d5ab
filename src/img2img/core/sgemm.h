#pragma once
// Row-major single-precision matrix multiply for the CPU convolution path of models/fast_conv.
//
// With Debian's libtorch 1.13 the product runs on oneDNN's dnnl_sgemm, from the libdnnl that libtorch
// itself links: at::mm would go to OpenBLAS 0.3.21, which does not know recent Xeons and falls back to
// its generic SSE3 kernel (measured 35-60 GFLOP/s on this machine's 2 cores against dnnl_sgemm's
// 230-300, and 3-5x slower on the skinny products of small feature maps). Upstream libtorch 2.x keeps
// its oneDNN private and uses MKL for at::mm, so builds against it (IMG2IMG_DNNL_SGEMM off) use at::mm.

#include <cstdint>  // int64_t

namespace img2img {

/// Which library computes sgemm(): kAuto = dnnl_sgemm where the build has it, else at::mm.
enum class SgemmBackend { kAuto, kDnnl, kAten };

/// True when this build links oneDNN's dnnl_sgemm (CMake option IMG2IMG_DNNL_SGEMM).
bool sgemm_has_dnnl();

/// C = alpha * op(A) * op(B) + beta * C in row-major storage (BLAS sgemm semantics; oneDNN's
/// dnnl_sgemm documents the same row-major convention). op(A) is [m, k]: A is stored [m, k] with row
/// stride lda >= k, or [k, m] with lda >= m when trans_a; likewise op(B) [k, n] and C [m, n] with ldc >= n.
/// With beta == 0, C need not be initialised (NaN in C is overwritten). Runs on the calling thread's
/// OpenMP / intra-op threads. Throws img2img::Error for a negative size, a too-small leading dimension,
/// kDnnl in a build without oneDNN, or a oneDNN failure status.
void sgemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha, const float* a, int64_t lda,
           const float* b, int64_t ldb, float beta, float* c, int64_t ldc, SgemmBackend backend = SgemmBackend::kAuto);

}  // namespace img2img
