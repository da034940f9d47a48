#!/usr/bin/env python3
"""No two modules of a crate import each other, and no command module imports another.

Reads every crate's `src/` (test modules left out: a `#[cfg(test)]` block may reach anywhere),
resolves each `crate::...` and `super::...` path to the module file it names, and fails on a
cycle between modules where neither contains the other (a parent using its child and the child
using the parent's items is how Rust nests modules, not a circle). Also fails when a
`slate-cli` command module (`src/cmd/NAME.rs`) names another one, except `demo`, which runs
`gen` and `run` as they are so that it cannot drift from them (README, "The house").

Usage: python3 scripts/check-modules.py   (exit 1 naming the modules on a cycle)
"""
import pathlib
import re
import sys

ROOT = pathlib.Path(__file__).resolve().parent.parent
# Commands allowed to call other commands, and why: see the module docstring.
COMMANDS_THAT_RUN_OTHERS = {"demo": {"gen_data", "run"}}


def module_of(src: pathlib.Path, file: pathlib.Path) -> tuple:
    parts = list(file.relative_to(src).with_suffix("").parts)
    if parts[-1] in ("lib", "main", "mod"):
        parts.pop()
    return tuple(parts)


def strip_tests(text: str) -> str:
    # Test modules sit at the end of a file in this code base; everything from the first
    # `#[cfg(test)]` on is test code.
    i = text.find("#[cfg(test)]")
    text = text if i < 0 else text[:i]
    text = re.sub(r"//[^\n]*", "", text)  # comments and doc comments name paths freely
    return text


def brace_items(text: str, start: int) -> list:
    """The top-level comma-separated items of the `{...}` opening at `start`."""
    depth, item, items = 0, "", []
    for ch in text[start:]:
        if ch == "{":
            depth += 1
            if depth == 1:
                continue
        elif ch == "}":
            depth -= 1
            if depth == 0:
                items.append(item)
                break
        elif ch == "," and depth == 1:
            items.append(item)
            item = ""
            continue
        item += ch
    return [i.strip() for i in items if i.strip()]


def paths_in(text: str) -> list:
    """Every path that starts `crate::` or `super::`, as a list of segments (the first kept)."""
    out = []
    for m in re.finditer(r"\b(crate|super)((?:::\w+)*)::(\{)?", text):
        head = [m.group(1)] + [s for s in m.group(2).split("::") if s]
        if m.group(3):
            for item in brace_items(text, m.end() - 1):
                segs = [s for s in re.split(r"::|\s+as\s+", item) if re.fullmatch(r"\w+", s)]
                out.append(head + segs[:1] if segs else head)
        else:
            tail = text[m.end():]
            nxt = re.match(r"\w+", tail)
            out.append(head + ([nxt.group(0)] if nxt else []))
    return out


def resolve(segs: list, here: tuple, modules: set) -> tuple:
    if segs[0] == "crate":
        base, rest = (), segs[1:]
    else:
        base, rest = here, segs
        while rest and rest[0] == "super":
            base, rest = base[:-1], rest[1:]
    found = base
    for s in rest:
        if found + (s,) in modules:
            found = found + (s,)
        else:
            break
    return found


def related(a: tuple, b: tuple) -> bool:
    n = min(len(a), len(b))
    return a[:n] == b[:n]


def check_crate(crate: pathlib.Path) -> list:
    src = crate / "src"
    files = {module_of(src, f): f for f in src.rglob("*.rs")}
    modules = set(files)
    edges = {m: set() for m in modules}
    for m, f in files.items():
        for segs in paths_in(strip_tests(f.read_text())):
            t = resolve(segs, m, modules)
            if t != m and not related(t, m):
                edges[m].add(t)
    problems = []
    # Strongly connected components (Tarjan): any with more than one module is a circle.
    index, low, stack, on, comps, counter = {}, {}, [], set(), [], [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in edges[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            comps.append(comp)

    for v in sorted(modules):
        if v not in index:
            visit(v)
    name = lambda m: "::".join(m) or "(crate root)"
    for comp in comps:
        if len(comp) > 1:
            pairs = sorted(
                f"{name(a)} -> {name(b)}" for a in comp for b in edges[a] if b in comp
            )
            problems.append(
                f"{crate.name}: modules import each other: " + "; ".join(pairs)
            )
    if crate.name == "slate-cli":
        for m in sorted(modules):
            if len(m) == 2 and m[0] == "cmd":
                allowed = COMMANDS_THAT_RUN_OTHERS.get(m[1], set())
                for t in sorted(edges[m]):
                    if len(t) >= 2 and t[0] == "cmd" and t[1] not in allowed:
                        problems.append(
                            f"slate-cli: command module {name(m)} imports {name(t)}"
                        )
    return problems


def main() -> int:
    problems = []
    crates = sorted(p for p in (ROOT / "crates").iterdir() if (p / "src").is_dir())
    for crate in crates:
        problems += check_crate(crate)
    for p in problems:
        print(p, file=sys.stderr)
    if problems:
        return 1
    print(f"modules: no circles in {len(crates)} crates; command modules import no other")
    return 0


if __name__ == "__main__":
    sys.exit(main())
