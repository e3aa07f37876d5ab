#include "img2img/core/runtime.h"

#include "img2img/config/run_config.h"  // DeviceConfig

#include <gtest/gtest.h>

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

}  // namespace
}  // namespace img2img
