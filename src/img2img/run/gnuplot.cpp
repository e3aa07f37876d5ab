#include "img2img/run/gnuplot.h"

#include <fmt/format.h>  // fmt::format

#include <fcntl.h>     // O_WRONLY, O_CREAT
#include <pthread.h>   // pthread_sigmask
#include <signal.h>    // sigset_t, SIGINT, SIGTERM, SIGHUP
#include <spawn.h>     // posix_spawnp
#include <sys/wait.h>  // waitpid, WIFEXITED

#include <cerrno>   // errno, EINTR
#include <cstring>  // std::strerror

extern "C" char** environ;

namespace img2img {
namespace fs = std::filesystem;

std::string gnuplot_quote(const std::string& text) {
  std::string out = "'";
  for (char c : text) out += c == '\'' ? std::string("''") : std::string(1, c);
  return out + "'";
}

std::string gnuplot_iteration_axis(const std::set<int64_t>& xs) {
  if (xs.empty()) return "";
  std::string script;
  if (xs.size() == 1) script += fmt::format("set xrange [{}:{}]\n", *xs.begin() - 1, *xs.begin() + 1);
  if (*xs.rbegin() - *xs.begin() <= kTickPerIterationSpan) script += "set xtics 1\n";
  return script;
}

std::string run_gnuplot(const std::vector<std::string>& args, const fs::path& stderr_path) {
  std::vector<char*> argv{const_cast<char*>("gnuplot")};
  for (const std::string& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  posix_spawn_file_actions_t files;
  posix_spawnattr_t attr;
  posix_spawn_file_actions_init(&files);
  posix_spawnattr_init(&attr);
  posix_spawn_file_actions_addopen(&files, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&files, 1, "/dev/null", O_WRONLY, 0);
  posix_spawn_file_actions_addopen(&files, 2, stderr_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  // SIGINT, SIGTERM and SIGHUP blocked in gnuplot: one sent to our group in the instant before the child
  // has left it stays pending there instead of killing gnuplot (img2img gets its own copy and stops in order).
  sigset_t mask;
  pthread_sigmask(SIG_BLOCK, nullptr, &mask);
  sigaddset(&mask, SIGINT);
  sigaddset(&mask, SIGTERM);
  sigaddset(&mask, SIGHUP);
  posix_spawnattr_setsigmask(&attr, &mask);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK);
  posix_spawnattr_setpgroup(&attr, 0);  // a new group led by gnuplot
  pid_t pid = 0;
  const int err = posix_spawnp(&pid, "gnuplot", &files, &attr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&files);
  posix_spawnattr_destroy(&attr);
  if (err != 0) return fmt::format("could not be started: {}", std::strerror(err));
  int status = 0;
  while (::waitpid(pid, &status, 0) == -1)
    if (errno != EINTR) return fmt::format("could not be waited for: {}", std::strerror(errno));
  if (WIFEXITED(status)) return WEXITSTATUS(status) == 0 ? "" : fmt::format("exited with status {}", WEXITSTATUS(status));
  if (WIFSIGNALED(status)) return fmt::format("was killed by signal {}", WTERMSIG(status));
  return "ended abnormally";
}

}  // namespace img2img
