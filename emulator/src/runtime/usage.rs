//! What a request may take from its host: the price of tenant calls, paid in instructions of
//! the fork's budget before the host does the work, and the caps on every host resource a
//! request can grow (docs/abi.md, "What calls cost" and "Per-request caps"). A fork is one side
//! of one request, so these count per fork, as `max_instructions` does.

use core::cell::Cell;

use super::abi::errno;
use super::calls::CallEnd;

/// Every tenant call: leaving the interpreter, checking arguments, the host's bookkeeping. It
/// makes a loop of calls that do nothing cost about what a loop of a few dozen instructions
/// does natively.
pub const CALL_COST: u64 = 100;

/// Bytes copied between guest and host memory (inputs read, values the host returns): 1
/// instruction per 16 bytes.
pub const COPY_COST_PER_KIB: u64 = 64;

/// SHA-256 and HMAC-SHA256 over their input: 1 instruction per byte.
pub const HASH_COST_PER_KIB: u64 = 1024;

/// JSON parsing (validate and query) of the document: 4 instructions per byte.
pub const JSON_PARSE_COST_PER_KIB: u64 = 4096;

/// XML parsing (validate and query) of the document: 6 instructions per byte. XML dense with
/// elements (`<b/><b/>...`) is the slowest document per byte: at 4 a loop on `xml_query` took
/// 1.14 times an ordinary tenant's time for the same budget once the interpreter got faster
/// (rvedge-bench prints the ratio of every call).
pub const XML_PARSE_COST_PER_KIB: u64 = 6144;

/// Bytes the host may copy for one request in all (inputs and returned values); past it calls
/// that copy give `-E2BIG`. The budget already bounds them unless `max_instructions` is huge.
pub const MAX_HOST_BYTES: u64 = 256 << 20;

/// Lines a request may log (`log`, stdout and stderr together); past it `log` gives `-E2BIG`
/// and output is dropped.
pub const MAX_LOG_LINES: usize = 1000;

/// Bytes a request may log, as for [`MAX_LOG_LINES`].
pub const MAX_LOG_BYTES: usize = 64 << 10;

/// Headers a request may set or append, over all header sets; past it `-E2BIG`.
pub const MAX_HEADERS_ADDED: usize = 128;

/// Bytes of header names and values, URLs and methods a request may set or append in all;
/// past it `-E2BIG`.
pub const MAX_HEADER_BYTES_ADDED: usize = 64 << 10;

/// Longest backend name `backend_set` takes (hosts put it in a header or look it up).
pub const MAX_BACKEND_NAME_BYTES: usize = 256;

/// Most bytes `hash_add` may add to one request's cache key; more is `-E2BIG`.
pub const MAX_HASH_BYTES: usize = 64 << 10;

/// What one fork has taken from its host so far.
#[derive(Clone, Debug, Default)]
pub struct RequestUsage {
    pub host_bytes: u64,
    pub log_lines: usize,
    pub log_bytes: usize,
    /// stdout/stderr output was dropped at the log caps, and the log says so.
    pub log_cut: bool,
    pub headers_added: usize,
    pub header_bytes_added: usize,
    /// Bytes `hash_add` added, taken by the host or not.
    pub hash_bytes: usize,
}

impl RequestUsage {
    /// Counts a log line of `bytes` if the caps allow it.
    pub fn admit_log_line(&mut self, bytes: usize) -> bool {
        if self.log_lines >= MAX_LOG_LINES || self.log_bytes.saturating_add(bytes) > MAX_LOG_BYTES {
            return false;
        }
        self.log_lines += 1;
        self.log_bytes += bytes;
        true
    }

    /// Counts a valid header (or URL, or method) of `bytes` about to be set or appended;
    /// `-E2BIG` past the caps.
    /// `counts_as_header` is false for URLs and methods, which replace rather than add.
    pub fn admit_header(&mut self, bytes: usize, counts_as_header: bool) -> Result<(), i64> {
        let headers = self.headers_added + usize::from(counts_as_header);
        let header_bytes = self.header_bytes_added.saturating_add(bytes);
        if headers > MAX_HEADERS_ADDED || header_bytes > MAX_HEADER_BYTES_ADDED {
            return Err(-errno::E2BIG);
        }
        self.headers_added = headers;
        self.header_bytes_added = header_bytes;
        Ok(())
    }

    /// Counts `bytes` added to the cache key; `-E2BIG` past [`MAX_HASH_BYTES`].
    pub fn admit_hash(&mut self, bytes: usize) -> Result<(), i64> {
        if self.hash_bytes.saturating_add(bytes) > MAX_HASH_BYTES {
            return Err(-errno::E2BIG);
        }
        self.hash_bytes += bytes;
        Ok(())
    }
}

/// The instructions one tenant call may still charge (what is left of the fork's budget when
/// it was made), and what it charged. Charged through shared references (its counts are
/// cells), so a call can hold texts borrowed from guest memory while it pays for more.
#[derive(Debug)]
pub struct Meter {
    left: Cell<u64>,
    charged: Cell<u64>,
    host_bytes: Cell<u64>,
}

impl Meter {
    pub fn new(budget_left: u64, usage: &RequestUsage) -> Meter {
        Meter {
            left: Cell::new(budget_left),
            charged: Cell::new(0),
            host_bytes: Cell::new(usage.host_bytes),
        }
    }

    /// Instructions charged so far.
    pub fn charged(&self) -> u64 {
        self.charged.get()
    }

    /// Host bytes of the request so far, this call's included.
    pub fn host_bytes(&self) -> u64 {
        self.host_bytes.get()
    }

    /// Pays `instructions`, or ends the run as out of budget if they do not fit.
    pub fn charge(&self, instructions: u64) -> Result<(), CallEnd> {
        let left = self.left.get();
        if instructions > left {
            self.charged.set(self.charged.get() + left);
            self.left.set(0);
            return Err(CallEnd::BudgetExhausted);
        }
        self.left.set(left - instructions);
        self.charged.set(self.charged.get() + instructions);
        Ok(())
    }

    /// Pays for work on `bytes` at `cost_per_kib` instructions per KiB, rounded up.
    pub fn charge_work(&self, bytes: u64, cost_per_kib: u64) -> Result<(), CallEnd> {
        self.charge(bytes.saturating_mul(cost_per_kib).div_ceil(1024))
    }

    /// Pays for copying `bytes` between guest and host and counts them against
    /// [`MAX_HOST_BYTES`]: `Ok(Err(-E2BIG))` past it (nothing charged but what was).
    pub fn charge_copy(&self, bytes: u64) -> Result<Result<(), i64>, CallEnd> {
        let host_bytes = self.host_bytes.get().saturating_add(bytes);
        if host_bytes > MAX_HOST_BYTES {
            return Ok(Err(-errno::E2BIG));
        }
        self.charge_work(bytes, COPY_COST_PER_KIB)?;
        self.host_bytes.set(host_bytes);
        Ok(Ok(()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_charge_that_does_not_fit_ends_the_run_and_uses_up_the_budget() {
        let meter = Meter::new(1000, &RequestUsage::default());
        assert_eq!(meter.charge(CALL_COST), Ok(()));
        assert_eq!(
            meter.charge_work(4096, HASH_COST_PER_KIB),
            Err(CallEnd::BudgetExhausted)
        );
        assert_eq!(meter.charged(), 1000);
        assert_eq!(meter.charge(1), Err(CallEnd::BudgetExhausted));
    }

    #[test]
    fn copies_count_against_the_host_byte_cap() {
        let usage = RequestUsage {
            host_bytes: MAX_HOST_BYTES - 10,
            ..RequestUsage::default()
        };
        let meter = Meter::new(u64::MAX, &usage);
        assert_eq!(meter.charge_copy(10), Ok(Ok(())));
        assert_eq!(meter.charged(), 1);
        assert_eq!(meter.charge_copy(1), Ok(Err(-errno::E2BIG)));
        assert_eq!(meter.host_bytes(), MAX_HOST_BYTES);
    }

    #[test]
    fn log_and_header_caps_count_what_was_admitted() {
        let mut usage = RequestUsage::default();
        assert!(usage.admit_log_line(MAX_LOG_BYTES));
        assert!(!usage.admit_log_line(1));
        assert_eq!(usage.log_lines, 1);
        assert_eq!(usage.admit_header(MAX_HEADER_BYTES_ADDED, true), Ok(()));
        assert_eq!(usage.admit_header(1, false), Err(-errno::E2BIG));
        assert_eq!(usage.headers_added, 1);
    }
}
