#!/usr/bin/env python3
"""randread.py MOUNTED ORIGINAL COUNT SEED [MAXLEN [HIGH_OFFSET_FROM]]

Read COUNT random ranges (random offset, 1..MAXLEN bytes; with
HIGH_OFFSET_FROM, offsets from there on) of MOUNTED and compare each with
the same range of ORIGINAL.  Every read must return the exact bytes or fail
with EIO.  Each read goes to the file system: MOUNTED's page cache is
dropped after it (POSIX_FADV_DONTNEED), so that a read the kernel kept is
not counted twice.  Prints "exact=N eio=N wrong=N other=N"; exits 1 if any
read returned wrong bytes or failed otherwise.  Bounded by COUNT.
"""
import errno, os, random, sys

mounted, original, count, seed = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
maxlen = int(sys.argv[5]) if len(sys.argv) > 5 else 262144
low = int(sys.argv[6]) if len(sys.argv) > 6 else 0
rng = random.Random(seed)
size = os.path.getsize(original)
exact = eio = wrong = other = 0
fm = os.open(mounted, os.O_RDONLY)
fo = os.open(original, os.O_RDONLY)
for _ in range(count):
    off = rng.randrange(low, size)
    n = rng.randint(1, maxlen)
    want = os.pread(fo, n, off)
    try:
        got = os.pread(fm, n, off)
    except OSError as e:
        if e.errno == errno.EIO:
            eio += 1
        else:
            other += 1
            print(f"read {off}+{n}: {e}", file=sys.stderr)
        os.posix_fadvise(fm, 0, 0, os.POSIX_FADV_DONTNEED)
        continue
    os.posix_fadvise(fm, 0, 0, os.POSIX_FADV_DONTNEED)
    if got == want:
        exact += 1
    else:
        wrong += 1
        print(f"WRONG BYTES at {off}+{n}", file=sys.stderr)
print(f"exact={exact} eio={eio} wrong={wrong} other={other}")
sys.exit(1 if wrong or other else 0)
