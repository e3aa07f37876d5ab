// One rank of the process-group tests (distributed_test.cpp): joins the group from the launch variables
// (RANK, WORLD_SIZE, MASTER_ADDR, MASTER_PORT, ...), then, with rank r and world size W:
//   average   [r + 1, 10 (r + 1)] and [[r], [2r]]  -> mean over ranks
//   broadcast [r, r, r] from rank 0                -> [0, 0, 0]
//   sum       {r, 1}                               -> {W (W - 1) / 2, W}
// and prints one line per result. The same exchange as tests/distributed/python_rank.py, so a Python
// torch.distributed rank can take any rank's place. Exit 1 with "error: ..." when joining fails.

#include <cstdio>    // std::printf
#include <cstdlib>   // std::atof, std::getenv
#include <string>    // std::string

#include "img2img/core/process_group.h"

int main() {
  try {
    const std::optional<img2img::LaunchEnv> env = img2img::launch_env();
    if (!env) throw img2img::Error("WORLD_SIZE is not set");
    img2img::GroupOptions options;
    if (const char* t = std::getenv("HELPER_TIMEOUT")) options.timeout_seconds = std::atof(t);
    const auto group = img2img::join_process_group(*env, options);
    const double r = group->rank();
    torch::Tensor a = torch::tensor({r + 1, 10 * (r + 1)}), b = torch::tensor({{r}, {2 * r}});
    group->average({a, b});
    std::printf("average %.6f %.6f %.6f %.6f\n", a[0].item<double>(), a[1].item<double>(), b[0][0].item<double>(),
                b[1][0].item<double>());
    torch::Tensor c = torch::full({3}, r);
    group->broadcast({c}, 0);
    std::printf("broadcast %.6f %.6f %.6f\n", c[0].item<double>(), c[1].item<double>(), c[2].item<double>());
    const std::vector<double> s = group->sum({r, 1});
    std::printf("sum %.6f %.6f\n", s[0], s[1]);
    std::fflush(stdout);
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  }
}
