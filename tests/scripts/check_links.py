#!/usr/bin/python3
"""check_links -- every reference in the docs, comments and config points to
something that exists.

Scans README.md, CONTRIBUTING.md, docs/, api/, src/, tests/, scripts/, bench/,
docker/, .ci/ and the top-level config files for
  - Markdown links [text](target) with a relative target (resolved from the
    file's folder; #anchors and URLs are not checked), and
  - repository paths named in prose or comments: a word starting with one of
    the top-level folders (src/, docs/, tests/, ...) resolved from the root,
plus anything that points outside the repository (an absolute /work/, /home/
or ../shared/ path): a contributor's clone has none of those.

Generated paths (build*/, var/, the fuzz artifacts) are not references to the
source tree and are skipped, as are patterns (globs, braces, placeholders).
Usage: check_links.py [ROOT]   -- prints each dead reference, exits 1 if any.
"""
import os
import re
import sys

ROOT = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else ".")
TOP = ("src", "docs", "tests", "scripts", "bench", "api", "migrations", "docker", ".ci")
SCAN_DIRS = TOP
SCAN_FILES = ("README.md", "CONTRIBUTING.md", ".clang-format", "CMakeLists.txt", "Dockerfile")
SCAN_EXT = (".md", ".c", ".h", ".def", ".txt", ".sh", ".py", ".yaml", ".yml", ".in", ".conf",
            ".example", ".sql", "")
SKIP_DIRS = {"corpus", "aws-sigv4-test-suite", "node_modules", ".git"}

MD_LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")
PATH_WORD = re.compile(r"(?<![\w./$-])((?:\.\./)*(?:%s)/[\w./+-]*)" % "|".join(re.escape(t) for t in TOP))
OUTSIDE = re.compile(r"(?<![\w.-])(/work/[\w./-]+|/home/[\w./-]+|(?:\.\./)+shared/[\w./-]*)")


def files():
    for name in SCAN_FILES:
        p = os.path.join(ROOT, name)
        if os.path.isfile(p):
            yield p
    for d in SCAN_DIRS:
        base = os.path.join(ROOT, d)
        for dirpath, dirnames, filenames in os.walk(base):
            dirnames[:] = [x for x in dirnames if x not in SKIP_DIRS]
            for f in filenames:
                if os.path.splitext(f)[1] in SCAN_EXT:
                    yield os.path.join(dirpath, f)


def is_pattern(target):
    return (any(c in target for c in "*{}<>$%[]") or "..." in target
            or re.search(r"N{3,}|X{3,}", target) is not None)


def exists(path):
    return os.path.exists(path) or os.path.exists(path.rstrip("/"))


def exists_from(word, path):
    """A path word names a file from the root, or from a sub-project's own
    root (the Qdrant emulator has its own src/ and tests/)."""
    d = os.path.dirname(path)
    while True:
        if exists(os.path.join(d, word)):
            return True
        if os.path.samefile(d, ROOT) or len(d) <= len(ROOT):
            return False
        d = os.path.dirname(d)


def comments_only(text):
    """The comments of a C file, strings and code blanked, lines kept: a path
    in a string literal is data (a tar member, a route), not a reference."""
    out, i, n = [], 0, len(text)
    while i < n:
        if text.startswith("/*", i):
            j = text.find("*/", i + 2)
            j = n if j < 0 else j + 2
            out.append(text[i:j])
            i = j
        elif text.startswith("//", i):
            j = text.find("\n", i)
            j = n if j < 0 else j
            out.append(text[i:j])
            i = j
        elif text[i] in "\"'":
            q, j = text[i], i + 1
            while j < n and text[j] != q and text[j] != "\n":
                j += 2 if text[j] == "\\" else 1
            out.append(re.sub(r"[^\n]", " ", text[i:j + 1]))
            i = j + 1
        else:
            out.append(text[i] if text[i] == "\n" else " ")
            i += 1
    return "".join(out)


def check_file(path, dead):
    rel = os.path.relpath(path, ROOT)
    try:
        text = open(path, encoding="utf-8", errors="replace").read()
    except OSError:
        return
    if path.endswith((".c", ".h")):
        text = comments_only(text)
    for lineno, line in enumerate(text.splitlines(), 1):
        if "check_links: ignore" in line:
            continue
        for m in OUTSIDE.finditer(line):
            dead.append((rel, lineno, m.group(1), "points outside the repository"))
        if path.endswith(".md"):
            for m in MD_LINK.finditer(line):
                target = m.group(1).split("#", 1)[0]
                if not target or re.match(r"^[a-z]+:", target) or is_pattern(target):
                    continue
                full = os.path.normpath(os.path.join(os.path.dirname(path), target))
                if not exists(full):
                    dead.append((rel, lineno, target, "link target does not exist"))
        for m in PATH_WORD.finditer(line):
            word = m.group(1).rstrip(".,:;)'`\"")
            if (word.startswith("../") or word.endswith(".rs")
                    or is_pattern(line[m.start():m.end() + 1])):
                continue  # .rs: a file of Qdrant's source, named as where behaviour comes from
            # A bare folder name followed by more words ("tests/ holds") is fine
            # as long as the folder exists; sub-paths must exist too.
            if not exists_from(word, path):
                dead.append((rel, lineno, word, "path does not exist"))


def main():
    dead = []
    for f in files():
        # The checker and its test name dead paths on purpose.
        if os.path.basename(f) not in ("check_links.py", "test_links.sh"):
            check_file(f, dead)
    for rel, lineno, target, why in dead:
        print(f"{rel}:{lineno}: {target}: {why}")
    print(f"check_links: {len(dead)} dead reference(s) under {ROOT}", file=sys.stderr)
    return 1 if dead else 0


if __name__ == "__main__":
    sys.exit(main())
