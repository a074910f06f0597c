//! riptide-bench
