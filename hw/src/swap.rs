//! Byte order. AXI4-Stream carries frame byte `i` in `tdata[8i+7:8i]`, so a
//! big-endian header field read straight off the bus has its bytes reversed.

use rust_hdl::prelude::*;

/// Reverses the bytes of a 64-bit word: wire order to number and back.
/// A 16-bit field placed in the low bits of `word` comes out in `swapped16`.
#[derive(LogicBlock, Default)]
pub struct Swap64 {
    pub word: Signal<In, Bits<64>>,
    pub swapped: Signal<Out, Bits<64>>,
    pub swapped16: Signal<Out, Bits<16>>,
    bytes: Signal<Local, Bits<64>>,
    halves: Signal<Local, Bits<64>>,
}

impl Logic for Swap64 {
    #[hdl_gen]
    fn update(&mut self) {
        self.bytes.next = ((self.word.val() & 0x00FF_00FF_00FF_00FF_u64) << 8)
            | ((self.word.val() >> 8) & 0x00FF_00FF_00FF_00FF_u64);
        self.halves.next = ((self.bytes.val() & 0x0000_FFFF_0000_FFFF_u64) << 16)
            | ((self.bytes.val() >> 16) & 0x0000_FFFF_0000_FFFF_u64);
        self.swapped.next = (self.halves.val() << 32) | (self.halves.val() >> 32);
        self.swapped16.next = self.bytes.val().get_bits::<16>(0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reverses_bytes() {
        let mut uut = Swap64::default();
        uut.connect_all();
        for x in [0u64, 1, 0x0102_0304_0506_0708, u64::MAX, 0xDEAD_BEEF] {
            uut.word.next = x.into();
            assert!(simulate(&mut uut, 10));
            assert_eq!(uut.swapped.val().to_u64(), x.swap_bytes());
        }
        uut.word.next = 0x1234u64.into();
        simulate(&mut uut, 10);
        assert_eq!(uut.swapped16.val().to_u64(), 0x3412);
    }
}
