#pragma once
// Shape rules of the two networks as plain integer arithmetic, shared by the modules' factory and
// configuration validation (which must not depend on LibTorch). Standard library only.

#include <cstdint>  // int64_t
#include <string>   // std::string
#include <vector>   // std::vector

namespace img2img {

/// Channels of the U-Net's `layers` down-sampling layers, outermost first: min(initial * 2^i, cap) with
/// cap = max_layer_size, or image_size when max_layer_size is 0; never below initial_layer_size.
/// The node's documented example (spec, generator.initial_layer_size): 256 px, 8 layers, initial 64
/// -> 64,128,256,256,256,256,256,256; cap 512 gives pix2pix networks.py's unet_256 (ngf * 8).
std::vector<int64_t> unet_channels(int64_t initial_layer_size, int64_t max_layer_size, int64_t layers,
                                   int64_t image_size);

/// Side of the PatchGAN's output map for a square input of `image_size` pixels; <= 0 means the input is
/// too small. As pix2pix networks.py NLayerDiscriminator: `layers` stride-2 convs, then two stride-1
/// convs, kernel k, padding (k - 1) / 2; each conv maps s to (s + 2p - k) / stride + 1. The defaults
/// (3 layers, k = 4) give 30 at 256 px (70x70 patches).
int64_t patch_output_size(int64_t layers, int64_t kernel_size, int64_t image_size);

/// A run-start warning (without "warning: ") when the U-Net is shallow only because of the image size:
/// `layers` < 5 at `image_size` >= 64, where a multiple of 32 near it allows 5 or more layers (e.g. 100 px
/// allows 2 layers; 96 allows 5, 128 allows 7). Names both sizes. "" otherwise.
std::string shallow_unet_warning(int64_t layers, int64_t image_size);

}  // namespace img2img
