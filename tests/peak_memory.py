"""Peak memory of a fresh process, for the tests that bound what a hostile file may cost."""

# Source for a `python -c` child: `peak_kib()`, the peak resident memory of this process since it
# started: Linux's VmHWM (ru_maxrss can carry the parent's peak across fork and exec), else
# getrusage.
HIGH_WATER = """
import resource
def peak_kib():
    try:
        for line in open("/proc/self/status"):
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
"""
