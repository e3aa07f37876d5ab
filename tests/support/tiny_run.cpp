#include "support/tiny_run.h"

#include <fmt/format.h>
#include <opencv2/core.hpp>

#include "img2img/data/image_io.h"

namespace img2img::test {

RunConfig tiny_paired_run(const std::filesystem::path& dir) {
  cv::RNG rng(3);
  for (int i = 0; i < 4; ++i) {
    cv::Mat x(32, 32, CV_32FC3);
    rng.fill(x, cv::RNG::UNIFORM, 0.0, 1.0);
    write_image(dir / "in" / fmt::format("{}.png", i), x, PixelDepth::k8);
    write_image(dir / "ref" / fmt::format("{}.png", i), cv::Scalar(1, 1, 1) - x, PixelDepth::k8);
  }
  RunConfig c;
  c.data.input_dir = (dir / "in").string(), c.data.reference_dir = (dir / "ref").string();
  c.data.image_size = 32, c.data.batch_size = 2;
  c.generator.layers = 5, c.generator.initial_layer_size = 8;
  c.discriminator.layers = 2, c.discriminator.initial_layer_size = 8;
  c.train.max_iterations = 1;
  c.output.onnx_path = "";
  c.plot.type = PlotType::kDisabled;
  c.device.device = "cpu";
  return c;
}

}  // namespace img2img::test
