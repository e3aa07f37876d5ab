#pragma once
// The choices a network or a GAN model is built with. Standard library only, so config/run_config.h
// (the [generator] / [discriminator] / [train] keys) and the fuzz build include it without LibTorch.

namespace img2img {

/// Element-wise activation used by generator / discriminator layers.
enum class Activation { kRelu, kLeakyRelu, kElu, kSelu, kGelu, kTanh, kSigmoid, kSilu };
/// Normalisation layer after each inner convolution (pix2pix: batch, CycleGAN: instance).
enum class NormKind { kBatch, kInstance, kNone };
/// Weight initialiser (pix2pix networks.init_weights).
enum class InitKind { kNormal, kOrthogonal, kXavier, kKaiming };
/// GAN objective: vanilla = BCE with logits (pix2pix), lsgan = MSE (CycleGAN).
enum class GanLoss { kVanilla, kLsgan };

}  // namespace img2img
