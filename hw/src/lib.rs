//! riptide-hw
