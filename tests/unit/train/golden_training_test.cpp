// Golden results of two tiny fixed-seed training runs, kept as a permanent regression test.
//
// What it guards: the paired (pix2pix) and unpaired (CycleGAN) training loops are being merged into
// one loop; that refactor (and any later change that is meant to leave training alone) must give
// the same trained weights bit for bit. Each test trains 2 iterations on tiny images it writes from
// an integer formula, through the public entry points only (train_pix2pix / train_cycle_gan), reads
// the final checkpoints listed in TrainSummary::checkpoints as PyTorch state dicts, and compares every
// parameter and buffer of every network with tests/golden/training/<run>_<network>_<index>.pt.
// Recorded at commit b229a9e (tests/golden/training/recorded_with.json names the commit and kernel).
//
// Configuration: tests/golden/training/{paired,unpaired}.toml set every key of config_keys(), so
// a changed default cannot move the result; the test overrides only the data and run folder paths.
//
// Tolerance: max |trained - golden| <= 1e-6 per tensor (identical code on the same kernel gives 0).
// Results legitimately differ across SIMD kernels, so a golden is compared only on the kernel it was
// recorded with: ATen's CPU capability (and oneDNN's ISA, which runs the convolutions and the GEMM
// path of models/fast_conv); on another kernel the tests are skipped, naming both.
//
// Re-record (only when a change of the training result is intended, on the reference machine):
//   IMG2IMG_RECORD_GOLDEN=1 build/tests/img2img_tests --gtest_filter='GoldenTraining*'
// writes the .pt files and recorded_with.json into the source tree; commit them with a message
// saying why the result changed.

#include <gtest/gtest.h>

#include <ATen/Version.h>  // at::show_config
#include <dlfcn.h>         // dlsym: oneDNN's ISA query without linking oneDNN
#include <fmt/format.h>
#include <fmt/ranges.h>  // fmt::join
#include <nlohmann/json.hpp>
#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>  // cv::imwrite
#include <torch/serialize.h>      // torch::pickle_save, torch::pickle_load
#include <torch/torch.h>
#include <torch/version.h>  // TORCH_VERSION

#include <algorithm>  // std::max
#include <cctype>     // std::isspace
#include <cstdio>     // std::printf
#include <cstdlib>    // std::getenv
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "img2img/config/config_keys.h"
#include "img2img/config/validate.h"
#include "img2img/models/factory.h"
#include "img2img/train/trainer.h"
#include "support/test_support.h"

namespace img2img {
namespace {
namespace fs = std::filesystem;
using test::TempDirTest;

constexpr double kTolerance = 1e-6;          // max |trained - golden| per tensor
constexpr double kMinTrainingChange = 1e-4;  // some tensor of every network must move this far from its init
constexpr int kImageSide = 32;               // px, = data.image_size in the TOML files
const char* const kSetByTest = "set-by-test";  // the TOML value of every key the test overrides

// The only keys the test replaces (paths into its temporary folder); each is "set-by-test" in the TOML.
const std::set<std::string> kPathKeys{"data.input_dir", "data.reference_dir", "test.input_dir",
                                      "test.reference_dir", "output.run_dir"};

fs::path golden_dir() { return fs::path(IMG2IMG_SOURCE_DIR) / "tests" / "golden" / "training"; }

bool record_mode() {
  const char* v = std::getenv("IMG2IMG_RECORD_GOLDEN");
  return v != nullptr && std::string(v) == "1";
}

std::string read_bytes(const fs::path& file) {
  std::ifstream in(file, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

void write_bytes(const fs::path& file, const std::string& bytes) {
  std::ofstream out(file, std::ios::binary | std::ios::trunc);
  out << bytes;
  ASSERT_TRUE(out.good()) << "cannot write " << file;
}

// ---- the kernel a result was computed with ----

// "AVX2" from at::show_config()'s "CPU capability usage: AVX2" (at::native::get_cpu_capability is not
// exported by libtorch 1.13; show_config reports the capability in use, ATEN_CPU_CAPABILITY included).
std::string aten_cpu_capability() {
  const std::string config = at::show_config();
  const std::string tag = "CPU capability usage: ";
  const size_t at = config.find(tag);
  if (at == std::string::npos) return "unknown";
  const size_t begin = at + tag.size();
  return config.substr(begin, config.find('\n', begin) - begin);
}

// oneDNN's effective ISA (dnnl_get_effective_cpu_isa, oneDNN 2.x numbering) and version, looked up in
// the loaded libdnnl (libtorch's dependency); "none" when the process has no oneDNN.
std::string onednn_isa() {
  using IsaFn = int (*)();
  auto fn = reinterpret_cast<IsaFn>(dlsym(RTLD_DEFAULT, "dnnl_get_effective_cpu_isa"));
  if (fn == nullptr) return "none";
  const int isa = fn();
  static const std::map<int, std::string> names{
      {0x1, "sse41"},           {0x3, "avx"},
      {0x7, "avx2"},            {0x407, "avx2_vnni"},
      {0xf, "avx512_mic"},      {0x1f, "avx512_mic_4ops"},
      {0x27, "avx512_core"},    {0x67, "avx512_core_vnni"},
      {0xe7, "avx512_core_bf16"}, {0x3e7, "avx512_core_amx"}};
  const auto it = names.find(isa);
  return it != names.end() ? it->second : fmt::format("0x{:x}", isa);
}

std::string onednn_version() {
  struct Version {  // dnnl_version_t
    int major, minor, patch;
    const char* hash;
  };
  using VersionFn = const Version* (*)();
  auto fn = reinterpret_cast<VersionFn>(dlsym(RTLD_DEFAULT, "dnnl_version"));
  if (fn == nullptr) return "none";
  const Version* v = fn();
  return fmt::format("{}.{}.{}", v->major, v->minor, v->patch);
}

std::string cpu_model() {
  std::ifstream in("/proc/cpuinfo");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("model name", 0) == 0) {
      const size_t colon = line.find(':');
      return colon == std::string::npos ? line : line.substr(line.find_first_not_of(' ', colon + 1));
    }
  }
  return "unknown";
}

nlohmann::json current_kernel(int64_t cpu_threads) {
  return {{"aten_cpu_capability", aten_cpu_capability()},
          {"onednn_cpu_isa", onednn_isa()},
          {"onednn_version", onednn_version()},
          {"cpu_model", cpu_model()},
          {"torch_version", TORCH_VERSION},
          {"cpu_threads", cpu_threads}};
}

std::string describe(const nlohmann::json& k) {
  return fmt::format("ATen {}, oneDNN {} ({}), torch {}, {} thread(s), CPU '{}'",
                     k.value("aten_cpu_capability", "?"), k.value("onednn_cpu_isa", "?"),
                     k.value("onednn_version", "?"), k.value("torch_version", "?"), k.value("cpu_threads", -1),
                     k.value("cpu_model", "?"));
}

// The commit the golden files are recorded at, and the files under src/ that differ from it then.
nlohmann::json source_state() {
  std::string head, changes;
  const std::string git = fmt::format("git -C '{}' ", IMG2IMG_SOURCE_DIR);
  if (test::run_command(git + "rev-parse HEAD 2>/dev/null", &head) != 0) head = "unknown";
  while (!head.empty() && std::isspace(static_cast<unsigned char>(head.back()))) head.pop_back();
  nlohmann::json changed = nlohmann::json::array();
  if (test::run_command(git + "status --porcelain -- src CMakeLists.txt 2>/dev/null", &changes) == 0) {
    std::istringstream lines(changes);
    std::string line;
    while (std::getline(lines, line))
      if (!line.empty()) changed.push_back(line);
  }
  return {{"commit", head}, {"uncommitted_source_changes", changed}};
}

// ---- data: integer formulas only (no RNG whose algorithm could change), 8-bit RGB PNG (lossless) ----

// Smooth-ish 8-bit pattern number `index` of family `family`; every channel different.
cv::Mat pattern(int index, int family) {
  cv::Mat m(kImageSide, kImageSide, CV_8UC3);
  for (int y = 0; y < kImageSide; ++y)
    for (int x = 0; x < kImageSide; ++x)
      for (int c = 0; c < 3; ++c) {
        const int v = x * (3 + index + c) + y * (5 + 2 * c + family) + 29 * index * (c + 1) + 71 * family +
                      ((x * y + 7 * index) % 13) * 4;
        const int tri = v % 510;                       // triangle wave: no jump from 255 to 0
        m.at<cv::Vec3b>(y, x)[c] = static_cast<uint8_t>(tri < 256 ? tri : 509 - tri);
      }
  return m;
}

void write_png(const fs::path& file, const cv::Mat& m) {
  fs::create_directories(file.parent_path());
  ASSERT_TRUE(cv::imwrite(file.string(), m)) << file;
}

// Paired: the reference is the input inverted with its first and last channel swapped.
void write_pairs(const fs::path& in_dir, const fs::path& ref_dir, int count, int first) {
  for (int i = 0; i < count; ++i) {
    const cv::Mat in = pattern(first + i, 0);
    cv::Mat ref(in.size(), CV_8UC3);
    for (int y = 0; y < kImageSide; ++y)
      for (int x = 0; x < kImageSide; ++x)
        for (int c = 0; c < 3; ++c) ref.at<cv::Vec3b>(y, x)[c] = 255 - in.at<cv::Vec3b>(y, x)[2 - c];
    const std::string name = fmt::format("p{:02d}.png", first + i);
    write_png(in_dir / name, in);
    write_png(ref_dir / name, ref);
  }
}

// Unpaired: domain A dark patterns of family 1, domain B light patterns of family 2.
void write_domain(const fs::path& dir, int count, int first, bool light) {
  for (int i = 0; i < count; ++i) {
    cv::Mat m = pattern(first + i, light ? 2 : 1);
    for (auto it = m.begin<cv::Vec3b>(); it != m.end<cv::Vec3b>(); ++it)
      for (int c = 0; c < 3; ++c) (*it)[c] = static_cast<uint8_t>((light ? 165 : 0) + (*it)[c] * 90 / 255);
    write_png(dir / fmt::format("{}{:02d}.png", light ? 'b' : 'a', first + i), m);
  }
}

// ---- state dicts ----

using StateDict = std::map<std::string, torch::Tensor>;

// A PyTorch zip-pickle state dict (what checkpoints hold and torch.load reads).
StateDict read_state_dict(const fs::path& file) {
  const std::string bytes = read_bytes(file);
  const c10::IValue value = torch::pickle_load(std::vector<char>(bytes.begin(), bytes.end()));
  TORCH_CHECK(value.isGenericDict(), file.string(), ": expected a pickled dict of tensors");
  StateDict out;
  for (const auto& item : value.toGenericDict()) out[item.key().toStringRef()] = item.value().toTensor();
  return out;
}

void write_state_dict(const fs::path& file, const StateDict& dict) {
  c10::Dict<std::string, torch::Tensor> d;
  for (const auto& [name, t] : dict) d.insert(name, t.detach().to(torch::kCPU).contiguous());
  const std::vector<char> bytes = torch::pickle_save(c10::IValue(d));
  write_bytes(file, std::string(bytes.begin(), bytes.end()));
}

StateDict state_of(const torch::nn::Module& m) {
  StateDict out;
  for (const auto& p : m.named_parameters()) out[p.key()] = p.value();
  for (const auto& b : m.named_buffers()) out[b.key()] = b.value();
  return out;
}

double max_abs_diff(const torch::Tensor& a, const torch::Tensor& b) {
  if (a.numel() == 0) return 0.0;
  return (a.to(torch::kDouble) - b.to(torch::kDouble)).abs().max().item<double>();
}

// Freshly initialised networks, built in the trainers' order after torch::manual_seed(train.seed)
// (Pix2PixModel: G, D, init G, init D; CycleGanModel: G0, G1, D0, D1, each initialised when built).
// Only used to show that training moved the weights, so an exact match of the order is not required.
std::map<std::string, StateDict> fresh_networks(const RunConfig& c, bool unpaired) {
  torch::manual_seed(static_cast<uint64_t>(c.train.seed));
  std::map<std::string, StateDict> out;
  if (!unpaired) {
    UnetGenerator g(generator_options(c));
    PatchDiscriminator d(discriminator_options(c));
    init_weights(*g, c.train.init, c.train.init_gain);
    init_weights(*d, c.train.init, c.train.init_gain);
    out["generator_0"] = state_of(*g), out["discriminator_0"] = state_of(*d);
    return out;
  }
  for (int i = 0; i < 2; ++i) {
    UnetGenerator g(generator_options(c));
    init_weights(*g, c.train.init, c.train.init_gain);
    out[fmt::format("generator_{}", i)] = state_of(*g);
  }
  for (int i = 0; i < 2; ++i) {
    PatchDiscriminator d(discriminator_options(c));
    init_weights(*d, c.train.init, c.train.init_gain);
    out[fmt::format("discriminator_{}", i)] = state_of(*d);
  }
  return out;
}

class GoldenTrainingTest : public TempDirTest {
 protected:
  // The stored configuration of `run` with only the path keys pointed into dir_; validated.
  RunConfig load_config(const std::string& run) {
    const fs::path toml = golden_dir() / (run + ".toml");
    std::vector<ConfigAssignment> assignments = read_config_file(toml.string());
    std::set<std::string> given;
    for (const auto& a : assignments) {
      given.insert(a.key);
      EXPECT_EQ(kPathKeys.count(a.key) == 1, a.value == kSetByTest)
          << toml << ": " << a.key << " = '" << a.value << "': exactly the keys the test overrides ("
          << fmt::format("{}", fmt::join(kPathKeys, ", ")) << ") hold \"" << kSetByTest << "\"";
    }
    for (const auto& k : config_keys())
      EXPECT_EQ(given.count(k.name), 1u) << toml << " does not set " << k.name << " (current value "
                                         << k.get(RunConfig{}) << "): every key must be explicit so that a "
                                         << "changed default cannot move the golden result";
    EXPECT_EQ(assignments.size(), config_keys().size()) << toml;
    const fs::path data = dir_ / "data";
    const std::map<std::string, fs::path> paths{{"data.input_dir", data / "train" / "in"},
                                                {"data.reference_dir", data / "train" / "ref"},
                                                {"test.input_dir", data / "test" / "in"},
                                                {"test.reference_dir", data / "test" / "ref"},
                                                {"output.run_dir", dir_ / "run"}};
    for (const auto& [key, path] : paths) {
      EXPECT_EQ(kPathKeys.count(key), 1u) << key << " is not a path key";
      assignments.push_back({key, path.string(), "golden_training_test"});
    }
    return apply_config(assignments);
  }

  // Trains `run` ("paired" | "unpaired") and compares (or, in record mode, records) its final weights.
  void check_run(const std::string& run) {
    const bool unpaired = run == "unpaired";
    const bool record = record_mode();
    const fs::path recorded_with = golden_dir() / "recorded_with.json";
    RunConfig config = load_config(run);
    ASSERT_FALSE(HasFailure()) << "the stored configuration " << run << ".toml is incomplete";
    ASSERT_EQ(is_unpaired(config.data.input_type), unpaired);
    const nlohmann::json now = current_kernel(config.device.cpu_threads);
    nlohmann::json recorded;
    if (!record) {
      ASSERT_TRUE(fs::exists(recorded_with))
          << recorded_with << " is missing: record the golden files with IMG2IMG_RECORD_GOLDEN=1";
      recorded = nlohmann::json::parse(read_bytes(recorded_with));
      if (recorded.value("aten_cpu_capability", "") != now["aten_cpu_capability"] ||
          recorded.value("onednn_cpu_isa", "") != now["onednn_cpu_isa"]) {
        GTEST_SKIP() << "golden training results were recorded with " << describe(recorded) << "; this machine "
                     << "runs " << describe(now) << ". Results legitimately differ across SIMD kernels, so "
                     << "they are compared only on the recorded ATen CPU capability and oneDNN ISA.";
      }
    }

    // Data written by formula: paired 6 training + 2 test pairs; unpaired A 4 / B 3 training images
    // (the smaller domain is drawn at random), 2 + 2 test images.
    const fs::path data = dir_ / "data";
    if (!unpaired) {
      write_pairs(data / "train" / "in", data / "train" / "ref", 6, 0);
      write_pairs(data / "test" / "in", data / "test" / "ref", 2, 6);
    } else {
      write_domain(data / "train" / "in", 4, 0, false);
      write_domain(data / "train" / "ref", 3, 0, true);
      write_domain(data / "test" / "in", 2, 4, false);
      write_domain(data / "test" / "ref", 2, 3, true);
    }
    ASSERT_FALSE(HasFailure());
    validate_config(config);

    TrainOptions options;
    options.interactive = 0;  // plain progress lines
    const TrainSummary summary = unpaired ? train_cycle_gan(config, options) : train_pix2pix(config, options);
    ASSERT_EQ(summary.iterations, config.train.max_iterations);

    // The final checkpoint of every network: "generator_0_000002.pt" -> "generator_0" (the last wins).
    std::map<std::string, fs::path> final_files;
    for (const auto& file : summary.checkpoints) {
      const std::string stem = file.stem().string();
      final_files[stem.substr(0, stem.rfind('_'))] = file;
    }
    const std::vector<std::string> networks =
        unpaired ? std::vector<std::string>{"discriminator_0", "discriminator_1", "generator_0", "generator_1"}
                 : std::vector<std::string>{"discriminator_0", "generator_0"};
    std::vector<std::string> got;
    for (const auto& [name, file] : final_files) got.push_back(name);
    ASSERT_EQ(got, networks) << "networks in TrainSummary::checkpoints";

    // Not vacuous: every network holds all its tensors, and training moved it away from its init.
    const auto fresh = fresh_networks(config, unpaired);
    std::map<std::string, StateDict> trained;
    for (const auto& name : networks) {
      trained[name] = read_state_dict(final_files[name]);
      const StateDict& init = fresh.at(name);
      ASSERT_EQ(trained[name].size(), init.size()) << run << " " << name << ": tensors in the checkpoint";
      double moved = 0;
      int changed = 0;
      for (const auto& [tensor, value] : trained[name]) {
        ASSERT_EQ(init.count(tensor), 1u) << run << " " << name << ": unexpected tensor '" << tensor << "'";
        // Parameters only: batch-norm running statistics and step counters move without any optimiser step.
        if (!value.is_floating_point() || tensor.find("running_") != std::string::npos) continue;
        const double d = max_abs_diff(value, init.at(tensor));
        moved = std::max(moved, d);
        changed += d > kMinTrainingChange;
      }
      EXPECT_GT(moved, kMinTrainingChange) << run << " " << name << ": no parameter moved from its initial value";
      std::printf("%s %s: %zu tensors, %d parameters moved > %g from init (max %.3g)\n", run.c_str(), name.c_str(),
                  trained[name].size(), changed, kMinTrainingChange, moved);
    }

    if (record) {
      for (const auto& name : networks) write_state_dict(golden_dir() / (run + "_" + name + ".pt"), trained[name]);
      nlohmann::json j = now;
      j.update(source_state());
      j["tolerance"] = kTolerance;
      j["note"] = "written by IMG2IMG_RECORD_GOLDEN=1 build/tests/img2img_tests --gtest_filter='GoldenTraining*'";
      write_bytes(recorded_with, j.dump(2) + "\n");
      std::printf("recorded %s golden weights with %s\n", run.c_str(), describe(now).c_str());
      return;
    }

    size_t compared = 0, identical = 0;
    double worst = 0;
    for (const auto& name : networks) {
      const fs::path golden_file = golden_dir() / (run + "_" + name + ".pt");
      ASSERT_TRUE(fs::exists(golden_file)) << golden_file << " is missing: record with IMG2IMG_RECORD_GOLDEN=1";
      const StateDict golden = read_state_dict(golden_file);
      const StateDict& now_dict = trained[name];
      EXPECT_EQ(golden.size(), now_dict.size()) << run << " " << name << ": number of tensors";
      for (const auto& [tensor, expected] : golden) {
        const auto it = now_dict.find(tensor);
        if (it == now_dict.end()) {
          ADD_FAILURE() << run << " " << name << ": tensor '" << tensor << "' of the golden file is missing";
          continue;
        }
        if (it->second.sizes() != expected.sizes()) {
          ADD_FAILURE() << run << " " << name << ": tensor '" << tensor << "' has shape " << it->second.sizes()
                        << ", golden " << expected.sizes();
          continue;
        }
        const double d = max_abs_diff(it->second, expected);
        worst = std::max(worst, d);
        identical += torch::equal(it->second, expected);
        EXPECT_LE(d, kTolerance) << fmt::format(
            "{} run, network {}, tensor '{}': max |trained - golden| = {:.3g} > {:g}. Golden recorded with {} at "
            "commit {}; this run: {}",
            run, name, tensor, d, kTolerance, describe(recorded), recorded.value("commit", "?"), describe(now));
        ++compared;
      }
    }
    std::printf("%s: %zu tensors compared, %zu bit-identical, max |trained - golden| = %g\n", run.c_str(), compared,
                identical, worst);
    EXPECT_EQ(compared, unpaired ? trained["generator_0"].size() * 2 + trained["discriminator_0"].size() * 2
                                 : trained["generator_0"].size() + trained["discriminator_0"].size());
  }
};

TEST_F(GoldenTrainingTest, PairedMatchesRecorded) { check_run("paired"); }

TEST_F(GoldenTrainingTest, UnpairedMatchesRecorded) { check_run("unpaired"); }

}  // namespace
}  // namespace img2img
