//! Byte order. AXI4-Stream carries frame byte `i` in `tdata[8i+7:8i]`, so a
//! big-endian header field read straight off the bus has its bytes reversed.
//!
//! A leaf block: in Verilog pure wiring (a concatenation of byte slices); in
//! simulation `u64::swap_bytes`, recomputed only when the word changes
//! (RustHDL's 64-bit `Bits` would otherwise shift bit by bit on every pass).

use rust_hdl::prelude::*;

/// Reverses the bytes of a 64-bit word: wire order to number and back.
/// A 16-bit field placed in the low bits of `word` comes out in `swapped16`.
#[derive(LogicBlock, Default)]
pub struct Swap64 {
    pub word: Signal<In, Bits<64>>,
    pub swapped: Signal<Out, Bits<64>>,
    pub swapped16: Signal<Out, Bits<16>>,
    _seen: Option<u64>,
}

impl Logic for Swap64 {
    fn update(&mut self) {
        let word = self.word.val().to_u64();
        if self._seen == Some(word) {
            return;
        }
        self._seen = Some(word);
        self.swapped.next = word.swap_bytes().into();
        self.swapped16.next = u64::from((word as u16).swap_bytes()).into();
    }

    fn connect(&mut self) {
        self.swapped.connect();
        self.swapped16.connect();
    }

    fn hdl(&self) -> Verilog {
        let bytes: Vec<String> = (0..8)
            .map(|i| format!("word[{}:{}]", 8 * i + 7, 8 * i))
            .collect();
        Verilog::Custom(format!(
            "always @(*) begin\n   swapped = {{{}}};\n   swapped16 = {{word[7:0], word[15:8]}};\nend\n",
            bytes.join(", ")
        ))
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
        let verilog = generate_verilog(&uut);
        assert!(verilog.contains("swapped = {word[7:0], word[15:8], word[23:16]"));
    }
}
