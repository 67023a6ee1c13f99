"""Where the CPU goes: per-process CPU time read from /proc, so a benchmark can print how many
milliseconds of CPU each part of the system spent on one unit of work (Linux only)."""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from pathlib import Path

_TICK = os.sysconf("SC_CLK_TCK")


def _processes() -> dict[int, tuple[int, str, float]]:
    """Every live process: pid -> (parent pid, command name, CPU seconds so far)."""
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
        # fields[0] is field 3 of proc(5): state; ppid is 4, utime 14, stime 15
        found[int(entry.name)] = (int(fields[1]), name, (int(fields[11]) + int(fields[12])) / _TICK)
    return found


class CpuMeter:
    """CPU seconds of named groups of processes: a process tree by its root's pid, or every
    process with a given command name (a database server's backends)."""

    def __init__(self, trees: Mapping[str, int], names: Mapping[str, str]) -> None:
        self.trees, self.names = dict(trees), dict(names)

    def read(self) -> dict[str, float]:
        processes = _processes()
        children: dict[int, list[int]] = {}
        for pid, (ppid, _name, _cpu) in processes.items():
            children.setdefault(ppid, []).append(pid)
        totals: dict[str, float] = {}
        for label, root in self.trees.items():
            totals[label] = sum(
                processes[pid][2] for pid in _tree(root, children) if pid in processes
            )
        for label, command in self.names.items():
            totals[label] = sum(cpu for _ppid, name, cpu in processes.values() if name == command)
        own = os.times()
        totals["benchmark client"] = own.user + own.system
        return totals


def _tree(root: int, children: Mapping[int, Iterable[int]]) -> list[int]:
    pending, seen = [root], []
    while pending:
        pid = pending.pop()
        seen.append(pid)
        pending.extend(children.get(pid, ()))
    return seen


def per_unit_ms(before: Mapping[str, float], after: Mapping[str, float], units: int) -> str:
    """One line: each group's CPU milliseconds per unit of work, and their sum."""
    spent = {label: (after[label] - before[label]) * 1000 / units for label in after}
    parts = ", ".join(f"{label} {ms:.1f}" for label, ms in spent.items())
    return f"{parts}; total {sum(spent.values()):.1f} ms"
