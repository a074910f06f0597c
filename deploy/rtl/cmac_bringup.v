// cmac_bringup: brings the integrated 100G MAC's link up and keeps a
// link-status word. Part of riptide's Alveo shell (riptide-deploy).
//
// After the TX path leaves reset the MAC sends Remote Fault Indication and no
// data until its receiver is aligned (PG203's bring-up order: a partner must
// not see frames from a MAC that cannot hear it); once aligned it enables TX.
// Losing alignment goes back to RFI and counts a flap. The core is not reset
// by any of this: its reset comes from PCIe and the MAC's TX clock only.
`default_nettype none
module cmac_bringup (
    input  wire        clk,             // gt_txusrclk2, also the MAC's rx_clk
    input  wire        rst,             // usr_tx_reset, synchronous to clk
    input  wire        stat_rx_aligned,
    output wire        ctl_rx_enable,
    output reg         ctl_tx_enable,
    output reg         ctl_tx_send_rfi,
    // [0] link up, [2:1] state, [31:16] flaps since reset (saturating)
    output wire [31:0] link_status
);
    localparam [1:0] RESET = 2'd0, WAIT_ALIGNED = 2'd1, UP = 2'd2;

    reg [1:0]  state;
    reg        aligned;
    reg [15:0] flaps;

    assign ctl_rx_enable = 1'b1;
    assign link_status = {flaps, 13'd0, state, state == UP};

    always @(posedge clk) begin
        aligned <= stat_rx_aligned;
        if (rst) begin
            state           <= RESET;
            ctl_tx_enable   <= 1'b0;
            ctl_tx_send_rfi <= 1'b1;
            flaps           <= 16'd0;
        end else begin
            case (state)
                RESET: begin
                    state <= WAIT_ALIGNED;
                end
                WAIT_ALIGNED: begin
                    ctl_tx_enable   <= 1'b0;
                    ctl_tx_send_rfi <= 1'b1;
                    if (aligned) begin
                        state <= UP;
                    end
                end
                UP: begin
                    ctl_tx_enable   <= 1'b1;
                    ctl_tx_send_rfi <= 1'b0;
                    if (!aligned) begin
                        state <= WAIT_ALIGNED;
                        if (flaps != 16'hFFFF) begin
                            flaps <= flaps + 16'd1;
                        end
                    end
                end
                default: state <= RESET;
            endcase
        end
    end
endmodule
`default_nettype wire
