#pragma once
// Data-parallel training's process group (issue 15, docs/distributed.md): the launcher's variables and
// the collectives the training loop needs, on PyTorch's c10d (ProcessGroupGloo over a TCPStore laid out
// as Python's torch.distributed lays it out, so a Python rank can join). This header includes no c10d
// header: only core/process_group.cpp does (and only where the build found them), so the optimisers and
// the loop compile without them.

#include <torch/types.h>  // torch::Tensor, torch::Device

#include <chrono>      // std::chrono::steady_clock
#include <cstdint>     // int64_t
#include <functional>  // std::function
#include <memory>      // std::unique_ptr
#include <optional>    // std::optional
#include <string>      // std::string
#include <vector>      // std::vector

#include "img2img/core/error.h"

namespace img2img {

/// A peer rank stopped or went silent, or the group could not be formed. The message names the rank
/// (when known) and what to do.
class DistributedError : public Error {
 public:
  using Error::Error;
};

/// The variables a launcher sets for each process (PyTorch's names: torchrun, Slurm via torchrun,
/// Kubernetes PyTorchJob, or set by hand).
struct LaunchEnv {
  int rank = 0;              ///< RANK: 0..world_size-1; rank 0 writes the run folder
  int world_size = 1;        ///< WORLD_SIZE: processes in the group
  int local_rank = 0;        ///< LOCAL_RANK: index on this machine (0 if unset)
  int local_world_size = 1;  ///< LOCAL_WORLD_SIZE: processes on this machine (1 if unset)
  std::string master_addr;   ///< MASTER_ADDR: host of the store (rank 0 or torchrun's agent)
  int master_port = 0;       ///< MASTER_PORT: its port, 1..65535
  /// TORCHELASTIC_USE_AGENT_STORE=True: torchrun's agent serves the store; every rank is a client and
  /// prefixes its keys with /worker/attempt_<restart_count> (as torch.distributed.rendezvous does).
  bool agent_store = false;
  int restart_count = 0;  ///< TORCHELASTIC_RESTART_COUNT
};

/// The launch variables read through `get` (std::getenv by default). std::nullopt when WORLD_SIZE is
/// unset: a run alone, as before. Throws ConfigError naming the variable for a value that is not a
/// number in range, a RANK outside 0..WORLD_SIZE-1, or a missing MASTER_ADDR / MASTER_PORT /
/// RANK when WORLD_SIZE > 1.
std::optional<LaunchEnv> launch_env(const std::function<const char*(const char*)>& get = {});

/// How to form the group: distributed.backend ("auto", "gloo", "nccl"), distributed.timeout in
/// seconds, and the training device (auto picks NCCL only for CUDA, where the build has it).
struct GroupOptions {
  std::string backend = "auto";
  double timeout_seconds = 300.0;
  torch::Device device = torch::kCPU;
};

/// Whether this build contains the c10d process group (Gloo headers were found at build time).
bool distributed_in_build();

/// A collective started by ProcessGroup::start_sum, running in the group's background threads (c10d's
/// Work). Its buffer must not be read or written until wait() returned; the destructor waits for it
/// (errors ignored), so a buffer is never written after the handle is gone.
class PendingCollective {
 public:
  virtual ~PendingCollective() = default;
  /// Blocks until the collective is done; its buffer then holds the result. Throws DistributedError
  /// naming the lost rank, as the blocking collectives. Calling it again returns (or throws) at once.
  virtual void wait() = 0;
  /// When the collective finished (steady clock), read after wait(): for timing only.
  virtual std::chrono::steady_clock::time_point finished_at() const = 0;
};

/// The collectives of a data-parallel run, on every rank in the same order. Each throws
/// DistributedError naming the lost rank when a peer closed its connection (at once) or stayed silent
/// for the group's timeout.
class ProcessGroup {
 public:
  virtual ~ProcessGroup() = default;
  virtual int rank() const = 0;
  virtual int size() const = 0;
  /// Replaces each tensor by its mean over the ranks, in one collective (the tensors are packed into one
  /// float buffer; same shapes and order on every rank). `poison`: this rank's step failed (a
  /// non-finite loss) and it only takes part so that no peer waits; returns the number of ranks that
  /// passed poison = true (then the tensors hold no meaningful values).
  virtual int average(const std::vector<torch::Tensor>& tensors, bool poison = false) = 0;
  /// Starts the element-wise sum over the ranks of `buffer` (contiguous; same shape and dtype on every
  /// rank), written into `buffer` in place, and returns without waiting (PyTorch DDP's reducer launches
  /// its bucket all-reduces the same way). Counts as issued now for the every-rank-same-order rule.
  virtual std::unique_ptr<PendingCollective> start_sum(const torch::Tensor& buffer) = 0;
  /// Copies rank `root`'s tensors into every rank's, in one collective (packed as in average).
  virtual void broadcast(const std::vector<torch::Tensor>& tensors, int root = 0) = 0;
  /// Element-wise sum of `values` over the ranks (small vectors: flags, statistics), as float64.
  virtual std::vector<double> sum(const std::vector<double>& values) = 0;
  /// Rank `root`'s `text` on every rank.
  virtual std::string broadcast_string(const std::string& text, int root = 0) = 0;
};

/// Joins the group `env` describes (rendezvous at MASTER_ADDR:MASTER_PORT, Gloo device on
/// GLOO_SOCKET_IFNAME, else 127.0.0.1 when MASTER_ADDR is a loopback address, else the address this
/// machine's hostname resolves to). Blocks until all env.world_size ranks joined or the timeout passed.
/// Throws DistributedError (timeout, unreachable store, a build without c10d: "distributed training is
/// not in this build") or ConfigError (backend nccl without NCCL).
std::unique_ptr<ProcessGroup> join_process_group(const LaunchEnv& env, const GroupOptions& options);

}  // namespace img2img
