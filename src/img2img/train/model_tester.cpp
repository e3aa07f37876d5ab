#include "img2img/train/model_tester.h"

#include <fmt/format.h>                     // fmt::format
#include <torch/csrc/autograd/grad_mode.h>  // torch::NoGradGuard

#include <algorithm>  // std::shuffle, std::sort
#include <chrono>     // std::chrono
#include <numeric>    // std::iota
#include <random>     // std::mt19937_64, std::seed_seq

#include "img2img/core/path_template.h"
#include "img2img/data/image_io.h"
#include "img2img/metrics/ssim.h"

namespace img2img {
namespace fs = std::filesystem;

namespace {
const char* extension_for(PixelDepth depth) { return depth == PixelDepth::kFloat ? ".tif" : ".png"; }

template <typename Dataset>
std::string storage_line(const Dataset& d) {
  return "test data storage: " + describe_storage(d.storage_mode(), d.decoded_bytes(), d.budget_bytes(),
                                                  d.worker_threads(), "test.memory_budget_mb");
}

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

// Positions (into `tested`, sorted) of the test.image_count samples whose images are written: drawn
// once per run like the tested samples, with stream + 2.
std::vector<bool> written_positions(size_t tested, int64_t image_count, int64_t seed, uint32_t stream) {
  std::vector<bool> write(tested, false);
  if (image_count <= 0) return write;
  for (int64_t p : draw_test_samples(static_cast<int64_t>(tested), image_count, seed, stream + 2))
    write[static_cast<size_t>(p)] = true;
  return write;
}

// The side-by-side image of a sample for a person to look at: [C, S, 3S] (left to right).
torch::Tensor side_by_side(const torch::Tensor& a, const torch::Tensor& b, const torch::Tensor& c) {
  return torch::cat({a, b, c}, /*dim=*/2);
}

// Eval mode for a test, train mode again when it ends (also when it throws).
struct EvalScope {
  explicit EvalScope(GanModel& m) : model(m) { set_train_mode(model, false); }
  ~EvalScope() { set_train_mode(model, true); }
  GanModel& model;
};
}  // namespace

std::vector<int64_t> draw_test_samples(int64_t n, int64_t size, int64_t seed, uint32_t stream) {
  std::vector<int64_t> all(static_cast<size_t>(n));
  std::iota(all.begin(), all.end(), 0);
  if (size <= 0 || size >= n) return all;
  std::seed_seq seq{static_cast<uint32_t>(seed), static_cast<uint32_t>(static_cast<uint64_t>(seed) >> 32),
                    0x7e575eedu + stream};
  std::mt19937_64 rng(seq);
  std::shuffle(all.begin(), all.end(), rng);
  all.resize(static_cast<size_t>(size));
  std::sort(all.begin(), all.end());
  return all;
}

PairedModelTest::PairedModelTest(const TestConfig& test, const DataConfig& data, int64_t seed,
                                 const torch::Device& device)
    : HeldOutTest(test, seed, device),
      dataset_(test, data.channel_count, data.image_size, /*limit_count=*/0),
      loader_(dataset_) {
  if (test.storage == Storage::kDevice) dataset_.to(device);
}

std::vector<std::string> PairedModelTest::describe() const {
  return {storage_line(dataset_),
          fmt::format("test data: {} pairs; testing {} every {} iteration(s){}", dataset_.size(),
                      test_.size > 0 && test_.size < dataset_.size()
                          ? fmt::format("{} random samples (the same every test)", test_.size)
                          : "all",
                      test_.frequency,
                      test_.target_ssim > 0 ? fmt::format(", stopping once SSIM >= {}", test_.target_ssim) : "")};
}

TestResult PairedModelTest::run(GanModel& model, int64_t iteration, RunWriter* writer,
                                const std::function<bool()>& stop) {
  const auto t0 = std::chrono::steady_clock::now();
  TestResult result;
  result.iteration = iteration;
  const std::vector<int64_t> samples = draw_test_samples(dataset_.size(), test_.size, seed_);
  const bool write = writer != nullptr && writer->writes_test_images();
  const std::vector<bool> written = written_positions(samples.size(), write ? test_.image_count : 0, seed_, 0);
  UnetGenerator generator = model.exported_generators().at(0);
  EvalScope eval(model);
  torch::NoGradGuard no_grad;
  double ssim_sum = 0;
  const int64_t batch = std::max<int64_t>(1, test_.batch_size);
  loader_.start(samples, batch);
  for (size_t begin = 0; begin < samples.size(); begin += static_cast<size_t>(batch)) {
    const size_t end = std::min(samples.size(), begin + static_cast<size_t>(batch));
    const auto [loaded_input, loaded_reference] = loader_.next();
    const torch::Tensor input = loaded_input.to(device_);          // [B, C, S, S]
    const torch::Tensor reference = loaded_reference.to(device_);  // [B, C, S, S]
    const torch::Tensor generated = generator(input);              // [B, C, S, S]
    ssim_sum += ssim(signed_to_unit(generated), signed_to_unit(reference)).sum().item<double>();
    result.samples += static_cast<int64_t>(end - begin);
    for (size_t i = begin; i < end; ++i) {
      if (!written[i]) continue;
      const PairedFiles& files = dataset_.files(samples[i]);
      const auto j = static_cast<int64_t>(i - begin);
      const std::pair<const char*, std::pair<torch::Tensor, PixelDepth>> images[] = {
          {"input", {input[j], dataset_.input_depth()}},
          {"generated", {generated[j], dataset_.reference_depth()}},
          {"reference", {reference[j], dataset_.reference_depth()}},
          {"side_by_side", {side_by_side(input[j], generated[j], reference[j]), PixelDepth::k8}}};
      for (const auto& [role, image] : images) {
        const std::string name =
            fmt::format("{}_{}_{}{}", format_iteration(iteration), files.name, role, extension_for(image.second));
        result.files.push_back(
            {writer->write_test_image(iteration, name, image.first, image.second, role, samples[i]), role, samples[i]});
      }
    }
    if (stop && stop() && end < samples.size()) {
      result.stopped = true;
      break;
    }
  }
  result.ssim = ssim_sum / std::max<double>(1.0, static_cast<double>(result.samples));
  result.seconds = seconds_since(t0);
  return result;
}

CycleModelTest::CycleModelTest(const TestConfig& test, const DataConfig& data, int64_t seed,
                               const torch::Device& device)
    : HeldOutTest(test, seed, device), dataset_(test, data.channel_count, data.image_size, 0) {}

std::vector<std::string> CycleModelTest::describe() const {
  const int64_t na = dataset_.domain_a().size(), nb = dataset_.domain_b().size();
  const bool all = test_.size <= 0 || (test_.size >= na && test_.size >= nb);
  return {storage_line(dataset_),
          fmt::format("test data (unpaired): domain A {} images, domain B {} images; testing {} every {} iteration(s): "
                      "the cycle SSIM, each test image translated to the other domain and back, compared with itself "
                      "(cycle reconstruction; unpaired data has no reference){}",
                      na, nb,
                      all ? "all images" : fmt::format("up to {} random images per domain (the same every test)",
                                                       test_.size),
                      test_.frequency,
                      test_.target_ssim > 0 ? fmt::format(", stopping once cycle SSIM >= {}", test_.target_ssim) : "")};
}

TestResult CycleModelTest::run(GanModel& model, int64_t iteration, RunWriter* writer,
                               const std::function<bool()>& stop) {
  static const char* const kDomain[2] = {"A", "B"};
  const auto t0 = std::chrono::steady_clock::now();
  TestResult result;
  result.iteration = iteration;
  const bool write = writer != nullptr && writer->writes_test_images();
  std::vector<UnetGenerator> generators = model.exported_generators();
  EvalScope eval(model);
  torch::NoGradGuard no_grad;
  double ssim_sum = 0;
  const ImageDomain* domains[2] = {&dataset_.domain_a(), &dataset_.domain_b()};
  const int64_t batch = std::max<int64_t>(1, test_.batch_size);
  // test.size random images of each domain (all when 0), drawn once per (train.seed, domain) like
  // the paired test's, so every test and a --resume continuation test the same images.
  std::vector<int64_t> tested[2];
  std::vector<bool> written[2];
  // One loader pass: domain A's test batches, then B's (streamed test data is decoded ahead).
  std::vector<UnpairedBatch> batches;
  for (int k = 0; k < 2; ++k) {
    tested[k] = draw_test_samples(domains[k]->size(), test_.size, seed_, static_cast<uint32_t>(k));
    written[k] = written_positions(tested[k].size(), write ? test_.image_count : 0, seed_, static_cast<uint32_t>(k));
    const auto n = static_cast<int64_t>(tested[k].size());
    for (int64_t begin = 0; begin < n; begin += batch) {
      UnpairedBatch b;
      std::vector<int64_t>& indices = k == 0 ? b.a : b.b;
      for (int64_t j = begin; j < std::min(n, begin + batch); ++j) indices.push_back(tested[k][static_cast<size_t>(j)]);
      batches.push_back(std::move(b));
    }
  }
  UnpairedLoader loader(dataset_);
  loader.start(batches);
  for (int k = 0; k < 2 && !result.stopped; ++k) {
    const ImageDomain& d = *domains[k];
    const auto n = static_cast<int64_t>(tested[k].size());
    for (int64_t begin = 0; begin < n; begin += batch) {
      const int64_t end = std::min(n, begin + batch);
      const auto [loaded_a, loaded_b] = loader.next();
      const torch::Tensor input = (k == 0 ? loaded_a : loaded_b).to(device_);   // [B, C, S, S]
      const torch::Tensor translated = generators[k](input);                     // other domain
      const torch::Tensor reconstructed = generators[1 - k](translated);         // back
      ssim_sum += ssim(signed_to_unit(reconstructed), signed_to_unit(input)).sum().item<double>();
      result.samples += end - begin;
      const PixelDepth depth_in = d.depth, depth_out = domains[1 - k]->depth;
      for (int64_t j = begin; j < end; ++j) {
        if (!written[k][static_cast<size_t>(j)]) continue;
        const int64_t i = tested[k][static_cast<size_t>(j)];  // index in the domain (sorted by name)
        const int64_t sample = k == 0 ? i : domains[0]->size() + i;
        const std::pair<const char*, std::pair<torch::Tensor, PixelDepth>> images[] = {
            {"input", {input[j - begin], depth_in}},
            {"translated", {translated[j - begin], depth_out}},
            {"reconstructed", {reconstructed[j - begin], depth_in}},
            {"side_by_side",
             {side_by_side(input[j - begin], translated[j - begin], reconstructed[j - begin]), PixelDepth::k8}}};
        for (const auto& [role, image] : images) {
          const std::string name = fmt::format("{}_{}_{}_{}{}", format_iteration(iteration), kDomain[k],
                                               d.files[static_cast<size_t>(i)].stem().string(), role,
                                               extension_for(image.second));
          result.files.push_back(
              {writer->write_test_image(iteration, name, image.first, image.second, role, sample), role, sample});
        }
      }
      const bool more = end < n || (k == 0 && !tested[1].empty());
      if (stop && stop() && more) {
        result.stopped = true;
        break;
      }
    }
  }
  result.ssim = ssim_sum / std::max<double>(1.0, static_cast<double>(result.samples));
  result.seconds = seconds_since(t0);
  return result;
}

}  // namespace img2img
