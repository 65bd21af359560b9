#!/usr/bin/env bash
# Regenerates validate/public/transfer-*.md: the transfer's error, GPU pair by GPU pair, against
# NVIDIA AIConfigurator's public tables as committed under platforms/public/aiconfigurator/ (no
# network, no AIConfigurator checkout). Each table's "Regenerate" line is its own command;
# tests/cli/test_cli_transfer.cpp reruns every one and checks the bytes.
# Usage: validate/public/make_transfer_tables.sh [path/to/moesim]   (default build/cli/moesim)
set -euo pipefail
cd "$(dirname "$0")/../.."
moesim=${1:-build/cli/moesim}
p=platforms/public/aiconfigurator
out=validate/public

# name  source-table  measured-table  noise-table-a  noise-table-b  (tables: <gpu>.<framework>-<version>)
pairs=(
  "h100-to-h200-vllm  h100_sxm.vllm-0.24.0      h200_sxm.vllm-0.24.0      h200_sxm.trtllm-1.3.0rc10 h200_sxm.trtllm-1.3.0rc20"
  "h100-to-h200-trtllm h100_sxm.trtllm-1.3.0rc20 h200_sxm.trtllm-1.3.0rc20 h200_sxm.trtllm-1.3.0rc10 h200_sxm.trtllm-1.3.0rc20"
  "b200-to-h200-vllm  b200_sxm.vllm-0.24.0      h200_sxm.vllm-0.24.0      h200_sxm.trtllm-1.3.0rc10 h200_sxm.trtllm-1.3.0rc20"
  "b200-to-h200-trtllm b200_sxm.trtllm-1.3.0rc20 h200_sxm.trtllm-1.3.0rc20 h200_sxm.trtllm-1.3.0rc10 h200_sxm.trtllm-1.3.0rc20"
  "a100-to-h100-vllm  a100_sxm.vllm-0.14.0      h100_sxm.vllm-0.14.0      h100_sxm.trtllm-1.3.0rc10 h100_sxm.trtllm-1.3.0rc20"
)
for line in "${pairs[@]}"; do
  read -r name src meas na nb <<<"$line"
  "$moesim" transfer "$p/$src.json.gz" --measured "$p/$meas.json.gz" --noise "$p/$na.json.gz" "$p/$nb.json.gz" \
    --exact-only --md "$out/transfer-$name.md"
  echo "wrote $out/transfer-$name.md"
done
