"""Calibration files from a GPU call's benches (dev machine): the kernel tables of bench-kernels and
the event-timed bench-collectives tables of results/bench/ become the simulator's calibration files
for the lent machines of that card, through `moesim calibrate`:

  4 GPUs: platforms/calibration/nvswitch-4x-CARD.yaml        kernels + host + collectives over 4 and 2 GPUs, P2P on
          platforms/calibration/nvswitch-4x-CARD-nop2p.yaml  the same with NCCL_P2P_DISABLE=1
          platforms/calibration/nvswitch-2x-CARD.yaml        kernels + host + collectives over 2 GPUs, P2P on
          platforms/calibration/nvswitch-1x-CARD.yaml        kernels + host
  8 GPUs: platforms/calibration/hgx-8x-CARD[-nop2p].yaml     kernels + host + collectives over 8, 4 and 2 GPUs

Kernel tables depend on the card, not on how many GPUs the machine has; collectives over 2 GPUs of
the 4-GPU machine stand for the 2-GPU machine (the same NVSwitch fabric).
"""

import glob
import json
import os
import subprocess

from . import compare
from .phases import COLLECTIVES


def targets(card, gpus):
    """(platform, p2p, groups) per file written."""
    if gpus == 8:
        return [(f"hgx-8x-{card}", "on", [8, 4, 2]), (f"hgx-8x-{card}-nop2p", "off", [8, 4, 2])]
    if gpus == 4:
        return [(f"nvswitch-4x-{card}", "on", [4, 2]), (f"nvswitch-4x-{card}-nop2p", "off", [4, 2]),
                (f"nvswitch-2x-{card}", "on", [2]), (f"nvswitch-1x-{card}", "on", [])]
    raise ValueError("GPUS must be 4 or 8 (the machines the calibration files are for)")


def collective_logs(bench, gpus, p2p, groups):
    logs = []
    for g in groups:
        for op in COLLECTIVES:
            logs.append(os.path.join(bench, f"{op}.p2p-{p2p}.txt" if g == gpus else f"{op}.g{g}.p2p-{p2p}.txt"))
    return logs


def measured_on_text(system, day, p2p):
    env = ", NCCL_P2P_DISABLE=1" if p2p == "off" else ""
    return (f'{system["devices"][0]["name"]}, driver {system["driver_build"]}, CUDA {system["runtime_version"]}, '
            f'NCCL {system["nccl_version"]}, {day}, NCCL_NVLS_ENABLE=0{env}; collectives event-timed '
            "(bench-collectives --timing events)")


def write_files(root, res, card, gpus=4, moesim=None, run=subprocess.run):
    moesim = moesim or os.path.join(root, "build", "cli", "moesim")
    bench = os.path.join(res, "bench")
    if not os.path.isdir(bench):
        raise FileNotFoundError(f"no {bench}")
    kernels = sorted(glob.glob(os.path.join(bench, "kernels.*.json")))
    kernels = [k for k in kernels if not k.endswith(".run.json")]
    if not kernels:
        raise FileNotFoundError(f"no kernels.*.json in {bench}")
    with open(kernels[0]) as f:
        system = json.load(f)["system"]
    day = compare.measured_on(res)[:10]
    os.makedirs(os.path.join(root, "platforms", "calibration"), exist_ok=True)
    written = []
    for plat, p2p, groups in targets(card, gpus):
        args = [moesim, "calibrate"]
        logs = collective_logs(bench, gpus, p2p, groups)
        if logs:
            args += ["--nccl-tests"] + logs
        out = os.path.join("platforms", "calibration", f"{plat}.yaml")
        args += ["--bench-kernels"] + kernels + ["--platform", plat, "--measured-on",
                                                 measured_on_text(system, day, p2p), "-o", out]
        run(args, cwd=root, check=True)
        written.append(out)
    return written
