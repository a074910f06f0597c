// A C ABI over the Verilated riptide_core, for riptide-verilated's Rust
// side: one call sets every input and evaluates, one clocks a rising edge.
// The structs mirror `RawInputs` / `RawOutputs` in src/ffi.rs field for field.
#include <cstdint>
#include <new>

#include "Vriptide_core.h"
#include "verilated.h"

namespace {

constexpr int WORDS = 16;  // 512-bit tdata as 32-bit words, word 0 = bits 31:0

struct Core {
    VerilatedContext context;
    Vriptide_core model;
    Core() : context(), model(&context, "riptide_core") {}
};

}  // namespace

extern "C" {

struct rc_inputs {
    uint32_t net_rx_tdata[WORDS];
    uint64_t net_rx_tkeep;
    uint32_t h2c_tdata[WORDS];
    uint64_t h2c_tkeep;
    uint32_t awaddr;
    uint32_t wdata;
    uint32_t araddr;
    uint8_t rst;
    uint8_t net_rx_tvalid;
    uint8_t net_rx_tlast;
    uint8_t net_rx_tuser;
    uint8_t net_tx_tready;
    uint8_t h2c_tvalid;
    uint8_t h2c_tlast;
    uint8_t c2h_tready;
    uint8_t awvalid;
    uint8_t wstrb;
    uint8_t wvalid;
    uint8_t bready;
    uint8_t arvalid;
    uint8_t rready;
};

struct rc_outputs {
    uint32_t net_tx_tdata[WORDS];
    uint64_t net_tx_tkeep;
    uint32_t c2h_tdata[WORDS];
    uint64_t c2h_tkeep;
    uint32_t rdata;
    uint8_t net_rx_tready;
    uint8_t net_tx_tvalid;
    uint8_t net_tx_tlast;
    uint8_t h2c_tready;
    uint8_t c2h_tvalid;
    uint8_t c2h_tlast;
    uint8_t awready;
    uint8_t wready;
    uint8_t bvalid;
    uint8_t bresp;
    uint8_t arready;
    uint8_t rvalid;
    uint8_t rresp;
};

void* rc_new() { return new (std::nothrow) Core(); }

void rc_free(void* core) { delete static_cast<Core*>(core); }

static void drive(Vriptide_core& m, const rc_inputs& in) {
    m.rst = in.rst;
    if (in.net_rx_tvalid) {
        for (int i = 0; i < WORDS; ++i) m.net_rx_tdata[i] = in.net_rx_tdata[i];
    }
    m.net_rx_tkeep = in.net_rx_tkeep;
    m.net_rx_tvalid = in.net_rx_tvalid;
    m.net_rx_tlast = in.net_rx_tlast;
    m.net_rx_tuser = in.net_rx_tuser;
    m.net_tx_tready = in.net_tx_tready;
    if (in.h2c_tvalid) {
        for (int i = 0; i < WORDS; ++i) m.h2c_tdata[i] = in.h2c_tdata[i];
    }
    m.h2c_tkeep = in.h2c_tkeep;
    m.h2c_tvalid = in.h2c_tvalid;
    m.h2c_tlast = in.h2c_tlast;
    m.c2h_tready = in.c2h_tready;
    m.s_axil_awaddr = in.awaddr;
    m.s_axil_awvalid = in.awvalid;
    m.s_axil_wdata = in.wdata;
    m.s_axil_wstrb = in.wstrb;
    m.s_axil_wvalid = in.wvalid;
    m.s_axil_bready = in.bready;
    m.s_axil_araddr = in.araddr;
    m.s_axil_arvalid = in.arvalid;
    m.s_axil_rready = in.rready;
}

static void sample(const Vriptide_core& m, rc_outputs& out) {
    out.net_rx_tready = m.net_rx_tready;
    out.net_tx_tvalid = m.net_tx_tvalid;
    if (m.net_tx_tvalid) {
        for (int i = 0; i < WORDS; ++i) out.net_tx_tdata[i] = m.net_tx_tdata[i];
        out.net_tx_tkeep = m.net_tx_tkeep;
        out.net_tx_tlast = m.net_tx_tlast;
    }
    out.h2c_tready = m.h2c_tready;
    out.c2h_tvalid = m.c2h_tvalid;
    if (m.c2h_tvalid) {
        for (int i = 0; i < WORDS; ++i) out.c2h_tdata[i] = m.c2h_tdata[i];
        out.c2h_tkeep = m.c2h_tkeep;
        out.c2h_tlast = m.c2h_tlast;
    }
    out.awready = m.s_axil_awready;
    out.wready = m.s_axil_wready;
    out.bvalid = m.s_axil_bvalid;
    out.bresp = m.s_axil_bresp;
    out.arready = m.s_axil_arready;
    out.rvalid = m.s_axil_rvalid;
    out.rdata = m.s_axil_rdata;
    out.rresp = m.s_axil_rresp;
}

// The outputs for `in` and the current state (the clock held where it is:
// the flip-flops only move on a rising edge).
void rc_eval(void* core, const rc_inputs* in, rc_outputs* out) {
    Vriptide_core& m = static_cast<Core*>(core)->model;
    drive(m, *in);
    m.eval();
    sample(m, *out);
}

// One cycle: `in` settles with the clock low, then the rising edge samples
// it. `before` gets the outputs the edge saw (the cycle's handshakes).
void rc_tick(void* core, const rc_inputs* in, rc_outputs* before) {
    Vriptide_core& m = static_cast<Core*>(core)->model;
    drive(m, *in);
    m.clk = 0;
    m.eval();
    sample(m, *before);
    m.clk = 1;
    m.eval();
}

}  // extern "C"
