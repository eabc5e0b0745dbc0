//! A panic caught by catch_unwind: exercises DWARF unwinding in the Rust
//! runtime; exit status must be 0. The default panic hook prints the thread
//! id (differs per run) and honours RUST_BACKTRACE, so a deterministic hook
//! reports panics on stderr instead.
use std::panic;

fn might_panic(n: u32) -> u32 {
    if n == 3 {
        panic!("boom at {n}");
    }
    n * 10
}

struct Noisy(&'static str);
impl Drop for Noisy {
    fn drop(&mut self) {
        println!("drop {}", self.0);
    }
}

fn main() {
    panic::set_hook(Box::new(|info| {
        let msg = info
            .payload()
            .downcast_ref::<String>()
            .map(String::as_str)
            .or_else(|| info.payload().downcast_ref::<&str>().copied())
            .unwrap_or("<non-string payload>");
        let loc = info
            .location()
            .map(|l| format!("{}:{}", l.file(), l.line()))
            .unwrap_or_default();
        eprintln!("panicked at {loc}: {msg}");
    }));
    for n in 0..5 {
        let r = panic::catch_unwind(|| {
            let _guard = Noisy("guard");
            might_panic(n)
        });
        match r {
            Ok(v) => println!("n={n} ok {v}"),
            Err(e) => {
                let msg = e
                    .downcast_ref::<String>()
                    .map(String::as_str)
                    .unwrap_or("<non-string>");
                println!("n={n} caught panic: {msg}");
            }
        }
    }
    let r = panic::catch_unwind(|| {
        let v: Vec<i32> = Vec::new();
        v[3]
    });
    println!("index out of bounds caught: {}", r.is_err());
    let r = panic::catch_unwind(|| std::panic::panic_any(17u8));
    println!(
        "panic_any payload: {:?}",
        r.unwrap_err().downcast_ref::<u8>()
    );
    println!("done");
}
