//! Receive parser: validates a riptide frame as it streams in on 512-bit
//! AXI4-Stream beats and extracts the header fields the fast path needs.
//!
//! Every check the behavioural model (`riptide_driver::model`) makes on a
//! frame is done here, in the same order (`decode_frame`, then the riptide
//! header: version, type, group, payload length, unused fields), so
//! the first failure names the same drop counter. Bodies are not parsed. The riptide
//! header ends at byte 74: beat 0 holds everything up to the slot's first six
//! bytes, beat 1 the rest of the slot and the commit index. Lengths are only
//! known at `tlast`, so the verdict comes one cycle after the last beat,
//! together with that beat's write into the frame store (the parser delays
//! the data by one register so a rejected frame can be rolled back before the
//! next frame's first beat is written).
//!
//! The sender's `LIFE` is compared with its entry of the lives table here, on
//! the last beat, so the fast path's decision reads a registered bit (the
//! 8-bit subtract and compare stay off its path).
//!
//! `rx_tready` is not an input: the parser never stalls (a MAC cannot wait).

use crate::beat::{Data, Keep, counter_code};
use crate::swap::Swap64;
use crate::tap::HeaderTap;
use riptide_wire::layout::{self, eth, header, ipv4, udp};
use riptide_wire::message::MsgType;
use riptide_wire::regs::Counter;
use rust_hdl::prelude::*;

/// Width of the verdict code: a [`Counter`] index (`RxFrames` = accepted).
pub type Reason = Bits<6>;

// The literal widths below are these fields' widths; the slot straddles the
// first beat boundary with six bytes in beat 0.
const SLOT_AT: usize = layout::RIPTIDE_OFFSET + header::SLOT.offset;
const COMMIT_AT: usize = layout::RIPTIDE_OFFSET + header::COMMIT.offset;
const _: () = {
    assert!(eth::ETHERTYPE.width == 2 && ipv4::TOTAL_LEN.width == 2);
    assert!(ipv4::FLAGS_FRAG.width == 2 && udp::LENGTH.width == 2);
    assert!(udp::DST_PORT.width == 2 && header::GROUP.width == 2);
    assert!(header::PAYLOAD_LEN.width == 2 && header::BALLOT.width == 8);
    assert!(ipv4::VERSION_IHL.width == 1 && ipv4::PROTOCOL.width == 1);
    assert!(header::VERSION.width == 1 && header::MSG_TYPE.width == 1);
    assert!(header::SENDER.width == 1 && header::LIFE.width == 1);
    assert!(layout::IPV4_LEN == 20, "the checksum adds ten 16-bit words");
    assert!(SLOT_AT + 6 == 64 && header::SLOT.width == 8);
    assert!(COMMIT_AT == 66 && header::COMMIT.width == 8);
    assert!(layout::RIPTIDE_OFFSET + header::BALLOT.end() <= 64);
};

/// Number of message types the wire knows.
pub const TYPES: usize = MsgType::ALL.len();

#[derive(LogicBlock)]
pub struct RxParser {
    pub clock: Signal<In, Clock>,
    pub rst: Signal<In, Bit>,
    pub rx_tdata: Signal<In, Data>,
    pub rx_tkeep: Signal<In, Keep>,
    pub rx_tvalid: Signal<In, Bit>,
    pub rx_tlast: Signal<In, Bit>,
    /// This replica's group id and UDP port (configuration).
    pub group: Signal<In, Bits<16>>,
    pub port: Signal<In, Bits<16>>,
    /// The lives table (byte `i`: replica `i`) as the verdict's cycle will
    /// see it (`RegFile::lives_next`).
    pub lives: Signal<In, Bits<64>>,
    /// The incoming beat, one cycle later, for the frame store.
    pub wr_valid: Signal<Out, Bit>,
    pub wr_data: Signal<Out, Data>,
    /// One cycle after `tlast`, with the last `wr_valid`: the frame's verdict.
    pub done: Signal<Out, Bit>,
    pub reason: Signal<Out, Reason>,
    pub msg_type: Signal<Out, Bits<8>>,
    pub sender: Signal<Out, Bits<8>>,
    /// The frame's `LIFE` is older than the table's entry for the sender's low three
    /// bits (`riptide_wire::life::is_older`); meaningful for a frame that
    /// passed validation and comes from a replica of the table.
    pub old_life: Signal<Out, Bit>,
    pub ballot: Signal<Out, Bits<64>>,
    pub slot: Signal<Out, Bits<64>>,
    pub commit: Signal<Out, Bits<64>>,
    pub payload_len: Signal<Out, Bits<16>>,
    pub frame_len: Signal<Out, Bits<17>>,

    // Expected values, in bus byte order where the field is wider than a byte.
    ethertype_ipv4: Constant<Bits<16>>,
    version_ihl: Constant<Bits<8>>,
    fragment_bits: Constant<Bits<16>>,
    proto_udp: Constant<Bits<8>>,
    riptide_version: Constant<Bits<8>>,
    /// Lengths of the headers around the payload.
    eth_len: Constant<Bits<17>>,
    ip_len: Constant<Bits<16>>,
    ip_udp_len: Constant<Bits<16>>,
    all_headers_len: Constant<Bits<16>>,
    min_frame: Constant<Bits<17>>,
    // Message types and which of ballot/slot/commit (bits 0/1/2) each uses.
    type_code: [Constant<Bits<8>>; TYPES],
    type_uses: [Constant<Bits<3>>; TYPES],
    // Verdict codes.
    ok: Constant<Reason>,
    r_keep: Constant<Reason>,
    r_short: Constant<Reason>,
    r_not_ipv4: Constant<Reason>,
    r_ip_version: Constant<Reason>,
    r_ip_checksum: Constant<Reason>,
    r_fragmented: Constant<Reason>,
    r_not_udp: Constant<Reason>,
    r_ip_length: Constant<Reason>,
    r_udp_length: Constant<Reason>,
    r_wrong_port: Constant<Reason>,
    r_version: Constant<Reason>,
    r_unknown_type: Constant<Reason>,
    r_wrong_group: Constant<Reason>,
    r_payload_len: Constant<Reason>,
    r_unused: Constant<Reason>,

    tap: HeaderTap,
    total_len_swap: Swap64,
    udp_len_swap: Swap64,
    payload_len_swap: Swap64,
    group_swap: Swap64,
    ballot_swap: Swap64,
    slot_swap: Swap64,
    commit_swap: Swap64,

    // Per-beat combinational results.
    first: Signal<Local, Bit>,
    checksum_sum: Signal<Local, Bits<20>>,
    checksum_fold: Signal<Local, Bits<20>>,
    checksum_ok: Signal<Local, Bit>,
    ip_reason_now: Signal<Local, Reason>,
    udp_reason_now: Signal<Local, Reason>,
    uses_now: Signal<Local, Bits<3>>,
    known_now: Signal<Local, Bit>,
    total_len_now: Signal<Local, Bits<16>>,
    p32: Signal<Local, Bits<7>>,
    p16: Signal<Local, Bits<7>>,
    p8: Signal<Local, Bits<7>>,
    p4: Signal<Local, Bits<7>>,
    p2: Signal<Local, Bits<7>>,
    p1: Signal<Local, Bits<7>>,
    last_bytes: Signal<Local, Bits<7>>,
    keep_contiguous: Signal<Local, Bit>,
    len_now: Signal<Local, Bits<17>>,
    ip_reason_eff: Signal<Local, Reason>,
    udp_reason_eff: Signal<Local, Reason>,
    total_len_eff: Signal<Local, Bits<16>>,
    slot_wire: Signal<Local, Bits<64>>,
    commit_wire: Signal<Local, Bits<64>>,
    unused_nonzero: Signal<Local, Bit>,
    verdict: Signal<Local, Reason>,
    table_life: Signal<Local, Bits<8>>,
    life_ahead: Signal<Local, Bits<8>>,

    // Frame state, captured on beat 0 (and beat 1 for slot and commit).
    beat_no: DFF<Bits<9>>,
    keep_bad: DFF<Bit>,
    ip_reason: DFF<Reason>,
    udp_reason: DFF<Reason>,
    total_len: DFF<Bits<16>>,
    uses: DFF<Bits<3>>,
    type_reg: DFF<Bits<8>>,
    sender_reg: DFF<Bits<8>>,
    life_reg: DFF<Bits<8>>,
    payload_len_reg: DFF<Bits<16>>,
    ballot_wire: DFF<Bits<64>>,
    slot_hi: DFF<Bits<48>>,
    slot_lo: DFF<Bits<16>>,
    commit_reg: DFF<Bits<64>>,
    // Outputs.
    out_valid: DFF<Bit>,
    out_data: DFF<Data>,
    out_done: DFF<Bit>,
    out_reason: DFF<Reason>,
    out_type: DFF<Bits<8>>,
    out_sender: DFF<Bits<8>>,
    out_old_life: DFF<Bit>,
    out_ballot_wire: DFF<Bits<64>>,
    out_slot_wire: DFF<Bits<64>>,
    out_commit_wire: DFF<Bits<64>>,
    out_payload_len: DFF<Bits<16>>,
    out_frame_len: DFF<Bits<17>>,
}

fn wire16(value: u16) -> Constant<Bits<16>> {
    Constant::new(u64::from(value.swap_bytes()).into())
}

fn type_uses(t: MsgType) -> u64 {
    let fields = t.header_fields();
    [header::BALLOT, header::SLOT, header::COMMIT]
        .iter()
        .enumerate()
        .filter(|(_, f)| fields.contains(f))
        .map(|(i, _)| 1 << i)
        .sum()
}

impl Default for RxParser {
    fn default() -> Self {
        let r = |c: Counter| Constant::new(counter_code(c));
        Self {
            clock: Default::default(),
            rst: Default::default(),
            rx_tdata: Default::default(),
            rx_tkeep: Default::default(),
            rx_tvalid: Default::default(),
            rx_tlast: Default::default(),
            group: Default::default(),
            port: Default::default(),
            lives: Default::default(),
            wr_valid: Default::default(),
            wr_data: Default::default(),
            done: Default::default(),
            reason: Default::default(),
            msg_type: Default::default(),
            sender: Default::default(),
            old_life: Default::default(),
            ballot: Default::default(),
            slot: Default::default(),
            commit: Default::default(),
            payload_len: Default::default(),
            frame_len: Default::default(),
            ethertype_ipv4: wire16(layout::ETHERTYPE_IPV4),
            version_ihl: Constant::new(u64::from(layout::IPV4_VERSION_IHL).into()),
            fragment_bits: wire16(layout::IPV4_FRAGMENT_BITS),
            proto_udp: Constant::new(u64::from(layout::IP_PROTO_UDP).into()),
            riptide_version: Constant::new(u64::from(layout::VERSION).into()),
            eth_len: Constant::new((layout::ETH_LEN as u64).into()),
            ip_len: Constant::new((layout::IPV4_LEN as u64).into()),
            ip_udp_len: Constant::new(((layout::IPV4_LEN + layout::UDP_LEN) as u64).into()),
            all_headers_len: Constant::new(
                ((layout::IPV4_LEN + layout::UDP_LEN + layout::RIPTIDE_HEADER_LEN) as u64).into(),
            ),
            min_frame: Constant::new((layout::RIPTIDE_OFFSET as u64).into()),
            type_code: MsgType::ALL.map(|t| Constant::new(u64::from(t.code()).into())),
            type_uses: MsgType::ALL.map(|t| Constant::new(type_uses(t).into())),
            ok: r(Counter::RxFrames),
            r_keep: r(Counter::DropKeep),
            r_short: r(Counter::DropShort),
            r_not_ipv4: r(Counter::DropNotIpv4),
            r_ip_version: r(Counter::DropBadIpVersionIhl),
            r_ip_checksum: r(Counter::DropBadIpChecksum),
            r_fragmented: r(Counter::DropFragmented),
            r_not_udp: r(Counter::DropNotUdp),
            r_ip_length: r(Counter::DropBadIpLength),
            r_udp_length: r(Counter::DropBadUdpLength),
            r_wrong_port: r(Counter::DropWrongPort),
            r_version: r(Counter::DropBadVersion),
            r_unknown_type: r(Counter::DropUnknownType),
            r_wrong_group: r(Counter::DropWrongGroup),
            r_payload_len: r(Counter::DropPayloadLenMismatch),
            r_unused: r(Counter::DropUnusedNonZero),
            tap: Default::default(),
            total_len_swap: Default::default(),
            udp_len_swap: Default::default(),
            payload_len_swap: Default::default(),
            group_swap: Default::default(),
            ballot_swap: Default::default(),
            slot_swap: Default::default(),
            commit_swap: Default::default(),
            first: Default::default(),
            checksum_sum: Default::default(),
            checksum_fold: Default::default(),
            checksum_ok: Default::default(),
            ip_reason_now: Default::default(),
            udp_reason_now: Default::default(),
            uses_now: Default::default(),
            known_now: Default::default(),
            total_len_now: Default::default(),
            p32: Default::default(),
            p16: Default::default(),
            p8: Default::default(),
            p4: Default::default(),
            p2: Default::default(),
            p1: Default::default(),
            last_bytes: Default::default(),
            keep_contiguous: Default::default(),
            len_now: Default::default(),
            ip_reason_eff: Default::default(),
            udp_reason_eff: Default::default(),
            total_len_eff: Default::default(),
            slot_wire: Default::default(),
            commit_wire: Default::default(),
            unused_nonzero: Default::default(),
            verdict: Default::default(),
            table_life: Default::default(),
            life_ahead: Default::default(),
            beat_no: Default::default(),
            keep_bad: Default::default(),
            ip_reason: Default::default(),
            udp_reason: Default::default(),
            total_len: Default::default(),
            uses: Default::default(),
            type_reg: Default::default(),
            sender_reg: Default::default(),
            life_reg: Default::default(),
            payload_len_reg: Default::default(),
            ballot_wire: Default::default(),
            slot_hi: Default::default(),
            slot_lo: Default::default(),
            commit_reg: Default::default(),
            out_valid: Default::default(),
            out_data: Default::default(),
            out_done: Default::default(),
            out_reason: Default::default(),
            out_type: Default::default(),
            out_sender: Default::default(),
            out_old_life: Default::default(),
            out_ballot_wire: Default::default(),
            out_slot_wire: Default::default(),
            out_commit_wire: Default::default(),
            out_payload_len: Default::default(),
            out_frame_len: Default::default(),
        }
    }
}

impl RxParser {
    /// Simulation view: a beat or a verdict still to leave the parser.
    pub fn in_flight(&self) -> bool {
        self.out_valid.q.val() || self.out_done.q.val()
    }
}

impl Logic for RxParser {
    #[hdl_gen]
    fn update(&mut self) {
        dff_setup!(
            self,
            clock,
            beat_no,
            keep_bad,
            ip_reason,
            udp_reason,
            total_len,
            uses,
            type_reg,
            sender_reg,
            life_reg,
            payload_len_reg,
            ballot_wire,
            slot_hi,
            slot_lo,
            commit_reg,
            out_valid,
            out_data,
            out_done,
            out_reason,
            out_type,
            out_sender,
            out_old_life,
            out_ballot_wire,
            out_slot_wire,
            out_commit_wire,
            out_payload_len,
            out_frame_len
        );
        self.first.next = self.beat_no.q.val() == 0;
        self.tap.beat.next = self.rx_tdata.val();

        // Beat-0 checks, computed on every beat and kept from the first one.
        self.total_len_swap.word.next = bit_cast::<64, 16>(self.tap.total_len.val());
        self.total_len_now.next = self.total_len_swap.swapped16.val();
        self.udp_len_swap.word.next = bit_cast::<64, 16>(self.tap.udp_len.val());
        self.payload_len_swap.word.next = bit_cast::<64, 16>(self.tap.payload_len.val());
        self.group_swap.word.next = bit_cast::<64, 16>(self.tap.group.val());

        // Ones'-complement sum of the IPv4 header; any byte order gives 0xFFFF
        // for a correct checksum.
        self.checksum_sum.next = bit_cast::<20, 16>(self.tap.ip0.val())
            + bit_cast::<20, 16>(self.tap.ip1.val())
            + bit_cast::<20, 16>(self.tap.ip2.val())
            + bit_cast::<20, 16>(self.tap.ip3.val())
            + bit_cast::<20, 16>(self.tap.ip4.val())
            + bit_cast::<20, 16>(self.tap.ip5.val())
            + bit_cast::<20, 16>(self.tap.ip6.val())
            + bit_cast::<20, 16>(self.tap.ip7.val())
            + bit_cast::<20, 16>(self.tap.ip8.val())
            + bit_cast::<20, 16>(self.tap.ip9.val());
        self.checksum_fold.next =
            (self.checksum_sum.val() & 0xFFFF_u64) + (self.checksum_sum.val() >> 16);
        self.checksum_ok.next = ((self.checksum_fold.val() & 0xFFFF_u64)
            + (self.checksum_fold.val() >> 16))
            == 0xFFFF_u64;

        // IPv4 checks before the length check (which needs the frame's end).
        self.ip_reason_now.next = self.ok.val();
        if self.tap.protocol.val() != self.proto_udp.val() {
            self.ip_reason_now.next = self.r_not_udp.val();
        }
        if (self.tap.flags_frag.val() & self.fragment_bits.val()) != 0_u64 {
            self.ip_reason_now.next = self.r_fragmented.val();
        }
        if !self.checksum_ok.val() {
            self.ip_reason_now.next = self.r_ip_checksum.val();
        }
        if self.tap.version_ihl.val() != self.version_ihl.val() {
            self.ip_reason_now.next = self.r_ip_version.val();
        }
        if self.tap.ethertype.val() != self.ethertype_ipv4.val() {
            self.ip_reason_now.next = self.r_not_ipv4.val();
        }

        // Which header fields the type uses, and whether the type is known.
        self.uses_now.next = 0.into();
        self.known_now.next = false;
        for i in 0..TYPES {
            if self.tap.msg_type.val() == self.type_code[i].val() {
                self.uses_now.next = self.type_uses[i].val();
                self.known_now.next = true;
            }
        }

        // UDP and riptide header checks after the length check, in decode order.
        self.udp_reason_now.next = self.ok.val();
        if self.payload_len_swap.swapped16.val()
            != self.total_len_now.val() - self.all_headers_len.val()
        {
            self.udp_reason_now.next = self.r_payload_len.val();
        }
        if self.group_swap.swapped16.val() != self.group.val() {
            self.udp_reason_now.next = self.r_wrong_group.val();
        }
        if !self.known_now.val() {
            self.udp_reason_now.next = self.r_unknown_type.val();
        }
        if self.tap.version.val() != self.riptide_version.val() {
            self.udp_reason_now.next = self.r_version.val();
        }
        if self.total_len_now.val() < self.all_headers_len.val() {
            self.udp_reason_now.next = self.r_short.val();
        }
        if self.tap.dst_port.val() != ((self.port.val() >> 8) | (self.port.val() << 8)) {
            self.udp_reason_now.next = self.r_wrong_port.val();
        }
        if self.udp_len_swap.swapped16.val() != self.total_len_now.val() - self.ip_len.val() {
            self.udp_reason_now.next = self.r_udp_length.val();
        }

        // Bytes in this beat: tkeep is contiguous from bit 0 in a well-formed
        // stream, so a binary search for its first zero counts them.
        self.p32.next = 0.into();
        if self.rx_tkeep.val().get_bit(31) {
            self.p32.next = 32.into();
        }
        self.p16.next = self.p32.val();
        if self.rx_tkeep.val().get_bit(self.p32.val().index() + 15) {
            self.p16.next = self.p32.val() + 16;
        }
        self.p8.next = self.p16.val();
        if self.rx_tkeep.val().get_bit(self.p16.val().index() + 7) {
            self.p8.next = self.p16.val() + 8;
        }
        self.p4.next = self.p8.val();
        if self.rx_tkeep.val().get_bit(self.p8.val().index() + 3) {
            self.p4.next = self.p8.val() + 4;
        }
        self.p2.next = self.p4.val();
        if self.rx_tkeep.val().get_bit(self.p4.val().index() + 1) {
            self.p2.next = self.p4.val() + 2;
        }
        self.p1.next = self.p2.val();
        if self.rx_tkeep.val().get_bit(self.p2.val().index()) {
            self.p1.next = self.p2.val() + 1;
        }
        self.last_bytes.next = self.p1.val();
        if self.rx_tkeep.val().get_bit(63) {
            self.last_bytes.next = self.p1.val() + 1;
        }
        self.keep_contiguous.next = ((self.rx_tkeep.val() & (self.rx_tkeep.val() + 1)) == 0_u64)
            && self.rx_tkeep.val().get_bit(0);
        self.len_now.next = (bit_cast::<17, 9>(self.beat_no.q.val()) << 6)
            + bit_cast::<17, 7>(self.last_bytes.val());

        // A one-beat frame is checked on the fly; longer ones from registers.
        self.ip_reason_eff.next = self.ip_reason.q.val();
        self.udp_reason_eff.next = self.udp_reason.q.val();
        self.total_len_eff.next = self.total_len.q.val();
        if self.first.val() {
            self.ip_reason_eff.next = self.ip_reason_now.val();
            self.udp_reason_eff.next = self.udp_reason_now.val();
            self.total_len_eff.next = self.total_len_now.val();
        }
        self.slot_wire.next = bit_cast::<64, 48>(self.slot_hi.q.val())
            | (bit_cast::<64, 16>(self.slot_lo.q.val()) << 48);
        self.commit_wire.next = self.commit_reg.q.val();
        if self.beat_no.q.val() == 1 {
            self.slot_wire.next = bit_cast::<64, 48>(self.slot_hi.q.val())
                | (bit_cast::<64, 16>(self.tap.slot_lo.val()) << 48);
            self.commit_wire.next = self.tap.commit.val();
        }
        self.unused_nonzero.next = (!self.uses.q.val().get_bit(0)
            && (self.ballot_wire.q.val() != 0_u64))
            || (!self.uses.q.val().get_bit(1) && (self.slot_wire.val() != 0_u64))
            || (!self.uses.q.val().get_bit(2) && (self.commit_wire.val() != 0_u64));

        // The verdict: the first failing check, in decode order.
        self.verdict.next = self.ok.val();
        if self.unused_nonzero.val() {
            self.verdict.next = self.r_unused.val();
        }
        if self.udp_reason_eff.val() != self.ok.val() {
            self.verdict.next = self.udp_reason_eff.val();
        }
        if (self.total_len_eff.val() < self.ip_udp_len.val())
            || ((bit_cast::<17, 16>(self.total_len_eff.val()) + self.eth_len.val())
                > self.len_now.val())
        {
            self.verdict.next = self.r_ip_length.val();
        }
        if self.ip_reason_eff.val() != self.ok.val() {
            self.verdict.next = self.ip_reason_eff.val();
        }
        if self.len_now.val() < self.min_frame.val() {
            self.verdict.next = self.r_short.val();
        }
        if self.keep_bad.q.val() || !self.keep_contiguous.val() {
            self.verdict.next = self.r_keep.val();
        }

        // Lives: older when the table is 1 to 127 lives ahead (serial-number
        // order). Beat 0's sender and life are registered by the last beat
        // of any frame long enough to have a header.
        self.table_life.next = bit_cast::<8, 64>(
            self.lives.val() >> (bit_cast::<64, 3>(bit_cast::<3, 8>(self.sender_reg.q.val())) << 3),
        );
        self.life_ahead.next = self.table_life.val() - self.life_reg.q.val();

        // State.
        self.out_valid.d.next = self.rx_tvalid.val();
        self.out_done.d.next = self.rx_tvalid.val() && self.rx_tlast.val();
        if self.rx_tvalid.val() {
            self.out_data.d.next = self.rx_tdata.val();
            if self.rx_tlast.val() {
                self.beat_no.d.next = 0.into();
                self.keep_bad.d.next = false;
                self.out_reason.d.next = self.verdict.val();
                self.out_type.d.next = self.type_reg.q.val();
                self.out_sender.d.next = self.sender_reg.q.val();
                self.out_old_life.d.next =
                    (self.life_ahead.val() != 0_u64) && !self.life_ahead.val().get_bit(7);
                self.out_ballot_wire.d.next = self.ballot_wire.q.val();
                self.out_slot_wire.d.next = self.slot_wire.val();
                self.out_commit_wire.d.next = self.commit_wire.val();
                self.out_payload_len.d.next = self.payload_len_reg.q.val();
                self.out_frame_len.d.next = self.len_now.val();
            } else {
                if self.beat_no.q.val() != 0x1FF_u64 {
                    self.beat_no.d.next = self.beat_no.q.val() + 1;
                }
                if self.rx_tkeep.val() != 0xFFFF_FFFF_FFFF_FFFF_u64 {
                    self.keep_bad.d.next = true;
                }
            }
            if self.first.val() {
                self.ip_reason.d.next = self.ip_reason_now.val();
                self.udp_reason.d.next = self.udp_reason_now.val();
                self.total_len.d.next = self.total_len_now.val();
                self.uses.d.next = self.uses_now.val();
                self.type_reg.d.next = self.tap.msg_type.val();
                self.sender_reg.d.next = self.tap.sender.val();
                self.life_reg.d.next = self.tap.life.val();
                self.payload_len_reg.d.next = self.payload_len_swap.swapped16.val();
                self.ballot_wire.d.next = self.tap.ballot.val();
                self.slot_hi.d.next = self.tap.slot_hi.val();
                self.slot_lo.d.next = 0.into();
                self.commit_reg.d.next = 0.into();
            }
            if self.beat_no.q.val() == 1 {
                self.slot_lo.d.next = self.tap.slot_lo.val();
                self.commit_reg.d.next = self.tap.commit.val();
            }
        }
        if self.rst.val() {
            self.beat_no.d.next = 0.into();
            self.keep_bad.d.next = false;
            self.out_valid.d.next = false;
            self.out_done.d.next = false;
        }

        // Outputs, numbers in host order.
        self.ballot_swap.word.next = self.out_ballot_wire.q.val();
        self.slot_swap.word.next = self.out_slot_wire.q.val();
        self.commit_swap.word.next = self.out_commit_wire.q.val();
        self.wr_valid.next = self.out_valid.q.val();
        self.wr_data.next = self.out_data.q.val();
        self.done.next = self.out_done.q.val();
        self.reason.next = self.out_reason.q.val();
        self.msg_type.next = self.out_type.q.val();
        self.sender.next = self.out_sender.q.val();
        self.old_life.next = self.out_old_life.q.val();
        self.ballot.next = self.ballot_swap.swapped.val();
        self.slot.next = self.slot_swap.swapped.val();
        self.commit.next = self.commit_swap.swapped.val();
        self.payload_len.next = self.out_payload_len.q.val();
        self.frame_len.next = self.out_frame_len.q.val();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::beat::beats;
    use crate::testbench::Bench;
    use riptide_control::rng::Rng;
    use riptide_driver::model::{ModelBugs, ModelNic};
    use riptide_wire::frame::{Endpoint, encode_frame};
    use riptide_wire::{Ballot, Envelope, Message};

    crate::clocked!(RxParser);

    const GROUP: u16 = 7;

    fn endpoint(id: u8) -> Endpoint {
        Endpoint {
            mac: [2, 0, 0, 0, 0, id],
            ip: [10, 0, 0, id],
            port: layout::UDP_PORT,
        }
    }

    fn frame_of(message: Message) -> Vec<u8> {
        let datagram = Envelope {
            group: GROUP,
            sender: 1,
            life: 0,
            message,
        }
        .encode();
        encode_frame(&endpoint(1), &endpoint(2), &datagram)
    }

    /// What the behavioural model counts for a frame: its drop counter, or
    /// `RxFrames` alone when the frame is valid.
    fn reference(frame: &[u8]) -> Counter {
        let mut model = ModelNic::new(0, 3, GROUP, ModelBugs::default());
        model.receive(frame);
        Counter::ALL
            .iter()
            .copied()
            .find(|c| c.name().starts_with("drop_") && model.counters().get(*c) > 0)
            .unwrap_or(Counter::RxFrames)
    }

    struct Parsed {
        reason: u64,
        ballot: u64,
        slot: u64,
        commit: u64,
        msg_type: u64,
        payload_len: u64,
        frame_len: u64,
    }

    fn feed(bench: &mut Bench<RxParser>, frame: &[u8]) -> Parsed {
        for beat in beats(frame) {
            bench.uut.rx_tdata.next = beat.tdata();
            bench.uut.rx_tkeep.next = beat.keep.into();
            bench.uut.rx_tlast.next = beat.last;
            bench.uut.rx_tvalid.next = true;
            bench.step();
        }
        bench.uut.rx_tvalid.next = false;
        bench.settle();
        assert!(bench.uut.done.val());
        let u = &bench.uut;
        Parsed {
            reason: u.reason.val().to_u64(),
            ballot: u.ballot.val().to_u64(),
            slot: u.slot.val().to_u64(),
            commit: u.commit.val().to_u64(),
            msg_type: u.msg_type.val().to_u64(),
            payload_len: u.payload_len.val().to_u64(),
            frame_len: u.frame_len.val().to_u64(),
        }
    }

    fn bench() -> Bench<RxParser> {
        let mut bench = Bench::new("parser", RxParser::default());
        bench.uut.group.next = u64::from(GROUP).into();
        bench.uut.port.next = u64::from(layout::UDP_PORT).into();
        bench.uut.rst.next = true;
        bench.step();
        bench.uut.rst.next = false;
        bench
    }

    #[test]
    fn extracts_the_header_of_a_valid_accept() {
        let mut bench = bench();
        let frame = frame_of(Message::Accept {
            ballot: Ballot::new(3, 1),
            slot: 0x0102_0304_0506_0708,
            commit: 0x1112_1314_1516_1718,
            value: vec![0xAB; 100],
        });
        let p = feed(&mut bench, &frame);
        assert_eq!(p.reason, Counter::RxFrames.index() as u64);
        assert_eq!(p.ballot, Ballot::new(3, 1).0);
        assert_eq!(p.slot, 0x0102_0304_0506_0708);
        assert_eq!(p.commit, 0x1112_1314_1516_1718);
        assert_eq!(p.msg_type, u64::from(MsgType::Accept.code()));
        assert_eq!(p.payload_len, 100);
        assert_eq!(p.frame_len, frame.len() as u64);
    }

    #[test]
    fn back_to_back_frames_get_their_own_verdicts() {
        let mut bench = bench();
        let good = frame_of(Message::Commit {
            ballot: Ballot::new(1, 0),
            commit: 9,
        });
        let mut bad = good.clone();
        bad[layout::udp::DST_PORT.offset] ^= 1;
        for (frame, want) in [(&good, Counter::RxFrames), (&bad, Counter::DropWrongPort)] {
            for _ in 0..3 {
                assert_eq!(feed(&mut bench, frame).reason, want.index() as u64);
            }
        }
    }

    fn seed_frames() -> Vec<Vec<u8>> {
        vec![
            frame_of(Message::Accept {
                ballot: Ballot::new(5, 2),
                slot: 40,
                commit: 39,
                value: b"put x 1".to_vec(),
            }),
            frame_of(Message::Accepted {
                ballot: Ballot::new(5, 2),
                slot: 40,
            }),
            frame_of(Message::Commit {
                ballot: Ballot::new(5, 2),
                commit: 40,
            }),
            frame_of(Message::Nack {
                ballot: Ballot::new(6, 1),
                slot: 2,
            }),
            frame_of(Message::Prepare {
                ballot: Ballot::new(6, 1),
                commit: 3,
                lives: vec![0; 3],
            }),
            frame_of(Message::RecoveryRequest {
                nonce: 77,
                lives: vec![0; 3],
            }),
        ]
    }

    /// Mutations that reach every check: header bytes flipped (with the IPv4
    /// checksum repaired or not), frames cut short or padded.
    fn mutate(rng: &mut Rng, frame: &mut Vec<u8>) {
        let header_len = frame.len().min(layout::FRAME_HEADER_LEN) as u64;
        match rng.below(6) {
            0 => {
                let at = rng.below(header_len) as usize;
                frame[at] ^= 1 << rng.below(8);
            }
            1 => {
                let at = rng.below(header_len) as usize;
                frame[at] = rng.next_u64() as u8;
                if frame.len() < layout::ETH_LEN + layout::IPV4_LEN {
                    return;
                }
                let header = &mut frame[layout::ETH_LEN..layout::ETH_LEN + layout::IPV4_LEN];
                header[10] = 0;
                header[11] = 0;
                let sum = riptide_wire::frame::ipv4_checksum(header);
                header[10..12].copy_from_slice(&sum.to_be_bytes());
            }
            2 => frame.truncate(rng.below(frame.len() as u64) as usize + 1),
            3 => frame.extend((0..rng.below(80)).map(|i| i as u8)),
            _ => {}
        }
    }

    #[test]
    fn verdicts_match_the_model_on_mutated_frames() {
        let mut bench = bench();
        let mut rng = Rng::new(0x5EED);
        let seeds = seed_frames();
        let mut seen = std::collections::BTreeSet::new();
        for _ in 0..3000 {
            let mut frame = seeds[rng.below(seeds.len() as u64) as usize].clone();
            mutate(&mut rng, &mut frame);
            if rng.chance(1, 2) {
                mutate(&mut rng, &mut frame);
            }
            let want = reference(&frame);
            seen.insert(want);
            let got = feed(&mut bench, &frame).reason;
            assert_eq!(
                got,
                want.index() as u64,
                "frame {frame:02x?}: RTL {got}, model {want:?}"
            );
        }
        assert!(seen.len() >= 12, "mutations reached only {seen:?}");
    }
}
