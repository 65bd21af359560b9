"""What GPUs this machine has, from nvidia-smi: their count, names and compute capability, and the
CUDA architecture to build for (compute capability 9.0 -> "90")."""

import dataclasses
import subprocess


@dataclasses.dataclass(frozen=True)
class Gpu:
    index: int
    name: str
    compute_cap: str  # "9.0"


def parse_gpus(csv_text):
    """nvidia-smi --query-gpu=index,name,compute_cap --format=csv,noheader lines -> [Gpu]."""
    gpus = []
    for line in csv_text.splitlines():
        if not line.strip():
            continue
        parts = [p.strip() for p in line.split(",")]
        if len(parts) != 3 or not parts[0].isdigit():
            raise ValueError(f"unexpected nvidia-smi line: {line!r}")
        gpus.append(Gpu(int(parts[0]), parts[1], parts[2]))
    return gpus


def query_gpus(run=subprocess.run):
    """The GPUs nvidia-smi lists; [] when there is no nvidia-smi or no driver."""
    try:
        r = run(["nvidia-smi", "--query-gpu=index,name,compute_cap", "--format=csv,noheader"],
                capture_output=True, text=True, timeout=60, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return []
    if r.returncode != 0:
        return []
    return parse_gpus(r.stdout)


def cuda_arch(compute_caps):
    """The CMake CUDA_ARCHITECTURES for these compute capabilities: "9.0" -> "90"; several distinct
    ones are joined with ";" in ascending order."""
    archs = set()
    for cc in compute_caps:
        major, _, minor = cc.partition(".")
        if not major.isdigit() or not minor.isdigit():
            raise ValueError(f"not a compute capability: {cc!r}")
        archs.add(int(major) * 10 + int(minor))
    if not archs:
        raise ValueError("no compute capability")
    return ";".join(str(a) for a in sorted(archs))
