#pragma once
// The c10d part of the LibTorch version shim (core/torch_compat.h holds the rest). Included only by
// core/process_group.cpp, and only where the build found the Gloo headers (IMG2IMG_C10D): each file that
// includes ProcessGroupGloo.hpp takes ~25-45 s to compile.
//
// 1.13 (Debian): `class ProcessGroupGloo : public ProcessGroup`; 2.x: `class ProcessGroupGloo : public
// Backend`, which Python wraps in a ProcessGroup. img2img holds the Gloo object itself and calls only
// members that both declare with the same signatures (constructor (store, rank, size, Options),
// Options::create(timeout) / devices / threads, createDeviceForInterface / ForHostname / DefaultDevice,
// broadcast, allreduce, setSequenceNumberForGroup; pytorch/pytorch torch/csrc/distributed/c10d/
// ProcessGroupGloo.hpp), so the one difference is the type of what the group is: GlooGroup below.
// Python 1.13's init_process_group follows the constructor with a store-based barrier (key
// "store_based_barrier_key:1" under "default_pg"); 2.x (TORCH_DIST_INIT_BARRIER unset) does not wait on
// it, so adding to it there is harmless and waiting on it is skipped (kStoreBarrier).

#include <torch/version.h>  // TORCH_VERSION_MAJOR

#include <torch/csrc/distributed/c10d/PrefixStore.hpp>       // c10d::PrefixStore
#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>  // c10d::ProcessGroupGloo
#include <torch/csrc/distributed/c10d/TCPStore.hpp>          // c10d::TCPStore

namespace img2img::compat {

/// The Gloo process group (a ProcessGroup in 1.13, a Backend in 2.x).
using GlooGroup = ::c10d::ProcessGroupGloo;

/// Whether Python's init_process_group of this version waits on the store-based barrier after the
/// group is made (so a C++ rank must add to it and wait with it).
constexpr bool kStoreBarrier = TORCH_VERSION_MAJOR < 2;

}  // namespace img2img::compat
