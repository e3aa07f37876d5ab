#pragma once
// Exceptions thrown by img2img_core. Only main() catches them, prints what() and picks the exit code.

#include <stdexcept>  // std::runtime_error
#include <string>     // std::string

namespace img2img {

/// A problem the user can fix (bad config, unreadable file, ...); main() prints what() and exits 1.
/// Messages say what failed, which file or value, expected vs got, and the fix.
class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// Invalid configuration: unknown key, wrong type, out-of-range value. May hold several problems,
/// one per line, so the user can fix them all at once.
class ConfigError : public Error {
 public:
  using Error::Error;
};

/// Unreadable or inconsistent training / inference data (missing folder, corrupt image, ...).
class DataError : public Error {
 public:
  using Error::Error;
};

/// Missing, truncated or incompatible checkpoint file.
class CheckpointError : public Error {
 public:
  using Error::Error;
};

/// A file could not be written (permissions, disk full). The previous version is left intact.
class WriteError : public Error {
 public:
  using Error::Error;
};

/// An ONNX graph could not be built or failed onnx::checker / shape inference (the message names
/// the node); nothing is written in that case.
class ExportError : public Error {
 public:
  using Error::Error;
};

}  // namespace img2img
