#!/usr/bin/env python3
"""latency.py FILE SIZE COUNT SEED: COUNT random reads of SIZE bytes from FILE
(aligned to SIZE), each timed; prints "median_ms p95_ms" (bounded by COUNT)."""
import os, random, sys, time

path, size, count, seed = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
rng = random.Random(seed)
total = os.path.getsize(path)
fd = os.open(path, os.O_RDONLY)
lat = []
for _ in range(count):
    off = rng.randrange(0, total // size) * size
    t = time.perf_counter()
    if len(os.pread(fd, size, off)) != size:
        sys.exit("short read")
    lat.append((time.perf_counter() - t) * 1000)
lat.sort()
print(f"{lat[len(lat) // 2]:.2f} {lat[int(len(lat) * 0.95)]:.2f}")
