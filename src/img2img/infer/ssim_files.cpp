#include "img2img/infer/ssim_files.h"

#include <fmt/format.h>  // fmt::format

#include <algorithm>  // std::max, std::min
#include <utility>    // std::move
#include <map>        // std::map

#include "img2img/core/error.h"
#include "img2img/data/image_io.h"
#include "img2img/data/paired_dataset.h"
#include "img2img/metrics/ssim.h"

namespace img2img {
namespace fs = std::filesystem;

namespace {

// CV_32FC(C) [0, 1] -> [1, C, H, W] float32.
torch::Tensor to_batch(const cv::Mat& image) {
  const cv::Mat m = image.isContinuous() ? image : image.clone();
  return torch::from_blob(m.data, {m.rows, m.cols, m.channels()}, torch::kFloat32).permute({2, 0, 1}).unsqueeze(0).clone();
}

std::string missing_list(const std::vector<std::string>& names) {
  std::string out;
  for (size_t i = 0; i < names.size() && i < 10; ++i) out += (i ? ", " : "") + names[i];
  if (names.size() > 10) out += fmt::format(" and {} more", names.size() - 10);
  return out;
}

// "1 channel (grey)" ... for messages.
std::string channel_name(int channels) {
  static const char* const kNames[] = {"", "grey", "grey + alpha", "RGB", "RGBA"};
  return fmt::format("{} channel{} ({})", channels, channels == 1 ? "" : "s",
                     channels >= 1 && channels <= 4 ? kNames[channels] : "?");
}

}  // namespace

double ssim_image_files(const fs::path& a, const fs::path& b, std::string* note) {
  const DecodedImage da = read_image(a, ImageUse::kComparison), db = read_image(b, ImageUse::kComparison);
  if (da.pixels.size() != db.pixels.size())
    throw DataError(fmt::format("cannot compare '{}' ({}x{}) with '{}' ({}x{}): SSIM needs images of the same size",
                                a.string(), da.pixels.cols, da.pixels.rows, b.string(), db.pixels.cols,
                                db.pixels.rows));
  const int ca = da.pixels.channels(), cb = db.pixels.channels();
  const int channels = std::max(ca, cb);
  if (note != nullptr) note->clear();
  if (ca != cb) {
    // Grey against RGB has one meaning (the grey image as RGB); any other mix would compare an alpha
    // channel with a copied colour channel, so it is refused.
    if (std::min(ca, cb) != 1 || channels != 3)
      throw DataError(fmt::format("cannot compare '{}' ({}) with '{}' ({}): the channel counts differ, so SSIM would "
                                  "compare {} with a copied channel. Save both with the same channels (e.g. both RGB, "
                                  "without alpha) and compare again.",
                                  a.string(), channel_name(ca), b.string(), channel_name(cb),
                                  (ca == 2 || ca == 4 || cb == 2 || cb == 4) ? "an alpha channel" : "a channel"));
    if (note != nullptr)
      *note = fmt::format("'{}' is grey and '{}' RGB: the grey image was repeated to 3 channels (SSIM of the grey "
                          "image as RGB against the colour one)",
                          (ca == 1 ? a : b).string(), (ca == 1 ? b : a).string());
  }
  try {
    return ssim_mean(to_batch(apply_channel_rule(da.pixels, channels)),
                     to_batch(apply_channel_rule(db.pixels, channels)));
  } catch (const DataError& e) {
    throw DataError(fmt::format("'{}' vs '{}': {}", a.string(), b.string(), e.what()));
  }
}

std::vector<SsimFileScore> ssim_image_folders(const fs::path& a, const fs::path& b) {
  std::map<std::string, fs::path> files_a, files_b;
  for (const auto& p : list_image_files(a)) files_a[p.stem().string()] = p;
  for (const auto& p : list_image_files(b)) files_b[p.stem().string()] = p;
  std::vector<std::string> only_a, only_b;
  for (const auto& [name, p] : files_a)
    if (!files_b.count(name)) only_a.push_back(name);
  for (const auto& [name, p] : files_b)
    if (!files_a.count(name)) only_b.push_back(name);
  if (!only_a.empty() || !only_b.empty())
    throw DataError(fmt::format("folders '{}' and '{}' must hold the same image names; {}{}{}", a.string(),
                                b.string(),
                                only_a.empty() ? "" : fmt::format("only in the first: {}", missing_list(only_a)),
                                !only_a.empty() && !only_b.empty() ? "; " : "",
                                only_b.empty() ? "" : fmt::format("only in the second: {}", missing_list(only_b))));
  std::vector<SsimFileScore> scores;
  std::vector<std::string> problems;  // every pair that cannot be compared, not only the first
  for (const auto& [name, p] : files_a) {
    SsimFileScore score{name, 0.0, ""};
    try {
      score.ssim = ssim_image_files(p, files_b.at(name), &score.note);
    } catch (const DataError& e) {
      problems.push_back(e.what());
      continue;
    }
    scores.push_back(std::move(score));
  }
  if (!problems.empty()) {
    std::string text = fmt::format("{} of {} pairs in '{}' and '{}' cannot be compared:", problems.size(),
                                   files_a.size(), a.string(), b.string());
    constexpr size_t kShown = 10;
    for (size_t i = 0; i < problems.size() && i < kShown; ++i) text += "\n  " + problems[i];
    if (problems.size() > kShown) text += fmt::format("\n  ... and {} more", problems.size() - kShown);
    throw DataError(text);
  }
  return scores;
}

}  // namespace img2img
