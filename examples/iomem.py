"""A driver claims its registers with request_mem_region(); a second claim of them fails.

Run with `kmemsim run examples/iomem.py --profile beaglebone-black` (or on x86_64: the
scenario picks a free range of the machine). It shows /proc/iomem before, the first
driver's region in it, the second driver's NULL, and /proc/iomem after the release.
"""

import kmemsim

k = globals().get("k") or kmemsim.boot("beaglebone-black")

# UART1 of the AM335x is not claimed by any built-in driver; on a PC take a free range.
if k.machine.arch == "arm":
    start, size = 0x48022000, 0x1000
else:
    start, size = 0xFED00000, 0x400


def show(title: str) -> None:
    print(f"--- /proc/iomem {title}")
    print(k.cat("/proc/iomem"), end="")


show("before")
foo = k.request_mem_region(start, size, "foo")
print(f'foo: request_mem_region({start:#x}, {size:#x}, "foo") = {foo}')
show("with foo's region")
bar = k.request_mem_region(start + 0x10, 4, "bar")
print(f'bar: request_mem_region({start + 0x10:#x}, 4, "bar") = {bar}  (NULL: foo holds it)')
owner = next(
    line for line in k.cat("/proc/iomem").splitlines() if line.lstrip().startswith(f"{start:08x}")
)
print(f"the owner, as /proc/iomem names it: {owner.strip()}")
k.release_mem_region(start, size)
show("after release_mem_region()")
bar = k.request_mem_region(start + 0x10, 4, "bar")
print(f"bar again: {bar}")
k.release_mem_region(start + 0x10, 4)
k.release_mem_region(start + 0x10, 4)  # once too often: the kernel warns
