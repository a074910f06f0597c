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
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    match args.command {
        HwCommand::Verilog { out } => {
            let path = riptide_hw::verilog::write_verilog(&out)?;
            println!("wrote {}", path.display());
        }
    }
    Ok(ExitCode::SUCCESS)
}
