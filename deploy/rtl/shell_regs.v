// shell_regs: splits the AXI4-Lite bus from the PCIe BAR between riptide_core
// (offsets below 2^SHELL_BIT) and the shell's own read-only registers (at
// 2^SHELL_BIT and up; word 0 is the MAC's link status). Part of riptide's
// Alveo shell (riptide-deploy); the offset comes from riptide_deploy::shell.
//
// One transaction per direction at a time: register accesses are rare and
// slow, and serialising them keeps responses in order without tracking IDs.
`default_nettype none
module shell_regs #(
    parameter integer SHELL_BIT = 12
) (
    input  wire                 clk,
    input  wire                 rst,
    input  wire [31:0]          link_status,
    input  wire [SHELL_BIT:0]   s_awaddr,
    input  wire                 s_awvalid,
    output wire                 s_awready,
    input  wire [31:0]          s_wdata,
    input  wire [3:0]           s_wstrb,
    input  wire                 s_wvalid,
    output wire                 s_wready,
    output reg  [1:0]           s_bresp,
    output wire                 s_bvalid,
    input  wire                 s_bready,
    input  wire [SHELL_BIT:0]   s_araddr,
    input  wire                 s_arvalid,
    output wire                 s_arready,
    output reg  [31:0]          s_rdata,
    output reg  [1:0]           s_rresp,
    output wire                 s_rvalid,
    input  wire                 s_rready,
    output reg  [SHELL_BIT-1:0] m_awaddr,
    output reg                  m_awvalid,
    input  wire                 m_awready,
    output reg  [31:0]          m_wdata,
    output reg  [3:0]           m_wstrb,
    output reg                  m_wvalid,
    input  wire                 m_wready,
    input  wire [1:0]           m_bresp,
    input  wire                 m_bvalid,
    output wire                 m_bready,
    output reg  [SHELL_BIT-1:0] m_araddr,
    output reg                  m_arvalid,
    input  wire                 m_arready,
    input  wire [31:0]          m_rdata,
    input  wire [1:0]           m_rresp,
    input  wire                 m_rvalid,
    output wire                 m_rready
);
    localparam [1:0] SLVERR = 2'b10, OKAY = 2'b00;
    localparam [2:0] W_ADDR = 3'd0, W_DATA = 3'd1, W_CORE = 3'd2, W_CORE_B = 3'd3, W_RESP = 3'd4;
    localparam [1:0] R_ADDR = 2'd0, R_CORE = 2'd1, R_CORE_R = 2'd2, R_RESP = 2'd3;

    reg [2:0] wstate;
    reg       wlocal;
    assign s_awready = wstate == W_ADDR;
    assign s_wready  = wstate == W_DATA;
    assign s_bvalid  = wstate == W_RESP;
    assign m_bready  = wstate == W_CORE_B;

    always @(posedge clk) begin
        if (rst) begin
            wstate    <= W_ADDR;
            m_awvalid <= 1'b0;
            m_wvalid  <= 1'b0;
        end else begin
            case (wstate)
                W_ADDR: if (s_awvalid) begin
                    wlocal   <= s_awaddr[SHELL_BIT];
                    m_awaddr <= s_awaddr[SHELL_BIT-1:0];
                    wstate   <= W_DATA;
                end
                W_DATA: if (s_wvalid) begin
                    m_wdata <= s_wdata;
                    m_wstrb <= s_wstrb;
                    if (wlocal) begin
                        // The shell's registers are read-only.
                        s_bresp <= SLVERR;
                        wstate  <= W_RESP;
                    end else begin
                        m_awvalid <= 1'b1;
                        m_wvalid  <= 1'b1;
                        wstate    <= W_CORE;
                    end
                end
                W_CORE: begin
                    if (m_awready) m_awvalid <= 1'b0;
                    if (m_wready) m_wvalid <= 1'b0;
                    if ((m_awready || !m_awvalid) && (m_wready || !m_wvalid)) begin
                        wstate <= W_CORE_B;
                    end
                end
                W_CORE_B: if (m_bvalid) begin
                    s_bresp <= m_bresp;
                    wstate  <= W_RESP;
                end
                default: if (s_bready) wstate <= W_ADDR;
            endcase
        end
    end

    reg [1:0] rstate;
    assign s_arready = rstate == R_ADDR;
    assign s_rvalid  = rstate == R_RESP;
    assign m_rready  = rstate == R_CORE_R;

    always @(posedge clk) begin
        if (rst) begin
            rstate    <= R_ADDR;
            m_arvalid <= 1'b0;
        end else begin
            case (rstate)
                R_ADDR: if (s_arvalid) begin
                    m_araddr <= s_araddr[SHELL_BIT-1:0];
                    if (s_araddr[SHELL_BIT]) begin
                        s_rdata <= s_araddr[SHELL_BIT-1:2] == 0 ? link_status : 32'd0;
                        s_rresp <= OKAY;
                        rstate  <= R_RESP;
                    end else begin
                        m_arvalid <= 1'b1;
                        rstate    <= R_CORE;
                    end
                end
                R_CORE: if (m_arready) begin
                    m_arvalid <= 1'b0;
                    rstate    <= R_CORE_R;
                end
                R_CORE_R: if (m_rvalid) begin
                    s_rdata <= m_rdata;
                    s_rresp <= m_rresp;
                    rstate  <= R_RESP;
                end
                default: if (s_rready) rstate <= R_ADDR;
            endcase
        end
    end
endmodule
`default_nettype wire
