//! Byte layout of the host records (wire::host) on the host-to-card and card-to-host streams.
