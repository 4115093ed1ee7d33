"""Run one measured piece of work in a fresh Python process: wall and CPU seconds, and peak
resident memory above what the process held after its imports.

Peak memory is VmHWM from /proc: unlike ru_maxrss, Linux resets it at exec, so a child does
not inherit the high-water mark of the parent that forked it.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

_CHILD = textwrap.dedent("""
    import json, sys, time
    def hwm_mb():
        for line in open("/proc/self/status"):
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    {imports}
    base = hwm_mb()
    wall, cpu = time.perf_counter(), time.process_time()
    {work}
    out = {{"wall_s": time.perf_counter() - wall, "cpu_s": time.process_time() - cpu,
           "peak_mb": hwm_mb(), "above_base_mb": hwm_mb() - base, "check": check}}
    print(json.dumps(out))
""")


def run_child(imports: str, work: str) -> dict:
    """Run ``imports`` (not measured), then ``work`` (measured; it must set ``check``, a
    JSON-able value the caller verifies) in a new interpreter; return the measurements."""
    code = _CHILD.format(imports=imports, work=work)
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=False)
    if proc.returncode != 0:
        raise RuntimeError(proc.stderr[-3000:])
    return json.loads(proc.stdout.strip().splitlines()[-1])
