#include "img2img/train/trainer.h"

#include "img2img/core/error.h"
#include "img2img/models/factory.h"
#include "img2img/train/training_loop.h"

namespace img2img {
ModelRecipe pix2pix_recipe() {
  ModelRecipe r;
  r.name = "pix2pix";
  r.data = [](const RunConfig& c, const torch::Device& d) { return make_paired_training_data(c.data, d); };
  r.test = [](const RunConfig& c, const torch::Device& d) {
    return std::make_unique<PairedModelTest>(c.test, c.data, c.train.seed, d);
  };
  r.model = [](const RunConfig& c, const torch::Device& d) {
    return std::make_unique<Pix2PixModel>(pix2pix_options(c), d);
  };
  return r;
}

ModelRecipe cycle_gan_recipe() {
  ModelRecipe r;
  r.name = "cycle_gan", r.unpaired = true;
  r.check = [](const RunConfig& c) {
    if (!is_unpaired(c.data.input_type))
      throw ConfigError("unpaired (CycleGAN) training needs data.input_type = multiple_unpaired (two unrelated "
                        "folders); paired input types train a paired (pix2pix) model.");
  };
  r.data = [](const RunConfig& c, const torch::Device& d) { return make_unpaired_training_data(c.data, d); };
  r.test = [](const RunConfig& c, const torch::Device& d) {
    return std::make_unique<CycleModelTest>(c.test, c.data, c.train.seed, d);
  };
  r.model = [](const RunConfig& c, const torch::Device& d) {
    return std::make_unique<CycleGanModel>(cycle_gan_options(c), d);
  };
  return r;
}

TrainSummary train(const RunConfig& config, const TrainOptions& options) {
  return run_training(config, options, is_unpaired(config.data.input_type) ? cycle_gan_recipe() : pix2pix_recipe());
}

TrainSummary train_pix2pix(const RunConfig& config, const TrainOptions& options) {
  return run_training(config, options, pix2pix_recipe());
}

TrainSummary train_cycle_gan(const RunConfig& config, const TrainOptions& options) {
  return run_training(config, options, cycle_gan_recipe());
}


}  // namespace img2img
