"""A 1 GiB protected download served by gunicorn (one sync worker) through send_asset:
the worker's memory and the throughput while the whole file is read, and a last-MiB
Range request against a same-run baseline.

- Memory: the worker's peak RSS (VmHWM) after a warm-up request, then after the whole
  file has been read over loopback (bytes counted and discarded). Target: it grows by
  less than 20 MB, as the file goes out in blocks (gunicorn's sendfile through
  wsgi.file_wrapper), never read whole.
- Range: `Range: bytes=-1048576` of the big file ÷ a full GET of a 1 MiB file, medians of
  interleaved rounds. About 1: the rest of the file is not read. Target ≤ 2.

The big file is sparse by default (`truncate`: no disk space, and its blocks come from
the page cache, so the figures are the server's, not the disk's); `--dense` writes real
bytes first. Everything runs in a temp folder on 127.0.0.1 and is stopped on exit,
Ctrl-C or SIGTERM. Exits 1 when a target is missed.
Usage: python bench/big_file.py [--size-mb N] [--rounds N] [--dense]
"""

from __future__ import annotations

import argparse
import os
import signal
import statistics
import sys
import tempfile
import time
from pathlib import Path

import requests

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench.processing import BIN, free_port, started

GROWTH_LIMIT_MB = 20
RANGE_LIMIT = 2.0
MIB = 1024 * 1024
TIMEOUT = 300  # seconds for any one request: bounded, and long enough for a dense disk read


def worker_pid(master: int, limit: float = 20.0) -> int:
    """The gunicorn worker: the master's child (read from /proc; psutil is not a dependency)."""
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        for entry in Path("/proc").iterdir():
            if entry.name.isdigit():
                try:
                    status = (entry / "status").read_text()
                except OSError:
                    continue
                if f"\nPPid:\t{master}\n" in status:
                    return int(entry.name)
        time.sleep(0.05)
    raise RuntimeError(f"gunicorn {master} started no worker")


def peak_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmHWM for {pid}")


def read_all(url: str, headers: dict[str, str] | None = None) -> tuple[int, float]:
    """Bytes received and seconds taken, the body discarded as it arrives."""
    start = time.perf_counter()
    received = 0
    with requests.get(url, headers=headers, stream=True, timeout=TIMEOUT) as r:
        r.raise_for_status()
        for block in r.iter_content(MIB):
            received += len(block)
    return received, time.perf_counter() - start


def make_files(folder: Path, size: int, dense: bool) -> None:
    with open(folder / "big.bin", "wb") as f:
        if dense:
            block = os.urandom(MIB)
            for _ in range(size // MIB):
                f.write(block)
        f.truncate(size)
    (folder / "small.bin").write_bytes(os.urandom(MIB))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-mb", type=int, default=1024)
    parser.add_argument("--rounds", type=int, default=30)
    parser.add_argument("--dense", action="store_true", help="write real bytes, not a sparse file")
    args = parser.parse_args()
    # SIGTERM unwinds like Ctrl-C, so `started` stops gunicorn's whole group either way.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))
    size = args.size_mb * MIB

    with tempfile.TemporaryDirectory(prefix="tollgate-big-file-") as tmp:
        folder = Path(tmp)
        make_files(folder, size, args.dense)
        port = free_port()
        env = dict(os.environ, BENCH_CONTENT_DIR=tmp, PYTHONPATH=str(Path(__file__).parents[1]))
        command = [
            str(BIN / "gunicorn"), "-w", "1", "-k", "sync", "--timeout", str(TIMEOUT),
            "-b", f"127.0.0.1:{port}", "bench.files_app:app",
        ]  # fmt: skip
        with started(command, env, port) as master:
            base = f"http://127.0.0.1:{port}"
            worker = worker_pid(master.pid)
            read_all(f"{base}/small.bin")  # warm-up: imports and the first request done
            before = peak_mb(worker)
            received, seconds = read_all(f"{base}/big.bin")
            after = peak_mb(worker)
            if received != size:
                print(f"received {received:,} bytes of {size:,}")
                return 1

            whole, tail = [], []
            last = {"Range": f"bytes=-{MIB}"}
            for _ in range(args.rounds):  # interleaved, so drift hits both alike
                whole.append(read_all(f"{base}/small.bin")[1])
                got, took = read_all(f"{base}/big.bin", last)
                assert got == MIB, got
                tail.append(took)

    growth = after - before
    ratio = statistics.median(tail) / statistics.median(whole)
    kind = "dense" if args.dense else "sparse"
    print(f"file: {size / MIB:,.0f} MiB ({kind}); gunicorn -w 1 sync, streamed by the app")
    print(f"worker peak RSS: {before:.1f} MB after warm-up, {after:.1f} MB after the whole file")
    print(f"  growth {growth:.1f} MB (target < {GROWTH_LIMIT_MB})")
    print(f"throughput: {size / MIB / seconds:,.0f} MiB/s ({seconds:.2f} s)")
    print(
        f"last MiB by Range: {statistics.median(tail) * 1000:.2f} ms; whole 1 MiB file: "
        f"{statistics.median(whole) * 1000:.2f} ms (medians of {args.rounds})"
    )
    print(f"  ratio {ratio:.2f} (target ≤ {RANGE_LIMIT})")
    return 0 if growth < GROWTH_LIMIT_MB and ratio <= RANGE_LIMIT else 1


if __name__ == "__main__":
    sys.exit(main())
