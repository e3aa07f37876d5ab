#include "img2img/infer/inference.h"

#include <fmt/format.h>                 // fmt::format
#include <fmt/ranges.h>                 // fmt::join
#include <opencv2/imgproc.hpp>          // cv::resize
#include <torch/nn/functional/padding.h>  // pad

#include "img2img/core/atomic_file.h"
#include "img2img/core/error.h"
#include "img2img/core/runtime.h"
#include "img2img/data/paired_dataset.h"
#include "img2img/models/factory.h"

namespace img2img {
namespace fs = std::filesystem;

GeneratorRunner::GeneratorRunner(const fs::path& checkpoint, const std::string& device, int64_t index,
                                 WeightsKind weights_kind)
    : device_(torch::kCPU) {
  fs::path& weights = weights_;
  meta_ = read_checkpoint_meta(checkpoint, &weights, index);
  if (meta_.network != "generator")
    throw CheckpointError(fmt::format("checkpoint '{}' holds a {}, not a generator; pass the generator file "
                                      "(e.g. generator_0_*.pt).",
                                      weights.string(), meta_.network));
  config_ = checkpoint_config(meta_);
  device_ = resolve_device(device);
  generator_ = UnetGenerator(generator_options(config_));
  loaded_ = load_checkpoint_weights(weights, meta_, *generator_, weights_kind);
  generator_->to(device_);
  generator_->eval();
}

cv::Mat GeneratorRunner::run(const cv::Mat& image, InferMode mode) {
  const int c = static_cast<int>(config_.data.channel_count), size = static_cast<int>(config_.data.image_size);
  const cv::Mat src = apply_channel_rule(image, c);
  torch::NoGradGuard no_grad;
  torch::Tensor out;
  if (mode == InferMode::kResize) {
    torch::Tensor x = image_to_tensor(resize_square(src, size)).unsqueeze(0).to(device_);
    cv::Mat y = tensor_to_image(generator_(x)[0]);
    cv::Mat back;
    cv::resize(y, back, src.size(), 0, 0, y.rows > src.rows ? cv::INTER_AREA : cv::INTER_LINEAR);
    return back.channels() == c ? back : back.reshape(c, src.rows);
  }
  const int64_t multiple = int64_t{1} << config_.generator.layers;
  const int64_t h = src.rows, w = src.cols;
  const int64_t ph = (multiple - h % multiple) % multiple, pw = (multiple - w % multiple) % multiple;
  torch::Tensor x = image_to_tensor(src).unsqueeze(0).to(device_);
  namespace F = torch::nn::functional;
  // Reflect padding needs pad < size; replicate covers tiny images.
  const bool reflect = ph < h && pw < w;
  F::PadFuncOptions pad({0, pw, 0, ph});
  if (reflect) pad.mode(torch::kReflect); else pad.mode(torch::kReplicate);
  x = F::pad(x, pad);
  torch::Tensor y = generator_(x)[0].slice(1, 0, h).slice(2, 0, w);
  return tensor_to_image(y);
}

void check_infer_output(const fs::path& input, const fs::path& output_dir) {
  std::error_code ec;
  check_distinct_folders({{"--input", fs::is_directory(input, ec) ? input : fs::absolute(input).parent_path()}},
                         {{"--output", output_dir}});
  // An existing file as --output (or above it): say so, rather than "cannot create folder: Not a directory".
  for (fs::path p = output_dir; !p.empty(); p = p.parent_path()) {
    if (fs::exists(p, ec)) {
      if (!fs::is_directory(p, ec))
        throw DataError(fmt::format(
            "--output '{}' {} a file, not a folder: infer writes <name>.png files (.tif for float) into an output "
            "folder, also for one input image; it takes no output file name. Pass a folder (e.g. --output '{}').",
            output_dir.string(), p == output_dir ? "is" : fmt::format("is inside '{}', which is", p.string()),
            (p.parent_path() / "generated").string()));
      break;
    }
    if (p == p.parent_path()) break;
  }
  if (has_image_extension(output_dir) && !fs::is_directory(output_dir, ec))
    throw DataError(fmt::format("--output '{}' looks like an image file, but infer writes <name>.png files into an "
                                "output folder. Pass a folder (e.g. --output '{}').",
                                output_dir.string(), (output_dir.parent_path() / "generated").string()));
}

std::vector<fs::path> infer_images(GeneratorRunner& runner, const fs::path& input, const fs::path& output_dir,
                                   InferMode mode, std::vector<std::string>* notes,
                                   const std::atomic<bool>* stop_requested, size_t* image_count) {
  const auto stopped = [stop_requested] { return stop_requested != nullptr && stop_requested->load(); };
  std::vector<fs::path> files;
  std::error_code ec;
  check_infer_output(input, output_dir);
  if (fs::is_directory(input, ec)) {
    ListingStats listing;
    files = list_image_files(input, &listing);
    if (notes != nullptr && (listing.ignored > 0 || listing.subfolders > 0)) {
      std::vector<std::string> parts;
      if (listing.ignored > 0)
        parts.push_back(fmt::format("{} non-image or hidden file(s) skipped", listing.ignored));
      if (listing.subfolders > 0)
        parts.push_back(fmt::format("{} subfolder(s) not searched (infer reads only the images directly in "
                                    "--input; run it once per subfolder)",
                                    listing.subfolders));
      notes->push_back(fmt::format("--input '{}': {}.", input.string(), fmt::join(parts, "; ")));
    }
  } else if (fs::is_regular_file(input, ec)) {
    files.push_back(input);
  } else if (!fs::exists(input, ec)) {
    throw DataError(fmt::format("--input '{}' does not exist. Check the path: give an image file or a folder of "
                                "images.",
                                input.string()));
  } else {
    throw DataError(fmt::format("--input '{}' is neither an image file nor a folder.", input.string()));
  }
  if (image_count != nullptr) *image_count = files.size();
  // Decode every input first, so a bad file later in the folder leaves no partial output behind.
  std::vector<std::string> problems;
  const int model_channels = static_cast<int>(runner.config().data.channel_count);
  int64_t more_channels = 0;
  fs::path first_more;
  int first_more_channels = 0;
  FileFacts facts;  // float inputs outside [0, 1]
  for (const auto& f : files) {
    if (stopped()) return {};  // nothing written yet
    try {
      const DecodedImage image = read_image(f, ImageUse::kInference);
      const int c = image.pixels.channels();
      if (c > model_channels && more_channels++ == 0) first_more = f, first_more_channels = c;
      facts.add(f, image);
    } catch (const DataError& e) {
      problems.push_back(e.what());
    }
  }
  if (notes != nullptr && more_channels > 0 && problems.empty())
    notes->push_back(fmt::format(
        "{} of {} input image(s) have more channels than the model takes ({}, the data.channel_count it was "
        "trained with; e.g. '{}' has {}): only the first {} used{}.",
        more_channels, files.size(), model_channels, first_more.string(), first_more_channels,
        model_channels == 1 ? "is" : "are",
        model_channels == 1 ? ", so an RGB image gives its red channel, not its brightness (save the images as "
                              "grey first to feed brightness)"
                            : ""));
  // As training warns about such data (file_warnings), in terms of inference.
  if (notes != nullptr && facts.out_of_range > 0 && problems.empty())
    notes->push_back(out_of_range_files(facts) +
                     ": infer uses them as they are, but the generator was trained for samples in [0, 1] and its "
                     "images stay within [0, 1], so it cannot reproduce such values and its output may be off. "
                     "Scale the values to [0, 1] before inference, as the training data were, e.g. "
                     "(v - min) / (max - min).");
  if (!problems.empty()) {
    std::string text = fmt::format("cannot infer: {} of {} input image(s) in --input '{}' cannot be read, nothing "
                                   "written. Fix or remove them:",
                                   problems.size(), files.size(), input.string());
    for (size_t i = 0; i < problems.size() && i < 10; ++i) text += "\n  " + problems[i];
    if (problems.size() > 10) text += fmt::format("\n  ... and {} more", problems.size() - 10);
    throw DataError(text);
  }
  const PixelDepth depth = runner.meta().reference_depth;
  std::vector<fs::path> written;
  for (const auto& f : files) {
    if (stopped()) break;
    const DecodedImage img = read_image(f, ImageUse::kInference);
    const cv::Mat y = runner.run(img.pixels, mode);
    const fs::path out = output_dir / (f.stem().string() + (depth == PixelDepth::kFloat ? ".tif" : ".png"));
    write_image(out, y, depth);
    written.push_back(out);
  }
  return written;
}

}  // namespace img2img
