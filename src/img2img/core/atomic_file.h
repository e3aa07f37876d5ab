#pragma once

#include <filesystem>  // std::filesystem::path
#include <string>      // std::string

namespace img2img {

/// Writes `bytes` to `path` via a temporary file in the same folder, fsync and rename, so a reader
/// (or a kill at any moment) sees either the old file or the complete new one. Creates missing
/// parent folders. Throws WriteError naming the path (permissions, disk full); the previous file
/// is left intact.
void write_file_atomic(const std::filesystem::path& path, const std::string& bytes);

/// Reads a whole file. Throws Error naming the path if it cannot be opened.
std::string read_file(const std::filesystem::path& path);

}  // namespace img2img
