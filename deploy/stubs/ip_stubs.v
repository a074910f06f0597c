// Port-accurate stand-ins for the vendor IP of riptide's Alveo shell, for
// lint and elaboration without Vivado (see README.md). Outputs are 0.
/* verilator lint_off UNUSEDSIGNAL */
/* verilator lint_off UNUSEDPARAM */
`default_nettype none

// UG974: IBUFDS_GTE4, the GT reference clock input buffer.
module IBUFDS_GTE4 #(
    parameter [0:0] REFCLK_EN_TX_PATH = 1'b0,
    parameter [1:0] REFCLK_HROW_CK_SEL = 2'b00,
    parameter [1:0] REFCLK_ICNTL_RX = 2'b00
) (
    output wire O,
    output wire ODIV2,
    input  wire CEB,
    input  wire I,
    input  wire IB
);
    assign O = 1'b0;
    assign ODIV2 = 1'b0;
endmodule

// UG974: BUFG_GT, the global buffer a GT clock reaches fabric through.
module BUFG_GT (
    output wire O,
    input  wire CE,
    input  wire CEMASK,
    input  wire CLR,
    input  wire CLRMASK,
    input  wire [2:0] DIV,
    input  wire I
);
    assign O = 1'b0;
endmodule

// PG195: DMA/Bridge Subsystem for PCI Express, AXI4-Stream, one H2C and one
// C2H channel, 512-bit, x16, AXI4-Lite master.
module xdma_0 (
    input  wire         sys_clk,
    input  wire         sys_clk_gt,
    input  wire         sys_rst_n,
    output wire [15:0]  pci_exp_txp,
    output wire [15:0]  pci_exp_txn,
    input  wire [15:0]  pci_exp_rxp,
    input  wire [15:0]  pci_exp_rxn,
    output wire         axi_aclk,
    output wire         axi_aresetn,
    output wire         user_lnk_up,
    input  wire [0:0]   usr_irq_req,
    output wire [0:0]   usr_irq_ack,
    output wire         msix_enable,
    input  wire [511:0] s_axis_c2h_tdata_0,
    input  wire [63:0]  s_axis_c2h_tkeep_0,
    input  wire         s_axis_c2h_tlast_0,
    input  wire         s_axis_c2h_tvalid_0,
    output wire         s_axis_c2h_tready_0,
    output wire [511:0] m_axis_h2c_tdata_0,
    output wire [63:0]  m_axis_h2c_tkeep_0,
    output wire         m_axis_h2c_tlast_0,
    output wire         m_axis_h2c_tvalid_0,
    input  wire         m_axis_h2c_tready_0,
    output wire [31:0]  m_axil_awaddr,
    output wire [2:0]   m_axil_awprot,
    output wire         m_axil_awvalid,
    input  wire         m_axil_awready,
    output wire [31:0]  m_axil_wdata,
    output wire [3:0]   m_axil_wstrb,
    output wire         m_axil_wvalid,
    input  wire         m_axil_wready,
    input  wire [1:0]   m_axil_bresp,
    input  wire         m_axil_bvalid,
    output wire         m_axil_bready,
    output wire [31:0]  m_axil_araddr,
    output wire [2:0]   m_axil_arprot,
    output wire         m_axil_arvalid,
    input  wire         m_axil_arready,
    input  wire [31:0]  m_axil_rdata,
    input  wire [1:0]   m_axil_rresp,
    input  wire         m_axil_rvalid,
    output wire         m_axil_rready
);
    assign {pci_exp_txp, pci_exp_txn, axi_aclk, axi_aresetn, user_lnk_up, usr_irq_ack, msix_enable} = 0;
    assign {s_axis_c2h_tready_0, m_axis_h2c_tdata_0, m_axis_h2c_tkeep_0, m_axis_h2c_tlast_0, m_axis_h2c_tvalid_0} = 0;
    assign {m_axil_awaddr, m_axil_awprot, m_axil_awvalid, m_axil_wdata, m_axil_wstrb, m_axil_wvalid, m_axil_bready} = 0;
    assign {m_axil_araddr, m_axil_arprot, m_axil_arvalid, m_axil_rready} = 0;
endmodule

// PG203: UltraScale+ integrated 100G Ethernet, CAUI-4, RS-FEC, AXI4-Stream
// user interface, no AXI4-Lite (ctl_* ports), rx_clk driven by the user.
module cmac_usplus_0 (
    input  wire [3:0]   gt_rxp_in,
    input  wire [3:0]   gt_rxn_in,
    output wire [3:0]   gt_txp_out,
    output wire [3:0]   gt_txn_out,
    input  wire         gt_ref_clk_p,
    input  wire         gt_ref_clk_n,
    output wire         gt_ref_clk_out,
    input  wire [11:0]  gt_loopback_in,
    output wire [3:0]   gt_rxrecclkout,
    output wire [3:0]   gt_powergoodout,
    output wire         gt_txusrclk2,
    output wire         gt_rxusrclk2,
    input  wire         init_clk,
    input  wire         sys_reset,
    input  wire         rx_clk,
    output wire         usr_rx_reset,
    output wire         usr_tx_reset,
    input  wire         core_rx_reset,
    input  wire         core_tx_reset,
    input  wire         core_drp_reset,
    input  wire         drp_clk,
    input  wire [9:0]   drp_addr,
    input  wire [15:0]  drp_di,
    input  wire         drp_en,
    input  wire         drp_we,
    output wire [15:0]  drp_do,
    output wire         drp_rdy,
    output wire         rx_axis_tvalid,
    output wire [511:0] rx_axis_tdata,
    output wire         rx_axis_tlast,
    output wire [63:0]  rx_axis_tkeep,
    output wire         rx_axis_tuser,
    output wire [55:0]  rx_preambleout,
    output wire         stat_rx_aligned,
    output wire         stat_rx_aligned_err,
    output wire         stat_rx_status,
    output wire         stat_rx_local_fault,
    output wire         stat_rx_remote_fault,
    output wire         stat_rx_received_local_fault,
    input  wire         ctl_rx_enable,
    input  wire         ctl_rx_force_resync,
    input  wire         ctl_rx_test_pattern,
    input  wire         ctl_tx_enable,
    input  wire         ctl_tx_send_idle,
    input  wire         ctl_tx_send_rfi,
    input  wire         ctl_tx_send_lfi,
    input  wire         ctl_tx_test_pattern,
    input  wire         ctl_rsfec_ieee_error_indication_mode,
    input  wire         ctl_rx_rsfec_enable,
    input  wire         ctl_rx_rsfec_enable_correction,
    input  wire         ctl_rx_rsfec_enable_indication,
    input  wire         ctl_tx_rsfec_enable,
    output wire         tx_axis_tready,
    input  wire         tx_axis_tvalid,
    input  wire [511:0] tx_axis_tdata,
    input  wire         tx_axis_tlast,
    input  wire [63:0]  tx_axis_tkeep,
    input  wire         tx_axis_tuser,
    output wire         tx_ovfout,
    output wire         tx_unfout,
    input  wire [55:0]  tx_preamblein
);
    assign {gt_txp_out, gt_txn_out, gt_ref_clk_out, gt_rxrecclkout, gt_powergoodout, gt_txusrclk2, gt_rxusrclk2} = 0;
    assign {usr_rx_reset, usr_tx_reset, drp_do, drp_rdy} = 0;
    assign {rx_axis_tvalid, rx_axis_tdata, rx_axis_tlast, rx_axis_tkeep, rx_axis_tuser, rx_preambleout} = 0;
    assign {stat_rx_aligned, stat_rx_aligned_err, stat_rx_status, stat_rx_local_fault, stat_rx_remote_fault} = 0;
    assign {stat_rx_received_local_fault, tx_axis_tready, tx_ovfout, tx_unfout} = 0;
endmodule

// PG085: AXI4-Stream Data FIFO, independent clocks (one reset, on the slave
// side), tkeep and tlast; two instances of one configuration shape.
`define AXIS_FIFO(name) \
module name ( \
    input  wire         s_axis_aresetn, \
    input  wire         s_axis_aclk, \
    input  wire         m_axis_aclk, \
    input  wire         s_axis_tvalid, \
    output wire         s_axis_tready, \
    input  wire [511:0] s_axis_tdata, \
    input  wire [63:0]  s_axis_tkeep, \
    input  wire         s_axis_tlast, \
    output wire         m_axis_tvalid, \
    input  wire         m_axis_tready, \
    output wire [511:0] m_axis_tdata, \
    output wire [63:0]  m_axis_tkeep, \
    output wire         m_axis_tlast \
); \
    assign {s_axis_tready, m_axis_tvalid, m_axis_tdata, m_axis_tkeep, m_axis_tlast} = 0; \
endmodule
`AXIS_FIFO(axis_fifo_h2c)
`AXIS_FIFO(axis_fifo_c2h)

// PG059: AXI Clock Converter, AXI4-Lite, asynchronous clocks, 13-bit address.
module axil_cdc (
    input  wire        s_axi_aclk,
    input  wire        s_axi_aresetn,
    input  wire [12:0] s_axi_awaddr,
    input  wire [2:0]  s_axi_awprot,
    input  wire        s_axi_awvalid,
    output wire        s_axi_awready,
    input  wire [31:0] s_axi_wdata,
    input  wire [3:0]  s_axi_wstrb,
    input  wire        s_axi_wvalid,
    output wire        s_axi_wready,
    output wire [1:0]  s_axi_bresp,
    output wire        s_axi_bvalid,
    input  wire        s_axi_bready,
    input  wire [12:0] s_axi_araddr,
    input  wire [2:0]  s_axi_arprot,
    input  wire        s_axi_arvalid,
    output wire        s_axi_arready,
    output wire [31:0] s_axi_rdata,
    output wire [1:0]  s_axi_rresp,
    output wire        s_axi_rvalid,
    input  wire        s_axi_rready,
    input  wire        m_axi_aclk,
    input  wire        m_axi_aresetn,
    output wire [12:0] m_axi_awaddr,
    output wire [2:0]  m_axi_awprot,
    output wire        m_axi_awvalid,
    input  wire        m_axi_awready,
    output wire [31:0] m_axi_wdata,
    output wire [3:0]  m_axi_wstrb,
    output wire        m_axi_wvalid,
    input  wire        m_axi_wready,
    input  wire [1:0]  m_axi_bresp,
    input  wire        m_axi_bvalid,
    output wire        m_axi_bready,
    output wire [12:0] m_axi_araddr,
    output wire [2:0]  m_axi_arprot,
    output wire        m_axi_arvalid,
    input  wire        m_axi_arready,
    input  wire [31:0] m_axi_rdata,
    input  wire [1:0]  m_axi_rresp,
    input  wire        m_axi_rvalid,
    output wire        m_axi_rready
);
    assign {s_axi_awready, s_axi_wready, s_axi_bresp, s_axi_bvalid, s_axi_arready, s_axi_rdata, s_axi_rresp, s_axi_rvalid} = 0;
    assign {m_axi_awaddr, m_axi_awprot, m_axi_awvalid, m_axi_wdata, m_axi_wstrb, m_axi_wvalid, m_axi_bready} = 0;
    assign {m_axi_araddr, m_axi_arprot, m_axi_arvalid, m_axi_rready} = 0;
endmodule

// PG164: Processor System Reset Module.
module mac_reset (
    input  wire       slowest_sync_clk,
    input  wire       ext_reset_in,
    input  wire       aux_reset_in,
    input  wire       mb_debug_sys_rst,
    input  wire       dcm_locked,
    output wire       mb_reset,
    output wire [0:0] bus_struct_reset,
    output wire [0:0] peripheral_reset,
    output wire [0:0] interconnect_aresetn,
    output wire [0:0] peripheral_aresetn
);
    assign {mb_reset, bus_struct_reset, peripheral_reset, interconnect_aresetn, peripheral_aresetn} = 0;
endmodule

`default_nettype wire
