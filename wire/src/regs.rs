//! The NIC's AXI4-Lite register map, defined once for the HDL, the driver and docs/registers.md.
