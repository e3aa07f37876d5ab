#include "img2img/models/cycle_gan_model.h"

#include <torch/nn/functional/loss.h>  // l1_loss

#include "img2img/models/factory.h"  // init_weights
#include "img2img/models/gan_loss.h"

namespace img2img {

namespace {
std::vector<torch::Tensor> parameters_of(torch::nn::Module& a, torch::nn::Module& b) {
  std::vector<torch::Tensor> p = a.parameters();
  for (const auto& t : b.parameters()) p.push_back(t);
  return p;
}

// Networks in checkpoint order: G0, D0, G1, D1 (i = 2k for generator k, 2k + 1 for discriminator k).
constexpr size_t kNetworksPerDirection = 2;
}  // namespace

CycleGanModel::CycleGanModel(const CycleGanOptions& options, const torch::Device& device)
    : gan_loss_kind_(options.gan_loss),
      l1_lambda_(options.l1_lambda),
      identity_lambda_(options.identity_lambda),
      pools_{ImagePool(options.pool_size, options.pool_seed ^ 0x9001ULL),
             ImagePool(options.pool_size, options.pool_seed ^ 0x9002ULL)} {
  for (auto& g : generators) {
    g = UnetGenerator(options.generator);
    init_weights(*g, options.init, options.init_gain);
    g->to(device);
  }
  for (auto& d : discriminators) {
    d = PatchDiscriminator(options.discriminator);
    init_weights(*d, options.init, options.init_gain);
    d->to(device);
  }
}

std::vector<NamedNetwork> CycleGanModel::networks() {
  return {{"generator", 0, generators[0].ptr()},
          {"discriminator", 0, discriminators[0].ptr()},
          {"generator", 1, generators[1].ptr()},
          {"discriminator", 1, discriminators[1].ptr()}};
}

std::vector<ParameterGroup> CycleGanModel::parameter_groups() {
  return {{"generator", parameters_of(*generators[0], *generators[1])},
          {"discriminator", parameters_of(*discriminators[0], *discriminators[1])}};
}

std::vector<StatisticInfo> CycleGanModel::statistics() const {
  std::vector<StatisticInfo> s;
  for (int k = 0; k < 2; ++k) {  // plot series in this order: g_gan_0, cycle_0, identity_0, d_0, g_gan_1, ...
    const std::string i = std::to_string(k);
    s.push_back({"g_gan_" + i, "G_GAN", 4, "g_gan", "loss", "g_gan_" + i});
    s.push_back({"cycle_" + i, "cycle", 4, "cycle", "loss", "cycle_" + i});
    s.push_back({"identity_" + i, "identity", 4, "identity", "loss", "identity_" + i});
    s.push_back({"d_" + i, "D", 4, "d_loss", "loss", "d_" + i});
    s.push_back({"score_real_" + i, "", 3, "score_real", "score", "real_" + i});
    s.push_back({"score_fake_" + i, "", 3, "score_fake", "score", "generated_" + i});
  }
  return s;
}

std::vector<double> CycleGanModel::train_step(const std::vector<torch::Tensor>& batch, StepUpdater& updater) {
  namespace F = torch::nn::functional;
  constexpr size_t kGenerators = 0, kDiscriminators = 1;
  const torch::Tensor real[2] = {batch.at(0), batch.at(1)};  // [N, C, S, S] in [-1, 1]
  // fake[0] = G0(a) in domain B, fake[1] = G1(b) in domain A; rec[k] goes back to real[k].
  const torch::Tensor fake[2] = {generators[0](real[0]), generators[1](real[1])};
  const torch::Tensor rec[2] = {generators[1](fake[0]), generators[0](fake[1])};
  double g_gan[2] = {0, 0}, cycle[2] = {0, 0}, identity[2] = {0, 0}, d[2] = {0, 0}, score_real[2], score_fake[2];

  // Generators, discriminators frozen (backward_G): GAN + cycle + identity for both directions.
  for (auto& dk : discriminators) set_requires_grad(*dk, false);
  updater.zero_grad(kGenerators);
  torch::Tensor g_total = torch::zeros({}, real[0].options());
  torch::Tensor pred_fake[2];
  for (int k = 0; k < 2; ++k) {
    const torch::Tensor& other = real[1 - k];  // the target domain of generator k
    pred_fake[k] = discriminators[k](fake[k]);  // [N, 1, H', W']
    const torch::Tensor gan = gan_loss(gan_loss_kind_, pred_fake[k], true);
    const torch::Tensor cyc = F::l1_loss(rec[k], real[k]) * l1_lambda_;
    g_total = g_total + gan + cyc;
    g_gan[k] = gan.item<double>(), cycle[k] = cyc.item<double>();
    check_finite(g_gan[k], k == 0 ? "generator 0 GAN" : "generator 1 GAN");
    check_finite(cycle[k], k == 0 ? "cycle A" : "cycle B");
    if (identity_lambda_ > 0) {  // G_k of an image already in its target domain should not change it
      const torch::Tensor idt = F::l1_loss(generators[k](other), other) * (l1_lambda_ * identity_lambda_);
      g_total = g_total + idt;
      identity[k] = idt.item<double>();
      check_finite(identity[k], k == 0 ? "identity 0" : "identity 1");
    }
  }
  g_total.backward();
  updater.step(kGenerators);

  // Discriminators (backward_D_basic): real images of the domain -> 1, pooled fakes -> 0, halved.
  for (auto& dk : discriminators) set_requires_grad(*dk, true);
  updater.zero_grad(kDiscriminators);
  for (int k = 0; k < 2; ++k) {
    const torch::Tensor pred_real = discriminators[k](real[1 - k]);
    const torch::Tensor pooled = pools_[k].query(fake[k].detach());
    const torch::Tensor d_loss =
        (gan_loss(gan_loss_kind_, pred_real, true) + gan_loss(gan_loss_kind_, discriminators[k](pooled), false)) *
        0.5;
    d[k] = d_loss.item<double>();
    check_finite(d[k], k == 0 ? "discriminator 0" : "discriminator 1");
    d_loss.backward();
    score_real[k] = discriminator_score(gan_loss_kind_, pred_real);
    score_fake[k] = discriminator_score(gan_loss_kind_, pred_fake[k].detach());
  }
  updater.step(kDiscriminators);
  std::vector<double> out;
  for (int k = 0; k < 2; ++k)
    out.insert(out.end(), {g_gan[k], cycle[k], identity[k], d[k], score_real[k], score_fake[k]});
  return out;
}

bool CycleGanModel::save_state(size_t i, torch::serialize::OutputArchive& archive) {
  if (i % kNetworksPerDirection == 0) return false;  // generators keep no state of their own
  torch::serialize::OutputArchive pool;
  pools_[i / kNetworksPerDirection].save(pool);
  archive.write("image_pool", pool);
  return true;
}

void CycleGanModel::load_state(size_t i, torch::serialize::InputArchive& archive) {
  if (i % kNetworksPerDirection == 0) return;
  torch::serialize::InputArchive pool;
  archive.read("image_pool", pool);
  pools_[i / kNetworksPerDirection].load(pool);
}

}  // namespace img2img
