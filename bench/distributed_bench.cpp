// Data-parallel training speed (issue 15, "Benchmark in bench/"): images/s of `img2img train` as
// 1 process x 1 thread against 2 processes x 1 thread (a c10d/gloo group on 127.0.0.1), for the demo
// model (examples/terrain.toml's architecture at 64 px, batch 4) and for pix2pix unet_256 (256 px,
// generator.layers 8, ngf 64 capped at 512, batch 1), with rank 0's gradient all-reduce time per step
// and how much of it overlapped compute, with the bucketed all-reduce during backward (the default) and
// without it (IMG2IMG_OVERLAP=0: one buffer after backward), and 2 separate 1-process trainings at once (no
// group: the most 2 processes can get on this machine when communication costs nothing); beside it, in the same
// invocation, the same figures for a
// PyTorch DDP step of the same networks (bench/pytorch_ddp_reference.py, /usr/bin/python3, gloo).
// Every configuration runs `repeats` times, in alternation, and the medians are printed with the
// targets: 2 processes >= 1.6x one (demo), >= 1.7x (unet_256), and img2img's 2-process images/s >=
// 2.5x PyTorch DDP's on the same model. It also loads img2img's checkpoint into the Python networks
// (same names and shapes, strict) so that both sides are known to train the same architecture.
// Not a test (not run by ctest): run it by hand; `uptime` says how loaded the machine was.
//   build/bench/distributed_bench [--quick] [--models demo,unet_256] [--repeats R] [--iterations N]
//                                 [--no-pytorch] [--img2img PATH] [--python PATH] [--timeout S]
// --quick: 1 repeat of 3 iterations (the first not counted) per configuration, a few minutes in all.

#include <arpa/inet.h>   // htonl
#include <netinet/in.h>  // sockaddr_in
#include <signal.h>      // kill
#include <sys/socket.h>  // socket, bind, getsockname
#include <sys/wait.h>    // waitpid
#include <unistd.h>      // fork, execv, pipe

#include <fmt/format.h>  // fmt::print
#include <nlohmann/json.hpp>
#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>  // cv::imwrite
#include <opencv2/imgproc.hpp>    // cv::GaussianBlur

#include <algorithm>           // std::sort
#include <chrono>              // std::chrono
#include <cmath>               // std::isnan, NAN
#include <condition_variable>  // std::condition_variable
#include <cstdio>              // FILE, fdopen
#include <cstdlib>             // setenv, unsetenv
#include <filesystem>          // std::filesystem
#include <fstream>             // std::ifstream
#include <map>                 // std::map
#include <mutex>               // std::mutex
#include <sstream>             // std::istringstream
#include <stdexcept>           // std::runtime_error
#include <string>              // std::string
#include <thread>              // std::thread
#include <utility>             // std::pair
#include <vector>              // std::vector

#include "bench_children.h"

namespace fs = std::filesystem;
using json = nlohmann::json;

namespace {

struct Model {
  std::string name;         // also the --model of pytorch_ddp_reference.py
  std::string label;
  int size, batch;          // px, per process
  int g_layers, g_initial, g_max, d_layers, d_initial;
  bool flips;               // terrain.toml flips; pix2pix unet_256 is timed without augmentation
  int samples;              // training pairs; a multiple of 2 x batch so both ranks take whole batches
};

const std::vector<Model> kModels = {
    {"demo", "demo (terrain.toml, 64 px, batch 4)", 64, 4, 6, 32, 256, 3, 32, true, 64},
    {"unet_256", "unet_256 (pix2pix, 256 px, batch 1)", 256, 1, 8, 64, 512, 3, 64, false, 8},
};

// Every variable that would change a child's threads or make it join a group it should not.
const char* const kCleared[] = {"OMP_WAIT_POLICY", "GOMP_SPINCOUNT", "OMP_NUM_THREADS", "OMP_PROC_BIND",
                                "GOMP_CPU_AFFINITY", "OMP_PLACES", "RANK", "WORLD_SIZE", "LOCAL_RANK",
                                "LOCAL_WORLD_SIZE", "GROUP_RANK", "ROLE_RANK", "MASTER_ADDR", "MASTER_PORT",
                                "TORCHELASTIC_USE_AGENT_STORE", "TORCHELASTIC_RESTART_COUNT",
                                "TORCHELASTIC_RUN_ID", "GLOO_SOCKET_IFNAME"};

using Env = img2img::bench::Env;

// The img2img executable ran the 2 ranks as 2 separate trainings (no data-parallel support in it).
struct NotDistributed : std::runtime_error {
  using std::runtime_error::runtime_error;
};

std::vector<std::string> train_args(const std::string& exe, const Model& m, const fs::path& data,
                                    const fs::path& run_dir, int iterations) {
  std::vector<std::string> a{exe,
                             "train",
                             "--data.input_dir=" + (data / "input").string(),
                             "--data.reference_dir=" + (data / "reference").string(),
                             fmt::format("--data.image_size={}", m.size),
                             "--data.channel_count=3",
                             fmt::format("--data.batch_size={}", m.batch),
                             fmt::format("--generator.layers={}", m.g_layers),
                             fmt::format("--generator.initial_layer_size={}", m.g_initial),
                             fmt::format("--generator.max_layer_size={}", m.g_max),
                             fmt::format("--discriminator.layers={}", m.d_layers),
                             fmt::format("--discriminator.initial_layer_size={}", m.d_initial),
                             fmt::format("--train.max_iterations={}", iterations),
                             "--train.seed=1",
                             "--test.enabled=false",
                             "--plot.type=csv",
                             "--output.model_save_rate=100000",
                             "--output.run_dir=" + run_dir.string(),
                             "--device.device=cpu",
                             "--device.cpu_threads=1",
                             "--plain-progress",
                             "--events=-"};
  if (m.flips) {
    a.push_back("--data.flip_horizontal=0.5");
    a.push_back("--data.flip_vertical=0.5");
  }
  return a;
}

// A child process with `env` on top of the cleared variables; its stdout on *out (or /dev/null).
pid_t spawn(const std::vector<std::string>& args, const Env& env, FILE** out, const fs::path& err_file) {
  return img2img::bench::spawn_child(args, std::vector<const char*>(std::begin(kCleared), std::end(kCleared)), env,
                                     out, err_file);
}

// Kills `pids` (SIGKILL) if they run past `seconds`, or at once on kill_now(); the group never hangs
// the bench (a rank waiting on a dead peer waits for distributed.timeout).
class Watchdog {
 public:
  Watchdog(std::vector<pid_t> pids, int seconds)
      : pids_(std::move(pids)), thread_([this, seconds] {
          std::unique_lock lock(mutex_);
          if (!cv_.wait_for(lock, std::chrono::seconds(seconds), [this] { return done_ || kill_; })) fired_ = true;
          if (fired_ || kill_)
            for (pid_t p : pids_) ::kill(p, SIGKILL);
        }) {}
  ~Watchdog() { stop(); }
  void kill_now() {
    {
      std::lock_guard lock(mutex_);
      kill_ = true;
    }
    cv_.notify_all();
  }
  void stop() {
    {
      std::lock_guard lock(mutex_);
      done_ = true;
    }
    cv_.notify_all();
    if (thread_.joinable()) thread_.join();
  }
  bool fired() const { return fired_; }

 private:
  std::vector<pid_t> pids_;
  std::mutex mutex_;
  std::condition_variable cv_;
  bool done_ = false, kill_ = false, fired_ = false;
  std::thread thread_;
};

int free_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) throw std::runtime_error("socket() failed");
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  socklen_t len = sizeof addr;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    ::close(fd);
    throw std::runtime_error("cannot bind a port on 127.0.0.1");
  }
  ::close(fd);
  return ntohs(addr.sin_port);
}

Env group_env(int rank, int world, int port) {
  // What torchrun gives each worker on one machine; gloo pinned to loopback.
  return {{"RANK", std::to_string(rank)},        {"WORLD_SIZE", std::to_string(world)},
          {"LOCAL_RANK", std::to_string(rank)},  {"LOCAL_WORLD_SIZE", std::to_string(world)},
          {"MASTER_ADDR", "127.0.0.1"},          {"MASTER_PORT", std::to_string(port)},
          {"GLOO_SOCKET_IFNAME", "lo"},          {"OMP_NUM_THREADS", "1"}};
}

std::string tail_of(const fs::path& file) {
  std::ifstream in(file);
  std::vector<std::string> lines;
  for (std::string l; std::getline(in, l);) lines.push_back(l);
  std::string s;
  for (size_t i = lines.size() > 6 ? lines.size() - 6 : 0; i < lines.size(); ++i) s += "\n    " + lines[i];
  return s;
}

// The last lines of every process's stderr (the first to fail is often not the cause: a peer of a
// dead rank fails too).
std::string tails(const std::vector<fs::path>& errs) {
  std::string s;
  for (size_t i = 0; i < errs.size(); ++i)
    s += fmt::format("\n  process {} stderr ends:{}", i, tail_of(errs[i]));
  return s;
}

constexpr int kExitGrace = 60;  // seconds

// Waits for every child; throws naming the first that failed (with its stderr's last lines).
void reap(const std::vector<pid_t>& pids, const std::vector<fs::path>& errs, const std::string& what,
          const Watchdog& dog, int timeout) {
  std::string failure;
  for (size_t i = 0; i < pids.size(); ++i) {
    int status = 0;
    if (i == 0) {
      ::waitpid(pids[i], &status, 0);
    } else {  // the others get kExitGrace seconds after process 0 ended, then are killed
      const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(kExitGrace);
      while (::waitpid(pids[i], &status, WNOHANG) == 0) {
        if (std::chrono::steady_clock::now() > deadline) {
          ::kill(pids[i], SIGKILL);
          ::waitpid(pids[i], &status, 0);
          if (failure.empty())
            failure = fmt::format("{} (process {} of {}) did not exit within {} s after process 0 ended and was "
                                  "killed{}",
                                  what, i, pids.size(), kExitGrace, tails(errs));
          break;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
      }
    }
    if (failure.empty() && (!WIFEXITED(status) || WEXITSTATUS(status) != 0))
      failure = fmt::format("{} (process {} of {}) {}{}", what, i, pids.size(),
                            dog.fired()        ? fmt::format("ran past --timeout {} s and was killed", timeout)
                            : WIFEXITED(status) ? fmt::format("exited with status {}", WEXITSTATUS(status))
                                                : fmt::format("was killed by signal {}", WTERMSIG(status)),
                            tails(errs));
  }
  if (!failure.empty()) throw std::runtime_error(failure);
}

struct Figures {
  double images_per_s = NAN;
  double step_s = NAN;       // wall seconds per step of one process
  double allreduce_s = NAN;  // per step: blocked + hidden
  double blocked_s = NAN;    // per step: the all-reduce time the process waited for
  double hidden_s = NAN;     // per step: all-reduce time overlapped with compute
  double cpu_per_image = NAN;  // CPU seconds (user + system, all processes) per image: less load-dependent
};

// User + system CPU seconds of `pids` so far (/proc/PID/stat fields 14 and 15); NAN if one has gone.
double cpu_seconds(const std::vector<pid_t>& pids) {
  double total = 0;
  for (pid_t p : pids) {
    std::ifstream in(fmt::format("/proc/{}/stat", p));
    std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    const auto close = text.rfind(')');
    if (close == std::string::npos) return NAN;
    std::istringstream fields(text.substr(close + 2));
    std::string field;
    double ticks = 0;
    for (int i = 3; i <= 15 && fields >> field; ++i)
      if (i >= 14) ticks += std::stod(field);
    total += ticks / static_cast<double>(::sysconf(_SC_CLK_TCK));
  }
  return total;
}

struct Img2imgRun {
  Figures f;
  bool overlap_reported = false;  // the events carried allreduce_hidden_seconds
  int world_reported = 0;  // run_start's world_size (0: none, a build without data-parallel training)
  fs::path generator, discriminator;  // the last checkpoints rank 0 wrote
};

// `separate`: `world` unrelated 1-process trainings at once (no group, no all-reduce), each on every sample:
// what the machine gives `world` processes when communication costs nothing, the ceiling of a group's speedup.
Img2imgRun run_img2img(const std::string& exe, const Model& m, const fs::path& data, const fs::path& work,
                       int world, bool overlap, int iterations, int timeout, bool separate = false) {
  static int counter = 0;
  const fs::path run_dir = work / fmt::format("run{}", ++counter);
  const int port = world > 1 && !separate ? free_port() : 0;
  std::vector<pid_t> pids;
  std::vector<fs::path> errs;
  FILE* out = nullptr;
  for (int r = 0; r < world; ++r) {
    errs.push_back(work / fmt::format("run{}.rank{}.stderr", counter, r));
    Env env = world > 1 && !separate ? group_env(r, world, port) : Env{{"OMP_NUM_THREADS", "1"}};
    env.push_back({"IMG2IMG_OVERLAP", overlap ? "1" : "0"});
    const fs::path dir = separate ? fs::path(run_dir.string() + fmt::format(".{}", r)) : run_dir;
    pids.push_back(spawn(train_args(exe, m, data, dir, iterations), env, r == 0 ? &out : nullptr, errs.back()));
  }
  Watchdog dog(pids, timeout);
  Img2imgRun run;
  double seconds = 0, allreduce = 0, hidden = 0;
  bool has_allreduce = false, has_hidden = false, saw_start = false;
  double cpu_start = NAN, cpu_end = NAN;
  int counted = 0, samples = 0;
  char buffer[16384];
  while (std::fgets(buffer, sizeof buffer, out) != nullptr) {
    const json e = json::parse(buffer, nullptr, /*allow_exceptions=*/false);
    if (!e.is_object() || !e.contains("event")) continue;
    const std::string type = e["event"];
    if (type == "run_start") {
      samples = e.value("train_samples", 0);
      saw_start = true;
      run.world_reported = e.value("world_size", 0);
      if (world > 1 && !separate && run.world_reported != world) break;
    } else if (type == "iteration" && e.value("iteration", 0) == 1) {
      cpu_start = cpu_seconds(pids);  // every rank is at the end of iteration 1 (they agree after each step)
    } else if (type == "iteration" && e.value("iteration", 0) >= 2) {
      cpu_end = cpu_seconds(pids);
      seconds += e.value("seconds", 0.0);
      if (e.contains("allreduce_seconds") && e["allreduce_seconds"].is_number())
        allreduce += e["allreduce_seconds"].get<double>(), has_allreduce = true;
      if (e.contains("allreduce_hidden_seconds") && e["allreduce_hidden_seconds"].is_number())
        hidden += e["allreduce_hidden_seconds"].get<double>(), has_hidden = true;
      ++counted;
    } else if (type == "file" && e.value("kind", "") == "checkpoint") {
      const std::string network = e.value("network", "");
      if (network == "generator") run.generator = e.value("path", "");
      if (network == "discriminator") run.discriminator = e.value("path", "");
    }
  }
  std::fclose(out);
  if (world > 1 && !separate && run.world_reported != world) {
    dog.kill_now();
    for (pid_t p : pids) ::waitpid(p, nullptr, 0);
    if (!saw_start)
      throw std::runtime_error(
          fmt::format("img2img train ({}, {} processes) ended before its run_start event{}", m.name, world, tails(errs)));
    throw NotDistributed(fmt::format(
        "{} did not train data-parallel: with RANK/WORLD_SIZE/MASTER_ADDR/MASTER_PORT set, rank 0's run_start "
        "event had world_size {} instead of {} (a build without issue 15's distributed training; pass --img2img "
        "PATH)",
        exe, run.world_reported, world));
  }
  reap(pids, errs, fmt::format("img2img train ({}, {} process(es))", m.name, world), dog, timeout);
  dog.stop();
  if (counted == 0 || seconds <= 0 || samples <= 0)
    throw std::runtime_error(fmt::format("img2img train ({}) printed no timed iteration; see {}", m.name,
                                         errs[0].string()));
  // One iteration covers every sample once over all ranks (samples is a multiple of world x batch); separate
  // trainings each cover every sample (process 0's rate stands for each: they run the same work at once).
  const int sharers = separate ? 1 : world;
  const double steps = static_cast<double>(counted) * samples / (sharers * m.batch);
  run.f.images_per_s = counted * samples / seconds * (separate ? world : 1);
  run.f.step_s = seconds / steps;
  run.f.cpu_per_image = (cpu_end - cpu_start) / (static_cast<double>(counted) * samples * (separate ? world : 1));
  if (world > 1 && !separate && has_allreduce) {
    // allreduce_seconds: rank 0's time blocked in the gradient all-reduce; allreduce_hidden_seconds (if the
    // build overlaps the all-reduce with backward): the part that ran behind compute. Without the field the
    // all-reduce follows backward and nothing is hidden.
    run.f.blocked_s = allreduce / steps;
    run.f.hidden_s = has_hidden ? hidden / steps : 0.0;
    run.f.allreduce_s = run.f.blocked_s + run.f.hidden_s;
    run.overlap_reported = has_hidden;
  }
  return run;
}

// The Python reference: `world` ranks of pytorch_ddp_reference.py (or one plain process).
Figures run_pytorch(const std::string& python, const fs::path& script, const Model& m, const fs::path& work,
                    int world, int steps, int timeout) {
  static int counter = 0;
  ++counter;
  const std::vector<std::string> args{python, script.string(), "--model", m.name, "--steps", std::to_string(steps),
                                      "--warmup", "2", "--threads", "1"};
  const int port = world > 1 ? free_port() : 0;
  std::vector<pid_t> pids;
  std::vector<fs::path> errs;
  FILE* out = nullptr;
  for (int r = 0; r < world; ++r) {
    errs.push_back(work / fmt::format("py{}.rank{}.stderr", counter, r));
    const Env env = world > 1 ? group_env(r, world, port) : Env{{"OMP_NUM_THREADS", "1"}};
    pids.push_back(spawn(args, env, r == 0 ? &out : nullptr, errs.back()));
  }
  Watchdog dog(pids, timeout);
  json result;
  char buffer[16384];
  while (std::fgets(buffer, sizeof buffer, out) != nullptr) {
    const std::string line = buffer;
    if (line.rfind("RESULT ", 0) == 0) result = json::parse(line.substr(7), nullptr, false);
  }
  std::fclose(out);
  reap(pids, errs, fmt::format("{} ({}, {} process(es))", script.filename().string(), m.name, world), dog,
       timeout);
  dog.stop();
  if (!result.is_object()) throw std::runtime_error(fmt::format("{} printed no RESULT line", script.string()));
  Figures f;
  f.images_per_s = result.value("images_per_s", NAN);
  f.step_s = result.value("step_seconds", NAN);
  f.cpu_per_image = result.value("cpu_seconds", NAN) / (result.value("steps", 0.0) * world * m.batch);
  if (world > 1) {
    f.allreduce_s = result.value("allreduce_seconds", NAN);
    f.blocked_s = result.value("blocked_seconds", NAN);
    f.hidden_s = result.value("hidden_seconds", NAN);
  }
  return f;
}

// Output of a short command (the parameter count / architecture check), or "" if it failed.
std::string capture(const std::vector<std::string>& args, const fs::path& err) {
  FILE* out = nullptr;
  const pid_t pid = spawn(args, {}, &out, err);
  std::string s;
  char buffer[4096];
  while (std::fgets(buffer, sizeof buffer, out) != nullptr) s += buffer;
  std::fclose(out);
  int status = 0;
  ::waitpid(pid, &status, 0);
  return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? s : "";
}

double median(std::vector<double> v) {
  std::vector<double> ok;
  for (double x : v)
    if (!std::isnan(x)) ok.push_back(x);
  if (ok.empty()) return NAN;
  std::sort(ok.begin(), ok.end());
  const size_t n = ok.size();
  return n % 2 ? ok[n / 2] : (ok[n / 2 - 1] + ok[n / 2]) / 2;
}

Figures median(const std::vector<Figures>& runs) {
  auto pick = [&](double Figures::*field) {
    std::vector<double> v;
    for (const auto& r : runs) v.push_back(r.*field);
    return median(v);
  };
  return {pick(&Figures::images_per_s), pick(&Figures::step_s), pick(&Figures::allreduce_s),
          pick(&Figures::blocked_s), pick(&Figures::hidden_s), pick(&Figures::cpu_per_image)};
}

std::string load_average() {
  std::ifstream in("/proc/loadavg");
  std::string a, b, c;
  in >> a >> b >> c;
  return a + " " + b + " " + c;
}

std::string verdict(double ratio, double goal) {
  if (std::isnan(ratio)) return "not measured";
  return fmt::format("{:.2f}x {}", ratio, ratio >= goal ? "met" : "NOT met");
}

std::string ms(double s) { return std::isnan(s) ? "n/a" : fmt::format("{:.0f} ms", 1000 * s); }

int usage(int code) {
  std::fprintf(code == 0 ? stdout : stderr,
               "usage: distributed_bench [--quick] [--models demo,unet_256] [--repeats R] [--iterations N] "
               "[--no-pytorch] [--img2img PATH] [--python PATH] [--timeout SECONDS]\n");
  return code;
}

}  // namespace

int main(int argc, char** argv) {
  int repeats = 3, iterations = 5, timeout = 1200;
  bool pytorch = true;
  std::string models_arg = "demo,unet_256";
  std::string exe = (fs::read_symlink("/proc/self/exe").parent_path().parent_path() / "img2img").string();
  std::string python = "/usr/bin/python3";
  fs::path script = fs::path(IMG2IMG_SOURCE_DIR) / "bench" / "pytorch_ddp_reference.py";
  try {
    for (int i = 1; i < argc; ++i) {
      const std::string a = argv[i];
      auto value = [&]() -> std::string {
        if (i + 1 >= argc) throw std::invalid_argument(a + " needs a value");
        return argv[++i];
      };
      if (a == "--help" || a == "-h") return usage(0);
      if (a == "--quick") repeats = 1, iterations = 3;
      else if (a == "--repeats") repeats = std::stoi(value());
      else if (a == "--iterations") iterations = std::stoi(value());
      else if (a == "--models") models_arg = value();
      else if (a == "--no-pytorch") pytorch = false;
      else if (a == "--img2img") exe = value();
      else if (a == "--python") python = value();
      else if (a == "--timeout") timeout = std::stoi(value());
      else throw std::invalid_argument("unknown argument " + a);
    }
    if (repeats < 1 || iterations < 2 || timeout < 10)
      throw std::invalid_argument("need --repeats >= 1, --iterations >= 2 (the first is not timed), --timeout >= 10");
  } catch (const std::exception& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return usage(1);
  }
  std::vector<Model> models;
  {
    std::istringstream in(models_arg);
    for (std::string name; std::getline(in, name, ',');) {
      auto it = std::find_if(kModels.begin(), kModels.end(), [&](const Model& m) { return m.name == name; });
      if (it == kModels.end()) {
        std::fprintf(stderr, "error: unknown model '%s' in --models; expected demo and/or unet_256\n", name.c_str());
        return 1;
      }
      models.push_back(*it);
    }
  }
  if (!fs::exists(exe)) {
    std::fprintf(stderr, "error: %s not found; build the img2img target or pass --img2img PATH\n", exe.c_str());
    return 1;
  }
  char pattern[] = "/tmp/distributed_bench.XXXXXX";
  if (::mkdtemp(pattern) == nullptr) {
    std::fprintf(stderr, "error: cannot create a folder in /tmp\n");
    return 1;
  }
  const fs::path work = pattern;
  if (pytorch) {
    const std::string probe = capture({python, "-c", "import torch.distributed as d; print(d.is_gloo_available())"},
                                      work / "probe.stderr");
    if (probe.rfind("True", 0) != 0) {
      fmt::print("PyTorch reference skipped: {} has no torch with gloo (Debian: apt-get install python3-torch); "
                 "the 2.5x target is not measured\n",
                 python);
      pytorch = false;
    } else if (!fs::exists(script)) {
      fmt::print("PyTorch reference skipped: {} not found\n", script.string());
      pytorch = false;
    }
  }
  // A build with data-parallel training has the [distributed] configuration section.
  const std::string config_text = capture({exe, "config"}, work / "config.stderr");
  bool img2img_distributed = config_text.find("[distributed]") != std::string::npos ||
                             config_text.find("distributed.backend") != std::string::npos;
  if (!img2img_distributed)
    fmt::print("img2img 2 processes not measured: `{} config` has no [distributed] section (a build without issue "
               "15's data-parallel training)\n",
               exe);
  const auto start = std::chrono::steady_clock::now();
  fmt::print("load average at start: {}; {} repeat(s) of {} iterations per img2img run (the first not counted), "
             "1 thread per process, gloo on 127.0.0.1\n",
             load_average(), repeats, iterations);
  int code = 0;
  struct Row {
    std::string model, engine;
    int world;
    Figures f;
  };
  std::vector<Row> rows;
  std::vector<std::string> targets;
  bool no_overlap_field = false;
  try {
    for (const Model& m : models) {
      const fs::path data = work / m.name;
      img2img::bench::write_bench_pairs(data, m.size, m.samples);
      const int measured_steps = (iterations - 1) * m.samples / (2 * m.batch);  // per rank, 2 processes
      const int py_steps = std::max(3, measured_steps / 2);
      fmt::print("\n{}: {} pairs; img2img {} iterations; PyTorch {} steps per process after 2 warm-up steps\n",
                 m.label, m.samples, iterations, py_steps);
      std::vector<Figures> i1, i2, i2off, isep, p1, p2;
      Img2imgRun last;
      for (int r = 0; r < repeats; ++r) {
        last = run_img2img(exe, m, data, work, 1, true, iterations, timeout);
        i1.push_back(last.f);
        if (img2img_distributed) {
          try {
            const Img2imgRun two = run_img2img(exe, m, data, work, 2, true, iterations, timeout);
            i2.push_back(two.f);
            if (!two.overlap_reported) no_overlap_field = true;
            i2off.push_back(run_img2img(exe, m, data, work, 2, false, iterations, timeout).f);
          } catch (const std::exception& e) {
            fmt::print("img2img 2 processes not measured: {}\n", e.what());
            img2img_distributed = false;
          }
        }
        if (!img2img_distributed) i2.push_back(Figures{}), i2off.push_back(Figures{});
        isep.push_back(run_img2img(exe, m, data, work, 2, true, iterations, timeout, /*separate=*/true).f);
        if (pytorch) {
          p1.push_back(run_pytorch(python, script, m, work, 1, py_steps, timeout));
          p2.push_back(run_pytorch(python, script, m, work, 2, py_steps, timeout));
        }
        fmt::print("  repeat {}: img2img 1x1 {:.2f} img/s, 2x1 {:.2f} img/s (no overlap {:.2f}; 2 separate "
                   "trainings {:.2f})",
                   r + 1, i1.back().images_per_s, i2.back().images_per_s, i2off.back().images_per_s,
                   isep.back().images_per_s);
        if (pytorch)
          fmt::print("; PyTorch 1x1 {:.2f} img/s, DDP 2x1 {:.2f} img/s", p1.back().images_per_s,
                     p2.back().images_per_s);
        fmt::print("  (load {})\n", load_average());
        std::fflush(stdout);
      }
      if (pytorch && !last.generator.empty() && !last.discriminator.empty()) {
        // Same architecture on both sides: img2img's checkpoint loads into the Python networks (strict).
        const std::string out = capture({python, script.string(), "--model", m.name, "--count", "--check",
                                         last.generator.string(), last.discriminator.string()},
                                        work / "check.stderr");
        const json c = json::parse(out, nullptr, false);
        if (c.is_object() && c.value("checkpoint_matches", false)) {
          const double params = c.value("generator", 0.0) + c.value("discriminator", 0.0);
          fmt::print("  same networks: img2img's checkpoint loads into the Python copy (strict); parameters "
                     "G {} + D {} = {:.2f} M, {:.1f} MB float32; ring all-reduce moves 2 x (N-1)/N x that per "
                     "step and process\n",
                     c.value("generator", 0), c.value("discriminator", 0), params / 1e6, params * 4 / 1e6);
        } else {
          fmt::print("  ARCHITECTURE MISMATCH: img2img's checkpoint does not load into the Python copy:{}\n",
                     tail_of(work / "check.stderr"));
          code = 1;
        }
      }
      rows.push_back({m.name, "img2img", 1, median(i1)});
      rows.push_back({m.name, "img2img", 2, median(i2)});
      rows.push_back({m.name, "img2img no overlap", 2, median(i2off)});
      rows.push_back({m.name, "2 separate (ceiling)", 2, median(isep)});
      if (pytorch) {
        rows.push_back({m.name, "PyTorch", 1, median(p1)});
        rows.push_back({m.name, "PyTorch DDP", 2, median(p2)});
      }
      const double one = median(i1).images_per_s, two = median(i2).images_per_s;
      const double goal = m.name == "demo" ? 1.6 : 1.7;
      targets.push_back(fmt::format("{}: img2img 2 processes >= {}x one: {} (without overlap {:.2f}x; 2 separate "
                                    "trainings at once, no communication: {:.2f}x, the most a group can get here)",
                                    m.name, goal, verdict(two / one, goal), median(i2off).images_per_s / one,
                                    median(isep).images_per_s / one));
      if (pytorch) {
        const double ddp = rows.back().f.images_per_s;
        targets.push_back(
            fmt::format("{}: img2img 2-process img/s >= 2.5x PyTorch DDP's: {}", m.name, verdict(two / ddp, 2.5)));
      }
    }
    fmt::print("\nmedians; step = wall time of one process's step; all-reduce = gradient all-reduce wall time per "
               "step (both networks) = blocked (the process waited) + hidden (overlapped backward compute); CPU/img = "
               "CPU time of all processes per image (less sensitive to other load than img/s)\n");
    fmt::print("{:<9} {:<20} {:>6} {:>9} {:>8} {:>9} {:>11} {:>9} {:>14} {:>10}\n", "model", "engine", "procs",
               "img/s", "speedup", "step", "all-reduce", "blocked", "hidden", "CPU/img");
    double one = NAN;
    for (const Row& r : rows) {
      if (r.world == 1) one = r.f.images_per_s;
      const bool group = r.world > 1 && r.engine.find("separate") == std::string::npos;
      const std::string hidden =
          std::isnan(r.f.hidden_s) || std::isnan(r.f.allreduce_s) || r.f.allreduce_s <= 0
              ? ms(r.f.hidden_s)
              : fmt::format("{} ({:.0f}%)", ms(r.f.hidden_s), 100 * r.f.hidden_s / r.f.allreduce_s);
      fmt::print("{:<9} {:<20} {:>6} {:>9.2f} {:>7.2f}x {:>9} {:>11} {:>9} {:>14} {:>10}\n", r.model, r.engine,
                 fmt::format("{}x1", r.world), r.f.images_per_s, r.f.images_per_s / one, ms(r.f.step_s),
                 group ? ms(r.f.allreduce_s) : "-", group ? ms(r.f.blocked_s) : "-", group ? hidden : "-",
                 ms(r.f.cpu_per_image));
    }
    if (no_overlap_field)
      fmt::print("img2img's iteration events have no allreduce_hidden_seconds: its all-reduce runs after backward, "
                 "so none of it is hidden (shown as 0)\n");
    fmt::print("\n");
    for (const auto& t : targets) fmt::print("target {}\n", t);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    code = 1;
  }
  fmt::print("load average at end: {}; {:.0f} s in all\n", load_average(),
             std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
  fs::remove_all(work);
  return code;
}
