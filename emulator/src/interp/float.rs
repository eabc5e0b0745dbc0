//! RISC-V F and D extension arithmetic on raw bit patterns.
//!
//! Every function takes and returns IEEE 754 binary32 (`u32`) or binary64
//! (`u64`) bit patterns and ORs the RISC-V exception flags it raises into
//! `*flags`. Results follow the RISC-V unprivileged spec: NaN results are
//! always the canonical NaN, underflow is detected after rounding and only
//! reported together with inexact, and conversions to integers saturate.
//!
//! Two implementations sit behind each rounding operation:
//! - a slow path that computes the exact result with integer arithmetic and
//!   rounds it once in any rounding mode (`round_and_pack`);
//! - for round-to-nearest-even, a fast path that uses host floating point
//!   (which rounds to nearest even) and derives the flags from an exact
//!   error or exactness test, falling back to the slow path for NaN/infinite
//!   operands and for results near the underflow threshold. Square root uses
//!   the host root in every rounding mode, stepping one ulp when the exact
//!   comparison of its square with the operand says so.
//!
//! Fused multiply-add has fast paths too: singles through exact binary64
//! arithmetic, doubles through the host's fused multiply-add where it is an
//! instruction (x86-64 with FMA, AArch64). The conversions always use the
//! integer path; it is a few times slower than the fast paths but has no loops.

// Narrowing casts here take fields out of IEEE bit patterns and results out of wide
// intermediates whose range the code around them establishes.
#![expect(
    clippy::cast_possible_truncation,
    reason = "bit-field extraction from IEEE formats and checked-range intermediates"
)]

use core::cmp::Ordering;
use core::ops::{Add, Div, Mul, Sub};

use super::wide;

pub const FLAG_NV: u8 = 0x10;
pub const FLAG_DZ: u8 = 0x08;
pub const FLAG_OF: u8 = 0x04;
pub const FLAG_UF: u8 = 0x02;
pub const FLAG_NX: u8 = 0x01;

pub const CANONICAL_NAN_S: u32 = 0x7fc0_0000;
pub const CANONICAL_NAN_D: u64 = 0x7ff8_0000_0000_0000;

/// Static rounding modes of the `rm` field; dynamic (7) is resolved by the caller.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RoundingMode {
    NearestEven,
    TowardZero,
    Down,
    Up,
    NearestMaxMagnitude,
}

impl RoundingMode {
    /// Decodes an `rm`/`frm` value; 5, 6 and 7 are not rounding modes by themselves.
    pub fn from_bits(rm: u8) -> Option<RoundingMode> {
        match rm {
            0 => Some(RoundingMode::NearestEven),
            1 => Some(RoundingMode::TowardZero),
            2 => Some(RoundingMode::Down),
            3 => Some(RoundingMode::Up),
            4 => Some(RoundingMode::NearestMaxMagnitude),
            _ => None,
        }
    }
}

// The host's square roots: std's are the target's instruction (wasm32's `f64.sqrt` too);
// without std, libm's, which stable Rust builds in software on wasm32 (with 128-bit
// products: `__multi3` calls). Out of line in wasm32, as libm's was: inlined there,
// Cranelift's code of the `match` loop took 4% more host instructions on cpubench.
#[cfg(feature = "std")]
#[cfg_attr(target_arch = "wasm32", inline(never))]
fn sqrt_f64(value: f64) -> f64 {
    value.sqrt()
}
#[cfg(feature = "std")]
#[cfg_attr(target_arch = "wasm32", inline(never))]
fn sqrt_f32(value: f32) -> f32 {
    value.sqrt()
}
#[cfg(not(feature = "std"))]
use libm::{sqrt as sqrt_f64, sqrtf as sqrt_f32};

/// The fast paths rely on host `+ - * /` being IEEE binary32/binary64 with
/// round-to-nearest-even and gradual underflow, true on these targets (and
/// on the host's square roots being correctly rounded, which they are).
const HOST_ARITHMETIC_IS_IEEE: bool = cfg!(any(
    target_arch = "x86_64",
    all(target_arch = "x86", target_feature = "sse2"),
    target_arch = "wasm32",
    target_arch = "aarch64",
    target_arch = "riscv64",
));

/// One IEEE binary interchange format. Bit patterns of both formats travel
/// as `u64` internally; for single precision the upper 32 bits are zero.
trait Format {
    type Host: Copy
        + Add<Output = Self::Host>
        + Sub<Output = Self::Host>
        + Mul<Output = Self::Host>
        + Div<Output = Self::Host>;
    const FRACTION_BITS: u32;
    const EXPONENT_BITS: u32;
    const CANONICAL_NAN: u64;

    fn host_from_bits(bits: u64) -> Self::Host;
    fn host_to_bits(value: Self::Host) -> u64;
    fn host_sqrt(value: Self::Host) -> Self::Host;
    /// `a * b + c` in round-to-nearest-even by host floating point, for finite nonzero
    /// operands, when it can tell the flags exactly; `None` leaves it to the exact path.
    fn fma_fast(a: u64, b: u64, c: u64, flags: &mut u8) -> Option<u64>;

    /// Significand width including the implicit leading bit.
    const PRECISION: u32 = Self::FRACTION_BITS + 1;
    const SIGN_MASK: u64 = 1 << (Self::FRACTION_BITS + Self::EXPONENT_BITS);
    const MAGNITUDE_MASK: u64 = Self::SIGN_MASK - 1;
    const FRACTION_MASK: u64 = (1 << Self::FRACTION_BITS) - 1;
    const EXPONENT_FIELD_MAX: u64 = (1 << Self::EXPONENT_BITS) - 1;
    const INFINITY: u64 = Self::EXPONENT_FIELD_MAX << Self::FRACTION_BITS;
    const MAX_FINITE: u64 = Self::INFINITY - 1;
    const MIN_NORMAL: u64 = 1 << Self::FRACTION_BITS;
    const QUIET_BIT: u64 = 1 << (Self::FRACTION_BITS - 1);
    const BIAS: i32 = (1 << (Self::EXPONENT_BITS - 1)) - 1;
    /// Exponent of the smallest normal number.
    const MIN_EXPONENT: i32 = 1 - Self::BIAS;
    /// Weight (as a power of two) of the last significand bit of subnormals
    /// and of the smallest binade of normals.
    const MIN_QUANTUM: i32 = Self::MIN_EXPONENT - Self::FRACTION_BITS as i32;
    /// Weight of the last significand bit in the largest finite binade.
    const MAX_QUANTUM: i32 = Self::BIAS - Self::FRACTION_BITS as i32;
}

#[derive(Clone, Copy, Debug)]
struct Single;

#[derive(Clone, Copy, Debug)]
struct Double;

impl Format for Single {
    type Host = f32;
    const FRACTION_BITS: u32 = 23;
    const EXPONENT_BITS: u32 = 8;
    const CANONICAL_NAN: u64 = CANONICAL_NAN_S as u64;

    #[inline(always)]
    fn host_from_bits(bits: u64) -> f32 {
        f32::from_bits(bits as u32)
    }
    #[inline(always)]
    fn host_to_bits(value: f32) -> u64 {
        u64::from(value.to_bits())
    }
    #[inline(always)]
    fn host_sqrt(value: f32) -> f32 {
        sqrt_f32(value)
    }
    #[inline(always)]
    fn fma_fast(a: u64, b: u64, c: u64, flags: &mut u8) -> Option<u64> {
        fma_fast_s(a, b, c, flags)
    }
}

impl Format for Double {
    type Host = f64;
    const FRACTION_BITS: u32 = 52;
    const EXPONENT_BITS: u32 = 11;
    const CANONICAL_NAN: u64 = CANONICAL_NAN_D;

    #[inline(always)]
    fn host_from_bits(bits: u64) -> f64 {
        f64::from_bits(bits)
    }
    #[inline(always)]
    fn host_to_bits(value: f64) -> u64 {
        value.to_bits()
    }
    #[inline(always)]
    fn host_sqrt(value: f64) -> f64 {
        sqrt_f64(value)
    }
    #[inline(always)]
    fn fma_fast(a: u64, b: u64, c: u64, flags: &mut u8) -> Option<u64> {
        fma_fast_d(a, b, c, flags)
    }
}

// ---------------------------------------------------------------------------
// Bit-pattern predicates

#[inline(always)]
fn is_nan<F: Format>(bits: u64) -> bool {
    bits & F::MAGNITUDE_MASK > F::INFINITY
}

#[inline(always)]
fn is_signaling_nan<F: Format>(bits: u64) -> bool {
    is_nan::<F>(bits) && bits & F::QUIET_BIT == 0
}

#[inline(always)]
fn is_infinite<F: Format>(bits: u64) -> bool {
    bits & F::MAGNITUDE_MASK == F::INFINITY
}

/// Neither infinite nor NaN.
#[inline(always)]
fn is_finite<F: Format>(bits: u64) -> bool {
    bits & F::INFINITY != F::INFINITY
}

#[inline(always)]
fn is_zero<F: Format>(bits: u64) -> bool {
    bits & F::MAGNITUDE_MASK == 0
}

#[inline(always)]
fn is_negative<F: Format>(bits: u64) -> bool {
    bits & F::SIGN_MASK != 0
}

#[inline(always)]
fn sign_bit<F: Format>(negative: bool) -> u64 {
    if negative {
        F::SIGN_MASK
    } else {
        0
    }
}

/// The sign of an exact zero sum of operands of opposite signs (IEEE 754 6.3).
#[inline(always)]
fn exact_zero_sum<F: Format>(rm: RoundingMode) -> u64 {
    sign_bit::<F>(rm == RoundingMode::Down)
}

/// A finite nonzero value `significand * 2^exponent`, sign kept apart.
#[derive(Clone, Copy, Debug)]
struct Unpacked {
    negative: bool,
    exponent: i32,
    significand: u64,
}

/// Splits a finite nonzero bit pattern into an integer significand and a
/// power-of-two exponent (subnormals are not normalised).
#[inline(always)]
fn unpack<F: Format>(bits: u64) -> Unpacked {
    let exponent_field = (bits >> F::FRACTION_BITS) & F::EXPONENT_FIELD_MAX;
    let implicit_bit = u64::from(exponent_field != 0) << F::FRACTION_BITS;
    Unpacked {
        negative: is_negative::<F>(bits),
        exponent: exponent_field.max(1) as i32 - 1 + F::MIN_QUANTUM,
        significand: (bits & F::FRACTION_MASK) | implicit_bit,
    }
}

// ---------------------------------------------------------------------------
// Rounding

/// Shifts right by `amount`, ORing every bit shifted out into bit 0, so that
/// later rounding still sees that the value was inexact.
#[inline]
fn shift_right_jam(value: u128, amount: u32) -> u128 {
    if amount == 0 {
        value
    } else if amount >= 128 {
        u128::from(value != 0)
    } else {
        (value >> amount) | u128::from(value << (128 - amount) != 0)
    }
}

/// Rounds `(significand + fraction) * 2^exponent`, where `fraction` is in
/// (0, 1) if `sticky` and 0 otherwise, to an integer multiple of
/// `2^quantum`. Returns that multiple and whether rounding was inexact.
///
/// `quantum - exponent` must be at least 1 when `sticky` is set (there is
/// then at least one significand bit below the rounding position, so jamming
/// the sticky fraction into it keeps ties and non-ties apart).
#[inline]
fn round_to_quantum(
    negative: bool,
    exponent: i32,
    significand: u128,
    sticky: bool,
    quantum: i32,
    rm: RoundingMode,
) -> (u128, bool) {
    let dropped_bits = quantum.saturating_sub(exponent);
    // Keep two bits below the quantum: the half bit and an "anything below
    // half" bit that everything further down is jammed into.
    let extended = if dropped_bits >= 2 {
        shift_right_jam(significand, (dropped_bits - 2) as u32)
    } else {
        significand
            .checked_shl((2 - dropped_bits) as u32)
            .unwrap_or(0)
    } | u128::from(sticky);
    let kept = extended >> 2;
    let remainder = extended & 3;
    let inexact = remainder != 0;
    let half_or_more = remainder & 2 != 0;
    // Non-short-circuit operators: these bits are unpredictable, so avoid branches.
    let round_up = match rm {
        RoundingMode::NearestEven => half_or_more & (remainder & 1 != 0 || kept & 1 != 0),
        RoundingMode::NearestMaxMagnitude => half_or_more,
        RoundingMode::TowardZero => false,
        RoundingMode::Down => inexact & negative,
        RoundingMode::Up => inexact & !negative,
    };
    (kept + u128::from(round_up), inexact)
}

/// The result of an overflow: infinity or the largest finite number,
/// whichever the rounding mode rounds to.
#[inline]
fn overflow_result<F: Format>(negative: bool, rm: RoundingMode, flags: &mut u8) -> u64 {
    *flags |= FLAG_OF | FLAG_NX;
    let to_infinity = match rm {
        RoundingMode::NearestEven | RoundingMode::NearestMaxMagnitude => true,
        RoundingMode::TowardZero => false,
        RoundingMode::Down => negative,
        RoundingMode::Up => !negative,
    };
    sign_bit::<F>(negative)
        | if to_infinity {
            F::INFINITY
        } else {
            F::MAX_FINITE
        }
}

/// Rounds the exact value `±(significand + fraction) * 2^exponent` (fraction
/// in (0, 1) if `sticky`, else 0) to format `F` and raises OF/UF/NX.
///
/// When `sticky` is set the significand must have more than `PRECISION`
/// significant bits, so that the sticky fraction lies below the rounding
/// position. A zero significand without `sticky` gives a signed zero.
fn round_and_pack<F: Format>(
    negative: bool,
    exponent: i32,
    significand: u128,
    sticky: bool,
    rm: RoundingMode,
    flags: &mut u8,
) -> u64 {
    let sign = sign_bit::<F>(negative);
    if significand == 0 {
        return sign;
    }
    let precision = F::PRECISION as i32;
    let top_bit = 127 - significand.leading_zeros() as i32;
    // The value lies in [2^top_exponent, 2^(top_exponent + 1)).
    let top_exponent = exponent + top_bit;
    let mut quantum = (top_exponent - (precision - 1)).max(F::MIN_QUANTUM);
    let (mut rounded, inexact) =
        round_to_quantum(negative, exponent, significand, sticky, quantum, rm);
    if rounded >> precision != 0 {
        // Rounding carried into the next binade; the dropped bit is zero.
        rounded >>= 1;
        quantum += 1;
    }
    if quantum > F::MAX_QUANTUM {
        return overflow_result::<F>(negative, rm, flags);
    }
    if inexact {
        *flags |= FLAG_NX;
        if top_exponent < F::MIN_EXPONENT {
            // Tiny after rounding means: rounded to full precision with an
            // unbounded exponent range, the result is still below the
            // smallest normal. Only a value just below it can round up to it.
            let tiny = top_exponent < F::MIN_EXPONENT - 1 || {
                let unbounded_quantum = top_exponent - (precision - 1);
                let (unbounded, _) = round_to_quantum(
                    negative,
                    exponent,
                    significand,
                    sticky,
                    unbounded_quantum,
                    rm,
                );
                unbounded >> precision == 0
            };
            if tiny {
                *flags |= FLAG_UF;
            }
        }
    }
    // With the implicit bit in `rounded`, adding it to the exponent field
    // offset yields the biased exponent; subnormals have quantum MIN_QUANTUM
    // and no implicit bit, and a carry into it gives the smallest normal.
    let exponent_offset = (quantum - F::MIN_QUANTUM) as u64;
    sign | ((exponent_offset << F::FRACTION_BITS) + rounded as u64)
}

// ---------------------------------------------------------------------------
// Slow exact paths (any rounding mode)

/// Leading bit position that operands of `add_exact` are aligned to; it
/// leaves bit 127 free for the carry of a sum.
const ALIGNED_TOP_BIT: u32 = 126;

/// An exact nonzero value `±significand * 2^exponent` with a wide significand.
#[derive(Clone, Copy, Debug)]
struct ExactValue {
    negative: bool,
    exponent: i32,
    significand: u128,
}

impl From<Unpacked> for ExactValue {
    fn from(value: Unpacked) -> ExactValue {
        ExactValue {
            negative: value.negative,
            exponent: value.exponent,
            significand: value.significand.into(),
        }
    }
}

impl ExactValue {
    /// The same value with the leading significand bit at `ALIGNED_TOP_BIT`.
    #[inline]
    fn aligned_high(self) -> ExactValue {
        let shift = self
            .significand
            .leading_zeros()
            .saturating_sub(127 - ALIGNED_TOP_BIT);
        ExactValue {
            exponent: self.exponent - shift as i32,
            significand: self.significand << shift,
            ..self
        }
    }
}

/// Adds two exact nonzero values (significands of at most 107 bits) and
/// rounds the sum once.
fn add_exact<F: Format>(x: ExactValue, y: ExactValue, rm: RoundingMode, flags: &mut u8) -> u64 {
    let (x, y) = (x.aligned_high(), y.aligned_high());
    let (big, small) = if x.exponent >= y.exponent {
        (x, y)
    } else {
        (y, x)
    };
    // Both operands have at least 20 trailing zero bits after alignment, so
    // shifts up to that are exact. Larger shifts may jam, but then at most
    // one leading bit can cancel and the jammed bit stays far below the
    // rounding position.
    let distance = u32::try_from(big.exponent - small.exponent).unwrap_or(u32::MAX);
    let small_significand = shift_right_jam(small.significand, distance);
    if big.negative == small.negative {
        let sum = big.significand + small_significand;
        return round_and_pack::<F>(big.negative, big.exponent, sum, false, rm, flags);
    }
    let (negative, difference) = if big.significand >= small_significand {
        (big.negative, big.significand - small_significand)
    } else {
        (small.negative, small_significand - big.significand)
    };
    if difference == 0 {
        return exact_zero_sum::<F>(rm);
    }
    round_and_pack::<F>(negative, big.exponent, difference, false, rm, flags)
}

fn add_slow<F: Format>(a: u64, b: u64, rm: RoundingMode, flags: &mut u8) -> u64 {
    if is_nan::<F>(a) || is_nan::<F>(b) {
        if is_signaling_nan::<F>(a) || is_signaling_nan::<F>(b) {
            *flags |= FLAG_NV;
        }
        return F::CANONICAL_NAN;
    }
    if is_infinite::<F>(a) {
        if is_infinite::<F>(b) && is_negative::<F>(a) != is_negative::<F>(b) {
            *flags |= FLAG_NV;
            return F::CANONICAL_NAN;
        }
        return a;
    }
    if is_infinite::<F>(b) {
        return b;
    }
    if is_zero::<F>(a) {
        if is_zero::<F>(b) && is_negative::<F>(a) != is_negative::<F>(b) {
            return exact_zero_sum::<F>(rm);
        }
        return b;
    }
    if is_zero::<F>(b) {
        return a;
    }
    add_exact::<F>(unpack::<F>(a).into(), unpack::<F>(b).into(), rm, flags)
}

fn mul_slow<F: Format>(a: u64, b: u64, rm: RoundingMode, flags: &mut u8) -> u64 {
    if is_nan::<F>(a) || is_nan::<F>(b) {
        if is_signaling_nan::<F>(a) || is_signaling_nan::<F>(b) {
            *flags |= FLAG_NV;
        }
        return F::CANONICAL_NAN;
    }
    let sign = (a ^ b) & F::SIGN_MASK;
    if is_infinite::<F>(a) || is_infinite::<F>(b) {
        if is_zero::<F>(a) || is_zero::<F>(b) {
            *flags |= FLAG_NV;
            return F::CANONICAL_NAN;
        }
        return sign | F::INFINITY;
    }
    if is_zero::<F>(a) || is_zero::<F>(b) {
        return sign;
    }
    let x = unpack::<F>(a);
    let y = unpack::<F>(b);
    let product = wide::product(x.significand, y.significand);
    round_and_pack::<F>(
        sign != 0,
        x.exponent + y.exponent,
        product,
        false,
        rm,
        flags,
    )
}

/// Shifts a nonzero significand left so its leading bit is bit 63.
#[inline]
fn normalize_to_top(value: Unpacked) -> (i32, u64) {
    let shift = value.significand.leading_zeros();
    (value.exponent - shift as i32, value.significand << shift)
}

fn div_slow<F: Format>(a: u64, b: u64, rm: RoundingMode, flags: &mut u8) -> u64 {
    if is_nan::<F>(a) || is_nan::<F>(b) {
        if is_signaling_nan::<F>(a) || is_signaling_nan::<F>(b) {
            *flags |= FLAG_NV;
        }
        return F::CANONICAL_NAN;
    }
    let sign = (a ^ b) & F::SIGN_MASK;
    if is_infinite::<F>(a) {
        if is_infinite::<F>(b) {
            *flags |= FLAG_NV;
            return F::CANONICAL_NAN;
        }
        return sign | F::INFINITY;
    }
    if is_infinite::<F>(b) {
        return sign;
    }
    if is_zero::<F>(b) {
        if is_zero::<F>(a) {
            *flags |= FLAG_NV;
            return F::CANONICAL_NAN;
        }
        *flags |= FLAG_DZ;
        return sign | F::INFINITY;
    }
    if is_zero::<F>(a) {
        return sign;
    }
    let (dividend_exponent, dividend) = normalize_to_top(unpack::<F>(a));
    let (divisor_exponent, divisor) = normalize_to_top(unpack::<F>(b));
    // (dividend * 2^64) / divisor has 64 or 65 bits: enough for rounding,
    // with the remainder as sticky fraction.
    let numerator = u128::from(dividend) << 64;
    let divisor = u128::from(divisor);
    let quotient = numerator / divisor;
    let remainder = numerator % divisor;
    round_and_pack::<F>(
        sign != 0,
        dividend_exponent - divisor_exponent - 64,
        quotient,
        remainder != 0,
        rm,
        flags,
    )
}

/// Floor of the square root of `value`, and whether it is exact.
fn integer_sqrt(value: u128) -> (u128, bool) {
    // Digit-by-digit method: one result bit per iteration.
    let mut remainder = value;
    let mut root: u128 = 0;
    let top_pair = (127 - value.leading_zeros().min(127)) & !1;
    let mut bit: u128 = 1 << top_pair;
    while bit != 0 {
        if remainder >= root + bit {
            remainder -= root + bit;
            root = (root >> 1) + bit;
        } else {
            root >>= 1;
        }
        bit >>= 2;
    }
    (root, remainder == 0)
}

fn sqrt_slow<F: Format>(a: u64, rm: RoundingMode, flags: &mut u8) -> u64 {
    if is_nan::<F>(a) {
        if is_signaling_nan::<F>(a) {
            *flags |= FLAG_NV;
        }
        return F::CANONICAL_NAN;
    }
    if is_zero::<F>(a) {
        return a; // sqrt(-0) = -0
    }
    if is_negative::<F>(a) {
        *flags |= FLAG_NV;
        return F::CANONICAL_NAN;
    }
    if is_infinite::<F>(a) {
        return a;
    }
    let (exponent, significand) = normalize_to_top(unpack::<F>(a));
    // Radicand of 127 or 128 bits with an even exponent, so its root has
    // 64 bits, more than enough for rounding.
    let shift = if exponent & 1 == 0 { 64 } else { 63 };
    let radicand = u128::from(significand) << shift;
    let (root, exact) = integer_sqrt(radicand);
    round_and_pack::<F>(false, (exponent - shift) / 2, root, !exact, rm, flags)
}

/// `a * b + c` rounded once (the instruction's negations already applied to `a` and `c`).
fn fma_slow<F: Format>(a: u64, b: u64, c: u64, rm: RoundingMode, flags: &mut u8) -> u64 {
    if is_signaling_nan::<F>(a) || is_signaling_nan::<F>(b) || is_signaling_nan::<F>(c) {
        *flags |= FLAG_NV;
    }
    // RISC-V: infinity times zero is invalid even when the addend is a quiet NaN.
    let infinity_times_zero =
        (is_infinite::<F>(a) && is_zero::<F>(b)) || (is_zero::<F>(a) && is_infinite::<F>(b));
    if infinity_times_zero {
        *flags |= FLAG_NV;
        return F::CANONICAL_NAN;
    }
    if is_nan::<F>(a) || is_nan::<F>(b) || is_nan::<F>(c) {
        return F::CANONICAL_NAN;
    }
    let product_negative = is_negative::<F>(a) ^ is_negative::<F>(b);
    let c_negative = is_negative::<F>(c);
    if is_infinite::<F>(a) || is_infinite::<F>(b) {
        if is_infinite::<F>(c) && c_negative != product_negative {
            *flags |= FLAG_NV;
            return F::CANONICAL_NAN;
        }
        return sign_bit::<F>(product_negative) | F::INFINITY;
    }
    if is_infinite::<F>(c) {
        return c;
    }
    if is_zero::<F>(a) || is_zero::<F>(b) {
        if !is_zero::<F>(c) {
            return c;
        }
        if c_negative == product_negative {
            return c;
        }
        return exact_zero_sum::<F>(rm);
    }
    let x = unpack::<F>(a);
    let y = unpack::<F>(b);
    let product = wide::product(x.significand, y.significand);
    let product_exponent = x.exponent + y.exponent;
    if is_zero::<F>(c) {
        return round_and_pack::<F>(
            product_negative,
            product_exponent,
            product,
            false,
            rm,
            flags,
        );
    }
    let product = ExactValue {
        negative: product_negative,
        exponent: product_exponent,
        significand: product,
    };
    add_exact::<F>(product, unpack::<F>(c).into(), rm, flags)
}

// ---------------------------------------------------------------------------
// Host floating-point fast paths. Each returns None when the slow path must
// decide (NaN or infinite operands, results that may underflow).

/// Compares `|x * y|` with `|target|` exactly, for finite nonzero operands.
#[inline(always)]
fn compare_product<F: Format>(x: u64, y: u64, target: u64) -> Ordering {
    let x = unpack::<F>(x);
    let y = unpack::<F>(y);
    let product = ExactValue {
        negative: false,
        exponent: x.exponent + y.exponent,
        significand: wide::product(x.significand, y.significand),
    }
    .aligned_high();
    let target = ExactValue::from(unpack::<F>(target)).aligned_high();
    // With equal leading bit positions, exponents order first.
    (product.exponent, product.significand).cmp(&(target.exponent, target.significand))
}

/// The product of two nonzero significands without its trailing zero bits, and how many
/// there were, if that odd part fits in `F::PRECISION` bits (else the product is not
/// representable). In 64 bits, with no 128-bit multiply, which wasm32 has no instruction for:
/// the odd parts' product has as many bits as their lengths together or one fewer, so the
/// lengths rule out all but products of at most `PRECISION + 1` bits.
#[inline(always)]
fn odd_product<F: Format>(x: u64, y: u64) -> Option<(u64, u32)> {
    let (x_zeros, y_zeros) = (x.trailing_zeros(), y.trailing_zeros());
    let (x_odd, y_odd) = (x >> x_zeros, y >> y_zeros);
    let lengths = (u64::BITS - x_odd.leading_zeros()) + (u64::BITS - y_odd.leading_zeros());
    if lengths > F::PRECISION + 1 {
        return None;
    }
    let odd = x_odd * y_odd;
    (odd >> F::PRECISION == 0).then_some((odd, x_zeros + y_zeros))
}

/// Whether `|x * y| == |target|` exactly, for finite nonzero operands;
/// cheaper than `compare_product`.
#[inline(always)]
fn product_equals<F: Format>(x: u64, y: u64, target: u64) -> bool {
    let x = unpack::<F>(x);
    let y = unpack::<F>(y);
    let target = unpack::<F>(target);
    let Some((odd, zeros)) = odd_product::<F>(x.significand, y.significand) else {
        return false;
    };
    let target_zeros = target.significand.trailing_zeros();
    // Equal odd parts and equal powers of two.
    odd == target.significand >> target_zeros
        && x.exponent + y.exponent + zeros as i32 == target.exponent + target_zeros as i32
}

/// Flags for a host result computed from finite operands, when it is not in
/// the underflow range: overflow shows as infinity.
#[inline(always)]
fn host_result_flags<F: Format>(result: u64, inexact: bool, flags: &mut u8) {
    if !is_finite::<F>(result) {
        *flags |= FLAG_OF | FLAG_NX;
    } else if inexact {
        *flags |= FLAG_NX;
    }
}

#[inline(always)]
fn add_fast<F: Format>(a: u64, b: u64, flags: &mut u8) -> Option<u64> {
    if !is_finite::<F>(a) || !is_finite::<F>(b) {
        return None;
    }
    // Fast2Sum needs the larger magnitude first; its error term is then
    // exact. Sums never underflow inexactly (a tiny sum is exact).
    let (big, small) = if a & F::MAGNITUDE_MASK >= b & F::MAGNITUDE_MASK {
        (a, b)
    } else {
        (b, a)
    };
    let big = F::host_from_bits(big);
    let small = F::host_from_bits(small);
    let sum = big + small;
    let error = small - (sum - big);
    let sum_bits = F::host_to_bits(sum);
    let inexact = F::host_to_bits(error) & F::MAGNITUDE_MASK != 0;
    host_result_flags::<F>(sum_bits, inexact, flags);
    Some(sum_bits)
}

#[inline(always)]
fn mul_fast<F: Format>(a: u64, b: u64, flags: &mut u8) -> Option<u64> {
    if !is_finite::<F>(a) || !is_finite::<F>(b) {
        return None;
    }
    let product = F::host_to_bits(F::host_from_bits(a) * F::host_from_bits(b));
    if product & F::MAGNITUDE_MASK <= F::MIN_NORMAL {
        // Exact zeros are fine; anything else near underflow goes slow.
        return (is_zero::<F>(a) || is_zero::<F>(b)).then_some(product);
    }
    let x = unpack::<F>(a);
    let y = unpack::<F>(b);
    let inexact = odd_product::<F>(x.significand, y.significand).is_none();
    host_result_flags::<F>(product, inexact, flags);
    Some(product)
}

#[inline(always)]
fn div_fast<F: Format>(a: u64, b: u64, flags: &mut u8) -> Option<u64> {
    if !is_finite::<F>(a) || !is_finite::<F>(b) || is_zero::<F>(b) {
        return None;
    }
    let quotient = F::host_to_bits(F::host_from_bits(a) / F::host_from_bits(b));
    if is_zero::<F>(a) {
        return Some(quotient);
    }
    if quotient & F::MAGNITUDE_MASK <= F::MIN_NORMAL {
        return None;
    }
    // The quotient is exact iff multiplying back gives the dividend.
    let inexact = is_finite::<F>(quotient) && !product_equals::<F>(quotient, b, a);
    host_result_flags::<F>(quotient, inexact, flags);
    Some(quotient)
}

/// Square root in any rounding mode from the correctly rounded host root:
/// an exact comparison of its square with the operand tells on which side
/// of the true root it lies, and directed modes step one ulp if needed.
#[inline(always)]
fn sqrt_fast<F: Format>(a: u64, rm: RoundingMode, flags: &mut u8) -> Option<u64> {
    if is_zero::<F>(a) {
        return Some(a);
    }
    if is_negative::<F>(a) || !is_finite::<F>(a) {
        return None;
    }
    // The root of a finite positive number is a normal number well inside
    // the range, so its bit-pattern neighbours are its neighbouring values.
    let root = F::host_to_bits(F::host_sqrt(F::host_from_bits(a)));
    // No ties are possible (the square of a midpoint needs 2p+1 bits), so
    // both nearest modes keep the host root.
    if matches!(
        rm,
        RoundingMode::NearestEven | RoundingMode::NearestMaxMagnitude
    ) {
        if !product_equals::<F>(root, root, a) {
            *flags |= FLAG_NX;
        }
        return Some(root);
    }
    let root_is_above = match compare_product::<F>(root, root, a) {
        Ordering::Equal => return Some(root),
        Ordering::Greater => true,
        Ordering::Less => false,
    };
    *flags |= FLAG_NX;
    Some(if rm == RoundingMode::Up {
        root + u64::from(!root_is_above)
    } else {
        root - u64::from(root_is_above)
    })
}

/// The host's fused multiply-add, rounded once to nearest even, where it is one instruction:
/// x86-64 CPUs with FMA (asked once, then cached by std) and AArch64. Elsewhere `None`, and
/// `fma_by_rounding_to_odd` does it with plain arithmetic.
#[inline(always)]
fn host_fma(a: f64, b: f64, c: f64) -> Option<f64> {
    #[cfg(all(feature = "std", target_arch = "x86_64"))]
    {
        if std::arch::is_x86_feature_detected!("fma") {
            // SAFETY: the CPU has the FMA instructions.
            return Some(unsafe { fma_instruction(a, b, c) });
        }
        None
    }
    #[cfg(all(feature = "std", target_arch = "aarch64"))]
    {
        Some(a.mul_add(b, c))
    }
    #[cfg(not(all(feature = "std", any(target_arch = "x86_64", target_arch = "aarch64"))))]
    {
        let _ = (a, b, c);
        None
    }
}

/// `a * b + c` by the FMA instruction (LLVM lowers `mul_add` to it where the feature is on).
#[cfg(all(feature = "std", target_arch = "x86_64"))]
#[target_feature(enable = "fma")]
fn fma_instruction(a: f64, b: f64, c: f64) -> f64 {
    a.mul_add(b, c)
}

/// Knuth's TwoSum: `a + b` rounded, and the rounding error, exactly (without overflow).
#[inline(always)]
fn two_sum(a: f64, b: f64) -> (f64, f64) {
    let sum = a + b;
    let b_part = sum - a;
    let a_part = sum - b_part;
    (sum, (a - a_part) + (b - b_part))
}

/// Whether `|value|` lies in [2^low, 2^high) (finite, and normal if `low` is above -1023).
#[inline(always)]
fn magnitude_between(value: f64, low: i32, high: i32) -> bool {
    let power = |exponent: i32| u64::from((exponent + Double::BIAS).cast_unsigned()) << 52;
    (power(low)..power(high)).contains(&(value.to_bits() & Double::MAGNITUDE_MASK))
}

/// Magnitudes from 2^-900 to 2^1000: far from underflow (products and their errors stay
/// normal) and from overflow (sums of two stay finite).
#[inline(always)]
fn well_inside_double_range(value: f64) -> bool {
    magnitude_between(value, -900, 1000)
}

/// Double fused multiply-add in round-to-nearest-even: `r = a * b + c` rounded by the host's
/// FMA instruction, or without one by `fma_by_rounding_to_odd`; then `fma_flags_d`.
#[inline(always)]
fn fma_fast_d(a: u64, b: u64, c: u64, flags: &mut u8) -> Option<u64> {
    let (a, b, c) = (f64::from_bits(a), f64::from_bits(b), f64::from_bits(c));
    let rounded = match host_fma(a, b, c) {
        Some(result) => {
            let product = a * b;
            (result, product, host_fma(a, b, -product)?)
        }
        None => fma_by_rounding_to_odd(a, b, c)?,
    };
    fma_flags_d(rounded, c, flags)
}

/// Veltkamp's split of `value` into a high half of 26 significand bits and the rest, both
/// exact (for magnitudes below 2^996, where `value * 2^27` does not overflow).
#[inline(always)]
fn split_in_halves(value: f64) -> (f64, f64) {
    let scaled = value * 134_217_729.0; // 2^27 + 1
    let high = scaled - (scaled - value);
    (high, value - high)
}

/// Dekker's TwoProduct without an FMA: `a * b` rounded, and its rounding error exactly (the
/// halves' partial products are exact while none underflows).
#[inline(always)]
fn two_product(a: f64, b: f64) -> (f64, f64) {
    let product = a * b;
    let (a_high, a_low) = split_in_halves(a);
    let (b_high, b_low) = split_in_halves(b);
    let error = ((a_high * b_high - product) + a_high * b_low + a_low * b_high) + a_low * b_low;
    (product, error)
}

/// `a + b` rounded to odd (of the two doubles around the exact sum, the one whose last
/// significand bit is 1), from the sum rounded to nearest and its exact error. The sum is
/// normal or zero (an inexact sum cannot underflow).
#[inline(always)]
fn add_rounded_to_odd(a: f64, b: f64) -> f64 {
    let (sum, error) = two_sum(a, b);
    let bits = sum.to_bits();
    if error == 0.0 || bits & 1 == 1 {
        return sum;
    }
    // The neighbour on the error's side: one step in magnitude, up when the error has the
    // sum's sign.
    f64::from_bits(if (error > 0.0) == (sum > 0.0) {
        bits + 1
    } else {
        bits - 1
    })
}

/// `a * b + c` rounded to nearest even by plain double arithmetic, as Boldo and Melquiond
/// emulate an FMA ("Emulation of a FMA and correctly rounded sums: proved algorithms using
/// rounding to odd", IEEE Transactions on Computers 57(4), 2008): the product as head and
/// exact error, the head added to `c` as head and exact error, the two errors summed rounded
/// to odd, which keeps the one bit the last, rounded, addition needs to round the exact value.
/// Their proof holds where nothing underflows or overflows: operands within 2^-990..2^990
/// (the split and the partial products stay normal), `c` and the product within
/// `well_inside_double_range` (every error term is then normal or zero); elsewhere `None`.
/// Returns what `fma_flags_d` takes. On hosts without an FMA instruction (wasm32) this is
/// several times faster than the exact path, whose 128-bit arithmetic wasm32 has no
/// instructions for.
#[inline(always)]
fn fma_by_rounding_to_odd(a: f64, b: f64, c: f64) -> Option<(f64, f64, f64)> {
    let splittable = |value: f64| magnitude_between(value, -990, 990);
    if !splittable(a) || !splittable(b) || !well_inside_double_range(c) {
        return None;
    }
    let (product, product_error) = two_product(a, b);
    if !well_inside_double_range(product) {
        return None;
    }
    let (head, tail) = two_sum(c, product);
    let result = head + add_rounded_to_odd(tail, product_error);
    Some((result, product, product_error))
}

/// The flags of a double fused multiply-add from its rounded result `r` and the product
/// `a * b` as head rounded to nearest even and exact error: `r` is exact iff
/// `a * b == r - c`. Both sides as such pairs (TwoSum for `r - c`) are equal iff the reals
/// are, since rounding to nearest gives one head per real. Operands and results are kept well
/// inside the range, so both pairs are exact and no underflow or overflow flag is due; `None`
/// leaves the rest to the exact path.
#[inline(always)]
fn fma_flags_d(
    (result, product, product_error): (f64, f64, f64),
    c: f64,
    flags: &mut u8,
) -> Option<u64> {
    if !well_inside_double_range(result)
        || !well_inside_double_range(product)
        || c.abs() >= f64::from_bits((1023 + 1000) << 52)
    {
        return None;
    }
    let (difference, difference_error) = two_sum(result, -c);
    if difference != product || difference_error != product_error {
        *flags |= FLAG_NX;
    }
    Some(result.to_bits())
}

/// Single fused multiply-add in round-to-nearest-even through binary64: the product of two
/// singles is exact there, and TwoSum gives the sum exactly as `sum + error`. Rounding `sum`
/// to single is then rounding the exact value, unless `error` is not zero and `sum` lies
/// exactly halfway between two singles (where the error decides the way): that, and results
/// near the ends of the single range, go to the exact path.
#[inline(always)]
fn fma_fast_s(a: u64, b: u64, c: u64, flags: &mut u8) -> Option<u64> {
    let single = |bits: u64| f64::from(f32::from_bits(bits as u32));
    let (sum, error) = two_sum(single(a) * single(b), single(c));
    // Normal and finite as a single, rounded or not.
    if !magnitude_between(sum, -120, 120) {
        return None;
    }
    // The 29 significand bits a single does not keep.
    const DROPPED: u64 = (1 << 29) - 1;
    if error != 0.0 && sum.to_bits() & DROPPED == 1 << 28 {
        return None;
    }
    let result = sum as f32;
    if error != 0.0 || f64::from(result) != sum {
        *flags |= FLAG_NX;
    }
    Some(u64::from(result.to_bits()))
}

// ---------------------------------------------------------------------------
// Generic operations

/// A binary operation: the host fast path in round-to-nearest-even when it can answer
/// exactly (flags included), else the exact software path.
#[inline(always)]
fn fast_or_exact(
    a: u64,
    b: u64,
    rm: RoundingMode,
    flags: &mut u8,
    fast: impl FnOnce(u64, u64, &mut u8) -> Option<u64>,
    exact: impl FnOnce(u64, u64, RoundingMode, &mut u8) -> u64,
) -> u64 {
    if HOST_ARITHMETIC_IS_IEEE && rm == RoundingMode::NearestEven {
        if let Some(result) = fast(a, b, flags) {
            return result;
        }
    }
    exact(a, b, rm, flags)
}

/// `(±(a * b)) ± c` rounded once: the host fast path in round-to-nearest-even for finite
/// nonzero operands when it can answer exactly (flags included), else the exact software path.
#[inline(always)]
fn fma<F: Format>(
    a: u64,
    b: u64,
    c: u64,
    negate_product: bool,
    negate_addend: bool,
    rm: RoundingMode,
    flags: &mut u8,
) -> u64 {
    let a = a ^ sign_bit::<F>(negate_product);
    let c = c ^ sign_bit::<F>(negate_addend);
    let ordinary = |bits| is_finite::<F>(bits) && !is_zero::<F>(bits);
    if HOST_ARITHMETIC_IS_IEEE
        && rm == RoundingMode::NearestEven
        && ordinary(a)
        && ordinary(b)
        && ordinary(c)
    {
        if let Some(result) = F::fma_fast(a, b, c, flags) {
            return result;
        }
    }
    fma_slow::<F>(a, b, c, rm, flags)
}

#[inline(always)]
fn add<F: Format>(a: u64, b: u64, rm: RoundingMode, flags: &mut u8) -> u64 {
    fast_or_exact(a, b, rm, flags, add_fast::<F>, add_slow::<F>)
}

#[inline(always)]
fn mul<F: Format>(a: u64, b: u64, rm: RoundingMode, flags: &mut u8) -> u64 {
    fast_or_exact(a, b, rm, flags, mul_fast::<F>, mul_slow::<F>)
}

#[inline(always)]
fn div<F: Format>(a: u64, b: u64, rm: RoundingMode, flags: &mut u8) -> u64 {
    fast_or_exact(a, b, rm, flags, div_fast::<F>, div_slow::<F>)
}

#[inline(always)]
fn sqrt<F: Format>(a: u64, rm: RoundingMode, flags: &mut u8) -> u64 {
    if HOST_ARITHMETIC_IS_IEEE {
        if let Some(result) = sqrt_fast::<F>(a, rm, flags) {
            return result;
        }
    }
    sqrt_slow::<F>(a, rm, flags)
}

/// Key that orders non-NaN bit patterns numerically, with -0 below +0.
#[inline(always)]
fn total_order_key<F: Format>(bits: u64) -> i64 {
    let magnitude = (bits & F::MAGNITUDE_MASK) as i64;
    if is_negative::<F>(bits) {
        -magnitude - 1
    } else {
        magnitude
    }
}

#[inline]
fn min_max<F: Format>(a: u64, b: u64, want_max: bool, flags: &mut u8) -> u64 {
    if is_signaling_nan::<F>(a) || is_signaling_nan::<F>(b) {
        *flags |= FLAG_NV;
    }
    match (is_nan::<F>(a), is_nan::<F>(b)) {
        (true, true) => F::CANONICAL_NAN,
        (true, false) => b,
        (false, true) => a,
        (false, false) => {
            let a_is_less = total_order_key::<F>(a) < total_order_key::<F>(b);
            if a_is_less != want_max {
                a
            } else {
                b
            }
        }
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Comparison {
    Equal,
    Less,
    LessOrEqual,
}

#[inline]
fn compare<F: Format>(a: u64, b: u64, comparison: Comparison, flags: &mut u8) -> bool {
    if is_nan::<F>(a) || is_nan::<F>(b) {
        // feq is a quiet comparison; flt and fle signal on any NaN.
        if comparison != Comparison::Equal || is_signaling_nan::<F>(a) || is_signaling_nan::<F>(b) {
            *flags |= FLAG_NV;
        }
        return false;
    }
    if is_zero::<F>(a) && is_zero::<F>(b) {
        return comparison != Comparison::Less;
    }
    let a_key = total_order_key::<F>(a);
    let b_key = total_order_key::<F>(b);
    match comparison {
        Comparison::Equal => a_key == b_key,
        Comparison::Less => a_key < b_key,
        Comparison::LessOrEqual => a_key <= b_key,
    }
}

fn classify<F: Format>(a: u64) -> u64 {
    let negative = is_negative::<F>(a);
    let class_bit = if is_nan::<F>(a) {
        if is_signaling_nan::<F>(a) {
            8
        } else {
            9
        }
    } else if is_infinite::<F>(a) {
        if negative {
            0
        } else {
            7
        }
    } else if is_zero::<F>(a) {
        if negative {
            3
        } else {
            4
        }
    } else if a & F::INFINITY == 0 {
        if negative {
            2
        } else {
            5
        }
    } else if negative {
        1
    } else {
        6
    };
    1 << class_bit
}

/// Integer formats of the fcvt instructions.
#[derive(Clone, Copy, PartialEq, Eq)]
enum IntegerKind {
    I32,
    U32,
    I64,
    U64,
}

impl IntegerKind {
    fn is_signed(self) -> bool {
        matches!(self, IntegerKind::I32 | IntegerKind::I64)
    }

    fn width(self) -> u32 {
        match self {
            IntegerKind::I32 | IntegerKind::U32 => 32,
            IntegerKind::I64 | IntegerKind::U64 => 64,
        }
    }

    /// Largest magnitude representable with the given sign.
    fn magnitude_limit(self, negative: bool) -> u128 {
        let width = self.width();
        match (self.is_signed(), negative) {
            (true, true) => 1 << (width - 1),
            (true, false) => (1 << (width - 1)) - 1,
            (false, true) => 0,
            (false, false) => (1 << width) - 1,
        }
    }

    /// Register value of a signed integer: 32-bit results are sign-extended
    /// (for fcvt.wu too).
    fn to_register(self, value: u64) -> u64 {
        if self.width() == 32 {
            value as u32 as i32 as i64 as u64
        } else {
            value
        }
    }

    fn saturate(self, negative: bool) -> u64 {
        let magnitude = self.magnitude_limit(negative) as u64;
        self.to_register(if negative {
            magnitude.wrapping_neg()
        } else {
            magnitude
        })
    }

    /// Sign and magnitude of the integer held in a register.
    fn read_register(self, register: u64) -> (bool, u64) {
        match self {
            IntegerKind::I32 => {
                let value = register as u32 as i32;
                (value < 0, u64::from(value.unsigned_abs()))
            }
            IntegerKind::U32 => (false, u64::from(register as u32)),
            IntegerKind::I64 => {
                let value = register as i64;
                (value < 0, value.unsigned_abs())
            }
            IntegerKind::U64 => (false, register),
        }
    }
}

fn to_integer<F: Format>(a: u64, kind: IntegerKind, rm: RoundingMode, flags: &mut u8) -> u64 {
    if is_nan::<F>(a) {
        *flags |= FLAG_NV;
        return kind.saturate(false);
    }
    let negative = is_negative::<F>(a);
    if is_infinite::<F>(a) {
        *flags |= FLAG_NV;
        return kind.saturate(negative);
    }
    if is_zero::<F>(a) {
        return 0;
    }
    let value = unpack::<F>(a);
    let (magnitude, inexact) = if value.exponent >= 0 {
        if value.exponent > 64 {
            *flags |= FLAG_NV;
            return kind.saturate(negative);
        }
        (u128::from(value.significand) << value.exponent, false)
    } else {
        round_to_quantum(
            negative,
            value.exponent,
            value.significand.into(),
            false,
            0,
            rm,
        )
    };
    if magnitude > kind.magnitude_limit(negative) {
        // Out of range after rounding: only NV, never NX.
        *flags |= FLAG_NV;
        return kind.saturate(negative);
    }
    if inexact {
        *flags |= FLAG_NX;
    }
    let magnitude = magnitude as u64;
    kind.to_register(if negative {
        magnitude.wrapping_neg()
    } else {
        magnitude
    })
}

fn from_integer<F: Format>(
    register: u64,
    kind: IntegerKind,
    rm: RoundingMode,
    flags: &mut u8,
) -> u64 {
    let (negative, magnitude) = kind.read_register(register);
    round_and_pack::<F>(negative, 0, magnitude.into(), false, rm, flags)
}

/// Converts between formats; exact when widening.
fn convert<From: Format, To: Format>(a: u64, rm: RoundingMode, flags: &mut u8) -> u64 {
    if is_nan::<From>(a) {
        if is_signaling_nan::<From>(a) {
            *flags |= FLAG_NV;
        }
        return To::CANONICAL_NAN;
    }
    let sign = sign_bit::<To>(is_negative::<From>(a));
    if is_infinite::<From>(a) {
        return sign | To::INFINITY;
    }
    if is_zero::<From>(a) {
        return sign;
    }
    let value = unpack::<From>(a);
    round_and_pack::<To>(
        value.negative,
        value.exponent,
        value.significand.into(),
        false,
        rm,
        flags,
    )
}

// ---------------------------------------------------------------------------
// Public API

/// NaN-boxes a single for a 64-bit f register.
#[inline]
pub fn box_s(bits: u32) -> u64 {
    0xffff_ffff_0000_0000 | u64::from(bits)
}

/// Reads a single from a 64-bit f register; improperly boxed values read as
/// the canonical NaN.
#[inline]
pub fn unbox_s(reg: u64) -> u32 {
    if reg >> 32 == 0xffff_ffff {
        reg as u32
    } else {
        CANONICAL_NAN_S
    }
}

#[inline]
pub fn add_s(a: u32, b: u32, rm: RoundingMode, flags: &mut u8) -> u32 {
    add::<Single>(a.into(), b.into(), rm, flags) as u32
}

#[inline]
pub fn sub_s(a: u32, b: u32, rm: RoundingMode, flags: &mut u8) -> u32 {
    add::<Single>(a.into(), u64::from(b) ^ Single::SIGN_MASK, rm, flags) as u32
}

#[inline]
pub fn mul_s(a: u32, b: u32, rm: RoundingMode, flags: &mut u8) -> u32 {
    mul::<Single>(a.into(), b.into(), rm, flags) as u32
}

#[inline]
pub fn div_s(a: u32, b: u32, rm: RoundingMode, flags: &mut u8) -> u32 {
    div::<Single>(a.into(), b.into(), rm, flags) as u32
}

#[inline]
pub fn sqrt_s(a: u32, rm: RoundingMode, flags: &mut u8) -> u32 {
    sqrt::<Single>(a.into(), rm, flags) as u32
}

#[inline]
pub fn add_d(a: u64, b: u64, rm: RoundingMode, flags: &mut u8) -> u64 {
    add::<Double>(a, b, rm, flags)
}

#[inline]
pub fn sub_d(a: u64, b: u64, rm: RoundingMode, flags: &mut u8) -> u64 {
    add::<Double>(a, b ^ Double::SIGN_MASK, rm, flags)
}

#[inline]
pub fn mul_d(a: u64, b: u64, rm: RoundingMode, flags: &mut u8) -> u64 {
    mul::<Double>(a, b, rm, flags)
}

#[inline]
pub fn div_d(a: u64, b: u64, rm: RoundingMode, flags: &mut u8) -> u64 {
    div::<Double>(a, b, rm, flags)
}

#[inline]
pub fn sqrt_d(a: u64, rm: RoundingMode, flags: &mut u8) -> u64 {
    sqrt::<Double>(a, rm, flags)
}

/// `(±(a * b)) ± c` rounded once: fmadd (false, false), fmsub (false, true),
/// fnmsub (true, false), fnmadd (true, true).
#[inline]
pub fn fma_s(
    a: u32,
    b: u32,
    c: u32,
    negate_product: bool,
    negate_addend: bool,
    rm: RoundingMode,
    flags: &mut u8,
) -> u32 {
    fma::<Single>(
        a.into(),
        b.into(),
        c.into(),
        negate_product,
        negate_addend,
        rm,
        flags,
    ) as u32
}

/// See [`fma_s`].
#[inline]
pub fn fma_d(
    a: u64,
    b: u64,
    c: u64,
    negate_product: bool,
    negate_addend: bool,
    rm: RoundingMode,
    flags: &mut u8,
) -> u64 {
    fma::<Double>(a, b, c, negate_product, negate_addend, rm, flags)
}

#[inline]
pub fn min_s(a: u32, b: u32, flags: &mut u8) -> u32 {
    min_max::<Single>(a.into(), b.into(), false, flags) as u32
}

#[inline]
pub fn max_s(a: u32, b: u32, flags: &mut u8) -> u32 {
    min_max::<Single>(a.into(), b.into(), true, flags) as u32
}

#[inline]
pub fn min_d(a: u64, b: u64, flags: &mut u8) -> u64 {
    min_max::<Double>(a, b, false, flags)
}

#[inline]
pub fn max_d(a: u64, b: u64, flags: &mut u8) -> u64 {
    min_max::<Double>(a, b, true, flags)
}

#[inline]
pub fn eq_s(a: u32, b: u32, flags: &mut u8) -> bool {
    compare::<Single>(a.into(), b.into(), Comparison::Equal, flags)
}

#[inline]
pub fn lt_s(a: u32, b: u32, flags: &mut u8) -> bool {
    compare::<Single>(a.into(), b.into(), Comparison::Less, flags)
}

#[inline]
pub fn le_s(a: u32, b: u32, flags: &mut u8) -> bool {
    compare::<Single>(a.into(), b.into(), Comparison::LessOrEqual, flags)
}

#[inline]
pub fn eq_d(a: u64, b: u64, flags: &mut u8) -> bool {
    compare::<Double>(a, b, Comparison::Equal, flags)
}

#[inline]
pub fn lt_d(a: u64, b: u64, flags: &mut u8) -> bool {
    compare::<Double>(a, b, Comparison::Less, flags)
}

#[inline]
pub fn le_d(a: u64, b: u64, flags: &mut u8) -> bool {
    compare::<Double>(a, b, Comparison::LessOrEqual, flags)
}

/// The fclass.s mask (exactly one of bits 0..=9 set).
#[inline]
pub fn classify_s(a: u32) -> u64 {
    classify::<Single>(a.into())
}

/// The fclass.d mask (exactly one of bits 0..=9 set).
#[inline]
pub fn classify_d(a: u64) -> u64 {
    classify::<Double>(a)
}

#[inline]
pub fn to_i32_s(a: u32, rm: RoundingMode, flags: &mut u8) -> u64 {
    to_integer::<Single>(a.into(), IntegerKind::I32, rm, flags)
}

#[inline]
pub fn to_u32_s(a: u32, rm: RoundingMode, flags: &mut u8) -> u64 {
    to_integer::<Single>(a.into(), IntegerKind::U32, rm, flags)
}

#[inline]
pub fn to_i64_s(a: u32, rm: RoundingMode, flags: &mut u8) -> u64 {
    to_integer::<Single>(a.into(), IntegerKind::I64, rm, flags)
}

#[inline]
pub fn to_u64_s(a: u32, rm: RoundingMode, flags: &mut u8) -> u64 {
    to_integer::<Single>(a.into(), IntegerKind::U64, rm, flags)
}

#[inline]
pub fn to_i32_d(a: u64, rm: RoundingMode, flags: &mut u8) -> u64 {
    to_integer::<Double>(a, IntegerKind::I32, rm, flags)
}

#[inline]
pub fn to_u32_d(a: u64, rm: RoundingMode, flags: &mut u8) -> u64 {
    to_integer::<Double>(a, IntegerKind::U32, rm, flags)
}

#[inline]
pub fn to_i64_d(a: u64, rm: RoundingMode, flags: &mut u8) -> u64 {
    to_integer::<Double>(a, IntegerKind::I64, rm, flags)
}

#[inline]
pub fn to_u64_d(a: u64, rm: RoundingMode, flags: &mut u8) -> u64 {
    to_integer::<Double>(a, IntegerKind::U64, rm, flags)
}

#[inline]
pub fn from_i32_s(x: u64, rm: RoundingMode, flags: &mut u8) -> u32 {
    from_integer::<Single>(x, IntegerKind::I32, rm, flags) as u32
}

#[inline]
pub fn from_u32_s(x: u64, rm: RoundingMode, flags: &mut u8) -> u32 {
    from_integer::<Single>(x, IntegerKind::U32, rm, flags) as u32
}

#[inline]
pub fn from_i64_s(x: u64, rm: RoundingMode, flags: &mut u8) -> u32 {
    from_integer::<Single>(x, IntegerKind::I64, rm, flags) as u32
}

#[inline]
pub fn from_u64_s(x: u64, rm: RoundingMode, flags: &mut u8) -> u32 {
    from_integer::<Single>(x, IntegerKind::U64, rm, flags) as u32
}

#[inline]
pub fn from_i32_d(x: u64, rm: RoundingMode, flags: &mut u8) -> u64 {
    from_integer::<Double>(x, IntegerKind::I32, rm, flags)
}

#[inline]
pub fn from_u32_d(x: u64, rm: RoundingMode, flags: &mut u8) -> u64 {
    from_integer::<Double>(x, IntegerKind::U32, rm, flags)
}

#[inline]
pub fn from_i64_d(x: u64, rm: RoundingMode, flags: &mut u8) -> u64 {
    from_integer::<Double>(x, IntegerKind::I64, rm, flags)
}

#[inline]
pub fn from_u64_d(x: u64, rm: RoundingMode, flags: &mut u8) -> u64 {
    from_integer::<Double>(x, IntegerKind::U64, rm, flags)
}

/// fcvt.d.s: exact, so no rounding mode.
#[inline]
pub fn s_to_d(a: u32, flags: &mut u8) -> u64 {
    convert::<Single, Double>(a.into(), RoundingMode::NearestEven, flags)
}

/// fcvt.s.d.
#[inline]
pub fn d_to_s(a: u64, rm: RoundingMode, flags: &mut u8) -> u32 {
    convert::<Double, Single>(a, rm, flags) as u32
}

#[cfg(test)]
mod tests {
    use super::*;

    const RNE: RoundingMode = RoundingMode::NearestEven;
    const RTZ: RoundingMode = RoundingMode::TowardZero;
    const RDN: RoundingMode = RoundingMode::Down;
    const RUP: RoundingMode = RoundingMode::Up;
    const RMM: RoundingMode = RoundingMode::NearestMaxMagnitude;
    const ALL_MODES: [RoundingMode; 5] = [RNE, RTZ, RDN, RUP, RMM];

    const ONE_S: u32 = 0x3f80_0000;
    const TWO_S: u32 = 0x4000_0000;
    const NEG_ONE_S: u32 = 0xbf80_0000;
    const ZERO_S: u32 = 0;
    const NEG_ZERO_S: u32 = 0x8000_0000;
    const INF_S: u32 = 0x7f80_0000;
    const NEG_INF_S: u32 = 0xff80_0000;
    const MAX_S: u32 = 0x7f7f_ffff;
    const MIN_NORMAL_S: u32 = 0x0080_0000;
    const QNAN_PAYLOAD_S: u32 = 0xffc1_2345;
    const SNAN_S: u32 = 0x7f80_0001;

    const ONE_D: u64 = 0x3ff0_0000_0000_0000;
    const TWO_D: u64 = 0x4000_0000_0000_0000;
    const NEG_ONE_D: u64 = 0xbff0_0000_0000_0000;
    const ZERO_D: u64 = 0;
    const NEG_ZERO_D: u64 = 0x8000_0000_0000_0000;
    const INF_D: u64 = 0x7ff0_0000_0000_0000;
    const NEG_INF_D: u64 = 0xfff0_0000_0000_0000;
    const MIN_NORMAL_D: u64 = 0x0010_0000_0000_0000;
    const QNAN_PAYLOAD_D: u64 = 0x7ff8_0000_dead_beef;
    const SNAN_D: u64 = 0x7ff0_0000_0000_0001;

    /// Runs `operation` with fresh flags and returns (result, flags).
    fn with_flags<T>(operation: impl FnOnce(&mut u8) -> T) -> (T, u8) {
        let mut flags = 0;
        let result = operation(&mut flags);
        (result, flags)
    }

    fn binary<T>(
        operation: impl Fn(T, T, RoundingMode, &mut u8) -> T,
        a: T,
        b: T,
        rm: RoundingMode,
    ) -> (T, u8) {
        with_flags(|flags| operation(a, b, rm, flags))
    }

    fn unary<T, R>(
        operation: impl Fn(T, RoundingMode, &mut u8) -> R,
        a: T,
        rm: RoundingMode,
    ) -> (R, u8) {
        with_flags(|flags| operation(a, rm, flags))
    }

    /// Operations without a rounding mode: min/max and comparisons.
    fn quiet<T, R>(operation: impl Fn(T, T, &mut u8) -> R, a: T, b: T) -> (R, u8) {
        with_flags(|flags| operation(a, b, flags))
    }

    fn exact<T, R>(operation: impl Fn(T, &mut u8) -> R, a: T) -> (R, u8) {
        with_flags(|flags| operation(a, flags))
    }

    #[allow(clippy::too_many_arguments)]
    fn fused<T>(
        operation: impl Fn(T, T, T, bool, bool, RoundingMode, &mut u8) -> T,
        a: T,
        b: T,
        c: T,
        negate_product: bool,
        negate_addend: bool,
        rm: RoundingMode,
    ) -> (T, u8) {
        with_flags(|flags| operation(a, b, c, negate_product, negate_addend, rm, flags))
    }

    #[test]
    fn rounding_mode_decoding() {
        assert_eq!(RoundingMode::from_bits(0), Some(RNE));
        assert_eq!(RoundingMode::from_bits(4), Some(RMM));
        for invalid in [5, 6, 7, 8, 255] {
            assert_eq!(RoundingMode::from_bits(invalid), None);
        }
    }

    #[test]
    fn nan_results_are_canonical_and_only_signaling_nans_raise_nv() {
        for rm in ALL_MODES {
            assert_eq!(
                binary(add_s, QNAN_PAYLOAD_S, ONE_S, rm),
                (CANONICAL_NAN_S, 0)
            );
            assert_eq!(
                binary(mul_s, ONE_S, QNAN_PAYLOAD_S, rm),
                (CANONICAL_NAN_S, 0)
            );
            assert_eq!(
                binary(sub_d, QNAN_PAYLOAD_D, ONE_D, rm),
                (CANONICAL_NAN_D, 0)
            );
            assert_eq!(
                binary(div_d, ONE_D, QNAN_PAYLOAD_D, rm),
                (CANONICAL_NAN_D, 0)
            );
            assert_eq!(unary(sqrt_d, QNAN_PAYLOAD_D, rm), (CANONICAL_NAN_D, 0));
            assert_eq!(binary(add_s, SNAN_S, ONE_S, rm), (CANONICAL_NAN_S, FLAG_NV));
            assert_eq!(
                binary(div_s, SNAN_S, QNAN_PAYLOAD_S, rm),
                (CANONICAL_NAN_S, FLAG_NV)
            );
            assert_eq!(binary(mul_d, ONE_D, SNAN_D, rm), (CANONICAL_NAN_D, FLAG_NV));
            assert_eq!(unary(sqrt_s, SNAN_S, rm), (CANONICAL_NAN_S, FLAG_NV));
            // A NaN operand wins over infinity arithmetic that would be invalid.
            assert_eq!(
                fused(fma_d, QNAN_PAYLOAD_D, ONE_D, INF_D, false, false, rm),
                (CANONICAL_NAN_D, 0)
            );
            assert_eq!(
                fused(fma_s, ONE_S, ONE_S, SNAN_S, false, true, rm),
                (CANONICAL_NAN_S, FLAG_NV)
            );
        }
    }

    #[test]
    fn invalid_operations() {
        assert_eq!(binary(sub_s, INF_S, INF_S, RNE), (CANONICAL_NAN_S, FLAG_NV));
        assert_eq!(
            binary(add_d, INF_D, NEG_INF_D, RDN),
            (CANONICAL_NAN_D, FLAG_NV)
        );
        assert_eq!(binary(add_d, INF_D, INF_D, RNE), (INF_D, 0));
        assert_eq!(
            binary(mul_s, ZERO_S, NEG_INF_S, RNE),
            (CANONICAL_NAN_S, FLAG_NV)
        );
        assert_eq!(
            binary(mul_d, INF_D, NEG_ZERO_D, RUP),
            (CANONICAL_NAN_D, FLAG_NV)
        );
        assert_eq!(
            binary(div_s, ZERO_S, NEG_ZERO_S, RNE),
            (CANONICAL_NAN_S, FLAG_NV)
        );
        assert_eq!(
            binary(div_d, INF_D, NEG_INF_D, RNE),
            (CANONICAL_NAN_D, FLAG_NV)
        );
        assert_eq!(unary(sqrt_s, NEG_ONE_S, RNE), (CANONICAL_NAN_S, FLAG_NV));
        assert_eq!(unary(sqrt_d, NEG_INF_D, RNE), (CANONICAL_NAN_D, FLAG_NV));
        // RISC-V: inf * 0 in an FMA is invalid even with a quiet NaN addend.
        assert_eq!(
            fused(fma_s, INF_S, ZERO_S, QNAN_PAYLOAD_S, false, false, RNE),
            (CANONICAL_NAN_S, FLAG_NV)
        );
        assert_eq!(
            fused(fma_d, ZERO_D, INF_D, QNAN_PAYLOAD_D, true, true, RNE),
            (CANONICAL_NAN_D, FLAG_NV)
        );
        // inf - inf inside an FMA: +inf * 1 + (-inf).
        assert_eq!(
            fused(fma_d, INF_D, ONE_D, INF_D, false, true, RNE),
            (CANONICAL_NAN_D, FLAG_NV)
        );
        assert_eq!(
            fused(fma_d, INF_D, ONE_D, INF_D, false, false, RNE),
            (INF_D, 0)
        );
    }

    #[test]
    fn division_by_zero() {
        assert_eq!(binary(div_s, ONE_S, ZERO_S, RNE), (INF_S, FLAG_DZ));
        assert_eq!(binary(div_s, ONE_S, NEG_ZERO_S, RTZ), (NEG_INF_S, FLAG_DZ));
        assert_eq!(binary(div_d, NEG_ONE_D, ZERO_D, RNE), (NEG_INF_D, FLAG_DZ));
        assert_eq!(binary(div_d, INF_D, ZERO_D, RNE), (INF_D, 0));
        assert_eq!(binary(div_d, ONE_D, NEG_INF_D, RNE), (NEG_ZERO_D, 0));
        assert_eq!(binary(div_d, NEG_ZERO_D, ONE_D, RNE), (NEG_ZERO_D, 0));
    }

    #[test]
    fn signed_zero_results() {
        // x - x is +0 except when rounding down.
        for rm in ALL_MODES {
            let expected_s = if rm == RDN { NEG_ZERO_S } else { ZERO_S };
            let expected_d = if rm == RDN { NEG_ZERO_D } else { ZERO_D };
            assert_eq!(binary(sub_s, ONE_S, ONE_S, rm), (expected_s, 0));
            assert_eq!(binary(add_s, ONE_S, NEG_ONE_S, rm), (expected_s, 0));
            assert_eq!(binary(sub_d, TWO_D, TWO_D, rm), (expected_d, 0));
            assert_eq!(binary(add_d, ZERO_D, NEG_ZERO_D, rm), (expected_d, 0));
            assert_eq!(
                fused(fma_d, ONE_D, ONE_D, ONE_D, false, true, rm),
                (expected_d, 0)
            );
            // Same-signed zeros keep their sign in every mode.
            assert_eq!(binary(add_s, NEG_ZERO_S, NEG_ZERO_S, rm), (NEG_ZERO_S, 0));
            assert_eq!(binary(sub_d, NEG_ZERO_D, ZERO_D, rm), (NEG_ZERO_D, 0));
            assert_eq!(binary(mul_d, NEG_ZERO_D, ONE_D, rm), (NEG_ZERO_D, 0));
            assert_eq!(unary(sqrt_s, NEG_ZERO_S, rm), (NEG_ZERO_S, 0));
            assert_eq!(unary(sqrt_d, NEG_ZERO_D, rm), (NEG_ZERO_D, 0));
            // -(0 * 1) - 0 = -0 - 0 = -0 (fnmadd).
            assert_eq!(
                fused(fma_s, ZERO_S, ONE_S, ZERO_S, true, true, rm),
                (NEG_ZERO_S, 0)
            );
        }
    }

    #[test]
    fn square_roots() {
        assert_eq!(unary(sqrt_s, 0x4080_0000, RNE), (TWO_S, 0)); // sqrt(4) = 2
        assert_eq!(unary(sqrt_d, INF_D, RNE), (INF_D, 0));
        // sqrt(2) = 1.41421356237309504880...; f64 0x3ff6a09e667f3bcc is below it.
        assert_eq!(unary(sqrt_d, TWO_D, RNE), (0x3ff6_a09e_667f_3bcd, FLAG_NX));
        assert_eq!(unary(sqrt_d, TWO_D, RTZ), (0x3ff6_a09e_667f_3bcc, FLAG_NX));
        assert_eq!(unary(sqrt_d, TWO_D, RUP), (0x3ff6_a09e_667f_3bcd, FLAG_NX));
        assert_eq!(unary(sqrt_s, TWO_S, RNE), (0x3fb5_04f3, FLAG_NX));
        assert_eq!(unary(sqrt_s, TWO_S, RDN), (0x3fb5_04f3, FLAG_NX));
        // The smallest subnormal 2^-1074 has the exact root 2^-537.
        assert_eq!(unary(sqrt_d, 1, RNE), (0x1e60_0000_0000_0000, 0));
    }

    #[test]
    fn overflow_depends_on_rounding_mode() {
        // MAX * 2 overflows: to infinity or the largest finite number.
        let cases_s = [
            (RNE, INF_S),
            (RTZ, MAX_S),
            (RDN, MAX_S),
            (RUP, INF_S),
            (RMM, INF_S),
        ];
        for (rm, expected) in cases_s {
            assert_eq!(
                binary(mul_s, MAX_S, TWO_S, rm),
                (expected, FLAG_OF | FLAG_NX)
            );
        }
        let negative_cases_s = [
            (RNE, NEG_INF_S),
            (RTZ, MAX_S | 0x8000_0000),
            (RDN, NEG_INF_S),
            (RUP, MAX_S | 0x8000_0000),
            (RMM, NEG_INF_S),
        ];
        for (rm, expected) in negative_cases_s {
            assert_eq!(
                binary(add_s, MAX_S | 0x8000_0000, MAX_S | 0x8000_0000, rm),
                (expected, FLAG_OF | FLAG_NX)
            );
        }
        let max_d = 0x7fef_ffff_ffff_ffff;
        let cases_d = [
            (RNE, INF_D),
            (RTZ, max_d),
            (RDN, max_d),
            (RUP, INF_D),
            (RMM, INF_D),
        ];
        for (rm, expected) in cases_d {
            assert_eq!(
                binary(mul_d, max_d, TWO_D, rm),
                (expected, FLAG_OF | FLAG_NX)
            );
        }
        // MAX + half an ulp of MAX is a tie that rounds up to 2^1024: overflow in RNE.
        assert_eq!(
            binary(add_d, max_d, 0x7c90_0000_0000_0000, RNE),
            (INF_D, FLAG_OF | FLAG_NX)
        );
        assert_eq!(
            binary(add_d, max_d, 0x7c8f_ffff_ffff_ffff, RNE),
            (max_d, FLAG_NX)
        );
    }

    #[test]
    fn underflow_to_subnormal_and_zero() {
        // (1 + 2^-23) * 2^-126 * 0.5: a tie at subnormal precision.
        let half = 0x3f00_0000;
        let cases = [
            (RNE, 0x0040_0000),
            (RTZ, 0x0040_0000),
            (RDN, 0x0040_0000),
            (RUP, 0x0040_0001),
            (RMM, 0x0040_0001),
        ];
        for (rm, expected) in cases {
            assert_eq!(
                binary(mul_s, 0x0080_0001, half, rm),
                (expected, FLAG_UF | FLAG_NX)
            );
        }
        // An exact subnormal result is not an underflow.
        assert_eq!(binary(mul_s, MIN_NORMAL_S, half, RNE), (0x0040_0000, 0));
        assert_eq!(binary(sub_s, 0x0080_0001, MIN_NORMAL_S, RNE), (1, 0));
        // Half the smallest subnormal: a tie between 0 and 2^-1074.
        let half_d = 0x3fe0_0000_0000_0000;
        let cases = [
            (RNE, ZERO_D),
            (RTZ, ZERO_D),
            (RDN, ZERO_D),
            (RUP, 1),
            (RMM, 1),
        ];
        for (rm, expected) in cases {
            assert_eq!(binary(mul_d, 1, half_d, rm), (expected, FLAG_UF | FLAG_NX));
        }
        // -2^-1074 / 4 = -2^-1076: a quarter of the smallest subnormal.
        let four_d = 0x4010_0000_0000_0000;
        assert_eq!(
            binary(div_d, 0x8000_0000_0000_0001, four_d, RDN),
            (0x8000_0000_0000_0001, FLAG_UF | FLAG_NX)
        );
        assert_eq!(
            binary(div_d, 0x8000_0000_0000_0001, four_d, RNE),
            (NEG_ZERO_D, FLAG_UF | FLAG_NX)
        );
        assert_eq!(
            binary(div_d, 0x8000_0000_0000_0001, four_d, RMM),
            (NEG_ZERO_D, FLAG_UF | FLAG_NX)
        );
        // -1 / 2^1023 = -2^-1023 is an exact subnormal.
        assert_eq!(
            binary(div_d, NEG_ONE_D, 0x7fe0_0000_0000_0000, RNE),
            (0x8008_0000_0000_0000, 0)
        );
    }

    #[test]
    fn tininess_is_detected_after_rounding() {
        // (1 - 2^-53) * 2^-1022 = 2^-1022 - 2^-1075: representable with an
        // unbounded exponent, so tiny, yet it rounds (tie to even) to the
        // smallest normal at subnormal precision.
        let below_one = 0x3fef_ffff_ffff_ffff;
        assert_eq!(
            binary(mul_d, below_one, MIN_NORMAL_D, RNE),
            (MIN_NORMAL_D, FLAG_UF | FLAG_NX)
        );
        assert_eq!(
            binary(mul_d, below_one, MIN_NORMAL_D, RUP),
            (MIN_NORMAL_D, FLAG_UF | FLAG_NX)
        );
        assert_eq!(
            binary(mul_d, below_one, MIN_NORMAL_D, RTZ),
            (0x000f_ffff_ffff_ffff, FLAG_UF | FLAG_NX)
        );
        assert_eq!(
            binary(mul_s, 0x3f7f_ffff, MIN_NORMAL_S, RNE),
            (MIN_NORMAL_S, FLAG_UF | FLAG_NX)
        );
        // (1 + 2^-52) * (2^-1022 - 2^-1074) = 2^-1022 - 2^-1126 rounds to
        // 2^-1022 even with an unbounded exponent: not tiny, no underflow.
        assert_eq!(
            binary(mul_d, 0x3ff0_0000_0000_0001, 0x000f_ffff_ffff_ffff, RNE),
            (MIN_NORMAL_D, FLAG_NX)
        );
        assert_eq!(
            binary(mul_s, 0x3f80_0001, 0x007f_ffff, RNE),
            (MIN_NORMAL_S, FLAG_NX)
        );
        // Truncating the same product is tiny.
        assert_eq!(
            binary(mul_s, 0x3f80_0001, 0x007f_ffff, RTZ),
            (0x007f_ffff, FLAG_UF | FLAG_NX)
        );
        // Reference results from qemu-riscv64 (fmul.s/fmul.d/fdiv.d/fcvt.s.d).
        assert_eq!(
            binary(mul_s, 0x2190_3d78, 0x1e63_2d3f, RNE),
            (MIN_NORMAL_S, FLAG_UF | FLAG_NX)
        );
        assert_eq!(
            binary(mul_s, 0xa180_0001, 0x9e7f_fffe, RNE),
            (MIN_NORMAL_S, FLAG_NX)
        );
        assert_eq!(
            binary(mul_d, 0xa0ba_cc11_2000_0000, 0x9f43_1b44_d808_8c2e, RNE),
            (MIN_NORMAL_D, FLAG_UF | FLAG_NX)
        );
        assert_eq!(
            binary(div_d, 0x1f5f_ffff_f7ff_fffe, 0x5f3f_ffff_f7ff_ffff, RUP),
            (MIN_NORMAL_D, FLAG_UF | FLAG_NX)
        );
        assert_eq!(
            unary(d_to_s, 0x380f_ffff_ed83_a584, RNE),
            (MIN_NORMAL_S, FLAG_UF | FLAG_NX)
        );
        assert_eq!(
            fused(
                fma_d,
                0x20b7_a6b8_f215_ffff,
                0x1f45_a5dc_7e37_ed5f,
                ZERO_D,
                false,
                false,
                RNE
            ),
            (0x000f_ffff_ffff_ffff, FLAG_UF | FLAG_NX)
        );
    }

    #[test]
    fn halfway_cases_in_every_mode() {
        // 1 + 2^-24 is halfway between 1 and 1 + 2^-23 (even below).
        let quarter_ulp_s = 0x3380_0000; // 2^-24
        let cases = [
            (RNE, ONE_S),
            (RTZ, ONE_S),
            (RDN, ONE_S),
            (RUP, 0x3f80_0001),
            (RMM, 0x3f80_0001),
        ];
        for (rm, expected) in cases {
            assert_eq!(binary(add_s, ONE_S, quarter_ulp_s, rm), (expected, FLAG_NX));
            assert_eq!(
                unary(d_to_s, 0x3ff0_0000_1000_0000, rm),
                (expected, FLAG_NX)
            );
        }
        // (1 + 2^-23) + 2^-24 is halfway with the odd neighbour below.
        let cases = [
            (RNE, 0x3f80_0002),
            (RTZ, 0x3f80_0001),
            (RDN, 0x3f80_0001),
            (RUP, 0x3f80_0002),
            (RMM, 0x3f80_0002),
        ];
        for (rm, expected) in cases {
            assert_eq!(
                binary(add_s, 0x3f80_0001, quarter_ulp_s, rm),
                (expected, FLAG_NX)
            );
        }
        // -(1 + 2^-53) in double.
        let cases = [
            (RNE, NEG_ONE_D),
            (RTZ, NEG_ONE_D),
            (RDN, 0xbff0_0000_0000_0001),
            (RUP, NEG_ONE_D),
            (RMM, 0xbff0_0000_0000_0001),
        ];
        for (rm, expected) in cases {
            assert_eq!(
                binary(sub_d, NEG_ONE_D, 0x3ca0_0000_0000_0000, rm),
                (expected, FLAG_NX)
            );
        }
        // Just above halfway rounds up in the nearest modes.
        assert_eq!(
            binary(add_s, ONE_S, 0x3380_0001, RNE),
            (0x3f80_0001, FLAG_NX)
        );
        // (1 + 2^-23)^2 = 1 + 2^-22 + 2^-46: just above 1 + 2^-22.
        assert_eq!(
            binary(mul_s, 0x3f80_0001, 0x3f80_0001, RNE),
            (0x3f80_0002, FLAG_NX)
        );
        assert_eq!(
            binary(mul_s, 0x3f80_0001, 0x3f80_0001, RUP),
            (0x3f80_0003, FLAG_NX)
        );
        // 1/3 in single: 0x3eaaaaab is above 1/3, 0x3eaaaaaa below.
        assert_eq!(
            binary(div_s, ONE_S, 0x4040_0000, RNE),
            (0x3eaa_aaab, FLAG_NX)
        );
        assert_eq!(
            binary(div_s, ONE_S, 0x4040_0000, RDN),
            (0x3eaa_aaaa, FLAG_NX)
        );
        assert_eq!(
            binary(div_s, NEG_ONE_S, 0x4040_0000, RUP),
            (0xbeaa_aaaa, FLAG_NX)
        );
    }

    #[test]
    fn fused_multiply_add_rounds_once() {
        // (1 + 2^-52)(1 - 2^-52) - 1 = -2^-104 exactly; separate rounding gives 0.
        let above_one = 0x3ff0_0000_0000_0001;
        let below_one = 0x3fef_ffff_ffff_fffe;
        assert_eq!(
            fused(fma_d, above_one, below_one, ONE_D, false, true, RNE),
            (0xb970_0000_0000_0000, 0)
        );
        // fnmadd: -(1 * 1) - 1 = -2; fnmsub: -(1 * 1) + 1 = +0 (-0 in RDN).
        assert_eq!(
            fused(fma_s, ONE_S, ONE_S, ONE_S, true, true, RNE),
            (0xc000_0000, 0)
        );
        assert_eq!(
            fused(fma_s, ONE_S, ONE_S, ONE_S, true, false, RNE),
            (ZERO_S, 0)
        );
        assert_eq!(
            fused(fma_s, ONE_S, ONE_S, ONE_S, true, false, RDN),
            (NEG_ZERO_S, 0)
        );
        // (1 + 2^-23)^2 + 2^-70: the tiny addend only matters for sticky.
        assert_eq!(
            fused(
                fma_s,
                0x3f80_0001,
                0x3f80_0001,
                0x1d80_0000,
                false,
                false,
                RTZ
            ),
            (0x3f80_0002, FLAG_NX)
        );
        // A zero product leaves the addend untouched.
        assert_eq!(
            fused(
                fma_d,
                ZERO_D,
                TWO_D,
                0x0000_0000_0000_0003,
                false,
                false,
                RUP
            ),
            (3, 0)
        );
        // Overflowing product with a finite addend.
        assert_eq!(
            fused(fma_s, MAX_S, TWO_S, NEG_ONE_S, false, false, RTZ),
            (MAX_S, FLAG_OF | FLAG_NX)
        );
    }

    #[test]
    fn min_max_follow_riscv_2_2() {
        assert_eq!(quiet(min_s, ZERO_S, NEG_ZERO_S), (NEG_ZERO_S, 0));
        assert_eq!(quiet(min_s, NEG_ZERO_S, ZERO_S), (NEG_ZERO_S, 0));
        assert_eq!(quiet(max_d, NEG_ZERO_D, ZERO_D), (ZERO_D, 0));
        assert_eq!(quiet(max_d, ZERO_D, NEG_ZERO_D), (ZERO_D, 0));
        assert_eq!(quiet(min_d, NEG_ONE_D, TWO_D), (NEG_ONE_D, 0));
        assert_eq!(quiet(max_s, NEG_INF_S, NEG_ONE_S), (NEG_ONE_S, 0));
        assert_eq!(quiet(min_s, QNAN_PAYLOAD_S, ONE_S), (ONE_S, 0));
        assert_eq!(quiet(max_d, TWO_D, QNAN_PAYLOAD_D), (TWO_D, 0));
        assert_eq!(quiet(min_d, SNAN_D, TWO_D), (TWO_D, FLAG_NV));
        assert_eq!(
            quiet(max_s, QNAN_PAYLOAD_S, QNAN_PAYLOAD_S),
            (CANONICAL_NAN_S, 0)
        );
        assert_eq!(
            quiet(min_d, QNAN_PAYLOAD_D, SNAN_D),
            (CANONICAL_NAN_D, FLAG_NV)
        );
    }

    #[test]
    fn comparisons() {
        assert_eq!(quiet(eq_s, ZERO_S, NEG_ZERO_S), (true, 0));
        assert_eq!(quiet(lt_s, NEG_ZERO_S, ZERO_S), (false, 0));
        assert_eq!(quiet(le_d, ZERO_D, NEG_ZERO_D), (true, 0));
        assert_eq!(quiet(lt_d, NEG_ONE_D, NEG_ZERO_D), (true, 0));
        assert_eq!(quiet(lt_d, NEG_INF_D, 0x8000_0000_0000_0001), (true, 0));
        assert_eq!(quiet(le_s, TWO_S, ONE_S), (false, 0));
        assert_eq!(quiet(eq_d, ONE_D, ONE_D), (true, 0));
        // feq is quiet on quiet NaNs; flt and fle signal on any NaN.
        assert_eq!(quiet(eq_s, QNAN_PAYLOAD_S, QNAN_PAYLOAD_S), (false, 0));
        assert_eq!(quiet(eq_d, SNAN_D, ONE_D), (false, FLAG_NV));
        assert_eq!(quiet(lt_s, ONE_S, QNAN_PAYLOAD_S), (false, FLAG_NV));
        assert_eq!(quiet(le_d, QNAN_PAYLOAD_D, ONE_D), (false, FLAG_NV));
    }

    #[test]
    fn classify_all_ten_classes() {
        let cases_s = [
            (NEG_INF_S, 0),
            (NEG_ONE_S, 1),
            (0x807f_ffff, 2),
            (NEG_ZERO_S, 3),
            (ZERO_S, 4),
            (0x0000_0001, 5),
            (MAX_S, 6),
            (INF_S, 7),
            (SNAN_S, 8),
            (CANONICAL_NAN_S, 9),
        ];
        for (bits, class) in cases_s {
            assert_eq!(classify_s(bits), 1 << class, "{bits:#x}");
        }
        let cases_d = [
            (NEG_INF_D, 0),
            (0x8010_0000_0000_0000, 1),
            (0x8000_0000_0000_0001, 2),
            (NEG_ZERO_D, 3),
            (ZERO_D, 4),
            (0x000f_ffff_ffff_ffff, 5),
            (ONE_D, 6),
            (INF_D, 7),
            (0xfff7_ffff_ffff_ffff, 8),
            (QNAN_PAYLOAD_D, 9),
        ];
        for (bits, class) in cases_d {
            assert_eq!(classify_d(bits), 1 << class, "{bits:#x}");
        }
    }

    #[test]
    fn nan_boxing() {
        assert_eq!(box_s(ONE_S), 0xffff_ffff_3f80_0000);
        assert_eq!(unbox_s(0xffff_ffff_3f80_0000), ONE_S);
        assert_eq!(unbox_s(box_s(SNAN_S)), SNAN_S);
        assert_eq!(unbox_s(0x0000_0000_3f80_0000), CANONICAL_NAN_S);
        assert_eq!(unbox_s(0xffff_fffe_3f80_0000), CANONICAL_NAN_S);
        assert_eq!(unbox_s(ONE_D), CANONICAL_NAN_S);
    }

    #[test]
    fn float_to_integer_saturates() {
        const I32_MAX: u64 = 0x7fff_ffff;
        const I32_MIN: u64 = 0xffff_ffff_8000_0000;
        const ALL_ONES: u64 = u64::MAX;
        // NaN and +inf give the largest value, -inf the smallest.
        for nan in [QNAN_PAYLOAD_S, CANONICAL_NAN_S, SNAN_S] {
            assert_eq!(unary(to_i32_s, nan, RNE), (I32_MAX, FLAG_NV));
            assert_eq!(unary(to_u32_s, nan, RNE), (ALL_ONES, FLAG_NV));
            assert_eq!(unary(to_i64_s, nan, RNE), (i64::MAX as u64, FLAG_NV));
            assert_eq!(unary(to_u64_s, nan, RNE), (ALL_ONES, FLAG_NV));
        }
        assert_eq!(unary(to_i32_d, INF_D, RTZ), (I32_MAX, FLAG_NV));
        assert_eq!(unary(to_u32_d, INF_D, RTZ), (ALL_ONES, FLAG_NV));
        assert_eq!(unary(to_i32_d, NEG_INF_D, RTZ), (I32_MIN, FLAG_NV));
        assert_eq!(unary(to_u64_d, NEG_INF_D, RTZ), (0, FLAG_NV));
        assert_eq!(unary(to_i64_s, NEG_INF_S, RTZ), (1 << 63, FLAG_NV));
        // 2^31 is just out of range for i32; -2^31 is in range; -2^31 - 1 is not.
        assert_eq!(unary(to_i32_s, 0x4f00_0000, RNE), (I32_MAX, FLAG_NV));
        assert_eq!(unary(to_i32_s, 0xcf00_0000, RNE), (I32_MIN, 0));
        assert_eq!(
            unary(to_i32_d, 0xc1e0_0000_0020_0000, RTZ),
            (I32_MIN, FLAG_NV)
        );
        // -2^31 - 0.5 truncates into range, but rounds down out of it.
        assert_eq!(
            unary(to_i32_d, 0xc1e0_0000_0010_0000, RTZ),
            (I32_MIN, FLAG_NX)
        );
        assert_eq!(
            unary(to_i32_d, 0xc1e0_0000_0010_0000, RDN),
            (I32_MIN, FLAG_NV)
        );
        // Unsigned: negative values saturate to 0 unless they round to 0.
        assert_eq!(unary(to_u32_s, NEG_ONE_S, RNE), (0, FLAG_NV));
        assert_eq!(unary(to_u64_d, NEG_ONE_D, RTZ), (0, FLAG_NV));
        assert_eq!(unary(to_u32_s, 0xbf00_0000, RTZ), (0, FLAG_NX));
        assert_eq!(unary(to_u32_s, 0xbf00_0000, RNE), (0, FLAG_NX));
        assert_eq!(unary(to_u32_s, 0xbf00_0000, RDN), (0, FLAG_NV));
        assert_eq!(unary(to_u32_s, 0xbf00_0000, RMM), (0, FLAG_NV));
        assert_eq!(unary(to_u64_d, NEG_ZERO_D, RNE), (0, 0));
        // fcvt.wu sign-extends its 32-bit result: 3e9 and 2^32 - 1.
        assert_eq!(
            unary(to_u32_d, 0x41e6_5a0b_c000_0000, RNE),
            (0xffff_ffff_b2d0_5e00, 0)
        );
        assert_eq!(unary(to_u32_d, 0x41ef_ffff_ffe0_0000, RNE), (ALL_ONES, 0));
        assert_eq!(
            unary(to_u32_d, 0x41f0_0000_0000_0000, RNE),
            (ALL_ONES, FLAG_NV)
        );
        // 2^64 is out of range for u64, 2^64 - 2048 is not.
        assert_eq!(
            unary(to_u64_d, 0x43f0_0000_0000_0000, RNE),
            (ALL_ONES, FLAG_NV)
        );
        assert_eq!(
            unary(to_u64_d, 0x43ef_ffff_ffff_ffff, RNE),
            (0xffff_ffff_ffff_f800, 0)
        );
        assert_eq!(unary(to_i64_d, 0xc3e0_0000_0000_0000, RNE), (1 << 63, 0));
    }

    #[test]
    fn float_to_integer_rounding() {
        let two_and_half = 0x4004_0000_0000_0000;
        let cases = [(RNE, 2), (RTZ, 2), (RDN, 2), (RUP, 3), (RMM, 3)];
        for (rm, expected) in cases {
            assert_eq!(unary(to_i64_d, two_and_half, rm), (expected, FLAG_NX));
        }
        let negative_cases = [(RNE, -2i64), (RTZ, -2), (RDN, -3), (RUP, -2), (RMM, -3)];
        for (rm, expected) in negative_cases {
            assert_eq!(
                unary(to_i32_d, two_and_half | 1 << 63, rm),
                (expected as u64, FLAG_NX)
            );
        }
        assert_eq!(unary(to_i32_s, 0x3fc0_0000, RNE), (2, FLAG_NX)); // 1.5
        assert_eq!(unary(to_i32_s, 1, RUP), (1, FLAG_NX)); // smallest subnormal
        assert_eq!(unary(to_i32_s, 0x8000_0001, RDN), (u64::MAX, FLAG_NX));
        assert_eq!(unary(to_i32_s, 0x8000_0001, RNE), (0, FLAG_NX));
    }

    #[test]
    fn integer_to_float_rounding() {
        let two_pow_53 = 1u64 << 53;
        let expected = [
            (RNE, 0x4340_0000_0000_0000),
            (RTZ, 0x4340_0000_0000_0000),
            (RDN, 0x4340_0000_0000_0000),
            (RUP, 0x4340_0000_0000_0001),
            (RMM, 0x4340_0000_0000_0001),
        ];
        for (rm, bits) in expected {
            assert_eq!(unary(from_i64_d, two_pow_53 + 1, rm), (bits, FLAG_NX));
            assert_eq!(unary(from_u64_d, two_pow_53 + 1, rm), (bits, FLAG_NX));
        }
        let negative = (two_pow_53 + 1).wrapping_neg();
        let expected = [
            (RNE, 0xc340_0000_0000_0000),
            (RTZ, 0xc340_0000_0000_0000),
            (RDN, 0xc340_0000_0000_0001),
            (RUP, 0xc340_0000_0000_0000),
            (RMM, 0xc340_0000_0000_0001),
        ];
        for (rm, bits) in expected {
            assert_eq!(unary(from_i64_d, negative, rm), (bits, FLAG_NX));
        }
        // 2^53 + 3 is a tie with the odd neighbour below: RNE rounds up.
        assert_eq!(
            unary(from_i64_d, two_pow_53 + 3, RNE),
            (0x4340_0000_0000_0002, FLAG_NX)
        );
        assert_eq!(
            unary(from_i64_d, two_pow_53 + 2, RNE),
            (0x4340_0000_0000_0001, 0)
        );
        assert_eq!(unary(from_u64_s, u64::MAX, RNE), (0x5f80_0000, FLAG_NX));
        assert_eq!(unary(from_u64_s, u64::MAX, RTZ), (0x5f7f_ffff, FLAG_NX));
        assert_eq!(unary(from_i64_s, 1 << 63, RNE), (0xdf00_0000, 0));
        assert_eq!(unary(from_i64_d, 0, RDN), (ZERO_D, 0));
        // The 32-bit forms read only the low 32 bits of the register.
        assert_eq!(unary(from_i32_s, u64::MAX, RNE), (NEG_ONE_S, 0));
        assert_eq!(unary(from_u32_s, u64::MAX, RNE), (0x4f80_0000, FLAG_NX));
        assert_eq!(unary(from_u32_s, u64::MAX, RDN), (0x4f7f_ffff, FLAG_NX));
        assert_eq!(
            unary(from_i32_d, 0x0000_0001_0000_0005, RNE),
            (0x4014_0000_0000_0000, 0)
        );
        assert_eq!(
            unary(from_u32_d, 0xffff_ffff_8000_0000, RNE),
            (0x41e0_0000_0000_0000, 0)
        );
        assert_eq!(
            unary(from_i32_d, 0x8000_0000, RNE),
            (0xc1e0_0000_0000_0000, 0)
        );
    }

    #[test]
    fn precision_conversions() {
        assert_eq!(exact(s_to_d, 0x3fc0_0000), (0x3ff8_0000_0000_0000, 0)); // 1.5
        assert_eq!(exact(s_to_d, 1), (0x36a0_0000_0000_0000, 0)); // 2^-149
        assert_eq!(exact(s_to_d, NEG_INF_S), (NEG_INF_D, 0));
        assert_eq!(exact(s_to_d, NEG_ZERO_S), (NEG_ZERO_D, 0));
        assert_eq!(exact(s_to_d, SNAN_S), (CANONICAL_NAN_D, FLAG_NV));
        assert_eq!(exact(s_to_d, QNAN_PAYLOAD_S), (CANONICAL_NAN_D, 0));
        // 0.1 in double lies between two singles, nearer the upper one.
        assert_eq!(
            unary(d_to_s, 0x3fb9_9999_9999_999a, RNE),
            (0x3dcc_cccd, FLAG_NX)
        );
        assert_eq!(
            unary(d_to_s, 0x3fb9_9999_9999_999a, RTZ),
            (0x3dcc_cccc, FLAG_NX)
        );
        // 2^-150 is half the smallest single subnormal.
        let cases = [
            (RNE, ZERO_S),
            (RTZ, ZERO_S),
            (RDN, ZERO_S),
            (RUP, 1),
            (RMM, 1),
        ];
        for (rm, expected) in cases {
            assert_eq!(
                unary(d_to_s, 0x3690_0000_0000_0000, rm),
                (expected, FLAG_UF | FLAG_NX)
            );
        }
        // 1e-300 is far below every single.
        assert_eq!(
            unary(d_to_s, 0x01a5_6e1f_c2f8_f359, RNE),
            (ZERO_S, FLAG_UF | FLAG_NX)
        );
        assert_eq!(
            unary(d_to_s, 0x81a5_6e1f_c2f8_f359, RDN),
            (0x8000_0001, FLAG_UF | FLAG_NX)
        );
        // 1e300 overflows.
        assert_eq!(
            unary(d_to_s, 0x7e37_e43c_8800_759c, RNE),
            (INF_S, FLAG_OF | FLAG_NX)
        );
        assert_eq!(
            unary(d_to_s, 0x7e37_e43c_8800_759c, RTZ),
            (MAX_S, FLAG_OF | FLAG_NX)
        );
        assert_eq!(unary(d_to_s, 0x3810_0000_0000_0000, RNE), (MIN_NORMAL_S, 0));
        assert_eq!(unary(d_to_s, SNAN_D, RNE), (CANONICAL_NAN_S, FLAG_NV));
        assert_eq!(unary(d_to_s, NEG_INF_D, RNE), (NEG_INF_S, 0));
    }

    // -----------------------------------------------------------------------
    // Fast path against slow path

    /// Deterministic xorshift64 generator.
    struct XorShift(u64);

    impl XorShift {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0
        }

        fn below(&mut self, bound: u64) -> u64 {
            self.next() % bound
        }
    }

    fn compose<F: Format>(negative: bool, exponent_field: u64, fraction: u64) -> u64 {
        sign_bit::<F>(negative)
            | (exponent_field.min(F::EXPONENT_FIELD_MAX) << F::FRACTION_BITS)
            | (fraction & F::FRACTION_MASK)
    }

    /// Fractions with structure: few bits, long runs, or random.
    fn random_fraction<F: Format>(rng: &mut XorShift) -> u64 {
        let bits = rng.next();
        let position = rng.below(u64::from(F::FRACTION_BITS));
        match rng.below(5) {
            0 => bits,
            1 => bits & !((1 << position) - 1),
            2 => bits | ((1 << position) - 1),
            3 => 1 << position,
            _ => bits >> rng.below(64),
        }
    }

    /// Finite operands across the range, weighted to subnormals, the
    /// overflow threshold and the neighbourhood of 1.
    fn random_operand<F: Format>(rng: &mut XorShift) -> u64 {
        let negative = rng.next() & 1 == 1;
        let top_exponent = F::EXPONENT_FIELD_MAX - 1;
        let exponent = match rng.below(6) {
            0 => rng.below(3),
            1 => top_exponent - rng.below(3),
            2 => F::BIAS as u64 - 4 + rng.below(9),
            _ => rng.below(top_exponent + 1),
        };
        compose::<F>(negative, exponent, random_fraction::<F>(rng))
    }

    /// A second operand related to `a` so that sums cancel or land on ties,
    /// and products or quotients land near underflow or overflow.
    fn related_operand<F: Format>(rng: &mut XorShift, a: u64) -> u64 {
        let negative = rng.next() & 1 == 1;
        let a_exponent = (a >> F::FRACTION_BITS & F::EXPONENT_FIELD_MAX) as i64;
        let bias = i64::from(F::BIAS);
        let top_exponent = F::EXPONENT_FIELD_MAX as i64 - 1;
        let exponent = match rng.below(7) {
            0 => return random_operand::<F>(rng),
            1 => return a ^ sign_bit::<F>(negative),
            2 => {
                return (a ^ sign_bit::<F>(negative))
                    .wrapping_add(rng.below(7))
                    .wrapping_sub(3)
                    & (F::SIGN_MASK | F::MAX_FINITE)
            }
            // Near one ulp of `a` or just below: ties and sticky bits in sums.
            3 => a_exponent - i64::from(F::PRECISION) - 1 + rng.below(4) as i64,
            // Product near the underflow threshold, or quotient near it.
            4 => bias - a_exponent + rng.below(4) as i64 - 2,
            5 => a_exponent + bias - rng.below(4) as i64,
            // Product or quotient near overflow.
            _ => top_exponent + bias - a_exponent - rng.below(3) as i64,
        };
        compose::<F>(
            negative,
            exponent.clamp(0, top_exponent) as u64,
            random_fraction::<F>(rng),
        )
    }

    fn assert_same<F: Format>(
        operation: &str,
        a: u64,
        b: u64,
        fast: Option<u64>,
        fast_flags: u8,
        slow: u64,
        slow_flags: u8,
    ) -> bool {
        match fast {
            Some(fast) => {
                assert_eq!(
                    (fast, fast_flags),
                    (slow, slow_flags),
                    "{operation}: a={a:#x} b={b:#x}"
                );
                true
            }
            None => false,
        }
    }

    fn fast_path_matches_slow_path<F: Format>(seed: u64) {
        let mut rng = XorShift(seed);
        let iterations = 60_000;
        let mut fast_path_taken = [0u32; 5];
        for _ in 0..iterations {
            let a = random_operand::<F>(&mut rng);
            let b = related_operand::<F>(&mut rng, a);
            let (mut fast_flags, mut slow_flags) = (0, 0);

            let fast = add_fast::<F>(a, b, &mut fast_flags);
            let slow = add_slow::<F>(a, b, RNE, &mut slow_flags);
            fast_path_taken[0] += u32::from(assert_same::<F>(
                "add", a, b, fast, fast_flags, slow, slow_flags,
            ));

            let (mut fast_flags, mut slow_flags) = (0, 0);
            let negated_b = b ^ F::SIGN_MASK;
            let fast = add_fast::<F>(a, negated_b, &mut fast_flags);
            let slow = add_slow::<F>(a, negated_b, RNE, &mut slow_flags);
            fast_path_taken[1] += u32::from(assert_same::<F>(
                "sub", a, b, fast, fast_flags, slow, slow_flags,
            ));

            let (mut fast_flags, mut slow_flags) = (0, 0);
            let fast = mul_fast::<F>(a, b, &mut fast_flags);
            let slow = mul_slow::<F>(a, b, RNE, &mut slow_flags);
            fast_path_taken[2] += u32::from(assert_same::<F>(
                "mul", a, b, fast, fast_flags, slow, slow_flags,
            ));

            let (mut fast_flags, mut slow_flags) = (0, 0);
            let fast = div_fast::<F>(a, b, &mut fast_flags);
            let slow = div_slow::<F>(a, b, RNE, &mut slow_flags);
            fast_path_taken[3] += u32::from(assert_same::<F>(
                "div", a, b, fast, fast_flags, slow, slow_flags,
            ));

            // The host-based square root serves every rounding mode.
            for rm in ALL_MODES {
                let (mut fast_flags, mut slow_flags) = (0, 0);
                let fast = sqrt_fast::<F>(a, rm, &mut fast_flags);
                let slow = sqrt_slow::<F>(a, rm, &mut slow_flags);
                let taken = assert_same::<F>("sqrt", a, 0, fast, fast_flags, slow, slow_flags);
                fast_path_taken[4] += u32::from(taken && rm == RNE);
            }
        }
        // The comparison is only meaningful if the fast path usually applies
        // (sqrt declines negative operands, about half of them).
        for taken in fast_path_taken {
            assert!(taken > iterations / 3, "fast path taken only {taken} times");
        }
    }

    #[test]
    fn fast_path_matches_slow_path_single() {
        fast_path_matches_slow_path::<Single>(0x2545_f491_4f6c_dd1d);
    }

    #[test]
    fn fast_path_matches_slow_path_double() {
        fast_path_matches_slow_path::<Double>(0x9e37_79b9_7f4a_7c15);
    }

    /// An addend for `a * b` that makes the sum cancel, land on ties or have sticky bits.
    fn related_addend<F: Format>(rng: &mut XorShift, a: u64, b: u64) -> u64 {
        let mut ignored = 0;
        let product = mul_slow::<F>(a, b, RNE, &mut ignored);
        let product_exponent = (product >> F::FRACTION_BITS & F::EXPONENT_FIELD_MAX) as i64;
        match rng.below(5) {
            0 => random_operand::<F>(rng),
            // The rounded product, negated or not, a few ulps off.
            1 | 2 => {
                (product ^ sign_bit::<F>(rng.next() & 1 == 1))
                    .wrapping_add(rng.below(7))
                    .wrapping_sub(3)
                    & (F::SIGN_MASK | F::MAX_FINITE)
            }
            // Around the product's last bits.
            3 => compose::<F>(
                rng.next() & 1 == 1,
                (product_exponent - i64::from(F::PRECISION) - 2 + rng.below(5) as i64)
                    .clamp(0, F::EXPONENT_FIELD_MAX as i64 - 1) as u64,
                random_fraction::<F>(rng),
            ),
            _ => related_operand::<F>(rng, a),
        }
    }

    /// `fast` (`F::fma_fast` unless said otherwise) against the exact path.
    fn fast_fma_matches_slow_path<F: Format>(
        seed: u64,
        iterations: u32,
        fast: impl Fn(u64, u64, u64, &mut u8) -> Option<u64>,
    ) {
        let mut rng = XorShift(seed);
        let mut taken = 0;
        for _ in 0..iterations {
            let a = random_operand::<F>(&mut rng);
            let b = related_operand::<F>(&mut rng, a);
            let c = related_addend::<F>(&mut rng, a, b);
            let (mut fast_flags, mut slow_flags) = (0, 0);
            let ordinary = [a, b, c]
                .into_iter()
                .all(|bits| is_finite::<F>(bits) && !is_zero::<F>(bits));
            let result = ordinary.then(|| fast(a, b, c, &mut fast_flags)).flatten();
            let slow = fma_slow::<F>(a, b, c, RNE, &mut slow_flags);
            if let Some(result) = result {
                assert_eq!(
                    (result, fast_flags),
                    (slow, slow_flags),
                    "fma: a={a:#x} b={b:#x} c={c:#x}"
                );
                taken += 1;
            }
        }
        assert!(taken > iterations / 5, "fast path taken only {taken} times");
    }

    #[test]
    fn fast_fma_matches_slow_path_single() {
        fast_fma_matches_slow_path::<Single>(0x853c_49e6_748f_ea9b, 60_000, fma_fast_s);
    }

    #[test]
    fn fast_fma_matches_slow_path_double() {
        // Without an FMA instruction on this host, `fma_by_rounding_to_odd` is tested below.
        if host_fma(1.0, 1.0, 1.0).is_some() {
            fast_fma_matches_slow_path::<Double>(0xda3e_39cb_94b9_5bdb, 60_000, fma_fast_d);
        }
    }

    /// The double FMA of hosts without the instruction (wasm32), on every host: plain double
    /// arithmetic is the same everywhere.
    #[test]
    fn fma_rounded_to_odd_matches_slow_path_double() {
        fast_fma_matches_slow_path::<Double>(0x6a09_e667_f3bc_c909, 400_000, |a, b, c, flags| {
            let (a, b, c) = (f64::from_bits(a), f64::from_bits(b), f64::from_bits(c));
            fma_flags_d(fma_by_rounding_to_odd(a, b, c)?, c, flags)
        });
    }

    #[test]
    fn fast_fma_rounds_once_and_flags_exactly() {
        // (1 + 2^-52)(1 - 2^-52) - 1 = -2^-104: exact, though the product alone is not.
        let above_one = 0x3ff0_0000_0000_0001;
        let below_one = 0x3fef_ffff_ffff_fffe;
        if host_fma(1.0, 1.0, 1.0).is_some() {
            let (result, flags) =
                with_flags(|f| fma_fast_d(above_one, below_one, ONE_D ^ Double::SIGN_MASK, f));
            assert_eq!((result, flags), (Some(0xb970_0000_0000_0000), 0));
            // + 2^-200 makes it inexact.
            let (result, flags) =
                with_flags(|f| fma_fast_d(above_one, below_one, 0x3370_0000_0000_0000, f));
            assert_eq!((result, flags), (Some(ONE_D), FLAG_NX));
        }
        // Single: (1 + 2^-23)^2 = 1 + 2^-22 + 2^-46 is inexact; minus the rounded product
        // leaves 2^-46 exactly.
        let (result, flags) =
            with_flags(|f| fma_fast_s(0x3f80_0001, 0x3f80_0001, u64::from(ONE_S), f));
        assert_eq!((result, flags), (Some(0x4000_0001), FLAG_NX));
        let (result, flags) = with_flags(|f| fma_fast_s(0x3f80_0001, 0x3f80_0001, 0xbf80_0002, f));
        assert_eq!((result, flags), (Some(0x2880_0000), 0));
        // 2^-12 (1 + 2^-23) * 2^-12 (1 - 2^-23) + (1 + 2^-23) = 1 + 3 * 2^-24 - 2^-70: binary64
        // rounds it to the midpoint 1 + 3 * 2^-24, whose tie would go up to 1 + 2^-22. The
        // fast path declines; the exact one rounds down.
        let (a, b, c) = (0x3980_0001, 0x397f_fffe, 0x3f80_0001);
        assert_eq!(with_flags(|f| fma_fast_s(a, b, c, f)).0, None);
        assert_eq!(
            fused(fma_s, a as u32, b as u32, c as u32, false, false, RNE),
            (0x3f80_0001, FLAG_NX)
        );
    }

    #[test]
    fn fast_path_handles_exact_and_inexact_results() {
        // Exact: 1.5 * 1.5, 3 / 1.5, sqrt(2.25), 1 + 2^-23.
        let (result, flags) = with_flags(|f| mul_fast::<Single>(0x3fc0_0000, 0x3fc0_0000, f));
        assert_eq!((result, flags), (Some(0x4010_0000), 0));
        let (result, flags) =
            with_flags(|f| div_fast::<Double>(0x4008_0000_0000_0000, 0x3ff8_0000_0000_0000, f));
        assert_eq!((result, flags), (Some(TWO_D), 0));
        let (result, flags) = with_flags(|f| sqrt_fast::<Double>(0x4002_0000_0000_0000, RUP, f));
        assert_eq!((result, flags), (Some(0x3ff8_0000_0000_0000), 0));
        let (result, flags) = with_flags(|f| add_fast::<Single>(u64::from(ONE_S), 0x3400_0000, f));
        assert_eq!((result, flags), (Some(0x3f80_0001), 0));
        // Near underflow the fast path defers to the slow one.
        assert_eq!(
            with_flags(|f| mul_fast::<Double>(0x3fef_ffff_ffff_ffff, MIN_NORMAL_D, f)),
            (None, 0)
        );
    }
}
