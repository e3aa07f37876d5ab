#include "img2img/core/thread_governor.h"

#include <ATen/Parallel.h>  // at::set_num_threads
#include <sched.h>          // sched_getaffinity
#include <unistd.h>         // sysconf

#include <algorithm>  // std::clamp, std::find
#include <chrono>     // std::chrono::steady_clock
#include <cmath>      // std::lround
#include <cstdio>     // std::snprintf
#include <fstream>    // std::ifstream
#include <mutex>      // std::mutex
#include <optional>   // std::optional
#include <sstream>    // std::istringstream, std::ostringstream

#include "img2img/core/error.h"

namespace img2img {

CpuBusyTicks parse_proc_stat(const std::string& proc_stat, const std::vector<int>& allowed) {
  CpuBusyTicks out;
  std::istringstream lines(proc_stat);
  std::string line;
  while (std::getline(lines, line)) {
    // "cpuN": the aggregate "cpu " line is left out, so that `allowed` can pick CPUs.
    if (line.compare(0, 3, "cpu") != 0 || line.size() < 4 || line[3] < '0' || line[3] > '9') continue;
    std::istringstream fields(line.substr(3));
    int cpu = -1;
    fields >> cpu;
    if (!allowed.empty() && std::find(allowed.begin(), allowed.end(), cpu) == allowed.end()) continue;
    int64_t v[7] = {};
    for (int64_t& x : v) fields >> x;
    if (!fields)
      throw Error("/proc/stat line '" + line + "': expected cpuN followed by at least 7 tick counts (Linux proc(5))");
    // user nice system [idle iowait] irq softirq
    out.busy += v[0] + v[1] + v[2] + v[5] + v[6];
    ++out.cpus;
  }
  if (out.cpus == 0) throw Error("/proc/stat has no per-CPU line (cpu0, cpu1, ...) of the CPUs this process may use");
  return out;
}

int64_t parse_process_cpu_ticks(const std::string& proc_pid_stat) {
  const size_t close = proc_pid_stat.rfind(')');
  std::istringstream fields(close == std::string::npos ? std::string() : proc_pid_stat.substr(close + 1));
  // Fields 3 (state) .. 13 (cmajflt), then 14 utime and 15 stime.
  std::string skip;
  for (int field = 3; field <= 13; ++field) fields >> skip;
  int64_t utime = -1, stime = -1;
  fields >> utime >> stime;
  if (close == std::string::npos || !fields || utime < 0 || stime < 0)
    throw Error("/proc/<pid>/stat text '" + proc_pid_stat.substr(0, 80) +
                "': expected 'pid (comm) state ...' with utime and stime as fields 14 and 15 (Linux proc(5))");
  return utime + stime;
}

ThreadGovernor::ThreadGovernor(int max_threads, int cores, double ticks_per_s, const CpuSample& first, int agreeing)
    : max_threads_(max_threads), cores_(cores), agreeing_(agreeing), ticks_per_s_(ticks_per_s), last_(first),
      threads_(max_threads) {
  if (max_threads < 1 || cores < 1 || !(ticks_per_s > 0) || agreeing < 1)
    throw Error("ThreadGovernor(max_threads " + std::to_string(max_threads) + ", cores " + std::to_string(cores) +
                ", ticks_per_s " + std::to_string(ticks_per_s) + ", agreeing " + std::to_string(agreeing) +
                "): expected max_threads, cores, agreeing >= 1 and ticks_per_s > 0");
}

bool ThreadGovernor::update(const CpuSample& sample) {
  const double wall = sample.wall_s - last_.wall_s;
  if (!(wall > 0)) return false;
  const double others_ticks = static_cast<double>((sample.machine_busy - last_.machine_busy) -
                                                  (sample.process - last_.process));
  last_ = sample;
  // The two counters are sampled by the kernel separately: a few ticks of ours can show up as negative others.
  others_cores_ = std::max(0.0, others_ticks / (wall * ticks_per_s_));
  const long free_cores = cores_ - std::lround(others_cores_);
  const int target = static_cast<int>(std::clamp<long>(free_cores, 1, max_threads_));
  if (target == threads_) {
    pending_ = streak_ = 0;
    return false;
  }
  streak_ = target == pending_ ? streak_ + 1 : 1;
  pending_ = target;
  if (streak_ < agreeing_) return false;
  threads_ = target;
  pending_ = streak_ = 0;
  return true;
}

FixedThreadsWatch::FixedThreadsWatch(int threads, int cores, double ticks_per_s, const CpuSample& first, int samples)
    : follow_(std::clamp(threads, 1, std::max(cores, 1)), cores, ticks_per_s, first, /*agreeing=*/1),
      count_(follow_.threads()), samples_(samples), last_wall_s_(first.wall_s) {
  if (threads < 1 || samples < 1)
    throw Error("FixedThreadsWatch(threads " + std::to_string(threads) + ", samples " + std::to_string(samples) +
                "): expected threads, samples >= 1");
}

bool FixedThreadsWatch::update(const CpuSample& sample) {
  if (fired_ || !(sample.wall_s > last_wall_s_)) return false;
  const double interval = sample.wall_s - last_wall_s_;
  last_wall_s_ = sample.wall_s;
  // follow_ moves to each sample's target at once: below the count means fewer free cores than threads.
  follow_.update(sample);
  const bool busy = follow_.threads() < count_;
  busy_ = busy ? busy_ + 1 : 0;
  busy_seconds_ = busy ? busy_seconds_ + interval : 0.0;
  // Samples come between training steps: with steps longer than kThreadSampleSeconds, fewer but longer
  // intervals cover the same time, so `samples` periods of busy wall time count as well.
  fired_ = busy_ >= samples_ || busy_seconds_ >= samples_ * kThreadSampleSeconds;
  return fired_;
}

std::string fixed_threads_busy_warning(int threads, const FixedThreadsOrigin& origin, double others_cores, int cores) {
  const std::string count = std::to_string(threads);
  const std::string source = origin.cpu_threads > 0 ? "device.cpu_threads = " + std::to_string(origin.cpu_threads)
                             : origin.omp_num_threads ? "OMP_NUM_THREADS=" + count
                                                      : "a data-parallel process's share of the cores";
  std::string follow;
  if (origin.data_parallel)
    follow = "give each process fewer threads (device.cpu_threads; a data-parallel process never follows the free "
             "cores)";
  else if (origin.omp_num_threads)
    follow = std::string(origin.cpu_threads > 0 ? "set device.cpu_threads = 0 and unset OMP_NUM_THREADS"
                                                : "unset OMP_NUM_THREADS") +
             " (the count then follows the free cores)";
  else
    follow = "set device.cpu_threads = 0 (follows the free cores)";
  char others[32];
  std::snprintf(others, sizeof others, "%.1f", others_cores);
  return count + " fixed CPU threads (" + source + ") while other programs use " + others + " of the " +
         std::to_string(cores) +
         " cores: OpenMP threads poll while they wait and take the time the others need; measured beside busy "
         "programs, a run took 21 min instead of 3 (7x slower; docs/training_controls.md). Either " + follow +
         ", or start img2img with OMP_WAIT_POLICY=PASSIVE (the same threads, results the same bit for bit).";
}

namespace {
using Clock = std::chrono::steady_clock;

std::optional<std::string> read_text(const char* path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return std::nullopt;
  std::ostringstream text;
  text << in.rdbuf();
  if (!in.good() && !in.eof()) return std::nullopt;
  return text.str();
}

// The CPUs this process may run on (sched_getaffinity); empty (all CPUs) when it cannot be read.
std::vector<int> allowed_cpus() {
  cpu_set_t set;
  CPU_ZERO(&set);
  std::vector<int> cpus;
  if (::sched_getaffinity(0, sizeof set, &set) != 0) return cpus;
  for (int i = 0; i < CPU_SETSIZE; ++i)
    if (CPU_ISSET(i, &set)) cpus.push_back(i);
  return cpus;
}

// This process's thread count: followed (governor) or, when fixed, watched (watch); never both.
struct Governed {
  std::mutex mutex;
  std::optional<ThreadGovernor> governor;
  std::optional<FixedThreadsWatch> watch;
  int watch_threads = 0, watch_cpus = 0;
  FixedThreadsOrigin watch_origin;
  std::vector<int> cpus;
  Clock::time_point next_sample;
};

Governed& governed() {
  static Governed g;
  return g;
}

// A sample of this process's CPUs, with their count in *cpus; nullopt when /proc is unreadable or unparsable.
std::optional<CpuSample> read_sample(const std::vector<int>& allowed, int* cpus) {
  const std::optional<std::string> stat = read_text("/proc/stat"), self = read_text("/proc/self/stat");
  if (!stat || !self) return std::nullopt;
  try {
    const CpuBusyTicks machine = parse_proc_stat(*stat, allowed);
    CpuSample s;
    s.wall_s = std::chrono::duration<double>(Clock::now().time_since_epoch()).count();
    s.machine_busy = machine.busy;
    s.process = parse_process_cpu_ticks(*self);
    *cpus = machine.cpus;
    return s;
  } catch (const Error&) {
    return std::nullopt;
  }
}

Clock::duration sample_period() {
  return std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(kThreadSampleSeconds));
}

// Whether a sample is due (at most one every kThreadSampleSeconds); when it is, the next one is timed from now.
bool sample_due(Governed& g) {
  const Clock::time_point now = Clock::now();
  if (now < g.next_sample) return false;
  g.next_sample = now + sample_period();
  return true;
}
}  // namespace

bool start_thread_governor(int max_threads) {
  Governed& g = governed();
  std::lock_guard<std::mutex> lock(g.mutex);
  g.governor.reset();
  g.watch.reset();
  if (max_threads <= 0) return false;
  g.cpus = allowed_cpus();
  int cpus = 0;
  const std::optional<CpuSample> first = read_sample(g.cpus, &cpus);
  const long ticks_per_s = ::sysconf(_SC_CLK_TCK);
  if (!first || ticks_per_s <= 0) return false;
  g.governor.emplace(max_threads, cpus, static_cast<double>(ticks_per_s), *first);
  g.next_sample = Clock::now() + sample_period();
  return true;
}

bool cpu_threads_governed() {
  Governed& g = governed();
  std::lock_guard<std::mutex> lock(g.mutex);
  return g.governor.has_value();
}

bool watch_fixed_cpu_threads(int threads, const FixedThreadsOrigin& origin) {
  Governed& g = governed();
  std::lock_guard<std::mutex> lock(g.mutex);
  g.governor.reset();
  g.watch.reset();
  if (threads < 2) return false;
  g.cpus = allowed_cpus();
  int cpus = 0;
  const std::optional<CpuSample> first = read_sample(g.cpus, &cpus);
  const long ticks_per_s = ::sysconf(_SC_CLK_TCK);
  if (!first || ticks_per_s <= 0 || cpus < 2) return false;
  g.watch.emplace(threads, cpus, static_cast<double>(ticks_per_s), *first);
  g.watch_threads = threads, g.watch_cpus = cpus, g.watch_origin = origin;
  g.next_sample = Clock::now() + sample_period();
  return true;
}

std::string fixed_cpu_threads_warning() {
  Governed& g = governed();
  std::lock_guard<std::mutex> lock(g.mutex);
  if (!g.watch || !sample_due(g)) return "";
  int cpus = 0;
  const std::optional<CpuSample> sample = read_sample(g.cpus, &cpus);
  if (!sample || cpus != g.watch_cpus) {
    g.watch.reset();  // nothing to measure any more; the count was never changed, so nothing to say
    return "";
  }
  if (!g.watch->update(*sample)) return "";
  const double others = g.watch->others_cores();
  g.watch.reset();
  return fixed_threads_busy_warning(g.watch_threads, g.watch_origin, others, cpus);
}

std::string cpu_thread_count_text(int threads) {
  return std::to_string(threads) + (threads == 1 ? " CPU thread" : " CPU threads");
}

std::string govern_cpu_threads() {
  Governed& g = governed();
  std::lock_guard<std::mutex> lock(g.mutex);
  if (!g.governor || !sample_due(g)) return "";
  int cpus = 0;
  const std::optional<CpuSample> sample = read_sample(g.cpus, &cpus);
  const int before = g.governor->threads();
  if (!sample || cpus != g.governor->cores()) {
    g.governor.reset();
    return "CPU threads stay at " + std::to_string(before) +
           ": /proc/stat or /proc/self/stat can no longer be read (or the CPUs changed), so the count no longer "
           "follows the free cores";
  }
  if (!g.governor->update(*sample)) return "";
  const int after = g.governor->threads();
  at::set_num_threads(after);
  char others[32];
  std::snprintf(others, sizeof others, "%.1f", g.governor->others_cores());
  return "CPU threads " + std::to_string(before) + " -> " + std::to_string(after) + ": other programs use " + others +
         " of the " + std::to_string(cpus) +
         " cores (device.cpu_threads = 0 follows the free cores; a fixed count repeats bit for bit)";
}

}  // namespace img2img
