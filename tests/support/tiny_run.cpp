#include "support/tiny_run.h"

#include <fmt/format.h>
#include <opencv2/core.hpp>

#include "img2img/config/unpaired_defaults.h"
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

RunConfig tiny_height_run(const std::filesystem::path& dir) {
  RunConfig c = tiny_paired_run(dir);
  for (int i = 0; i < 4; ++i) {
    cv::Mat height(32, 32, CV_32FC1), sketch(32, 32, CV_32FC1);
    for (int y = 0; y < 32; ++y)
      for (int x = 0; x < 32; ++x) {
        const double d2 = (x - 8 - 5 * i) * (x - 8 - 5 * i) + (y - 12 - 3 * i) * (y - 12 - 3 * i);
        height.at<float>(y, x) = static_cast<float>(0.2 + 0.6 * std::exp(-d2 / 80.0) + 0.004 * x);
        sketch.at<float>(y, x) = std::fmod(height.at<float>(y, x) * 8.0f, 1.0f) < 0.15f ? 0.0f : 1.0f;  // contours
      }
    write_image(dir / "in" / fmt::format("{}.png", i), sketch, PixelDepth::k8);
    write_image(dir / "ref" / fmt::format("{}.png", i), height, PixelDepth::k16);
  }
  c.data.channel_count = 1;
  return c;
}

RunConfig tiny_unpaired_run(const std::filesystem::path& dir) {
  const RunConfig paired = tiny_paired_run(dir);
  RunConfig c = unpaired_defaults();
  c.data = paired.data;
  c.data.input_type = InputType::kMultipleUnpaired;
  c.generator.layers = 4, c.generator.initial_layer_size = 8;
  c.discriminator = paired.discriminator;
  c.train.max_iterations = 1, c.train.linear_decay = 0;
  c.output.onnx_path = "";
  c.plot = paired.plot;
  c.device = paired.device;
  return c;
}

}  // namespace img2img::test
