#include "img2img/core/atomic_file.h"

#include <fcntl.h>     // open
#include <unistd.h>    // write, fsync, close, getpid

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

}  // namespace img2img
