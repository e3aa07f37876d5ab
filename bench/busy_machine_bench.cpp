// Training speed alone and beside a competing CPU-bound process (issue 16, "Speed on a machine that is
// doing other work"). Runs `img2img train` (the examples/terrain.toml architecture at 64 px, batch 4, on
// 120 tile pairs this program writes itself) as child processes:
//   alone:  one training;
//   beside: the same training while a competitor of the same size runs (a second instance of the same
//           training with the same settings, or with --competitor=spin one busy thread per core).
// Each is measured for today's settings ("new": the environment img2img gets with no OMP_*/GOMP_*
// variables, device.cpu_threads = 0, so the thread count follows the free cores) and for the settings
// before issue 16 ("old": libgomp's own default spin, GOMP_SPINCOUNT = 300000, and device.cpu_threads =
// every core, a fixed count), in alternation, and prints the median of the repeats, both ratios and
// whether the targets are met:
//   beside >= 40% of alone (new), and alone (new) >= 95% of alone (old).
// After each rate, the measured run's thread counts from its train.log: [2] stayed at 2, [2>1] went
// from 2 to 1 (core/thread_governor.h).
// Not a test (label "bench" is not run by ctest by default): run it by hand on a quiet machine,
//   build/bench/busy_machine_bench [--repeats R] [--iterations N] [--competitor train|spin]
//                                  [--env "VAR=VALUE[ VAR=VALUE]..."]... [--img2img PATH]
// --env adds a configuration measured like the others, with device.cpu_threads = 0; repeatable, and one
// --env may set several variables separated by spaces. Examples: --env GOMP_SPINCOUNT=300000 (the
// governor with libgomp's default spin); --env OMP_NUM_THREADS=2 (a fixed count: no governor, today's
// spin); --env "GOMP_SPINCOUNT=30000 OMP_NUM_THREADS=2".

#include <fmt/format.h>  // fmt::print
#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>  // cv::imwrite
#include <opencv2/imgproc.hpp>    // cv::GaussianBlur

#include <signal.h>    // kill
#include <sys/wait.h>  // waitpid
#include <unistd.h>    // fork, execv, pipe

#include <algorithm>   // std::sort
#include <atomic>      // std::atomic
#include <cstdio>      // FILE, fdopen
#include <cstdlib>     // setenv, unsetenv
#include <cstring>     // std::strncmp
#include <filesystem>  // std::filesystem
#include <sstream>     // std::istringstream
#include <stdexcept>   // std::runtime_error
#include <string>      // std::string
#include <thread>      // std::thread
#include <utility>     // std::pair
#include <vector>      // std::vector

#include "bench_children.h"

namespace fs = std::filesystem;
namespace bench = img2img::bench;

namespace {

constexpr int kSamples = 120;  // as the measurement in issue 16: 120 terrain tiles at 64 px

struct Setting {
  std::string name;
  std::vector<std::pair<std::string, std::string>> env;  // set in the child; every other OMP_*/GOMP_* is unset
  std::string cpu_threads = "0";                         // device.cpu_threads
};

const char* const kOmpVariables[] = {"OMP_WAIT_POLICY", "GOMP_SPINCOUNT", "OMP_NUM_THREADS", "LOCAL_WORLD_SIZE",
                                     "OMP_DISPLAY_ENV", "OMP_PROC_BIND",  "GOMP_CPU_AFFINITY", "OMP_PLACES"};

std::vector<std::string> train_args(const std::string& exe, const fs::path& data, const fs::path& run_dir,
                                    int iterations, const std::string& cpu_threads) {
  // examples/terrain.toml's architecture and batch; no test, no plots to draw, one checkpoint at the end.
  return {exe,
          "train",
          "--data.input_dir=" + (data / "input").string(),
          "--data.reference_dir=" + (data / "reference").string(),
          "--data.image_size=64",
          "--data.channel_count=3",
          "--data.batch_size=4",
          "--data.flip_horizontal=0.5",
          "--data.flip_vertical=0.5",
          "--generator.layers=6",
          "--generator.initial_layer_size=32",
          "--generator.max_layer_size=256",
          "--discriminator.layers=3",
          "--discriminator.initial_layer_size=32",
          "--train.max_iterations=" + std::to_string(iterations),
          "--train.seed=1",
          "--test.enabled=false",
          "--plot.type=csv",
          "--output.model_save_rate=100000",
          "--output.run_dir=" + run_dir.string(),
          "--device.device=cpu",
          "--device.cpu_threads=" + cpu_threads,
          "--plain-progress",
          "--events=-"};
}

// Starts `args` with `setting`'s environment (every other OMP_*/GOMP_* variable unset); its stdout on
// *out (or /dev/null when out is null).
pid_t spawn(const std::vector<std::string>& args, const Setting& setting, FILE** out) {
  return bench::spawn_child(args, std::vector<const char*>(std::begin(kOmpVariables), std::end(kOmpVariables)),
                            setting.env, out, "/dev/null");
}

double json_number(const std::string& line, const std::string& key) {
  const auto at = line.find("\"" + key + "\":");
  if (at == std::string::npos) return -1;
  return std::stod(line.substr(at + key.size() + 3));
}

// The thread counts a run's train.log names: the "device: cpu, N CPU threads" line, then each
// "CPU threads A -> B" change of the governor: "2", "2>1", "2>1>2"; "?" without a log.
std::string thread_history(const fs::path& run_dir) {
  std::FILE* log = std::fopen((run_dir / "train.log").c_str(), "r");
  if (log == nullptr) return "?";
  std::string history;
  char buffer[4096];
  while (std::fgets(buffer, sizeof buffer, log) != nullptr) {
    const std::string line = buffer;
    const auto device = line.find(" CPU threads;"), change = line.find("CPU threads ");
    if (device != std::string::npos && history.empty()) {
      const auto comma = line.rfind(", ", device);
      if (comma != std::string::npos) history = line.substr(comma + 2, device - comma - 2);
    } else if (change != std::string::npos && line.find(" -> ", change) != std::string::npos) {
      const auto arrow = line.find(" -> ", change);
      history += ">" + line.substr(arrow + 4, line.find(':', arrow) - arrow - 4);
    }
  }
  std::fclose(log);
  return history.empty() ? "?" : history;
}

struct Measured {
  double images_per_s = 0;
  std::string threads;  // thread_history of the run
};

// Images per second of one training run over its iterations after the first (start-up, first touches).
Measured measure(const std::string& exe, const fs::path& data, const fs::path& work, const Setting& setting,
                 int iterations) {
  static int counter = 0;
  FILE* out = nullptr;
  const fs::path run_dir = work / fmt::format("run{}", ++counter);
  const pid_t pid = spawn(train_args(exe, data, run_dir, iterations, setting.cpu_threads), setting, &out);
  double seconds = 0;
  int counted = 0;
  char buffer[8192];
  while (std::fgets(buffer, sizeof buffer, out) != nullptr) {
    const std::string line = buffer;
    if (line.find("\"event\":\"iteration\"") == std::string::npos) continue;
    if (json_number(line, "iteration") < 2) continue;
    seconds += json_number(line, "seconds");
    ++counted;
  }
  std::fclose(out);
  int status = 0;
  ::waitpid(pid, &status, 0);
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0 || counted == 0 || seconds <= 0)
    throw std::runtime_error(fmt::format("img2img train ({}) failed (status {}); run it by hand with the flags of "
                                         "train_args() to see why",
                                         setting.name, status));
  return {counted * kSamples / seconds, thread_history(run_dir)};
}

// A competitor of the same size: the same training (same settings) or one busy thread per core.
struct Competitor {
  pid_t pid = -1;
  Competitor(const std::string& kind, const std::string& exe, const fs::path& data, const fs::path& work,
             const Setting& setting) {
    if (kind == "train") {
      pid = spawn(train_args(exe, data, work / "competitor", 1000000, setting.cpu_threads), setting, nullptr);
    } else {
      std::fflush(stdout);
      pid = ::fork();
      if (pid == 0) {
        std::vector<std::thread> threads;
        static std::atomic<unsigned long> sink{0};
        for (unsigned i = 0; i < std::max(1u, std::thread::hardware_concurrency()); ++i)
          threads.emplace_back([] {
            unsigned long x = 0;
            for (;;) sink.store(++x, std::memory_order_relaxed);
          });
        for (auto& t : threads) t.join();
        ::_exit(0);
      }
    }
    // Let it start (libtorch load, data decode) before the measured run does.
    std::this_thread::sleep_for(std::chrono::seconds(kind == "train" ? 3 : 1));
  }
  ~Competitor() {
    if (pid > 0) {
      ::kill(pid, SIGKILL);
      ::waitpid(pid, nullptr, 0);
    }
  }
};

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  const size_t n = v.size();
  return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

int usage(int code) {
  std::fprintf(code == 0 ? stdout : stderr,
               "usage: busy_machine_bench [--repeats R] [--iterations N] [--competitor train|spin] "
               "[--env \"VAR=VALUE[ VAR=VALUE]...\"]... [--img2img PATH]\n");
  return code;
}

}  // namespace

int main(int argc, char** argv) {
  int repeats = 3, iterations = 4;
  std::string competitor = "train";
  std::string exe = (fs::read_symlink("/proc/self/exe").parent_path().parent_path() / "img2img").string();
  const unsigned cores = std::max(1u, std::thread::hardware_concurrency());
  std::vector<Setting> settings{{"new", {}, "0"},
                                {"old", {{"GOMP_SPINCOUNT", "300000"}}, std::to_string(cores)}};
  try {
    for (int i = 1; i < argc; ++i) {
      const std::string a = argv[i];
      auto value = [&]() -> std::string {
        if (i + 1 >= argc) throw std::invalid_argument(a + " needs a value");
        return argv[++i];
      };
      if (a == "--help" || a == "-h") return usage(0);
      if (a == "--repeats") repeats = std::stoi(value());
      else if (a == "--iterations") iterations = std::stoi(value());
      else if (a == "--competitor") competitor = value();
      else if (a == "--img2img") exe = value();
      else if (a == "--env") {
        const std::string e = value();
        Setting setting{e, {}, "0"};
        std::istringstream words(e);
        for (std::string w; words >> w;) {
          const auto eq = w.find('=');
          if (eq == std::string::npos || eq == 0) throw std::invalid_argument("--env expects VAR=VALUE, got '" + w + "'");
          setting.env.emplace_back(w.substr(0, eq), w.substr(eq + 1));
        }
        if (setting.env.empty()) throw std::invalid_argument("--env expects VAR=VALUE");
        settings.push_back(setting);
      } else throw std::invalid_argument("unknown argument " + a);
    }
    if (repeats < 1 || iterations < 2 || (competitor != "train" && competitor != "spin"))
      throw std::invalid_argument("need --repeats >= 1, --iterations >= 2, --competitor train or spin");
  } catch (const std::exception& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return usage(1);
  }
  if (!fs::exists(exe)) {
    std::fprintf(stderr, "error: %s not found; pass --img2img PATH\n", exe.c_str());
    return 1;
  }
  char pattern[] = "/tmp/busy_machine_bench.XXXXXX";
  if (::mkdtemp(pattern) == nullptr) {
    std::fprintf(stderr, "error: cannot create a folder in /tmp\n");
    return 1;
  }
  const fs::path work = pattern, data = work / "data";
  int code = 0;
  try {
    bench::write_bench_pairs(data, 64, kSamples);
    fmt::print("{} cores; {} training pairs of 64 px, terrain.toml architecture, batch 4; {} iterations per "
               "measurement (the first not counted); competitor: {}; median of {} repeats\n",
               cores, kSamples, iterations, competitor == "train" ? "the same training" : "a busy thread per core",
               repeats);
    std::vector<std::vector<double>> alone(settings.size()), beside(settings.size());
    for (int r = 0; r < repeats; ++r)
      for (size_t s = 0; s < settings.size(); ++s) {
        const Measured a = measure(exe, data, work, settings[s], iterations);
        Measured b;
        {
          Competitor c(competitor, exe, data, work, settings[s]);
          b = measure(exe, data, work, settings[s], iterations);
        }
        alone[s].push_back(a.images_per_s);
        beside[s].push_back(b.images_per_s);
        fmt::print("  repeat {} {:<22} alone {:6.1f} img/s {:<8} beside {:6.1f} img/s {}\n", r + 1, settings[s].name,
                   a.images_per_s, "[" + a.threads + "]", b.images_per_s, "[" + b.threads + "]");
        std::fflush(stdout);
      }
    fmt::print("\n{:<24} {:>12} {:>12} {:>8} {:>14}\n", "setting", "alone img/s", "beside img/s", "ratio",
               "alone vs old");
    const double old_alone = median(alone[1]);
    for (size_t s = 0; s < settings.size(); ++s) {
      const double a = median(alone[s]), b = median(beside[s]);
      fmt::print("{:<24} {:>12.1f} {:>12.1f} {:>8.2f} {:>+13.1f}%\n",
                 settings[s].name + (s == 0 ? " (default)" : s == 1 ? " (before)" : ""), a, b, b / a,
                 100 * (a / old_alone - 1));
    }
    const double a = median(alone[0]), b = median(beside[0]);
    fmt::print("\ntarget beside >= 40% of alone: {:.0f}% {}\n", 100 * b / a, b >= 0.4 * a ? "met" : "NOT met");
    fmt::print("target alone loses <= 5% against the old default: {:+.1f}% {}\n", 100 * (a / old_alone - 1),
               a >= 0.95 * old_alone ? "met" : "NOT met");
  } catch (const std::exception& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    code = 1;
  }
  fs::remove_all(work);
  return code;
}
