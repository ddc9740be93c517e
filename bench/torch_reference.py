"""PyTorch-CPU reference for the native-speed benchmarks (issue 7): the same model, optimizer, batch and data as a
Deepshard config, trained for one epoch on one thread. Prints one JSON object
(--model gemm: one per matrix size).

    /usr/bin/python3 bench/torch_reference.py --model lenet5 --batch 64 [--threads 1] [--seed 42]

Models: lenet5 = conv 5x5x20 -> max-pool 2 -> conv 5x5x50 -> max-pool 2 -> dense 500 -> 10, ReLU (conf/lenet5-fashion.yaml:
Nesterov 0.9, lr 0.01, L2 5e-4); mlp = 784-256-128-10, ReLU (conf/mlp-fashion.yaml: Adam 1e-3); resnet20 = He et al.'s
CIFAR ResNet-20 with option A shortcuts, convolutions without bias, 269,434 trainable parameters on 1-channel
input as Deepshard's zoo (conf/resnet20-fashion.yaml without its
augmentation and schedule: momentum 0.9, lr 0.1, L2 1e-4, here also on biases and batch-norm parameters). Inputs standardized
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

# BLAS threads are fixed when the BLAS library loads, so pin them before torch is imported: Debian's torch calls the
# system OpenBLAS, which ignores torch.set_num_threads and used both cores for GEMMs until this was set (measured:
# GEMM 177 GFLOPS with it unset, 87 pinned, on a core whose FMA peak is 104)
_threads = sys.argv[sys.argv.index("--threads") + 1] if "--threads" in sys.argv[:-1] else "1"
for _k in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_k] = _threads

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


class Block(nn.Module):
    def __init__(self, cin, cout, stride):
        super().__init__()
        self.c1, self.b1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False), nn.BatchNorm2d(cout)
        self.c2, self.b2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False), nn.BatchNorm2d(cout)
        self.stride, self.pad = stride, cout - cin

    def forward(self, x):
        y = self.b2(self.c2(F.relu(self.b1(self.c1(x)))))
        s = x
        if self.stride != 1:  # option A: subsample, append zero channels
            s = F.pad(x[:, :, ::self.stride, ::self.stride], (0, 0, 0, 0, 0, self.pad))
        return F.relu(y + s)


class ResNet20(nn.Module):
    def __init__(self):
        super().__init__()
        self.stem, self.bn = nn.Conv2d(1, 16, 3, 1, 1, bias=False), nn.BatchNorm2d(16)
        blocks, cin = [], 16
        for stage in range(3):
            for b in range(3):
                cout = 16 << stage
                blocks.append(Block(cin, cout, 2 if b == 0 and stage > 0 else 1))
                cin = cout
        self.blocks, self.out = nn.Sequential(*blocks), nn.Linear(64, 10)

    def forward(self, x):
        x = self.blocks(F.relu(self.bn(self.stem(x))))
        return self.out(F.adaptive_avg_pool2d(x, 1).flatten(1))


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--model", choices=["lenet5", "mlp", "resnet20", "gemm"], required=True)
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--epochs", type=int, default=1, help="epochs, each re-shuffled and timed on its own (steady state)")
    p.add_argument("--data", default=os.environ.get("DEEPSHARD_DATA_DIR", os.path.expanduser("~/.deepshard/datasets")) + "/fashion-mnist")
    a = p.parse_args()
    torch.manual_seed(a.seed)
    torch.set_num_threads(a.threads)
    if a.model == "gemm":  # FP32 GEMM GFLOPS of PyTorch's BLAS, one row per size, best of repetitions over >= 1 s
        for n in (256, 512, 1024, 2048):
            x, y = torch.rand(n, n), torch.rand(n, n)
            torch.mm(x, y)
            best, start = float("inf"), time.perf_counter()
            while time.perf_counter() - start < 1.0:
                t0 = time.perf_counter()
                torch.mm(x, y)
                best = min(best, time.perf_counter() - t0)
            print(json.dumps({"engine": "pytorch", "torch": torch.__version__, "model": "gemm", "n": n,
                              "gflops": round(2 * n ** 3 / best / 1e9, 1), "threads": a.threads}))
        return
    xtr, ytr, xte, yte = dataset(a.data)
    xtr = torch.tensor(xtr, dtype=torch.float32).unsqueeze(1) / 255.0
    xte = torch.tensor(xte, dtype=torch.float32).unsqueeze(1) / 255.0
    mean, std = xtr.mean().item(), xtr.std().item()
    xtr, xte = (xtr - mean) / std, (xte - mean) / std
    ytr, yte = torch.tensor(ytr, dtype=torch.long), torch.tensor(yte, dtype=torch.long)

    model = {"lenet5": LeNet5, "mlp": Mlp, "resnet20": ResNet20}[a.model]()
    if a.model == "resnet20":
        n = sum(p.numel() for p in model.parameters())
        # Deepshard's ResNet-20 javadoc: 269,722 trainable with 3 input channels, 288 fewer stem weights with 1
        assert n == 269434, f"ResNet-20 has {n} trainable parameters, Deepshard's has 269,434 on 1-channel input"
    opt = (torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9, nesterov=True, weight_decay=5e-4) if a.model == "lenet5"
           else torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9, weight_decay=1e-4) if a.model == "resnet20"
           else torch.optim.Adam(model.parameters(), lr=1e-3))
    gen = torch.Generator().manual_seed(a.seed)
    model.train()
    epoch_s = []
    for epoch in range(a.epochs):
        order = torch.randperm(len(xtr), generator=gen)
        batches = [(xtr[order[i:i + a.batch]], ytr[order[i:i + a.batch]]) for i in range(0, len(xtr), a.batch)]
        t0 = time.perf_counter()
        for x, y in batches:
            opt.zero_grad(set_to_none=True)
            loss = F.cross_entropy(model(x), y)
            loss.backward()
            opt.step()
        epoch_s.append(time.perf_counter() - t0)
    train_s = sum(epoch_s)

    model.eval()
    correct = 0
    t0 = time.perf_counter()
    with torch.no_grad():
        for i in range(0, len(xte), 256):
            correct += (model(xte[i:i + 256]).argmax(1) == yte[i:i + 256]).sum().item()
    infer_s = time.perf_counter() - t0
    print(json.dumps({"engine": "pytorch", "torch": torch.__version__, "model": a.model, "batch": a.batch,
                      "threads": a.threads, "epochs": a.epochs, "trainImagesPerSecond": round(a.epochs * len(xtr) / train_s, 1),
                      "epochImagesPerSecond": [round(len(xtr) / t, 1) for t in epoch_s],
                      "inferenceImagesPerSecond": round(len(xte) / infer_s, 1), "testAccuracy": round(correct / len(xte), 4),
                      "trainSeconds": round(train_s, 2), "mkldnn": torch.backends.mkldnn.is_available()}))


if __name__ == "__main__":
    main()
