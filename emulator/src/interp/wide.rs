//! 64 x 64 -> 128-bit products: RV64M's high products (`mulh`, `mulhsu`, `mulhu`) and the
//! exact products of significands in the floating-point paths. One multiply instruction on
//! 64-bit hosts; wasm32 has none, and there a 128-bit product is a call to `__multi3`, a full
//! 128 x 128 product returned through memory (cpubench in the filter spent 0.8 host
//! instructions per guest instruction in it, for its `mulhu`s and libm's square root), so
//! wasm32 builds them from 32-bit halves.

/// The product of `a` and `b`.
#[cfg(not(target_arch = "wasm32"))]
#[inline(always)]
pub fn product(a: u64, b: u64) -> u128 {
    u128::from(a) * u128::from(b)
}

/// The product of `a` and `b`.
#[cfg(target_arch = "wasm32")]
#[inline(always)]
pub fn product(a: u64, b: u64) -> u128 {
    (u128::from(by_halves::high_unsigned(a, b)) << 64) | u128::from(a.wrapping_mul(b))
}

/// The high 64 bits of the product of `a` and `b`, both signed (`mulh`).
#[cfg(not(target_arch = "wasm32"))]
#[inline(always)]
pub fn high_signed(a: u64, b: u64) -> u64 {
    ((i128::from(a as i64) * i128::from(b as i64)) >> 64) as u64
}

/// The high 64 bits of the product of `a`, signed, and `b`, unsigned (`mulhsu`).
#[cfg(not(target_arch = "wasm32"))]
#[inline(always)]
pub fn high_signed_unsigned(a: u64, b: u64) -> u64 {
    ((i128::from(a as i64) * i128::from(b)) >> 64) as u64
}

/// The high 64 bits of the product of `a` and `b`, both unsigned (`mulhu`).
#[cfg(not(target_arch = "wasm32"))]
#[inline(always)]
pub fn high_unsigned(a: u64, b: u64) -> u64 {
    (product(a, b) >> 64) as u64
}

#[cfg(target_arch = "wasm32")]
pub use by_halves::{high_signed, high_signed_unsigned, high_unsigned};

/// The high products from 32-bit halves (wasm32's, and tested against the 128-bit ones on
/// every host).
#[cfg(any(test, target_arch = "wasm32"))]
mod by_halves {
    #[inline(always)]
    pub fn high_unsigned(a: u64, b: u64) -> u64 {
        let (a_low, a_high) = (a & 0xffff_ffff, a >> 32);
        let (b_low, b_high) = (b & 0xffff_ffff, b >> 32);
        // LLVM recognizes this sum of partial products as a 128-bit product's high half and
        // turns it back into one, the `__multi3` call again: one partial product it cannot
        // see through keeps the halves.
        let low_high = core::hint::black_box(a_low * b_high);
        let high_low = a_high * b_low;
        // Three terms below 2^32: no overflow; its high bits are the carry into the high half.
        let middle = ((a_low * b_low) >> 32) + (low_high & 0xffff_ffff) + (high_low & 0xffff_ffff);
        a_high * b_high + (low_high >> 32) + (high_low >> 32) + (middle >> 32)
    }

    // A signed operand's sign bit weighs -2^64 where the unsigned product counted +2^64: the
    // high product is the unsigned one less the other operand for each negative operand.
    #[inline(always)]
    pub fn high_signed_unsigned(a: u64, b: u64) -> u64 {
        high_unsigned(a, b).wrapping_sub(if (a as i64) < 0 { b } else { 0 })
    }

    #[inline(always)]
    pub fn high_signed(a: u64, b: u64) -> u64 {
        high_signed_unsigned(a, b).wrapping_sub(if (b as i64) < 0 { a } else { 0 })
    }
}

#[cfg(test)]
mod tests {
    use super::by_halves;

    /// The wasm32 forms against 128-bit products (one instruction natively, `__multi3` inside
    /// wasm, where scripts/test.sh runs this too), on the values where carries and signs turn
    /// and on pseudo-random ones.
    #[test]
    fn products_by_halves_match_128_bit_products() {
        let mut values = vec![
            0,
            1,
            2,
            0xffff_ffff,
            0x1_0000_0000,
            0x7fff_ffff_ffff_ffff,
            0x8000_0000_0000_0000,
            0x8000_0000_0000_0001,
            u64::MAX - 1,
            u64::MAX,
        ];
        let mut state = 0x9e37_79b9_7f4a_7c15u64;
        values.extend((0..200).map(|_| {
            // xorshift64
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        }));
        for &a in &values {
            for &b in &values {
                let operands = format!("{a:#x} * {b:#x}");
                let signed = (i128::from(a as i64) * i128::from(b as i64)) >> 64;
                let signed_unsigned = (i128::from(a as i64) * i128::from(b)) >> 64;
                let unsigned = u128::from(a) * u128::from(b);
                assert_eq!(
                    by_halves::high_signed(a, b),
                    signed as u64,
                    "mulh {operands}"
                );
                assert_eq!(
                    by_halves::high_signed_unsigned(a, b),
                    signed_unsigned as u64,
                    "mulhsu {operands}"
                );
                assert_eq!(
                    by_halves::high_unsigned(a, b),
                    (unsigned >> 64) as u64,
                    "mulhu {operands}"
                );
                assert_eq!(super::product(a, b), unsigned, "product {operands}");
            }
        }
    }
}
