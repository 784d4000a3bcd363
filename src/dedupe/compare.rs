//! String similarity measures on `char` slices, so a CJK character counts as one
//! character (byte-based edit distances count three per character).

/// Jaro similarity in [0, 1].
pub fn jaro(a: &[char], b: &[char]) -> f64 {
    let (la, lb) = (a.len(), b.len());
    if (1..=64).contains(&la) && (1..=64).contains(&lb) && a.iter().chain(b).all(|c| c.is_ascii()) {
        return jaro_ascii64(a, b);
    }
    jaro_general(a, b)
}

/// Jaro for ASCII strings of up to 64 characters, bit-parallel: the positions of each
/// character in `b` are a bit mask, so finding the first unmatched equal character in
/// the window is a mask operation instead of a scan. Same result as `jaro_general`.
fn jaro_ascii64(a: &[char], b: &[char]) -> f64 {
    let (la, lb) = (a.len(), b.len());
    let window = (la.max(lb) / 2).saturating_sub(1);
    let mut pos = [0u64; 128];
    for (j, &c) in b.iter().enumerate() {
        pos[c as usize] |= 1u64 << j;
    }
    let full = if lb == 64 { u64::MAX } else { (1u64 << lb) - 1 };
    let mut b_matched = 0u64;
    let mut a_matched = 0u64;
    for (i, &c) in a.iter().enumerate() {
        let lo = i.saturating_sub(window);
        let hi = (i + window + 1).min(lb);
        if lo >= hi {
            continue;
        }
        let upper = if hi >= 64 { u64::MAX } else { (1u64 << hi) - 1 };
        let in_window = upper & !((1u64 << lo) - 1) & full;
        let cand = pos[c as usize] & in_window & !b_matched;
        if cand != 0 {
            b_matched |= cand & cand.wrapping_neg();
            a_matched |= 1u64 << i;
        }
    }
    let matches = a_matched.count_ones() as usize;
    if matches == 0 {
        return 0.0;
    }
    let mut transpositions = 0usize;
    let (mut am, mut bm) = (a_matched, b_matched);
    while am != 0 {
        let i = am.trailing_zeros() as usize;
        let j = bm.trailing_zeros() as usize;
        if a[i] != b[j] {
            transpositions += 1;
        }
        am &= am - 1;
        bm &= bm - 1;
    }
    let m = matches as f64;
    (m / la as f64 + m / lb as f64 + (m - transpositions as f64 / 2.0) / m) / 3.0
}

/// Jaro similarity for any strings (by character).
fn jaro_general(a: &[char], b: &[char]) -> f64 {
    let (la, lb) = (a.len(), b.len());
    if la == 0 && lb == 0 {
        return 1.0;
    }
    if la == 0 || lb == 0 {
        return 0.0;
    }
    let window = (la.max(lb) / 2).saturating_sub(1);
    let mut a_match = [false; 64];
    let mut b_match = [false; 64];
    let mut a_vec;
    let mut b_vec;
    let (am, bm): (&mut [bool], &mut [bool]) = if la <= 64 && lb <= 64 {
        (&mut a_match[..la], &mut b_match[..lb])
    } else {
        a_vec = vec![false; la];
        b_vec = vec![false; lb];
        (&mut a_vec[..], &mut b_vec[..])
    };
    let mut matches = 0usize;
    for i in 0..la {
        let lo = i.saturating_sub(window);
        let hi = (i + window + 1).min(lb);
        for j in lo..hi {
            if !bm[j] && a[i] == b[j] {
                am[i] = true;
                bm[j] = true;
                matches += 1;
                break;
            }
        }
    }
    if matches == 0 {
        return 0.0;
    }
    let mut transpositions = 0usize;
    let mut k = 0usize;
    for i in 0..la {
        if am[i] {
            while !bm[k] {
                k += 1;
            }
            if a[i] != b[k] {
                transpositions += 1;
            }
            k += 1;
        }
    }
    let m = matches as f64;
    (m / la as f64 + m / lb as f64 + (m - transpositions as f64 / 2.0) / m) / 3.0
}

/// Jaro-Winkler similarity (prefix scale 0.1, prefix up to 4 characters).
pub fn jaro_winkler(a: &[char], b: &[char]) -> f64 {
    let j = jaro(a, b);
    let prefix = a.iter().zip(b.iter()).take(4).take_while(|(x, y)| x == y).count();
    j + prefix as f64 * 0.1 * (1.0 - j)
}

/// Levenshtein distance (insert, delete, substitute), by character.
pub fn levenshtein(a: &[char], b: &[char]) -> usize {
    if a.is_empty() {
        return b.len();
    }
    if b.is_empty() {
        return a.len();
    }
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    let mut cur = vec![0usize; b.len() + 1];
    for (i, ca) in a.iter().enumerate() {
        cur[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let cost = usize::from(ca != cb);
            cur[j + 1] = (prev[j] + cost).min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        std::mem::swap(&mut prev, &mut cur);
    }
    prev[b.len()]
}

/// Optimal string alignment distance (Damerau-Levenshtein with adjacent transpositions).
pub fn damerau(a: &[char], b: &[char]) -> usize {
    let (la, lb) = (a.len(), b.len());
    if la == 0 {
        return lb;
    }
    if lb == 0 {
        return la;
    }
    let w = lb + 1;
    let mut d = vec![0usize; (la + 1) * w];
    for i in 0..=la {
        d[i * w] = i;
    }
    for j in 0..=lb {
        d[j] = j;
    }
    for i in 1..=la {
        for j in 1..=lb {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut v = (d[(i - 1) * w + j] + 1).min(d[i * w + j - 1] + 1).min(d[(i - 1) * w + j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                v = v.min(d[(i - 2) * w + j - 2] + 1);
            }
            d[i * w + j] = v;
        }
    }
    d[la * w + lb]
}

/// Dice coefficient of character q-gram multisets (q = 2 by default for CJK text).
pub fn qgram_dice(a: &[char], b: &[char], q: usize) -> f64 {
    if a.len() < q || b.len() < q {
        return if a == b { 1.0 } else { 0.0 };
    }
    let mut ga: Vec<&[char]> = a.windows(q).collect();
    let mut gb: Vec<&[char]> = b.windows(q).collect();
    ga.sort_unstable();
    gb.sort_unstable();
    dice_of_sorted(&ga, &gb)
}

/// Dice coefficient of two sorted multisets (0 when either is empty): one merge pass.
pub fn dice_of_sorted<T: Ord>(a: &[T], b: &[T]) -> f64 {
    if a.is_empty() || b.is_empty() {
        return 0.0;
    }
    let (mut i, mut j, mut common) = (0, 0, 0usize);
    while i < a.len() && j < b.len() {
        match a[i].cmp(&b[j]) {
            std::cmp::Ordering::Equal => {
                common += 1;
                i += 1;
                j += 1;
            }
            std::cmp::Ordering::Less => i += 1,
            std::cmp::Ordering::Greater => j += 1,
        }
    }
    2.0 * common as f64 / (a.len() + b.len()) as f64
}

/// Token-set similarity: Jaro-Winkler of the space-separated tokens sorted, so
/// "smith john" and "john smith" agree fully.
pub fn token_sort_jw(a: &str, b: &str) -> f64 {
    let mut ta: Vec<&str> = a.split_whitespace().collect();
    let mut tb: Vec<&str> = b.split_whitespace().collect();
    ta.sort_unstable();
    tb.sort_unstable();
    let ca: Vec<char> = ta.join(" ").chars().collect();
    let cb: Vec<char> = tb.join(" ").chars().collect();
    jaro_winkler(&ca, &cb)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c(s: &str) -> Vec<char> {
        s.chars().collect()
    }

    #[test]
    fn known_values() {
        // Published examples (Winkler 1990 / common references).
        assert!((jaro(&c("martha"), &c("marhta")) - 0.944444).abs() < 1e-5);
        assert!((jaro_winkler(&c("martha"), &c("marhta")) - 0.961111).abs() < 1e-5);
        assert!((jaro_winkler(&c("dwayne"), &c("duane")) - 0.84).abs() < 1e-5);
        assert!((jaro_winkler(&c("dixon"), &c("dicksonx")) - 0.813333).abs() < 1e-5);
        assert_eq!(levenshtein(&c("kitten"), &c("sitting")), 3);
        assert_eq!(damerau(&c("ca"), &c("ac")), 1);
        assert_eq!(levenshtein(&c("ca"), &c("ac")), 2);
    }

    #[test]
    fn bit_parallel_jaro_equals_the_scan() {
        // Deterministic pseudo-random ASCII strings over a small alphabet (many repeats).
        let mut state = 12345u64;
        let mut next = || {
            state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            (state >> 33) as usize
        };
        for _ in 0..20000 {
            let la = next() % 66;
            let lb = next() % 66;
            let a: Vec<char> = (0..la).map(|_| char::from(b'a' + (next() % 5) as u8)).collect();
            let b: Vec<char> = (0..lb).map(|_| char::from(b'a' + (next() % 5) as u8)).collect();
            let want = jaro_general(&a, &b);
            let got = jaro(&a, &b);
            assert!((want - got).abs() < 1e-12, "{a:?} {b:?} {want} {got}");
        }
    }

    #[test]
    fn unicode_by_character() {
        assert_eq!(levenshtein(&c("张伟"), &c("张玮")), 1);
        assert_eq!(damerau(&c("王小明"), &c("王明小")), 1);
        assert!((qgram_dice(&c("北京市朝阳区"), &c("北京市朝阳区"), 2) - 1.0).abs() < 1e-12);
        assert!((token_sort_jw("smith john", "john smith") - 1.0).abs() < 1e-12);
        let long: Vec<char> = "a".repeat(100).chars().collect();
        assert!((jaro(&long, &long) - 1.0).abs() < 1e-12);
    }
}
