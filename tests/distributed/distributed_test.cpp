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
#include <fstream>     // std::ifstream
#include <map>         // std::map
#include <sstream>     // std::stringstream
#include <thread>      // std::this_thread

#include "img2img/config/config_keys.h"
#include "img2img/core/process_group.h"
#include "img2img/core/torch_compat.h"
#include "support/test_support.h"
#include "support/tiny_run.h"

extern char** environ;

namespace img2img {
namespace {
namespace fs = std::filesystem;
using ::testing::HasSubstr;

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

TEST_F(DistributedTest, TwoProcessesOfBatchOneEqualOneProcessOfBatchTwo) {
  // 4 pairs: 1 process x batch 2 and 2 processes x batch 1 both take 2 steps per iteration, 2 iterations.
  const RunConfig one = equivalence_run(dir_ / "one", 2, 2), two = equivalence_run(dir_ / "two", 1, 2);
  ASSERT_EQ(wait_exit(spawn(train_args(one), {}, dir_ / "one.log"), 120), 0) << read_text(dir_ / "one.log");
  const int port = free_port();
  const pid_t r0 = spawn(train_args(two), rank_env(0, 2, port), dir_ / "r0.log");
  const pid_t r1 = spawn(train_args(two), rank_env(1, 2, port), dir_ / "r1.log");
  ASSERT_EQ(wait_exit(r0, 120), 0) << read_text(dir_ / "r0.log");
  ASSERT_EQ(wait_exit(r1, 120), 0) << read_text(dir_ / "r1.log");
  EXPECT_EQ(read_text(dir_ / "r1.log"), "") << "ranks other than 0 print nothing";
  EXPECT_FALSE(fs::exists(dir_ / "two" / "train.rank1.log"));
  const std::string log = read_text(dir_ / "two" / "train.log");
  EXPECT_THAT(log, HasSubstr("iteration 2: weights identical on all 2 processes"));
  EXPECT_THAT(log, HasSubstr("effective batch 2"));
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
  const pid_t r0 = spawn(train_args(c), rank_env(0, 2, port), dir_ / "r0.log");
  const pid_t r1 = spawn(train_args(c), rank_env(1, 2, port), dir_ / "r1.log");
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
}

TEST_F(DistributedTest, SilentRankIsReportedAfterTheTimeout) {
  RunConfig c = equivalence_run(dir_ / "run", 1, 1000);
  c.distributed.timeout = 3;
  const int port = free_port();
  const pid_t r0 = spawn(train_args(c), rank_env(0, 2, port), dir_ / "r0.log");
  const pid_t r1 = spawn(train_args(c), rank_env(1, 2, port), dir_ / "r1.log");
  ASSERT_TRUE(wait_for_text(dir_ / "run" / "train.log", "iteration 1/", 60)) << read_text(dir_ / "r0.log");
  ::kill(r1, SIGSTOP);
  const int code = wait_exit(r0, 30);
  ::kill(r1, SIGKILL);
  wait_exit(r1, 10);
  EXPECT_EQ(code, 1) << read_text(dir_ / "r0.log");
  EXPECT_THAT(read_text(dir_ / "r0.log"), HasSubstr("rank 1 stayed silent for distributed.timeout = 3 s"));
}

TEST_F(DistributedTest, SigintToTheTorchrunAgentStopsBothRanksWithAResumableCheckpoint) {
  if (!fs::exists("/usr/bin/torchrun")) GTEST_SKIP() << "no /usr/bin/torchrun (python3-torch)";
  RunConfig c = equivalence_run(dir_ / "run", 1, 1000);
  c.output.model_save_rate = 1000;  // the checkpoint comes from the stop
  std::vector<std::string> args = torchrun_args(free_port());
  for (const std::string& a : train_args(c)) args.push_back(a);
  const pid_t agent = spawn(args, {{"GLOO_SOCKET_IFNAME", "lo"}}, dir_ / "torchrun.log");
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
  const int64_t newest = newest_checkpoint(dir_ / "run");
  const std::vector<std::string> resume{test::img2img_binary(), "train", "--plain-progress", "--resume",
                                        (dir_ / "run").string(),
                                        "--train.max_iterations=" + std::to_string(newest + 1)};
  ASSERT_EQ(wait_exit(spawn(resume, {}, dir_ / "resume.log"), 60), 0) << read_text(dir_ / "resume.log");
}

}  // namespace
}  // namespace img2img
