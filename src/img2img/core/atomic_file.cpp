#include "img2img/core/atomic_file.h"

#include <fcntl.h>     // open
#include <unistd.h>    // write, fsync, close, getpid

#include <algorithm>  // std::sort
#include <cerrno>    // errno
#include <cstring>   // std::strerror
#include <fstream>   // std::ifstream
#include <sstream>   // std::ostringstream

#include <fmt/format.h>  // fmt::format

#include "img2img/core/error.h"

namespace img2img {
namespace fs = std::filesystem;

void write_file_atomic(const fs::path& path, const std::string& bytes) {
  std::error_code ec;
  if (fs::is_directory(path, ec))
    throw WriteError(fmt::format("cannot write '{}': it is a folder; give a file path (a name inside it).",
                                 path.string()));
  if (path.has_parent_path()) {
    fs::create_directories(path.parent_path(), ec);
    if (ec)
      throw WriteError(fmt::format("cannot create folder '{}' for '{}': {}. Choose a writable output path.",
                                   path.parent_path().string(), path.string(), ec.message()));
  }
  const fs::path tmp = path.string() + fmt::format(".tmp{}", ::getpid());
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0)
    throw WriteError(fmt::format("cannot write '{}': {}. Choose a writable output path.", path.string(),
                                 std::strerror(errno)));
  size_t done = 0;
  while (done < bytes.size()) {
    const ssize_t n = ::write(fd, bytes.data() + done, bytes.size() - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      const int err = errno;
      ::close(fd);
      fs::remove(tmp, ec);
      throw WriteError(fmt::format("cannot write '{}': {}{}. The previous version is unchanged.", path.string(),
                                   std::strerror(err), err == ENOSPC ? " (disk full: free some space)" : ""));
    }
    done += static_cast<size_t>(n);
  }
  if (::fsync(fd) != 0 || ::close(fd) != 0) {
    const int err = errno;
    fs::remove(tmp, ec);
    throw WriteError(fmt::format("cannot write '{}': {}. The previous version is unchanged.", path.string(),
                                 std::strerror(err)));
  }
  fs::rename(tmp, path, ec);
  if (ec) {
    fs::remove(tmp, ec);
    throw WriteError(fmt::format("cannot replace '{}': {}", path.string(), ec.message()));
  }
}

std::string read_file(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error(fmt::format("cannot open '{}': no such file or not readable", path.string()));
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

void check_distinct_folders(const std::vector<std::pair<std::string, std::filesystem::path>>& inputs,
                            const std::vector<std::pair<std::string, std::filesystem::path>>& outputs) {
  const auto resolved = [](const std::filesystem::path& p) {
    std::error_code ec;
    const auto r = std::filesystem::weakly_canonical(std::filesystem::absolute(p), ec);
    return ec ? std::filesystem::absolute(p).lexically_normal() : r;
  };
  for (size_t i = 0; i < outputs.size(); ++i) {
    const auto out = resolved(outputs[i].second);
    const auto clash = [&](const std::pair<std::string, std::filesystem::path>& other, const char* what) {
      if (resolved(other.second) == out)
        throw DataError(fmt::format("{} '{}' is the same folder as {} '{}'; writing there would overwrite the {}. "
                                    "Choose a different {} folder.",
                                    outputs[i].first, outputs[i].second.string(), other.first, other.second.string(),
                                    what, outputs[i].first));
    };
    for (const auto& in : inputs) clash(in, "input images");
    for (size_t j = 0; j < i; ++j) clash(outputs[j], "other output");
  }
}

void require_empty_output_folder(const std::filesystem::path& folder, const std::string& option,
                                 const std::string& what) {
  namespace fs = std::filesystem;
  std::error_code ec;
  if (!fs::exists(folder, ec)) return;
  if (!fs::is_directory(folder, ec))
    throw DataError(fmt::format("{} '{}' is a file, not a folder. Choose a new {}.", option, folder.string(), option));
  std::vector<std::string> entries;
  for (const auto& entry : fs::directory_iterator(folder, ec)) entries.push_back(entry.path().filename().string());
  if (entries.empty()) return;
  std::sort(entries.begin(), entries.end());
  std::string shown;
  for (size_t i = 0; i < entries.size() && i < 3; ++i) shown += (i > 0 ? ", " : "") + entries[i];
  throw DataError(fmt::format("{} '{}' is not empty ({} {}: {}{}); writing into it would mix this run's {} with the "
                              "old ones. Choose a new {}, or delete the folder (rm -r '{}') and run again.",
                              option, folder.string(), entries.size(), entries.size() == 1 ? "entry" : "entries",
                              shown, entries.size() > 3 ? ", ..." : "", what, option, folder.string()));
}

}  // namespace img2img
