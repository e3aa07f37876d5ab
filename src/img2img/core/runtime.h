#pragma once

#include <torch/types.h>  // torch::Device

#include <cstdint>  // int64_t
#include <string>   // std::string

namespace img2img {

/// Resolves device.device: auto -> cuda if available else cpu; cpu; cuda; cuda:N. Throws
/// ConfigError when CUDA is asked for but this build or machine has none (or N is out of range).
torch::Device resolve_device(const std::string& device);

/// Process-wide speed settings, once at start-up: intra-op threads = `cpu_threads` (device.cpu_threads) or the
/// number of cores; glibc malloc mmap/trim thresholds raised so large activation buffers are reused
/// instead of re-mapped every step (measured: 256 px step 0.51 s -> 0.38 s on 2 cores).
void configure_runtime(int64_t cpu_threads);

/// The number of cores configure_runtime counts: std::thread::hardware_concurrency(), at least 1.
int cpu_cores();

/// A warning line (without "warning: ") when `cpu_threads` (device.cpu_threads) exceeds `cores`, else "". More compute
/// threads than cores make the threads wait for each other at every operation (measured: a 32 px run of
/// 2 iterations took 46 s with cpu_threads = 1024 on 2 cores, 1 s with 2).
std::string cpu_threads_warning(int64_t cpu_threads, int cores = cpu_cores());

}  // namespace img2img
