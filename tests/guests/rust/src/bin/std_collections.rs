//! std collections and formatting. HashMap's RandomState seeds itself through
//! the getrandom syscall, so iteration order varies run to run: everything
//! printed from a hash container is sorted first.
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet, VecDeque};
use std::fmt::Write as _;

fn main() {
    let text = "it was the best of times it was the worst of times it was the age of wisdom \
                it was the age of foolishness it was the epoch of belief";
    let mut counts: HashMap<&str, usize> = HashMap::new();
    for w in text.split_whitespace() {
        *counts.entry(w).or_default() += 1;
    }
    let mut by_count: Vec<(&str, usize)> = counts.iter().map(|(k, v)| (*k, *v)).collect();
    by_count.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
    println!("distinct words: {}", by_count.len());
    for (w, n) in by_count.iter().take(6) {
        println!("{w:>8}: {n}");
    }

    let squares: Vec<u64> = (1..=20u64).map(|x| x * x).collect();
    let evens: Vec<u64> = squares.iter().copied().filter(|x| x % 2 == 0).collect();
    println!(
        "squares sum={} evens={:?}",
        squares.iter().sum::<u64>(),
        evens
    );

    let mut s = String::new();
    for (i, c) in "héllo wörld ☃".chars().enumerate() {
        write!(s, "{i}:{c}({:x}) ", c as u32).unwrap();
    }
    println!("{}", s.trim_end());
    println!(
        "upper: {}, bytes: {}, chars: {}",
        "héllo wörld".to_uppercase(),
        "héllo".len(),
        "héllo".chars().count()
    );

    let set: HashSet<u32> = (0..1000).map(|i| (i * 7919) % 1009).collect();
    let mut v: Vec<u32> = set.into_iter().collect();
    v.sort_unstable();
    println!(
        "hashset: {} items, first {:?}, last {:?}",
        v.len(),
        &v[..5],
        &v[v.len() - 3..]
    );

    let mut bt = BTreeMap::new();
    for i in 0..50i64 {
        bt.insert((i * 37) % 101 - 50, i);
    }
    let range: Vec<_> = bt.range(-10..10).collect();
    println!("btree range: {range:?}");
    let bs: BTreeSet<char> = text.chars().filter(|c| c.is_alphabetic()).collect();
    println!("letters: {}", bs.iter().collect::<String>());

    let mut dq: VecDeque<i32> = VecDeque::new();
    for i in 0..10 {
        if i % 2 == 0 {
            dq.push_back(i)
        } else {
            dq.push_front(i)
        }
    }
    dq.rotate_left(3);
    println!("deque: {dq:?}");

    let floats = [1.5f64, -0.0, 2.0 / 3.0, 1e21, 1e-7, f64::NAN, f64::INFINITY];
    for f in floats {
        print!("[{f} {f:e} {f:.3} {:?}] ", f as f32);
    }
    println!();
    println!(
        "{:e} {:e} {:?} {:e}",
        f64::MAX,
        f64::MIN_POSITIVE,
        f32::MIN_POSITIVE,
        5e-324
    );
    println!(
        "{:08.3} {:+} {:#x} {:#b} {:>6}| {:<6}| {:^7}|",
        1.23456, 42, 255, 5u8, "r", "l", "c"
    );
    println!(
        "{:?}",
        ("tuple", 1u8, [1.0f32, 2.5], Some('x'), None::<i32>)
    );
    let big: u128 = u128::MAX / 3;
    println!("u128 {big} i128 {} i64::MIN {}", -(big as i128), i64::MIN);

    let mut words: Vec<String> = text.split(' ').map(str::to_owned).collect();
    words.sort();
    words.dedup();
    println!("sorted unique: {}", words.join(","));
}
