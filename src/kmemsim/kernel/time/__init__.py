"""kernel/time/: the simulated kernel's clock, jiffies, timers and sleeping (msleep)."""
