//! One TCL file per vendor IP instance: `create_ip` and its `CONFIG.*`
//! values, from the board data. The keys each IP may take are data,
//! `deploy/ip/allowlist.toml` (with the product guide that names them); the
//! stub Vivado of the CI checks enforces it.

use crate::board::Board;
use crate::core_ports::AXIL_ADDR_BITS;
use crate::shell::PCIE_USER_CLOCK_HZ;

pub const ALLOWLIST: &str = include_str!("../ip/allowlist.toml");

/// One IP instance: its catalog name, module name and configuration.
pub struct Ip {
    pub name: &'static str,
    pub module: &'static str,
    pub why: &'static str,
    pub config: Vec<(&'static str, String)>,
}

fn config(pairs: &[(&'static str, &str)]) -> Vec<(&'static str, String)> {
    pairs.iter().map(|(k, v)| (*k, v.to_string())).collect()
}

/// The shell's IP for a build on cage `qsfp` (the cage exists: checked by
/// the caller through [`Board::cage`]).
pub fn instances(board: &Board, qsfp: u8) -> Vec<Ip> {
    let cage = &board.qsfp[usize::from(qsfp)];
    let mut cmac = config(&[
        ("CMAC_CAUI4_MODE", "1"),
        ("NUM_LANES", "4x25"),
        ("USER_INTERFACE", "AXIS"),
        // The init/DRP clock is the PCIe reference's ODIV2 (100 MHz).
        ("GT_DRP_CLK", "100.00"),
        ("TX_FLOW_CONTROL", "0"),
        ("RX_FLOW_CONTROL", "0"),
        ("INCLUDE_RS_FEC", "1"),
        ("ENABLE_PIPELINE_REG", "1"),
    ]);
    cmac.push(("GT_REF_CLK_FREQ", format!("{}", cage.refclk_mhz)));
    cmac.push(("CMAC_CORE_SELECT", cage.cmac_site.clone()));
    cmac.push((
        "GT_GROUP_SELECT",
        format!("{}~{}", cage.gt_channels[0], cage.gt_channels[3]),
    ));
    for (lane, key) in [
        "LANE1_GT_LOC",
        "LANE2_GT_LOC",
        "LANE3_GT_LOC",
        "LANE4_GT_LOC",
    ]
    .into_iter()
    .enumerate()
    {
        cmac.push((key, cage.gt_channels[lane].clone()));
    }

    let mut xdma = config(&[
        ("mode_selection", "Advanced"),
        ("pl_link_cap_max_link_width", "X16"),
        ("pl_link_cap_max_link_speed", "8.0_GT/s"),
        ("axi_data_width", "512_bit"),
        ("plltype", "QPLL1"),
        ("ref_clk_freq", "100_MHz"),
        ("xdma_axi_intf_mm", "AXI_Stream"),
        ("xdma_rnum_chnl", "1"),
        ("xdma_wnum_chnl", "1"),
        // The user BAR: the core's 4 KiB map and the shell's registers.
        ("axilite_master_en", "true"),
        ("axilite_master_size", "1"),
        ("axilite_master_scale", "Megabytes"),
        ("pf0_device_id", "903F"),
        ("xdma_num_usr_irq", "1"),
        ("pf0_msix_enabled", "true"),
        ("cfg_mgmt_if", "false"),
    ]);
    xdma.push((
        "axisten_freq",
        format!("{}", PCIE_USER_CLOCK_HZ / 1_000_000),
    ));
    if !board.pcie.block.is_empty() {
        xdma.push(("pcie_blk_locn", board.pcie.block.clone()));
    }

    let fifo = |depth: &str| {
        config(&[
            ("TDATA_NUM_BYTES", "64"),
            ("HAS_TKEEP", "1"),
            ("HAS_TLAST", "1"),
            ("FIFO_DEPTH", depth),
            ("FIFO_MODE", "1"),
            ("IS_ACLK_ASYNC", "1"),
            ("SYNCHRONIZATION_STAGES", "3"),
            ("FIFO_MEMORY_TYPE", "block"),
        ])
    };
    let mut cdc = config(&[
        ("PROTOCOL", "AXI4LITE"),
        ("DATA_WIDTH", "32"),
        ("ACLK_ASYNC", "1"),
        ("SYNCHRONIZATION_STAGES", "3"),
    ]);
    cdc.push(("ADDR_WIDTH", format!("{}", AXIL_ADDR_BITS + 1)));

    vec![
        Ip {
            name: "cmac_usplus",
            module: "cmac_usplus_0",
            why: "the integrated 100G MAC, CAUI-4 with RS-FEC, AXI4-Stream user side",
            config: cmac,
        },
        Ip {
            name: "xdma",
            module: "xdma_0",
            why: "PCIe Gen3 x16 DMA: one H2C and one C2H AXI4-Stream channel, AXI4-Lite master on the user BAR",
            config: xdma,
        },
        Ip {
            name: "axis_data_fifo",
            module: "axis_fifo_h2c",
            why: "host-to-card records, 250 MHz in, 322 MHz out (the core takes beats with gaps: no packet mode)",
            config: fifo("512"),
        },
        Ip {
            name: "axis_data_fifo",
            module: "axis_fifo_c2h",
            why: "card-to-host records, 322 MHz in, 250 MHz out, a few hundred beats of slack (docs/hw.md)",
            config: fifo("512"),
        },
        Ip {
            name: "axi_clock_converter",
            module: "axil_cdc",
            why: "register accesses from the 250 MHz BAR into the core's clock, one transaction each, so strobes stay one-cycle pulses",
            config: cdc,
        },
        Ip {
            name: "proc_sys_reset",
            module: "mac_reset",
            why: "the core's reset: held while PCIe is in reset or the MAC's TX clock is not ready, released synchronously",
            config: config(&[("C_EXT_RESET_HIGH", "0"), ("C_AUX_RESET_HIGH", "1")]),
        },
    ]
}

/// The TCL that creates and configures one instance.
pub fn tcl(ip: &Ip) -> String {
    let mut tcl = format!(
        "# {}: {}\n# Generated by riptide-deploy; the CONFIG keys are checked against\n\
         # ip/allowlist.toml in CI (stub Vivado).\n\
         create_ip -name {} -vendor xilinx.com -library ip -module_name {}\n\
         set_property -dict [list \\\n",
        ip.module, ip.why, ip.name, ip.module
    );
    for (key, value) in &ip.config {
        tcl.push_str(&format!("    CONFIG.{key} {{{value}}} \\\n"));
    }
    tcl.push_str(&format!("] [get_ips {}]\n", ip.module));
    tcl
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    #[derive(serde::Deserialize)]
    struct Allowed {
        guide: String,
        keys: Vec<String>,
    }

    #[test]
    fn every_generated_key_is_on_its_ips_allow_list() {
        let allowed: BTreeMap<String, Allowed> = toml::from_str(ALLOWLIST).unwrap();
        for (name, _) in crate::board::BOARDS {
            let board = Board::named(name).unwrap();
            for qsfp in 0..2 {
                for ip in instances(&board, qsfp) {
                    let list = &allowed[ip.name];
                    assert!(list.guide.starts_with("PG"), "{}: cite a guide", ip.name);
                    for (key, _) in &ip.config {
                        assert!(list.keys.iter().any(|k| k == key), "{} {key}", ip.name);
                    }
                }
            }
        }
    }

    #[test]
    fn the_mac_uses_the_boards_gt_group_for_the_chosen_cage() {
        let board = Board::named("u250").unwrap();
        let cmac = &instances(&board, 1)[0];
        let value = |key: &str| {
            cmac.config
                .iter()
                .find(|(k, _)| *k == key)
                .unwrap()
                .1
                .clone()
        };
        assert_eq!(value("GT_GROUP_SELECT"), "X1Y40~X1Y43");
        assert_eq!(value("CMAC_CORE_SELECT"), "CMACE4_X0Y7");
        assert_eq!(value("GT_REF_CLK_FREQ"), "161.1328125");
    }
}
