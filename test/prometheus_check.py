#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Reads a scrape in the Prometheus text format 0.0.4 with a parser that is not ours (Debian's
python3-prometheus-client, prometheus_client.parser.text_string_to_metric_families), and checks
what that lax parser lets pass: the line grammar (names, label escapes, values), one HELP and
one TYPE per family before its samples, every sample in a declared family, counters named
*_total and never negative, histograms with increasing `le`, cumulative buckets ending at
+Inf, `_count` equal to the +Inf bucket, and a `_sum`.

    prometheus_check.py FILE    prints {"families": {name: type}, "samples": [{name, labels,
                                value}]} as JSON; exits 1 with the problems on stderr

Used by the server suite's pool metrics test and the examples suite's multi_tenant_backend test
(which imports check()). /usr/bin/python3: Debian's interpreter, where Debian's package is.
"""
import json
import math
import re
import sys

from prometheus_client.parser import text_string_to_metric_families

NAME = r"[a-zA-Z_:][a-zA-Z0-9_:]*"
LABEL = r'[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\[\\"n])*"'
VALUE = r"(?:[+-]?Inf|NaN|[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)"
SAMPLE = re.compile(rf"^({NAME})(?:\{{(?:{LABEL}(?:,{LABEL})*,?)?\}})? {VALUE}(?: -?\d+)?$")
SUFFIXES = {"counter": [""], "gauge": [""], "histogram": ["_bucket", "_sum", "_count"]}


def check(text):
    """(families, samples, problems) of a scrape."""
    problems = []
    helped, typed, seen = set(), {}, set()
    current = None
    for n, line in enumerate(text.split("\n"), 1):
        if line == "":
            continue
        if line.startswith("# HELP ") or line.startswith("# TYPE "):
            parts = line.split(" ", 3)
            if len(parts) < 4 or not re.fullmatch(NAME, parts[2]):
                problems.append(f"line {n}: malformed {line!r}")
                continue
            name = parts[2]
            if name in seen:
                problems.append(f"line {n}: {parts[1]} of {name} after its samples")
            if parts[1] == "HELP":
                if name in helped:
                    problems.append(f"line {n}: a second HELP for {name}")
                helped.add(name)
            else:
                if name in typed:
                    problems.append(f"line {n}: a second TYPE for {name}")
                if parts[3] not in SUFFIXES:
                    problems.append(f"line {n}: type {parts[3]!r} is not one we export")
                typed[name] = parts[3]
            current = name
            continue
        if line.startswith("#"):
            continue
        m = SAMPLE.match(line)
        if not m:
            problems.append(f"line {n}: not a sample line: {line!r}")
            continue
        family = current if current in typed else None
        if family is None or m.group(1) not in [family + s for s in SUFFIXES.get(typed[family], [""])]:
            problems.append(f"line {n}: sample {m.group(1)} outside its declared family")
        seen.add(family)
    if not text.endswith("\n"):
        problems.append("the text does not end with a newline")
    for name in typed:
        if name not in helped:
            problems.append(f"{name} has no HELP")

    families, samples = {}, []
    try:
        parsed = list(text_string_to_metric_families(text))
    except Exception as e:  # the parser's own refusal
        return {}, [], problems + [f"prometheus_client refused it: {e!r}"]
    for f in parsed:
        if f.type not in SUFFIXES:
            problems.append(f"prometheus_client read {f.name} as {f.type}")
        families[f.name] = f.type
        buckets = {}
        for s in f.samples:
            samples.append({"name": s.name, "labels": s.labels, "value": s.value})
            if f.type == "counter":
                if not s.name.endswith("_total"):
                    problems.append(f"counter sample {s.name} is not named *_total")
                if not s.value >= 0:
                    problems.append(f"counter {s.name}{s.labels} is {s.value}")
            if f.type == "histogram":
                key = tuple(sorted((k, v) for k, v in s.labels.items() if k != "le"))
                h = buckets.setdefault(key, {"le": [], "sum": None, "count": None})
                if s.name.endswith("_bucket"):
                    h["le"].append((float(s.labels["le"]), s.value))
                elif s.name.endswith("_sum"):
                    h["sum"] = s.value
                elif s.name.endswith("_count"):
                    h["count"] = s.value
        for key, h in buckets.items():
            where = f"{f.name}{dict(key)}"
            les = [le for le, _ in h["le"]]
            values = [v for _, v in h["le"]]
            if not les or les[-1] != math.inf:
                problems.append(f"{where}: the last bucket is not +Inf")
            if les != sorted(les) or len(set(les)) != len(les):
                problems.append(f"{where}: le not increasing: {les}")
            if values != sorted(values):
                problems.append(f"{where}: buckets not cumulative: {values}")
            if h["count"] is None or h["sum"] is None:
                problems.append(f"{where}: no _count or no _sum")
            elif values and h["count"] != values[-1]:
                problems.append(f"{where}: _count {h['count']} differs from the +Inf bucket {values[-1]}")
            elif h["sum"] < 0:
                problems.append(f"{where}: negative _sum")
    return families, samples, problems


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: prometheus_check.py FILE")
    with open(sys.argv[1], encoding="utf-8") as f:
        text = f.read()
    families, samples, problems = check(text)
    if problems:
        for p in problems:
            print(p, file=sys.stderr)
        sys.exit(1)
    json.dump({"families": families, "samples": samples}, sys.stdout)


if __name__ == "__main__":
    main()
