#include "img2img/core/sgemm.h"

#include <ATen/ops/from_blob.h>  // at::from_blob
#include <ATen/ops/mm.h>         // at::mm_out
#include <ATen/record_function.h>  // RECORD_FUNCTION (named in profiler traces)

#include <string>  // std::string, std::to_string

#if IMG2IMG_DNNL_SGEMM
#include <dnnl.h>  // dnnl_sgemm
#endif

#include "img2img/core/error.h"

namespace img2img {

bool sgemm_has_dnnl() { return IMG2IMG_DNNL_SGEMM != 0; }

namespace {

// C = alpha * op(A) op(B) + beta * C through LibTorch's BLAS (at::mm).
void sgemm_aten(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha, const float* a,
                int64_t lda, const float* b, int64_t ldb, float beta, float* c, int64_t ldc) {
  const auto options = at::TensorOptions().dtype(at::kFloat);
  // A stored [m, k] (or [k, m] when transposed) with row stride lda; a transpose is a strided view.
  const at::Tensor ta = trans_a ? at::from_blob(const_cast<float*>(a), {k, m}, {lda, 1}, options).t()
                                : at::from_blob(const_cast<float*>(a), {m, k}, {lda, 1}, options);
  const at::Tensor tb = trans_b ? at::from_blob(const_cast<float*>(b), {n, k}, {ldb, 1}, options).t()
                                : at::from_blob(const_cast<float*>(b), {k, n}, {ldb, 1}, options);
  at::Tensor tc = at::from_blob(c, {m, n}, {ldc, 1}, options);
  if (beta == 0.0f) {
    at::mm_out(tc, ta, tb);  // overwrites C, NaN included
    if (alpha != 1.0f) tc.mul_(alpha);
  } else {
    tc.addmm_(ta, tb, beta, alpha);
  }
}

}  // namespace

void sgemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha, const float* a, int64_t lda,
           const float* b, int64_t ldb, float beta, float* c, int64_t ldc, SgemmBackend backend) {
  if (m < 0 || n < 0 || k < 0 || lda < (trans_a ? m : k) || ldb < (trans_b ? k : n) || ldc < n)
    throw Error("sgemm: bad sizes m=" + std::to_string(m) + " n=" + std::to_string(n) + " k=" + std::to_string(k) +
                " lda=" + std::to_string(lda) + " ldb=" + std::to_string(ldb) + " ldc=" + std::to_string(ldc) +
                " (trans_a=" + (trans_a ? "true" : "false") + ", trans_b=" + (trans_b ? "true" : "false") +
                "); this is a bug in img2img, please report it");
  if (m == 0 || n == 0) return;
  RECORD_FUNCTION("img2img::sgemm", std::vector<c10::IValue>());
  if (k == 0) {  // C = beta * C (oneDNN leaves C untouched then)
    for (int64_t i = 0; i < m; ++i)
      for (int64_t j = 0; j < n; ++j) c[i * ldc + j] = beta == 0.0f ? 0.0f : beta * c[i * ldc + j];
    return;
  }
  if (backend == SgemmBackend::kDnnl && !sgemm_has_dnnl())
    throw Error("sgemm: oneDNN was requested but this build has no dnnl_sgemm (CMake option IMG2IMG_DNNL_SGEMM)");
#if IMG2IMG_DNNL_SGEMM
  if (backend != SgemmBackend::kAten) {
    const dnnl_status_t status =
        dnnl_sgemm(trans_a ? 'T' : 'N', trans_b ? 'T' : 'N', m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
    if (status != dnnl_success)
      throw Error("sgemm: oneDNN's dnnl_sgemm failed with status " + std::to_string(static_cast<int>(status)) +
                  " for m=" + std::to_string(m) + " n=" + std::to_string(n) + " k=" + std::to_string(k) +
                  "; this is a bug in img2img or oneDNN, please report it");
    return;
  }
#endif
  sgemm_aten(trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
}

}  // namespace img2img
