"""moesim's GPU driver (validate/gpu_tool.py): the GPU-machine jobs as data, with a JSON manifest per
run, and the dev-machine steps around them (validation matrix schedules and predictions, calibration
schedules and files, measured-versus-simulated tables). Debian's python3 standard library only."""
