#!/usr/bin/python3
"""Writes optim_golden.json: parameters after 20 steps of each optimiser on a fixed least-squares
problem, computed by Debian's python3-torch (1.13, single-tensor implementations, foreach=False).

Run from anywhere:  /usr/bin/python3 tests/golden/optim/make_optim_golden.py
Checked by tests/unit/train/optim_test.cpp (relative tolerance 1e-6), in the style of PyTorch's
test/cpp/api/optim_baseline.py.
"""
import json
import math
import os

import torch

STEPS = 20
# Fixed problem: W [3, 4], b [3]; loss = mean((X W^T + b - Y)^2) with X [8, 4], Y [8, 3].
# Values come from sin/cos so no RNG is involved; they are stored, so C++ never recomputes them.
X = torch.tensor([[math.sin(0.7 * i + 0.3 * j) for j in range(4)] for i in range(8)], dtype=torch.float32)
Y = torch.tensor([[math.cos(0.5 * i - 0.9 * j) for j in range(3)] for i in range(8)], dtype=torch.float32)
W0 = torch.tensor([[0.5 * math.sin(1.0 + 4 * i + j) for j in range(4)] for i in range(3)], dtype=torch.float32)
B0 = torch.tensor([0.1 * math.cos(2.0 + i) for i in range(3)], dtype=torch.float32)

# name, train.optimizer, constructor, hyper-parameters as img2img config keys (+ extra options)
CASES = [
    ("adam", "adam", lambda p: torch.optim.Adam(p, lr=0.01, betas=(0.5, 0.999), foreach=False),
     {"learning_rate": 0.01, "beta1": 0.5, "beta2": 0.999}),
    ("sgd", "sgd", lambda p: torch.optim.SGD(p, lr=0.05, momentum=0.9, foreach=False),
     {"learning_rate": 0.05, "momentum": 0.9}),
    ("sgd_plain", "sgd", lambda p: torch.optim.SGD(p, lr=0.05, foreach=False),
     {"learning_rate": 0.05, "momentum": 0.0}),
    ("adadelta", "adadelta", lambda p: torch.optim.Adadelta(p, lr=1.0, rho=0.9, foreach=False),
     {"learning_rate": 1.0, "rho": 0.9}),
    ("adadelta_rho", "adadelta", lambda p: torch.optim.Adadelta(p, lr=0.5, rho=0.5, foreach=False),
     {"learning_rate": 0.5, "rho": 0.5}),
    ("asgd", "asgd", lambda p: torch.optim.ASGD(p, lr=0.05, foreach=False),
     {"learning_rate": 0.05}),
    # t0 = 5 and a large lambd exercise the averaging (mu != 1) and decay paths.
    ("asgd_averaging", "asgd", lambda p: torch.optim.ASGD(p, lr=0.05, lambd=0.1, alpha=0.6, t0=5, foreach=False),
     {"learning_rate": 0.05, "lambd": 0.1, "alpha": 0.6, "t0": 5.0}),
]


def floats(t):
    return [float(v) for v in t.flatten().tolist()]


def main():
    out = {"steps": STEPS, "x": floats(X), "y": floats(Y), "x_shape": list(X.shape), "y_shape": list(Y.shape),
           "weight0": floats(W0), "bias0": floats(B0), "torch_version": torch.__version__, "cases": []}
    for name, kind, make, options in CASES:
        w = W0.clone().requires_grad_(True)
        b = B0.clone().requires_grad_(True)
        opt = make([w, b])
        for _ in range(STEPS):
            opt.zero_grad()
            loss = ((X @ w.t() + b - Y) ** 2).mean()
            loss.backward()
            opt.step()
        case = {"name": name, "optimizer": kind, "options": options, "weight": floats(w.detach()),
                "bias": floats(b.detach())}
        if kind == "asgd":
            case["weight_ax"] = floats(opt.state[w]["ax"])
        out["cases"].append(case)
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "optim_golden.json")
    with open(path, "w") as f:
        json.dump(out, f, indent=1)
        f.write("\n")
    print("wrote", path)


if __name__ == "__main__":
    main()
