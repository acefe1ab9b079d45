"""Trains a small MLP on CUDA and saves it; exits non-zero if no GPU is usable.

Prints what the step was given (CUDA_VISIBLE_DEVICES), the device PyTorch sees, and the loss,
so the step's log shows that the leased GPU did the work.
"""
import argparse
import os
import sys
import time

import torch


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--model", required=True)
    args = parser.parse_args()

    print(f"CUDA_VISIBLE_DEVICES={os.environ.get('CUDA_VISIBLE_DEVICES', '<unset>')}")
    if not torch.cuda.is_available():
        print("CUDA is not available to this step", file=sys.stderr)
        return 1
    device = torch.device("cuda:0")
    print(f"torch {torch.__version__}, device count {torch.cuda.device_count()}, using {torch.cuda.get_device_name(device)}")

    torch.manual_seed(0)
    inputs = torch.randn(8192, 64, device=device)
    weights = torch.randn(64, 1, device=device)
    targets = torch.sin(inputs @ weights)
    model = torch.nn.Sequential(torch.nn.Linear(64, 256), torch.nn.ReLU(), torch.nn.Linear(256, 1)).to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    started = time.time()
    for step in range(args.steps):
        optimizer.zero_grad()
        loss = torch.nn.functional.mse_loss(model(inputs), targets)
        loss.backward()
        optimizer.step()
        if step % 100 == 0 or step == args.steps - 1:
            print(f"step {step} loss {loss.item():.4f}")
    torch.cuda.synchronize()
    print(f"trained {args.steps} steps in {time.time() - started:.2f}s on {next(model.parameters()).device}")
    os.makedirs(os.path.dirname(os.path.abspath(args.model)), exist_ok=True)
    torch.save(model.state_dict(), args.model)
    return 0


if __name__ == "__main__":
    sys.exit(main())
