#pragma once
// Background decoding of batches for data streamed from disk (data.storage = automatic when the
// decoded set exceeds the memory budget). Generic over what a sample decodes to, so paired and
// unpaired data can share it.

#include <torch/types.h>  // torch::Tensor

#include <condition_variable>  // std::condition_variable
#include <cstdint>             // int64_t
#include <exception>           // std::exception_ptr
#include <functional>          // std::function
#include <mutex>               // std::mutex
#include <thread>              // std::thread
#include <vector>              // std::vector

namespace img2img {

/// Decodes the samples of a pass's batches ahead of their use on background threads, at most
/// `depth` batches beyond the one being consumed. Results never depend on the thread count:
/// next() returns the batches in the order given to start(), each sample at its place.
/// Example: `BatchPrefetcher p(decode, 4, 4); p.start({{3, 1}, {0, 2}}); auto b = p.next();`
class BatchPrefetcher {
 public:
  /// Decodes sample `index` into its tensors (e.g. {input, reference}, each [C, S, S]). Called
  /// concurrently from the worker threads; may throw (the exception reaches next()).
  using Decoder = std::function<std::vector<torch::Tensor>(int64_t index)>;

  /// `threads` = 0: next() decodes on the calling thread. `depth` >= 1: batches decoded ahead.
  BatchPrefetcher(Decoder decode, int64_t threads, int64_t depth);
  /// Stops and joins the threads (work in flight is discarded).
  ~BatchPrefetcher();
  BatchPrefetcher(const BatchPrefetcher&) = delete;
  BatchPrefetcher& operator=(const BatchPrefetcher&) = delete;

  /// Queues one pass: non-empty `batches` of sample indices, returned by next() in this order.
  /// Discards whatever an earlier pass left undelivered.
  void start(std::vector<std::vector<int64_t>> batches);
  /// The next batch of the pass: for each decoder output, the batch's samples stacked ([B, ...]).
  /// Blocks until it is decoded. Rethrows the first exception the decoder threw for one of its
  /// samples. Throws std::logic_error past the end of the pass.
  std::vector<torch::Tensor> next();

 private:
  void work();

  Decoder decode_;
  int64_t threads_, depth_;
  std::mutex mutex_;
  std::condition_variable work_cv_, done_cv_;
  bool stop_ = false;
  uint64_t generation_ = 0;  // bumped by start(): results of an older pass are dropped
  std::vector<std::vector<int64_t>> batches_;
  std::vector<std::vector<std::vector<torch::Tensor>>> slots_;  // [batch][sample] -> decoder outputs
  std::vector<int64_t> remaining_;                              // samples of a batch not decoded yet
  std::vector<std::exception_ptr> errors_;
  size_t next_batch_ = 0;               // the batch next() returns next
  size_t work_batch_ = 0, work_sample_ = 0;  // the sample a worker takes next
  std::vector<std::thread> pool_;
};

}  // namespace img2img
