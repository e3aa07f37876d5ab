#!/usr/bin/python3
"""Writes lr_golden.json: the learning rate PyTorch 1.13's schedulers give at iterations 0..29
(the rate in effect during each iteration; scheduler.step() once per iteration), for the settings
of train.scheduler. Checked exactly (==) by tests/unit/train/lr_schedule_test.cpp.

Run:  /usr/bin/python3 tests/golden/lr_schedule/make_lr_golden.py
'linear' is compared with LambdaLR and pix2pix's lambda_rule (models/networks.py get_scheduler,
epoch_count = 1, n_epochs = max_iterations - linear_decay, n_epochs_decay = linear_decay).
"""
import json
import os

import torch

ITERATIONS = 30

# (name, img2img [train] settings, scheduler factory)
def pix2pix_linear(max_iterations, linear_decay):
    n_epochs, n_epochs_decay, epoch_count = max_iterations - linear_decay, linear_decay, 1

    def lambda_rule(epoch):
        return 1.0 - max(0, epoch + epoch_count - n_epochs) / float(n_epochs_decay + 1)
    return lambda opt: torch.optim.lr_scheduler.LambdaLR(opt, lr_lambda=lambda_rule)


CASES = [
    ("cosine", {"scheduler": "cosine", "learning_rate": 2e-4, "max_iterations": 30},
     lambda opt: torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=30, eta_min=0)),
    ("cosine_short", {"scheduler": "cosine", "learning_rate": 0.1, "max_iterations": 7},
     lambda opt: torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=7, eta_min=0)),
    ("linear", {"scheduler": "linear", "learning_rate": 2e-4, "max_iterations": 30, "linear_decay": 10},
     pix2pix_linear(30, 10)),
    ("linear_all", {"scheduler": "linear", "learning_rate": 1e-3, "max_iterations": 30, "linear_decay": 30},
     pix2pix_linear(30, 30)),
    ("step", {"scheduler": "step", "learning_rate": 2e-4, "max_iterations": 30, "step_size": 7, "gamma": 0.5},
     lambda opt: torch.optim.lr_scheduler.StepLR(opt, step_size=7, gamma=0.5)),
    ("step_tenth", {"scheduler": "step", "learning_rate": 3e-4, "max_iterations": 30, "step_size": 3, "gamma": 0.1},
     lambda opt: torch.optim.lr_scheduler.StepLR(opt, step_size=3, gamma=0.1)),
]


def main():
    out = {"iterations": ITERATIONS, "torch_version": torch.__version__, "cases": []}
    for name, settings, make in CASES:
        opt = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=settings["learning_rate"])
        sched = make(opt)
        lrs = []
        for _ in range(ITERATIONS):
            lrs.append(opt.param_groups[0]["lr"])
            opt.step()
            sched.step()
        out["cases"].append({"name": name, "train": settings, "lr": lrs})
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "lr_golden.json")
    with open(path, "w") as f:
        json.dump(out, f, indent=1)
        f.write("\n")
    print("wrote", path)


if __name__ == "__main__":
    main()
