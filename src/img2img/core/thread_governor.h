#pragma once
// The intra-op thread count of device.cpu_threads = 0 follows the cores that other programs leave free
// (issue 16, "Speed on a machine that is doing other work"): a second CPU-heavy program beside a
// training makes its OpenMP threads wait for each other's time slices; with one thread per free core
// they do not. A fixed count is never changed, but one that polls beside busy programs is warned about once
// (FixedThreadsWatch). The parsing and the decisions are pure functions of their inputs (tested with made-up
// /proc texts and samples); start_thread_governor / govern_cpu_threads and watch_fixed_cpu_threads /
// fixed_cpu_threads_warning apply them to this process.

#include <cstdint>  // int64_t
#include <string>   // std::string
#include <vector>   // std::vector

namespace img2img {

/// Busy CPU time of a set of CPUs, from /proc/stat, in clock ticks (USER_HZ, sysconf(_SC_CLK_TCK): 100/s on Linux).
struct CpuBusyTicks {
  int64_t busy = 0;  ///< user + nice + system + irq + softirq (guest time is inside user/nice; idle, iowait, steal not)
  int cpus = 0;      ///< how many per-CPU lines were summed
};

/// Sums the busy ticks of the per-CPU lines ("cpuN user nice system idle iowait irq softirq ...") of /proc/stat's
/// text whose N is in `allowed` (every CPU when `allowed` is empty). Throws Error when no per-CPU line was summed
/// or a summed line has fewer than 7 numbers.
CpuBusyTicks parse_proc_stat(const std::string& proc_stat, const std::vector<int>& allowed = {});

/// utime + stime (fields 14 and 15, clock ticks) of a /proc/<pid>/stat text: the CPU time of all the process's
/// threads, exited ones included. The command name (field 2) may hold spaces and ')': the fields are counted
/// after its last ')'. Throws Error when the text is not of that form.
int64_t parse_process_cpu_ticks(const std::string& proc_pid_stat);

/// One reading of the clocks a ThreadGovernor compares.
struct CpuSample {
  double wall_s = 0;         ///< steady clock, seconds
  int64_t machine_busy = 0;  ///< CpuBusyTicks::busy of the CPUs this process may run on
  int64_t process = 0;       ///< this process's ticks (parse_process_cpu_ticks)
};

/// Chooses the thread count from consecutive samples: other programs' busy cores = (Δmachine_busy − Δprocess) /
/// (Δwall_s × ticks_per_s), at least 0; target = clamp(cores − round(others), 1, max_threads). The count moves to a
/// target only when `agreeing` consecutive samples give that same target, so two governed trainings side by side
/// settle (each sees the other on ~1 of 2 cores: 1 thread each) instead of oscillating. Starts at max_threads.
class ThreadGovernor {
 public:
  /// `max_threads` >= 1 (the auto count), `cores` >= 1 (the CPUs summed in the samples), `ticks_per_s` > 0,
  /// `first` the sample the next update is compared with, `agreeing` >= 1. Throws Error otherwise.
  ThreadGovernor(int max_threads, int cores, double ticks_per_s, const CpuSample& first, int agreeing = 2);

  /// Compares `sample` with the previous one; returns true when threads() changed. A sample whose wall time
  /// does not advance is ignored.
  bool update(const CpuSample& sample);

  int threads() const { return threads_; }                ///< the current count, 1..max_threads
  int cores() const { return cores_; }                    ///< as constructed
  double others_cores() const { return others_cores_; }  ///< other programs' busy cores at the last update, >= 0

 private:
  int max_threads_, cores_, agreeing_;
  double ticks_per_s_;
  CpuSample last_;
  int threads_;
  double others_cores_ = 0;
  int pending_ = 0, streak_ = 0;  // the target of the last samples that differ from threads_, and how many agree
};

/// Seconds of wall time between two samples of govern_cpu_threads (and of fixed_cpu_threads_warning).
inline constexpr double kThreadSampleSeconds = 1.5;

/// Consecutive samples that must each find fewer free cores than a fixed thread count before FixedThreadsWatch
/// fires (~4.5 s): a short burst of another program (one compile, one cook) is no reason to warn.
inline constexpr int kFixedThreadsBusySamples = 3;

/// Watches a fixed thread count without changing it: update() is true once, at the `samples`-th consecutive sample
/// that finds fewer free cores than the count, or as soon as consecutive such samples cover `samples` x
/// kThreadSampleSeconds of wall time (slow steps: one sample per step), free cores as ThreadGovernor counts them
/// (the count it would choose).
class FixedThreadsWatch {
 public:
  /// `threads` >= 1 is the fixed count (above `cores` it counts as `cores`, so 1 core never fires); `cores`,
  /// `ticks_per_s` and `first` as ThreadGovernor's; `samples` >= 1. Throws Error otherwise.
  FixedThreadsWatch(int threads, int cores, double ticks_per_s, const CpuSample& first,
                    int samples = kFixedThreadsBusySamples);

  /// Compares `sample` with the previous one; true the first time `samples` samples in a row, or busy samples in a
  /// row covering `samples` x kThreadSampleSeconds, were busy; never again after. A sample whose wall time does
  /// not advance is ignored.
  bool update(const CpuSample& sample);

  double others_cores() const { return follow_.others_cores(); }  ///< other programs' busy cores at the last update

 private:
  ThreadGovernor follow_;  // the count following the free cores would choose at each sample (agreeing = 1)
  int count_;              // the fixed count, at most the cores
  int samples_;
  double last_wall_s_;
  int busy_ = 0;  // consecutive samples whose free cores were fewer than the count
  double busy_seconds_ = 0;  // the wall time those samples cover
  bool fired_ = false;
};

/// What fixed a thread count that does not follow the free cores (runtime.h fixed_threads_origin);
/// fixed_threads_busy_warning names it and the way out.
struct FixedThreadsOrigin {
  int64_t cpu_threads = 0;       ///< device.cpu_threads; above 0 it set the count
  bool omp_num_threads = false;  ///< a positive OMP_NUM_THREADS is set (the count of device.cpu_threads = 0)
  bool data_parallel = false;    ///< WORLD_SIZE or LOCAL_WORLD_SIZE above 1: the count never follows the free cores
};

/// The one warning (the text after "warning: ") for a fixed count of `threads` whose idle OpenMP threads poll while
/// other programs use `others_cores` of the `cores`: the value, the measured cost and both ways out (follow the
/// free cores, or OMP_WAIT_POLICY=PASSIVE).
std::string fixed_threads_busy_warning(int threads, const FixedThreadsOrigin& origin, double others_cores, int cores);

/// Starts following the free cores for this process from `max_threads` (>= 1) threads, with a first sample of
/// /proc/stat (the CPUs of sched_getaffinity) and /proc/self/stat; `max_threads` <= 0 stops following.
/// Returns false (and follows nothing) when /proc cannot be read. Called by configure_runtime.
bool start_thread_governor(int max_threads);

/// Whether the thread count follows the free cores now (start_thread_governor succeeded and has not stopped).
bool cpu_threads_governed();

/// "1 CPU thread", "2 CPU threads": the count as train.log and report.html write it.
std::string cpu_thread_count_text(int threads);

/// Starts watching this process's fixed count of `threads` (a FixedThreadsWatch over /proc, sampled as
/// start_thread_governor does) and stops following the free cores. Returns false (and watches nothing) when
/// `threads` or this process's CPUs are fewer than 2, or /proc cannot be read. Called by configure_runtime.
bool watch_fixed_cpu_threads(int threads, const FixedThreadsOrigin& origin);

/// Once per training step, beside govern_cpu_threads: while watch_fixed_cpu_threads watches, at most every
/// kThreadSampleSeconds it samples, and the first time the watch fires it stops watching and returns
/// fixed_threads_busy_warning; otherwise "" (also when /proc becomes unreadable: it stops). Never changes the
/// thread count; never throws.
std::string fixed_cpu_threads_warning();

/// Once per training step, on the thread that runs the step (at::set_num_threads sets that thread's OpenMP
/// count, which oneDNN and OpenBLAS read per call): at most every kThreadSampleSeconds it samples, and when the
/// count changes it calls at::set_num_threads and returns a line for train.log; otherwise "" (between samples:
/// one clock read). When /proc becomes unreadable it stops following and says so once. Never throws.
std::string govern_cpu_threads();

}  // namespace img2img
