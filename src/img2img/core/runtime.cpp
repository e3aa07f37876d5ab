#include "img2img/core/runtime.h"

#include <ATen/Parallel.h>  // at::set_num_threads
#include <malloc.h>         // mallopt
#include <unistd.h>         // environ

#include <algorithm>  // std::max
#include <cstdlib>    // std::getenv, std::strtol
#include <string>     // std::to_string
#include <thread>     // std::thread::hardware_concurrency

#include "img2img/core/error.h"
#include "img2img/core/thread_governor.h"
#include "img2img/core/torch_compat.h"

namespace img2img {

torch::Device resolve_device(const std::string& device) {
  if (device == "cpu") return torch::Device(torch::kCPU);
  const bool cuda = compat::cuda_available();
  if (device == "auto") return cuda ? torch::Device(torch::kCUDA, 0) : torch::Device(torch::kCPU);
  if (!cuda)
    throw ConfigError("device '" + device + "' (device.device, or --device of infer) but CUDA is not available (" +
                      (compat::kTorch2 ? "no usable GPU" : "this libtorch is CPU-only") +
                      "). Use cpu or auto, or build against a CUDA libtorch (-DTorch_DIR=...).");
  if (device == "cuda") return torch::Device(torch::kCUDA, 0);
  const int index = std::stoi(device.substr(5));
  if (index >= compat::cuda_device_count())
    throw ConfigError("device.device = '" + device + "' but only " + std::to_string(compat::cuda_device_count()) +
                      " CUDA device(s) are visible (cuda:0..cuda:" + std::to_string(compat::cuda_device_count() - 1) +
                      ").");
  return torch::Device(torch::kCUDA, static_cast<c10::DeviceIndex>(index));
}

int cpu_cores() { return static_cast<int>(std::max(1u, std::thread::hardware_concurrency())); }

std::string cpu_threads_warning(int64_t cpu_threads, int cores) {
  if (cpu_threads <= cores) return "";
  return "device.cpu_threads = " + std::to_string(cpu_threads) + " is more than this machine's " + std::to_string(cores) +
         " core(s): the threads wait for each other and every step gets slower. Use --device.cpu_threads=0 (one "
         "thread per core) or at most " + std::to_string(cores) + ".";
}

namespace {
// The leading positive decimal number of `text` ("4", "4,2"), or 0 when there is none.
int leading_positive(const char* text) {
  if (text == nullptr) return 0;
  char* end = nullptr;
  const long value = std::strtol(text, &end, 10);
  if (end == text || value <= 0 || value > 1 << 20 || (*end != '\0' && *end != ',')) return 0;
  return static_cast<int>(value);
}
}  // namespace

int default_cpu_threads(const char* omp_num_threads, const char* local_world_size, int cores) {
  if (const int omp = leading_positive(omp_num_threads); omp > 0) return omp;
  const int processes = std::max(1, leading_positive(local_world_size));
  return std::max(1, std::max(1, cores) / processes);
}

bool threads_follow_free_cores(int64_t cpu_threads, const char* omp_num_threads, const char* local_world_size,
                               const char* world_size) {
  return cpu_threads == 0 && leading_positive(omp_num_threads) == 0 && leading_positive(local_world_size) <= 1 &&
         leading_positive(world_size) <= 1;
}

const char* omp_spin_count_for(const char* name) {
  // No libc calls: this runs before libc's own initialisation (cli/main.cpp's .preinit_array hook).
  const auto same = [](const char* a, const char* b) {
    while (*a != '\0' && *a == *b) ++a, ++b;
    return *a == '\0' && *b == '\0';
  };
  if (name == nullptr) return nullptr;
  if (same(name, "train")) return kOmpSpinCountTrain;
  for (const char* computing : {"infer", "export", "ssim", "dataset"})
    if (same(name, computing)) return kOmpSpinCount;
  return nullptr;
}

namespace {
// The value of variable `name` in `envp`, nullptr when unset. Characters only (.preinit_array, before libc's init).
const char* env_value(char* const* envp, const char* name) {
  for (; envp != nullptr && *envp != nullptr; ++envp) {
    const char* e = *envp;
    const char* n = name;
    while (*n != '\0' && *e == *n) ++e, ++n;
    if (*n == '\0' && *e == '=') return e + 1;
  }
  return nullptr;
}
}  // namespace

bool omp_wait_set_by_img2img(char* const* envp) {
  const char* spin = env_value(envp, "GOMP_SPINCOUNT");
  const char* marker = env_value(envp, kOmpSpinCountMarker);
  if (spin == nullptr || marker == nullptr || env_value(envp, "OMP_WAIT_POLICY") != nullptr) return false;
  while (*spin != '\0' && *spin == *marker) ++spin, ++marker;
  return *spin == *marker;
}

bool omp_wait_chosen_by_user(char* const* envp) {
  return (env_value(envp, "OMP_WAIT_POLICY") != nullptr || env_value(envp, "GOMP_SPINCOUNT") != nullptr) &&
         !omp_wait_set_by_img2img(envp);
}

FixedThreadsOrigin fixed_threads_origin(int64_t cpu_threads, const char* omp_num_threads, const char* local_world_size,
                                        const char* world_size) {
  FixedThreadsOrigin origin;
  origin.cpu_threads = cpu_threads;
  origin.omp_num_threads = leading_positive(omp_num_threads) > 0;
  origin.data_parallel = leading_positive(local_world_size) > 1 || leading_positive(world_size) > 1;
  return origin;
}

void configure_runtime(int64_t cpu_threads) {
  const char* omp_num_threads = std::getenv("OMP_NUM_THREADS");
  const char* local_world_size = std::getenv("LOCAL_WORLD_SIZE");
  const char* world_size = std::getenv("WORLD_SIZE");
  const int threads = cpu_threads > 0 ? static_cast<int>(cpu_threads)
                                      : default_cpu_threads(omp_num_threads, local_world_size, cpu_cores());
  at::set_num_threads(threads);
  // Auto threads follow the free cores; a fixed count (explicit, OMP_NUM_THREADS, a data-parallel rank) stays, and
  // above 1 with libgomp's poll (the user chose no wait policy) it is watched: beside busy programs it polls slow.
  if (threads_follow_free_cores(cpu_threads, omp_num_threads, local_world_size, world_size))
    start_thread_governor(threads);
  else if (threads > 1 && !omp_wait_chosen_by_user(environ))
    watch_fixed_cpu_threads(threads, fixed_threads_origin(cpu_threads, omp_num_threads, local_world_size, world_size));
  else
    start_thread_governor(0);
  // 256 MiB: keeps activation-sized blocks on the heap between steps.
  mallopt(M_MMAP_THRESHOLD, 256 * 1024 * 1024);
  mallopt(M_TRIM_THRESHOLD, 512 * 1024 * 1024);
}

}  // namespace img2img
