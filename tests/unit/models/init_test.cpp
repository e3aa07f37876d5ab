// train.init / train.init_gain statistics (pix2pix networks.init_weights): normal std, orthogonal
// W W^T = gain^2 I, xavier / kaiming std, zero biases, norm-layer weights N(1, gain).

#include <gtest/gtest.h>
#include <torch/nn/modules/batchnorm.h>     // BatchNorm2d
#include <torch/nn/modules/container/sequential.h>  // Sequential
#include <torch/nn/modules/conv.h>          // Conv2d, ConvTranspose2d

#include <cmath>  // std::sqrt

#include "img2img/models/factory.h"

namespace img2img {
namespace {

// A large conv (256 -> 256, 4x4: 1,048,576 weights), a transposed conv and a batch norm.
torch::nn::Sequential make_layers() {
  return torch::nn::Sequential(
      torch::nn::Conv2d(torch::nn::Conv2dOptions(256, 256, 4).bias(true)),
      torch::nn::BatchNorm2d(4096),
      torch::nn::ConvTranspose2d(torch::nn::ConvTranspose2dOptions(64, 32, 4).bias(true)));
}

torch::Tensor conv_weight(torch::nn::Sequential& s) { return s[0]->as<torch::nn::Conv2dImpl>()->weight; }

void expect_biases_zero(torch::nn::Sequential& s) {
  EXPECT_EQ(s[0]->as<torch::nn::Conv2dImpl>()->bias.abs().max().item<double>(), 0.0);
  EXPECT_EQ(s[2]->as<torch::nn::ConvTranspose2dImpl>()->bias.abs().max().item<double>(), 0.0);
  EXPECT_EQ(s[1]->as<torch::nn::BatchNorm2dImpl>()->bias.abs().max().item<double>(), 0.0);
}

TEST(InitWeightsTest, NormalHasStdGain) {
  torch::manual_seed(1);
  auto layers = make_layers();
  const double gain = 0.02;
  init_weights(*layers, InitKind::kNormal, gain);
  const torch::Tensor w = conv_weight(layers);
  EXPECT_NEAR(w.std().item<double>(), gain, 0.05 * gain);
  EXPECT_NEAR(w.mean().item<double>(), 0.0, 0.01 * gain);
  expect_biases_zero(layers);
}

TEST(InitWeightsTest, NormLayerWeightsAreNormalAroundOne) {
  torch::manual_seed(2);
  auto layers = make_layers();
  const double gain = 0.05;
  init_weights(*layers, InitKind::kOrthogonal, gain);  // norm layers ignore the kind
  const torch::Tensor w = layers[1]->as<torch::nn::BatchNorm2dImpl>()->weight;  // 4096 values
  EXPECT_NEAR(w.mean().item<double>(), 1.0, 0.1 * gain);
  EXPECT_NEAR(w.std().item<double>(), gain, 0.05 * gain);
}

TEST(InitWeightsTest, OrthogonalRowsScaledByGain) {
  torch::manual_seed(3);
  for (double gain : {0.02, 1.0}) {
    auto layers = make_layers();
    init_weights(*layers, InitKind::kOrthogonal, gain);
    // Conv2d weight [256, 256, 4, 4] -> flattened [256, 4096]: rows orthogonal, W W^T = gain^2 I.
    const torch::Tensor w = conv_weight(layers).flatten(1).to(torch::kFloat64);
    const torch::Tensor gram = torch::matmul(w, w.t());
    const torch::Tensor expected = torch::eye(256, torch::kFloat64) * (gain * gain);
    EXPECT_LT((gram - expected).abs().max().item<double>(), 1e-5 * gain * gain) << "gain " << gain;
    expect_biases_zero(layers);
  }
}

TEST(InitWeightsTest, XavierAndKaimingFollowTheirFanFormulas) {
  torch::manual_seed(4);
  auto layers = make_layers();
  const double gain = 0.02;
  const double fan = 256.0 * 16.0;  // fan_in = fan_out = 256 * 4 * 4
  init_weights(*layers, InitKind::kXavier, gain);
  const double xavier_std = gain * std::sqrt(2.0 / (fan + fan));  // Glorot & Bengio 2010
  EXPECT_NEAR(conv_weight(layers).std().item<double>(), xavier_std, 0.05 * xavier_std);
  init_weights(*layers, InitKind::kKaiming, gain);  // pix2pix: a = 0, fan_in, gain unused
  const double kaiming_std = std::sqrt(2.0 / fan);  // He et al. 2015
  EXPECT_NEAR(conv_weight(layers).std().item<double>(), kaiming_std, 0.05 * kaiming_std);
  expect_biases_zero(layers);
}

}  // namespace
}  // namespace img2img
