#include "img2img/core/thread_governor.h"

#include <ATen/Parallel.h>  // at::get_num_threads
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>  // std::min
#include <fstream>    // std::ifstream
#include <sstream>    // std::ostringstream
#include <string>     // std::string
#include <vector>     // std::vector

#include "img2img/core/error.h"
#include "img2img/core/runtime.h"

namespace img2img {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

// A 2-CPU /proc/stat as Linux 6.1 writes it (proc(5): user nice system idle iowait irq softirq steal guest
// guest_nice), followed by lines that start with "cpu" letters but are no CPU line.
const char* const kProcStat =
    "cpu  1100 20 300 9000 50 7 3 40 0 0\n"
    "cpu0 600 10 200 4000 30 5 2 20 0 0\n"
    "cpu1 500 10 100 5000 20 2 1 20 0 0\n"
    "intr 123456 0 0\n"
    "ctxt 987654\n"
    "btime 1700000000\n"
    "cpufreq 1\n";

TEST(ThreadGovernorTest, ProcStatSumsBusyTicksOfTheAllowedCpus) {
  const CpuBusyTicks all = parse_proc_stat(kProcStat);
  EXPECT_EQ(all.cpus, 2);
  EXPECT_EQ(all.busy, (600 + 10 + 200 + 5 + 2) + (500 + 10 + 100 + 2 + 1));  // idle, iowait, steal, guest left out
  const CpuBusyTicks one = parse_proc_stat(kProcStat, {1});
  EXPECT_EQ(one.cpus, 1);
  EXPECT_EQ(one.busy, 500 + 10 + 100 + 2 + 1);
  // Linux 2.6.0's 7-field lines are enough.
  EXPECT_EQ(parse_proc_stat("cpu3 1 2 3 4 5 6 7\n").busy, 1 + 2 + 3 + 6 + 7);
}

TEST(ThreadGovernorTest, MalformedProcStatThrows) {
  EXPECT_THROW(parse_proc_stat("intr 1 2 3\n"), Error);
  EXPECT_THROW(parse_proc_stat(kProcStat, {5}), Error);  // none of the allowed CPUs listed
  try {
    parse_proc_stat("cpu0 1 2 3\n");
    FAIL() << "expected Error";
  } catch (const Error& e) {
    EXPECT_THAT(e.what(), HasSubstr("cpu0 1 2 3"));
    EXPECT_THAT(e.what(), HasSubstr("at least 7 tick counts"));
  }
}

TEST(ThreadGovernorTest, ProcessTicksAreUtimePlusStime) {
  // A command name with a space and a ')' inside: the fields count from the last ')'.
  const std::string stat =
      "4242 (img2img) x) R 1 4242 4242 0 -1 4194304 5000 0 12 0 731 95 0 0 20 0 3 0 100 1000000 2000 "
      "18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 0 17 1 0 0 0 0 0\n";
  EXPECT_EQ(parse_process_cpu_ticks(stat), 731 + 95);
  EXPECT_THROW(parse_process_cpu_ticks("4242 img2img R 1 2"), Error);
  EXPECT_THROW(parse_process_cpu_ticks("4242 (img2img) R 1 4242 4242 0 -1 4194304 5000"), Error);
}

TEST(ThreadGovernorTest, ThisMachinesProcFilesParse) {
  std::ifstream stat_file("/proc/stat"), self_file("/proc/self/stat");
  if (!stat_file || !self_file) GTEST_SKIP() << "no /proc on this system";
  std::ostringstream stat, self;
  stat << stat_file.rdbuf();
  self << self_file.rdbuf();
  int cpu_lines = 0;
  std::istringstream lines(stat.str());
  for (std::string line; std::getline(lines, line);)
    if (line.size() > 3 && line.compare(0, 3, "cpu") == 0 && line[3] >= '0' && line[3] <= '9') ++cpu_lines;
  EXPECT_EQ(parse_proc_stat(stat.str()).cpus, cpu_lines);
  EXPECT_GE(parse_process_cpu_ticks(self.str()), 0);
}

// Samples of a made-up machine: each sample adds `machine` and `process` busy cores over `seconds`, at 100 ticks/s.
struct Feed {
  CpuSample s;
  CpuSample next(double machine_cores, double process_cores, double seconds = 1.5) {
    s.wall_s += seconds;
    s.machine_busy += static_cast<int64_t>(machine_cores * 100 * seconds + 0.5);
    s.process += static_cast<int64_t>(process_cores * 100 * seconds + 0.5);
    return s;
  }
};

TEST(ThreadGovernorTest, AloneKeepsEveryThread) {
  Feed f;
  ThreadGovernor g(2, 2, 100, f.s);
  for (int i = 0; i < 10; ++i) EXPECT_FALSE(g.update(f.next(/*machine=*/2.1, /*process=*/1.9)));  // 0.2 others
  EXPECT_EQ(g.threads(), 2);
  EXPECT_NEAR(g.others_cores(), 0.2, 0.01);
}

TEST(ThreadGovernorTest, ABusyNeighbourTakesAThreadAfterTwoAgreeingSamples) {
  Feed f;
  ThreadGovernor g(2, 2, 100, f.s);
  EXPECT_FALSE(g.update(f.next(2.0, 1.0)));  // the neighbour uses 1 core: target 1, first sample
  EXPECT_EQ(g.threads(), 2);
  EXPECT_TRUE(g.update(f.next(2.0, 1.0)));  // second agreeing sample
  EXPECT_EQ(g.threads(), 1);
  EXPECT_NEAR(g.others_cores(), 1.0, 0.01);
  for (int i = 0; i < 5; ++i) EXPECT_FALSE(g.update(f.next(2.0, 1.0)));  // it stays
  EXPECT_EQ(g.threads(), 1);
  // The neighbour ends: both threads come back after two samples.
  EXPECT_FALSE(g.update(f.next(1.0, 1.0)));
  EXPECT_TRUE(g.update(f.next(1.0, 1.0)));
  EXPECT_EQ(g.threads(), 2);
}

TEST(ThreadGovernorTest, AlternatingTargetsChangeNothing) {
  Feed f;
  ThreadGovernor g(2, 2, 100, f.s);
  for (int i = 0; i < 10; ++i) EXPECT_FALSE(g.update(i % 2 ? f.next(2.0, 1.0) : f.next(1.2, 1.0))) << i;
  EXPECT_EQ(g.threads(), 2);
}

TEST(ThreadGovernorTest, TargetIsClampedToOneAndTheAutoCount) {
  Feed f;
  ThreadGovernor g(4, 8, 100, f.s);  // affinity or OMP: 4 threads at most on 8 cores
  g.update(f.next(8.0, 0.5));        // others 7.5 -> round 8 -> 0 free -> 1
  EXPECT_TRUE(g.update(f.next(8.0, 0.5)));
  EXPECT_EQ(g.threads(), 1);
  g.update(f.next(3.4, 1.0));  // others 2.4 -> 6 free -> 4
  EXPECT_TRUE(g.update(f.next(3.4, 1.0)));
  EXPECT_EQ(g.threads(), 4);
  // Our ticks counted ahead of the machine's: others are 0, not negative.
  g.update(f.next(1.0, 1.2));
  EXPECT_EQ(g.others_cores(), 0.0);
}

TEST(ThreadGovernorTest, StalledClockAndBadArgumentsAreHandled) {
  Feed f;
  ThreadGovernor g(2, 2, 100, f.s);
  CpuSample same = f.s;
  same.machine_busy += 1000;
  EXPECT_FALSE(g.update(same));  // no wall time passed: ignored
  EXPECT_EQ(g.others_cores(), 0.0);
  EXPECT_THROW(ThreadGovernor(0, 2, 100, f.s), Error);
  EXPECT_THROW(ThreadGovernor(2, 0, 100, f.s), Error);
  EXPECT_THROW(ThreadGovernor(2, 2, 0, f.s), Error);
  EXPECT_THROW(ThreadGovernor(2, 2, 100, f.s, 0), Error);
}

// Two governed trainings on 2 cores, the scheduler sharing the cores by thread (CFS): a process with t of the
// T runnable threads gets min(t, 2 t / T) cores. They start with 2 threads each, one 0.7 s after the other,
// and must settle at 1 thread each and stay there.
TEST(ThreadGovernorTest, TwoGovernedTrainingsSettleAtOneThreadEach) {
  const double step = 0.1;
  CpuSample a, b;
  b.wall_s = 0.7;
  ThreadGovernor ga(2, 2, 100, a), gb(2, 2, 100, b);
  double next_a = 1.5, next_b = 2.2;
  std::vector<int> history_a, history_b;
  for (double t = 0; t < 60; t += step) {
    const int ta = ga.threads(), tb = t >= 0.7 ? gb.threads() : 0;
    const double runnable = ta + tb;
    const double use_a = std::min<double>(ta, 2.0 * ta / runnable), use_b = std::min<double>(tb, 2.0 * tb / runnable);
    const auto ticks = [&](double cores) { return static_cast<int64_t>(cores * 100 * step + 0.5); };
    a.machine_busy += ticks(use_a + use_b), b.machine_busy += ticks(use_a + use_b);
    a.process += ticks(use_a), b.process += ticks(use_b);
    a.wall_s = b.wall_s = t + step;
    if (t + step >= next_a) ga.update(a), next_a += 1.5, history_a.push_back(ga.threads());
    if (t + step >= next_b) gb.update(b), next_b += 1.5, history_b.push_back(gb.threads());
  }
  ASSERT_GT(history_a.size(), 30u);
  ASSERT_GT(history_b.size(), 30u);
  // Each moved at its second sample (A at 3.0 s, B at 3.7 s), then never again.
  EXPECT_EQ(history_a[0], 2);
  EXPECT_EQ(history_b[0], 2);
  for (size_t i = 1; i < history_a.size(); ++i) EXPECT_EQ(history_a[i], 1) << "A, sample " << i;
  for (size_t i = 1; i < history_b.size(); ++i) EXPECT_EQ(history_b[i], 1) << "B, sample " << i;
}

TEST(ThreadGovernorTest, OnlyAutoThreadsOutsideDataParallelRunsFollowFreeCores) {
  EXPECT_TRUE(threads_follow_free_cores(0, nullptr, nullptr, nullptr));
  EXPECT_TRUE(threads_follow_free_cores(0, "", "1", "1"));       // one process; empty OMP_NUM_THREADS ignored
  EXPECT_TRUE(threads_follow_free_cores(0, "many", nullptr, nullptr));  // garbage: as default_cpu_threads
  EXPECT_FALSE(threads_follow_free_cores(2, nullptr, nullptr, nullptr));  // device.cpu_threads chosen
  EXPECT_FALSE(threads_follow_free_cores(0, "4", nullptr, nullptr));      // OMP_NUM_THREADS chosen
  EXPECT_FALSE(threads_follow_free_cores(0, nullptr, "2", "2"));          // torchrun, 2 ranks on this machine
  EXPECT_FALSE(threads_follow_free_cores(0, nullptr, "1", "2"));          // 1 rank here, 2 in all
}

// A fixed count is never changed; it is warned about once, when other programs keep the cores busy for
// kFixedThreadsBusySamples samples in a row (free cores as the governor counts them, fewer than the count).
TEST(FixedThreadsWatchTest, WarnsOnceWhenOthersKeepTheCoresBusy) {
  ASSERT_EQ(kFixedThreadsBusySamples, 3);
  Feed f;
  FixedThreadsWatch w(2, 2, 100, f.s);
  for (int i = 0; i < 5; ++i) EXPECT_FALSE(w.update(f.next(/*machine=*/2.1, /*process=*/1.9))) << i;  // alone
  // A blip of two busy samples (one core taken) is no reason to warn; the count starts over after it.
  EXPECT_FALSE(w.update(f.next(2.0, 1.0)));
  EXPECT_FALSE(w.update(f.next(2.0, 1.0)));
  EXPECT_FALSE(w.update(f.next(2.0, 1.8)));
  EXPECT_FALSE(w.update(f.next(2.0, 1.0)));
  EXPECT_FALSE(w.update(f.next(2.0, 1.0)));
  EXPECT_TRUE(w.update(f.next(2.0, 0.7)));  // the third busy sample in a row
  EXPECT_NEAR(w.others_cores(), 1.3, 0.01);
  for (int i = 0; i < 5; ++i) EXPECT_FALSE(w.update(f.next(2.0, 0.7))) << i;  // once only
}

TEST(FixedThreadsWatchTest, SlowStepsCountTheBusyWallTimeNotTheSamples) {
  // Samples are taken between training steps: with 2.5 s steps, two busy samples cover 5 s >= 3 x 1.5 s.
  Feed f;
  FixedThreadsWatch w(2, 2, 100, f.s);
  EXPECT_FALSE(w.update(f.next(2.0, 1.0, /*seconds=*/2.5)));
  EXPECT_FALSE(w.update(f.next(2.1, 1.9, 2.5)));  // alone again: the busy time starts over
  EXPECT_FALSE(w.update(f.next(2.0, 1.0, 2.5)));
  EXPECT_TRUE(w.update(f.next(2.0, 1.0, 2.5)));
  // One 6 s step spent beside busy programs is enough on its own; a 4 s one is not.
  Feed g;
  FixedThreadsWatch once(2, 2, 100, g.s);
  EXPECT_FALSE(once.update(g.next(2.0, 1.0, 4.0)));
  EXPECT_FALSE(once.update(g.next(2.1, 1.9, 6.0)));
  EXPECT_TRUE(once.update(g.next(2.0, 1.0, 6.0)));
}

TEST(FixedThreadsWatchTest, BusyMeansFewerFreeCoresThanTheCount) {
  // 4 fixed threads on 8 cores: others on 3 cores leave 5 free, enough; on 5-6 cores too few, whatever the
  // exact number each sample finds (the governor would need agreeing samples to move; the watch does not).
  Feed f;
  FixedThreadsWatch w(4, 8, 100, f.s);
  for (int i = 0; i < 5; ++i) EXPECT_FALSE(w.update(f.next(7.0, 4.0))) << i;  // others 3.0: 5 free
  EXPECT_FALSE(w.update(f.next(8.0, 3.0)));  // others 5.0: 3 free
  EXPECT_FALSE(w.update(f.next(8.0, 2.0)));  // others 6.0: 2 free
  EXPECT_TRUE(w.update(f.next(7.9, 2.9)));
  // A count above the cores counts as the cores: alone it never fires (cpu_threads_warning covers that case).
  Feed g;
  FixedThreadsWatch above(4, 2, 100, g.s);
  for (int i = 0; i < 10; ++i) EXPECT_FALSE(above.update(g.next(2.0, 1.9))) << i;
  // One core: nothing to warn about, however busy.
  Feed h;
  FixedThreadsWatch one_core(2, 1, 100, h.s);
  for (int i = 0; i < 10; ++i) EXPECT_FALSE(one_core.update(h.next(1.0, 0.1))) << i;
}

TEST(FixedThreadsWatchTest, StalledClockAndBadArgumentsAreHandled) {
  Feed f;
  FixedThreadsWatch w(2, 2, 100, f.s);
  EXPECT_FALSE(w.update(f.next(2.0, 1.0)));
  EXPECT_FALSE(w.update(f.next(2.0, 1.0)));
  CpuSample same = f.s;
  same.machine_busy += 1000;
  EXPECT_FALSE(w.update(same));  // no wall time passed: no sample, busy or not
  EXPECT_TRUE(w.update(f.next(2.0, 1.0)));
  EXPECT_THROW(FixedThreadsWatch(0, 2, 100, f.s), Error);
  EXPECT_THROW(FixedThreadsWatch(2, 0, 100, f.s), Error);
  EXPECT_THROW(FixedThreadsWatch(2, 2, 0, f.s), Error);
  EXPECT_THROW(FixedThreadsWatch(2, 2, 100, f.s, 0), Error);
}

TEST(FixedThreadsWatchTest, WarningNamesTheValueTheCostAndBothFixes) {
  FixedThreadsOrigin config;
  config.cpu_threads = 2;
  EXPECT_EQ(fixed_threads_busy_warning(2, config, 1.27, 2),
            "2 fixed CPU threads (device.cpu_threads = 2) while other programs use 1.3 of the 2 cores: OpenMP threads "
            "poll while they wait and take the time the others need; measured beside busy programs, a run took 21 min "
            "instead of 3 (7x slower; docs/training_controls.md). Either set device.cpu_threads = 0 (follows the free "
            "cores), or start img2img with OMP_WAIT_POLICY=PASSIVE (the same threads, results the same bit for bit).");
  FixedThreadsOrigin omp;
  omp.omp_num_threads = true;
  const std::string by_omp = fixed_threads_busy_warning(3, omp, 2.0, 4);
  EXPECT_THAT(by_omp, HasSubstr("3 fixed CPU threads (OMP_NUM_THREADS=3) while other programs use 2.0 of the 4 cores"));
  EXPECT_THAT(by_omp, HasSubstr("Either unset OMP_NUM_THREADS (the count then follows the free cores), or start "
                                "img2img with OMP_WAIT_POLICY=PASSIVE"));
  omp.cpu_threads = 3;
  EXPECT_THAT(fixed_threads_busy_warning(3, omp, 2.0, 4),
              HasSubstr("(device.cpu_threads = 3) while other programs use 2.0 of the 4 cores: OpenMP threads poll"));
  EXPECT_THAT(fixed_threads_busy_warning(3, omp, 2.0, 4),
              HasSubstr("Either set device.cpu_threads = 0 and unset OMP_NUM_THREADS (the count then follows"));
  // A data-parallel process never follows the free cores: the way out is fewer threads, or the passive wait.
  FixedThreadsOrigin rank;
  rank.data_parallel = true;
  const std::string by_rank = fixed_threads_busy_warning(8, rank, 9.4, 16);
  EXPECT_THAT(by_rank, HasSubstr("8 fixed CPU threads (a data-parallel process's share of the cores) while other "
                                 "programs use 9.4 of the 16 cores"));
  EXPECT_THAT(by_rank, HasSubstr("Either give each process fewer threads (device.cpu_threads; a data-parallel process "
                                 "never follows the free cores), or start img2img with OMP_WAIT_POLICY=PASSIVE"));
  EXPECT_THAT(by_rank, Not(HasSubstr("device.cpu_threads = 0")));
}

TEST(FixedThreadsWatchTest, OnlyAFixedCountAboveOneIsWatched) {
  // configure_runtime: 1 thread is never watched (nothing polls); a watch of 2 threads starts on Linux with 2+ CPUs.
  EXPECT_FALSE(watch_fixed_cpu_threads(1, FixedThreadsOrigin{}));
  EXPECT_EQ(fixed_cpu_threads_warning(), "");
  if (cpu_cores() >= 2) EXPECT_TRUE(watch_fixed_cpu_threads(2, FixedThreadsOrigin{}));
  EXPECT_FALSE(cpu_threads_governed());  // watched, not followed
  EXPECT_EQ(fixed_cpu_threads_warning(), "");  // the first sample is kThreadSampleSeconds away
  EXPECT_EQ(govern_cpu_threads(), "");
  // Following the free cores stops the watch.
  EXPECT_TRUE(start_thread_governor(1));
  EXPECT_TRUE(cpu_threads_governed());
  EXPECT_FALSE(start_thread_governor(0));
}

TEST(ThreadGovernorTest, FixedCountsStartNoGovernor) {
  // configure_runtime with an explicit count: nothing to follow, govern_cpu_threads says nothing.
  configure_runtime(1);
  EXPECT_EQ(at::get_num_threads(), 1);
  EXPECT_EQ(govern_cpu_threads(), "");
  EXPECT_EQ(at::get_num_threads(), 1);
  // On Linux the governor starts; its first sample is kThreadSampleSeconds away, so nothing changes yet.
  EXPECT_TRUE(start_thread_governor(1));
  EXPECT_EQ(govern_cpu_threads(), "");
  EXPECT_EQ(at::get_num_threads(), 1);
  EXPECT_FALSE(start_thread_governor(0));
  EXPECT_EQ(govern_cpu_threads(), "");
}

}  // namespace
}  // namespace img2img
