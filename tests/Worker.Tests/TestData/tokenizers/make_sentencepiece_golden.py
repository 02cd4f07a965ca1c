#!/usr/bin/python3
"""Trains a small Llama-2-style SentencePiece BPE model and writes encode/decode goldens.

Run from this folder with Debian's python3-sentencepiece (0.1.97):
    /usr/bin/python3 make_sentencepiece_golden.py
Writes sentencepiece-bpe/: tokenizer_model.base64.json (the tokenizer.model bytes, base64, since the test
project copies only *.json to its output), tokenizer_config.json and golden.json.
Training input: the non-empty lines texts of /usr/share/common-licenses/* (sorted by name).
"""
import base64, glob, io, json, os
import sentencepiece as spm

OUT = "sentencepiece-bpe"
COMMAND = "/usr/bin/python3 make_sentencepiece_golden.py  (python3-sentencepiece " + spm.__version__ + ")"

texts = []
for path in sorted(glob.glob("/usr/share/common-licenses/*")):
    if os.path.isfile(path):
        with open(path, encoding="utf-8", errors="replace") as f:
            texts.extend(line.rstrip("\n") for line in f if line.strip())

model = io.BytesIO()
spm.SentencePieceTrainer.train(
    sentence_iterator=iter(texts), model_writer=model,
    model_type="bpe", vocab_size=1500, character_coverage=0.99995,
    byte_fallback=True, split_digits=True, add_dummy_prefix=True,
    normalization_rule_name="identity", remove_extra_whitespaces=False,
    allow_whitespace_only_pieces=True, split_by_unicode_script=True, split_by_whitespace=True,
    unk_id=0, bos_id=1, eos_id=2, pad_id=-1,
    max_sentence_length=4192, num_threads=1, input_sentence_size=0, shuffle_input_sentence=False,
)
data = model.getvalue()
sp = spm.SentencePieceProcessor(model_proto=data)

TEXTS = [
    "Hello world, the quick brown fox jumps over the lazy dog.",
    "This program is free software; you can redistribute it and/or modify it.",
    "Version 3, 29 June 2007 and 1234567890 or 3.14159",
    " leading space",
    "trailing space ",
    "   three leading, two  inner,   trailing   ",
    "line one\nline two\n\nafter blank",
    "tab\tseparated\tcolumns\t",
    "\n",
    " ",
    "",
    "안녕하세요 세계",
    "你好，世界",
    "日本語のテキストです。",
    "👋🏽 🚀",
    "family: 👨‍👩‍👧 done",
    "café naïve résumé Ångström",
    "Mixed: café 안녕 👋🏽 world! 123456 it's",
    "  two  spaces\tand\ttabs\nnew\n\nlines  \r\n end ",
    # Not here: "<s>" written literally. sentencepiece encodes it as characters; transformers' LlamaTokenizer (and
    # ModelTokenizer) turn it into the control token, so it is no sentencepiece golden.
]

cases = []
for text in TEXTS:
    ids = sp.encode(text, add_bos=True)
    cases.append({
        "text": text,
        "ids_with_bos": ids,
        "pieces": [sp.id_to_piece(i) for i in ids],
        "decoded": sp.decode(ids),
    })

os.makedirs(OUT, exist_ok=True)
with open(os.path.join(OUT, "tokenizer_model.base64.json"), "w", encoding="utf-8") as f:
    json.dump({"command": COMMAND, "tokenizer_model_base64": base64.b64encode(data).decode("ascii")}, f)
with open(os.path.join(OUT, "tokenizer_config.json"), "w", encoding="utf-8") as f:
    json.dump({"add_bos_token": True, "add_eos_token": False, "bos_token": "<s>", "eos_token": "</s>", "unk_token": "<unk>"}, f, indent=2)
with open(os.path.join(OUT, "golden.json"), "w", encoding="utf-8") as f:
    json.dump({
        "command": COMMAND,
        "reference": "sentencepiece.SentencePieceProcessor.encode(text, add_bos=True) and .decode(ids)",
        "vocab_size": sp.get_piece_size(),
        "cases": cases,
    }, f, ensure_ascii=False, indent=1)
print("vocab", sp.get_piece_size(), "bytes", len(data))
