#pragma once

#include <torch/types.h>  // torch::Device

#include <cstdint>  // int64_t
#include <string>   // std::string

namespace img2img {

/// Resolves device.device: auto -> cuda if available else cpu; cpu; cuda; cuda:N. Throws
/// ConfigError when CUDA is asked for but this build or machine has none (or N is out of range).
torch::Device resolve_device(const std::string& device);

/// Process-wide speed settings, once at start-up: intra-op threads = `cpu_threads` (device.cpu_threads) or, for
/// 0, default_cpu_threads() of this process's environment, which then follows the free cores (start_thread_governor,
/// govern_cpu_threads) when threads_follow_free_cores(); glibc malloc mmap/trim thresholds raised so large activation
/// buffers are reused instead of re-mapped every step (measured: 256 px step 0.51 s -> 0.38 s on 2 cores).
void configure_runtime(int64_t cpu_threads);

/// The number of cores configure_runtime counts: std::thread::hardware_concurrency(), at least 1.
int cpu_cores();

/// The thread count of device.cpu_threads = 0 (issue 15): OMP_NUM_THREADS when it is a positive number (torchrun
/// sets 1; a list "4,2" counts its first entry), else `cores` divided among the processes of this machine
/// (LOCAL_WORLD_SIZE, set by torchrun), at least 1. Arguments are the variables' values, nullptr when unset.
int default_cpu_threads(const char* omp_num_threads, const char* local_world_size, int cores);

/// Whether device.cpu_threads = `cpu_threads` lets the count follow the free cores (core/thread_governor.h): 0 (auto),
/// no positive OMP_NUM_THREADS, and neither LOCAL_WORLD_SIZE nor WORLD_SIZE above 1 (a data-parallel rank keeps
/// its fixed share, docs/distributed.md). Arguments are the variables' values, nullptr when unset.
bool threads_follow_free_cores(int64_t cpu_threads, const char* omp_num_threads, const char* local_world_size,
                               const char* world_size);

/// GOMP_SPINCOUNT that img2img gives libgomp unless the user chose a wait policy: how many times (about 1 pause
/// each) an idle OpenMP thread polls before it sleeps on a futex (libgomp manual: default 300000 when
/// OMP_WAIT_POLICY is unset, 0 when PASSIVE). Chosen by bench/busy_machine_bench; see docs/training_controls.md.
inline constexpr const char* kOmpSpinCount = "3000";

/// Whether the environment `envp` (NULL-terminated "NAME=value" entries) sets a libgomp wait variable,
/// OMP_WAIT_POLICY or GOMP_SPINCOUNT (even empty): then the user's choice wins and img2img adds nothing.
bool omp_wait_chosen_by_user(char* const* envp);

/// A warning line (without "warning: ") when `cpu_threads` (device.cpu_threads) exceeds `cores`, else "". More compute
/// threads than cores make the threads wait for each other at every operation (measured: a 32 px run of
/// 2 iterations took 46 s with cpu_threads = 1024 on 2 cores, 1 s with 2).
std::string cpu_threads_warning(int64_t cpu_threads, int cores = cpu_cores());

}  // namespace img2img
