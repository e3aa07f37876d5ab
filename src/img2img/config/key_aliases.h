#pragma once
// Names users bring from elsewhere for our configuration keys: the options of the reference pix2pix /
// CycleGAN code (junyanz/pytorch-CycleGAN-and-pix2pix, options/*.py), the labels of Houdini's "ML Train
// Image to Image" node (docs/houdini-parameters.md) and common shorthands ("lr", "epochs"). An unknown
// flag or key with such a name is answered with our key, not with the nearest spelling.

#include <string>  // std::string

namespace img2img {

/// `name` as the aliases and bare keys are matched: the part after its last '.', without leading dashes,
/// in lower case, with '_' for '-' and ' ' ("--Input-Batch-Size" -> "input_batch_size", "train.lr" -> "lr").
std::string normalise_key_name(const std::string& name);

/// Our key for `name`, an unknown flag or config key ("lr", "--lambda_L1", "train.lr", "Input Batch
/// Size"; the section, leading dashes, case, '-' and spaces are ignored), as a hint: "did you mean
/// 'train.learning_rate'? (pix2pix's --lr)", with a note where the meaning differs ("... the total,
/// pix2pix's n_epochs + n_epochs_decay"). "" when `name` is not a known alias. Never throws.
std::string key_alias_hint(const std::string& name);

}  // namespace img2img
