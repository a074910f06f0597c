// A C ABI over the Verilated riptide_core, for riptide-verilated's Rust
// side: one call gives the outputs for a set of inputs, one clocks a rising
// edge. The structs mirror `RawInputs` / `RawOutputs` in src/ffi.rs field
// for field.
//
// Speed is the point of this model (the simulator's RTL backend), so it
// evaluates only what can change:
// - the inputs are driven and evaluated with the clock low only when they
//   differ from the last evaluation's, and an edge runs only the clocked
//   (act/NBA) regions, not the input-combinational one: see `edge()`;
// - once the core has *settled* (two edges in a row left every bit of the
//   model outside its memories as it was), an edge with the same inputs is a
//   fixed point and is not evaluated at all: see `settled()`.
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <new>
#include <utility>
#include <vector>

#include "Vriptide_core.h"
#include "Vriptide_core___024root.h"
#include "rc_model.h"
#include "verilated.h"

#ifdef RC_EDGE_WITHOUT_ICO
// The pieces of the generated `eval` that `edge()` calls (build.rs checks
// this Verilator generates them so).
void Vriptide_core___024root___eval_triggers__act(Vriptide_core___024root* vlSelf);
void Vriptide_core___024root___eval_act(Vriptide_core___024root* vlSelf);
void Vriptide_core___024root___eval_nba(Vriptide_core___024root* vlSelf);
#endif

namespace {

constexpr int WORDS = 16;  // 512-bit tdata as 32-bit words, word 0 = bits 31:0

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

}  // extern "C"

namespace {

using Root = Vriptide_core___024root;

// What the model would do with `a` is what it does with `b`: tdata is only
// driven with its tvalid (see `drive`).
bool same_inputs(const rc_inputs& a, const rc_inputs& b) {
    auto same_words = [](const uint32_t* x, const uint32_t* y) {
        return std::memcmp(x, y, WORDS * sizeof(uint32_t)) == 0;
    };
    return a.rst == b.rst && a.net_rx_tvalid == b.net_rx_tvalid &&
           (!a.net_rx_tvalid || same_words(a.net_rx_tdata, b.net_rx_tdata)) &&
           a.net_rx_tkeep == b.net_rx_tkeep && a.net_rx_tlast == b.net_rx_tlast &&
           a.net_rx_tuser == b.net_rx_tuser && a.net_tx_tready == b.net_tx_tready &&
           a.h2c_tvalid == b.h2c_tvalid &&
           (!a.h2c_tvalid || same_words(a.h2c_tdata, b.h2c_tdata)) &&
           a.h2c_tkeep == b.h2c_tkeep && a.h2c_tlast == b.h2c_tlast &&
           a.c2h_tready == b.c2h_tready && a.awaddr == b.awaddr && a.awvalid == b.awvalid &&
           a.wdata == b.wdata && a.wstrb == b.wstrb && a.wvalid == b.wvalid &&
           a.bready == b.bready && a.araddr == b.araddr && a.arvalid == b.arvalid &&
           a.rready == b.rready;
}

// A beat offered or leaving, or a register write, in a cycle. Reads are
// left out: they start nothing (and the host polls by reading).
bool busy(const rc_inputs& in, const rc_outputs& out) {
    return (in.net_rx_tvalid | in.h2c_tvalid | in.awvalid | in.wvalid) != 0 ||
           (out.net_tx_tvalid | out.c2h_tvalid | out.bvalid) != 0;
}

// A byte range of the model's root.
struct Span {
    size_t at;
    size_t len;
};

// The root's bytes outside its memories (`rc_model.h`, listed by the
// build script): inputs, registers, and the combinational values and
// scheduler flags derived from them. A few kilobytes, where the memories
// are tens: comparing these after each edge is cheap.
std::vector<Span> state_spans(const Root& root) {
    const auto base = reinterpret_cast<const unsigned char*>(&root);
    std::vector<Span> memories;
#define RC_MEMORY_SPAN(name)                                                              \
    memories.push_back(                                                                   \
        {static_cast<size_t>(reinterpret_cast<const unsigned char*>(&root.name) - base), \
         sizeof(root.name)});
    RC_MEMORIES(RC_MEMORY_SPAN)
#undef RC_MEMORY_SPAN
    std::vector<Span> spans;
    size_t at = 0;
    while (at < sizeof(Root)) {
        size_t end = sizeof(Root);
        size_t skip_to = end;
        for (const Span& m : memories) {
            if (m.at >= at && m.at < end) {
                end = m.at;
                skip_to = m.at + m.len;
            }
        }
        if (end > at) spans.push_back({at, end - at});
        at = skip_to;
    }
    return spans;
}

struct Core {
    VerilatedContext context;
    Vriptide_core model;
    // Evaluate like plain Verilator usage: clock low, then high, with the
    // whole `eval` each time, and every edge even when settled (a reference
    // for the test that the shortcuts change nothing).
    bool every_edge;
    // The inputs of the last evaluation, and whether there was one: the
    // outputs the model holds are those of `applied` and its state.
    rc_inputs applied{};
    bool evaluated = false;
    // Evaluated with the clock low since the last edge (an edge needs it).
    bool low = false;
    std::vector<Span> spans;
    // The bytes of `spans` after the last edge.
    std::vector<unsigned char> last;
    // Edges in a row that left those bytes unchanged.
    int unchanged = 0;
    // The last edge was busy (`busy`).
    bool was_busy = true;

    explicit Core(bool every_edge)
        : context(), model(&context, "riptide_core"), every_edge(every_edge) {
        spans = state_spans(*model.rootp);
        size_t total = 0;
        for (const Span& s : spans) total += s.len;
        last.resize(total);
    }

    // Two edges in a row with inputs `applied` left the bytes of `spans`
    // unchanged: the registers and the inputs stayed, and so did what the
    // memories are written with (an address, data and enable are
    // registers or functions of them and the inputs; reads are registered),
    // so the second edge at most repeated the first's write. The model,
    // memories included, is then a fixed point of an edge with `applied`.
    bool settled() const { return unchanged >= 2; }

    // Records whether the edge just evaluated changed the bytes of `spans`.
    void compare_state() {
        const auto root = reinterpret_cast<const unsigned char*>(model.rootp);
        bool same = true;
        unsigned char* saved = last.data();
        for (const Span& s : spans) {
            if (same && std::memcmp(saved, root + s.at, s.len) != 0) same = false;
            if (!same) std::memcpy(saved, root + s.at, s.len);
            saved += s.len;
        }
        unchanged = same ? unchanged + 1 : 0;
    }
};

void drive(Vriptide_core& m, const rc_inputs& in) {
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

void sample(const Vriptide_core& m, rc_outputs& out) {
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

// Settles the logic for `in` with the clock low, unless the model already
// holds the outputs for `in` and its state (an edge settles them with the
// same inputs). `for_edge`: an edge follows, which needs the clock seen low.
void settle_low(Core& c, const rc_inputs& in, bool for_edge) {
    const bool current = c.evaluated && same_inputs(in, c.applied);
    if (current && (c.low || !for_edge)) return;
    Vriptide_core& m = c.model;
    m.clk = 0;
    c.low = true;
    if (current && !c.every_edge) {
#ifdef RC_CLK_PREV
        // Nothing to settle: only the clock must be seen low for the edge.
        m.rootp->RC_CLK_PREV = 0;
        return;
#endif
    }
    if (!current) {
        // A fixed point holds for the inputs it was reached with.
        c.unchanged = 0;
    }
    drive(m, in);
    m.eval();
    c.applied = in;
    c.evaluated = true;
}

// The rising edge `settle_low(.., true)` prepared (the logic settled for the
// inputs, the clock seen low) with `clk` now high. Verilator's `eval` first
// runs its input-combinational region in full whatever changed (its first
// iteration is always triggered), which here would recompute exactly the
// values the model holds; only the clocked regions are run, in the loop
// `eval` runs them in. Those end with the logic settled for the new state,
// so the next edge with the same inputs may do the same. The ico region's
// own change detectors are left as they were: the next full `eval` at most
// runs its combinational logic once more, to the same values.
void edge(Core& c) {
#ifdef RC_EDGE_WITHOUT_ICO
    if (!c.every_edge) {
        Root& r = *c.model.rootp;
        // The same bound as the generated loops: a design that does not
        // converge is a bug in it, not a case to simulate.
        constexpr unsigned LIMIT = 100;
        unsigned nba_iterations = 0;
        bool nba = true;
        while (nba) {
            nba = false;
            r.__VnbaTriggered.clear();
            r.__VactIterCount = 0;
            r.__VactContinue = 1;
            while (r.__VactContinue) {
                r.__VactContinue = 0;
                Vriptide_core___024root___eval_triggers__act(&r);
                if (r.__VactTriggered.any()) {
                    r.__VactContinue = 1;
                    if (VL_UNLIKELY(LIMIT < r.__VactIterCount)) {
                        VL_FATAL_MT(__FILE__, __LINE__, "", "Active region did not converge.");
                    }
                    ++r.__VactIterCount;
                    r.__VnbaTriggered.set(r.__VactTriggered);
                    Vriptide_core___024root___eval_act(&r);
                }
            }
            if (r.__VnbaTriggered.any()) {
                nba = true;
                if (VL_UNLIKELY(LIMIT < nba_iterations)) {
                    VL_FATAL_MT(__FILE__, __LINE__, "", "NBA region did not converge.");
                }
                ++nba_iterations;
                Vriptide_core___024root___eval_nba(&r);
            }
        }
        return;
    }
#endif
    c.model.eval();
}

}  // namespace

extern "C" {

// A new model (its own `VerilatedContext`), or null if out of memory.
// `every_edge`: never skip the edges of a settled core.
void* rc_new(uint8_t every_edge) { return new (std::nothrow) Core(every_edge != 0); }

void rc_free(void* core) { delete static_cast<Core*>(core); }

// The outputs for `in` and the current state (the clock held where it is:
// the flip-flops only move on a rising edge).
void rc_eval(void* core, const rc_inputs* in, rc_outputs* out) {
    Core& c = *static_cast<Core*>(core);
    settle_low(c, *in, false);
    sample(c.model, *out);
}

// One cycle: `in` settles with the clock low, then the rising edge samples
// it. `before` gets the outputs the edge saw (the cycle's handshakes).
// Returns whether the core is quiet: settled, with no beat offered or
// leaving and no register write at its last edge, so further idle cycles
// change nothing.
uint8_t rc_tick(void* core, const rc_inputs* in, rc_outputs* before) {
    Core& c = *static_cast<Core*>(core);
    Vriptide_core& m = c.model;
    if (c.settled() && !c.every_edge && c.evaluated && same_inputs(*in, c.applied)) {
        sample(m, *before);
        return !c.was_busy;
    }
    settle_low(c, *in, true);
    sample(m, *before);
    m.clk = 1;
    edge(c);
    c.low = false;
    c.was_busy = busy(*in, *before);
    c.compare_state();
    return c.settled() && !c.was_busy;
}

}  // extern "C"
