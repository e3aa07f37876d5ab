#include "img2img/data/paired_dataset.h"

#include <fmt/format.h>  // fmt::format

#include <algorithm>  // std::sort, std::min
#include <atomic>     // std::atomic
#include <cmath>      // std::abs
#include <exception>  // std::exception_ptr
#include <mutex>      // std::mutex
#include <fstream>    // std::ifstream
#include <stdexcept>  // std::logic_error
#include <thread>     // std::thread

#include <unistd.h>  // sysconf

#include "img2img/config/enum_names.h"
#include "img2img/core/error.h"
#include "img2img/core/image_pairs.h"  // pair_image_files

namespace img2img {
namespace fs = std::filesystem;

void parallel_for_samples(int64_t n, int64_t threads, const std::function<void(int64_t)>& fn) {
  std::atomic<int64_t> next{0};
  std::mutex error_mutex;
  std::exception_ptr error;
  auto work = [&] {
    for (int64_t i = next++; i < n; i = next++) {
      try {
        fn(i);
      } catch (...) {
        std::lock_guard<std::mutex> lock(error_mutex);
        if (!error) error = std::current_exception();
        next = n;
      }
    }
  };
  threads = std::min<int64_t>(threads, n);
  std::vector<std::thread> pool;
  for (int64_t t = 0; t < threads; ++t) pool.emplace_back(work);
  if (threads <= 0) work();
  for (auto& t : pool) t.join();
  if (error) std::rethrow_exception(error);
}

PixelDepth deeper_depth(PixelDepth a, PixelDepth b) {
  return static_cast<int>(a) >= static_cast<int>(b) ? a : b;
}

std::vector<PairedFiles> list_paired_files(const DataSource& source, int64_t limit_count, ListingStats* stats) {
  std::vector<PairedFiles> out;
  switch (source.input_type) {
    case InputType::kSinglePaired: {
      for (const auto& p : {source.input_image, source.reference_image}) {
        std::error_code ec;
        if (!fs::is_regular_file(p, ec))
          throw DataError(fmt::format("image '{}' does not exist. Check data.input_image / data.reference_image.", p));
      }
      out.push_back({fs::path(source.input_image).stem().string(), source.input_image, source.reference_image, false});
      break;
    }
    case InputType::kCompositePaired: {
      for (const auto& f : list_image_files(source.composite_dir, stats))
        out.push_back({f.stem().string(), f, f, true});
      break;
    }
    case InputType::kMultiplePaired: {
      for (ImagePair& p : pair_image_files(source.input_dir, source.reference_dir, stats))
        out.push_back({std::move(p.name), std::move(p.input), std::move(p.reference), false});
      break;
    }
    case InputType::kMultipleUnpaired:
      throw DataError("multiple_unpaired data has no pairs; paired training needs single_paired, multiple_paired "
                      "or composite_paired.");
  }
  if (limit_count > 0 && static_cast<int64_t>(out.size()) > limit_count) out.resize(static_cast<size_t>(limit_count));
  return out;
}

std::pair<torch::Tensor, torch::Tensor> load_paired_sample(const PairedFiles& files, int64_t channel_count,
                                                           int64_t image_size, PixelDepth* input_depth,
                                                           PixelDepth* reference_depth, int* file_channels,
                                                           FileFacts* facts) {
  cv::Mat a, b;
  if (files.composite) {
    const DecodedImage img = read_image(files.input);
    if (img.pixels.cols % 2 != 0)
      throw DataError(fmt::format("composite image '{}' is {} px wide, an odd width; expected input|reference "
                                  "halves of equal width. Crop or pad it to an even width.",
                                  files.input.string(), img.pixels.cols));
    const int half = img.pixels.cols / 2;
    a = img.pixels(cv::Rect(0, 0, half, img.pixels.rows)).clone();
    b = img.pixels(cv::Rect(half, 0, half, img.pixels.rows)).clone();
    if (input_depth) *input_depth = img.depth;
    if (reference_depth) *reference_depth = img.depth;
    if (file_channels) *file_channels = img.channels;
    if (facts) facts->add(files.input, img, /*composite=*/true);
  } else {
    const DecodedImage ia = read_image(files.input);
    const DecodedImage ib = read_image(files.reference);
    a = ia.pixels, b = ib.pixels;
    if (input_depth) *input_depth = ia.depth;
    if (reference_depth) *reference_depth = ib.depth;
    if (file_channels) *file_channels = std::max(ia.channels, ib.channels);
    if (facts) facts->add(files.input, ia), facts->add(files.reference, ib);
    const double ra = static_cast<double>(a.cols) / a.rows, rb = static_cast<double>(b.cols) / b.rows;
    if (std::abs(ra - rb) > 0.01 * std::max(ra, rb))
      throw DataError(fmt::format("'{}' is {}x{} but its reference '{}' is {}x{}: a pair must show the same area "
                                  "(same aspect ratio). Crop or resize one of them.",
                                  files.input.string(), a.cols, a.rows, files.reference.string(), b.cols, b.rows));
  }
  const int c = static_cast<int>(channel_count), s = static_cast<int>(image_size);
  return {image_to_tensor(resize_square(apply_channel_rule(a, c), s)),
          image_to_tensor(resize_square(apply_channel_rule(b, c), s))};
}

void FileFacts::add(const fs::path& file, const DecodedImage& image, bool composite) {
  FileFacts one;
  const int width = composite ? image.pixels.cols / 2 : image.pixels.cols, height = image.pixels.rows;
  one.largest_side = std::max(width, height);
  one.files = 1;
  if (width > 0 && height > 0) {
    one.max_aspect = static_cast<double>(std::max(width, height)) / std::min(width, height);
    if (one.max_aspect > 1.01)
      one.non_square = 1, one.first_non_square = file, one.first_non_square_width = width,
      one.first_non_square_height = height;
  }
  // A little slack: resampling in the tool that wrote the file can overshoot by a rounding error.
  constexpr double kSlack = 1e-4;
  if (image.depth == PixelDepth::kFloat && (image.min_value < -kSlack || image.max_value > 1 + kSlack))
    one.out_of_range = 1, one.first_out_of_range = file, one.min_value = image.min_value, one.max_value = image.max_value;
  merge(one);
}

void FileFacts::merge(const FileFacts& other) {
  largest_side = std::max(largest_side, other.largest_side);
  files += other.files;
  max_aspect = std::max(max_aspect, other.max_aspect);
  if (non_square == 0 && other.non_square > 0)
    first_non_square = other.first_non_square, first_non_square_width = other.first_non_square_width,
    first_non_square_height = other.first_non_square_height;
  non_square += other.non_square;
  if (other.out_of_range == 0) return;
  if (out_of_range == 0) first_out_of_range = other.first_out_of_range, min_value = other.min_value, max_value = other.max_value;
  out_of_range += other.out_of_range;
  min_value = std::min(min_value, other.min_value), max_value = std::max(max_value, other.max_value);
}

std::vector<std::string> file_warnings(const FileFacts& facts, int64_t image_size, const std::string& files) {
  std::vector<std::string> out;
  if (facts.largest_side > 0 && image_size >= 2 * static_cast<int64_t>(facts.largest_side))
    out.push_back(fmt::format("data.image_size = {} but the largest {} is {} px: every image is enlarged {}x or "
                              "more, which adds no detail and makes each step slower. Set --data.image_size={} "
                              "to train at the images' own size",
                              image_size, files, facts.largest_side,
                              fmt::format("{:.3g}", static_cast<double>(image_size) / facts.largest_side),
                              facts.largest_side));
  if (facts.out_of_range > 0)
    out.push_back(out_of_range_files(facts) +
                  ": they are used as they are, but generated images stay within [0, 1], so the model cannot "
                  "reproduce them (the L1 loss stays large). Scale the values to [0, 1] before training, e.g. "
                  "(v - min) / (max - min)");
  if (facts.non_square > 0)
    out.push_back(fmt::format("{} of {} {}s are not square (the first: '{}', {}x{} px): each is squashed to {}x{} px, "
                              "stretching its content up to {:.3g}x in one direction, and the model learns (and "
                              "generates) the squashed shapes. Crop the images square first to keep their "
                              "proportions",
                              facts.non_square, facts.files, files, facts.first_non_square.string(),
                              facts.first_non_square_width, facts.first_non_square_height, image_size, image_size,
                              facts.max_aspect));
  return out;
}

std::string out_of_range_files(const FileFacts& facts) {
  if (facts.out_of_range == 0) return "";
  return fmt::format("float image '{}' has samples from {:.6g} to {:.6g}, outside [0, 1]{}",
                     facts.first_out_of_range.string(), facts.min_value, facts.max_value,
                     facts.out_of_range > 1 ? fmt::format(" (so do {} other float files)", facts.out_of_range - 1) : "");
}

int64_t memory_budget_bytes(double memory_budget_mb) {
  // Clamped so that the product fits int64_t even for values validation never let through.
  if (memory_budget_mb > 0)
    return static_cast<int64_t>(std::min(memory_budget_mb, kMaxMemoryBudgetMb) * 1024.0 * 1024.0);
  const long pages = ::sysconf(_SC_PHYS_PAGES), page_size = ::sysconf(_SC_PAGE_SIZE);
  int64_t memory = pages > 0 && page_size > 0 ? static_cast<int64_t>(pages) * page_size : int64_t{4} << 30;
  std::ifstream cgroup("/sys/fs/cgroup/memory.max");  // "max" or a byte count under a container limit
  int64_t limit = 0;
  if (cgroup >> limit && limit > 0) memory = std::min(memory, limit);
  return memory / 2;
}

void throw_data_problems(const std::vector<std::string>& problems, const std::string& checked) {
  if (problems.empty()) return;
  std::string text = fmt::format("{} file problem(s) in the data set ({} checked); nothing was trained. Fix or "
                                 "remove these files:",
                                 problems.size(), checked);
  for (size_t i = 0; i < problems.size() && i < kMaxListedDataProblems; ++i) text += "\n  " + problems[i];
  if (problems.size() > kMaxListedDataProblems)
    text += fmt::format("\n  ... and {} more", problems.size() - kMaxListedDataProblems);
  throw DataError(text);
}

PairedDataset::PairedDataset(const DataSource& source, int64_t channel_count, int64_t image_size,
                             int64_t limit_count)
    : files_(list_paired_files(source, limit_count, &stats_)),
      channel_count_(channel_count),
      image_size_(image_size),
      worker_threads_(source.worker_threads) {
  const int64_t n = size();
  decoded_bytes_ = 2 * n * channel_count * image_size * image_size * static_cast<int64_t>(sizeof(float));
  on_device_ = source.storage == Storage::kDevice;
  budget_bytes_ = on_device_ ? 0 : memory_budget_bytes(source.memory_budget_mb);
  streamed_ = !on_device_ && decoded_bytes_ > budget_bytes_;
  if (!streamed_) {
    inputs_ = torch::empty({n, channel_count, image_size, image_size}, torch::kFloat32);
    references_ = torch::empty_like(inputs_);
  }
  std::vector<PixelDepth> in_depth(static_cast<size_t>(n)), ref_depth(static_cast<size_t>(n));
  std::vector<int> channels(static_cast<size_t>(n), 0);
  std::vector<FileFacts> facts(static_cast<size_t>(n));
  // Every sample is checked, so one run names every bad file (per sample, in name order).
  std::vector<std::vector<std::string>> problems(static_cast<size_t>(n));
  parallel_for_samples(n, source.worker_threads, [&](int64_t i) {
    const PairedFiles& f = files_[static_cast<size_t>(i)];
    try {
      auto [a, b] = load_paired_sample(f, channel_count, image_size, &in_depth[i], &ref_depth[i],
                                        &channels[static_cast<size_t>(i)], &facts[static_cast<size_t>(i)]);
      if (streamed_) return;  // checked and depth known; decoded again per batch
      inputs_[i].copy_(a);
      references_[i].copy_(b);
    } catch (const DataError& e) {
      auto& p = problems[static_cast<size_t>(i)];
      p.push_back(e.what());
      if (f.composite) return;
      try {  // an unreadable input stops load_paired_sample before its reference is read
        read_image(f.reference);
      } catch (const DataError& r) {
        if (p.front() != r.what()) p.push_back(r.what());
      }
    }
  });
  std::vector<std::string> all;
  for (const auto& p : problems) all.insert(all.end(), p.begin(), p.end());
  throw_data_problems(all, fmt::format("{} pair(s)", n));
  for (int64_t i = 0; i < n; ++i) {
    input_depth_ = deeper_depth(input_depth_, in_depth[i]);
    reference_depth_ = deeper_depth(reference_depth_, ref_depth[i]);
    max_file_channels_ = std::max<int64_t>(max_file_channels_, channels[static_cast<size_t>(i)]);
    facts_.merge(facts[static_cast<size_t>(i)]);
  }
}

std::pair<torch::Tensor, torch::Tensor> PairedDataset::sample(int64_t i) const {
  if (!streamed_) return {inputs_[i], references_[i]};
  return load_paired_sample(files_.at(static_cast<size_t>(i)), channel_count_, image_size_);
}

namespace {
// MiB for a log line: three significant digits below 100 MiB (0.01, 0.0586, 1, 12.5), whole MiB above.
std::string format_mib(int64_t bytes) {
  const double mib = static_cast<double>(bytes) / (1024.0 * 1024.0);
  return mib >= 100.0 ? fmt::format("{:.0f}", mib) : fmt::format("{:.3g}", mib);
}
}  // namespace

std::string describe_storage(const std::string& mode, int64_t decoded_bytes, int64_t budget_bytes,
                             int64_t worker_threads, const std::string& budget_key) {
  if (mode == "device") return fmt::format("device (all {} MiB on the training device)", format_mib(decoded_bytes));
  if (mode == "streamed")
    return fmt::format("streamed from disk with {} worker thread(s) ({} MiB decoded exceeds the memory budget of {} "
                       "MiB, {})",
                       worker_threads, format_mib(decoded_bytes), format_mib(budget_bytes), budget_key);
  return fmt::format("cached in host memory ({} MiB of the {} MiB memory budget)", format_mib(decoded_bytes),
                     format_mib(budget_bytes));
}

std::string batch_size_warning(int64_t batch_size, int64_t samples, const std::string& what) {
  if (batch_size <= samples) return "";
  return fmt::format("data.batch_size = {} is more than the {} {}: each step uses all {} (one step per "
                     "iteration, a batch of {}, not {}). Set --data.batch_size={} or lower, or add more data.",
                     batch_size, samples, what, samples, samples, batch_size, samples);
}

std::string PairedDataset::storage_mode() const { return on_device_ ? "device" : streamed_ ? "streamed" : "cached"; }

void PairedDataset::to(const torch::Device& device) {
  if (streamed_) return;  // streamed batches are moved by the trainer
  inputs_ = inputs_.to(device);
  references_ = references_.to(device);
}

PairedLoader::PairedLoader(const PairedDataset& dataset) : dataset_(dataset) {
  if (dataset.streamed())
    prefetcher_ = std::make_unique<BatchPrefetcher>(
        [&dataset](int64_t i) {
          auto [a, b] = dataset.sample(i);
          return std::vector<torch::Tensor>{a, b};
        },
        dataset.worker_threads(), std::max<int64_t>(2, dataset.worker_threads()));
}

void PairedLoader::start(const std::vector<int64_t>& order, int64_t batch_size) {
  order_ = order, batch_size_ = std::max<int64_t>(1, batch_size), position_ = 0;
  if (!prefetcher_) return;
  std::vector<std::vector<int64_t>> batches;
  for (size_t begin = 0; begin < order.size(); begin += static_cast<size_t>(batch_size_))
    batches.emplace_back(order.begin() + static_cast<std::ptrdiff_t>(begin),
                         order.begin() + static_cast<std::ptrdiff_t>(
                                             std::min(order.size(), begin + static_cast<size_t>(batch_size_))));
  prefetcher_->start(std::move(batches));
}

std::pair<torch::Tensor, torch::Tensor> PairedLoader::next() {
  const int64_t n = static_cast<int64_t>(order_.size());
  if (position_ >= n) throw std::logic_error("PairedLoader::next: past the end of the pass");
  const int64_t end = std::min(n, position_ + batch_size_);
  if (prefetcher_) {
    position_ = end;
    std::vector<torch::Tensor> b = prefetcher_->next();
    return {b[0], b[1]};
  }
  const torch::Tensor idx = torch::from_blob(order_.data() + position_, {end - position_}, torch::kInt64)
                                .clone()
                                .to(dataset_.inputs().device());
  position_ = end;
  return {dataset_.inputs().index_select(0, idx), dataset_.references().index_select(0, idx)};
}

}  // namespace img2img
