//! riptide-sim
