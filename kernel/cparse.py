"""Find C function definitions with tree-sitter-c.

tree-sitter is error tolerant, so kernel macros do not stop parsing, but what
they become matters to a path analysis:
- an iterator macro with a braced body, `list_for_each_entry(p, h, m) { ... }`,
  parses as an expression_statement with a MISSING ';' and a separate block,
  and one with a single-statement body (`for_each_online_cpu(cpu) if (x) y();`)
  turns into a bogus declaration that swallows the next statement.  So before
  parsing, every `*for_each*(...)` at the start of a line that is not followed
  by ';' is rewritten in place to `while (*for_each*(...))`: a real loop, same
  line numbers.
- a function attribute such as `__acquires(x)` after the parameters parses as
  a call_expression inside the function_declarator (collected as annotations).
- `do { } while (0)` is a plain do_statement.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

import tree_sitter_c
from tree_sitter import Language, Node, Parser


@lru_cache(maxsize=1)
def _parser() -> Parser:
    return Parser(Language(tree_sitter_c.language()))


@dataclass
class CFunction:
    """One function definition: 1-based inclusive line range in its file."""

    name: str
    start_line: int
    end_line: int
    body: Node  # compound_statement
    has_errors: bool  # tree-sitter had to recover inside it (lower confidence)
    annotations: tuple[str, ...]  # __acquires/__releases/__must_hold written on it


_LOOP_MACRO = re.compile(r"(?m)^[ \t]*(?:\w*_)?for_each\w*[ \t]*\(")


def _matching_paren(text: str, open_at: int) -> int:
    """Index of the ')' closing text[open_at] == '(', or -1."""
    depth = 0
    for i in range(open_at, len(text)):
        if text[i] == "(":
            depth += 1
        elif text[i] == ")":
            depth -= 1
            if depth == 0:
                return i
    return -1


def rewrite_loop_macros(text: str) -> str:
    """`for_each_x(args) body` -> `while (for_each_x(args)) body`, keeping line numbers."""
    out: list[str] = []
    last = 0
    for m in _LOOP_MACRO.finditer(text):
        if m.start() < last:
            continue
        close = _matching_paren(text, m.end() - 1)
        if close < 0 or text[close + 1:].lstrip(" \t\n").startswith(";"):
            continue
        start = m.start() + len(m.group(0)) - len(m.group(0).lstrip())
        out += [text[last:start], "while (", text[start:close + 1], ")"]
        last = close + 1
    out.append(text[last:])
    return "".join(out)


def parse(text: str) -> Node:
    """Parse C source text; never fails (errors become ERROR/MISSING nodes)."""
    source = rewrite_loop_macros(text)
    return _parser().parse(source.encode("utf-8", "surrogateescape")).root_node


def node_text(node: Node) -> str:
    return node.text.decode("utf-8", "replace") if node.text is not None else ""


def _declarator_name(declarator: Node | None) -> tuple[str, tuple[str, ...]]:
    """The function's identifier and the attribute macros that follow its parameters."""
    annotations: list[str] = []
    while declarator is not None and declarator.type != "function_declarator":
        declarator = declarator.child_by_field_name("declarator")
    if declarator is None:
        return "", ()
    inner = declarator.child_by_field_name("declarator")
    while inner is not None and inner.type not in ("identifier", "field_identifier"):
        inner = inner.child_by_field_name("declarator")
    for child in declarator.named_children:
        if child.type == "call_expression":
            annotations.append(node_text(child.child_by_field_name("function") or child))
    return (node_text(inner) if inner is not None else ""), tuple(annotations)


def functions(root: Node) -> list[CFunction]:
    """Every function definition, also those inside #ifdef blocks at file level."""
    found: list[CFunction] = []
    stack = [root]
    while stack:
        node = stack.pop()
        if node.type == "function_definition":
            body = node.child_by_field_name("body")
            name, annotations = _declarator_name(node.child_by_field_name("declarator"))
            if body is not None and name:
                found.append(CFunction(name, node.start_point[0] + 1, node.end_point[0] + 1,
                                       body, node.has_error, annotations))
            continue
        stack.extend(reversed(node.children))
    found.sort(key=lambda f: f.start_line)
    return found


def functions_in(text: str) -> list[CFunction]:
    return functions(parse(text))
