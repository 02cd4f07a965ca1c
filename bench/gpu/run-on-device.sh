#!/usr/bin/env bash
# The one GPU run (see README.md here), on the device machine, from the repository root, after bench/gpu/prepare.sh
# here and with data/gpu-run carried. Every step prints what it found; results go to $OUT (or ./data/gpu-run/out).
#   1. what the machine has: GPU, driver, PyTorch (its libtorch and CUDA), cmake, a C++ compiler
#   2. LibTorchSharp (TorchSharp's native glue) built against that PyTorch's libtorch
#   3. the golden-logit check on cuda within bf16 tolerance (Inference.Bench golden; the unit tests' data)
#   4. bench runtime on a generated ~1.1B-parameter Llama in bf16, with the measured-bandwidth roofline
set -uo pipefail
out="${OUT:-$PWD/data/gpu-run/out}"; mkdir -p "$out"; exec > >(tee "$out/run.log") 2>&1
work=/tmp/gpu-run; rm -rf "$work"; mkdir -p "$work"
step() { echo; echo "=== $* ($(date +%T))"; }
fail() { echo "STOP: $*"; exit 1; }

step "1/4 machine"
nvidia-smi --query-gpu=index,name,memory.total,memory.used,driver_version --format=csv || fail "no nvidia-smi"
py=$(command -v python3 || command -v python) || fail "no python"
"$py" - <<'PY' > "$work/torch.env" || fail "no PyTorch with CUDA here"
import os, torch
assert torch.cuda.is_available(), "torch.cuda.is_available() is False"
print(f"TORCH_VERSION={torch.__version__}")
print(f"TORCH_CUDA={torch.version.cuda}")
print(f"TORCH_LIB={os.path.join(os.path.dirname(torch.__file__), 'lib')}")
print(f"TORCH_CMAKE={torch.utils.cmake_prefix_path}")
print(f"TORCH_CXX11_ABI={int(torch._C._GLIBCXX_USE_CXX11_ABI)}")
PY
cat "$work/torch.env"; source "$work/torch.env"
command -v cmake >/dev/null || "$py" -m pip install --no-index cmake 2>/dev/null || true
command -v cmake >/dev/null || fail "no cmake (TorchSharp's glue needs cmake >= 3.18)"
command -v g++ >/dev/null || fail "no g++"
cmake --version | head -1; g++ --version | head -1

step "2/4 LibTorchSharp against PyTorch $TORCH_VERSION"
tar -C "$work" -xJf data/gpu-run/libtorchsharp-src.tar.xz
tar -C "$work" -xJf data/gpu-run/bench.tar.xz
mkdir -p "$work/native-build"
( cd "$work/native-build" &&
  cmake "$work/src/Native" -DCMAKE_BUILD_TYPE=Release -DCMAKE_PREFIX_PATH="$TORCH_CMAKE" -DLIBTORCH_PATH="$TORCH_CMAKE/Torch" \
        -DCMAKE_CXX_FLAGS="-D_GLIBCXX_USE_CXX11_ABI=$TORCH_CXX11_ABI" > "$out/cmake.log" 2>&1 &&
  make -j"$(nproc)" LibTorchSharp > "$out/make.log" 2>&1 ) || { tail -40 "$out/cmake.log" "$out/make.log"; fail "LibTorchSharp did not build against PyTorch $TORCH_VERSION (TorchSharp 0.107 targets libtorch 2.10; see make.log for the API differences)"; }
glue=$(find "$work/native-build" -name libLibTorchSharp.so | head -1)
cp "$glue" "$work/bench/"
export LD_LIBRARY_PATH="$work/bench:$TORCH_LIB:${LD_LIBRARY_PATH:-}"
bench="$work/bench/Inference.Bench"

step "3/4 golden logits on cuda (bf16 within 0.05, as the CPU bf16 test; float32 within 1e-3)"
"$bench" golden --dir tests/Worker.Tests/TestData/golden --device cuda:0 --dtype bfloat16 --tolerance 0.05 | tee "$out/golden-bf16.txt"; g1=${PIPESTATUS[0]}
"$bench" golden --dir tests/Worker.Tests/TestData/golden --device cuda:0 --dtype float32 --tolerance 0.001 | tee "$out/golden-f32.txt"; g2=${PIPESTATUS[0]}

step "4/4 bench runtime: ~1.1B Llama (TinyLlama shape) in bf16 on cuda:0"
"$bench" create-random-model --out "$work/llama-1b" --arch llama --hidden-size 2048 --intermediate-size 5632 --layers 22 --heads 32 --kv-heads 4 --vocab-size 32000 --dtype BF16 --seed 1 \
  || fail "create-random-model failed"
timeout 420 "$bench" runtime --model "$work/llama-1b" --device cuda:0 --dtype bfloat16 --libtorch-ops --batches 1,8,32,64 --prompt 512 --decode 128 | tee "$out/runtime-bf16.md"
r=${PIPESTATUS[0]}
nvidia-smi --query-gpu=memory.used,power.draw,clocks.sm --format=csv | tee "$out/after.csv"
echo; echo "golden bf16 exit $g1, golden f32 exit $g2, runtime exit $r"
exit $(( g1 || g2 || r ))
