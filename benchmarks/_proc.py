"""Processes as /proc shows them (Linux only): a process tree's CPU time, so a benchmark can
print how many milliseconds of CPU each part of the system spent on one unit of work, and its
resident memory."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

_TICK = os.sysconf("SC_CLK_TCK")


def processes() -> dict[int, tuple[int, str, float]]:
    """Every live process: pid -> (parent pid, command name, CPU seconds so far, its own and
    that of its children that ended and were waited for, so a process that ends during a
    measurement still counts, in its parent)."""
    found: dict[int, tuple[int, str, float]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue  # gone meanwhile
        name = stat[stat.index("(") + 1 : stat.rindex(")")]
        fields = stat[stat.rindex(")") + 2 :].split()
        # fields[0] is field 3 of proc(5), the state; ppid is 4, utime 14, stime 15, cutime 16
        # and cstime 17
        cpu = sum(int(tick) for tick in fields[11:15]) / _TICK
        found[int(entry.name)] = (int(fields[1]), name, cpu)
    return found


class CpuMeter:
    """CPU seconds of named groups of processes: a process tree by its root's pid, or every
    process with a given command name (a database server's backends)."""

    def __init__(self, trees: Mapping[str, int], names: Mapping[str, str]) -> None:
        self.trees, self.names = dict(trees), dict(names)

    def read(self) -> dict[str, float]:
        found = processes()
        totals: dict[str, float] = {}
        for label, root in self.trees.items():
            totals[label] = sum(found[pid][2] for pid in tree(root, found))
        for label, command in self.names.items():
            totals[label] = sum(cpu for _ppid, name, cpu in found.values() if name == command)
        own = os.times()
        totals["benchmark client"] = own.user + own.system
        return totals


def tree(root: int, found: Mapping[int, tuple[int, str, float]] | None = None) -> list[int]:
    """``root`` and every live process descended from it."""
    found = processes() if found is None else found
    children: dict[int, list[int]] = {}
    for pid, (ppid, _name, _cpu) in found.items():
        children.setdefault(ppid, []).append(pid)
    pending, seen = [root], []
    while pending:
        pid = pending.pop()
        if pid in found:
            seen.append(pid)
        pending.extend(children.get(pid, ()))
    return seen


def rss_kib(root: int) -> int:
    """Resident memory of ``root`` and all its descendants, in KiB."""
    total = 0
    for pid in tree(root):
        try:
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except OSError:
            continue  # gone meanwhile
    return total


def per_unit_ms(before: Mapping[str, float], after: Mapping[str, float], units: int) -> str:
    """One line: each group's CPU milliseconds per unit of work, and their sum."""
    spent = {label: (after[label] - before[label]) * 1000 / units for label in after}
    parts = ", ".join(f"{label} {ms:.1f}" for label, ms in spent.items())
    return f"{parts}; total {sum(spent.values()):.1f} ms"
