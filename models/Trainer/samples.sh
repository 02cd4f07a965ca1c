#!/usr/bin/env bash
# Generates the model card's samples with the product's own `generate` command: greedy and sampled
# (temperature 0.8, top_p 0.9, seeds 1-2) continuations of fixed prompts. Writes OUT/samples.md and
# OUT/generated.txt (generated text only, for word_fraction.py). Usage: samples.sh MODEL_DIR OUT_DIR [WORKER_DLL]
set -euo pipefail
model="$1"; out="$2"
worker="${3:-}"
mkdir -p "$out"
run() {
  if [ -n "$worker" ]; then dotnet "$worker" generate --model "$model" "$@" 2>/dev/null
  else dotnet run -c Release --project src/Worker -- generate --model "$model" "$@" 2>/dev/null; fi
}
prompts=(
  "The jury said that"
  "In the morning, the children"
  "The history of the city"
  "She opened the door and"
  "The president told the committee"
  "Scientists have found that"
  "It was a cold night, and"
  "The most important thing about music is"
)
: > "$out/generated.txt"
{
  echo "| prompt | mode | continuation |"
  echo "|---|---|---|"
  for p in "${prompts[@]}"; do
    for mode in greedy 1 2; do
      if [ "$mode" = greedy ]; then
        text=$(run --prompt "$p" --max-tokens 48 --temperature 0)
      else
        text=$(run --prompt "$p" --max-tokens 48 --temperature 0.8 --top-p 0.9 --seed "$mode")
        mode="T=0.8, top_p=0.9, seed $mode"
      fi
      printf '%s\n' "$text" >> "$out/generated.txt"
      cell=$(printf '%s' "$text" | tr '\n' ' ' | sed 's/|/\\|/g')
      echo "| $p | $mode | $cell |"
    done
  done
} > "$out/samples.md"
cat "$out/samples.md"
