"""Models of kernel/trace/: what the tracing core allocates at boot."""
