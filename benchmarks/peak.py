"""The machine's fp32 peak, computed from the CPU this process runs on.

  python benchmarks/peak.py

peak = cores x FP32 FLOP per cycle per core x clock, where
- cores: the CPUs this process may run on (its affinity);
- FLOP/cycle: from the CPU's vector ISA in /proc/cpuinfo (two FMA pipes per
  core: AVX-512 64, AVX2+FMA 32, AVX 16, SSE 8);
- clock: measured, by timing a chain of dependent 1-cycle integer adds in a
  small C program (gcc, compiled to a temporary directory), since the
  nominal MHz in /proc/cpuinfo is not the boost clock; without gcc, the
  nominal MHz is used and said so.

Also measures a dense fp32 matmul under jax.jit on all cores, the best the
compiler reaches on this CPU (a reachable ceiling, below the peak).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
import time

_CLOCK_C = r"""
#include <stdio.h>
#include <time.h>
int main(void) {
  struct timespec a, b;
  long n = 200000000, x = 0;
  clock_gettime(CLOCK_MONOTONIC, &a);
  for (long i = 0; i < n; i++)
    __asm__ volatile("add $1, %0\n\tadd $1, %0\n\tadd $1, %0\n\t"
                     "add $1, %0\n\tadd $1, %0\n\tadd $1, %0\n\t"
                     "add $1, %0\n\tadd $1, %0" : "+r"(x));
  clock_gettime(CLOCK_MONOTONIC, &b);
  double t = (b.tv_sec - a.tv_sec) + 1e-9 * (b.tv_nsec - a.tv_nsec);
  printf("%.4f\n", 8.0 * n / t / 1e9);
  return x == 0;
}
"""


def _cpuinfo() -> str:
  try:
    with open("/proc/cpuinfo") as f:
      return f.read()
  except OSError:
    return ""


def flop_per_cycle(info: str) -> tuple[int, str]:
  flags = set(re.search(r"^flags\s*:(.*)$", info, re.M).group(1).split()
              ) if "flags" in info else set()
  if "avx512f" in flags:
    return 64, "AVX-512 (2 x 16-lane FMA)"
  if "avx2" in flags and "fma" in flags:
    return 32, "AVX2+FMA (2 x 8-lane FMA)"
  if "avx" in flags:
    return 16, "AVX (8-lane add + mul)"
  return 8, "SSE (4-lane add + mul)"


def clock_ghz(info: str) -> tuple[float, str]:
  """Measured clock (GHz) of one core, else the nominal MHz."""
  gcc = shutil.which("gcc") or shutil.which("cc")
  if gcc:
    with tempfile.TemporaryDirectory() as tmp:
      src, exe = os.path.join(tmp, "clock.c"), os.path.join(tmp, "clock")
      with open(src, "w") as f:
        f.write(_CLOCK_C)
      if subprocess.run([gcc, "-O1", src, "-o", exe],
                        capture_output=True).returncode == 0:
        runs = [float(subprocess.run([exe], capture_output=True, text=True,
                                     check=True).stdout) for _ in range(3)]
        return max(runs), "measured (dependent integer adds, 1 per cycle)"
  m = re.search(r"cpu MHz\s*:\s*([\d.]+)", info)
  if m:
    return float(m.group(1)) / 1e3, "nominal (/proc/cpuinfo; boost unknown)"
  return 2.0, "unknown (assumed 2 GHz)"


def fp32_peak() -> tuple[float, str]:
  """(GFLOP/s, one line saying how it was computed)."""
  info = _cpuinfo()
  fpc, isa = flop_per_cycle(info)
  ghz, how = clock_ghz(info)
  from ddn import runtime  # pylint: disable=g-import-not-at-top
  n = runtime.cpu_cores()
  peak = n * fpc * ghz
  model = re.search(r"model name\s*:\s*(.*)", info)
  name = model.group(1).strip() if model else "unknown CPU"
  return peak, (f"{name}: {n} cores x {fpc} FLOP/cycle [{isa}] x "
                f"{ghz:.2f} GHz [{how}] = {peak:.0f} GFLOP/s")


def matmul_gflops(n: int = 2048, reps: int = 10) -> float:
  """fp32 n x n matmul under jax.jit, on the default device (all cores)."""
  import jax  # pylint: disable=g-import-not-at-top
  import jax.numpy as jnp  # pylint: disable=g-import-not-at-top
  a = jax.random.normal(jax.random.PRNGKey(0), (n, n), jnp.float32)
  f = jax.jit(lambda a: a @ a)
  f(a).block_until_ready()
  best = float("inf")
  for _ in range(reps):
    t = time.perf_counter()
    f(a).block_until_ready()
    best = min(best, time.perf_counter() - t)
  return 2 * n ** 3 / best / 1e9


def main():
  peak, how = fp32_peak()
  print(f"fp32 peak: {how}")
  mm = matmul_gflops()
  print(f"jax.jit 2048^2 fp32 matmul: {mm:.0f} GFLOP/s "
        f"({100 * mm / peak:.0f} % of peak)")


if __name__ == "__main__":
  main()
