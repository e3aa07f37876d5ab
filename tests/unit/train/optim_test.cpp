// Golden tests: each train.optimizer run for 20 steps on a fixed least-squares problem must give
// the parameters Debian's python3-torch gives (tests/golden/optim/make_optim_golden.py writes
// optim_golden.json; regenerate with /usr/bin/python3 tests/golden/optim/make_optim_golden.py).

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>          // nlohmann::json
#include <torch/serialize.h>          // torch::serialize archives
#include <torch/torch.h>              // torch::tensor, matmul

#include <sstream>  // std::stringstream

#include <fstream>  // std::ifstream
#include <string>   // std::string
#include <vector>   // std::vector

#include "img2img/train/optim/adadelta.h"
#include "img2img/train/optim/asgd.h"
#include "img2img/train/optimizers.h"
#include "img2img/config/enum_names.h"

namespace img2img {
namespace {

constexpr double kRelTol = 1e-6;  // issue 4: "within 1e-6 relative"

OptimizerKind optimizer_kind(const std::string& name) {
  for (const auto& [kind, spelling] : enum_names<OptimizerKind>())
    if (spelling == name) return kind;
  ADD_FAILURE() << "unknown optimizer " << name;
  return OptimizerKind::kAdam;
}

nlohmann::json golden() {
  std::ifstream in(std::string(IMG2IMG_SOURCE_DIR) + "/tests/golden/optim/optim_golden.json");
  EXPECT_TRUE(in.good()) << "missing tests/golden/optim/optim_golden.json";
  return nlohmann::json::parse(in);
}

torch::Tensor to_tensor(const nlohmann::json& values, std::vector<int64_t> shape) {
  return torch::tensor(values.get<std::vector<float>>(), torch::kFloat32).reshape(shape);
}

void expect_close(const torch::Tensor& got, const nlohmann::json& expected, const std::string& what) {
  const std::vector<float> want = expected.get<std::vector<float>>();
  const torch::Tensor g = got.detach().flatten().contiguous();
  ASSERT_EQ(g.numel(), static_cast<int64_t>(want.size())) << what;
  for (int64_t i = 0; i < g.numel(); ++i) {
    const double a = g[i].item<double>(), b = want[static_cast<size_t>(i)];
    EXPECT_LE(std::abs(a - b), kRelTol * std::max(std::abs(b), 1e-3)) << what << "[" << i << "]: " << a << " vs " << b;
  }
}

/// Runs `steps` steps of `opt` on the golden problem with parameters w, b.
void run_problem(const nlohmann::json& g, torch::optim::Optimizer& opt, torch::Tensor& w, torch::Tensor& b, int steps) {
  const torch::Tensor x = to_tensor(g["x"], g["x_shape"].get<std::vector<int64_t>>());
  const torch::Tensor y = to_tensor(g["y"], g["y_shape"].get<std::vector<int64_t>>());
  for (int i = 0; i < steps; ++i) {
    opt.zero_grad();
    const torch::Tensor loss = (torch::matmul(x, w.t()) + b - y).pow(2).mean();
    loss.backward();
    opt.step();
  }
}

TEST(OptimizerGoldenTest, MatchesPyTorchAfterTwentySteps) {
  const nlohmann::json g = golden();
  for (const auto& c : g["cases"]) {
    const std::string name = c["name"];
    SCOPED_TRACE(name);
    torch::Tensor w = to_tensor(g["weight0"], {3, 4}).requires_grad_(true);
    torch::Tensor b = to_tensor(g["bias0"], {3}).requires_grad_(true);
    const auto& o = c["options"];
    std::unique_ptr<torch::optim::Optimizer> opt;
    if (o.contains("t0")) {  // extra ASGD options are not config keys: construct directly
      opt = std::make_unique<Asgd>(std::vector<torch::Tensor>{w, b}, AsgdOptions(o["learning_rate"].get<double>())
                                                                          .lambd(o["lambd"].get<double>())
                                                                          .alpha(o["alpha"].get<double>())
                                                                          .t0(o["t0"].get<double>()));
    } else {  // through make_optimizer, as training does
      TrainConfig config;
      config.optimizer = optimizer_kind(c["optimizer"].get<std::string>());
      config.learning_rate = o["learning_rate"];
      config.beta1 = o.value("beta1", config.beta1);
      config.beta2 = o.value("beta2", config.beta2);
      config.rho = o.value("rho", config.rho);
      config.momentum = o.value("momentum", config.momentum);
      opt = make_optimizer(config, {w, b});
    }
    run_problem(g, *opt, w, b, g["steps"].get<int>());
    expect_close(w, c["weight"], name + " weight");
    expect_close(b, c["bias"], name + " bias");
    if (c.contains("weight_ax")) {
      auto* asgd = dynamic_cast<Asgd*>(opt.get());
      ASSERT_NE(asgd, nullptr);
      expect_close(asgd->averaged(w), c["weight_ax"], name + " ax");
    }
  }
}

TEST(OptimizerStateTest, SaveLoadContinuesBitForBit) {
  // 10 steps, save, load into a fresh optimiser, 10 more == 20 steps in one go (resume relies on it).
  const nlohmann::json g = golden();
  for (const std::string kind : {"adam", "sgd", "adadelta", "asgd"}) {
    SCOPED_TRACE(kind);
    TrainConfig config;
    config.optimizer = optimizer_kind(kind);
    config.learning_rate = 0.01, config.momentum = 0.9;
    torch::Tensor w1 = to_tensor(g["weight0"], {3, 4}).requires_grad_(true);
    torch::Tensor b1 = to_tensor(g["bias0"], {3}).requires_grad_(true);
    auto straight = make_optimizer(config, {w1, b1});
    run_problem(g, *straight, w1, b1, 20);

    torch::Tensor w2 = to_tensor(g["weight0"], {3, 4}).requires_grad_(true);
    torch::Tensor b2 = to_tensor(g["bias0"], {3}).requires_grad_(true);
    auto first = make_optimizer(config, {w2, b2});
    run_problem(g, *first, w2, b2, 10);
    std::stringstream buffer;
    {
      torch::serialize::OutputArchive archive;
      first->save(archive);
      archive.save_to(buffer);
    }
    torch::Tensor w3 = w2.detach().clone().requires_grad_(true);
    torch::Tensor b3 = b2.detach().clone().requires_grad_(true);
    auto second = make_optimizer(config, {w3, b3});
    torch::serialize::InputArchive archive;
    archive.load_from(buffer);
    second->load(archive);
    run_problem(g, *second, w3, b3, 10);
    EXPECT_TRUE(torch::equal(w1, w3));
    EXPECT_TRUE(torch::equal(b1, b3));
  }
}

TEST(OptimizerOptionsTest, LearningRateIsSettable) {
  torch::Tensor w = torch::zeros({2}, torch::requires_grad());
  Adadelta adadelta({w}, AdadeltaOptions(0.5));
  set_learning_rate(adadelta, 0.25);
  EXPECT_EQ(adadelta.param_groups()[0].options().get_lr(), 0.25);
  Asgd asgd({w});
  EXPECT_EQ(static_cast<const AsgdOptions&>(asgd.defaults()).lambd(), 1e-4);  // PyTorch defaults
  EXPECT_EQ(static_cast<const AsgdOptions&>(asgd.defaults()).alpha(), 0.75);
  EXPECT_EQ(static_cast<const AsgdOptions&>(asgd.defaults()).t0(), 1e6);
  EXPECT_EQ(static_cast<const AdadeltaOptions&>(adadelta.defaults()).eps(), 1e-6);
}

}  // namespace
}  // namespace img2img
