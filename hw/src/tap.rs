//! Header tap: the receive parser's field slices of a beat, as a leaf block
//! with its own simulation model. In Verilog it is wiring (`always @(*)`
//! part-selects, generated from the same `layout` offsets); in simulation it
//! slices the 512-bit beat once per new beat in native integers, because
//! RustHDL's wide `Bits` shift bit by bit and the parser would otherwise pay
//! that on every settle pass. Values are in bus byte order (byte `i` of the
//! field in bits `8i+7:8i`), exactly what a part-select yields.

use crate::beat::{BEAT_BYTES, Data};
use riptide_wire::layout::{self, eth, header, ipv4, udp};
use rust_hdl::prelude::*;

/// Byte offset in its beat of a header field (or of a byte within one).
const fn beat_byte(frame_byte: usize) -> usize {
    frame_byte % BEAT_BYTES
}

const R: usize = layout::RIPTIDE_OFFSET;

macro_rules! header_tap {
    ($($name:ident: $width:literal at $byte:expr;)*) => {
        #[derive(LogicBlock, Default)]
        pub struct HeaderTap {
            pub beat: Signal<In, Data>,
            $(pub $name: Signal<Out, Bits<$width>>,)*
            _seen: Box<Data>,
        }

        impl HeaderTap {
            /// Every slice: name, width in bits, byte offset in the beat.
            pub fn slices() -> Vec<(&'static str, usize, usize)> {
                vec![$((stringify!($name), $width, beat_byte($byte)),)*]
            }
        }

        impl Logic for HeaderTap {
            fn update(&mut self) {
                let beat = self.beat.val();
                if beat == *self._seen {
                    return;
                }
                *self._seen = beat;
                let mut bytes = [0u8; BEAT_BYTES + 8];
                for (i, byte) in bytes.iter_mut().take(BEAT_BYTES).enumerate() {
                    for bit in 0..8 {
                        if beat.get_bit(8 * i + bit) {
                            *byte |= 1 << bit;
                        }
                    }
                }
                $({
                    let at = beat_byte($byte);
                    let mut le = [0u8; 8];
                    le.copy_from_slice(&bytes[at..at + 8]);
                    let value = u64::from_le_bytes(le) & (u64::MAX >> (64 - $width));
                    self.$name.next = value.into();
                })*
            }

            fn connect(&mut self) {
                $(self.$name.connect();)*
            }

            fn hdl(&self) -> Verilog {
                let slices: String = HeaderTap::slices()
                    .iter()
                    .map(|(name, width, at)| format!("   {name} = beat[{}+:{width}];\n", 8 * at))
                    .collect();
                Verilog::Custom(format!("always @(*) begin\n{slices}end\n"))
            }
        }
    };
}

header_tap! {
    ethertype: 16 at eth::ETHERTYPE.offset;
    version_ihl: 8 at ipv4::VERSION_IHL.offset;
    total_len: 16 at ipv4::TOTAL_LEN.offset;
    flags_frag: 16 at ipv4::FLAGS_FRAG.offset;
    protocol: 8 at ipv4::PROTOCOL.offset;
    ip0: 16 at ipv4::VERSION_IHL.offset;
    ip1: 16 at ipv4::VERSION_IHL.offset + 2;
    ip2: 16 at ipv4::VERSION_IHL.offset + 4;
    ip3: 16 at ipv4::VERSION_IHL.offset + 6;
    ip4: 16 at ipv4::VERSION_IHL.offset + 8;
    ip5: 16 at ipv4::VERSION_IHL.offset + 10;
    ip6: 16 at ipv4::VERSION_IHL.offset + 12;
    ip7: 16 at ipv4::VERSION_IHL.offset + 14;
    ip8: 16 at ipv4::VERSION_IHL.offset + 16;
    ip9: 16 at ipv4::VERSION_IHL.offset + 18;
    udp_len: 16 at udp::LENGTH.offset;
    dst_port: 16 at udp::DST_PORT.offset;
    version: 8 at R + header::VERSION.offset;
    msg_type: 8 at R + header::MSG_TYPE.offset;
    group: 16 at R + header::GROUP.offset;
    sender: 8 at R + header::SENDER.offset;
    life: 8 at R + header::LIFE.offset;
    payload_len: 16 at R + header::PAYLOAD_LEN.offset;
    ballot: 64 at R + header::BALLOT.offset;
    slot_hi: 48 at R + header::SLOT.offset;
    slot_lo: 16 at R + header::SLOT.offset + 6;
    commit: 64 at R + header::COMMIT.offset;
}

const _: () = {
    assert!(layout::IPV4_LEN == 20 && header::SLOT.width == 8);
    // Beat-0 fields end inside beat 0; slot_lo and commit lie in beat 1.
    assert!(R + header::SLOT.offset + 6 == BEAT_BYTES);
    assert!(R + header::COMMIT.end() <= 2 * BEAT_BYTES);
};

#[cfg(test)]
mod tests {
    use super::*;
    use crate::beat::beats;

    #[test]
    fn slices_match_get_bits_and_every_slice_fits_its_beat() {
        let frame: Vec<u8> = (0..128u32).map(|i| (i * 7 + 3) as u8).collect();
        for beat in beats(&frame) {
            let mut tap = HeaderTap::default();
            tap.connect_all();
            tap.beat.next = beat.tdata();
            simulate(&mut tap, 10);
            assert_eq!(tap.ethertype.val(), beat.tdata().get_bits::<16>(8 * 12));
            assert_eq!(tap.ballot.val(), beat.tdata().get_bits::<64>(8 * 50));
            assert_eq!(tap.commit.val(), beat.tdata().get_bits::<64>(8 * 2));
            assert_eq!(tap.slot_lo.val(), beat.tdata().get_bits::<16>(0));
        }
        for (name, width, at) in HeaderTap::slices() {
            assert!(8 * at + width <= 512, "{name}");
        }
    }
}
