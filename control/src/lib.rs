//! riptide-control
