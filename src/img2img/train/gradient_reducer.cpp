#include "img2img/train/gradient_reducer.h"

#include <torch/utils.h>  // torch::NoGradGuard

#include <algorithm>  // std::sort
#include <cmath>      // std::lround
#include <exception>  // std::exception_ptr
#include <string>     // std::to_string
#include <utility>    // std::pair

#include "img2img/core/error.h"

namespace img2img {

namespace {
using Clock = std::chrono::steady_clock;

double seconds_between(Clock::time_point a, Clock::time_point b) {
  return std::chrono::duration<double>(b - a).count();
}

// Two extra elements of the last bucket, summed over the ranks with the gradients: how many ranks
// abandoned the step (poison), and how many got a gradient after its bucket had been sent.
constexpr int64_t kFlags = 2;
}  // namespace

GradientReducer::GradientReducer(std::vector<torch::Tensor> parameters, ProcessGroup& group,
                                 const GradientReducerOptions& options)
    : parameters_(std::move(parameters)), group_(group) {
  if (parameters_.empty()) throw Error("GradientReducer: the parameter list is empty");
  if (options.bucket_bytes < 1 || options.first_bucket_bytes < 1)
    throw Error("GradientReducer: bucket sizes must be at least 1 byte, got " + std::to_string(options.bucket_bytes) +
                " and first " + std::to_string(options.first_bucket_bytes));
  const torch::Tensor& first = parameters_.front();
  for (size_t k = 0; k < parameters_.size(); ++k) {
    const torch::Tensor& p = parameters_[k];
    if (!p.defined() || !p.is_floating_point() || p.layout() != torch::kStrided || p.scalar_type() != first.scalar_type() ||
        p.device() != first.device())
      throw Error("GradientReducer: parameter " + std::to_string(k) + " is not a dense tensor of the first one's dtype " +
                  std::string(c10::toString(first.scalar_type())) + " on " + first.device().str());
  }
  // Buckets in reverse parameter order: backward reaches the last layers first (DDP does the same).
  const int64_t element_bytes = static_cast<int64_t>(first.element_size());
  slots_.resize(parameters_.size());
  for (size_t k = parameters_.size(); k-- > 0;) {
    const int64_t numel = parameters_[k].numel();
    if (!buckets_.empty()) {
      const Bucket& b = buckets_.back();
      const int64_t cap = buckets_.size() == 1 ? options.first_bucket_bytes : options.bucket_bytes;
      if (b.parameters > 0 && (b.elements + numel) * element_bytes > cap) buckets_.emplace_back();
    } else {
      buckets_.emplace_back();
    }
    Bucket& b = buckets_.back();
    slots_[k] = Slot{buckets_.size() - 1, b.elements, false};
    b.elements += numel;
    ++b.parameters;
  }
  scale_ = 1.0 / static_cast<double>(group_.size());
  scale_tensor_ = torch::full({}, scale_, first.options().requires_grad(false));
  for (size_t i = 0; i < buckets_.size(); ++i) {
    const int64_t extra = i + 1 == buckets_.size() ? kFlags : 0;
    buckets_[i].data = torch::zeros({buckets_[i].elements + extra}, first.options().requires_grad(false));
  }
  // A hook needs requires_grad; frozen parameters get theirs all the same (kept across set_requires_grad).
  hooks_.reserve(parameters_.size());
  for (size_t k = 0; k < parameters_.size(); ++k) {
    torch::Tensor& p = parameters_[k];
    const bool frozen = !p.requires_grad();
    if (frozen) p.set_requires_grad(true);
    hooks_.push_back(p.register_hook([this, k](torch::Tensor grad) { on_gradient(k, grad); }));
    if (frozen) p.set_requires_grad(false);
  }
}

GradientReducer::~GradientReducer() {
  for (size_t k = 0; k < hooks_.size(); ++k) {
    try {
      parameters_[k].remove_hook(hooks_[k]);
    } catch (...) {  // nothing to remove
    }
  }
  std::lock_guard<std::mutex> lock(mutex_);
  drain();
}

void GradientReducer::drain() noexcept {
  for (Bucket& b : buckets_) b.pending.reset();  // each handle waits for its all-reduce, errors ignored
  armed_ = false;
}

void GradientReducer::arm() {
  std::lock_guard<std::mutex> lock(mutex_);
  drain();  // an earlier step that never finished (an exception between backward and step)
  // A .grad that is still a view of a bucket (the last finish()) must not see this step's copies into it.
  for (torch::Tensor& p : parameters_)
    if (p.grad().defined()) p.mutable_grad() = torch::Tensor();
  for (Slot& s : slots_) s.filled = false;
  for (Bucket& b : buckets_) b.missing = b.parameters;
  next_ = 0;
  repeated_ = false;
  armed_at_ = Clock::now();
  armed_ = true;
}

void GradientReducer::cancel() {
  std::lock_guard<std::mutex> lock(mutex_);
  drain();
}

void GradientReducer::on_gradient(size_t parameter, const torch::Tensor& grad) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (!armed_ || !grad.defined()) return;  // another network's step: its own reducer is armed
  torch::NoGradGuard no_grad;
  Slot& s = slots_[parameter];
  Bucket& b = buckets_[s.bucket];
  torch::Tensor slot = b.data.narrow(0, s.offset, parameters_[parameter].numel());
  if (s.filled) {  // a second backward into this parameter within one step
    if (b.pending) {
      repeated_ = true;  // too late for its bucket: finish() averages .grad in one buffer instead
      return;
    }
    slot.add_(grad.reshape({-1}), scale_);
    return;
  }
  // Scaled by 1 / world size while copied (PyTorch DDP's reducer: at::mul_out into the bucket view, one pass
  // over the gradient): after the sum the bucket holds the mean, and finish() only points .grad at it.
  at::mul_out(slot, grad.reshape({-1}), scale_tensor_);
  s.filled = true;
  --b.missing;
  launch_ready();
}

void GradientReducer::launch_ready() {
  // The last bucket waits for finish(): it carries the flags, known only then.
  while (next_ + 1 < buckets_.size() && buckets_[next_].missing == 0) launch(next_++);
}

void GradientReducer::launch(size_t bucket) {
  Bucket& b = buckets_[bucket];
  b.launched = Clock::now();
  b.pending = group_.start_sum(b.data);
}

int GradientReducer::finish(bool poison) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (!armed_) throw Error("GradientReducer::finish() without arm(): zero_grad must start every step");
  const Clock::time_point entered = Clock::now();
  torch::NoGradGuard no_grad;
  // Parameters backward did not reach count as zeros (every rank sends every bucket).
  for (size_t k = 0; k < slots_.size(); ++k) {
    Slot& s = slots_[k];
    if (s.filled) continue;
    buckets_[s.bucket].data.narrow(0, s.offset, parameters_[k].numel()).zero_();
    s.filled = true;
    --buckets_[s.bucket].missing;
  }
  Bucket& last = buckets_.back();
  last.data.narrow(0, last.elements, kFlags).copy_(torch::tensor({poison ? 1.0 : 0.0, repeated_ ? 1.0 : 0.0}));
  std::exception_ptr error;
  try {
    for (; next_ < buckets_.size(); ++next_) launch(next_);
  } catch (...) {
    error = std::current_exception();
  }
  // Every launched all-reduce is waited for, also after a failure, before the buffers are touched again.
  std::vector<std::pair<Clock::time_point, Clock::time_point>> spans;
  for (Bucket& b : buckets_) {
    if (!b.pending) continue;
    try {
      b.pending->wait();
    } catch (...) {
      if (!error) error = std::current_exception();
    }
    spans.emplace_back(b.launched, b.pending->finished_at());
  }
  const Clock::time_point done = Clock::now();
  drain();
  timing_ = ReduceTiming{};
  timing_.backward = seconds_between(armed_at_, entered);
  timing_.blocked = seconds_between(entered, done);
  std::sort(spans.begin(), spans.end());
  Clock::time_point covered = spans.empty() ? done : spans.front().first;
  for (const auto& [start, end] : spans) {  // the union of the buckets' spans
    const Clock::time_point from = std::max(start, covered);
    if (end > from) timing_.in_flight += seconds_between(from, end), covered = end;
  }
  if (error) std::rethrow_exception(error);

  const torch::Tensor flags = last.data.narrow(0, last.elements, kFlags).to(torch::kCPU, torch::kFloat64);
  const int poisoned = static_cast<int>(std::lround(flags[0].item<double>()));
  if (poisoned > 0) return poisoned;
  if (flags[1].item<double>() > 0.5) {
    // Some rank's parameter got a gradient after its bucket was sent (two backward passes into it in one
    // step); .grad holds the whole sum on every rank, and every rank saw the flag: average it as without
    // overlap.
    std::vector<torch::Tensor> grads;
    for (torch::Tensor& p : parameters_) {
      if (!p.grad().defined()) p.mutable_grad() = torch::zeros_like(p);
      grads.push_back(p.grad());
    }
    return group_.average(grads, false);
  }
  // .grad becomes a view of its slot (DDP's gradient_as_bucket_view): no copy back. arm() sets it to none
  // again before the next backward writes the bucket.
  for (size_t k = 0; k < parameters_.size(); ++k) {
    torch::Tensor& p = parameters_[k];
    const Slot& s = slots_[k];
    p.mutable_grad() = buckets_[s.bucket].data.narrow(0, s.offset, p.numel()).view(p.sizes());
  }
  return 0;
}

}  // namespace img2img
