#include "img2img/core/process_group.h"

#include <c10/util/Exception.h>  // c10::Error

#include <algorithm>  // std::max
#include <atomic>     // std::atomic
#include <chrono>     // std::chrono
#include <exception>  // std::exception_ptr
#include <cmath>      // std::lround
#include <cstdlib>    // std::getenv, std::strtol
#include <thread>     // std::this_thread::sleep_for

#if IMG2IMG_C10D
#include "img2img/core/torch_compat_c10d.h"
#endif

namespace img2img {

namespace {
// The integer value of variable `name` = `text`, in [lo, hi]; throws ConfigError naming it otherwise.
int env_int(const char* name, const char* text, int lo, int hi) {
  char* end = nullptr;
  const long v = text != nullptr ? std::strtol(text, &end, 10) : 0;
  if (text == nullptr || *text == '\0' || *end != '\0' || v < lo || v > hi)
    throw ConfigError(std::string("environment variable ") + name + " = '" + (text ? text : "") +
                      "': expected a whole number in " + std::to_string(lo) + ".." + std::to_string(hi) +
                      " (the launcher sets it: torchrun, srun, or export it yourself; docs/distributed.md)");
  return static_cast<int>(v);
}
}  // namespace

std::optional<LaunchEnv> launch_env(const std::function<const char*(const char*)>& get_fn) {
  const auto get = [&get_fn](const char* name) -> const char* {
    const char* v = get_fn ? get_fn(name) : std::getenv(name);
    return v != nullptr && *v != '\0' ? v : nullptr;
  };
  const char* world = get("WORLD_SIZE");
  if (world == nullptr) return std::nullopt;
  LaunchEnv env;
  env.world_size = env_int("WORLD_SIZE", world, 1, 1 << 20);
  if (env.world_size == 1 && get("RANK") == nullptr) return env;
  const std::string hint = " is not set but WORLD_SIZE = " + std::to_string(env.world_size) +
                           " asks for a data-parallel run; start the processes with torchrun (it sets RANK, "
                           "MASTER_ADDR and MASTER_PORT) or set them as docs/distributed.md shows";
  if (get("RANK") == nullptr) throw ConfigError("environment variable RANK" + hint);
  env.rank = env_int("RANK", get("RANK"), 0, env.world_size - 1);
  env.local_rank = get("LOCAL_RANK") ? env_int("LOCAL_RANK", get("LOCAL_RANK"), 0, env.world_size - 1) : 0;
  env.local_world_size =
      get("LOCAL_WORLD_SIZE") ? env_int("LOCAL_WORLD_SIZE", get("LOCAL_WORLD_SIZE"), 1, env.world_size) : 1;
  if (env.world_size == 1) return env;
  if (get("MASTER_ADDR") == nullptr) throw ConfigError("environment variable MASTER_ADDR" + hint);
  if (get("MASTER_PORT") == nullptr) throw ConfigError("environment variable MASTER_PORT" + hint);
  env.master_addr = get("MASTER_ADDR");
  env.master_port = env_int("MASTER_PORT", get("MASTER_PORT"), 1, 65535);
  if (const char* agent = get("TORCHELASTIC_USE_AGENT_STORE"); agent != nullptr && std::string(agent) == "True") {
    env.agent_store = true;
    const char* restarts = get("TORCHELASTIC_RESTART_COUNT");
    env.restart_count = restarts ? env_int("TORCHELASTIC_RESTART_COUNT", restarts, 0, 1 << 20) : 0;
  }
  return env;
}

#if IMG2IMG_C10D

bool distributed_in_build() { return true; }

namespace {
using std::chrono::milliseconds;

std::string error_text(const std::exception& e) {
  if (const auto* c = dynamic_cast<const c10::Error*>(&e)) return c->what_without_backtrace();
  return e.what();
}

bool is_loopback(const std::string& host) {
  return host == "localhost" || host.rfind("127.", 0) == 0 || host == "::1";
}

std::string seconds_text(double s) {
  std::string t = std::to_string(s);
  t.erase(t.find_last_not_of('0') + 1);
  if (!t.empty() && t.back() == '.') t.pop_back();
  return t;
}

class GlooProcessGroup : public ProcessGroup {
 public:
  GlooProcessGroup(const LaunchEnv& env, const GroupOptions& options)
      : env_(env), timeout_s_(options.timeout_seconds),
        timeout_(static_cast<int64_t>(options.timeout_seconds * 1000.0)) {
    const std::string where = env.master_addr + ":" + std::to_string(env.master_port);
    const bool serves = !env.agent_store && env.rank == 0;
    try {
      c10d::TCPStoreOptions so;
      so.port = static_cast<uint16_t>(env.master_port);
      so.timeout = timeout_;
      so.numWorkers = static_cast<size_t>(env.world_size);
      if (env.agent_store) {  // torch.distributed.rendezvous._create_c10d_store with the agent's store
        so.isServer = false;
        c10::intrusive_ptr<c10d::Store> tcp = c10::make_intrusive<c10d::TCPStore>(env.master_addr, so);
        store_ = c10::make_intrusive<c10d::PrefixStore>("/worker/attempt_" + std::to_string(env.restart_count), tcp);
      } else {  // rank 0 serves the store, multi-tenant like Python's env:// rendezvous
        so.isServer = env.rank == 0;
        so.multiTenant = true;
        store_ = c10::make_intrusive<c10d::TCPStore>(env.master_addr, so);
      }
    } catch (const std::exception& e) {
      if (serves)
        throw DistributedError("rank 0 could not serve the rendezvous store on port " +
                               std::to_string(env.master_port) + " (" + error_text(e) +
                               "): another program, another run, or a second process started with RANK = 0 uses "
                               "it. Choose a free MASTER_PORT (the same on every rank) and start each rank once");
      throw DistributedError("rank " + std::to_string(env.rank) + " could not reach the rendezvous store at " + where +
                             " within distributed.timeout = " + seconds_text(timeout_s_) + " s (" + error_text(e) +
                             "). Check MASTER_ADDR / MASTER_PORT, that rank 0 (or torchrun's agent) runs and that "
                             "the port is open; every one of the WORLD_SIZE = " + std::to_string(env.world_size) +
                             " processes must be started");
    }
    try {
      default_pg_ = c10::make_intrusive<c10d::PrefixStore>("default_pg", store_);
      const auto group_store = c10::make_intrusive<c10d::PrefixStore>("0", default_pg_);
      auto gloo = compat::GlooGroup::Options::create(timeout_);
      if (const char* ifname = std::getenv("GLOO_SOCKET_IFNAME"); ifname != nullptr && *ifname != '\0') {
        std::string list = ifname;
        for (size_t start = 0; start <= list.size();) {
          const size_t comma = std::min(list.find(',', start), list.size());
          if (comma > start)
            gloo->devices.push_back(compat::GlooGroup::createDeviceForInterface(list.substr(start, comma - start)));
          start = comma + 1;
        }
      } else if (is_loopback(env.master_addr)) {
        gloo->devices.push_back(compat::GlooGroup::createDeviceForHostname("127.0.0.1"));
      } else {
        gloo->devices.push_back(compat::GlooGroup::createDefaultDevice());
      }
      gloo->threads = static_cast<int>(gloo->devices.size()) * 2;  // as Python's ProcessGroupGloo
      group_ = c10::make_intrusive<compat::GlooGroup>(group_store, env.rank, env.world_size, gloo);
      if (compat::kStoreBarrier) {  // Python 1.13 init_process_group's _store_based_barrier
        const std::string key = "store_based_barrier_key:1";
        default_pg_->add(key, 1);
        const auto start = std::chrono::steady_clock::now();
        while (default_pg_->add(key, 0) < env.world_size) {
          if (std::chrono::steady_clock::now() - start > timeout_)
            throw std::runtime_error("timed out in the store-based barrier");
          std::this_thread::sleep_for(milliseconds(10));
        }
      }
      group_->setSequenceNumberForGroup();
    } catch (const std::exception& e) {
      throw DistributedError("rank " + std::to_string(env.rank) + " could not form the group of " +
                             std::to_string(env.world_size) + " processes at " + where +
                             " (it waits up to distributed.timeout = " + seconds_text(timeout_s_) +
                             " s for the others to reach the store, then as long again for the group: " + error_text(e) +
                             "). Every rank must be started with the same WORLD_SIZE, MASTER_ADDR and MASTER_PORT; "
                             "across machines set GLOO_SOCKET_IFNAME to the network interface that reaches the "
                             "others (docs/distributed.md)");
    }
  }

  int rank() const override { return env_.rank; }
  int size() const override { return env_.world_size; }

  int average(const std::vector<torch::Tensor>& tensors, bool poison) override {
    torch::NoGradGuard no_grad;
    int64_t total = 0;
    for (const torch::Tensor& t : tensors) total += t.numel();
    const auto dtype = tensors.empty() ? torch::kFloat : tensors.front().scalar_type();
    const auto device = tensors.empty() ? torch::Device(torch::kCPU) : tensors.front().device();
    torch::Tensor buffer = torch::empty({total + 1}, torch::TensorOptions().dtype(dtype).device(device));
    int64_t at = 0;
    for (const torch::Tensor& t : tensors) {
      buffer.slice(0, at, at + t.numel()).copy_(t.reshape({-1}));
      at += t.numel();
    }
    buffer[total].fill_(poison ? 1 : 0);
    std::vector<torch::Tensor> v{buffer};
    run("the gradient all-reduce", [&] { group_->allreduce(v)->wait(); });
    const int poisoned = static_cast<int>(std::lround(buffer[total].item<double>()));
    if (poisoned > 0) return poisoned;
    buffer.div_(static_cast<double>(env_.world_size));
    at = 0;
    for (const torch::Tensor& t : tensors) {
      t.copy_(buffer.slice(0, at, at + t.numel()).view(t.sizes()));
      at += t.numel();
    }
    return 0;
  }

  std::unique_ptr<PendingCollective> start_sum(const torch::Tensor& buffer) override {
    TORCH_CHECK(buffer.is_contiguous(), "start_sum needs a contiguous buffer, got strides ", buffer.strides());
    std::vector<torch::Tensor> v{buffer};
    c10::intrusive_ptr<c10d::Work> work;
    run("the gradient all-reduce", [&] { work = group_->allreduce(v); });
    return std::make_unique<Pending>(*this, std::move(work), buffer);
  }

  void broadcast(const std::vector<torch::Tensor>& tensors, int root) override {
    torch::NoGradGuard no_grad;
    // One buffer per dtype (weights are float, BatchNorm's num_batches_tracked int64).
    std::vector<torch::ScalarType> types;
    for (const torch::Tensor& t : tensors)
      if (std::find(types.begin(), types.end(), t.scalar_type()) == types.end()) types.push_back(t.scalar_type());
    for (const torch::ScalarType type : types) {
      std::vector<torch::Tensor> of_type;
      for (const torch::Tensor& t : tensors)
        if (t.scalar_type() == type) of_type.push_back(t);
      std::vector<torch::Tensor> v{torch::cat(flat(of_type))};
      BroadcastOptionsHolder opts(root);
      run("the broadcast of rank " + std::to_string(root) + "'s weights",
          [&] { group_->broadcast(v, opts.o)->wait(); });
      int64_t at = 0;
      for (const torch::Tensor& t : of_type) {
        t.copy_(v[0].slice(0, at, at + t.numel()).view(t.sizes()));
        at += t.numel();
      }
    }
  }

  std::vector<double> sum(const std::vector<double>& values) override {
    std::vector<torch::Tensor> v{torch::tensor(values, torch::kFloat64)};
    run("an exchange of step flags", [&] { group_->allreduce(v)->wait(); });
    const auto* p = v[0].data_ptr<double>();
    return std::vector<double>(p, p + values.size());
  }

  std::string broadcast_string(const std::string& text, int root) override {
    std::vector<torch::Tensor> size{torch::tensor({static_cast<int64_t>(text.size())}, torch::kInt64)};
    BroadcastOptionsHolder opts(root);
    run("a broadcast from rank " + std::to_string(root), [&] { group_->broadcast(size, opts.o)->wait(); });
    std::vector<torch::Tensor> bytes{torch::zeros({size[0].item<int64_t>()}, torch::kUInt8)};
    if (env_.rank == root) std::copy(text.begin(), text.end(), bytes[0].data_ptr<uint8_t>());
    run("a broadcast from rank " + std::to_string(root), [&] { group_->broadcast(bytes, opts.o)->wait(); });
    const auto* p = bytes[0].data_ptr<uint8_t>();
    return std::string(p, p + bytes[0].numel());
  }

 private:
  struct BroadcastOptionsHolder {
    explicit BroadcastOptionsHolder(int root) { o.rootRank = root; }
    c10d::BroadcastOptions o;
  };

  // An all-reduce in Gloo's worker threads. It keeps its buffer alive (as c10d's Work does) and waits for
  // the collective before it goes, so no worker thread writes into memory that was handed back.
  class Pending : public PendingCollective {
   public:
    Pending(GlooProcessGroup& owner, c10::intrusive_ptr<c10d::Work> work, torch::Tensor buffer)
        : owner_(owner), work_(std::move(work)), buffer_(std::move(buffer)),
          finished_ns_(std::make_shared<std::atomic<int64_t>>(0)) {
      // Runs in the Gloo thread that completes the collective (or here, if it is already done).
      work_->getFuture()->addCallback([finished = finished_ns_](c10::ivalue::Future&) {
        finished->store(std::chrono::steady_clock::now().time_since_epoch().count());
      });
    }
    ~Pending() override {
      if (waited_) return;
      try {
        work_->wait();
      } catch (...) {  // a lost peer: already reported by whoever waits first; the buffer is free again
      }
    }
    void wait() override {
      if (waited_) {
        if (error_) std::rethrow_exception(error_);
        return;
      }
      try {
        owner_.run("the gradient all-reduce", [&] { work_->wait(); });
      } catch (...) {
        error_ = std::current_exception();
      }
      waited_ = true;
      returned_ = std::chrono::steady_clock::now();
      if (error_) std::rethrow_exception(error_);
    }
    std::chrono::steady_clock::time_point finished_at() const override {
      // The callback may run just after wait() returned; then the return time stands in for it.
      const int64_t ns = finished_ns_->load();
      return ns != 0 ? std::chrono::steady_clock::time_point(std::chrono::steady_clock::duration(ns)) : returned_;
    }

   private:
    GlooProcessGroup& owner_;
    c10::intrusive_ptr<c10d::Work> work_;
    torch::Tensor buffer_;
    std::shared_ptr<std::atomic<int64_t>> finished_ns_;
    bool waited_ = false;
    std::exception_ptr error_;
    std::chrono::steady_clock::time_point returned_;
  };

  static std::vector<torch::Tensor> flat(const std::vector<torch::Tensor>& tensors) {
    std::vector<torch::Tensor> out;
    for (const torch::Tensor& t : tensors) out.push_back(t.detach().reshape({-1}));
    return out;
  }

  // Runs one collective; a failure becomes a DistributedError naming the lost rank(s).
  template <class F>
  void run(const std::string& what, F&& collective) {
    try {
      collective();
    } catch (const std::exception& e) {
      const std::string cause = error_text(e);
      const bool silent = cause.find("imed out") != std::string::npos || cause.find("imeout") != std::string::npos;
      throw DistributedError(
          lost_ranks() + (silent ? " stayed silent for distributed.timeout = " + seconds_text(timeout_s_) + " s"
                                 : " closed its connection (the process ended or its machine was lost)") +
          " during " + what + " (Gloo: " + cause + "). Rank " + std::to_string(env_.rank) +
          // training_loop.cpp replaces the text from "; the last complete checkpoint" when nothing was trained.
          " stops too; the last complete checkpoint in the run folder is untouched: resume with img2img train "
          "--resume RUN_FOLDER, on any number of processes");
    }
  }

  // Who is gone: with two ranks, the other one; with more, the ranks that do not check in on the
  // store within a few seconds (the store itself gone: its host, rank 0 or torchrun's agent).
  std::string lost_ranks() {
    if (env_.world_size == 2) return "rank " + std::to_string(1 - env_.rank);
    try {
      store_->set("img2img_alive/" + std::to_string(env_.rank), std::vector<uint8_t>{1});
      std::vector<int> missing;
      const auto start = std::chrono::steady_clock::now();
      do {
        missing.clear();
        for (int r = 0; r < env_.world_size; ++r)
          if (!store_->check({"img2img_alive/" + std::to_string(r)})) missing.push_back(r);
        if (missing.empty()) break;
        std::this_thread::sleep_for(milliseconds(100));
      } while (std::chrono::steady_clock::now() - start < std::chrono::seconds(3));
      if (missing.empty()) return "a peer rank";
      std::string out = missing.size() == 1 ? "rank " : "ranks ";
      for (size_t i = 0; i < missing.size(); ++i) out += (i ? ", " : "") + std::to_string(missing[i]);
      return out;
    } catch (const std::exception&) {
      return env_.agent_store ? "torchrun's agent (its store at " + env_.master_addr + ":" +
                                    std::to_string(env_.master_port) + ") or a peer rank"
                              : "rank 0 (it serves the store)";
    }
  }

  LaunchEnv env_;
  double timeout_s_;
  milliseconds timeout_;
  c10::intrusive_ptr<c10d::Store> store_;
  c10::intrusive_ptr<c10d::Store> default_pg_;
  c10::intrusive_ptr<compat::GlooGroup> group_;
};
}  // namespace

std::unique_ptr<ProcessGroup> join_process_group(const LaunchEnv& env, const GroupOptions& options) {
  if (options.backend == "nccl")
    throw ConfigError("distributed.backend = nccl but this img2img has no NCCL process group (Debian's libtorch is "
                      "CPU-only; NCCL needs a CUDA libtorch 2.x build). Use distributed.backend = gloo (or auto)");
  return std::make_unique<GlooProcessGroup>(env, options);
}

#else  // no c10d headers in this build

bool distributed_in_build() { return false; }

std::unique_ptr<ProcessGroup> join_process_group(const LaunchEnv& env, const GroupOptions& /*options*/) {
  throw DistributedError("distributed training is not in this build: WORLD_SIZE = " + std::to_string(env.world_size) +
                         " asks for " + std::to_string(env.world_size) +
                         " processes, but img2img was built without PyTorch's c10d Gloo headers (Debian: "
                         "apt-get install libgloo-dev, then configure and build again; scripts/setup.sh installs it). "
                         "Unset WORLD_SIZE to train in one process");
}

#endif

}  // namespace img2img
