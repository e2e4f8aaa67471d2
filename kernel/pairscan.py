"""Does every acquire reach exactly one release on every path of a C function?

Method (bounded path enumeration over a small CFG):
1. A control-flow graph is built from the tree-sitter AST of one function:
   one node per expression statement, declaration with initialiser, return,
   goto, switch, and condition *atom*; `&&`, `||`, `!`, `likely()`,
   `x == NULL` are split into branches so that a short-circuited call only
   runs on the paths that evaluate it.  if/else, switch with fall-through,
   loops (for/while/do, iterator macros), break/continue, goto to labels and
   `#if`/`#else` blocks in the body are edges of that graph.
2. The graph is walked depth first.  A state is (node, held resources,
   resources already released on this path, known truth of call-free
   condition atoms).  Identical states are visited once, so each loop is
   followed until the held set repeats; a second acquire at the same site
   while the first is still held is not counted again (so the state space is
   finite), and at most MAX_STATES states are visited per function (then the
   result is marked truncated and its confidence lowered).
3. Conditional acquires (rules with `success`) are decided by the branch that
   tests their result: the call itself as a condition, or the variable it
   was assigned to (`pte = pte_offset_map_lock(...); if (!pte) return;`).
   The known truth of plain atoms (`!create`, `#ifdef CONFIG_X`, a variable
   set to NULL) prunes contradicting paths, so correlated tests such as
   `if (!create && pte_try_get(pmd)) ...; if (!create) pte_put(...)` do not
   give false reports.

Reported: a resource still held at a return or at the end of the function
(unless the function returns the acquired value, or is annotated
`__acquires`), and a release of a resource that this path already released
(unless the release is idempotent).  A release of something never acquired
on the path is taken as the caller's and ignored.
"""
from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field

from tree_sitter import Node

from kernel.cparse import CFunction, functions_in, node_text
from kernel.pairrules import Action, Rules

MAX_STATES = 20000
PATH_STEPS = 8  # branch decisions kept to explain a finding

_TRANSPARENT_CALLS = {"likely", "unlikely", "WARN_ON", "WARN_ON_ONCE", "READ_ONCE"}
# Statements after which a path does not go on: assertions take their argument as the condition.
_ASSERTS = {"BUG_ON", "VM_BUG_ON", "BUILD_BUG_ON"}
_NORETURN = {"BUG", "panic", "unreachable", "do_exit"}
_NULLS = {"NULL", "0", "false"}


@dataclass
class PairFinding:
    """One imbalance on at least one path of one function."""

    kind: str  # "leak" | "double-release"
    function: str
    resources: list[str]
    acquire: str  # name of the acquiring call
    acquire_line: int
    line: int  # the return / end of function (leak) or the second release
    statement: str  # text of that return or release, to match before/after
    message: str
    path: list[str]  # the branch decisions that lead there, in words
    confidence: str  # "high" | "medium" | "low"
    missing: list[str] = field(default_factory=list)  # leak: the release calls that would fix it
    exit: str = ""  # leak: "returns at line N" / "reaches the end of the function (line N)"

    def describe(self) -> str:
        """The one-line message, rebuilt when findings are merged."""
        if self.kind != "leak":
            return self.message
        fixes = " / ".join(f"{n}()" for n in self.missing)
        return f"{self.exit} after {self.acquire}() at line {self.acquire_line} without {fixes}"


@dataclass
class _Cfg:
    kind: str  # effect | branch | multi | return | exit | nop | goto | dead (BUG(): no exit)
    line: int
    ast: Node | None = None
    succ: list[int] = field(default_factory=list)
    label: str = ""


class _Builder:
    """AST of a function body -> list of _Cfg nodes; entry index returned by build()."""

    def __init__(self, end_line: int, zeros: frozenset[str]) -> None:
        self.zeros = zeros  # texts that mean 0: NULL, 0, false and the rules' zero_constants
        self.nodes: list[_Cfg] = []
        self.labels: dict[str, int] = {}
        self.exit = self._new("exit", end_line)

    def _new(self, kind: str, line: int, ast: Node | None = None, succ: list[int] | None = None,
             label: str = "") -> int:
        self.nodes.append(_Cfg(kind, line, ast, list(succ or []), label))
        return len(self.nodes) - 1

    def build(self, body: Node) -> int:
        entry = self.stmt(body, self.exit, None, None)
        for node in self.nodes:
            if node.kind == "goto":
                node.succ = [self.labels.get(node.label, self.exit)]
        return entry

    def seq(self, stmts: list[Node], succ: int, brk: int | None, cont: int | None) -> int:
        for stmt in reversed(stmts):
            succ = self.stmt(stmt, succ, brk, cont)
        return succ

    def stmt(self, n: Node, succ: int, brk: int | None, cont: int | None) -> int:
        t = n.type
        line = n.start_point[0] + 1
        if t == "compound_statement":
            return self.seq([c for c in n.named_children if c.type != "comment"], succ, brk, cont)
        if t == "expression_statement":
            if not n.named_child_count:
                return succ
            call = n.named_children[0]
            name = _call_name(call) if call.type == "call_expression" else ""
            args = call.child_by_field_name("arguments") if name else None
            if name in _ASSERTS and args is not None and args.named_child_count == 1:
                return self.cond(args.named_children[0], self._new("dead", line), succ)
            if name in _NORETURN:
                return self._new("dead", line)
            return self._new("effect", line, n, [succ])
        if t == "declaration":
            has_init = any(c.type == "init_declarator" for c in n.named_children)
            return self._new("effect", line, n, [succ]) if has_init else succ
        if t == "if_statement":
            alt = n.child_by_field_name("alternative")
            if alt is not None and alt.type == "else_clause":
                alt = alt.named_children[-1] if alt.named_children else None
            f = self.stmt(alt, succ, brk, cont) if alt is not None else succ
            then = self.stmt(n.child_by_field_name("consequence"), succ, brk, cont)
            return self.cond(n.child_by_field_name("condition"), then, f)
        if t in ("while_statement", "for_statement"):
            head = self._new("nop", line)
            update = n.child_by_field_name("update") if t == "for_statement" else None
            step = self._new("effect", line, update, [head]) if update is not None else head
            body = self.stmt(n.child_by_field_name("body"), step, succ, step)
            c = n.child_by_field_name("condition")
            self.nodes[head].succ = [self.cond(c, body, succ) if c is not None else body]
            init = n.child_by_field_name("initializer") if t == "for_statement" else None
            return self._new("effect", line, init, [head]) if init is not None else head
        if t == "do_statement":
            head = self._new("nop", line)
            c = self.cond(n.child_by_field_name("condition"), head, succ)
            self.nodes[head].succ = [self.stmt(n.child_by_field_name("body"), c, succ, c)]
            return head
        if t == "switch_statement":
            return self._switch(n, succ, cont)
        if t == "return_statement":
            return self._new("return", line, n)
        if t == "goto_statement":
            return self._new("goto", line, n, label=node_text(n.child_by_field_name("label")))
        if t == "labeled_statement":
            inner = [c for c in n.named_children if c.type != "statement_identifier"]
            entry = self.seq(inner, succ, brk, cont)
            self.labels[node_text(n.child_by_field_name("label"))] = entry
            return entry
        if t == "break_statement":
            return brk if brk is not None else succ
        if t == "continue_statement":
            return cont if cont is not None else succ
        if t in ("preproc_if", "preproc_ifdef", "preproc_elif", "preproc_else", "preproc_elifdef"):
            return self._preproc(n, succ, brk, cont)
        if t in ("comment", "preproc_call", "preproc_def", "preproc_function_def",
                 "preproc_include", "type_definition", "struct_specifier"):
            return succ
        # ERROR nodes, attributed statements, asm...: their calls still count.
        return self._new("effect", line, n, [succ])

    def _switch(self, n: Node, succ: int, cont: int | None) -> int:
        body = n.child_by_field_name("body")
        cases = [c for c in body.named_children if c.type == "case_statement"] if body else []
        entries: list[int] = []
        nxt = succ
        for case in reversed(cases):
            value = case.child_by_field_name("value")
            stmts = [c for c in case.named_children if c != value and c.type != "comment"]
            nxt = self.seq(stmts, nxt, succ, cont)
            entries.insert(0, nxt)
        has_default = any(c.child_by_field_name("value") is None for c in cases)
        cond = n.child_by_field_name("condition")
        return self._new("multi", n.start_point[0] + 1, cond, entries + ([] if has_default else [succ]))

    def _preproc(self, n: Node, succ: int, brk: int | None, cont: int | None) -> int:
        alt = n.child_by_field_name("alternative")
        skip = {"name", "condition", "alternative"}
        fields = {id(n.child_by_field_name(f)) for f in skip if n.child_by_field_name(f) is not None}
        stmts = [c for c in n.named_children if id(c) not in fields and c.type != "comment"]
        then = self.seq(stmts, succ, brk, cont)
        if n.type == "preproc_else":
            return then
        other = self.stmt(alt, succ, brk, cont) if alt is not None else succ
        # The directive text is the atom: the same #ifdef later in the body takes the same way.
        head = node_text(n).split("\n", 1)[0].strip()
        return self._new("branch", n.start_point[0] + 1, None, [then, other], label=head)

    def cond(self, e: Node, t: int, f: int) -> int:
        """Branch on expression e: short-circuit operators become separate branches."""
        while e.type == "parenthesized_expression" and e.named_child_count == 1:
            e = e.named_children[0]
        if e.type == "binary_expression":
            op = node_text(e.child_by_field_name("operator"))
            left, right = e.child_by_field_name("left"), e.child_by_field_name("right")
            if op == "&&":
                return self.cond(left, self.cond(right, t, f), f)
            if op == "||":
                return self.cond(left, t, self.cond(right, t, f))
            if op in ("==", "!=") and node_text(right) in self.zeros:
                return self.cond(left, f, t) if op == "==" else self.cond(left, t, f)
            if op in ("==", "!=") and node_text(left) in self.zeros:
                return self.cond(right, f, t) if op == "==" else self.cond(right, t, f)
        if e.type == "unary_expression" and node_text(e.child_by_field_name("operator")) == "!":
            return self.cond(e.child_by_field_name("argument"), f, t)
        if e.type == "call_expression" and _call_name(e) in _TRANSPARENT_CALLS:
            args = e.child_by_field_name("arguments")
            if args is not None and args.named_child_count == 1:
                return self.cond(args.named_children[0], t, f)
        if e.type == "number_literal" or node_text(e) in ("true", "false"):
            return f if node_text(e) in ("0", "false") else t
        return self._new("branch", e.start_point[0] + 1, e, [t, f], label=_norm(node_text(e)))


def _call_name(call: Node) -> str:
    fn = call.child_by_field_name("function")
    return node_text(fn) if fn is not None and fn.type == "identifier" else ""


def _norm(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()


def _strip(e: Node) -> Node:
    while e.type in ("parenthesized_expression", "cast_expression") and e.named_child_count:
        e = e.child_by_field_name("value") or e.named_children[-1]
    return e


def _key_text(e: Node) -> str:
    """Normalise an argument naming a lock or table: `&ptl` and `ptl` are the same."""
    text = _norm(node_text(_strip(e)))
    while text.startswith("&"):
        text = text[1:].strip()
    return text.strip("()")


@dataclass(frozen=True)
class _Held:
    resource: str
    key: str | None
    line: int
    acquire: str
    vars: frozenset[str]
    success: str  # "always" once known taken


@dataclass(frozen=True)
class _Released:
    resource: str
    what: str | None  # the lock key, else the released argument's text; None for a callee
    line: int
    release: str
    acquire_line: int
    acquire: str


class _Path:
    """Mutable working copy of a state while one CFG node's effects are applied."""

    def __init__(self, held: tuple[_Held, ...], released: frozenset[_Released],
                 facts: frozenset[tuple[str, bool]]) -> None:
        self.held = list(held)
        self.released = set(released)
        self.facts = dict(facts)

    def key(self) -> tuple:
        return (tuple(self.held), frozenset(self.released), frozenset(self.facts.items()))


class FunctionScan:
    """Explore one function; findings are collected in `self.findings`."""

    def __init__(self, func: CFunction, rules: Rules, confidence: str = "high") -> None:
        self.func = func
        self.rules = rules
        self.zeros = frozenset(_NULLS) | rules.zero_constants
        builder = _Builder(func.end_line, self.zeros)
        self.entry = builder.build(func.body)
        self.nodes = builder.nodes
        # Only atoms tested more than once can correlate; remembering the others
        # would multiply states for nothing.
        # A variable set to a constant and tested later correlates too.
        tests = Counter(n.label for n in self.nodes if n.kind == "branch")
        constants = _constant_targets(func.body)
        self.correlated = {atom for atom, count in tests.items() if count > 1 or atom in constants}
        self.truncated = False
        self.confidence = "medium" if (func.has_errors and confidence == "high") else confidence
        # The rules' own functions implement the pairs; holders return holding by contract.
        rel = rules.releases.get(func.name)
        self.skip = func.name in rules.acquires or (rel is not None and not rel.by_callee)
        self.report_leaks = not (any(a == "__acquires" for a in func.annotations)
                                 or func.name in rules.holders)
        self._found: dict[tuple, PairFinding] = {}

    @property
    def findings(self) -> list[PairFinding]:
        return list(self._found.values())

    # --- effects of expressions ------------------------------------------------------------
    def _eval(self, e: Node | None, p: _Path, line: int) -> list[_Held]:
        """Apply the calls in e in evaluation order; return what the outermost call acquired."""
        if e is None:
            return []
        t = e.type
        if t == "call_expression":
            args = e.child_by_field_name("arguments")
            for a in args.named_children if args is not None else []:
                self._eval(a, p, line)
            return self._call(e, p, e.start_point[0] + 1)
        if t in ("assignment_expression", "init_declarator"):
            left = e.child_by_field_name("left") or e.child_by_field_name("declarator")
            right = e.child_by_field_name("right") or e.child_by_field_name("value")
            taken = self._eval(right, p, line)
            self._assign(p, left, right, taken)
            return taken
        if t == "update_expression":
            name = _norm(node_text(e.child_by_field_name("argument") or e))
            was = p.facts.get(name)
            self._forget(p, name)
            if was is False and "++" in node_text(e):
                p.facts[name] = True  # a counter that was 0 is not 0 any more
            return []
        if t == "parenthesized_expression" or t == "cast_expression":
            return self._eval(_strip(e), p, line) if e.named_child_count else []
        if t in ("conditional_expression", "sizeof_expression", "string_literal"):
            if t == "conditional_expression":
                self._eval(e.child_by_field_name("condition"), p, line)
            return []
        for c in e.named_children:
            self._eval(c, p, line)
        return []

    def _assign(self, p: _Path, left: Node | None, right: Node | None, taken: list[_Held]) -> None:
        if left is None:
            return
        while left.type in ("pointer_declarator", "array_declarator") and left.child_by_field_name("declarator"):
            left = left.child_by_field_name("declarator")
        name = _norm(node_text(left))
        self._forget(p, name)
        p.held = [h if name not in h.vars or h in taken else _Held(h.resource, h.key, h.line, h.acquire,
                                                                     h.vars - {name}, h.success)
                  for h in p.held]
        if taken:
            p.held = [_Held(h.resource, h.key, h.line, h.acquire, h.vars | {name}, h.success)
                      if h in taken else h for h in p.held]
        elif name not in self.correlated:
            return
        elif right is not None and _strip(right).type in ("number_literal", "true", "false", "null"):
            p.facts[name] = node_text(_strip(right)) not in self.zeros
        elif right is not None and node_text(_strip(right)) in self.zeros:
            p.facts[name] = False

    @staticmethod
    def _forget(p: _Path, name: str, pointee_only: bool = False) -> None:
        """`name` (or only what it points to) changed: drop facts about it, and the
        memory of releasing what it named."""
        if pointee_only:
            pattern = re.compile(r"(?<![\w>.])" + re.escape(name) + r"\s*->|\*\s*" + re.escape(name) + r"(?!\w)")
        else:
            pattern = re.compile(r"(?<![\w>.])" + re.escape(name) + r"(?!\w)")
        for atom in [a for a in p.facts if pattern.search(a)]:
            del p.facts[atom]
        p.released = {r for r in p.released if r.what is None or not pattern.search(r.what)}

    def _call(self, call: Node, p: _Path, line: int, outcome: bool | None = None) -> list[_Held]:
        name = _call_name(call)
        args = call.child_by_field_name("arguments")
        argv = args.named_children if args is not None else []
        if name in self.rules.acquires:
            act = self.rules.acquires[name]
            if outcome is not None and act.success != "always":
                if (outcome if act.success in ("nonnull", "nonzero") else not outcome) is False:
                    return []  # this branch is the "nothing taken" result
                success = "always"
            else:
                success = act.success
            taken = []
            for res in act.resources:
                held = _Held(res, self._arg_key(act, res, argv), line, name, frozenset(), success)
                if any((h.resource, h.key, h.line) == (res, held.key, line) for h in p.held):
                    continue  # re-acquired at the same site while held: counted once
                p.held.append(held)
                taken.append(held)
            return taken
        if name in self.rules.releases:
            self._release(self.rules.releases[name], argv, p, line)
        elif name not in _TRANSPARENT_CALLS:
            # An unknown callee may change what it gets a pointer to: all of `x` for
            # `&x`, what `p` points to for `p` (map_pte(pvmw) sets and locks pvmw->ptl).
            for a in argv:
                text = _norm(node_text(_strip(a)))
                if text.startswith("&"):
                    self._forget(p, _key_text(a))
                elif re.fullmatch(r"[A-Za-z_][\w.>-]*", text):
                    self._forget(p, text, pointee_only=True)
        return []

    @staticmethod
    def _arg_key(act: Action, res: str, argv: list[Node]) -> str | None:
        idx = act.keys.get(res)
        return _key_text(argv[idx]) if idx is not None and idx < len(argv) else None

    def _release(self, act: Action, argv: list[Node], p: _Path, line: int) -> None:
        for res in act.resources:
            key = self._arg_key(act, res, argv)
            what = None if act.by_callee else (key if key is not None else
                                                _norm(node_text(argv[0])) if argv else "")
            candidates = [h for h in p.held if h.resource == res]
            exact = [h for h in candidates if key is not None and h.key == key]
            victim = (exact or candidates or [None])[-1]
            if victim is not None:
                p.held.remove(victim)
                p.released.add(_Released(res, what, line, act.name, victim.line, victim.acquire))
                continue
            if act.idempotent:
                continue
            # Only the same lock, or the same pointer text, released twice is reported.
            earlier = [r for r in p.released if r.resource == res and what is not None and r.what == what]
            if earlier:
                first = min(earlier, key=lambda r: r.line)
                self._report("double-release", res, first.acquire_line, "", line, p,
                             f"{act.name}() at line {line} releases {res} again: "
                             f"{first.release}() at line {first.line} already released it",
                             acquire=first.acquire)

    # --- branches ----------------------------------------------------------------------------
    def _tested_acquire(self, call: Node, p: _Path, line: int, outcome: bool) -> None:
        """`if (acquire(args))`: the arguments are evaluated, then the acquire with the branch's outcome."""
        args = call.child_by_field_name("arguments")
        for a in args.named_children if args is not None else []:
            self._eval(a, p, line)
        self._call(call, p, line, outcome)

    def _branch(self, node: _Cfg, p: _Path, outcome: bool) -> bool:
        """Apply one side of a branch to p; False when the path is infeasible."""
        atom = node.label
        if node.ast is None:  # #if / #ifdef
            return self._fact(p, atom, outcome)
        e = _strip(node.ast)
        tested: str | None = None
        if e.type == "call_expression" and _call_name(e) in self.rules.acquires:
            self._tested_acquire(e, p, node.line, outcome)
            return True
        if e.type == "assignment_expression":
            self._eval(e, p, node.line)
            tested = _norm(node_text(e.child_by_field_name("left")))
        elif self._compares_to_nonzero(e):
            # "f() == NAME" / "v == NAME" with NAME not 0: when true, the result was not 0.
            left = _strip(e.child_by_field_name("left"))
            equal = node_text(e.child_by_field_name("operator")) == "=="
            if outcome != equal:
                self._eval(e, p, node.line)
                return True  # "!= NAME" tells nothing about zero
            if left.type == "call_expression" and _call_name(left) in self.rules.acquires:
                self._tested_acquire(left, p, node.line, True)
                return True
            self._eval(e, p, node.line)
            tested, outcome = _norm(node_text(left)), True
        else:
            self._eval(e, p, node.line)
            tested = atom
        kept = []
        for h in p.held:
            if tested in h.vars and h.success != "always":
                if (outcome if h.success in ("nonnull", "nonzero") else not outcome) is False:
                    continue  # that result means nothing was taken
                h = _Held(h.resource, h.key, h.line, h.acquire, h.vars, "always")
            kept.append(h)
        p.held = kept
        if _has_call(e):
            return True
        return self._fact(p, tested, outcome)

    def _compares_to_nonzero(self, e: Node) -> bool:
        if e.type != "binary_expression" or node_text(e.child_by_field_name("operator")) not in ("==", "!="):
            return False
        right = e.child_by_field_name("right")
        return (right.type in ("identifier", "number_literal") and node_text(right) not in self.zeros
                and right.type != "identifier" or node_text(right).isupper())

    def _fact(self, p: _Path, atom: str, outcome: bool) -> bool:
        known = p.facts.get(atom)
        if known is not None and known != outcome:
            return False
        if atom in self.correlated:
            p.facts[atom] = outcome
        return True

    # --- exits and reporting -----------------------------------------------------------------
    def _exit(self, node: _Cfg, p: _Path) -> None:
        returned: set[str] = set()
        text = "<end of function>"
        if node.kind == "return":
            text = _norm(node_text(node.ast))
            value = node.ast.named_children[0] if node.ast.named_child_count else None
            taken = self._eval(value, p, node.line)
            if value is not None:
                returned.add(_norm(node_text(_strip(value))))
            p.held = [h for h in p.held if h not in taken]
        if not self.report_leaks:
            return
        for h in p.held:
            if h.vars & returned or h.key in returned:
                continue  # handed to the caller (the pointer, or the lock it returns)
            where = (f"returns at line {node.line}" if node.kind == "return"
                     else f"reaches the end of the function (line {node.line})")
            self._report("leak", h.resource, h.line, text, node.line, p, "", acquire=h.acquire,
                         missing=[self._release_for(h)], exit=where)

    def _release_for(self, h: _Held) -> str:
        takes = set(self.rules.acquires[h.acquire].resources)
        best = [a for a in self.rules.releases.values()
                if h.resource in a.resources and set(a.resources) <= takes and not a.by_callee]
        best.sort(key=lambda a: -len(a.resources))
        if best:
            return best[0].name
        return next((a.name for a in self.rules.releases.values() if h.resource in a.resources), "a release")

    def _report(self, kind: str, res: str, acq_line: int, stmt: str, line: int, p: _Path,
                message: str, acquire: str, missing: list[str] | None = None, exit: str = "") -> None:
        k = (kind, res, acq_line, line)
        if k in self._found:
            return
        f = PairFinding(kind, self.func.name, [res], acquire, acq_line, line, stmt, message,
                        list(self._trail), self.confidence, missing or [], exit)
        f.message = f.describe()
        self._found[k] = f

    # --- the walk ----------------------------------------------------------------------------
    def run(self) -> "FunctionScan":
        if self.skip:
            return self
        seen: set[tuple] = set()
        stack: list[tuple[int, tuple, tuple[str, ...]]] = [(self.entry, _Path((), frozenset(), frozenset()).key(), ())]
        while stack:
            idx, state, trail = stack.pop()
            if (idx, state) in seen:
                continue
            if len(seen) >= MAX_STATES:
                self.truncated = True
                if self.confidence == "high":
                    self.confidence = "medium"
                break
            seen.add((idx, state))
            node = self.nodes[idx]
            self._trail = trail
            held, released, facts = state
            if node.kind in ("return", "exit"):
                p = _Path(held, released, facts)
                self._exit(node, p)
                continue
            if node.kind == "branch":
                for outcome, nxt in ((True, node.succ[0]), (False, node.succ[1])):
                    p = _Path(held, released, facts)
                    if self._branch(node, p, outcome):
                        step = f"line {node.line}: ({node.label}) is {'true' if outcome else 'false'}"
                        stack.append((nxt, p.key(), (trail + (step,))[-PATH_STEPS:]))
                continue
            p = _Path(held, released, facts)
            if node.kind in ("effect", "multi"):
                self._eval(node.ast, p, node.line)
            step_trail = trail
            if node.kind == "goto":
                step_trail = (trail + (f"line {node.line}: goto {node.label}",))[-PATH_STEPS:]
            for nxt in node.succ:
                stack.append((nxt, p.key(), step_trail))
        return self

    _trail: tuple[str, ...] = ()


def _constant_targets(body: Node) -> set[str]:
    """Texts of variables assigned a literal (`ret = 0`, `locked = true`, `p = NULL`) in body."""
    found: set[str] = set()
    stack = [body]
    while stack:
        n = stack.pop()
        if n.type in ("assignment_expression", "init_declarator"):
            left = n.child_by_field_name("left") or n.child_by_field_name("declarator")
            right = n.child_by_field_name("right") or n.child_by_field_name("value")
            while left is not None and left.type == "pointer_declarator":
                left = left.child_by_field_name("declarator")
            if left is not None and right is not None and (
                    _strip(right).type in ("number_literal", "true", "false", "null")
                    or node_text(right) in _NULLS):
                found.add(_norm(node_text(left)))
        stack.extend(n.named_children)
    return found


def _has_call(e: Node) -> bool:
    if e.type == "call_expression" and _call_name(e) not in _TRANSPARENT_CALLS:
        return True
    return any(_has_call(c) for c in e.named_children)


def scan_function(func: CFunction, rules: Rules, confidence: str = "high") -> list[PairFinding]:
    """Findings of one parsed function."""
    return FunctionScan(func, rules, confidence).run().findings


def mentions_rules(text: str, rules: Rules) -> bool:
    """Cheap pre-filter: does the text call any function the rules know?"""
    names = set(rules.acquires) | set(rules.releases)
    return any(n + "(" in text or n + " (" in text for n in names)


def scan_source(text: str, rules: Rules, only: set[str] | None = None) -> list[PairFinding]:
    """Findings of every function in a C source text (or only those named in `only`)."""
    found: list[PairFinding] = []
    if not mentions_rules(text, rules):
        return found
    for func in functions_in(text):
        if only is not None and func.name not in only:
            continue
        if mentions_rules(node_text(func.body), rules):
            found.extend(scan_function(func, rules))
    return found
