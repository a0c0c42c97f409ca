"""CPU and memory of other processes, read from Linux's `/proc` (what psutil reads, without it).

CPU times are seconds of user + system time; `loop` is the process's main thread alone, which is
where a Parley server's event loop runs (the other threads are decoders, encoders, VAD and
database workers).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

TICK = os.sysconf("SC_CLK_TCK")


@dataclass(frozen=True)
class CpuTimes:
    total: float  # every thread of the process
    loop: float  # its main thread


def _cpu_of(stat_path: str) -> float:
    fields = Path(stat_path).read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK  # utime, stime (fields 14 and 15)


def cpu_times(pid: int) -> CpuTimes:
    return CpuTimes(_cpu_of(f"/proc/{pid}/stat"), _cpu_of(f"/proc/{pid}/task/{pid}/stat"))


def rss_bytes(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    return 0


def machine_busy() -> float:
    """Seconds of CPU the whole machine has spent busy (every core, every process)."""
    values = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:9]]
    idle = values[3] + values[4]  # idle, iowait
    return (sum(values) - idle) / TICK


def load_average() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])
