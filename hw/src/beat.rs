//! The 512-bit AXI4-Stream beat every stream of the core uses, as a 100G CMAC
//! and XDMA/QDMA streaming present it: frame byte `i` of a beat in
//! `tdata[8i+7:8i]`, `tkeep` one bit per byte.

use riptide_wire::regs::Counter;
use rust_hdl::prelude::*;

pub const BEAT_BYTES: usize = 64;
pub type Data = Bits<512>;
pub type Keep = Bits<64>;

/// Bit offset of frame byte `byte` within its beat.
pub const fn bit_in_beat(byte: usize) -> usize {
    (byte % BEAT_BYTES) * 8
}

/// A counter's index as the 6-bit code the core's units exchange.
pub fn counter_code(counter: Counter) -> Bits<6> {
    (counter.index() as u64).into()
}

const _: () = assert!(Counter::COUNT <= 64, "counter codes are 6 bits");

/// `tkeep` for a beat holding `bytes` bytes (1..=64).
pub fn keep_for(bytes: usize) -> u64 {
    if bytes >= BEAT_BYTES {
        u64::MAX
    } else {
        (1u64 << bytes) - 1
    }
}

/// `tkeep` of a packet's last beat from the packet's length modulo 64
/// (`tail`, 0 meaning a full beat). A leaf block: in Verilog one compare of
/// the six bits per keep bit (a LUT each; the shift `~0 >> (64 - tail)` it
/// replaces was a subtract and a six-stage barrel shifter on the transmit
/// builder's and the leader unit's longest paths); in simulation
/// [`keep_for`].
#[derive(LogicBlock, Default)]
pub struct KeepFor {
    pub tail: Signal<In, Bits<6>>,
    pub keep: Signal<Out, Keep>,
}

impl Logic for KeepFor {
    fn update(&mut self) {
        let tail = self.tail.val().to_u64() as usize;
        self.keep.next = keep_for(if tail == 0 { BEAT_BYTES } else { tail }).into();
    }

    fn connect(&mut self) {
        self.keep.connect();
    }

    fn hdl(&self) -> Verilog {
        // The top byte is kept only by a full beat (`tail > 63` would be a
        // constant compare, which lint rejects).
        let bits: String = (0..BEAT_BYTES)
            .map(|i| match i {
                63 => format!("   keep[{i}] = (tail == 6'd0);\n"),
                _ => format!("   keep[{i}] = (tail == 6'd0) | (tail > 6'd{i});\n"),
            })
            .collect();
        Verilog::Custom(format!("always @(*) begin\n{bits}end\n"))
    }
}

/// One beat as test benches and the Verilog wrapper see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Beat {
    pub data: [u8; BEAT_BYTES],
    pub keep: u64,
    pub last: bool,
}

impl Beat {
    pub fn tdata(&self) -> Data {
        let mut bits = Data::default();
        for (i, chunk) in self.data.chunks(8).enumerate() {
            let word = u64::from_le_bytes(chunk.try_into().expect("8-byte chunk"));
            bits = bits | (bit_cast::<512, 64>(word.into()) << (64 * i) as u64);
        }
        bits
    }

    pub fn from_tdata(data: Data, keep: Keep, last: bool) -> Beat {
        let mut bytes = [0u8; BEAT_BYTES];
        for (i, chunk) in bytes.chunks_mut(8).enumerate() {
            let word = data.get_bits::<64>(64 * i).to_u64();
            chunk.copy_from_slice(&word.to_le_bytes());
        }
        Beat {
            data: bytes,
            keep: keep.to_u64(),
            last,
        }
    }

    /// The bytes `tkeep` marks (a contiguous prefix in well-formed streams).
    pub fn bytes(&self) -> &[u8] {
        &self.data[..self.keep.count_ones() as usize]
    }
}

/// A packet cut into beats (an empty packet is one beat with no bytes).
pub fn beats(packet: &[u8]) -> Vec<Beat> {
    let chunks: Vec<&[u8]> = if packet.is_empty() {
        vec![&[]]
    } else {
        packet.chunks(BEAT_BYTES).collect()
    };
    let n = chunks.len();
    chunks
        .into_iter()
        .enumerate()
        .map(|(i, chunk)| {
            let mut data = [0u8; BEAT_BYTES];
            data[..chunk.len()].copy_from_slice(chunk);
            Beat {
                data,
                keep: keep_for(chunk.len()),
                last: i + 1 == n,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keep_for_leaf_matches_its_verilog_and_every_tail() {
        let mut leaf = KeepFor::default();
        leaf.connect_all();
        for tail in 0..64u64 {
            leaf.tail.next = tail.into();
            assert!(simulate(&mut leaf, 10));
            let want = if tail == 0 { u64::MAX } else { (1 << tail) - 1 };
            assert_eq!(leaf.keep.val().to_u64(), want, "tail {tail}");
        }
        let verilog = generate_verilog(&leaf);
        assert!(
            verilog.contains("keep[5] = (tail == 6'd0) | (tail > 6'd5);"),
            "{verilog}"
        );
    }

    #[test]
    fn beats_round_trip_through_tdata() {
        let packet: Vec<u8> = (0..150u32).map(|i| i as u8).collect();
        let cut = beats(&packet);
        assert_eq!(cut.len(), 3);
        assert_eq!(cut[2].keep, keep_for(22));
        let mut back = vec![];
        for b in &cut {
            let again = Beat::from_tdata(b.tdata(), b.keep.into(), b.last);
            assert_eq!(&again, b);
            back.extend_from_slice(again.bytes());
        }
        assert_eq!(back, packet);
        assert_eq!(cut[0].tdata().get_bits::<8>(8 * 5).to_u64(), 5);
    }
}
