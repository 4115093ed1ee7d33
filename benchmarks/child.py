"""Run one measured piece of work in a fresh Python process: wall and CPU seconds, and peak
resident memory above what the process held after its imports.

Peak memory is VmHWM from /proc: unlike ru_maxrss, Linux resets it at exec, so a child does
not inherit the high-water mark of the parent that forked it. Inside the work, ``mark(name)``
closes a phase: wall and CPU seconds since the previous mark, and the peak so far.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from collections.abc import Mapping

_CHILD = textwrap.dedent("""
    import json, sys, time, warnings
    def hwm_mb():
        for line in open("/proc/self/status"):
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    {imports}
    base = hwm_mb()
    phases = {{}}
    _last = [time.perf_counter(), time.process_time()]
    def mark(name):
        now = [time.perf_counter(), time.process_time()]
        phases[name] = {{"wall_s": now[0] - _last[0], "cpu_s": now[1] - _last[1],
                        "peak_mb": hwm_mb()}}
        _last[:] = now
    wall, cpu = time.perf_counter(), time.process_time()
    {work}
    out = {{"wall_s": time.perf_counter() - wall, "cpu_s": time.process_time() - cpu,
           "base_mb": base, "peak_mb": hwm_mb(), "above_base_mb": hwm_mb() - base,
           "phases": phases, "check": check}}
    print(json.dumps(out))
""")


def run_child(imports: str, work: str, *, timeout: float | None = None,
              env: Mapping[str, str] | None = None) -> dict:
    """Run ``imports`` (not measured), then ``work`` (measured; it must set ``check``, a
    JSON-able value the caller verifies) in a new interpreter; return the measurements.

    Raises ``subprocess.TimeoutExpired`` past ``timeout`` seconds, and RuntimeError with the
    end of the child's stderr when it fails.
    """
    code = _CHILD.format(imports=imports, work=work)
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=False, timeout=timeout, env=env)
    if proc.returncode != 0:
        raise RuntimeError(f"benchmark process failed:\n{proc.stderr[-4000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])
