"""Training and inference speed of the popularity networks at the study's input size (128 mels × 1292 frames).

For every architecture: samples/s for a training step (Adam, BCE) and for inference, in plain fp32 and on the CPU
fast path (channels_last + bfloat16 autocast), measured in the same run on random input. Then the time of one CRNN
epoch over 12k clips, extrapolated from the measured fast-path training rate (not run: it would take tens of minutes).

Usage: ``.venv/bin/python bench/train_speed.py [--threads 2] [--seconds 4]`` (a few minutes in all).
"""

from __future__ import annotations

import argparse
import time


def rate(net, x, y, *, fast: bool, train: bool, seconds: float) -> float:
    import torch

    if fast:
        net = net.to(memory_format=torch.channels_last)
        x = x.contiguous(memory_format=torch.channels_last)
    opt = torch.optim.Adam(net.parameters())
    loss_fn = torch.nn.BCEWithLogitsLoss()

    def step() -> None:
        if train:
            net.train()
            with torch.autocast("cpu", dtype=torch.bfloat16, enabled=fast):
                logits = net(x)
            loss = loss_fn(logits.float(), y)
            opt.zero_grad()
            loss.backward()
            opt.step()
        else:
            net.eval()
            with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16, enabled=fast):
                net(x)

    step()  # warm-up (allocations, oneDNN primitive creation)
    n, t0 = 0, time.perf_counter()
    while True:
        step()
        n += 1
        elapsed = time.perf_counter() - t0
        if elapsed >= seconds and n >= 2:
            return n * len(x) / elapsed


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--seconds", type=float, default=4.0, help="minimum timed seconds per measurement")
    ap.add_argument("--clips", type=int, default=12_000, help="epoch size for the CRNN extrapolation")
    args = ap.parse_args()

    import torch

    from trackscope.models.nets import build, n_parameters

    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    # Batch 32 as in training, except the CRNN: its 64-filter conv at full resolution needs ~7 GB at batch 32 in
    # fp32 and runs faster at batch 8 (FIELD-NOTES).
    batches = {"mlp": 32, "cnn1": 32, "cnn2": 32, "crnn": 8}
    print(f"torch {torch.__version__}, {args.threads} threads, input 1 × 128 × 1292; machine shared, timings noisy")
    print(
        f"{'net':6} {'params':>10} {'batch':>5} | {'train fp32':>10} {'train fast':>10} {'ratio':>6} | "
        f"{'infer fp32':>10} {'infer fast':>10} {'ratio':>6}   (samples/s)"
    )
    crnn_fast = None
    for name, batch in batches.items():
        net = build(name, n_mels=128, n_frames=1292)
        x = torch.randn(batch, 1, 128, 1292)
        y = (torch.rand(batch) < 0.5).float()
        state = {k: v.clone() for k, v in net.state_dict().items()}
        r = {}
        for train in (True, False):
            for fast in (False, True):
                net.load_state_dict(state)
                r[train, fast] = rate(net, x, y, fast=fast, train=train, seconds=args.seconds)
        if name == "crnn":
            crnn_fast = r[True, True]
        print(
            f"{name:6} {n_parameters(net):>10,} {batch:>5} | {r[True, False]:>10.1f} {r[True, True]:>10.1f} "
            f"{r[True, True] / r[True, False]:>5.2f}x | {r[False, False]:>10.1f} {r[False, True]:>10.1f} "
            f"{r[False, True] / r[False, False]:>5.2f}x"
        )
    minutes = args.clips / crnn_fast / 60
    print(
        f"\nOne CRNN epoch over {args.clips:,} clips on the fast path: ~{minutes:.0f} min "
        f"(extrapolated from {crnn_fast:.1f} samples/s measured above, not run)."
    )


if __name__ == "__main__":
    main()
