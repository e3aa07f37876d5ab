#pragma once
// One training run per run folder: an advisory lock (flock) on <run_dir>/.img2img-train.lock.

#include <filesystem>  // std::filesystem::path
#include <string>      // std::string

namespace img2img {

/// Name of the lock file inside a run folder. It holds the PID of the run that locked it (text).
inline constexpr const char* kRunLockFileName = ".img2img-train.lock";

/// An exclusive advisory lock (flock(2), LOCK_EX | LOCK_NB) on `<run_dir>/.img2img-train.lock`, held
/// until destruction. The kernel drops it when the process ends in any way (kill -9 included), so
/// a left-over lock file never blocks a later run; only a live holder does. The file is not
/// deleted (deleting it would let a third run lock a new file while the second still holds the old).
/// Two RunFolderLocks on one folder conflict even inside one process (separate open files).
class RunFolderLock {
 public:
  /// Creates `run_dir` if missing, opens the lock file and locks it, then writes this process's
  /// PID into it. Throws ConfigError when another process (or another lock object) holds it:
  /// "another img2img train (pid N) is writing to RUN_DIR; wait for it or choose another
  /// output.run_dir" (pid "unknown" if the holder has not written it yet), and WriteError when the
  /// folder or the lock file cannot be created, naming the path.
  explicit RunFolderLock(const std::filesystem::path& run_dir);
  ~RunFolderLock();
  RunFolderLock(const RunFolderLock&) = delete;
  RunFolderLock& operator=(const RunFolderLock&) = delete;

  /// The lock file's path.
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
  int fd_ = -1;
};

/// The PID text of the process holding `run_dir`'s run lock right now ("unknown" if it has not
/// written it yet), or "" when nobody holds it or the folder has no lock file. Creates and writes
/// nothing (a shared flock probe, released at once).
std::string run_folder_lock_holder(const std::filesystem::path& run_dir);

}  // namespace img2img
