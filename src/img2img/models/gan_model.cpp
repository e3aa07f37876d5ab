#include "img2img/models/gan_model.h"

#include <cmath>    // std::isfinite
#include <sstream>  // std::ostringstream

namespace img2img {

void check_finite(double value, const char* term) {
  if (std::isfinite(value)) return;
  std::ostringstream msg;
  msg << "the " << term << " loss became " << value
      << "; training diverged. Lower train.learning_rate or check float images for extreme values (NaN/inf "
         "pixels are rejected at load).";
  throw NonFiniteLossError(msg.str(), term);
}

void set_requires_grad(torch::nn::Module& m, bool on) {
  for (auto& p : m.parameters()) p.set_requires_grad(on);
}

void set_train_mode(GanModel& model, bool on) {
  for (const NamedNetwork& n : model.networks()) n.module->train(on);
}

}  // namespace img2img
