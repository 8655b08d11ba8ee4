#!/usr/bin/env python3
"""Fails when the files of src/ import each other in a circle.

Each file is a module; every `crate::`, `super::` and `self::` path in it, and every path that
starts with the name of one of its own submodules, points at the file that defines the longest
prefix of that path. A strongly connected set of two or more files is a cycle: it is printed
with the imports that close it. A file's test module (`#[cfg(test)] mod tests { … }`) is left
out: tests may use whatever they test.

Usage: .ci/import-cycles.py [SRC_DIR]
"""
import pathlib
import re
import sys

root = pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else "src")


def module_of(path):
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] in ("mod", "lib", "main"):
        parts = parts[:-1]
    return tuple(parts)


files = {module_of(p): p for p in root.rglob("*.rs")}


def code_of(text):
    """The text without comments, string contents and the test module."""
    text = re.sub(r"/\*.*?\*/", "", text, flags=re.S)
    text = re.sub(r"//[^\n]*", "", text)
    text = re.sub(r'"(\\.|[^"\\])*"', '""', text)
    tests = re.search(r"#\[cfg\(test\)\]\s*mod \w+\s*\{", text)
    return text[: tests.start()] if tests else text


def expand(prefix, body):
    """`a::{b, c::{d, e}}` -> a::b, a::c::d, a::c::e"""
    out, depth, item = [], 0, ""
    for ch in body + ",":
        if ch == "," and depth == 0:
            item = item.strip()
            if "{" in item:
                head, rest = item.split("{", 1)
                out += expand(prefix + head, rest.rsplit("}", 1)[0])
            elif item:
                out.append(prefix + item)
            item = ""
        else:
            depth += (ch == "{") - (ch == "}")
            item += ch
    return out


def paths(code):
    for m in re.finditer(r"\buse\s+([^;]+);", code):
        yield from expand("", m.group(1).replace("\n", " "))
    for m in re.finditer(r"\b((?:crate|super|self)(?:::\w+)+)", code):
        yield m.group(1)


def target(module, path):
    segs = [s.strip() for s in path.split(" as ")[0].split("::")]
    if segs[0] == "crate":
        base, segs = [], segs[1:]
    elif segs[0] in ("super", "self"):
        base = list(module)
        while segs and segs[0] in ("super", "self"):
            if segs[0] == "super":
                base.pop()
            segs = segs[1:]
    elif module + (segs[0],) in files:
        base = list(module)
    else:
        return None  # another crate
    full = base + [s for s in segs if s and s != "*"]
    for n in range(len(full), -1, -1):
        if tuple(full[:n]) in files:
            return tuple(full[:n])
    return None


edges = {m: set() for m in files}
for m, p in files.items():
    for path in paths(code_of(p.read_text())):
        t = target(m, path)
        if t is not None and t != m:
            edges[m].add(t)

# Tarjan's strongly connected components, iteratively.
index, low, on_stack, stack, cycles = {}, {}, set(), [], []
for start in sorted(files):
    if start in index:
        continue
    work = [(start, iter(sorted(edges[start])))]
    index[start] = low[start] = len(index)
    stack.append(start)
    on_stack.add(start)
    while work:
        v, it = work[-1]
        w = next(it, None)
        if w is not None:
            if w not in index:
                index[w] = low[w] = len(index)
                stack.append(w)
                on_stack.add(w)
                work.append((w, iter(sorted(edges[w]))))
            elif w in on_stack:
                low[v] = min(low[v], index[w])
            continue
        work.pop()
        if work:
            low[work[-1][0]] = min(low[work[-1][0]], low[v])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

for component in cycles:
    print("import cycle:", ", ".join(str(files[m]) for m in component))
    for a in component:
        for b in sorted(edges[a] & set(component)):
            print(f"  {files[a]} uses {files[b]}")
if cycles:
    sys.exit(1)
print(f"no import cycles between the {len(files)} files of {root}")
