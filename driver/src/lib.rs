//! riptide-driver
