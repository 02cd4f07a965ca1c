#!/usr/bin/python3
"""Fraction of generated words found in Debian's wamerican word list (/usr/share/dict/american-english).

Usage: word_fraction.py FILE...  (each file holds generated text only, no prompt)
A word is a run of letters (with inner apostrophes); it counts as found when it, its lowercase form, or
its form without a possessive 's is in the list. Numbers and punctuation are not words.
"""
import re
import sys

with open("/usr/share/dict/american-english", encoding="utf-8") as f:
    words = {line.strip() for line in f if line.strip()}
lower = {w.lower() for w in words}

total = found = 0
missing = {}
for path in sys.argv[1:]:
    with open(path, encoding="utf-8") as f:
        text = f.read()
    for word in re.findall(r"[A-Za-z]+(?:'[A-Za-z]+)*", text):
        total += 1
        base = re.sub(r"'s$", "", word)
        if word in words or word.lower() in lower or base in words or base.lower() in lower:
            found += 1
        else:
            missing[word] = missing.get(word, 0) + 1

print(f"words: {total}, in wamerican: {found}, fraction: {found / max(total, 1):.3f}")
print("not found (most frequent):", ", ".join(f"{w} ({n})" for w, n in sorted(missing.items(), key=lambda kv: -kv[1])[:25]))
