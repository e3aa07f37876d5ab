#include "img2img/data/batch_prefetcher.h"

#include <stdexcept>  // std::logic_error
#include <utility>    // std::move

namespace img2img {

namespace {
// For each decoder output position, the samples' tensors stacked along a new batch dimension.
std::vector<torch::Tensor> stack_samples(const std::vector<std::vector<torch::Tensor>>& samples) {
  std::vector<torch::Tensor> out;
  if (samples.empty()) return out;
  for (size_t k = 0; k < samples.front().size(); ++k) {
    std::vector<torch::Tensor> column;
    column.reserve(samples.size());
    for (const auto& s : samples) column.push_back(s.at(k));
    out.push_back(torch::stack(column));
  }
  return out;
}
}  // namespace

BatchPrefetcher::BatchPrefetcher(Decoder decode, int64_t threads, int64_t depth)
    : decode_(std::move(decode)), threads_(std::max<int64_t>(0, threads)), depth_(std::max<int64_t>(1, depth)) {
  for (int64_t t = 0; t < threads_; ++t) pool_.emplace_back([this] { work(); });
}

BatchPrefetcher::~BatchPrefetcher() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stop_ = true;
  }
  work_cv_.notify_all();
  for (auto& t : pool_) t.join();
}

void BatchPrefetcher::start(std::vector<std::vector<int64_t>> batches) {
  for (const auto& b : batches)
    if (b.empty()) throw std::logic_error("BatchPrefetcher::start: empty batch");
  {
    std::lock_guard<std::mutex> lock(mutex_);
    ++generation_;
    batches_ = std::move(batches);
    slots_.assign(batches_.size(), {});
    remaining_.assign(batches_.size(), 0);
    for (size_t b = 0; b < batches_.size(); ++b) {
      slots_[b].resize(batches_[b].size());
      remaining_[b] = static_cast<int64_t>(batches_[b].size());
    }
    errors_.assign(batches_.size(), nullptr);
    next_batch_ = work_batch_ = work_sample_ = 0;
  }
  work_cv_.notify_all();
}

void BatchPrefetcher::work() {
  std::unique_lock<std::mutex> lock(mutex_);
  for (;;) {
    work_cv_.wait(lock, [this] {
      return stop_ || (work_batch_ < batches_.size() && work_batch_ < next_batch_ + static_cast<size_t>(depth_));
    });
    if (stop_) return;
    const size_t b = work_batch_, j = work_sample_;
    const uint64_t generation = generation_;
    const int64_t index = batches_[b][j];
    if (++work_sample_ == batches_[b].size()) ++work_batch_, work_sample_ = 0;
    lock.unlock();
    std::vector<torch::Tensor> out;
    std::exception_ptr error;
    try {
      out = decode_(index);
    } catch (...) {
      error = std::current_exception();
    }
    lock.lock();
    if (generation != generation_) continue;  // a newer pass replaced this one
    if (error && !errors_[b]) errors_[b] = error;
    slots_[b][j] = std::move(out);
    if (--remaining_[b] == 0) done_cv_.notify_all();
  }
}

std::vector<torch::Tensor> BatchPrefetcher::next() {
  if (threads_ == 0) {  // decode on this thread
    if (next_batch_ >= batches_.size()) throw std::logic_error("BatchPrefetcher::next: past the end of the pass");
    const std::vector<int64_t>& batch = batches_[next_batch_++];
    std::vector<std::vector<torch::Tensor>> samples;
    samples.reserve(batch.size());
    for (int64_t index : batch) samples.push_back(decode_(index));
    return stack_samples(samples);
  }
  std::vector<std::vector<torch::Tensor>> samples;
  std::exception_ptr error;
  {
    std::unique_lock<std::mutex> lock(mutex_);
    if (next_batch_ >= batches_.size()) throw std::logic_error("BatchPrefetcher::next: past the end of the pass");
    const size_t b = next_batch_;
    done_cv_.wait(lock, [&] { return remaining_[b] == 0; });
    samples = std::move(slots_[b]);
    error = errors_[b];
    ++next_batch_;
  }
  work_cv_.notify_all();  // one more batch may be decoded ahead
  if (error) std::rethrow_exception(error);
  return stack_samples(samples);
}

}  // namespace img2img
