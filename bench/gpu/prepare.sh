#!/usr/bin/env bash
# Builds, on this machine (no GPU needed), everything the one-shot GPU run needs, into data/gpu-run/ (git-ignored):
#   bench.tar.xz            Inference.Bench published self-contained for linux-x64 (the device machine may have no
#                           .NET), without libtorch's CPU libraries: the device's own PyTorch supplies libtorch.
#   libtorchsharp-src.tar.xz TorchSharp 0.107.0's native glue (src/Native), to build against that libtorch there.
# Then: the `run` tool with carry ["data/gpu-run"] and the command `bash bench/gpu/run-on-device.sh` (README there).
set -euo pipefail
root=$(git -C "$(dirname "$0")" rev-parse --show-toplevel)
out="$root/data/gpu-run"
src="${TORCHSHARP_SRC:-/work/.mirror/dotnet+TorchSharp/repo}" # a clone (or bare mirror) of github.com/dotnet/TorchSharp
rm -rf "$out" && mkdir -p "$out"

echo "[1/3] TorchSharp native source from $src ($(git -C "$src" describe --tags --always HEAD))"
git -C "$src" archive --format=tar HEAD src/Native build/BranchInfo.props | xz -T2 -6 > "$out/libtorchsharp-src.tar.xz"

echo "[2/3] publishing Inference.Bench self-contained for linux-x64"
dotnet publish "$root/bench/Inference.Bench" -c Release -r linux-x64 --self-contained -o "$out/bench" --nologo -v quiet \
  --artifacts-path "$out/artifacts" -p:ErrorOnDuplicatePublishOutputFiles=false
# libtorch (CPU) and the CPU-built glue are replaced on the device by its PyTorch and a glue built against it.
find "$out/bench" \( -name 'libtorch*.so*' -o -name 'libc10*.so*' -o -name 'libgomp*.so*' -o -name 'libLibTorchSharp.so' \) -delete

echo "[3/3] packing"
tar -C "$out" -cf - bench | xz -T2 -6 > "$out/bench.tar.xz"
rm -rf "$out/bench" "$out/artifacts"
du -sh "$out"/*
total=$(du -sb "$out" | cut -f1)
if (( total > 60 * 1024 * 1024 )); then
  echo "error: data/gpu-run is $((total / 1024 / 1024)) MiB; the run tool carries at most 64 MiB" >&2
  exit 1
fi
echo "ready: run with carry [\"data/gpu-run\"]: bash bench/gpu/run-on-device.sh"
