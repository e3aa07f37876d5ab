#pragma once
// "Did you mean" suggestions for mistyped names (config keys, subcommands).

#include <cstddef>  // size_t
#include <string>   // std::string
#include <vector>   // std::vector

namespace img2img {

/// Levenshtein distance of `a` and `b`: the fewest single-character insertions, deletions and
/// substitutions turning one into the other (a transposition counts 2).
size_t edit_distance(const std::string& a, const std::string& b);

/// The candidate closest to `name` by edit_distance if it is at most `max_distance` away (the first
/// of equally close ones), else "".
std::string closest_name(const std::string& name, const std::vector<std::string>& candidates, size_t max_distance);

}  // namespace img2img
