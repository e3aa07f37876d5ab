#include "img2img/config/unpaired_defaults.h"

#include <string>  // std::string

namespace img2img {

RunConfig unpaired_defaults() {
  RunConfig c;
  c.data.input_type = InputType::kMultipleUnpaired;
  c.test.input_type = InputType::kMultipleUnpaired;
  c.train.gan_loss = GanLoss::kLsgan;
  c.generator.l1_lambda = 10.0;
  c.generator.norm = NormKind::kInstance;
  c.generator.dropout = 0.0;
  c.discriminator.norm = NormKind::kInstance;
  return c;
}

RunConfig base_config_for(const std::vector<ConfigAssignment>& assignments) {
  std::vector<ConfigProblem> ignored;  // reported by the real pass on the chosen base
  const RunConfig first = apply_config(assignments, {}, &ignored);
  return is_unpaired(first.data.input_type) ? unpaired_defaults() : RunConfig{};
}

}  // namespace img2img
