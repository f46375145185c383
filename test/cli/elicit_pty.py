#!/usr/bin/env python3
"""mcpc answering elicitations at a terminal: mcpc runs with a pseudo-terminal as stdin and
stderr (stdout is a pipe, as in `mcpc ... | jq`), and this script plays the user, answering
each prompt it sees. Exits 0 if every scenario passed.
    elicit_pty.py MCPC FAULT_SERVER [EVERYTHING_COMMAND]"""
import os
import pty
import re
import select
import subprocess
import sys
import time

mcpc, fault = sys.argv[1], sys.argv[2]
everything = sys.argv[3] if len(sys.argv) > 3 else None
failures = 0
P = r"[\s\S]*: $"  # the rest of a field's prompt, up to where the answer is typed


def field(key):
    """The prompt for field `key`: its heading line, then the prompt up to where one types."""
    return r"(?m)^  " + key + r"(?:[ \r]|$)" + P


def run(args, answers, timeout=30):
    """Runs mcpc with a terminal on stdin and stderr. `answers`: (regex, text); when the
    terminal's output since the last answer matches one, the first that matches is typed and
    used up. Returns (status, stdout, terminal output, answers left)."""
    master, slave = pty.openpty()
    proc = subprocess.Popen([mcpc] + args, stdin=slave, stdout=subprocess.PIPE, stderr=slave, close_fds=True)
    os.close(slave)
    seen, pending = b"", list(answers)
    since = 0  # where the output after the last answer starts
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        r, _, _ = select.select([master], [], [], 0.1)
        if r:
            try:
                chunk = os.read(master, 4096)
            except OSError:
                chunk = b""
            if not chunk and proc.poll() is not None:
                break
            seen += chunk
        fresh = seen[since:].decode("utf-8", "replace")
        for i, (pattern, text) in enumerate(pending):
            if re.search(pattern, fresh):
                os.write(master, text.encode() + b"\n")
                since = len(seen)
                pending.pop(i)
                break
        if proc.poll() is not None and not r:
            break
    if proc.poll() is None:
        proc.kill()
    out = proc.stdout.read().decode("utf-8", "replace")
    proc.wait()
    os.close(master)
    return proc.returncode, out, seen.decode("utf-8", "replace"), pending


def check(name, ok, detail=""):
    global failures
    if ok:
        print("ok: " + name)
    else:
        failures += 1
        print("FAIL: " + name + "\n" + detail)


# The fault server's `ask` (a 2026-07-28 multi round-trip request): a name, and a colour whose
# default is blue. The user answers yes, types a name, takes the default colour.
status, out, term, left = run(["--stdio", fault, "call", "ask"],
                              [(r"answer\? \[Y\]es", ""), (field("name"), "Ada"), (r"color[\s\S]*default blue\): $", "")])
check("form: typed value and default", status == 0 and '"name":"Ada"' in out.replace(" ", "") and
      '"color":"blue"' in out.replace(" ", "") and '"action":"accept"' in out.replace(" ", "") and not left,
      f"status {status}\nstdout: {out}\nterminal: {term}")
check("form: the server's message is shown", "Your name?" in term, term)

# Declining and cancelling at the first question.
status, out, term, left = run(["--stdio", fault, "call", "ask"], [(r"answer\? ", "n")])
check("decline", status == 0 and '"action":"decline"' in out.replace(" ", ""), f"stdout: {out}\nterminal: {term}")
status, out, term, left = run(["--stdio", fault, "call", "ask"], [(r"answer\? ", "c")])
check("cancel", status == 0 and '"action":"cancel"' in out.replace(" ", ""), f"stdout: {out}\nterminal: {term}")

# --no-input declines without asking, even at a terminal.
status, out, term, left = run(["--stdio", fault, "--no-input", "call", "ask"], [])
check("--no-input", status == 0 and '"action":"decline"' in out.replace(" ", "") and "answer?" not in term and
      "--no-input" in term, f"stdout: {out}\nterminal: {term}")

if everything:
    # A legacy server's elicitation/create with many kinds of field (server-everything): a
    # required name, a wrong number answered again, choices by number, defaults elsewhere.
    answers = [(r"answer\? ", ""), (r"at most 100; try again" + P, ""), (field("name"), "Ada"),
               (field("check"), "y"), (field("integer"), "500"), (field("number"), "7"),
               (field("untitledSingleSelectEnum"), "3")]
    status, out, term, left = run(["--stdio", everything, "call", "trigger-elicitation-request"],
                                  answers + [(r": $", "")] * 8)
    flat = re.sub(r"\s", "", out)
    check("everything: accepted with typed, retried, chosen and default values",
          status == 0 and "- Name: Ada" in out and "Agreed to terms: true" in out and "Favorite Integer: 42" in out and
          "Favorite Number: 7" in out and '"untitledSingleSelectEnum":"Joey"' in flat and
          '"untitledMultipleSelectEnum":["Guitar"]' in flat,
          f"status {status}\nstdout: {out}\nterminal: {term}\nunanswered: {left}")
    check("everything: choices are listed", "1) Monica" in term and "2) Green Lantern" in term, term)

print(f"elicitation at a terminal: {failures} failed")
sys.exit(1 if failures else 0)
