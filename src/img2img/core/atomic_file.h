#pragma once

#include <filesystem>  // std::filesystem::path
#include <string>      // std::string
#include <utility>     // std::pair
#include <vector>      // std::vector

namespace img2img {

/// Writes `bytes` to `path` via a temporary file in the same folder, fsync and rename, so a reader
/// (or a kill at any moment) sees either the old file or the complete new one. Creates missing
/// parent folders. Throws WriteError naming the path (permissions, disk full); the previous file
/// is left intact.
void write_file_atomic(const std::filesystem::path& path, const std::string& bytes);

/// Guards commands that read one folder and write another (infer, dataset split/combine): throws
/// DataError when an output folder is the same folder as an input (or as another output), which
/// would overwrite the inputs. Each entry is (option name as the user typed it, folder); paths are
/// compared after resolving ".", ".." and symbolic links of the part that exists.
void check_distinct_folders(const std::vector<std::pair<std::string, std::filesystem::path>>& inputs,
                            const std::vector<std::pair<std::string, std::filesystem::path>>& outputs);

/// Guards data-set builders: throws DataError when `folder` exists and is a file, or holds any
/// entry (a re-run would leave the earlier run's files beside the new ones, e.g. stale test tiles
/// next to new train tiles), naming `option` (the flag, e.g. "--output"), up to 3 entries and the fix.
/// A missing or empty folder passes. `what` names the new files in the message ("tiles").
void require_empty_output_folder(const std::filesystem::path& folder, const std::string& option,
                                 const std::string& what);

/// Reads a whole file. Throws Error naming the path if it cannot be opened.
std::string read_file(const std::filesystem::path& path);

}  // namespace img2img
