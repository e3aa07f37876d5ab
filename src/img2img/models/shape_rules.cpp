#include "img2img/models/shape_rules.h"

#include <algorithm>  // std::min, std::max
#include <string>     // std::to_string

namespace img2img {

std::vector<int64_t> unet_channels(int64_t initial_layer_size, int64_t max_layer_size, int64_t layers,
                                   int64_t image_size) {
  const int64_t cap = std::max(max_layer_size > 0 ? max_layer_size : image_size, initial_layer_size);
  std::vector<int64_t> channels;
  int64_t c = initial_layer_size;
  for (int64_t i = 0; i < layers; ++i) {
    channels.push_back(std::min(c, cap));
    if (c < (int64_t{1} << 40)) c *= 2;  // stops doubling long before int64_t overflows
  }
  return channels;
}

int64_t patch_output_size(int64_t layers, int64_t kernel_size, int64_t image_size) {
  const int64_t k = kernel_size, p = (k - 1) / 2;
  int64_t s = image_size;
  for (int64_t i = 0; i < layers; ++i) s = (s + 2 * p - k) / 2 + 1;  // stride-2 convs
  for (int i = 0; i < 2; ++i) s = s + 2 * p - k + 1;                  // two stride-1 convs
  return s;
}

namespace {
// The most layers (at most 8) whose 2^layers divides `size` (config's derived generator.layers).
int64_t most_layers(int64_t size) {
  int64_t layers = 0;
  while (layers < 8 && size > 0 && size % (int64_t{1} << (layers + 1)) == 0) ++layers;
  return layers;
}
}  // namespace

std::string shallow_unet_warning(int64_t layers, int64_t image_size) {
  if (layers >= 5 || image_size < 64) return "";
  const int64_t below = image_size / 32 * 32, above = below + 32;
  return "generator.layers = " + std::to_string(layers) + " at data.image_size = " + std::to_string(image_size) +
         ": each U-Net layer halves the image exactly, so this size allows only " + std::to_string(layers) +
         " layer(s), a shallow generator that sees little context. A size with more factors of 2 allows more: " +
         "--data.image_size=" + std::to_string(below) + " (" + std::to_string(most_layers(below)) + " layers) or " +
         std::to_string(above) + " (" + std::to_string(most_layers(above)) + " layers).";
}

}  // namespace img2img
