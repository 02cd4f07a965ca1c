#!/usr/bin/env bash
# bench serve against our gateway and llama.cpp's llama-server on the same weights, same box, in one run.
#   bench/serve-vs-llamacpp.sh [OUT_DIR] [extra serve options...]
# Needs ../shared/peer/README.md's steps 1-3 done (llama-server built, the bundled model converted to GGUF under
# $PEER_DIR). Starts each server in turn on a free port, runs the same `serve` (same prompts, same seed) against it,
# writes OUT_DIR/{ours,llamacpp}/ (result.json, report.md, charts) and prints both tables; each run's self-check
# compares the tokens counted on the wire with the server's usage. A fresh connection per request for both servers
# (--no-keep-alive): llama-server closes kept-alive connections under its clients, and a request sent on one fails.
set -euo pipefail
cd "$(dirname "$0")/.."
OUT="${1:-data/bench/serve-vs-llamacpp}"; shift || true
PEER="${PEER_DIR:-$HOME/.cache/inference-peer}"
MODEL=models/brown-llama-5m
GGUF="$PEER/gguf/brown-llama-5m-f32.gguf"
LLAMA="$PEER/llama.cpp/build/bin/llama-server"
[ -x "$LLAMA" ] && [ -f "$GGUF" ] || { echo "llama-server or $GGUF missing: see ../shared/peer/README.md" >&2; exit 2; }
dotnet build -c Release -v q -nologo bench/Inference.Bench >/dev/null
dotnet build -c Release -v q -nologo src/Gateway >/dev/null
BENCH="dotnet bench/Inference.Bench/bin/Release/net10.0/Inference.Bench.dll"
PAR=16
SERVE=(serve --num-prompts 160 --input-len 128 --output-len 64 --max-concurrency "$PAR" --request-rate 16 --seed 1 \
       --goodput ttft:1000 e2el:5000 --self-check --no-keep-alive "$@")
port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_up() { for _ in $(seq 240); do curl -sf "$1" >/dev/null && return 0; sleep 0.5; done; echo "server at $1 not up" >&2; return 1; }
mkdir -p "$OUT"

P=$(port)
dotnet src/Gateway/bin/Release/net10.0/Inference.Gateway.dll --model "$MODEL" --port "$P" --grpc-port -1 --no-response-cache \
  --data-dir "$OUT/gateway-data" >"$OUT/ours.log" 2>&1 & PID=$!
trap 'kill $PID 2>/dev/null || true' EXIT
wait_up "http://127.0.0.1:$P/ready"
status=0
$BENCH "${SERVE[@]}" --base-url "http://127.0.0.1:$P" --label ours --out "$OUT/ours" 2>/dev/null || status=1
kill $PID; wait $PID 2>/dev/null || true

P=$(port)
"$LLAMA" -m "$GGUF" --host 127.0.0.1 --port "$P" --parallel "$PAR" --ctx-size $((1024 * PAR)) --cont-batching \
  --threads "$(nproc)" --alias brown-llama-5m --no-webui >"$OUT/llamacpp.log" 2>&1 & PID=$!
wait_up "http://127.0.0.1:$P/health"
$BENCH "${SERVE[@]}" --base-url "http://127.0.0.1:$P" --model brown-llama-5m --label llama.cpp --out "$OUT/llamacpp" \
  --extra-body '{"cache_prompt": false}' 2>/dev/null || status=1
exit $status
