#pragma once

#include <torch/types.h>  // torch::Device

#include <cstdint>  // int64_t
#include <string>   // std::string

#include "img2img/core/thread_governor.h"  // FixedThreadsOrigin

namespace img2img {

/// Resolves device.device: auto -> cuda if available else cpu; cpu; cuda; cuda:N. Throws
/// ConfigError when CUDA is asked for but this build or machine has none (or N is out of range).
torch::Device resolve_device(const std::string& device);

/// Process-wide speed settings, once at start-up: intra-op threads = `cpu_threads` (device.cpu_threads) or, for
/// 0, default_cpu_threads() of this process's environment, which then follows the free cores (start_thread_governor,
/// govern_cpu_threads) when threads_follow_free_cores(); a fixed count above 1 that polls (no wait policy of the
/// user's) is watched instead (watch_fixed_cpu_threads); glibc malloc mmap/trim thresholds raised so large activation
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

/// What fixed a count that does not follow the free cores (threads_follow_free_cores false), from the same variables
/// (nullptr when unset); the busy-machine warning (fixed_threads_busy_warning) names it and the way out.
FixedThreadsOrigin fixed_threads_origin(int64_t cpu_threads, const char* omp_num_threads,
                                        const char* local_world_size, const char* world_size);

/// GOMP_SPINCOUNT that img2img gives libgomp for infer, export, ssim and dataset unless the user chose a wait
/// policy: how many times (about 1 pause each) an idle OpenMP thread polls before it sleeps on a futex (libgomp
/// manual: default 300000 when OMP_WAIT_POLICY is unset, 0 when PASSIVE). A bounded poll leaves the time slices
/// to a busy machine's other programs. Chosen by bench/busy_machine_bench; see docs/training_controls.md.
inline constexpr const char* kOmpSpinCount = "3000";

/// GOMP_SPINCOUNT for train (same rules): its automatic thread count follows the free cores (thread_governor.h),
/// down to 1 thread, which never polls, when other programs are busy, so it keeps libgomp's own poll, the fastest
/// alone. A fixed device.cpu_threads > 1 beside busy programs polls as before issue 16 (docs/training_controls.md).
inline constexpr const char* kOmpSpinCountTrain = "300000";

/// The GOMP_SPINCOUNT img2img sets for subcommand `name` (argv[1]) when the user chose no wait policy:
/// kOmpSpinCountTrain for train, kOmpSpinCount for infer, export, ssim and dataset; nullptr for everything
/// else (config, --help, --version, a mistyped name: no OpenMP loop, no re-exec). Compares characters only, so it
/// is safe in .preinit_array before libc is initialised.
const char* omp_spin_count_for(const char* name);

/// Set by the re-exec (cli/main.cpp) beside the GOMP_SPINCOUNT it adds, to the same value, so that a look at the
/// environment later tells img2img's GOMP_SPINCOUNT from the user's (omp_wait_set_by_img2img).
inline constexpr const char* kOmpSpinCountMarker = "IMG2IMG_GOMP_SPINCOUNT";

/// Whether the environment `envp` (NULL-terminated "NAME=value" entries) holds the GOMP_SPINCOUNT img2img's re-exec
/// added: kOmpSpinCountMarker with the same value, and no OMP_WAIT_POLICY. Compares characters only (.preinit_array).
bool omp_wait_set_by_img2img(char* const* envp);

/// Whether the environment `envp` sets a libgomp wait variable, OMP_WAIT_POLICY or GOMP_SPINCOUNT (even empty),
/// other than by img2img's re-exec (omp_wait_set_by_img2img): then the user's choice wins and img2img adds nothing,
/// and a fixed thread count gets no busy-machine warning. Compares characters only (.preinit_array).
bool omp_wait_chosen_by_user(char* const* envp);

/// A warning line (without "warning: ") when `cpu_threads` (device.cpu_threads) exceeds `cores`, else "". More compute
/// threads than cores make the threads wait for each other at every operation (measured: a 32 px run of
/// 2 iterations took 46 s with cpu_threads = 1024 on 2 cores, 1 s with 2).
std::string cpu_threads_warning(int64_t cpu_threads, int cores = cpu_cores());

}  // namespace img2img
