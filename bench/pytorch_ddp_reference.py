#!/usr/bin/python3
"""PyTorch DDP reference for bench/distributed_bench (issue 15): the pix2pix training step of img2img
(the same U-Net generator and PatchGAN discriminator, layer for layer, with the same parameter names as
src/img2img/models/unet_generator.cpp and patch_discriminator.cpp) in Python, on torch.distributed with
gloo on the CPU, one thread per process.

Runs with Debian's python3-torch 1.13 (/usr/bin/python3). Three uses:

  # one process (no process group): images/s of the plain step
  /usr/bin/python3 bench/pytorch_ddp_reference.py --model demo --steps 20
  # one rank of a DDP group: started once per rank with the standard variables (what the bench does)
  RANK=0 WORLD_SIZE=2 MASTER_ADDR=127.0.0.1 MASTER_PORT=29511 GLOO_SOCKET_IFNAME=lo \
      /usr/bin/python3 bench/pytorch_ddp_reference.py --model demo --steps 20 &
  RANK=1 WORLD_SIZE=2 ... (same command)
  # parameter counts, and a check of the architecture against an img2img checkpoint's state dict
  /usr/bin/python3 bench/pytorch_ddp_reference.py --model unet_256 --count \
      [--check RUN/checkpoints/generator_0_1.pt RUN/checkpoints/discriminator_0_1.pt]

Rank 0 prints one JSON line (prefixed "RESULT "): images_per_s (all ranks together), step_seconds,
cpu_seconds (user + system time of all ranks over the measured steps),
and per step: allreduce_seconds (wall time during which at least one gradient bucket was being
all-reduced, measured by a DDP communication hook from a bucket being ready to its all-reduce being
done), blocked_seconds (from the last bucket being ready, i.e. the end of the local backward, to
backward() returning: the part of the all-reduce that compute did not hide) and hidden_seconds
(allreduce - blocked). Both networks' backward passes of the step are summed.

Deliberate choices, as in img2img: two discriminator passes (generated, then real pair) before the
discriminator's backward; the generator step runs the discriminator without its DDP wrapper (its
parameters do not require gradients there, so its reducer must not wait for them). DDP's default
broadcast_buffers=True fails on this step ("one of the variables needed for gradient computation has
been modified by an inplace operation": the BatchNorm running statistics broadcast before the second
discriminator pass), so broadcast_buffers=False: each rank keeps its own running statistics.
"""

import argparse
import json
import os
import sys
import time

import torch
import torch.distributed as dist
import torch.nn as nn
import torch.nn.functional as F

# The models the bench compares. channels = unet_channels(initial, max or image_size, layers) of
# src/img2img/models/shape_rules.cpp; batch is per process.
MODELS = {
    # examples/terrain.toml (the demo): 64 px, 6-layer U-Net of 32..256 channels, D 3 layers ndf 32.
    "demo": dict(size=64, channels=3, gen=(6, 32, 256), disc=(3, 32), batch=4),
    # pix2pix unet_256 (Isola et al.; the reference train.py defaults): ngf = ndf = 64, 8 layers,
    # channels capped at 512, batch 1.
    "unet_256": dict(size=256, channels=3, gen=(8, 64, 512), disc=(3, 64), batch=1),
    # img2img train's defaults: 256 px, 8 layers, ngf 64 capped at the image size (256), D ndf 64.
    "default": dict(size=256, channels=3, gen=(8, 64, 0), disc=(3, 64), batch=1),
}

DROPOUT_LEVELS = 3  # kUnetDropoutLevels: decoder dropout in the 3 levels just outside the innermost


def unet_channels(initial, cap, layers, size):
    cap = max(cap if cap > 0 else size, initial)
    return [min(initial * 2**i, cap) for i in range(layers)]


class UnetGenerator(nn.Module):
    """img2img's UnetGenerator with norm = batch (conv bias only where pix2pix has it)."""

    def __init__(self, cin, cout, channels, k=4, dropout=0.5):
        super().__init__()
        n, pad = len(channels), (k - 1) // 2
        out_pad = 2 + 2 * pad - k
        self.n, self.dropout = n, dropout
        self.up_dropout = []
        for i in range(n):
            outer, inner = i == 0, i == n - 1
            cin_i = cin if outer else channels[i - 1]
            setattr(self, f"down{i}", nn.Conv2d(cin_i, channels[i], k, 2, pad, bias=False))
            if not (outer or inner):
                setattr(self, f"down{i}_norm", nn.BatchNorm2d(channels[i]))
            up_in = channels[i] if inner else 2 * channels[i]
            up_out = cout if outer else channels[i - 1]
            setattr(self, f"up{i}", nn.ConvTranspose2d(up_in, up_out, k, 2, pad, output_padding=out_pad, bias=outer))
            if not outer:
                setattr(self, f"up{i}_norm", nn.BatchNorm2d(up_out))
            self.up_dropout.append(dropout > 0 and not outer and not inner and i >= n - 1 - DROPOUT_LEVELS)

    def forward(self, x):
        skips, h = [], x
        for i in range(self.n):
            h = getattr(self, f"down{i}")(h)
            if hasattr(self, f"down{i}_norm"):
                h = getattr(self, f"down{i}_norm")(h)
            if i < self.n - 1:
                h = F.leaky_relu(h, 0.2)
                skips.append(h)
        for i in range(self.n - 1, -1, -1):
            if i < self.n - 1:
                h = torch.cat([skips[i], h], 1)
            h = getattr(self, f"up{i}")(F.relu(h))
            if i == 0:
                return torch.tanh(h)
            h = getattr(self, f"up{i}_norm")(h)
            if self.up_dropout[i]:
                h = F.dropout(h, self.dropout, self.training)


class PatchDiscriminator(nn.Module):
    """img2img's PatchDiscriminator (pix2pix NLayerDiscriminator) with norm = batch."""

    def __init__(self, cin, layers, ndf, k=4):
        super().__init__()
        pad, self.count = (k - 1) // 2, 0

        def add(i, o, stride, first_or_last):
            setattr(self, f"conv{self.count}", nn.Conv2d(i, o, k, stride, pad, bias=first_or_last))
            if not first_or_last:
                setattr(self, f"conv{self.count}_norm", nn.BatchNorm2d(o))
            self.count += 1

        add(cin, ndf, 2, True)
        mult = 1
        for i in range(1, layers):
            prev, mult = mult, min(2**i, 8)
            add(ndf * prev, ndf * mult, 2, False)
        prev, mult = mult, min(2 ** min(layers, 4), 8)
        add(ndf * prev, ndf * mult, 1, False)
        add(ndf * mult, 1, 1, True)

    def forward(self, x):
        h = x
        for i in range(self.count):
            h = getattr(self, f"conv{i}")(h)
            if i == self.count - 1:
                return h
            if hasattr(self, f"conv{i}_norm"):
                h = getattr(self, f"conv{i}_norm")(h)
            h = F.leaky_relu(h, 0.2)


def init_weights(module, gain=0.02):
    """train.init = normal, init_gain = 0.02 (pix2pix init_weights)."""
    with torch.no_grad():
        for m in module.modules():
            if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)):
                nn.init.normal_(m.weight, 0.0, gain)
                if m.bias is not None:
                    nn.init.zeros_(m.bias)
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.normal_(m.weight, 1.0, gain)
                nn.init.zeros_(m.bias)


def build(name):
    spec = MODELS[name]
    layers, initial, cap = spec["gen"]
    c = spec["channels"]
    g = UnetGenerator(c, c, unet_channels(initial, cap, layers, spec["size"]))
    d = PatchDiscriminator(2 * c, *spec["disc"])
    init_weights(g)
    init_weights(d)
    return spec, g, d


def count(module):
    return sum(p.numel() for p in module.parameters())


def check_against(module, path, what):
    """Loads an img2img checkpoint (a state dict) into the Python copy: same names, same shapes."""
    state = torch.load(path, map_location="cpu")
    mine = module.state_dict()
    missing = sorted(set(mine) - set(state))
    extra = sorted(set(state) - set(mine))
    shapes = [k for k in mine if k in state and tuple(mine[k].shape) != tuple(state[k].shape)]
    if missing or extra or shapes:
        raise SystemExit(f"{what} {path}: differs from the Python copy: missing {missing}, extra {extra}, "
                         f"other shapes {[(k, tuple(state[k].shape), tuple(mine[k].shape)) for k in shapes]}")
    module.load_state_dict(state, strict=True)
    params = sum(state[k].numel() for k, _ in module.named_parameters())
    return params


class CommTimer:
    """DDP communication hook (gloo all-reduce of the bucket, averaged) that records, per bucket, when
    it was ready and when its all-reduce finished."""

    def __init__(self, world):
        self.world = world
        self.intervals = []

    @staticmethod
    def hook(state, bucket):
        start = time.perf_counter()
        buf = bucket.buffer().div_(state.world)
        fut = dist.all_reduce(buf, async_op=True).get_future()

        def done(f):
            state.intervals.append((start, time.perf_counter()))
            return f.value()[0]

        return fut.then(done)

    def take(self, backward_end):
        """Union of the bucket intervals, and the time after the last bucket was ready."""
        iv = sorted(self.intervals)
        self.intervals = []
        if not iv:
            return 0.0, 0.0
        union, cur_s, cur_e = 0.0, iv[0][0], iv[0][1]
        for s, e in iv[1:]:
            if s > cur_e:
                union += cur_e - cur_s
                cur_s, cur_e = s, e
            else:
                cur_e = max(cur_e, e)
        union += cur_e - cur_s
        last_ready = max(s for s, _ in iv)
        return union, max(0.0, backward_end - last_ready)


def backward(loss, timer, totals):
    loss.backward()
    if timer is not None:
        union, blocked = timer.take(time.perf_counter())
        totals[0] += union
        totals[1] += blocked


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", choices=sorted(MODELS), default="demo")
    ap.add_argument("--steps", type=int, default=10, help="measured steps per process")
    ap.add_argument("--warmup", type=int, default=2, help="steps before the measurement (DDP rebuilds buckets)")
    ap.add_argument("--batch", type=int, default=0, help="per-process batch; 0 = the model's")
    ap.add_argument("--threads", type=int, default=1, help="torch threads per process")
    ap.add_argument("--broadcast-buffers", action="store_true",
                    help="DDP's default broadcast_buffers=True (fails on this step; shows why it is off)")
    ap.add_argument("--count", action="store_true", help="print parameter counts and exit")
    ap.add_argument("--check", nargs=2, metavar=("GENERATOR_PT", "DISCRIMINATOR_PT"),
                    help="with --count: load these img2img checkpoints into the Python copy (strict)")
    a = ap.parse_args()
    torch.manual_seed(1)
    spec, g, d = build(a.model)
    if a.count:
        out = {"model": a.model, "generator": count(g), "discriminator": count(d)}
        if a.check:
            out["checkpoint_generator"] = check_against(g, a.check[0], "generator")
            out["checkpoint_discriminator"] = check_against(d, a.check[1], "discriminator")
            out["checkpoint_matches"] = True
        print(json.dumps(out))
        return
    if a.steps < 1 or a.warmup < 1:
        raise SystemExit("--steps and --warmup must be >= 1")
    torch.set_num_threads(a.threads)
    world = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    batch = a.batch or spec["batch"]
    timer = None
    if world > 1:
        dist.init_process_group("gloo", rank=rank, world_size=world)
        timer = CommTimer(world)
        ddp_g = nn.parallel.DistributedDataParallel(g, broadcast_buffers=a.broadcast_buffers)
        ddp_d = nn.parallel.DistributedDataParallel(d, broadcast_buffers=a.broadcast_buffers)
        ddp_g.register_comm_hook(timer, CommTimer.hook)
        ddp_d.register_comm_hook(timer, CommTimer.hook)
    else:
        ddp_g, ddp_d = g, d
    opt_g = torch.optim.Adam(g.parameters(), lr=2e-4, betas=(0.5, 0.999))
    opt_d = torch.optim.Adam(d.parameters(), lr=2e-4, betas=(0.5, 0.999))
    gen = torch.Generator().manual_seed(100 + rank)
    size, c = spec["size"], spec["channels"]
    pool = [(torch.rand(batch, c, size, size, generator=gen) * 2 - 1,
             torch.rand(batch, c, size, size, generator=gen) * 2 - 1) for _ in range(4)]
    totals = [0.0, 0.0]  # all-reduce union, blocked

    def step(i):
        x, y = pool[i % len(pool)]
        fake = ddp_g(x)
        for p in d.parameters():
            p.requires_grad_(True)
        opt_d.zero_grad(set_to_none=True)
        pred_fake = ddp_d(torch.cat([x, fake.detach()], 1))
        pred_real = ddp_d(torch.cat([x, y], 1))
        d_loss = 0.5 * (F.binary_cross_entropy_with_logits(pred_fake, torch.zeros_like(pred_fake)) +
                        F.binary_cross_entropy_with_logits(pred_real, torch.ones_like(pred_real)))
        backward(d_loss, timer, totals)
        opt_d.step()
        for p in d.parameters():
            p.requires_grad_(False)
        opt_g.zero_grad(set_to_none=True)
        pred = d(torch.cat([x, fake], 1))  # the plain module: D's reducer is not armed for G's backward
        g_loss = F.binary_cross_entropy_with_logits(pred, torch.ones_like(pred)) + 100.0 * F.l1_loss(fake, y)
        backward(g_loss, timer, totals)
        opt_g.step()

    for i in range(a.warmup):
        step(i)
    if world > 1:
        dist.barrier()
    totals = [0.0, 0.0]
    start, cpu_start = time.perf_counter(), time.process_time()
    for i in range(a.steps):
        step(a.warmup + i)
    seconds = time.perf_counter() - start
    cpu = torch.tensor([time.process_time() - cpu_start], dtype=torch.float64)
    if world > 1:
        dist.all_reduce(cpu)  # CPU seconds of all ranks (all threads, Gloo's included)
    if rank == 0:
        n = a.steps
        print("RESULT " + json.dumps({
            "model": a.model, "world_size": world, "batch": batch, "threads": a.threads, "steps": n,
            "images_per_s": world * batch * n / seconds, "step_seconds": seconds / n,
            "allreduce_seconds": totals[0] / n, "blocked_seconds": totals[1] / n,
            "hidden_seconds": max(0.0, totals[0] - totals[1]) / n, "cpu_seconds": cpu.item()}), flush=True)
    if world > 1:
        # Leave together and without Gloo's teardown: once, rank 1 spun in a Gloo thread for minutes after
        # rank 0 had left destroy_process_group.
        dist.barrier()
        sys.stdout.flush()
        os._exit(0)


if __name__ == "__main__":
    sys.exit(main())
