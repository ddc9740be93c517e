"""PyTorch-CPU reference for the native-speed benchmarks (issue 7): the same model, optimizer, batch and data as a
Deepshard config, trained for one epoch on one thread. Prints one JSON object.

    /usr/bin/python3 bench/torch_reference.py --model lenet5 --batch 64 [--threads 1] [--seed 42]

Models: lenet5 = conv 5x5x20 -> max-pool 2 -> conv 5x5x50 -> max-pool 2 -> dense 500 -> 10, ReLU (conf/lenet5-fashion.yaml:
Nesterov 0.9, lr 0.01, L2 5e-4); mlp = 784-256-128-10, ReLU (conf/mlp-fashion.yaml: Adam 1e-3). Inputs standardized
with the training split's mean and standard deviation, as Deepshard does. Timed: the training loop only (batches
already in memory), then inference over the test split at batch 256.
"""
import argparse
import gzip
import json
import os
import struct
import sys
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F


def idx(path):
    with (gzip.open if path.endswith(".gz") else open)(path, "rb") as f:
        data = f.read()
    magic, = struct.unpack(">I", data[:4])
    dims = magic & 0xFF
    shape = struct.unpack(">" + "I" * dims, data[4:4 + 4 * dims])
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * dims).reshape(shape)


def dataset(root):
    def find(stem):
        for name in (stem, stem + ".gz"):
            if os.path.exists(os.path.join(root, name)):
                return os.path.join(root, name)
        sys.exit(f"torch_reference: {stem}[.gz] not found in {root}")
    return [idx(find(s)) for s in ("train-images-idx3-ubyte", "train-labels-idx1-ubyte",
                                    "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")]


class LeNet5(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1, self.conv2 = nn.Conv2d(1, 20, 5), nn.Conv2d(20, 50, 5)
        self.fc1, self.out = nn.Linear(800, 500), nn.Linear(500, 10)

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.conv1(x)), 2)
        x = F.max_pool2d(F.relu(self.conv2(x)), 2)
        return self.out(F.relu(self.fc1(x.flatten(1))))


class Mlp(nn.Module):
    def __init__(self):
        super().__init__()
        self.net = nn.Sequential(nn.Flatten(), nn.Linear(784, 256), nn.ReLU(), nn.Linear(256, 128), nn.ReLU(), nn.Linear(128, 10))

    def forward(self, x):
        return self.net(x)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--model", choices=["lenet5", "mlp"], required=True)
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--data", default=os.environ.get("DEEPSHARD_DATA_DIR", os.path.expanduser("~/.deepshard/datasets")) + "/fashion-mnist")
    a = p.parse_args()
    torch.manual_seed(a.seed)
    torch.set_num_threads(a.threads)
    xtr, ytr, xte, yte = dataset(a.data)
    xtr = torch.tensor(xtr, dtype=torch.float32).unsqueeze(1) / 255.0
    xte = torch.tensor(xte, dtype=torch.float32).unsqueeze(1) / 255.0
    mean, std = xtr.mean().item(), xtr.std().item()
    xtr, xte = (xtr - mean) / std, (xte - mean) / std
    ytr, yte = torch.tensor(ytr, dtype=torch.long), torch.tensor(yte, dtype=torch.long)

    model = LeNet5() if a.model == "lenet5" else Mlp()
    opt = (torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9, nesterov=True, weight_decay=5e-4)
           if a.model == "lenet5" else torch.optim.Adam(model.parameters(), lr=1e-3))
    order = torch.randperm(len(xtr), generator=torch.Generator().manual_seed(a.seed))
    batches = [(xtr[order[i:i + a.batch]], ytr[order[i:i + a.batch]]) for i in range(0, len(xtr), a.batch)]

    model.train()
    t0 = time.perf_counter()
    for x, y in batches:
        opt.zero_grad(set_to_none=True)
        loss = F.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
    train_s = time.perf_counter() - t0

    model.eval()
    correct = 0
    t0 = time.perf_counter()
    with torch.no_grad():
        for i in range(0, len(xte), 256):
            correct += (model(xte[i:i + 256]).argmax(1) == yte[i:i + 256]).sum().item()
    infer_s = time.perf_counter() - t0
    print(json.dumps({"engine": "pytorch", "torch": torch.__version__, "model": a.model, "batch": a.batch,
                      "threads": a.threads, "epochs": 1, "trainImagesPerSecond": round(len(xtr) / train_s, 1),
                      "inferenceImagesPerSecond": round(len(xte) / infer_s, 1), "testAccuracy": round(correct / len(xte), 4),
                      "trainSeconds": round(train_s, 2), "mkldnn": torch.backends.mkldnn.is_available()}))


if __name__ == "__main__":
    main()
