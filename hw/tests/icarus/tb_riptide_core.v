// Testbench for riptide_core.v under Icarus Verilog (hw/tests/icarus.rs).
//
// It runs a program that the Rust test writes, so that frames, records and
// register values have one source (the wire crate and the behavioural model):
//   prog.hex  one operation per line, 128 bits: [127:96] opcode, [95:64] a,
//             [63:32] b, [31:0] c
//   rx.hex    network beats, h2c.hex host-to-card beats, one per line, 580 bits:
//             [577] tuser (net_rx only: bad FCS), [576] tlast,
//             [575:512] tkeep, [511:0] tdata
// and prints what leaves the core, one line per beat or register read:
//   T <tlast> <tkeep> <tdata>     a beat accepted on net_tx
//   C <tlast> <tkeep> <tdata>     a beat accepted on c2h
//   R <address> <data>            an AXI4-Lite read
//   P <cycle>                     progress, flushed, so that a run killed for
//                                 stalling shows how far simulated time got
//   END <cycle>                   the program ran to its end
// Inputs change on the falling edge and are sampled by the core on the
// rising edge; the handshakes are judged between the two, when the core's
// combinational outputs have settled.
`timescale 1ns / 1ps

module tb;
    parameter PROG_DEPTH = 1;
    parameter RX_DEPTH = 1;
    parameter H2C_DEPTH = 1;
    // Cycles after which the run counts as hung although simulated time moves.
    parameter MAX_CYCLES = 1000000;

    localparam OP_END = 0;
    localparam OP_WRITE = 1;   // AXI4-Lite write: a = address, b = data
    localparam OP_RX = 2;      // net_rx beats a .. b-1, one per cycle
    localparam OP_H2C = 3;     // h2c beats a .. b-1, as fast as tready allows
    localparam OP_IDLE = 4;    // a idle cycles
    localparam OP_READ = 5;    // AXI4-Lite read of address a, printed
    localparam OP_QUIET = 6;   // wait until net_tx and c2h were idle a cycles

    reg clk = 1'b0;
    reg rst = 1'b1;
    always #2 clk = ~clk;

    reg [127:0] prog [0:PROG_DEPTH-1];
    reg [579:0] rx_mem [0:RX_DEPTH-1];
    reg [579:0] h2c_mem [0:H2C_DEPTH-1];
    initial begin
        $readmemh("prog.hex", prog);
        $readmemh("rx.hex", rx_mem);
        $readmemh("h2c.hex", h2c_mem);
    end

    reg [511:0] net_rx_tdata = 0;
    reg [63:0] net_rx_tkeep = 0;
    reg net_rx_tvalid = 1'b0;
    reg net_rx_tlast = 1'b0;
    reg net_rx_tuser = 1'b0;
    wire net_rx_tready;
    wire [511:0] net_tx_tdata;
    wire [63:0] net_tx_tkeep;
    wire net_tx_tvalid;
    wire net_tx_tlast;
    reg net_tx_tready = 1'b1;
    reg [511:0] h2c_tdata = 0;
    reg [63:0] h2c_tkeep = 0;
    reg h2c_tvalid = 1'b0;
    reg h2c_tlast = 1'b0;
    wire h2c_tready;
    wire [511:0] c2h_tdata;
    wire [63:0] c2h_tkeep;
    wire c2h_tvalid;
    wire c2h_tlast;
    reg c2h_tready = 1'b1;
    reg [11:0] s_axil_awaddr = 0;
    reg s_axil_awvalid = 1'b0;
    wire s_axil_awready;
    reg [31:0] s_axil_wdata = 0;
    reg [3:0] s_axil_wstrb = 4'hF;
    reg s_axil_wvalid = 1'b0;
    wire s_axil_wready;
    wire [1:0] s_axil_bresp;
    wire s_axil_bvalid;
    reg s_axil_bready = 1'b0;
    reg [11:0] s_axil_araddr = 0;
    reg s_axil_arvalid = 1'b0;
    wire s_axil_arready;
    wire [31:0] s_axil_rdata;
    wire [1:0] s_axil_rresp;
    wire s_axil_rvalid;
    reg s_axil_rready = 1'b0;

    riptide_core dut (
        .clk(clk), .rst(rst),
        .net_rx_tdata(net_rx_tdata), .net_rx_tkeep(net_rx_tkeep),
        .net_rx_tvalid(net_rx_tvalid), .net_rx_tready(net_rx_tready),
        .net_rx_tlast(net_rx_tlast), .net_rx_tuser(net_rx_tuser),
        .net_tx_tdata(net_tx_tdata), .net_tx_tkeep(net_tx_tkeep),
        .net_tx_tvalid(net_tx_tvalid), .net_tx_tready(net_tx_tready),
        .net_tx_tlast(net_tx_tlast),
        .h2c_tdata(h2c_tdata), .h2c_tkeep(h2c_tkeep), .h2c_tvalid(h2c_tvalid),
        .h2c_tready(h2c_tready), .h2c_tlast(h2c_tlast),
        .c2h_tdata(c2h_tdata), .c2h_tkeep(c2h_tkeep), .c2h_tvalid(c2h_tvalid),
        .c2h_tready(c2h_tready), .c2h_tlast(c2h_tlast),
        .s_axil_awaddr(s_axil_awaddr), .s_axil_awvalid(s_axil_awvalid),
        .s_axil_awready(s_axil_awready),
        .s_axil_wdata(s_axil_wdata), .s_axil_wstrb(s_axil_wstrb),
        .s_axil_wvalid(s_axil_wvalid), .s_axil_wready(s_axil_wready),
        .s_axil_bresp(s_axil_bresp), .s_axil_bvalid(s_axil_bvalid),
        .s_axil_bready(s_axil_bready),
        .s_axil_araddr(s_axil_araddr), .s_axil_arvalid(s_axil_arvalid),
        .s_axil_arready(s_axil_arready),
        .s_axil_rdata(s_axil_rdata), .s_axil_rresp(s_axil_rresp),
        .s_axil_rvalid(s_axil_rvalid), .s_axil_rready(s_axil_rready)
    );

    integer cycle = 0;
    integer quiet = 0;
    always @(posedge clk) begin
        cycle <= cycle + 1;
        if (net_tx_tvalid || c2h_tvalid) quiet <= 0;
        else quiet <= quiet + 1;
        if (!rst && net_tx_tvalid && net_tx_tready)
            $display("T %0d %h %h", net_tx_tlast, net_tx_tkeep, net_tx_tdata);
        if (!rst && c2h_tvalid && c2h_tready)
            $display("C %0d %h %h", c2h_tlast, c2h_tkeep, c2h_tdata);
        if (cycle % 100 == 0) begin
            $display("P %0d", cycle);
            $fflush;
        end
        if (cycle >= MAX_CYCLES) begin
            $display("HUNG the program did not end in %0d cycles", MAX_CYCLES);
            $fflush;
            $finish;
        end
    end

    task axil_write(input [31:0] address, input [31:0] data);
        integer waited;
        begin
            @(negedge clk);
            s_axil_awaddr = address[11:0];
            s_axil_wdata = data;
            s_axil_awvalid = 1'b1;
            s_axil_wvalid = 1'b1;
            s_axil_bready = 1'b1;
            waited = 0;
            #1;
            while (!(s_axil_awready && s_axil_wready)) begin
                @(negedge clk);
                #1;
                waited = waited + 1;
                if (waited > 16) begin
                    $display("HUNG write to %h not taken", address);
                    $finish;
                end
            end
            @(negedge clk);
            s_axil_awvalid = 1'b0;
            s_axil_wvalid = 1'b0;
            #1;
            while (!s_axil_bvalid) begin
                @(negedge clk);
                #1;
            end
            @(negedge clk);
            s_axil_bready = 1'b0;
        end
    endtask

    task axil_read(input [31:0] address);
        begin
            @(negedge clk);
            s_axil_araddr = address[11:0];
            s_axil_arvalid = 1'b1;
            s_axil_rready = 1'b1;
            #1;
            while (!s_axil_arready) begin
                @(negedge clk);
                #1;
            end
            @(negedge clk);
            s_axil_arvalid = 1'b0;
            #1;
            while (!s_axil_rvalid) begin
                @(negedge clk);
                #1;
            end
            $display("R %h %h", address, s_axil_rdata);
            @(negedge clk);
            s_axil_rready = 1'b0;
        end
    endtask

    integer pc;
    integer i;
    reg [127:0] op;
    reg [31:0] a, b;
    reg running;
    initial begin
        repeat (3) @(negedge clk);
        rst = 1'b0;
        pc = 0;
        running = 1'b1;
        while (running) begin
            op = prog[pc];
            pc = pc + 1;
            a = op[95:64];
            b = op[63:32];
            case (op[127:96])
                OP_WRITE: axil_write(a, b);
                OP_READ: axil_read(a);
                OP_RX: begin
                    for (i = a; i < b; i = i + 1) begin
                        @(negedge clk);
                        net_rx_tdata = rx_mem[i][511:0];
                        net_rx_tkeep = rx_mem[i][575:512];
                        net_rx_tlast = rx_mem[i][576];
                        net_rx_tuser = rx_mem[i][577];
                        net_rx_tvalid = 1'b1;
                    end
                    @(negedge clk);
                    net_rx_tvalid = 1'b0;
                    net_rx_tuser = 1'b0;
                end
                OP_H2C: begin
                    i = a;
                    while (i < b) begin
                        @(negedge clk);
                        h2c_tdata = h2c_mem[i][511:0];
                        h2c_tkeep = h2c_mem[i][575:512];
                        h2c_tlast = h2c_mem[i][576];
                        h2c_tvalid = 1'b1;
                        #1;
                        if (h2c_tready) i = i + 1;
                    end
                    @(negedge clk);
                    h2c_tvalid = 1'b0;
                end
                OP_IDLE: repeat (a) @(negedge clk);
                OP_QUIET: begin
                    @(negedge clk);
                    while (quiet < a) @(negedge clk);
                end
                OP_END: running = 1'b0;
                default: begin
                    $display("HUNG unknown operation %h at %0d", op, pc - 1);
                    $finish;
                end
            endcase
        end
        $display("END %0d", cycle);
        $fflush;
        $finish;
    end
endmodule
