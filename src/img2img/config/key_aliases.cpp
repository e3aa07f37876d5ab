#include "img2img/config/key_aliases.h"

#include <algorithm>  // std::min
#include <cctype>     // std::tolower

namespace img2img {
namespace {

struct KeyAlias {
  const char* alias;  // normalised: lower case, '_' for '-' and ' '
  const char* key;    // our key
  const char* from;   // where the name comes from, with a note where the meaning differs
};

// pix2pix = the reference code's options (base_options.py, train_options.py, test_options.py); "the
// node" = the Houdini node's parameter labels; plain words = shorthands users type.
constexpr KeyAlias kAliases[] = {
    // The reference pix2pix / CycleGAN options.
    {"lr", "train.learning_rate", "pix2pix's --lr"},
    {"lambda_l1", "generator.l1_lambda", "pix2pix's --lambda_L1"},
    {"lambda_a", "generator.l1_lambda", "CycleGAN's --lambda_A: the cycle-consistency weight"},
    {"lambda_b", "generator.l1_lambda", "CycleGAN's --lambda_B: one weight for both cycles here"},
    {"lambda_identity", "train.identity_lambda", "CycleGAN's --lambda_identity"},
    {"ngf", "generator.initial_layer_size", "pix2pix's --ngf"},
    {"ndf", "discriminator.initial_layer_size", "pix2pix's --ndf"},
    {"netg", "generator.layers",
     "pix2pix's --netG: unet_256 = generator.layers 8 with generator.max_layer_size 512, unet_128 = 7"},
    {"netd", "discriminator.layers", "pix2pix's --netD: basic = discriminator.layers 3"},
    {"n_layers_d", "discriminator.layers", "pix2pix's --n_layers_D"},
    {"init_type", "train.init", "pix2pix's --init_type"},
    {"no_dropout", "generator.dropout", "pix2pix's --no_dropout: generator.dropout = 0"},
    {"gan_mode", "train.gan_loss", "pix2pix's --gan_mode"},
    {"lr_policy", "train.scheduler", "pix2pix's --lr_policy"},
    {"lr_decay_iters", "train.step_size", "pix2pix's --lr_decay_iters"},
    {"n_epochs", "train.max_iterations",
     "pix2pix's --n_epochs: max_iterations is the total, pix2pix's n_epochs + n_epochs_decay"},
    {"niter", "train.max_iterations",
     "pix2pix's --niter: max_iterations is the total, pix2pix's niter + niter_decay"},
    {"n_epochs_decay", "train.linear_decay", "pix2pix's --n_epochs_decay"},
    {"niter_decay", "train.linear_decay", "pix2pix's --niter_decay"},
    {"input_nc", "data.channel_count", "pix2pix's --input_nc: one count for input and output"},
    {"output_nc", "data.channel_count", "pix2pix's --output_nc: one count for input and output"},
    {"dataroot", "data.input_dir",
     "pix2pix's --dataroot: data.input_dir + data.reference_dir, or data.composite_dir for aligned A|B images"},
    {"dataset_mode", "data.input_type",
     "pix2pix's --dataset_mode: aligned = composite_paired, unaligned = multiple_unpaired"},
    {"direction", "data.input_dir", "pix2pix's --direction: swap data.input_dir and data.reference_dir"},
    {"load_size", "data.image_size", "pix2pix's --load_size: the side every sample is resized to"},
    {"crop_size", "data.image_size", "pix2pix's --crop_size: random crops are data.crop"},
    {"preprocess", "data.crop", "pix2pix's --preprocess: random crops are data.crop, resizing is data.image_size"},
    {"no_flip", "data.flip_horizontal", "pix2pix's --no_flip: flips are off unless data.flip_* > 0"},
    {"serial_batches", "data.shuffle", "pix2pix's --serial_batches: data.shuffle = false"},
    {"max_dataset_size", "data.limit_count", "pix2pix's --max_dataset_size"},
    {"num_threads", "data.worker_threads", "pix2pix's --num_threads: data-loading threads"},
    {"gpu_ids", "device.device", "pix2pix's --gpu_ids: cpu, cuda or cuda:N"},
    {"name", "output.run_dir", "pix2pix's --name"},
    {"checkpoints_dir", "output.run_dir", "pix2pix's --checkpoints_dir"},
    {"save_epoch_freq", "output.model_save_rate", "pix2pix's --save_epoch_freq"},
    {"display_freq", "plot.rate", "pix2pix's --display_freq, counted in iterations = epochs here"},
    {"print_freq", "plot.rate", "pix2pix's --print_freq: every iteration, i.e. epoch, prints one line here"},
    {"num_test", "test.size", "pix2pix's --num_test"},
    {"continue_train", "", "pix2pix's --continue_train is `img2img train --resume RUN_FOLDER` here"},
    {"epoch_count", "", "pix2pix's --epoch_count: `img2img train --resume RUN_FOLDER` continues at the saved iteration"},
    // The Houdini node's labels.
    {"input_image_dir", "data.input_dir", "the node's 'Input Image Dir'"},
    {"reference_image_dir", "data.reference_dir", "the node's 'Reference Image Dir'"},
    {"composite_image_dir", "data.composite_dir", "the node's 'Composite Image Dir'"},
    {"input_data_set_storage", "data.storage", "the node's 'Input Data Set Storage'"},
    {"input_batch_size", "data.batch_size", "the node's 'Input Batch Size'"},
    {"limit_input_count", "data.limit_count", "the node's 'Limit Input Count'"},
    {"crop_inputs", "data.crop", "the node's 'Crop Inputs'"},
    {"horizontal_flip", "data.flip_horizontal", "the node's 'Horizontal Flip'"},
    {"vertical_flip", "data.flip_vertical", "the node's 'Vertical Flip'"},
    {"shuffle_input_order", "data.shuffle", "the node's 'Shuffle Input Order'"},
    {"maximum_iterations", "train.max_iterations", "the node's 'Maximum Iterations'"},
    {"rate_scheduler", "train.scheduler", "the node's 'Rate Scheduler'"},
    {"initializer_type", "train.init", "the node's 'Initializer Type'"},
    {"gain", "train.init_gain", "the node's 'Gain'"},
    {"algorithm", "train.optimizer", "the node's 'Algorithm'"},
    {"beta", "train.beta1", "the node's 'Beta': Adam's beta1; beta2 is train.beta2"},
    {"test_model", "test.enabled", "the node's 'Test Model'"},
    {"test_target_ssim", "test.target_ssim", "the node's 'Test Target SSIM'"},
    {"test_output_directory", "test.output_dir", "the node's 'Test Output Directory'"},
    {"test_input_type", "test.input_type", "the node's 'Test Input Type'"},
    {"test_data_set_storage", "test.storage", "the node's 'Test Data Set Storage'"},
    {"test_batch_size", "test.batch_size", "the node's 'Test Batch Size'"},
    {"test_frequency", "test.frequency", "the node's 'Test Frequency'"},
    {"test_size", "test.size", "the node's 'Test Size'"},
    {"add_test_results_as_outputs", "test.add_outputs", "the node's 'Add Test Results as Outputs'"},
    {"add_model_checkpoints_as_outputs", "output.add_model_outputs", "the node's 'Add Model Checkpoints as Outputs'"},
    {"onnx_version", "output.onnx_opset", "the node's 'ONNX Version'"},
    {"export_dynamic_axes", "output.onnx_dynamic_axes", "the node's 'Export Dynamic Axes'"},
    {"add_onnx_checkpoints_as_outputs", "output.add_onnx_outputs", "the node's 'Add ONNX Checkpoints as Outputs'"},
    {"plot_type", "plot.type", "the node's 'Plot Type'"},
    {"plot_rate", "plot.rate", "the node's 'Plot Rate'"},
    {"override_device", "device.device", "the node's 'Override Device'"},
    {"set_cpu_threads", "device.cpu_threads", "the node's 'Set CPU Threads'"},
    // Shorthands.
    {"learningrate", "train.learning_rate", "the learning rate"},
    {"ema", "generator.ema_decay", "the moving average of the generator's weights"},
    {"epochs", "train.max_iterations", "an iteration is one pass over the data set: an epoch"},
    {"epoch", "train.max_iterations", "an iteration is one pass over the data set: an epoch"},
    {"num_epochs", "train.max_iterations", "an iteration is one pass over the data set: an epoch"},
    {"iterations", "train.max_iterations", "iterations are epochs here"},
    {"iters", "train.max_iterations", "iterations are epochs here"},
    {"steps", "train.max_iterations", "training length counts iterations, i.e. epochs, not steps"},
    {"batch", "data.batch_size", "samples per step"},
    {"bs", "data.batch_size", "samples per step"},
    {"resolution", "data.image_size", "the square side of every sample"},
    {"image_resolution", "data.image_size", "the square side of every sample"},
    {"img_size", "data.image_size", "the square side of every sample"},
    {"threads", "device.cpu_threads", "the CPU threads of the training"},
    {"omp_num_threads", "device.cpu_threads", "the CPU threads of the training"},
    {"gpu", "device.device", "cpu, cuda or cuda:N"},
    {"cuda", "device.device", "cpu, cuda or cuda:N"},
    {"l1", "generator.l1_lambda", "the weight of the L1 term"},
    {"l1_weight", "generator.l1_lambda", "the weight of the L1 term"},
    {"opset", "output.onnx_opset", "the ONNX opset version"},
    {"dynamic_axes", "output.onnx_dynamic_axes", "symbolic batch, height and width"},
    {"output", "output.run_dir", "the run folder"},
    {"out", "output.run_dir", "the run folder"},
    {"outdir", "output.run_dir", "the run folder"},
    {"input", "data.input_dir", "the folder of input images"},
    {"inputs", "data.input_dir", "the folder of input images"},
    {"reference", "data.reference_dir", "the folder of reference, i.e. target, images"},
    {"target", "data.reference_dir", "the folder of reference, i.e. target, images"},
    {"target_dir", "data.reference_dir", "the folder of reference, i.e. target, images"},
};


}  // namespace

std::string normalise_key_name(const std::string& name) {
  std::string s = name;
  if (const auto dot = s.rfind('.'); dot != std::string::npos) s = s.substr(dot + 1);  // "train.lr" -> "lr"
  s = s.substr(std::min(s.size(), s.find_first_not_of('-')));
  for (char& c : s) c = c == '-' || c == ' ' ? '_' : static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

std::string key_alias_hint(const std::string& name) {
  const std::string n = normalise_key_name(name);
  for (const KeyAlias& a : kAliases) {
    if (n != a.alias) continue;
    if (*a.key == '\0') return a.from;
    return std::string("did you mean '") + a.key + "'? (" + a.from + ")";
  }
  return "";
}

}  // namespace img2img
