#!/usr/bin/env python3
"""Generate a rules folder with a large keyword pack and a JSON-lines file of messages, to measure
`inflight replay` and `inflight bench` throughput.

    scripts/replay-corpus.py OUT_DIR [--keywords 5000] [--messages 100000] [--seed 1]

writes OUT_DIR/rules/big.toml (keywords split over 10 rules, one of them shadow, one drop) and
OUT_DIR/messages.jsonl (a mix of webhook bodies, message objects and {"text": ...} lines; about
one message in ten contains a keyword). Deterministic for a given seed.
"""

import argparse
import json
import os
import random

SYLLABLES = ["ka", "lo", "mi", "zu", "re", "to", "na", "shi", "vo", "pe", "qua", "dri", "bex", "tor"]
COMMON = ("the a to and of is in it you that he was for on are with as I his they be at one have this "
          "from or had by hot word but what some we can out other were all there when up use your how "
          "said an each she which do their time if will way about many then them write would like so "
          "these her long make thing see him two has look more day could go come did number sound no "
          "most people my over know water than call first who may down side been now find").split()


def keyword(rng, seen):
    while True:
        words = ["".join(rng.choice(SYLLABLES) for _ in range(rng.randint(2, 4))) for _ in range(rng.randint(1, 2))]
        k = " ".join(words)
        if k not in seen:
            seen.add(k)
            return k


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("out")
    ap.add_argument("--keywords", type=int, default=5000)
    ap.add_argument("--messages", type=int, default=100000)
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    rng = random.Random(args.seed)
    seen = set()
    keywords = [keyword(rng, seen) for _ in range(args.keywords)]

    os.makedirs(os.path.join(args.out, "rules"), exist_ok=True)
    rules = 10
    with open(os.path.join(args.out, "rules", "big.toml"), "w") as f:
        f.write('[pack]\nname = "big"\n\n[policy]\ndrop_score = 100\n')
        for r in range(rules):
            chunk = keywords[r::rules]
            f.write(f'\n[[rule]]\nid = "big.r{r}"\nscore = {10 + r * 5}\ntags = ["t{r}"]\n')
            if r == 0:
                f.write('mode = "shadow"\n')
            if r == 1:
                f.write('action = "drop"\n')
            f.write("keywords = [\n" + "".join(f'  "{k}",\n' for k in chunk) + "]\n")

    with open(os.path.join(args.out, "messages.jsonl"), "w") as f:
        for i in range(args.messages):
            words = [rng.choice(COMMON) for _ in range(rng.randint(6, 20))]
            if rng.random() < 0.1:
                words.insert(rng.randrange(len(words) + 1), rng.choice(keywords))
            text = " ".join(words)
            shape = i % 3
            if shape == 0:
                line = {"trigger": "before_message", "appId": "app", "webhook": "w",
                        "data": {"sender": f"u{i % 50}", "receiver": "g1", "receiverType": "group",
                                 "category": "message", "type": "text", "data": {"text": text}}}
            elif shape == 1:
                line = {"sender": f"u{i % 50}", "receiver": "u2", "receiverType": "user",
                        "category": "message", "type": "text", "data": {"text": text}}
            else:
                line = {"text": text}
            f.write(json.dumps(line) + "\n")


if __name__ == "__main__":
    main()
