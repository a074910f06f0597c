//! The Alveo deployment kit: board data as data (`deploy/boards/*.toml`), and
//! from it a self-contained Vivado project around `riptide_core` — a small
//! Verilog top per board, one TCL per vendor IP, a project TCL and flow
//! scripts, XDC and a Makefile ([`project::write_project`]); and the host
//! checks of `riptide doctor` ([`doctor`]). What each part does and why:
//! `docs/deploy-alveo.md`.

pub mod board;
pub mod core_ports;
pub mod doctor;
pub mod ip;
pub mod project;
pub mod shell;
pub mod xdc;
