#pragma once
// What the benchmarks that start `img2img train` as child processes share (busy_machine_bench,
// distributed_bench): their synthetic training pairs and starting a child with a chosen environment.

#include <sys/types.h>  // pid_t

#include <cstdio>      // FILE
#include <filesystem>  // std::filesystem::path
#include <string>      // std::string
#include <utility>     // std::pair
#include <vector>      // std::vector

namespace img2img::bench {

/// Environment variables set in a child: (name, value) pairs.
using Env = std::vector<std::pair<std::string, std::string>>;

/// Writes `count` training pairs of `size` x `size` px as PNG into dir/input and dir/reference (names
/// 0000.png, ...): smooth random RGB inputs and their blurred grey references (as RGB). The content does
/// not change the speed; cv::RNG(1) makes it the same every run. Throws cv::Exception on a write error.
void write_bench_pairs(const std::filesystem::path& dir, int size, int count);

/// Starts `args` (args[0] an executable path, execv) with every variable of `cleared` unset and then
/// `env` set; its stdout on *out (a pipe to read) or /dev/null when `out` is null, its stderr to
/// `err_file` (e.g. "/dev/null"). Returns the child's pid (wait for it with waitpid). Throws
/// std::runtime_error when pipe or fork fails; a child whose exec fails exits with 127.
pid_t spawn_child(const std::vector<std::string>& args, const std::vector<const char*>& cleared, const Env& env,
                  FILE** out, const std::filesystem::path& err_file);

}  // namespace img2img::bench
