//! `riptide_core`'s ports as the shell sees them, grouped into the bus
//! interfaces Vivado infers. The wrapper and the top are generated from this
//! list; a test holds it to the emitted core's module header.

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dir {
    In,
    Out,
}

/// One port: name, direction, width in bits.
#[derive(Debug, Clone)]
pub struct Port {
    pub name: String,
    pub dir: Dir,
    pub width: u32,
}

/// An AXI bus of the core: the prefix its ports share, the Vivado interface
/// and mode, and its signals (the port name is `prefix_signal`).
pub struct Bus {
    pub prefix: &'static str,
    pub vlnv: &'static str,
    pub mode: &'static str,
    pub signals: &'static [(&'static str, Dir, u32)],
}

const AXIS_IN: &[(&str, Dir, u32)] = &[
    ("tdata", Dir::In, 512),
    ("tkeep", Dir::In, 64),
    ("tvalid", Dir::In, 1),
    ("tready", Dir::Out, 1),
    ("tlast", Dir::In, 1),
];
const AXIS_IN_USER: &[(&str, Dir, u32)] = &[
    ("tdata", Dir::In, 512),
    ("tkeep", Dir::In, 64),
    ("tvalid", Dir::In, 1),
    ("tready", Dir::Out, 1),
    ("tlast", Dir::In, 1),
    ("tuser", Dir::In, 1),
];
const AXIS_OUT: &[(&str, Dir, u32)] = &[
    ("tdata", Dir::Out, 512),
    ("tkeep", Dir::Out, 64),
    ("tvalid", Dir::Out, 1),
    ("tready", Dir::In, 1),
    ("tlast", Dir::Out, 1),
];
/// The register file's address bits (`docs/hw.md`: a 12-bit AXI4-Lite slave).
pub const AXIL_ADDR_BITS: u32 = 12;
const AXIL_SLAVE: &[(&str, Dir, u32)] = &[
    ("awaddr", Dir::In, AXIL_ADDR_BITS),
    ("awvalid", Dir::In, 1),
    ("awready", Dir::Out, 1),
    ("wdata", Dir::In, 32),
    ("wstrb", Dir::In, 4),
    ("wvalid", Dir::In, 1),
    ("wready", Dir::Out, 1),
    ("bresp", Dir::Out, 2),
    ("bvalid", Dir::Out, 1),
    ("bready", Dir::In, 1),
    ("araddr", Dir::In, AXIL_ADDR_BITS),
    ("arvalid", Dir::In, 1),
    ("arready", Dir::Out, 1),
    ("rdata", Dir::Out, 32),
    ("rresp", Dir::Out, 2),
    ("rvalid", Dir::Out, 1),
    ("rready", Dir::In, 1),
];

pub const BUSES: &[Bus] = &[
    Bus {
        prefix: "net_rx",
        vlnv: "xilinx.com:interface:axis:1.0",
        mode: "slave",
        signals: AXIS_IN_USER,
    },
    Bus {
        prefix: "net_tx",
        vlnv: "xilinx.com:interface:axis:1.0",
        mode: "master",
        signals: AXIS_OUT,
    },
    Bus {
        prefix: "h2c",
        vlnv: "xilinx.com:interface:axis:1.0",
        mode: "slave",
        signals: AXIS_IN,
    },
    Bus {
        prefix: "c2h",
        vlnv: "xilinx.com:interface:axis:1.0",
        mode: "master",
        signals: AXIS_OUT,
    },
    Bus {
        prefix: "s_axil",
        vlnv: "xilinx.com:interface:aximm:1.0",
        mode: "slave",
        signals: AXIL_SLAVE,
    },
];

/// Every port of `riptide_core`, clock and reset first.
pub fn ports() -> Vec<Port> {
    let mut ports = vec![
        Port {
            name: "clk".to_string(),
            dir: Dir::In,
            width: 1,
        },
        Port {
            name: "rst".to_string(),
            dir: Dir::In,
            width: 1,
        },
    ];
    for bus in BUSES {
        for &(signal, dir, width) in bus.signals {
            ports.push(Port {
                name: format!("{}_{signal}", bus.prefix),
                dir,
                width,
            });
        }
    }
    ports
}

/// `[w-1:0] ` for a bus, nothing for one bit.
pub fn range(width: u32) -> String {
    if width == 1 {
        String::new()
    } else {
        format!("[{}:0] ", width - 1)
    }
}
