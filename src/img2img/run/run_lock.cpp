#include "img2img/run/run_lock.h"

#include <fcntl.h>     // open
#include <sys/file.h>  // flock
#include <unistd.h>    // close, ftruncate, getpid, pread, pwrite

#include <fmt/format.h>  // fmt::format

#include <cerrno>   // errno
#include <cstring>  // std::strerror
#include <string>   // std::string

#include "img2img/core/error.h"

namespace img2img {
namespace fs = std::filesystem;

namespace {
// The PID text of a lock file's content, "unknown" if there is none.
std::string holder_pid(std::string text) {
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.pop_back();
  return text.empty() ? "unknown" : text;
}
}  // namespace

RunFolderLock::RunFolderLock(const fs::path& run_dir) : path_(run_dir / kRunLockFileName) {
  std::error_code ec;
  fs::create_directories(run_dir, ec);
  if (ec)
    throw WriteError(fmt::format("cannot create run folder '{}': {}. Choose a writable output.run_dir.",
                                 run_dir.string(), ec.message()));
  fd_ = ::open(path_.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd_ < 0)
    throw WriteError(fmt::format("cannot create lock file '{}': {}. Choose a writable output.run_dir.",
                                 path_.string(), std::strerror(errno)));
  int rc = 0;
  while ((rc = ::flock(fd_, LOCK_EX | LOCK_NB)) != 0 && errno == EINTR) {
  }
  if (rc != 0) {
    const int err = errno;
    char buf[32] = {};
    const ssize_t n = ::pread(fd_, buf, sizeof(buf) - 1, 0);
    ::close(fd_);
    fd_ = -1;
    if (err != EWOULDBLOCK)
      throw WriteError(fmt::format("cannot lock '{}': {}. Choose another output.run_dir.", path_.string(),
                                   std::strerror(err)));
    const std::string pid = holder_pid(n > 0 ? std::string(buf, static_cast<size_t>(n)) : std::string());
    throw ConfigError(fmt::format("another img2img train (pid {}) is writing to {}; wait for it or choose another "
                                  "output.run_dir (lock file {})",
                                  pid, run_dir.string(), path_.string()));
  }
  const std::string text = fmt::format("{}\n", ::getpid());
  // The PID is for the message above only; the lock itself is the flock, so a failed write is harmless.
  if (::ftruncate(fd_, 0) == 0) (void)!::pwrite(fd_, text.data(), text.size(), 0);
}

RunFolderLock::~RunFolderLock() {
  if (fd_ >= 0) ::close(fd_);  // closing the only descriptor releases the flock
}

std::string run_folder_lock_holder(const fs::path& run_dir) {
  const int fd = ::open((run_dir / kRunLockFileName).c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return "";
  int rc = 0;
  while ((rc = ::flock(fd, LOCK_SH | LOCK_NB)) != 0 && errno == EINTR) {
  }
  std::string holder;
  if (rc != 0 && errno == EWOULDBLOCK) {
    char buf[32] = {};
    const ssize_t n = ::pread(fd, buf, sizeof(buf) - 1, 0);
    holder = holder_pid(n > 0 ? std::string(buf, static_cast<size_t>(n)) : std::string());
  }
  ::close(fd);  // also releases the shared probe lock
  return holder;
}

}  // namespace img2img
