#include "bench_children.h"

#include <fmt/format.h>  // fmt::format
#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>  // cv::imwrite
#include <opencv2/imgproc.hpp>    // cv::GaussianBlur, cv::cvtColor

#include <unistd.h>  // fork, execv, pipe, dup2

#include <cstdlib>    // setenv, unsetenv
#include <stdexcept>  // std::runtime_error

namespace fs = std::filesystem;

namespace img2img::bench {

void write_bench_pairs(const fs::path& dir, int size, int count) {
  fs::create_directories(dir / "input");
  fs::create_directories(dir / "reference");
  cv::RNG rng(1);
  for (int i = 0; i < count; ++i) {
    cv::Mat noise(size, size, CV_8UC3);
    rng.fill(noise, cv::RNG::UNIFORM, 0, 256);
    cv::Mat input, reference;
    cv::GaussianBlur(noise, input, cv::Size(9, 9), 3);
    cv::cvtColor(input, reference, cv::COLOR_BGR2GRAY);
    cv::GaussianBlur(reference, reference, cv::Size(5, 5), 2);
    cv::cvtColor(reference, reference, cv::COLOR_GRAY2BGR);
    const std::string name = fmt::format("{:04d}.png", i);
    cv::imwrite((dir / "input" / name).string(), input);
    cv::imwrite((dir / "reference" / name).string(), reference);
  }
}

pid_t spawn_child(const std::vector<std::string>& args, const std::vector<const char*>& cleared, const Env& env,
                  FILE** out, const fs::path& err_file) {
  int fds[2] = {-1, -1};
  if (out != nullptr && ::pipe(fds) != 0) throw std::runtime_error("pipe failed");
  std::fflush(stdout);  // the child would write our buffered lines a second time
  const pid_t pid = ::fork();
  if (pid < 0) throw std::runtime_error("fork failed");
  if (pid == 0) {
    for (const char* v : cleared) ::unsetenv(v);
    for (const auto& [k, v] : env) ::setenv(k.c_str(), v.c_str(), 1);
    if (out != nullptr) {
      ::dup2(fds[1], STDOUT_FILENO);
      ::close(fds[0]);
      ::close(fds[1]);
    } else {
      std::freopen("/dev/null", "w", stdout);
    }
    std::freopen(err_file.c_str(), "w", stderr);
    std::vector<char*> argv;
    for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    ::execv(argv[0], argv.data());
    ::_exit(127);
  }
  if (out != nullptr) {
    ::close(fds[1]);
    *out = ::fdopen(fds[0], "r");
  }
  return pid;
}

}  // namespace img2img::bench
