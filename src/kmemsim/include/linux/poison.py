"""Model of include/linux/poison.h: the values the kernel writes into dead pointers.

x86_64 builds with CONFIG_ILLEGAL_POINTER_VALUE=0xdead000000000000, which
POISON_POINTER_DELTA adds, so a use of a list entry after list_del() faults
on a non-canonical address with a recognisable value.
"""

from __future__ import annotations

POISON_POINTER_DELTA = 0xDEAD000000000000
LIST_POISON1 = 0x100 + POISON_POINTER_DELTA  # list_del(): entry->next
LIST_POISON2 = 0x122 + POISON_POINTER_DELTA  # list_del(): entry->prev
