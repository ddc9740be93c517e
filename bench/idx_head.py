"""Writes the first N training and M test images (and labels) of an IDX dataset folder as gzip IDX files:
bench/run native's ResNet-20 row trains on a subset so that DL4J's slowest settings finish in minutes.

    python3 bench/idx_head.py <source dir> <target dir> <train N> <test M>
"""
import gzip
import os
import struct
import sys


def head(src, dst, n):
    with (gzip.open if src.endswith(".gz") else open)(src, "rb") as f:
        data = f.read()
    magic, count = struct.unpack(">II", data[:8])
    dims = magic & 0xFF
    shape = struct.unpack(">" + "I" * dims, data[4:4 + 4 * dims])
    if n > count:
        sys.exit(f"idx_head: {src} has {count} records, {n} asked for")
    per = 1
    for d in shape[1:]:
        per *= d
    body = data[4 + 4 * dims:4 + 4 * dims + n * per]
    tmp = dst + ".tmp"
    with gzip.open(tmp, "wb") as f:
        f.write(struct.pack(">I", magic) + struct.pack(">I", n) + data[8:4 + 4 * dims] + body)
    os.replace(tmp, dst)


def main():
    src, dst, ntrain, ntest = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
    os.makedirs(dst, exist_ok=True)
    for stem, n in (("train-images-idx3-ubyte", ntrain), ("train-labels-idx1-ubyte", ntrain),
                    ("t10k-images-idx3-ubyte", ntest), ("t10k-labels-idx1-ubyte", ntest)):
        path = next((os.path.join(src, stem + e) for e in (".gz", "") if os.path.exists(os.path.join(src, stem + e))), None)
        if path is None:
            sys.exit(f"idx_head: {stem}[.gz] not found in {src}")
        head(path, os.path.join(dst, stem + ".gz"), n)


if __name__ == "__main__":
    main()
