// SPDX-License-Identifier: GPL-2.0-only
/// Find missing pte_unmap()/pte_unmap_unlock() on an early return.
/// Adapted from the kernel's scripts/coccinelle/locks/mini_lock.cocci (v6.1):
/// the "lock" is now the assignment of pte_offset_map() / pte_offset_map_lock()
/// to a pointer E, the "unlock" pte_unmap(E) / pte_unmap_unlock(E, ...).  As in
/// mini_lock, only the shape "map; ... if (...) { ... return; } ... unmap" is
/// matched, where neither the branch nor the code around it mentions E;
/// returns inside a for loop are left out, as mini_lock does.
///
// Confidence: Moderate
// Copyright: (C) 2010-2012 Nicolas Palix, Julia Lawall, Gilles Muller (mini_lock.cocci).
// Options: --no-includes --include-headers

virtual report

@prelocked@
position p1;
expression E;
@@

(
E = pte_offset_map_lock@p1(...)
|
E = pte_offset_map@p1(...)
)

@looped@
position r;
@@

for(...;...;...) { <+... return@r ...; ...+> }

@err exists@
expression E;
position prelocked.p1;
position up;
position r != looped.r;
identifier lock;
@@

E = lock@p1(...);
... when != E
    when any
if (...) {
  ... when != E
  return@r ...;
}
... when != E
    when any
(
pte_unmap_unlock@up(E,...);
|
pte_unmap@up(E);
)

@script:python depends on report@
p << prelocked.p1;
lock << err.lock;
p2 << err.r;
@@

msg = "%s() on line %s not undone" % (lock, p[0].line)
coccilib.report.print_report(p2[0], msg)
