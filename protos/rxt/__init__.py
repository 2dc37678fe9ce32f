"""Protocol buffers of package `rxt`."""
