#!/bin/sh
# Regenerates every file in this folder. Run from this folder:  sh regenerate.sh
# Requires Debian 12 python3-torch (1.13.1) and python3-numpy (1.24.2), run with /usr/bin/python3.
set -e
cd "$(dirname "$0")"
PY=/usr/bin/python3
$PY make_models.py .
$PY reference_forward.py llama3-gqa-tied --prompts 1,80,91,269,161,71,280,109,92,176,253 301,236,125,34,140,0,231,81,91,145,67,171,242,192,125,79,96,23,89,138,319,300,245,142,263,168,283,248,223,133,181,178,227,187,1,131,215 --out llama3-gqa-tied/golden.json
$PY reference_forward.py qwen2-bias --prompts 1,155,253,241,130,259,332,278,49,141,118 74,104,204,269,82,0,291,100,158,119,146,208,134,123,109,73,173,240,160,110,335,187,187,335,25,246,225,312,260,65,300,203,245,324,181,203,309 --out qwen2-bias/golden.json
$PY reference_forward.py mistral-bf16 --prompts 1,74,16,230,244,153,236,244,126,229,74 308,258,160,149,139,0,1,146,280,11,296,314,22,290,180,120,179,213,305,24,319,113,123,262,255,243,166,138,280,278,317,190,222,147,261,256,85 --out mistral-bf16/golden.json
$PY reference_forward.py llama2-mha --prompts 1,268,249,234,156,138,208,61,154,25,32 260,138,138,0,84,0,37,120,101,41,232,231,67,207,173,248,273,251,159,265,303,27,218,299,246,257,104,191,45,239,30,65,57,75,205,269,169 --out llama2-mha/golden.json
