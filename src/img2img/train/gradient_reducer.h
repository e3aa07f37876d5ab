#pragma once
// Data-parallel training's gradient all-reduce overlapped with backward (issue 15): the parameters of one
// network, in buckets, each bucket all-reduced as soon as backward has produced all of its gradients,
// while backward goes on with the earlier layers. After PyTorch DDP's reducer (torch/csrc/distributed/
// c10d/reducer.cpp) and Li et al., "PyTorch Distributed: Experiences on Accelerating Data Parallel
// Training", VLDB 2020 (section 3.2: gradient bucketing, overlapping computation with communication).

#include <torch/types.h>  // torch::Tensor

#include <chrono>   // std::chrono::steady_clock
#include <cstddef>  // size_t
#include <cstdint>  // int64_t
#include <memory>   // std::unique_ptr
#include <mutex>    // std::mutex
#include <vector>   // std::vector

#include "img2img/core/process_group.h"

namespace img2img {

/// Bucket sizes of a GradientReducer.
struct GradientReducerOptions {
  /// Bytes of gradients per bucket (PyTorch DDP's bucket_cap_mb: 25 MiB). A parameter larger than
  /// this gets a bucket of its own.
  int64_t bucket_bytes = 25LL << 20;
  /// Bytes of the first bucket, the last layers' gradients, which backward produces first (DDP: 1 MiB):
  /// small, so that communication starts early.
  int64_t first_bucket_bytes = 1LL << 20;
};

/// What one step of a GradientReducer took (seconds), for the loop's allreduce_seconds events.
struct ReduceTiming {
  double backward = 0;  ///< arm() to finish(): the backward pass (and whatever else the step did)
  double blocked = 0;   ///< in finish(), waiting for the all-reduces: what compute did not hide
  double in_flight = 0;  ///< wall time during which at least one bucket was being all-reduced
  /// in_flight - blocked (at least 0): the all-reduce time that ran behind backward.
  double hidden() const { return in_flight > blocked ? in_flight - blocked : 0.0; }
};

/// Averages the gradients of `parameters` over the ranks of `group`, bucket by bucket during backward.
/// Buckets hold the parameters in reverse order; each parameter's gradient hook (a leaf's fires once per
/// backward, with the gradient summed over every use of the parameter) copies it into its bucket's slot,
/// and a complete bucket is all-reduced at once, buckets strictly in order so that every rank issues the
/// same collectives in the same order. Only an armed reducer (arm(), until finish()) reacts to hooks.
class GradientReducer {
 public:
  /// Registers a gradient hook on every parameter (same order and shapes on every rank; dense tensors
  /// of one floating dtype and device). `group` must outlive this object. Throws Error for an empty or
  /// unsupported parameter list, or bucket sizes < 1.
  GradientReducer(std::vector<torch::Tensor> parameters, ProcessGroup& group,
                  const GradientReducerOptions& options = {});
  /// Waits for every all-reduce still running (their buffers are this object's) and removes the hooks.
  ~GradientReducer();
  GradientReducer(const GradientReducer&) = delete;
  GradientReducer& operator=(const GradientReducer&) = delete;

  /// Starts a step: sets every parameter's .grad to none (a .grad from the last finish() is a view of a
  /// bucket) and collects the next backward's gradients; call it before backward. An unfinished earlier
  /// step is waited for and dropped first.
  void arm();
  /// Drops an armed step that will not be finished: waits for its launched all-reduces (errors ignored)
  /// and disarms. Every rank must do the same (the models' steps are the same code on every rank).
  void cancel();
  /// Whether a step is armed and not yet finished.
  bool armed() const { return armed_; }
  /// Ends the step: parameters without a gradient count as zeros, the remaining buckets are launched in
  /// order (the last carries `poison`: this rank's step failed and it only takes part so that no peer
  /// waits), and every all-reduce is waited for. Returns the number of ranks that passed poison; when
  /// 0, each parameter's .grad holds the mean over the ranks, as a view of its bucket (valid until the
  /// next arm(); PyTorch DDP's gradient_as_bucket_view). Throws DistributedError (a lost peer)
  /// after every all-reduce of the step has ended.
  int finish(bool poison = false);
  /// The timing of the last finish().
  const ReduceTiming& last_timing() const { return timing_; }
  /// Number of buckets (the last one holds the parameters that backward reaches last).
  size_t bucket_count() const { return buckets_.size(); }

 private:
  struct Bucket {
    torch::Tensor data;   // [elements (+ 2 flags in the last bucket)], the parameters' dtype and device
    int64_t elements = 0;  // gradient elements (without the flags)
    size_t parameters = 0;  // parameters in it
    size_t missing = 0;     // parameters whose gradient has not arrived in this step
    std::unique_ptr<PendingCollective> pending;  // its all-reduce, once launched in this step
    std::chrono::steady_clock::time_point launched;
  };
  struct Slot {
    size_t bucket = 0;
    int64_t offset = 0;
    bool filled = false;  // its gradient arrived in this step
  };

  void on_gradient(size_t parameter, const torch::Tensor& grad);
  void launch_ready();  // launches complete buckets in order, all but the last
  void launch(size_t bucket);
  void drain() noexcept;  // waits for every launched bucket, errors ignored, and resets the step

  std::vector<torch::Tensor> parameters_;
  ProcessGroup& group_;
  double scale_ = 1;             // 1 / world size: each gradient is scaled as it enters its bucket
  torch::Tensor scale_tensor_;   // scale_ as a 0-dim tensor of the parameters' dtype and device (at::mul_out)
  std::vector<Bucket> buckets_;  // built once in the constructor, never resized (hooks index into it)
  std::vector<Slot> slots_;      // per parameter
  std::vector<unsigned> hooks_;  // per parameter, for Tensor::remove_hook
  std::mutex mutex_;             // hooks may fire on an autograd device thread (CUDA)
  bool armed_ = false;
  bool repeated_ = false;  // a gradient arrived for a parameter whose bucket was already launched
  size_t next_ = 0;        // next bucket to launch
  std::chrono::steady_clock::time_point armed_at_;
  ReduceTiming timing_;
};

}  // namespace img2img
