//! The Ethernet/IPv4/UDP envelope around a riptide datagram.
