//! Transmit builder: turns frame commands into Ethernet/IPv4/UDP frames on
//! the network AXI4-Stream. Headers are built here (addresses from the peer
//! table, IPv4 checksum computed); ACCEPT payloads and host datagrams come
//! from the host-to-card store, whose record layouts keep them in their frame
//! byte lanes, so a frame is header beats ORed with store beats.
//!
//! The header is assembled as a big-endian number (frame byte 0 most
//! significant), which places every field by its `layout` offset without
//! per-field byte swapping, then turned into bus byte order once.
//!
//! Three prefetch stages take the head command out of its queue and build
//! its header while the frame before it leaves: H (lengths, the peer's
//! addresses), S (the IPv4 sum), G (checksum folds, header beats). Then the
//! same three-stage stall pipeline as the card-to-host writer: A (sequencer,
//! issues the store read), B (store data), C (output register).

use crate::beat::{BEAT_BYTES, Data, Keep, KeepFor};
use crate::fastpath::{TX_RAW, TxKind};
use crate::fifo::RegFifo;
use crate::store::Addr;
use crate::swap::Swap64;
use riptide_wire::layout::{self, eth, header, ipv4, udp};
use riptide_wire::message::MsgType;
use riptide_wire::records;
use rust_hdl::prelude::*;

/// Header bytes of a message frame that spill into its second beat.
const SPILL: usize = layout::FRAME_HEADER_LEN - BEAT_BYTES;
const _: () = {
    assert!(records::SUBMIT_VALUE_OFFSET == layout::FRAME_HEADER_LEN);
    assert!(records::TRANSMIT_DATAGRAM_OFFSET == BEAT_BYTES + layout::RIPTIDE_OFFSET);
    assert!(layout::RIPTIDE_OFFSET + header::SLOT.offset + 6 == BEAT_BYTES);
    assert!(SPILL == 10 && layout::ETH_MIN_FRAME <= BEAT_BYTES);
};

/// Shift that places a field of `width` bytes at frame byte `offset` in a
/// big-endian beat.
fn be(offset: usize, width: usize) -> Constant<Bits<16>> {
    Constant::new((((BEAT_BYTES - offset - width) * 8) as u64).into())
}

fn mask_from(byte: usize) -> Constant<Data> {
    Constant::new((!Data::default()) << (byte as u64 * 8))
}

#[derive(LogicBlock)]
pub struct TxBuilder {
    pub clock: Signal<In, Clock>,
    pub rst: Signal<In, Bit>,
    // Commands.
    pub push: Signal<In, Bit>,
    pub kind: Signal<In, TxKind>,
    pub to: Signal<In, Bits<8>>,
    pub ballot: Signal<In, Bits<64>>,
    pub slot: Signal<In, Bits<64>>,
    pub commit: Signal<In, Bits<64>>,
    /// ACCEPT: payload bytes; raw: datagram bytes (both in the h2c store).
    pub len: Signal<In, Bits<17>>,
    pub room: Signal<Out, Bit>,
    // Addresses: the peer table entry of the command's `to`, and ours.
    pub peer_sel: Signal<Out, Bits<3>>,
    pub peer_mac: Signal<In, Bits<48>>,
    pub peer_ip: Signal<In, Bits<32>>,
    pub peer_port: Signal<In, Bits<16>>,
    pub own_mac: Signal<In, Bits<48>>,
    pub own_ip: Signal<In, Bits<32>>,
    pub own_port: Signal<In, Bits<16>>,
    pub group: Signal<In, Bits<16>>,
    pub replica_id: Signal<In, Bits<8>>,
    /// The `LIFE` of the frames built here (host datagrams carry their own).
    pub life: Signal<In, Bits<8>>,
    // The host-to-card store.
    pub rd_addr: Signal<Out, Addr>,
    pub h2c_data: Signal<In, Data>,
    /// Pulses when a frame's last store read is done.
    pub h2c_done: Signal<Out, Bit>,
    // The stream.
    pub tx_tdata: Signal<Out, Data>,
    pub tx_tkeep: Signal<Out, Keep>,
    pub tx_tvalid: Signal<Out, Bit>,
    pub tx_tlast: Signal<Out, Bit>,
    pub tx_tready: Signal<In, Bit>,
    /// Pulses with the kind of each frame started.
    pub sent: Signal<Out, Bit>,
    pub sent_kind: Signal<Out, TxKind>,

    q_kind: RegFifo<TxKind>,
    q_to: RegFifo<Bits<8>>,
    q_ballot: RegFifo<Bits<64>>,
    q_slot: RegFifo<Bits<64>>,
    q_commit: RegFifo<Bits<64>>,
    q_len: RegFifo<Bits<17>>,

    t_accept: Constant<TxKind>,
    raw: Constant<TxKind>,
    at_dst_mac: Constant<Bits<16>>,
    at_src_mac: Constant<Bits<16>>,
    at_ethertype: Constant<Bits<16>>,
    at_version_ihl: Constant<Bits<16>>,
    at_total_len: Constant<Bits<16>>,
    at_flags_frag: Constant<Bits<16>>,
    at_ttl: Constant<Bits<16>>,
    at_protocol: Constant<Bits<16>>,
    at_checksum: Constant<Bits<16>>,
    at_src_ip: Constant<Bits<16>>,
    at_dst_ip: Constant<Bits<16>>,
    at_src_port: Constant<Bits<16>>,
    at_dst_port: Constant<Bits<16>>,
    at_udp_len: Constant<Bits<16>>,
    at_version: Constant<Bits<16>>,
    at_type: Constant<Bits<16>>,
    at_group: Constant<Bits<16>>,
    at_sender: Constant<Bits<16>>,
    at_life: Constant<Bits<16>>,
    at_payload_len: Constant<Bits<16>>,
    at_ballot: Constant<Bits<16>>,
    at_slot_hi: Constant<Bits<16>>,
    ethertype: Constant<Bits<16>>,
    version_ihl: Constant<Bits<8>>,
    flags_frag: Constant<Bits<16>>,
    ttl: Constant<Bits<8>>,
    protocol: Constant<Bits<8>>,
    version: Constant<Bits<8>>,
    checksum_base: Constant<Bits<20>>,
    ip_udp_len: Constant<Bits<17>>,
    min_frame: Constant<Bits<17>>,
    /// Header bytes around the body: per length, for a riptide message
    /// (`_msg`) and for a host datagram (`_raw`), so each length is one add.
    udp_msg: Constant<Bits<17>>,
    udp_raw: Constant<Bits<17>>,
    ip_msg: Constant<Bits<17>>,
    frame_msg: Constant<Bits<17>>,
    frame_raw: Constant<Bits<17>>,
    after_spill: Constant<Data>,
    after_headers: Constant<Data>,
    all_keep: Constant<Keep>,
    all_data: Constant<Data>,

    // Stage H: the head command, popped, with its peer's addresses and its
    // lengths; stage S: the frame length bounded and the IPv4 sum before
    // its folds; stage G: the header beats, ready for stage A. Computed
    // while a command waits (a frame's lengths, checksum and header were
    // one path from the queue to the output registers).
    h_valid: DFF<Bit>,
    h_kind: DFF<TxKind>,
    h_raw: DFF<Bit>,
    h_ballot: DFF<Bits<64>>,
    h_slot: DFF<Bits<64>>,
    h_commit: DFF<Bits<64>>,
    h_payload_len: DFF<Bits<17>>,
    h_ip_total: DFF<Bits<17>>,
    h_udp_total: DFF<Bits<17>>,
    h_frame_len: DFF<Bits<17>>,
    h_peer_mac: DFF<Bits<48>>,
    h_peer_ip: DFF<Bits<32>>,
    h_peer_port: DFF<Bits<16>>,
    s_valid: DFF<Bit>,
    s_kind: DFF<TxKind>,
    s_raw: DFF<Bit>,
    s_ballot: DFF<Bits<64>>,
    s_slot: DFF<Bits<64>>,
    s_commit: DFF<Bits<64>>,
    s_payload_len: DFF<Bits<17>>,
    s_ip_total: DFF<Bits<17>>,
    s_udp_total: DFF<Bits<17>>,
    s_frame_len: DFF<Bits<17>>,
    s_peer_mac: DFF<Bits<48>>,
    s_peer_ip: DFF<Bits<32>>,
    s_peer_port: DFF<Bits<16>>,
    s_sum: DFF<Bits<20>>,
    g_valid: DFF<Bit>,
    g_kind: DFF<TxKind>,
    g_raw: DFF<Bit>,
    g_hdr0: DFF<Data>,
    g_hdr1: DFF<Data>,
    g_left: DFF<Bits<11>>,
    g_keep_last: DFF<Keep>,
    g_short: DFF<Bit>,
    h_free: Signal<Local, Bit>,
    s_free: Signal<Local, Bit>,
    g_free: Signal<Local, Bit>,
    g_take: Signal<Local, Bit>,
    words: [Swap64; 8],
    slot_swap: Swap64,
    commit_swap: Swap64,

    busy: DFF<Bit>,
    a_second: DFF<Bit>,
    a_hdr1: DFF<Data>,
    a_is_raw: DFF<Bit>,
    a_payload: DFF<Bit>,
    a_addr: DFF<Addr>,
    a_left: DFF<Bits<11>>,
    a_keep_last: DFF<Keep>,
    b_valid: DFF<Bit>,
    b_hdr: DFF<Data>,
    b_store: DFF<Bit>,
    b_mask: DFF<Data>,
    b_keep: DFF<Keep>,
    b_last: DFF<Bit>,
    b_addr: DFF<Addr>,
    b_done: DFF<Bit>,
    c_valid: DFF<Bit>,
    c_data: DFF<Data>,
    c_keep: DFF<Keep>,
    c_last: DFF<Bit>,

    advance: Signal<Local, Bit>,
    head_ready: Signal<Local, Bit>,
    head_raw: Signal<Local, Bit>,
    payload_len: Signal<Local, Bits<17>>,
    body_len: Signal<Local, Bits<17>>,
    ips_sum: Signal<Local, Bits<20>>,
    fold: Signal<Local, Bits<20>>,
    checksum: Signal<Local, Bits<16>>,
    hdr0_be: Signal<Local, Data>,
    hdr0: Signal<Local, Data>,
    hdr1: Signal<Local, Data>,
    keep_tail: KeepFor,
    emit: Signal<Local, Bit>,
    emit_hdr: Signal<Local, Data>,
    emit_store: Signal<Local, Bit>,
    emit_mask: Signal<Local, Data>,
    emit_keep: Signal<Local, Keep>,
    emit_last: Signal<Local, Bit>,
    emit_done: Signal<Local, Bit>,
    beat_out: Signal<Local, Data>,
}

impl Default for TxBuilder {
    fn default() -> Self {
        let msg = |f: layout::Field| be(layout::RIPTIDE_OFFSET + f.offset, f.width);
        let field = |f: layout::Field| be(f.offset, f.width);
        let checksum_base = (u64::from(layout::IPV4_VERSION_IHL) << 8)
            + u64::from(layout::IPV4_FLAG_DF)
            + (u64::from(layout::IPV4_TTL) << 8 | u64::from(layout::IP_PROTO_UDP));
        Self {
            clock: Default::default(),
            rst: Default::default(),
            push: Default::default(),
            kind: Default::default(),
            to: Default::default(),
            ballot: Default::default(),
            slot: Default::default(),
            commit: Default::default(),
            len: Default::default(),
            room: Default::default(),
            peer_sel: Default::default(),
            peer_mac: Default::default(),
            peer_ip: Default::default(),
            peer_port: Default::default(),
            own_mac: Default::default(),
            own_ip: Default::default(),
            own_port: Default::default(),
            group: Default::default(),
            replica_id: Default::default(),
            life: Default::default(),
            rd_addr: Default::default(),
            h2c_data: Default::default(),
            h2c_done: Default::default(),
            tx_tdata: Default::default(),
            tx_tkeep: Default::default(),
            tx_tvalid: Default::default(),
            tx_tlast: Default::default(),
            tx_tready: Default::default(),
            sent: Default::default(),
            sent_kind: Default::default(),
            q_kind: Default::default(),
            q_to: Default::default(),
            q_ballot: Default::default(),
            q_slot: Default::default(),
            q_commit: Default::default(),
            q_len: Default::default(),
            t_accept: Constant::new(u64::from(MsgType::Accept.code()).into()),
            raw: Constant::new(TX_RAW.into()),
            at_dst_mac: field(eth::DST_MAC),
            at_src_mac: field(eth::SRC_MAC),
            at_ethertype: field(eth::ETHERTYPE),
            at_version_ihl: field(ipv4::VERSION_IHL),
            at_total_len: field(ipv4::TOTAL_LEN),
            at_flags_frag: field(ipv4::FLAGS_FRAG),
            at_ttl: field(ipv4::TTL),
            at_protocol: field(ipv4::PROTOCOL),
            at_checksum: field(ipv4::CHECKSUM),
            at_src_ip: field(ipv4::SRC_IP),
            at_dst_ip: field(ipv4::DST_IP),
            at_src_port: field(udp::SRC_PORT),
            at_dst_port: field(udp::DST_PORT),
            at_udp_len: field(udp::LENGTH),
            at_version: msg(header::VERSION),
            at_type: msg(header::MSG_TYPE),
            at_group: msg(header::GROUP),
            at_sender: msg(header::SENDER),
            at_life: msg(header::LIFE),
            at_payload_len: msg(header::PAYLOAD_LEN),
            at_ballot: msg(header::BALLOT),
            at_slot_hi: be(layout::RIPTIDE_OFFSET + header::SLOT.offset, 6),
            ethertype: Constant::new(u64::from(layout::ETHERTYPE_IPV4).into()),
            version_ihl: Constant::new(u64::from(layout::IPV4_VERSION_IHL).into()),
            flags_frag: Constant::new(u64::from(layout::IPV4_FLAG_DF).into()),
            ttl: Constant::new(u64::from(layout::IPV4_TTL).into()),
            protocol: Constant::new(u64::from(layout::IP_PROTO_UDP).into()),
            version: Constant::new(u64::from(layout::VERSION).into()),
            checksum_base: Constant::new(checksum_base.into()),
            ip_udp_len: Constant::new(((layout::IPV4_LEN + layout::UDP_LEN) as u64).into()),
            min_frame: Constant::new((layout::ETH_MIN_FRAME as u64).into()),
            udp_msg: Constant::new(((layout::UDP_LEN + layout::RIPTIDE_HEADER_LEN) as u64).into()),
            udp_raw: Constant::new((layout::UDP_LEN as u64).into()),
            ip_msg: Constant::new(
                ((layout::IPV4_LEN + layout::UDP_LEN + layout::RIPTIDE_HEADER_LEN) as u64).into(),
            ),
            frame_msg: Constant::new((layout::FRAME_HEADER_LEN as u64).into()),
            frame_raw: Constant::new((layout::RIPTIDE_OFFSET as u64).into()),
            after_spill: mask_from(SPILL),
            after_headers: mask_from(layout::RIPTIDE_OFFSET),
            all_keep: Constant::new(u64::MAX.into()),
            all_data: Constant::new(!Data::default()),
            h_valid: Default::default(),
            h_kind: Default::default(),
            h_raw: Default::default(),
            h_ballot: Default::default(),
            h_slot: Default::default(),
            h_commit: Default::default(),
            h_payload_len: Default::default(),
            h_ip_total: Default::default(),
            h_udp_total: Default::default(),
            h_frame_len: Default::default(),
            h_peer_mac: Default::default(),
            h_peer_ip: Default::default(),
            h_peer_port: Default::default(),
            s_valid: Default::default(),
            s_kind: Default::default(),
            s_raw: Default::default(),
            s_ballot: Default::default(),
            s_slot: Default::default(),
            s_commit: Default::default(),
            s_payload_len: Default::default(),
            s_ip_total: Default::default(),
            s_udp_total: Default::default(),
            s_frame_len: Default::default(),
            s_peer_mac: Default::default(),
            s_peer_ip: Default::default(),
            s_peer_port: Default::default(),
            s_sum: Default::default(),
            g_valid: Default::default(),
            g_kind: Default::default(),
            g_raw: Default::default(),
            g_hdr0: Default::default(),
            g_hdr1: Default::default(),
            g_left: Default::default(),
            g_keep_last: Default::default(),
            g_short: Default::default(),
            h_free: Default::default(),
            s_free: Default::default(),
            g_free: Default::default(),
            g_take: Default::default(),
            words: Default::default(),
            slot_swap: Default::default(),
            commit_swap: Default::default(),
            busy: Default::default(),
            a_second: Default::default(),
            a_hdr1: Default::default(),
            a_is_raw: Default::default(),
            a_payload: Default::default(),
            a_addr: Default::default(),
            a_left: Default::default(),
            a_keep_last: Default::default(),
            b_valid: Default::default(),
            b_hdr: Default::default(),
            b_store: Default::default(),
            b_mask: Default::default(),
            b_keep: Default::default(),
            b_last: Default::default(),
            b_addr: Default::default(),
            b_done: Default::default(),
            c_valid: Default::default(),
            c_data: Default::default(),
            c_keep: Default::default(),
            c_last: Default::default(),
            advance: Default::default(),
            head_ready: Default::default(),
            head_raw: Default::default(),
            payload_len: Default::default(),
            body_len: Default::default(),
            ips_sum: Default::default(),
            fold: Default::default(),
            checksum: Default::default(),
            hdr0_be: Default::default(),
            hdr0: Default::default(),
            hdr1: Default::default(),
            keep_tail: Default::default(),
            emit: Default::default(),
            emit_hdr: Default::default(),
            emit_store: Default::default(),
            emit_mask: Default::default(),
            emit_keep: Default::default(),
            emit_last: Default::default(),
            emit_done: Default::default(),
            beat_out: Default::default(),
        }
    }
}

impl TxBuilder {
    /// Simulation view: a queued command or a frame on its way out.
    pub fn in_flight(&self) -> bool {
        !self.q_kind.is_empty()
            || self.h_valid.q.val()
            || self.s_valid.q.val()
            || self.g_valid.q.val()
            || self.busy.q.val()
            || self.b_valid.q.val()
            || self.c_valid.q.val()
    }
}

impl Logic for TxBuilder {
    #[hdl_gen]
    fn update(&mut self) {
        dff_setup!(
            self,
            clock,
            busy,
            a_second,
            a_hdr1,
            a_is_raw,
            a_payload,
            a_addr,
            a_left,
            a_keep_last,
            b_valid,
            b_hdr,
            b_store,
            b_mask,
            b_keep,
            b_last,
            b_addr,
            b_done,
            c_valid,
            c_data,
            c_keep,
            c_last,
            h_valid,
            h_kind,
            h_raw,
            h_ballot,
            h_slot,
            h_commit,
            h_payload_len,
            h_ip_total,
            h_udp_total,
            h_frame_len,
            h_peer_mac,
            h_peer_ip,
            h_peer_port,
            s_valid,
            s_kind,
            s_raw,
            s_ballot,
            s_slot,
            s_commit,
            s_payload_len,
            s_ip_total,
            s_udp_total,
            s_frame_len,
            s_peer_mac,
            s_peer_ip,
            s_peer_port,
            s_sum,
            g_valid,
            g_kind,
            g_raw,
            g_hdr0,
            g_hdr1,
            g_left,
            g_keep_last,
            g_short
        );
        self.q_kind.clock.next = self.clock.val();
        self.q_to.clock.next = self.clock.val();
        self.q_ballot.clock.next = self.clock.val();
        self.q_slot.clock.next = self.clock.val();
        self.q_commit.clock.next = self.clock.val();
        self.q_len.clock.next = self.clock.val();
        self.q_kind.rst.next = self.rst.val();
        self.q_to.rst.next = self.rst.val();
        self.q_ballot.rst.next = self.rst.val();
        self.q_slot.rst.next = self.rst.val();
        self.q_commit.rst.next = self.rst.val();
        self.q_len.rst.next = self.rst.val();
        self.q_kind.push.next = self.push.val();
        self.q_to.push.next = self.push.val();
        self.q_ballot.push.next = self.push.val();
        self.q_slot.push.next = self.push.val();
        self.q_commit.push.next = self.push.val();
        self.q_len.push.next = self.push.val();
        self.q_kind.data_in.next = self.kind.val();
        self.q_to.data_in.next = self.to.val();
        self.q_ballot.data_in.next = self.ballot.val();
        self.q_slot.data_in.next = self.slot.val();
        self.q_commit.data_in.next = self.commit.val();
        self.q_len.data_in.next = self.len.val();
        self.room.next = self.q_kind.count.val() < 4_u64;
        self.peer_sel.next = bit_cast::<3, 8>(self.q_to.data_out.val());

        self.advance.next = !self.c_valid.q.val() || self.tx_tready.val();
        self.head_ready.next = self.q_kind.count.val() != 0_u64;
        self.head_raw.next = self.q_kind.data_out.val() == self.raw.val();
        // Each prefetch stage moves on when the next one is free (stage A
        // takes G when it starts a frame).
        self.g_take.next = self.advance.val() && !self.busy.q.val() && self.g_valid.q.val();
        self.g_free.next = !self.g_valid.q.val() || self.g_take.val();
        self.s_free.next = !self.s_valid.q.val() || self.g_free.val();
        self.h_free.next = !self.h_valid.q.val() || self.s_free.val();

        // Stage H: the head command's lengths. Every length is the body's
        // plus a constant: one add each, side by side.
        self.payload_len.next = 0.into();
        if self.q_kind.data_out.val() == self.t_accept.val() {
            self.payload_len.next = self.q_len.data_out.val();
        }
        self.body_len.next = self.payload_len.val();
        if self.head_raw.val() {
            self.body_len.next = self.q_len.data_out.val();
        }
        self.q_kind.pop.next = false;
        self.q_to.pop.next = false;
        self.q_ballot.pop.next = false;
        self.q_slot.pop.next = false;
        self.q_commit.pop.next = false;
        self.q_len.pop.next = false;
        if self.s_free.val() {
            self.h_valid.d.next = false;
        }
        if self.h_free.val() && self.head_ready.val() {
            self.q_kind.pop.next = true;
            self.q_to.pop.next = true;
            self.q_ballot.pop.next = true;
            self.q_slot.pop.next = true;
            self.q_commit.pop.next = true;
            self.q_len.pop.next = true;
            self.h_valid.d.next = true;
            self.h_kind.d.next = self.q_kind.data_out.val();
            self.h_raw.d.next = self.head_raw.val();
            self.h_ballot.d.next = self.q_ballot.data_out.val();
            self.h_slot.d.next = self.q_slot.data_out.val();
            self.h_commit.d.next = self.q_commit.data_out.val();
            self.h_payload_len.d.next = self.payload_len.val();
            self.h_udp_total.d.next = self.body_len.val() + self.udp_msg.val();
            self.h_ip_total.d.next = self.body_len.val() + self.ip_msg.val();
            self.h_frame_len.d.next = self.body_len.val() + self.frame_msg.val();
            if self.head_raw.val() {
                self.h_udp_total.d.next = self.body_len.val() + self.udp_raw.val();
                self.h_ip_total.d.next = self.body_len.val() + self.ip_udp_len.val();
                self.h_frame_len.d.next = self.body_len.val() + self.frame_raw.val();
            }
            self.h_peer_mac.d.next = self.peer_mac.val();
            self.h_peer_ip.d.next = self.peer_ip.val();
            self.h_peer_port.d.next = self.peer_port.val();
        }

        // Stage S: the frame bounded below, the IPv4 header's sum (the
        // addresses' words summed apart from the length: a tree, not a chain).
        self.ips_sum.next = (bit_cast::<20, 16>(self.own_ip.val().get_bits::<16>(16))
            + bit_cast::<20, 16>(bit_cast::<16, 32>(self.own_ip.val())))
            + (bit_cast::<20, 16>(self.h_peer_ip.q.val().get_bits::<16>(16))
                + bit_cast::<20, 16>(bit_cast::<16, 32>(self.h_peer_ip.q.val())));
        if self.g_free.val() {
            self.s_valid.d.next = false;
        }
        if self.s_free.val() && self.h_valid.q.val() {
            self.s_valid.d.next = true;
            self.s_kind.d.next = self.h_kind.q.val();
            self.s_raw.d.next = self.h_raw.q.val();
            self.s_ballot.d.next = self.h_ballot.q.val();
            self.s_slot.d.next = self.h_slot.q.val();
            self.s_commit.d.next = self.h_commit.q.val();
            self.s_payload_len.d.next = self.h_payload_len.q.val();
            self.s_ip_total.d.next = self.h_ip_total.q.val();
            self.s_udp_total.d.next = self.h_udp_total.q.val();
            self.s_frame_len.d.next = self.h_frame_len.q.val();
            if self.h_frame_len.q.val() < self.min_frame.val() {
                self.s_frame_len.d.next = self.min_frame.val();
            }
            self.s_peer_mac.d.next = self.h_peer_mac.q.val();
            self.s_peer_ip.d.next = self.h_peer_ip.q.val();
            self.s_peer_port.d.next = self.h_peer_port.q.val();
            self.s_sum.d.next = (self.checksum_base.val()
                + bit_cast::<20, 17>(self.h_ip_total.q.val()))
                + self.ips_sum.val();
        }

        // Stage G: the checksum's folds and the header beats.
        self.fold.next = (self.s_sum.q.val() & 0xFFFF_u64) + (self.s_sum.q.val() >> 16);
        self.checksum.next =
            !bit_cast::<16, 20>((self.fold.val() & 0xFFFF_u64) + (self.fold.val() >> 16));
        self.keep_tail.tail.next = bit_cast::<6, 17>(self.s_frame_len.q.val() & 63_u64);
        self.hdr1.next = 0.into();
        self.slot_swap.word.next = self.s_slot.q.val();
        self.commit_swap.word.next = self.s_commit.q.val();
        self.hdr0_be.next = (bit_cast::<512, 48>(self.s_peer_mac.q.val()) << self.at_dst_mac.val())
            | (bit_cast::<512, 48>(self.own_mac.val()) << self.at_src_mac.val())
            | (bit_cast::<512, 16>(self.ethertype.val()) << self.at_ethertype.val())
            | (bit_cast::<512, 8>(self.version_ihl.val()) << self.at_version_ihl.val())
            | (bit_cast::<512, 17>(self.s_ip_total.q.val()) << self.at_total_len.val())
            | (bit_cast::<512, 16>(self.flags_frag.val()) << self.at_flags_frag.val())
            | (bit_cast::<512, 8>(self.ttl.val()) << self.at_ttl.val())
            | (bit_cast::<512, 8>(self.protocol.val()) << self.at_protocol.val())
            | (bit_cast::<512, 16>(self.checksum.val()) << self.at_checksum.val())
            | (bit_cast::<512, 32>(self.own_ip.val()) << self.at_src_ip.val())
            | (bit_cast::<512, 32>(self.s_peer_ip.q.val()) << self.at_dst_ip.val())
            | (bit_cast::<512, 16>(self.own_port.val()) << self.at_src_port.val())
            | (bit_cast::<512, 16>(self.s_peer_port.q.val()) << self.at_dst_port.val())
            | (bit_cast::<512, 17>(self.s_udp_total.q.val()) << self.at_udp_len.val());
        if !self.s_raw.q.val() {
            // A riptide message: the riptide header on top of the
            // Ethernet/IPv4/UDP part built above (a raw datagram carries
            // its own).
            self.hdr0_be.next = self.hdr0_be.val()
                | (bit_cast::<512, 8>(self.version.val()) << self.at_version.val())
                | (bit_cast::<512, 8>(self.s_kind.q.val()) << self.at_type.val())
                | (bit_cast::<512, 16>(self.group.val()) << self.at_group.val())
                | (bit_cast::<512, 8>(self.replica_id.val()) << self.at_sender.val())
                | (bit_cast::<512, 8>(self.life.val()) << self.at_life.val())
                | (bit_cast::<512, 17>(self.s_payload_len.q.val()) << self.at_payload_len.val())
                | (bit_cast::<512, 64>(self.s_ballot.q.val()) << self.at_ballot.val())
                | (bit_cast::<512, 64>(self.s_slot.q.val() >> 16) << self.at_slot_hi.val());
            self.hdr1.next = bit_cast::<512, 64>(self.slot_swap.swapped.val() >> 48)
                | (bit_cast::<512, 64>(self.commit_swap.swapped.val()) << 16);
        }
        // Big-endian number to bus byte order: word k of the bus is the
        // byte-reversed word 7-k of the number.
        for k in 0..8 {
            self.words[k].word.next = self.hdr0_be.val().get_bits::<64>(448 - 64 * k);
        }
        self.hdr0.next = bit_cast::<512, 64>(self.words[0].swapped.val())
            | (bit_cast::<512, 64>(self.words[1].swapped.val()) << 64)
            | (bit_cast::<512, 64>(self.words[2].swapped.val()) << 128)
            | (bit_cast::<512, 64>(self.words[3].swapped.val()) << 192)
            | (bit_cast::<512, 64>(self.words[4].swapped.val()) << 256)
            | (bit_cast::<512, 64>(self.words[5].swapped.val()) << 320)
            | (bit_cast::<512, 64>(self.words[6].swapped.val()) << 384)
            | (bit_cast::<512, 64>(self.words[7].swapped.val()) << 448);
        if self.g_take.val() {
            self.g_valid.d.next = false;
        }
        if self.g_free.val() && self.s_valid.q.val() {
            self.g_valid.d.next = true;
            self.g_kind.d.next = self.s_kind.q.val();
            self.g_raw.d.next = self.s_raw.q.val();
            self.g_hdr0.d.next = self.hdr0.val();
            self.g_hdr1.d.next = self.hdr1.val();
            self.g_left.d.next = bit_cast::<11, 17>((self.s_frame_len.q.val() - 1_u64) >> 6);
            self.g_keep_last.d.next = self.keep_tail.keep.val();
            self.g_short.d.next = self.s_frame_len.q.val() <= 64_u64;
        }
        // Stage A.
        self.emit.next = false;
        self.emit_hdr.next = 0.into();
        self.emit_store.next = false;
        self.emit_mask.next = self.after_spill.val();
        self.emit_keep.next = self.all_keep.val();
        self.emit_last.next = false;
        self.emit_done.next = false;
        self.sent.next = false;
        self.sent_kind.next = self.g_kind.q.val();
        self.rd_addr.next = self.b_addr.q.val();
        if self.advance.val() {
            self.rd_addr.next = self.a_addr.q.val();
            if self.busy.q.val() {
                self.emit.next = true;
                self.emit_store.next = self.a_is_raw.q.val() || self.a_payload.q.val();
                self.a_addr.d.next = self.a_addr.q.val() + 1;
                self.a_left.d.next = self.a_left.q.val() - 1;
                self.a_second.d.next = false;
                self.emit_mask.next = self.all_data.val();
                if self.a_second.q.val() {
                    self.emit_hdr.next = self.a_hdr1.q.val();
                    self.emit_mask.next = self.after_spill.val();
                }
                if self.a_left.q.val() == 1_u64 {
                    self.emit_keep.next = self.a_keep_last.q.val();
                    self.emit_last.next = true;
                    self.emit_done.next = self.a_is_raw.q.val() || self.a_payload.q.val();
                    self.busy.d.next = false;
                }
            } else if self.g_valid.q.val() {
                self.emit.next = true;
                self.emit_hdr.next = self.g_hdr0.q.val();
                self.sent.next = true;
                self.a_hdr1.d.next = self.g_hdr1.q.val();
                self.a_is_raw.d.next = self.g_raw.q.val();
                self.a_payload.d.next = self.g_kind.q.val() == self.t_accept.val();
                self.a_second.d.next = !self.g_raw.q.val();
                self.a_addr.d.next = 1.into();
                self.a_left.d.next = self.g_left.q.val();
                self.a_keep_last.d.next = self.g_keep_last.q.val();
                if self.g_raw.q.val() {
                    // The datagram's first bytes share beat 0 with the headers.
                    self.rd_addr.next = 1.into();
                    self.a_addr.d.next = 2.into();
                    self.emit_store.next = true;
                    self.emit_mask.next = self.after_headers.val();
                }
                if self.g_short.q.val() {
                    self.emit_keep.next = self.g_keep_last.q.val();
                    self.emit_last.next = true;
                    self.emit_done.next = self.g_raw.q.val();
                } else {
                    self.busy.d.next = true;
                }
            }
        }

        // Stages B and C.
        self.beat_out.next = self.b_hdr.q.val();
        if self.b_store.q.val() {
            self.beat_out.next = self.b_hdr.q.val() | (self.h2c_data.val() & self.b_mask.q.val());
        }
        self.h2c_done.next = false;
        if self.advance.val() {
            self.b_valid.d.next = self.emit.val();
            self.b_hdr.d.next = self.emit_hdr.val();
            self.b_store.d.next = self.emit_store.val();
            self.b_mask.d.next = self.emit_mask.val();
            self.b_keep.d.next = self.emit_keep.val();
            self.b_last.d.next = self.emit_last.val();
            self.b_addr.d.next = self.rd_addr.val();
            self.b_done.d.next = self.emit_done.val();
            self.c_valid.d.next = self.b_valid.q.val();
            self.c_data.d.next = self.beat_out.val();
            self.c_keep.d.next = self.b_keep.q.val();
            self.c_last.d.next = self.b_last.q.val();
            self.h2c_done.next = self.b_valid.q.val() && self.b_done.q.val();
        }
        if self.rst.val() {
            self.h_valid.d.next = false;
            self.s_valid.d.next = false;
            self.g_valid.d.next = false;
            self.busy.d.next = false;
            self.b_valid.d.next = false;
            self.c_valid.d.next = false;
        }
        self.tx_tdata.next = self.c_data.q.val();
        self.tx_tkeep.next = self.c_keep.q.val();
        self.tx_tvalid.next = self.c_valid.q.val();
        self.tx_tlast.next = self.c_last.q.val();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::beat::Beat;
    use crate::testbench::Bench;
    use riptide_wire::frame::{Endpoint, encode_frame};
    use riptide_wire::{Ballot, Envelope, Message};

    crate::clocked!(TxBuilder);

    fn endpoint(id: u8) -> Endpoint {
        Endpoint {
            mac: [2, 0x52, 0x54, 0, 0, id],
            ip: [10, 0, 0, id + 1],
            port: 7100 + u16::from(id),
        }
    }

    fn mac(e: &Endpoint) -> u64 {
        e.mac.iter().fold(0, |n, b| n << 8 | u64::from(*b))
    }

    #[test]
    fn builds_the_frames_the_wire_codec_builds() {
        let mut bench = Bench::new("tx", TxBuilder::default());
        let (own, peer) = (endpoint(0), endpoint(1));
        let u = &mut bench.uut;
        u.own_mac.next = mac(&own).into();
        u.own_ip.next = u64::from(u32::from_be_bytes(own.ip)).into();
        u.own_port.next = u64::from(own.port).into();
        u.peer_mac.next = mac(&peer).into();
        u.peer_ip.next = u64::from(u32::from_be_bytes(peer.ip)).into();
        u.peer_port.next = u64::from(peer.port).into();
        u.group.next = 9.into();
        u.replica_id.next = 0.into();
        u.tx_tready.next = true;
        let messages = [
            Message::Accepted {
                ballot: Ballot::new(4, 0),
                slot: 0x0102_0304_0506_0708,
            },
            Message::Nack {
                ballot: Ballot::new(5, 2),
                slot: 3,
            },
            Message::Commit {
                ballot: Ballot::new(4, 0),
                commit: 77,
            },
        ];
        for message in &messages {
            let (kind, ballot, slot, commit) = match message {
                Message::Accepted { ballot, slot } => (2u64, ballot.0, *slot, 0),
                Message::Nack { ballot, slot } => (4, ballot.0, *slot, 0),
                Message::Commit { ballot, commit } => (3, ballot.0, 0, *commit),
                _ => unreachable!("only header-only messages here"),
            };
            let u = &mut bench.uut;
            u.push.next = true;
            u.kind.next = kind.into();
            u.to.next = 1.into();
            u.ballot.next = ballot.into();
            u.slot.next = slot.into();
            u.commit.next = commit.into();
            bench.step();
        }
        bench.uut.push.next = false;
        let mut frames = vec![];
        let mut partial = vec![];
        for _ in 0..20 {
            bench.settle();
            let u = &bench.uut;
            if u.tx_tvalid.val() {
                let beat = Beat::from_tdata(u.tx_tdata.val(), u.tx_tkeep.val(), u.tx_tlast.val());
                partial.extend_from_slice(beat.bytes());
                if beat.last {
                    frames.push(std::mem::take(&mut partial));
                }
            }
            bench.step();
        }
        let expected: Vec<Vec<u8>> = messages
            .iter()
            .map(|m| {
                let datagram = Envelope {
                    group: 9,
                    sender: 0,
                    life: 0,
                    message: m.clone(),
                }
                .encode();
                encode_frame(&own, &peer, &datagram)
            })
            .collect();
        assert_eq!(frames, expected);
    }
}
