"""Facts about the machine that reports print (``fastbp info``, the benchmarks)."""

import platform


def cpu_model():
    """The CPU's model name (``/proc/cpuinfo`` on Linux, else what
    :mod:`platform` knows)."""
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()
