#include "img2img/core/runtime.h"

#include "img2img/config/run_config.h"  // DeviceConfig

#include <gtest/gtest.h>

#include <string>  // std::string

namespace img2img {
namespace {

TEST(RuntimeTest, CpuThreadsWarningOnlyAboveTheCoreCount) {
  DeviceConfig config;
  config.cpu_threads = 0;  // one per core
  EXPECT_EQ(cpu_threads_warning(config.cpu_threads, 2), "");
  config.cpu_threads = 2;
  EXPECT_EQ(cpu_threads_warning(config.cpu_threads, 2), "");
  config.cpu_threads = 1;
  EXPECT_EQ(cpu_threads_warning(config.cpu_threads, 2), "");
  config.cpu_threads = 1024;
  EXPECT_EQ(cpu_threads_warning(config.cpu_threads, 2),
            "device.cpu_threads = 1024 is more than this machine's 2 core(s): the threads wait for each other and "
            "every step gets slower. Use --device.cpu_threads=0 (one thread per core) or at most 2.");
  config.cpu_threads = 3;
  EXPECT_NE(cpu_threads_warning(config.cpu_threads, 2).find("device.cpu_threads = 3"), std::string::npos);
}

TEST(RuntimeTest, CpuCoresIsAtLeastOne) { EXPECT_GE(cpu_cores(), 1); }

TEST(RuntimeTest, DefaultCpuThreadsHonoursOmpNumThreads) {
  EXPECT_EQ(default_cpu_threads("1", nullptr, 16), 1);  // torchrun's OMP_NUM_THREADS=1
  EXPECT_EQ(default_cpu_threads("3", "4", 16), 3);      // wins over the division by LOCAL_WORLD_SIZE
  EXPECT_EQ(default_cpu_threads("4,2", nullptr, 16), 4);  // a nested list: the outer level
  EXPECT_EQ(default_cpu_threads("", nullptr, 16), 16);  // empty, zero or garbage: ignored
  EXPECT_EQ(default_cpu_threads("0", nullptr, 16), 16);
  EXPECT_EQ(default_cpu_threads("many", nullptr, 16), 16);
}

TEST(RuntimeTest, DefaultCpuThreadsDividesTheCoresAmongLocalProcesses) {
  EXPECT_EQ(default_cpu_threads(nullptr, nullptr, 16), 16);
  EXPECT_EQ(default_cpu_threads(nullptr, "1", 16), 16);
  EXPECT_EQ(default_cpu_threads(nullptr, "2", 16), 8);
  EXPECT_EQ(default_cpu_threads(nullptr, "3", 16), 5);
  EXPECT_EQ(default_cpu_threads(nullptr, "2", 2), 1);  // two ranks on 2 cores: one each
  EXPECT_EQ(default_cpu_threads(nullptr, "4", 2), 1);  // never 0
  EXPECT_EQ(default_cpu_threads(nullptr, "x", 2), 2);
}

TEST(RuntimeTest, OmpWaitOfTheUserWins) {
  char home[] = "HOME=/root", threads[] = "OMP_NUM_THREADS=1", policy[] = "OMP_WAIT_POLICY=PASSIVE",
       spin[] = "GOMP_SPINCOUNT=", prefix[] = "GOMP_SPINCOUNTER=1";
  char* none[] = {home, threads, prefix, nullptr};  // the thread count is no wait policy
  char* with_policy[] = {home, policy, nullptr};
  char* with_spin[] = {spin, home, nullptr};  // even empty
  EXPECT_FALSE(omp_wait_chosen_by_user(none));
  EXPECT_FALSE(omp_wait_chosen_by_user(nullptr));
  EXPECT_TRUE(omp_wait_chosen_by_user(with_policy));
  EXPECT_TRUE(omp_wait_chosen_by_user(with_spin));
}

// The re-exec adds GOMP_SPINCOUNT and the marker with the same value: that GOMP_SPINCOUNT is img2img's, not the
// user's (a fixed count is then watched); any other GOMP_SPINCOUNT or an OMP_WAIT_POLICY is the user's.
TEST(RuntimeTest, OmpWaitOfTheReExecIsToldFromTheUsers) {
  char home[] = "HOME=/root", ours[] = "GOMP_SPINCOUNT=300000", marker[] = "IMG2IMG_GOMP_SPINCOUNT=300000",
       other_marker[] = "IMG2IMG_GOMP_SPINCOUNT=3000", users[] = "GOMP_SPINCOUNT=3000",
       policy[] = "OMP_WAIT_POLICY=PASSIVE";
  ASSERT_STREQ(kOmpSpinCountMarker, "IMG2IMG_GOMP_SPINCOUNT");
  char* reexec[] = {home, ours, marker, nullptr};
  EXPECT_TRUE(omp_wait_set_by_img2img(reexec));
  EXPECT_FALSE(omp_wait_chosen_by_user(reexec));
  char* user_spin[] = {users, marker, home, nullptr};  // a value other than the marker's: the user's
  EXPECT_FALSE(omp_wait_set_by_img2img(user_spin));
  EXPECT_TRUE(omp_wait_chosen_by_user(user_spin));
  char* user_policy[] = {ours, marker, policy, nullptr};  // a policy beside ours (e.g. exported later): the user's
  EXPECT_FALSE(omp_wait_set_by_img2img(user_policy));
  EXPECT_TRUE(omp_wait_chosen_by_user(user_policy));
  char* marker_only[] = {other_marker, home, nullptr};  // no GOMP_SPINCOUNT: nothing chosen, nothing set
  EXPECT_FALSE(omp_wait_set_by_img2img(marker_only));
  EXPECT_FALSE(omp_wait_chosen_by_user(marker_only));
  char* longer[] = {users, other_marker, nullptr};  // "3000" against "3000": equal
  EXPECT_TRUE(omp_wait_set_by_img2img(longer));
  char* prefix[] = {ours, other_marker, nullptr};  // "300000" against "3000": not equal
  EXPECT_FALSE(omp_wait_set_by_img2img(prefix));
  EXPECT_FALSE(omp_wait_set_by_img2img(nullptr));
}

TEST(RuntimeTest, FixedThreadsOriginNamesWhatFixedTheCount) {
  const FixedThreadsOrigin config = fixed_threads_origin(2, nullptr, nullptr, nullptr);
  EXPECT_EQ(config.cpu_threads, 2);
  EXPECT_FALSE(config.omp_num_threads);
  EXPECT_FALSE(config.data_parallel);
  const FixedThreadsOrigin omp = fixed_threads_origin(0, "2", "", "1");
  EXPECT_TRUE(omp.omp_num_threads);
  EXPECT_FALSE(omp.data_parallel);
  EXPECT_FALSE(fixed_threads_origin(0, "many", nullptr, nullptr).omp_num_threads);  // ignored, as default_cpu_threads
  EXPECT_TRUE(fixed_threads_origin(0, nullptr, "2", "2").data_parallel);  // torchrun, 2 ranks on this machine
  EXPECT_TRUE(fixed_threads_origin(4, nullptr, "1", "2").data_parallel);  // 1 rank here, 2 in all
}

TEST(RuntimeTest, SpinCountIsAPlainNumber) {
  for (const std::string spin : {kOmpSpinCount, kOmpSpinCountTrain}) {
    EXPECT_FALSE(spin.empty());
    EXPECT_EQ(spin.find_first_not_of("0123456789"), std::string::npos) << spin;
  }
}

TEST(RuntimeTest, SpinCountPerSubcommand) {
  EXPECT_STREQ(omp_spin_count_for("train"), kOmpSpinCountTrain);
  for (const char* name : {"infer", "export", "ssim", "dataset"}) EXPECT_STREQ(omp_spin_count_for(name), kOmpSpinCount);
  for (const char* name : {"config", "--help", "--version", "trai", "trains", "", "-h"})
    EXPECT_EQ(omp_spin_count_for(name), nullptr) << name;
  EXPECT_EQ(omp_spin_count_for(nullptr), nullptr);
}

}  // namespace
}  // namespace img2img
