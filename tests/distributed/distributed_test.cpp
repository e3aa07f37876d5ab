// Data-parallel training (issue 15, docs/distributed.md): processes on 127.0.0.1 only, each test on its
// own free port, one test at a time (ctest RESOURCE_LOCK), every wait bounded. The engine is PyTorch's
// c10d: a Python torch.distributed rank joins a C++ rank's group.

#include <fcntl.h>     // open
#include <gtest/gtest.h>
#include <gmock/gmock.h>
#include <netinet/in.h>  // sockaddr_in
#include <signal.h>    // kill
#include <sys/socket.h>  // socket, bind
#include <sys/wait.h>  // waitpid
#include <unistd.h>    // fork, execve

#include <chrono>      // std::chrono
#include <exception>   // std::exception_ptr
#include <functional>  // std::function
#include <cmath>       // std::nan, std::isnan
#include <fstream>     // std::ifstream
#include <map>         // std::map
#include <sstream>     // std::stringstream
#include <thread>      // std::thread, std::this_thread

#include "img2img/config/config_keys.h"
#include "img2img/core/process_group.h"
#include "img2img/core/torch_compat.h"
#include "img2img/train/gradient_reducer.h"
#include "img2img/train/optimizers.h"
#include "support/test_support.h"
#include "support/tiny_run.h"

extern char** environ;

namespace img2img {
namespace {
namespace fs = std::filesystem;
using ::testing::HasSubstr;
using ::testing::Not;

// A TCP port that was free on 127.0.0.1 a moment ago (bound to port 0, then closed).
int free_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = 0;
  ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
  socklen_t len = sizeof a;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  ::close(fd);
  return ntohs(a.sin_port);
}

// Starts `args` (args[0] = executable) with this environment plus `env` (the launch variables of one
// rank are replaced, not inherited), stdout+stderr to `log`; returns its pid.
pid_t spawn(const std::vector<std::string>& args, const std::map<std::string, std::string>& env, const fs::path& log) {
  std::vector<std::string> entries;
  for (char** e = environ; *e != nullptr; ++e) {
    const std::string entry = *e, name = entry.substr(0, entry.find('='));
    if (env.count(name) == 0 && name != "RANK" && name != "WORLD_SIZE" && name != "LOCAL_RANK" &&
        name != "LOCAL_WORLD_SIZE" && name != "MASTER_ADDR" && name != "MASTER_PORT" && name != "OMP_NUM_THREADS")
      entries.push_back(entry);
  }
  for (const auto& [k, v] : env) entries.push_back(k + "=" + v);
  entries.push_back("OMP_NUM_THREADS=1");  // two processes on a 2-core machine
  std::vector<char*> argv, envp;
  for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  for (const auto& e : entries) envp.push_back(const_cast<char*>(e.c_str()));
  argv.push_back(nullptr);
  envp.push_back(nullptr);
  const std::string log_path = log.string();
  const pid_t pid = ::fork();
  if (pid == 0) {
    const int fd = ::open(log_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    ::dup2(fd, 1);
    ::dup2(fd, 2);
    ::execve(argv[0], argv.data(), envp.data());
    ::_exit(127);
  }
  return pid;
}

// Exit code of `pid` (128 + signal if a signal ended it); kills it and returns -1 after `timeout_s`.
int wait_exit(pid_t pid, double timeout_s) {
  const auto end = std::chrono::steady_clock::now() + std::chrono::duration<double>(timeout_s);
  int status = 0;
  while (::waitpid(pid, &status, WNOHANG) == 0) {
    if (std::chrono::steady_clock::now() > end) {
      ::kill(pid, SIGKILL);
      ::waitpid(pid, &status, 0);
      return -1;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

std::string read_text(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// The launch variables of rank `rank` of `world` with rank 0 serving the store at 127.0.0.1:port.
std::map<std::string, std::string> rank_env(int rank, int world, int port) {
  return {{"RANK", std::to_string(rank)},          {"WORLD_SIZE", std::to_string(world)},
          {"LOCAL_RANK", std::to_string(rank)},    {"LOCAL_WORLD_SIZE", std::to_string(world)},
          {"MASTER_ADDR", "127.0.0.1"},            {"MASTER_PORT", std::to_string(port)},
          {"GLOO_SOCKET_IFNAME", "lo"}};
}

// rank_env plus `extra` (e.g. IMG2IMG_OVERLAP=0).
std::map<std::string, std::string> rank_env(int rank, int world, int port, std::map<std::string, std::string> extra) {
  std::map<std::string, std::string> env = rank_env(rank, world, port);
  env.insert(extra.begin(), extra.end());
  return env;
}

// Buckets of 20 KB (the first 5 KB) instead of DDP's 25 MiB / 1 MiB, so that the tiny networks' gradients
// travel in many buckets, most of them sent during backward.
const std::map<std::string, std::string> kSmallBuckets = {{"IMG2IMG_BUCKET_MB", "0.02"},
                                                           {"IMG2IMG_FIRST_BUCKET_MB", "0.005"}};

bool python_torch_available() {
  return test::run_command("/usr/bin/python3 -c 'import torch.distributed as d; assert d.is_available()' 2>/dev/null") == 0;
}

const char* kHelper = IMG2IMG_DIST_HELPER;
const fs::path kSource = IMG2IMG_SOURCE_DIR;

class DistributedTest : public test::TempDirTest {
 protected:
  // `img2img train` arguments for `config` (written as a TOML file beside the run) plus `extra`.
  std::vector<std::string> train_args(const RunConfig& config, const std::vector<std::string>& extra = {}) {
    const fs::path toml = fs::path(config.output.run_dir).string() + ".toml";
    std::ofstream(toml) << config_to_toml(config, /*with_comments=*/false);
    std::vector<std::string> args{test::img2img_binary(), "train", "--plain-progress", "--config", toml.string()};
    args.insert(args.end(), extra.begin(), extra.end());
    return args;
  }
  // The tiny paired run (4 pairs, 32 px) with norm instance, no dropout, no augmentation and SGD: the
  // averaged gradient is the whole batch's, so 2 x batch B = 1 x batch 2B up to summation order (Adam
  // would turn rounding-level gradient noise near zero into whole steps of lr).
  RunConfig equivalence_run(const fs::path& run_dir, int64_t batch, int64_t iterations) {
    RunConfig c = test::tiny_paired_run(dir_);
    c.data.batch_size = batch;
    c.generator.norm = NormKind::kInstance, c.generator.dropout = 0;
    c.discriminator.norm = NormKind::kInstance;
    c.train.optimizer = OptimizerKind::kSgd, c.train.learning_rate = 0.01;
    c.train.max_iterations = iterations, c.train.linear_decay = 0;
    c.output.run_dir = run_dir.string();
    c.output.model_path = "{run_dir}/checkpoints/{network}_{index}_{iteration}.pt";
    c.distributed.timeout = 30;
    return c;
  }
};

TEST_F(DistributedTest, TwoCppRanksAverageBroadcastAndSum) {
  ASSERT_TRUE(distributed_in_build()) << "this build has no c10d (libgloo-dev missing)";
  const int port = free_port();
  const pid_t r0 = spawn({kHelper}, rank_env(0, 2, port), dir_ / "r0.log");
  const pid_t r1 = spawn({kHelper}, rank_env(1, 2, port), dir_ / "r1.log");
  ASSERT_EQ(wait_exit(r0, 30), 0) << read_text(dir_ / "r0.log");
  ASSERT_EQ(wait_exit(r1, 30), 0) << read_text(dir_ / "r1.log");
  // Means of [1, 10] and [2, 20]; of [[0], [0]] and [[1], [2]]; rank 0's [0, 0, 0]; sums {0 + 1, 2}.
  const std::string expected = "average 1.500000 15.000000 0.500000 1.000000\nbroadcast 0.000000 0.000000 "
                               "0.000000\nsum 1.000000 2.000000\n";
  EXPECT_EQ(read_text(dir_ / "r0.log"), expected);
  EXPECT_EQ(read_text(dir_ / "r1.log"), expected);
}

TEST_F(DistributedTest, PythonRankJoinsCppRank) {
  if (!python_torch_available()) GTEST_SKIP() << "/usr/bin/python3 has no torch.distributed (python3-torch)";
  for (const int python_rank : {1, 0}) {  // Python as a client of the C++ rank's store, then as its server
    const int port = free_port();
    const fs::path py_log = dir_ / ("py" + std::to_string(python_rank) + ".log");
    const fs::path cpp_log = dir_ / ("cpp" + std::to_string(python_rank) + ".log");
    const pid_t py = spawn({"/usr/bin/python3", (kSource / "tests/distributed/python_rank.py").string()},
                           rank_env(python_rank, 2, port), py_log);
    const pid_t cpp = spawn({kHelper}, rank_env(1 - python_rank, 2, port), cpp_log);
    ASSERT_EQ(wait_exit(cpp, 60), 0) << read_text(cpp_log) << read_text(py_log);
    ASSERT_EQ(wait_exit(py, 60), 0) << read_text(py_log);
    const std::string expected = "average 1.500000 15.000000 0.500000 1.000000\nbroadcast 0.000000 0.000000 "
                                 "0.000000\nsum 1.000000 2.000000\n";
    EXPECT_EQ(read_text(cpp_log), expected) << "Python rank " << python_rank;
    EXPECT_THAT(read_text(py_log), HasSubstr(expected));
  }
}

TEST_F(DistributedTest, MissingLaunchVariablesAreNamed) {
  const auto get = [](std::map<std::string, std::string> m) {
    return [m](const char* name) -> const char* {
      const auto f = m.find(name);
      return f == m.end() ? nullptr : f->second.c_str();
    };
  };
  EXPECT_FALSE(launch_env(get({})).has_value());
  EXPECT_EQ(launch_env(get({{"WORLD_SIZE", "1"}}))->world_size, 1);
  try {
    launch_env(get({{"WORLD_SIZE", "2"}, {"RANK", "0"}, {"MASTER_PORT", "1234"}}));
    FAIL() << "no MASTER_ADDR";
  } catch (const ConfigError& e) {
    EXPECT_THAT(e.what(), HasSubstr("MASTER_ADDR"));
  }
  EXPECT_THROW(launch_env(get({{"WORLD_SIZE", "2"}, {"RANK", "2"}})), ConfigError);
  const auto agent = launch_env(get({{"WORLD_SIZE", "2"}, {"RANK", "1"}, {"MASTER_ADDR", "h"}, {"MASTER_PORT", "5"},
                                     {"TORCHELASTIC_USE_AGENT_STORE", "True"}, {"TORCHELASTIC_RESTART_COUNT", "3"}}));
  EXPECT_TRUE(agent->agent_store);
  EXPECT_EQ(agent->restart_count, 3);
}

TEST_F(DistributedTest, OverlapVariablesAreReadAndChecked) {
  const auto get = [](std::map<std::string, std::string> m) {
    return [m](const char* name) -> const char* {
      const auto f = m.find(name);
      return f == m.end() ? nullptr : f->second.c_str();
    };
  };
  const GradientSyncOptions defaults = gradient_sync_options_from_env(get({}));
  EXPECT_TRUE(defaults.overlap);
  EXPECT_FALSE(defaults.step_timing);
  EXPECT_EQ(defaults.buckets.bucket_bytes, 25 << 20);  // PyTorch DDP's bucket_cap_mb
  EXPECT_EQ(defaults.buckets.first_bucket_bytes, 1 << 20);
  const GradientSyncOptions set = gradient_sync_options_from_env(
      get({{"IMG2IMG_OVERLAP", "0"}, {"IMG2IMG_STEP_TIMING", "1"}, {"IMG2IMG_BUCKET_MB", "4"},
           {"IMG2IMG_FIRST_BUCKET_MB", "0.5"}}));
  EXPECT_FALSE(set.overlap);
  EXPECT_TRUE(set.step_timing);
  EXPECT_EQ(set.buckets.bucket_bytes, 4 << 20);
  EXPECT_EQ(set.buckets.first_bucket_bytes, 1 << 19);
  for (const auto& [name, value] : std::vector<std::pair<std::string, std::string>>{
           {"IMG2IMG_OVERLAP", "yes"}, {"IMG2IMG_BUCKET_MB", "0"}, {"IMG2IMG_BUCKET_MB", "4x"},
           {"IMG2IMG_FIRST_BUCKET_MB", "-1"}}) {
    try {
      gradient_sync_options_from_env(get({{name, value}}));
      FAIL() << name << " = " << value;
    } catch (const ConfigError& e) {
      EXPECT_THAT(e.what(), HasSubstr(name));
    }
  }
}

// Runs `body(group)` as ranks 0 and 1 of one group, in two threads of this process (127.0.0.1, a free
// port); rethrows the first failure of either.
void in_two_ranks(const std::function<void(ProcessGroup&)>& body) {
  const int port = free_port();
  std::exception_ptr errors[2];
  std::vector<std::thread> threads;
  for (int r = 0; r < 2; ++r)
    threads.emplace_back([&, r] {
      try {
        LaunchEnv env;
        env.rank = r, env.world_size = 2, env.master_addr = "127.0.0.1", env.master_port = port;
        GroupOptions options;
        options.timeout_seconds = 30;
        const std::unique_ptr<ProcessGroup> group = join_process_group(env, options);
        body(*group);
      } catch (...) {
        errors[r] = std::current_exception();
      }
    });
  for (std::thread& t : threads) t.join();
  for (const std::exception_ptr& e : errors)
    if (e) std::rethrow_exception(e);
}

// A small network's parameters, the same on every rank: a [8, 4] layer, a square [8, 8] layer applied
// twice (its gradient sums two uses, as CycleGAN's generators), a [3, 8] output layer, and an extra
// [5] parameter that only rank 1 uses.
std::vector<torch::Tensor> toy_parameters() {
  std::vector<torch::Tensor> p;
  for (const std::vector<int64_t>& shape : std::vector<std::vector<int64_t>>{{8, 4}, {8}, {8, 8}, {3, 8}, {3}, {5}}) {
    int64_t n = 1;
    for (int64_t d : shape) n *= d;
    p.push_back((torch::arange(n, torch::kFloat32).sin() * 0.5).reshape(shape).requires_grad_());
  }
  return p;
}

// The toy network's loss on rank `rank`'s batch (`seed` varies it); rank 1 also uses the extra parameter.
torch::Tensor toy_loss(const std::vector<torch::Tensor>& p, int rank, int seed) {
  const torch::Tensor x = (torch::arange(24, torch::kFloat32).reshape({6, 4}) * (0.1 * (rank + 1) + 0.01 * seed)).cos();
  torch::Tensor h = torch::tanh(torch::matmul(x, p[0].t()) + p[1]);  // [6, 8]
  h = torch::tanh(torch::matmul(h, p[2].t()));
  h = torch::tanh(torch::matmul(h, p[2].t()));
  torch::Tensor loss = (torch::matmul(h, p[3].t()) + p[4]).pow(2).sum();
  if (rank == 1) loss = loss + (p[5] * p[5]).sum();
  return loss;
}

// The one-buffer reference: this rank's gradients on hook-free copies, averaged by ProcessGroup::average.
std::vector<torch::Tensor> reference_mean(ProcessGroup& group, const std::vector<torch::Tensor>& params,
                                          const std::function<void(const std::vector<torch::Tensor>&)>& backward) {
  std::vector<torch::Tensor> copies;
  for (const torch::Tensor& p : params) copies.push_back(p.detach().clone().requires_grad_());
  backward(copies);
  std::vector<torch::Tensor> grads;
  for (torch::Tensor& c : copies) grads.push_back(c.grad().defined() ? c.grad() : torch::zeros_like(c));
  group.average(grads);
  return grads;
}

TEST_F(DistributedTest, BucketedGradientsEqualTheOneBufferAverage) {
  in_two_ranks([](ProcessGroup& group) {
    const int rank = group.rank();
    std::vector<torch::Tensor> params = toy_parameters();
    GradientReducerOptions buckets;
    buckets.bucket_bytes = 100, buckets.first_bucket_bytes = 16;  // several buckets, launched during backward
    GradientReducer reducer(params, group, buckets);
    ASSERT_GE(reducer.bucket_count(), 4u);
    for (int seed = 0; seed < 3; ++seed) {  // three steps: the buckets are reused
      const auto backward = [&](const std::vector<torch::Tensor>& p) { toy_loss(p, rank, seed).backward(); };
      const std::vector<torch::Tensor> expected = reference_mean(group, params, backward);
      // No zero_grad here: arm() drops the last step's .grad (views of the buckets), so backward's copies
      // into the buckets cannot add to them.
      reducer.arm();
      for (const torch::Tensor& p : params) EXPECT_FALSE(p.grad().defined());
      backward(params);
      ASSERT_EQ(reducer.finish(), 0);
      // Two ranks: each element is a + b in both, so the results are bit for bit the same.
      for (size_t k = 0; k < params.size(); ++k)
        EXPECT_TRUE(torch::equal(params[k].grad(), expected[k])) << "rank " << rank << " parameter " << k;
      // The parameter only rank 1 uses: its gradient over 2, on both ranks.
      EXPECT_TRUE(torch::allclose(params[5].grad(), params[5].detach()));
      EXPECT_GE(reducer.last_timing().in_flight, 0.0);
      EXPECT_GE(reducer.last_timing().hidden(), 0.0);
    }
    // An unarmed reducer ignores backward (another network's step): no collective, .grad as autograd left it.
    for (torch::Tensor& p : params) p.mutable_grad() = torch::Tensor();
    toy_loss(params, rank, 0).backward();
    EXPECT_FALSE(reducer.armed());
  });
}

TEST_F(DistributedTest, BucketedGradientsHandlePoisonAndRepeatedBackward) {
  in_two_ranks([](ProcessGroup& group) {
    const int rank = group.rank();
    std::vector<torch::Tensor> params = toy_parameters();
    GradientReducerOptions buckets;
    buckets.bucket_bytes = 100, buckets.first_bucket_bytes = 16;
    GradientReducer reducer(params, group, buckets);
    // Rank 1's step fails after its backward began (as CycleGAN's second discriminator loss can): it still
    // issues every bucket's all-reduce, and both ranks learn that one rank abandoned the step.
    // (Rank 0 does not use the extra parameter, whose bucket is the first: it sends nothing before
    // finish(); rank 1 sends all but the last bucket during backward.)
    reducer.arm();
    toy_loss(params, rank, 0).backward();
    EXPECT_EQ(reducer.finish(/*poison=*/rank == 1), 1) << "rank " << rank;
    // The next step is in step again.
    const auto once = [&](const std::vector<torch::Tensor>& p) { toy_loss(p, rank, 1).backward(); };
    std::vector<torch::Tensor> expected = reference_mean(group, params, once);
    for (torch::Tensor& p : params) p.mutable_grad() = torch::Tensor();
    reducer.arm();
    once(params);
    ASSERT_EQ(reducer.finish(), 0);
    for (size_t k = 0; k < params.size(); ++k) EXPECT_TRUE(torch::equal(params[k].grad(), expected[k])) << k;
    // Two backward passes into the same parameters in one step (on rank 1 only): the second comes after
    // their buckets were sent, so the step falls back to averaging .grad in one buffer, on both ranks.
    const auto twice = [&](const std::vector<torch::Tensor>& p) {
      toy_loss(p, rank, 2).backward();
      if (rank == 1) toy_loss(p, rank, 3).backward();
    };
    expected = reference_mean(group, params, twice);
    for (torch::Tensor& p : params) p.mutable_grad() = torch::Tensor();
    reducer.arm();
    twice(params);
    ASSERT_EQ(reducer.finish(), 0);
    for (size_t k = 0; k < params.size(); ++k) EXPECT_TRUE(torch::equal(params[k].grad(), expected[k])) << k;
  });
}

TEST_F(DistributedTest, GradientReducerWaitsForItsAllReducesWhenDestroyedMidStep) {
  // A step that never finishes (an exception between backward and the optimiser step): destroying the
  // reducer waits for the buckets already sent and removes its hooks; a later backward is unaffected.
  in_two_ranks([](ProcessGroup& group) {
    std::vector<torch::Tensor> params = toy_parameters();
    {
      GradientReducerOptions buckets;
      buckets.bucket_bytes = 64, buckets.first_bucket_bytes = 16;
      GradientReducer reducer(params, group, buckets);
      reducer.arm();
      toy_loss(params, /*rank=*/1, 0).backward();  // every parameter used: all but the last bucket are sent
    }
    for (torch::Tensor& p : params) p.mutable_grad() = torch::Tensor();
    toy_loss(params, group.rank(), 0).backward();  // no hook left to call
    EXPECT_TRUE(params[0].grad().defined());
    EXPECT_EQ(group.sum({1.0})[0], 2.0);  // the group still works: both ranks sent the same buckets
  });
}

// The weights of every network file of a run's iteration `iteration` checkpoint, by "network/key".
std::map<std::string, torch::Tensor> checkpoint_weights(const fs::path& run, int64_t iteration) {
  std::map<std::string, torch::Tensor> out;
  for (const char* network : {"generator", "discriminator"}) {
    const fs::path p = run / "checkpoints" / (std::string(network) + "_0_" + std::to_string(iteration) + ".pt");
    const std::string bytes = read_text(p);
    const auto dict = compat::unpickle_state_dict(std::vector<char>(bytes.begin(), bytes.end()));
    for (const auto& item : dict) out[std::string(network) + "/" + item.key()] = item.value();
  }
  return out;
}

// The test SSIM of a run's train.log at `iteration` ("test at iteration N: SSIM X on ..."); NaN if none.
double logged_ssim(const fs::path& run, int64_t iteration) {
  const std::string log = read_text(run / "train.log"), key = "test at iteration " + std::to_string(iteration) + ": SSIM ";
  const size_t at = log.find(key);
  return at == std::string::npos ? std::nan("") : std::atof(log.c_str() + at + key.size());
}

TEST_F(DistributedTest, TwoProcessesOfBatchOneEqualOneProcessOfBatchTwo) {
  // 4 pairs: 1 process x batch 2 and 2 processes x batch 1 both take 2 steps per iteration, 2 iterations;
  // both test on the training pairs after every iteration (rank 0 tests, rank 1 waits).
  RunConfig one = equivalence_run(dir_ / "one", 2, 2), two = equivalence_run(dir_ / "two", 1, 2);
  for (RunConfig* c : {&one, &two}) {
    c->test.enabled = true, c->test.image_count = 0;
    c->test.input_dir = c->data.input_dir, c->test.reference_dir = c->data.reference_dir;
  }
  ASSERT_EQ(wait_exit(spawn(train_args(one), {}, dir_ / "one.log"), 120), 0) << read_text(dir_ / "one.log");
  const int port = free_port();
  const pid_t r0 = spawn(train_args(two), rank_env(0, 2, port, kSmallBuckets), dir_ / "r0.log");
  const pid_t r1 = spawn(train_args(two), rank_env(1, 2, port, kSmallBuckets), dir_ / "r1.log");
  ASSERT_EQ(wait_exit(r0, 120), 0) << read_text(dir_ / "r0.log");
  ASSERT_EQ(wait_exit(r1, 120), 0) << read_text(dir_ / "r1.log");
  EXPECT_EQ(read_text(dir_ / "r1.log"), "") << "ranks other than 0 print nothing";
  EXPECT_THAT(read_text(dir_ / "two" / "train.log"), HasSubstr("gradient all-reduce: in buckets during backward"));
  EXPECT_FALSE(fs::exists(dir_ / "two" / "train.rank1.log"));
  const std::string log = read_text(dir_ / "two" / "train.log");
  EXPECT_THAT(log, HasSubstr("iteration 2: weights identical on all 2 processes"));
  EXPECT_THAT(log, HasSubstr("effective batch 2"));
  // The run's page says so too (its data fact).
  EXPECT_THAT(read_text(dir_ / "two" / "report.html"), HasSubstr("data-parallel: 2 processes"));
  EXPECT_THAT(read_text(dir_ / "two" / "report.html"), HasSubstr("effective batch 2"));
  const auto a = checkpoint_weights(dir_ / "one", 2), b = checkpoint_weights(dir_ / "two", 2);
  ASSERT_EQ(a.size(), b.size());
  // Relative to the largest weight of the network: the biases before an instance norm get gradients of
  // rounding noise only (their true gradient is 0), so they are no scale of their own.
  std::map<std::string, double> scale;
  for (const auto& [name, w] : a) {
    const std::string network = name.substr(0, name.find('/'));
    if (w.is_floating_point()) scale[network] = std::max(scale[network], w.abs().max().item<double>());
  }
  double worst = 0;
  for (const auto& [name, w] : a) {
    ASSERT_EQ(b.count(name), 1u) << name;
    if (!w.is_floating_point()) continue;
    const double delta = (w - b.at(name)).abs().max().item<double>() / scale[name.substr(0, name.find('/'))];
    worst = std::max(worst, delta);
    EXPECT_LE(delta, 1e-5) << name;
  }
  std::printf("largest relative weight difference: %g\n", worst);
  // The group's test is rank 0's single-process test of (nearly) the same weights.
  EXPECT_NEAR(logged_ssim(dir_ / "two", 2), logged_ssim(dir_ / "one", 2), 1e-4);
  EXPECT_FALSE(std::isnan(logged_ssim(dir_ / "two", 1)));

  // A single-process run resumes on two processes.
  const std::vector<std::string> resume{test::img2img_binary(), "train", "--plain-progress", "--resume",
                                        (dir_ / "one").string(), "--train.max_iterations=3"};
  const int port2 = free_port();
  const pid_t q0 = spawn(resume, rank_env(0, 2, port2), dir_ / "q0.log");
  const pid_t q1 = spawn(resume, rank_env(1, 2, port2), dir_ / "q1.log");
  ASSERT_EQ(wait_exit(q0, 120), 0) << read_text(dir_ / "q0.log");
  ASSERT_EQ(wait_exit(q1, 120), 0) << read_text(dir_ / "q1.log");
  EXPECT_THAT(read_text(dir_ / "one" / "train.log"), HasSubstr("iteration 3: weights identical on all 2 processes"));
}

TEST_F(DistributedTest, UnpairedTwoProcessesOfBatchOneEqualOneProcessOfBatchTwo) {
  // CycleGAN on the two folders as domains, without image pools (their draws differ per rank) and with
  // flips, whose draws every rank makes for the whole group's batch.
  RunConfig one = equivalence_run(dir_ / "one", 2, 1), two = equivalence_run(dir_ / "two", 1, 1),
            off = equivalence_run(dir_ / "off", 1, 1);
  for (RunConfig* c : {&one, &two, &off}) {
    c->data.input_type = InputType::kMultipleUnpaired;
    c->train.pool_size = 0;
    c->data.flip_horizontal = 0.5;
    c->output.model_path = "{run_dir}/checkpoints/{network}_{index}_{iteration}.pt";
  }
  ASSERT_EQ(wait_exit(spawn(train_args(one), {}, dir_ / "one.log"), 120), 0) << read_text(dir_ / "one.log");
  const int port = free_port();
  const pid_t r0 = spawn(train_args(two), rank_env(0, 2, port, kSmallBuckets), dir_ / "r0.log");
  const pid_t r1 = spawn(train_args(two), rank_env(1, 2, port, kSmallBuckets), dir_ / "r1.log");
  ASSERT_EQ(wait_exit(r0, 120), 0) << read_text(dir_ / "r0.log");
  ASSERT_EQ(wait_exit(r1, 120), 0) << read_text(dir_ / "r1.log");
  // The same 2 processes without overlap: one buffer per network after backward.
  const int port2 = free_port();
  const pid_t s0 = spawn(train_args(off), rank_env(0, 2, port2, {{"IMG2IMG_OVERLAP", "0"}}), dir_ / "s0.log");
  const pid_t s1 = spawn(train_args(off), rank_env(1, 2, port2, {{"IMG2IMG_OVERLAP", "0"}}), dir_ / "s1.log");
  ASSERT_EQ(wait_exit(s0, 120), 0) << read_text(dir_ / "s0.log");
  ASSERT_EQ(wait_exit(s1, 120), 0) << read_text(dir_ / "s1.log");
  EXPECT_THAT(read_text(dir_ / "off" / "train.log"), HasSubstr("gradient all-reduce: in one buffer after backward"));
  const auto weights = [](const fs::path& p) {
    const std::string bytes = read_text(p);
    return compat::unpickle_state_dict(std::vector<char>(bytes.begin(), bytes.end()));
  };
  for (const char* file : {"generator_0_1.pt", "generator_1_1.pt", "discriminator_0_1.pt", "discriminator_1_1.pt"}) {
    const auto a = weights(dir_ / "one" / "checkpoints" / file), b = weights(dir_ / "two" / "checkpoints" / file);
    // Buckets or one buffer: with two ranks every element is a + b either way, so bit for bit equal
    // (CycleGAN: generators used twice per step, two backward passes into the discriminators' group).
    const auto c = weights(dir_ / "off" / "checkpoints" / file);
    for (const auto& item : b) EXPECT_TRUE(torch::equal(item.value(), c.at(item.key()))) << file << " " << item.key();
    double scale = 0, delta = 0;
    for (const auto& item : a)
      if (item.value().is_floating_point()) scale = std::max(scale, item.value().abs().max().item<double>());
    for (const auto& item : a)
      if (item.value().is_floating_point())
        delta = std::max(delta, (item.value() - b.at(item.key())).abs().max().item<double>());
    EXPECT_LE(delta / scale, 1e-5) << file;
  }
}

// The newest iteration N of a generator_0_N[_interrupted].pt below `run`/checkpoints; 0 when none.
int64_t newest_checkpoint(const fs::path& run) {
  int64_t newest = 0;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(run / "checkpoints", ec)) {
    const std::string name = e.path().filename().string();
    if (name.rfind("generator_0_", 0) == 0 && e.path().extension() == ".pt" && name.find(".optim") == std::string::npos)
      newest = std::max<int64_t>(newest, std::atoll(name.c_str() + 12));
  }
  return newest;
}

// Waits until `file` exists and contains `text` (true) or `timeout_s` passes.
bool wait_for_text(const fs::path& file, const std::string& text, double timeout_s) {
  const auto end = std::chrono::steady_clock::now() + std::chrono::duration<double>(timeout_s);
  while (std::chrono::steady_clock::now() < end) {
    if (read_text(file).find(text) != std::string::npos) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return false;
}

std::vector<std::string> torchrun_args(int port) {
  return {"/usr/bin/torchrun", "-r", "1", "-t", "1", "--nproc_per_node=2", "--master_addr=127.0.0.1",
          "--master_port=" + std::to_string(port), "--no_python"};
}

TEST_F(DistributedTest, TorchrunLaunchesTwoRanksAndPythonLoadsTheCheckpoint) {
  if (!fs::exists("/usr/bin/torchrun") || !python_torch_available())
    GTEST_SKIP() << "no /usr/bin/torchrun or python3-torch";
  const RunConfig c = equivalence_run(dir_ / "run", 1, 2);
  std::vector<std::string> args = torchrun_args(free_port());
  for (const std::string& a : train_args(c)) args.push_back(a);
  ASSERT_EQ(wait_exit(spawn(args, {{"GLOO_SOCKET_IFNAME", "lo"}}, dir_ / "torchrun.log"), 120), 0)
      << read_text(dir_ / "torchrun.log");
  EXPECT_THAT(read_text(dir_ / "run" / "train.log"), HasSubstr("weights identical on all 2 processes"));
  std::string out;
  ASSERT_EQ(test::run_command("/usr/bin/python3 -c \"import torch; d = torch.load('" +
                                  (dir_ / "run" / "checkpoints" / "generator_0_2.pt").string() +
                                  "'); print(len(d), all(bool(v.isfinite().all()) for v in d.values()))\"",
                              &out),
            0)
      << out;
  EXPECT_THAT(out, HasSubstr(" True"));
}

TEST_F(DistributedTest, KillNineOfOneRankStopsTheOtherAtOnceAndOneProcessResumes) {
  RunConfig c = equivalence_run(dir_ / "run", 1, 1000);
  c.output.model_save_rate = 1;
  c.distributed.timeout = 60;  // the lost rank must be reported from its closed connection, not a timeout
  const int port = free_port();
  const pid_t r0 = spawn(train_args(c), rank_env(0, 2, port, kSmallBuckets), dir_ / "r0.log");
  const pid_t r1 = spawn(train_args(c), rank_env(1, 2, port, kSmallBuckets), dir_ / "r1.log");
  ASSERT_TRUE(wait_for_text(dir_ / "run" / "train.log", "iteration 2: weights identical", 60)) << read_text(dir_ / "r0.log");
  ::kill(r1, SIGKILL);
  const auto t0 = std::chrono::steady_clock::now();
  const int code = wait_exit(r0, 30);
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  EXPECT_EQ(wait_exit(r1, 10), 128 + SIGKILL);
  EXPECT_EQ(code, 1) << read_text(dir_ / "r0.log");
  EXPECT_LT(seconds, 15.0) << "rank 0 should notice the closed connection at once";
  const std::string log = read_text(dir_ / "r0.log");
  EXPECT_THAT(log, HasSubstr("rank 1 closed its connection"));
  EXPECT_THAT(log, HasSubstr("img2img train --resume " + fs::absolute(dir_ / "run").string()));
  // The last complete checkpoint resumes on one process.
  const int64_t newest = newest_checkpoint(dir_ / "run");
  ASSERT_GE(newest, 2);
  const std::vector<std::string> resume{test::img2img_binary(), "train", "--plain-progress", "--resume",
                                        (dir_ / "run").string(),
                                        "--train.max_iterations=" + std::to_string(newest + 1)};
  ASSERT_EQ(wait_exit(spawn(resume, {}, dir_ / "resume.log"), 60), 0) << read_text(dir_ / "resume.log");
  EXPECT_TRUE(fs::exists(dir_ / "run" / "checkpoints" / ("generator_0_" + std::to_string(newest + 1) + ".pt")));
  EXPECT_THAT(read_text(dir_ / "run" / "train.log"),
              HasSubstr("note: the checkpoint was trained on 2 processes, this run uses 1: the effective batch changes "
                        "from 2 to 1"));
}

// A SIGHUP to one rank only (its terminal closed) stops the whole group after the same step like SIGTERM:
// the stop agreement carries the signal, so rank 0, which got no signal, writes the checkpoint and
// outputs.json "interrupted" and exits 129 like the rank that got it.
TEST_F(DistributedTest, SighupToOneRankStopsBothAlikeWithACheckpoint) {
  RunConfig c = equivalence_run(dir_ / "run", 1, 1000);
  c.output.model_save_rate = 1000;  // the checkpoint comes from the stop
  const int port = free_port();
  const pid_t r0 = spawn(train_args(c), rank_env(0, 2, port), dir_ / "r0.log");
  const pid_t r1 = spawn(train_args(c), rank_env(1, 2, port), dir_ / "r1.log");
  ASSERT_TRUE(wait_for_text(dir_ / "run" / "train.log", "iteration 1/", 60)) << read_text(dir_ / "r0.log");
  ::kill(r1, SIGHUP);
  EXPECT_EQ(wait_exit(r1, 60), 128 + SIGHUP) << read_text(dir_ / "r1.log");
  EXPECT_EQ(wait_exit(r0, 60), 128 + SIGHUP) << read_text(dir_ / "r0.log");
  EXPECT_THAT(read_text(dir_ / "r1.log"), HasSubstr("img2img (rank 1): stop requested; the group stops"));
  EXPECT_THAT(read_text(dir_ / "r0.log"), HasSubstr("resume with: img2img train --resume"));
  EXPECT_THAT(read_text(dir_ / "run" / "outputs.json"), HasSubstr("\"interrupted\""));
  bool saved = false;  // generator_0_N.pt or generator_0_N_interrupted.pt
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(dir_ / "run" / "checkpoints", ec))
    saved = saved || (e.path().filename().string().rfind("generator_0_", 0) == 0 && e.path().extension() == ".pt");
  EXPECT_TRUE(saved) << read_text(dir_ / "r0.log");
}

TEST_F(DistributedTest, SilentRankIsReportedAfterTheTimeout) {
  RunConfig c = equivalence_run(dir_ / "run", 1, 1000);
  c.distributed.timeout = 5;  // short, but room for both processes to start on a loaded machine
  const int port = free_port();
  // Small buckets: many all-reduces are queued when rank 1 stops; the report still comes after about
  // one timeout, not one per queued bucket.
  const pid_t r0 = spawn(train_args(c), rank_env(0, 2, port, kSmallBuckets), dir_ / "r0.log");
  const pid_t r1 = spawn(train_args(c), rank_env(1, 2, port, kSmallBuckets), dir_ / "r1.log");
  ASSERT_TRUE(wait_for_text(dir_ / "run" / "train.log", "iteration 1/", 60)) << read_text(dir_ / "r0.log");
  ::kill(r1, SIGSTOP);
  const auto t0 = std::chrono::steady_clock::now();
  const int code = wait_exit(r0, 30);
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  ::kill(r1, SIGKILL);
  wait_exit(r1, 10);
  EXPECT_EQ(code, 1) << read_text(dir_ / "r0.log");
  EXPECT_LT(seconds, 15.0) << "distributed.timeout = 5 s: the lost rank is reported after about one timeout";
  EXPECT_THAT(read_text(dir_ / "r0.log"), HasSubstr("rank 1 stayed silent for distributed.timeout = 5 s"));
}

TEST_F(DistributedTest, RanksWithDifferentConfigurationsStopBeforeWritingAnything) {
  RunConfig c = equivalence_run(dir_ / "run", 1, 2);
  const int port = free_port();
  // Rank 1 trains at another image size (and so another generator depth); device.* may differ.
  const pid_t r0 = spawn(train_args(c), rank_env(0, 2, port), dir_ / "r0.log");
  const pid_t r1 = spawn(train_args(c, {"--data.image_size=16", "--generator.layers=4", "--device.cpu_threads=1"}),
                         rank_env(1, 2, port), dir_ / "r1.log");
  EXPECT_EQ(wait_exit(r1, 60), 1) << read_text(dir_ / "r1.log");
  EXPECT_EQ(wait_exit(r0, 60), 1) << read_text(dir_ / "r0.log");
  const std::string log1 = read_text(dir_ / "r1.log");
  EXPECT_THAT(log1, HasSubstr("rank 1 was started with a configuration different from rank 0's: data.image_size = 16 "
                              "here, 32 on rank 0; generator.layers = 4 here"));
  EXPECT_THAT(log1, Not(HasSubstr("device.cpu_threads")));
  EXPECT_THAT(read_text(dir_ / "r0.log"), HasSubstr("1 of the 2 processes of the data-parallel run was started with a "
                                                    "configuration different from rank 0's"));
  EXPECT_FALSE(fs::exists(dir_ / "run")) << "nothing is written before the configurations agree";
}

// A corrupt pair found while decoding, after rank 0 made the run folder (every rank decodes the same files):
// both ranks exit 1 naming the file; rank 0, the only rank with a folder, removes it and says so; rank 1
// names no folder and no checkpoint to resume.
TEST_F(DistributedTest, ACorruptFileFoundWhileDecodingLeavesNoRunFolder) {
  RunConfig c = equivalence_run(dir_ / "run", 1, 2);
  for (const char* side : {"in", "ref"}) std::ofstream(dir_ / side / "zz.png") << "not a png";
  const int port = free_port();
  const pid_t r0 = spawn(train_args(c), rank_env(0, 2, port), dir_ / "r0.log");
  const pid_t r1 = spawn(train_args(c), rank_env(1, 2, port), dir_ / "r1.log");
  EXPECT_EQ(wait_exit(r0, 60), 1) << read_text(dir_ / "r0.log");
  EXPECT_EQ(wait_exit(r1, 60), 1) << read_text(dir_ / "r1.log");
  const std::string log0 = read_text(dir_ / "r0.log"), log1 = read_text(dir_ / "r1.log");
  EXPECT_THAT(log0, HasSubstr("run folder: " + (dir_ / "run").string()));
  EXPECT_THAT(log0, HasSubstr("zz.png"));
  EXPECT_THAT(log0, HasSubstr("The run folder '" + (dir_ / "run").string() + "' was removed."));
  EXPECT_THAT(log1, HasSubstr("zz.png"));
  EXPECT_THAT(log1, Not(HasSubstr("was removed")));
  EXPECT_THAT(log1, Not(HasSubstr("--resume")));
  EXPECT_FALSE(fs::exists(dir_ / "run"));
}

TEST_F(DistributedTest, WaitingForMissingRanksEndsAfterOneTimeoutOrAtOnceOnASignal) {
  RunConfig c = equivalence_run(dir_ / "run", 1, 2);
  c.distributed.timeout = 4;
  // Rank 0 alone: it says what it waits for, and gives up after at most 2 x distributed.timeout (the store
  // waits for the other ranks, then the group does; Python's rendezvous needs the store's wait).
  const auto t0 = std::chrono::steady_clock::now();
  const pid_t alone = spawn(train_args(c), rank_env(0, 2, free_port()), dir_ / "alone.log");
  EXPECT_EQ(wait_exit(alone, 60), 1) << read_text(dir_ / "alone.log");
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  EXPECT_LT(seconds, 4 * 2 + 6) << read_text(dir_ / "alone.log");
  EXPECT_THAT(read_text(dir_ / "alone.log"), HasSubstr("data-parallel: rank 0 of 2 joining the group at 127.0.0.1:"));
  EXPECT_THAT(read_text(dir_ / "alone.log"), HasSubstr("could not form the group of 2 processes"));
  // A Ctrl-C while waiting ends the process at once: there is no step to finish and nothing to save.
  c.distributed.timeout = 60;
  const pid_t waiting = spawn(train_args(c), rank_env(1, 2, free_port()), dir_ / "waiting.log");
  ASSERT_TRUE(wait_for_text(dir_ / "waiting.log", "joining the group", 30)) << read_text(dir_ / "waiting.log");
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  ::kill(waiting, SIGINT);
  EXPECT_EQ(wait_exit(waiting, 10), 128 + SIGINT) << read_text(dir_ / "waiting.log");
  EXPECT_THAT(read_text(dir_ / "waiting.log"),
              HasSubstr("img2img (rank 1): stopped while waiting for the other processes"));
  EXPECT_FALSE(fs::exists(dir_ / "run"));
}

TEST_F(DistributedTest, APortInUseIsNamedAsSuch) {
  RunConfig c = equivalence_run(dir_ / "run", 1, 2);
  c.distributed.timeout = 5;
  // A listener that is not a rendezvous store holds the port.
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = 0;
  ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
  ASSERT_EQ(::listen(fd, 4), 0);
  socklen_t len = sizeof a;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  const int port = ntohs(a.sin_port);
  const pid_t r0 = spawn(train_args(c), rank_env(0, 2, port), dir_ / "r0.log");
  const int code = wait_exit(r0, 30);
  ::close(fd);
  EXPECT_EQ(code, 1) << read_text(dir_ / "r0.log");
  EXPECT_THAT(read_text(dir_ / "r0.log"),
              HasSubstr("rank 0 could not serve the rendezvous store on port " + std::to_string(port)));
  EXPECT_THAT(read_text(dir_ / "r0.log"), HasSubstr("Choose a free MASTER_PORT"));
}

TEST_F(DistributedTest, SigintToTheTorchrunAgentStopsBothRanksWithAResumableCheckpoint) {
  if (!fs::exists("/usr/bin/torchrun")) GTEST_SKIP() << "no /usr/bin/torchrun (python3-torch)";
  RunConfig c = equivalence_run(dir_ / "run", 1, 1000);
  c.output.model_save_rate = 1000;  // the checkpoint comes from the stop
  std::vector<std::string> args = torchrun_args(free_port());
  for (const std::string& a : train_args(c)) args.push_back(a);
  // Small buckets: most all-reduces run in Gloo's threads during backward when the signal comes.
  std::map<std::string, std::string> env = kSmallBuckets;
  env["GLOO_SOCKET_IFNAME"] = "lo";
  const pid_t agent = spawn(args, env, dir_ / "torchrun.log");
  ASSERT_TRUE(wait_for_text(dir_ / "run" / "train.log", "iteration 1/", 60)) << read_text(dir_ / "torchrun.log");
  ::kill(agent, SIGINT);
  const auto t0 = std::chrono::steady_clock::now();
  wait_exit(agent, 60);
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  EXPECT_LT(seconds, 25.0) << "torch 1.13's agent kills its workers 30 s after forwarding the signal";
  const std::string log = read_text(dir_ / "run" / "train.log");
  EXPECT_THAT(log, HasSubstr("interrupted")) << read_text(dir_ / "torchrun.log");
  EXPECT_THAT(log, HasSubstr("(interrupted)")) << "the done line: rank 0 finished cleanly";
  EXPECT_THAT(read_text(dir_ / "run" / "outputs.json"), HasSubstr("\"interrupted\""));
  // The agent forwards the signal to both ranks: rank 0 says what happens in full, rank 1 in a line of its own.
  const std::string console = read_text(dir_ / "torchrun.log");
  size_t said = 0;
  for (size_t at = console.find("stop requested"); at != std::string::npos; at = console.find("stop requested", at + 1))
    ++said;
  EXPECT_EQ(said, 2u) << console;
  EXPECT_THAT(console, HasSubstr("img2img: stop requested; finishing the current step and writing a checkpoint"));
  EXPECT_THAT(console, HasSubstr("img2img (rank 1): stop requested; the group stops after the current step, rank 0 "
                                 "writes the checkpoint"));
  const int64_t newest = newest_checkpoint(dir_ / "run");
  const std::vector<std::string> resume{test::img2img_binary(), "train", "--plain-progress", "--resume",
                                        (dir_ / "run").string(),
                                        "--train.max_iterations=" + std::to_string(newest + 1)};
  ASSERT_EQ(wait_exit(spawn(resume, {}, dir_ / "resume.log"), 60), 0) << read_text(dir_ / "resume.log");
}

}  // namespace
}  // namespace img2img
