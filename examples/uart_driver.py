"""A platform driver for the BeagleBone Black's UART1, saying "hello" through writel().

Run it with a booted kernel bound to `k`:

    kmemsim run examples/uart_driver.py --profile beaglebone-black

or as a plain script (`python examples/uart_driver.py`), which boots its own.

The AM335x UARTs are 16550-compatible with their registers 4 bytes apart
(reg-shift 2). The board's device tree names them "ti,am3352-uart"; the
built-in omap8250 driver has bound the console UART (44e09000.serial), and
the driver below, matching the same compatible string, gets the others that
nobody claimed. Its probe maps the registers with
devm_platform_ioremap_resource() (request_mem_region + ioremap, both undone
by the driver core on unbind), waits for the transmit holding register to be
empty (LSR.THRE) and writes each byte of "hello" to THR with writel().
"""

from __future__ import annotations

import kmemsim

if "k" not in globals():
    k = kmemsim.boot("beaglebone-black")
if k.machine.bus.find(0x48022000) is None:
    raise kmemsim.KmemsimError(
        "examples/uart_driver.py needs the BeagleBone Black's UART1: "
        "run it with --profile beaglebone-black"
    )

UART_TX = 0x00 << 2  # THR, with the AM335x's 4-byte register spacing
UART_LSR = 0x05 << 2
UART_LSR_THRE = 0x20


def hello_probe(pdev):  # type: ignore[no-untyped-def]
    base = k.devm_platform_ioremap_resource(pdev, 0)
    if kmemsim.IS_ERR(base):
        return kmemsim.PTR_ERR(base)
    k.platform_set_drvdata(pdev, base)
    for ch in b"hello\n":
        while not k.readl(base + UART_LSR) & UART_LSR_THRE:
            pass
        k.writel(ch, base + UART_TX)
    k.dev_info(pdev.dev, f"said hello through the registers mapped at {base:#x}")
    return 0


def hello_remove(pdev):  # type: ignore[no-untyped-def]
    k.dev_info(pdev.dev, "goodbye")


drv = kmemsim.platform_driver(
    "hello_uart", hello_probe, hello_remove, of_match_table=["ti,am3352-uart"]
)
since = len(k.dmesg().splitlines())
print("platform_driver_register() =", k.platform_driver_register(drv))
print("\n".join(k.dmesg().splitlines()[since:]))

uart1 = k.machine.bus.find(0x48022000)
print(f"UART1 (48022000.serial) transmitted: {bytes(uart1.transmitted)!r}")
iomem = [line for line in k.cat("/proc/iomem").splitlines() if "48022000" in line]
print("in /proc/iomem while bound:", iomem)

print(
    "echo 48022000.serial > /sys/bus/platform/drivers/hello_uart/unbind =",
    k.echo("48022000.serial", "/sys/bus/platform/drivers/hello_uart/unbind"),
)
iomem = [line for line in k.cat("/proc/iomem").splitlines() if "48022000" in line]
print("in /proc/iomem after unbind:", iomem)
k.platform_driver_unregister(drv)
