#include "img2img/core/sgemm.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <limits>  // std::numeric_limits
#include <vector>  // std::vector

#include "img2img/core/error.h"

namespace img2img {
namespace {

std::vector<SgemmBackend> backends() {
  std::vector<SgemmBackend> b{SgemmBackend::kAten};
  if (sgemm_has_dnnl()) b.push_back(SgemmBackend::kDnnl);
  return b;
}

// Every transpose combination, with padded rows (lda/ldb/ldc larger than the row), alpha and beta,
// against the product in float64 (at::mm on doubles: an independent reference, no float32 GEMM).
TEST(SgemmTest, MatchesFloat64ProductForEveryTransposeAndStride) {
  torch::manual_seed(7);
  const int64_t m = 37, n = 53, k = 29, pad = 5;
  for (const SgemmBackend backend : backends())
    for (const bool ta : {false, true})
      for (const bool tb : {false, true}) {
        SCOPED_TRACE(::testing::Message() << "backend " << static_cast<int>(backend) << " ta " << ta << " tb " << tb);
        // Stored shapes with extra columns that must not be read.
        const torch::Tensor a_store = torch::randn({ta ? k : m, (ta ? m : k) + pad});
        const torch::Tensor b_store = torch::randn({tb ? n : k, (tb ? k : n) + pad});
        torch::Tensor c_store = torch::randn({m, n + pad});
        const torch::Tensor c_before = c_store.clone();
        const auto op_a = a_store.narrow(1, 0, ta ? m : k), op_b = b_store.narrow(1, 0, tb ? k : n);
        const torch::Tensor a64 = (ta ? op_a.t() : op_a).to(torch::kDouble);
        const torch::Tensor b64 = (tb ? op_b.t() : op_b).to(torch::kDouble);
        const float alpha = 0.75f, beta = -0.5f;
        sgemm(ta, tb, m, n, k, alpha, a_store.data_ptr<float>(), a_store.size(1), b_store.data_ptr<float>(),
              b_store.size(1), beta, c_store.data_ptr<float>(), c_store.size(1), backend);
        const torch::Tensor expected =
            alpha * torch::mm(a64, b64) + beta * c_before.narrow(1, 0, n).to(torch::kDouble);
        const double err = (c_store.narrow(1, 0, n).to(torch::kDouble) - expected).abs().max().item<double>();
        EXPECT_LT(err, 1e-4 * expected.abs().max().item<double>());
        // The padding columns of C are untouched.
        EXPECT_TRUE(torch::equal(c_store.narrow(1, n, pad), c_before.narrow(1, n, pad)));
      }
}

TEST(SgemmTest, BetaZeroOverwritesNanAndEmptyInnerDimensionGivesZero) {
  for (const SgemmBackend backend : backends()) {
    const torch::Tensor a = torch::ones({2, 3}), b = torch::full({3, 4}, 2.0f);
    torch::Tensor c = torch::full({2, 4}, std::numeric_limits<float>::quiet_NaN());
    sgemm(false, false, 2, 4, 3, 1.0f, a.data_ptr<float>(), 3, b.data_ptr<float>(), 4, 0.0f, c.data_ptr<float>(), 4,
          backend);
    EXPECT_TRUE(torch::equal(c, torch::full({2, 4}, 6.0f)));
    // k = 0: C = beta * C.
    sgemm(false, false, 2, 4, 0, 1.0f, a.data_ptr<float>(), 0, b.data_ptr<float>(), 4, 0.5f, c.data_ptr<float>(), 4,
          backend);
    EXPECT_TRUE(torch::equal(c, torch::full({2, 4}, 3.0f)));
  }
}

TEST(SgemmTest, RejectsBadSizesAndMissingBackend) {
  float x[4] = {0, 0, 0, 0};
  EXPECT_THROW(sgemm(false, false, 2, 2, 2, 1.0f, x, 1 /* < k */, x, 2, 0.0f, x, 2), Error);
  EXPECT_THROW(sgemm(false, false, -1, 2, 2, 1.0f, x, 2, x, 2, 0.0f, x, 2), Error);
  if (!sgemm_has_dnnl())
    EXPECT_THROW(sgemm(false, false, 1, 1, 1, 1.0f, x, 1, x, 1, 0.0f, x, 1, SgemmBackend::kDnnl), Error);
}

}  // namespace
}  // namespace img2img
