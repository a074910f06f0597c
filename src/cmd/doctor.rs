//! `riptide doctor`: one line per check of this host (and its board), each
//! failure with its fix; exit 1 if any check fails.

use riptide_deploy::doctor::{Check, board_checks, host_checks};
use riptide_driver::pcie::PciAddress;
use riptide_driver::pcie::vfio::{SysPaths, VfioDevice, VfioOptions};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

#[derive(clap::Args)]
pub struct Args {
    /// PCI address of the board, DDDD:BB:DD.F (default: the first riptide
    /// board, 10ee:903f, found).
    #[arg(long)]
    device: Option<String>,
    /// Root of the system to inspect (sys/, proc/ below it); tests point it
    /// at a fake tree. Board registers are read only when it is `/`.
    #[arg(long, default_value = "/", hide = true)]
    root: PathBuf,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let device = args
        .device
        .as_deref()
        .map(str::parse::<PciAddress>)
        .transpose()?;
    let (mut checks, address) = host_checks(&args.root, device);
    let host_ready = !checks.iter().any(Check::failed);
    match address {
        Some(address) if host_ready && args.root == Path::new("/") => {
            let options = VfioOptions {
                bars: vec![0, 1],
                interrupts: false,
            };
            match VfioDevice::open(&SysPaths::system(), address, &options) {
                Ok(mut board) => checks.extend(board_checks(&mut board)),
                Err(error) => checks.push(Check::fail(
                    "board",
                    "cannot open it with VFIO",
                    error.to_string(),
                )),
            }
        }
        _ => checks.push(Check::skip(
            "board",
            "registers not read (a host check failed, or a fake root)",
        )),
    }
    for check in &checks {
        println!("{check}");
    }
    let failures = checks.iter().filter(|c| c.failed()).count();
    if failures == 0 {
        println!("ready");
        Ok(ExitCode::SUCCESS)
    } else {
        println!("{failures} check(s) failed");
        Ok(ExitCode::from(1))
    }
}
