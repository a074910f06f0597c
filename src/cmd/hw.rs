//! `riptide hw`: the FPGA fast path's build artefacts.

use std::path::PathBuf;
use std::process::ExitCode;

#[derive(clap::Args)]
pub struct Args {
    #[command(subcommand)]
    command: HwCommand,
}

#[derive(clap::Subcommand)]
enum HwCommand {
    /// Write the synthesizable Verilog of `riptide_core` (top ports with flat
    /// AXI names) into a directory.
    Verilog {
        /// Directory to write `riptide_core.v` into (created if missing).
        #[arg(long)]
        out: PathBuf,
    },
    /// Write a self-contained Vivado project for an Alveo board: the shell's
    /// Verilog top around the emitted core, one TCL per IP, project and flow
    /// TCL, XDC and a Makefile (docs/deploy-alveo.md).
    Project {
        /// Board: u250, u280 or u55c (data in deploy/boards/).
        #[arg(long)]
        board: String,
        /// QSFP28 cage the MAC uses.
        #[arg(long, default_value_t = 0, value_parser = clap::value_parser!(u8).range(0..=1))]
        qsfp: u8,
        /// Directory to write the project into (created if missing).
        #[arg(long)]
        out: PathBuf,
    },
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    match args.command {
        HwCommand::Verilog { out } => {
            let path = riptide_hw::verilog::write_verilog(&out)?;
            println!("wrote {}", path.display());
        }
        HwCommand::Project { board, qsfp, out } => {
            let board = riptide_deploy::board::Board::named(&board)?;
            let written = riptide_deploy::project::write_project(&board, qsfp, &out)?;
            println!(
                "wrote {} files for the {} (QSFP28 cage {qsfp}) into {}; next: make -C {} bitstream",
                written.len(),
                board.title,
                out.display(),
                out.display()
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}
