//! Per-user conversion-funnel levels with ClickHouse `windowFunnel` semantics.
//!
//! Input: the events of every user that match a funnel step, grouped by user
//! (`offsets`: each user's rows are contiguous, in any order). Each user's events
//! are scanned in (timestamp, step index) order, sorted here in parallel when
//! needed. Ordering by step index inside equal timestamps makes the result
//! independent of row order: tied events may serve consecutive steps, since
//! timestamps only have to not decrease.
//!
//! Modes (level = number of leading steps reached; window measured from the
//! chain's first event, inclusive):
//! - `Ordered`: events e1..ek of steps 1..k with non-decreasing timestamps and
//!   t_k - t_1 <= window. Later starts dominate, so keeping the latest start per
//!   level is exact (the classic windowFunnel scan).
//! - `Strict`: as Ordered, and the matched events are adjacent among the user's
//!   step events in (timestamp, step) order: no other listed step in between.
//! - `Any`: steps 1..k each occur at least once within some span of `window`,
//!   in any order.
//!
//! Besides the level, each user gets, per reached step j, the shortest time from a
//! first-step event to a step-j event over all valid chains (Ordered, Strict), or
//! the shortest span covering steps 1..j (Any).

use rayon::prelude::*;

use crate::error::{CrmError, Result};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Ordered,
    Strict,
    Any,
}

impl Mode {
    pub fn parse(s: &str) -> Result<Mode> {
        match s {
            "ordered" => Ok(Mode::Ordered),
            "strict" => Ok(Mode::Strict),
            "any" => Ok(Mode::Any),
            other => Err(CrmError::invalid(format!("mode must be 'ordered', 'strict' or 'any', found '{other}'"))),
        }
    }
}

/// `levels[u]` per user; `times[u * n_steps + j]` the shortest time to step j, or -1.
#[derive(Debug, Clone, PartialEq)]
pub struct Funnel {
    pub levels: Vec<u32>,
    pub times: Vec<i64>,
}

pub const NO_TIME: i64 = -1;

fn keep_min(slot: &mut i64, v: i64) {
    if *slot == NO_TIME || v < *slot {
        *slot = v;
    }
}

fn ordered(ts: &[i64], st: &[u32], n: usize, window: i64, times: &mut [i64]) -> u32 {
    let mut start: Vec<Option<i64>> = vec![None; n];
    let mut level = 0u32;
    for (&t, &s) in ts.iter().zip(st) {
        let s = s as usize;
        if s == 0 {
            start[0] = Some(t);
            times[0] = 0;
            level = level.max(1);
        } else if let Some(s0) = start[s - 1] {
            if t - s0 <= window {
                start[s] = Some(s0);
                keep_min(&mut times[s], t - s0);
                level = level.max(s as u32 + 1);
            }
        }
    }
    level
}

fn strict(ts: &[i64], st: &[u32], window: i64, times: &mut [i64]) -> u32 {
    let mut cur = 0u32;
    let mut s0 = 0i64;
    let mut level = 0u32;
    for (&t, &s) in ts.iter().zip(st) {
        if s == 0 {
            cur = 1;
            s0 = t;
            times[0] = 0;
        } else if cur > 0 && s == cur && t - s0 <= window {
            keep_min(&mut times[s as usize], t - s0);
            cur += 1;
        } else {
            cur = 0;
        }
        level = level.max(cur);
    }
    level
}

fn any(ts: &[i64], st: &[u32], n: usize, window: i64, times: &mut [i64]) -> u32 {
    let len = ts.len();
    // Level: for each window start, the longest prefix of steps present.
    let mut count = vec![0u32; n];
    let mut r = 0usize;
    let mut level = 0u32;
    for l in 0..len {
        while r < len && ts[r] - ts[l] <= window {
            count[st[r] as usize] += 1;
            r += 1;
        }
        let prefix = count.iter().take_while(|&&c| c > 0).count() as u32;
        level = level.max(prefix);
        count[st[l] as usize] -= 1;
    }
    // Shortest span covering steps 0..=j (within the window), for each reached j.
    for j in 0..level as usize {
        let mut need = vec![0u32; j + 1];
        let mut covered = 0usize;
        let mut l = 0usize;
        for r in 0..len {
            let s = st[r] as usize;
            if s <= j {
                if need[s] == 0 {
                    covered += 1;
                }
                need[s] += 1;
            }
            while covered == j + 1 {
                let span = ts[r] - ts[l];
                if span <= window {
                    keep_min(&mut times[j], span);
                }
                let sl = st[l] as usize;
                if sl <= j {
                    need[sl] -= 1;
                    if need[sl] == 0 {
                        covered -= 1;
                    }
                }
                l += 1;
            }
        }
    }
    level
}

/// Levels and shortest times per user. `ts`/`step` hold every user's events
/// consecutively; user `u` owns rows `offsets[u]..offsets[u+1]`.
pub fn funnel(offsets: &[i64], ts: &[i64], step: &[u32], n_steps: usize, window: i64, mode: Mode) -> Result<Funnel> {
    if ts.len() != step.len() {
        return Err(CrmError::invalid("timestamps and steps differ in length"));
    }
    if n_steps == 0 {
        return Err(CrmError::invalid("a funnel needs at least one step"));
    }
    if window < 0 {
        return Err(CrmError::invalid(format!("window must not be negative, found {window}")));
    }
    if offsets.first() != Some(&0)
        || offsets.last() != Some(&(ts.len() as i64))
        || offsets.windows(2).any(|w| w[0] > w[1])
    {
        return Err(CrmError::invalid("user offsets must rise from 0 to the number of events"));
    }
    if let Some(&s) = step.iter().find(|&&s| s as usize >= n_steps) {
        return Err(CrmError::invalid(format!("step index {s} is not below n_steps={n_steps}")));
    }
    let n_users = offsets.len() - 1;
    let mut levels = vec![0u32; n_users];
    let mut times = vec![NO_TIME; n_users * n_steps];
    levels.par_iter_mut().zip(times.par_chunks_mut(n_steps)).enumerate().for_each(|(u, (level, tm))| {
        let (a, b) = (offsets[u] as usize, offsets[u + 1] as usize);
        let (t, s) = (&ts[a..b], &step[a..b]);
        let scan = |t: &[i64], s: &[u32], tm: &mut [i64]| match mode {
            Mode::Ordered => ordered(t, s, n_steps, window, tm),
            Mode::Strict => strict(t, s, window, tm),
            Mode::Any => any(t, s, n_steps, window, tm),
        };
        let sorted = t.windows(2).zip(s.windows(2)).all(|(tw, sw)| (tw[0], sw[0]) <= (tw[1], sw[1]));
        *level = if sorted {
            scan(t, s, tm)
        } else {
            let mut pairs: Vec<(i64, u32)> = t.iter().copied().zip(s.iter().copied()).collect();
            pairs.sort_unstable();
            let (t2, s2): (Vec<i64>, Vec<u32>) = pairs.into_iter().unzip();
            scan(&t2, &s2, tm)
        };
    });
    Ok(Funnel { levels, times })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(ts: &[i64], st: &[u32], n: usize, w: i64, mode: Mode) -> (u32, Vec<i64>) {
        let f = funnel(&[0, ts.len() as i64], ts, st, n, w, mode).unwrap();
        (f.levels[0], f.times)
    }

    #[test]
    fn ordered_keeps_latest_start() {
        // A@0, A@10, B@12, C@15 with window 5: A@10 -> B -> C reaches 3.
        assert_eq!(one(&[0, 10, 12, 15], &[0, 0, 1, 2], 3, 5, Mode::Ordered), (3, vec![0, 2, 5]));
        // Window too short for C.
        assert_eq!(one(&[0, 10, 12, 16], &[0, 0, 1, 2], 3, 5, Mode::Ordered).0, 2);
    }

    #[test]
    fn strict_breaks_on_other_steps() {
        // A, B, D(=step 3), C: strict stops at 2, ordered reaches 3.
        assert_eq!(one(&[1, 2, 3, 4], &[0, 1, 3, 2], 4, 100, Mode::Strict).0, 2);
        assert_eq!(one(&[1, 2, 3, 4], &[0, 1, 3, 2], 4, 100, Mode::Ordered).0, 3);
    }

    #[test]
    fn any_order() {
        assert_eq!(one(&[1, 2, 3], &[2, 1, 0], 3, 5, Mode::Any), (3, vec![0, 1, 2]));
        assert_eq!(one(&[1, 2, 3], &[2, 1, 0], 3, 5, Mode::Ordered).0, 1);
    }

    #[test]
    fn rows_in_any_order_within_a_user() {
        assert_eq!(funnel(&[0, 2], &[5, 1], &[1, 0], 2, 10, Mode::Ordered).unwrap().levels, vec![2]);
        assert_eq!(funnel(&[0, 2], &[1, 1], &[1, 0], 2, 10, Mode::Strict).unwrap().levels, vec![2]);
        assert!(funnel(&[0, 1], &[5], &[7], 2, 10, Mode::Ordered).is_err());
        assert_eq!(funnel(&[0], &[], &[], 2, 10, Mode::Any).unwrap().levels.len(), 0);
    }
}
