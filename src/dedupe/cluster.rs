//! Clustering matched pairs into entities: single linkage (connected components),
//! taking the strongest links first, with two safeguards against false merges:
//! - a link below `strong` that would join two groups into one of three or more
//!   records needs a second link between the two groups (a lone weak link between
//!   groups is the typical false merge: the records of one person are linked to one
//!   another many times over, two people through one coincidence);
//! - a link that would join two groups into one larger than `max_size` records is
//!   refused.
//! Both kinds of refusal are counted.

pub struct Clustering {
    /// Per record: the smallest record index of its entity.
    pub entity: Vec<u32>,
    /// Per record: the highest probability among its candidate pairs (NaN: none).
    pub best: Vec<f64>,
    /// Links at or above the threshold.
    pub n_links: usize,
    /// Links refused by the size safeguard.
    pub n_refused: usize,
    /// Weak links refused for lack of a second link between the two groups.
    pub n_unsupported: usize,
}

/// Most links looked at when checking whether two groups are linked twice.
const SUPPORT_BUDGET: usize = 1024;

fn find(parent: &mut [u32], mut x: u32) -> u32 {
    while parent[x as usize] != x {
        let p = parent[x as usize];
        parent[x as usize] = parent[p as usize];
        x = p;
    }
    x
}

pub fn cluster(
    n: usize,
    left: &[u32],
    right: &[u32],
    prob: &[f64],
    threshold: f64,
    max_size: usize,
    strong: f64,
) -> Clustering {
    let mut best = vec![f64::NAN; n];
    for p in 0..left.len() {
        for &i in &[left[p], right[p]] {
            let b = &mut best[i as usize];
            if b.is_nan() || prob[p] > *b {
                *b = prob[p];
            }
        }
    }
    let mut order: Vec<usize> = (0..left.len()).filter(|&p| prob[p] >= threshold).collect();
    order.sort_unstable_by(|&a, &b| {
        prob[b].total_cmp(&prob[a]).then(left[a].cmp(&left[b])).then(right[a].cmp(&right[b]))
    });
    // Links per record (compressed rows), to count the links between two groups.
    let mut start = vec![0usize; n + 1];
    for &p in &order {
        start[left[p] as usize + 1] += 1;
        start[right[p] as usize + 1] += 1;
    }
    for i in 0..n {
        start[i + 1] += start[i];
    }
    let mut fill = start.clone();
    let mut neighbours = vec![0u32; start[n]];
    for &p in &order {
        let (a, b) = (left[p] as usize, right[p] as usize);
        neighbours[fill[a]] = b as u32;
        fill[a] += 1;
        neighbours[fill[b]] = a as u32;
        fill[b] += 1;
    }
    let mut parent: Vec<u32> = (0..n as u32).collect();
    // A root's other records (empty for a single record: no allocation).
    let mut others: Vec<Vec<u32>> = vec![Vec::new(); n];
    let mut size = vec![1u32; n];
    let (mut n_refused, mut n_unsupported) = (0, 0);
    for &p in &order {
        let (a, b) = (find(&mut parent, left[p]), find(&mut parent, right[p]));
        if a == b {
            continue;
        }
        let joined = (size[a as usize] + size[b as usize]) as usize;
        if joined > max_size {
            n_refused += 1;
            continue;
        }
        if joined > 2 && prob[p] < strong {
            // Count links from the smaller group into the other, up to two.
            let (small, other) = if size[a as usize] <= size[b as usize] { (a, b) } else { (b, a) };
            let group = std::iter::once(small).chain(others[small as usize].iter().copied());
            // Each record's links are stored strongest first; a bounded look keeps dense
            // blocks (thousands of links per record) from costing links x degree.
            let (mut support, mut budget) = (0, SUPPORT_BUDGET);
            'count: for u in group {
                for &v in &neighbours[start[u as usize]..start[u as usize + 1]] {
                    if find(&mut parent, v) == other {
                        support += 1;
                        if support >= 2 {
                            break 'count;
                        }
                    }
                    budget -= 1;
                    if budget == 0 {
                        break 'count;
                    }
                }
            }
            if support < 2 {
                n_unsupported += 1;
                continue;
            }
        }
        let (keep, gone) = if a < b { (a, b) } else { (b, a) };
        parent[gone as usize] = keep;
        size[keep as usize] += size[gone as usize];
        let moved = std::mem::take(&mut others[gone as usize]);
        others[keep as usize].push(gone);
        others[keep as usize].extend(moved);
    }
    // Representative: the smallest index of each component.
    let mut min_of = vec![u32::MAX; n];
    let roots: Vec<u32> = (0..n as u32).map(|i| find(&mut parent, i)).collect();
    for (i, &r) in roots.iter().enumerate() {
        min_of[r as usize] = min_of[r as usize].min(i as u32);
    }
    let entity = roots.iter().map(|&r| min_of[r as usize]).collect();
    Clustering { entity, best, n_links: order.len(), n_refused, n_unsupported }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn components_and_chain_guard() {
        // 0-1-2 strongly linked; 3-4 linked; 5 alone; 2-3 weak link below threshold.
        let l = [0, 1, 3, 2];
        let r = [1, 2, 4, 3];
        let p = [0.99, 0.95, 0.9, 0.2];
        let c = cluster(6, &l, &r, &p, 0.5, 100, 0.5);
        assert_eq!(c.entity, vec![0, 0, 0, 3, 3, 5]);
        assert!(c.best[5].is_nan());
        assert_eq!(c.best[3], 0.9);
        // A chain of 10 records linked one after another, cap at 4: strongest links first.
        let l: Vec<u32> = (0..9).collect();
        let r: Vec<u32> = (1..10).collect();
        let p: Vec<f64> = (0..9).map(|i| 0.9 + i as f64 * 0.001).collect();
        let c = cluster(10, &l, &r, &p, 0.5, 4, 0.5);
        let mut sizes = std::collections::HashMap::new();
        for e in &c.entity {
            *sizes.entry(*e).or_insert(0) += 1;
        }
        assert!(sizes.values().all(|&s| s <= 4));
        assert!(c.n_refused >= 2);
    }

    #[test]
    fn a_lone_weak_link_does_not_join_two_groups() {
        // Person A: 0, 1, 2 (strongly linked); person B: 3, 4. One weak link 2-3.
        let l = [0, 1, 0, 3, 2];
        let r = [1, 2, 2, 4, 3];
        let p = [0.99, 0.99, 0.98, 0.97, 0.6];
        let c = cluster(5, &l, &r, &p, 0.5, 50, 0.8);
        assert_eq!(c.entity, vec![0, 0, 0, 3, 3]);
        assert_eq!(c.n_unsupported, 1);
        // A second weak link between the groups is agreement: they merge.
        let l2 = [0, 1, 0, 3, 2, 1];
        let r2 = [1, 2, 2, 4, 3, 4];
        let p2 = [0.99, 0.99, 0.98, 0.97, 0.6, 0.55];
        assert_eq!(cluster(5, &l2, &r2, &p2, 0.5, 50, 0.8).entity, vec![0; 5]);
        // A weak link between two single records, or a strong one between groups, links.
        assert_eq!(cluster(2, &[0], &[1], &[0.6], 0.5, 50, 0.8).entity, vec![0, 0]);
        let p3 = [0.99, 0.99, 0.98, 0.97, 0.85];
        assert_eq!(cluster(5, &l, &r, &p3, 0.5, 50, 0.8).entity, vec![0; 5]);
        // strong = threshold: plain connected components.
        assert_eq!(cluster(5, &l, &r, &p, 0.5, 50, 0.5).entity, vec![0; 5]);
    }
}

/// Greedy one-to-one matching: pairs sorted best first (the caller's order); a pair is
/// kept when neither of its records was used by a better pair. Record codes are dense
/// 0..n per side.
pub fn greedy_one_to_one(left: &[u32], right: &[u32]) -> Vec<bool> {
    let nl = left.iter().map(|&x| x as usize + 1).max().unwrap_or(0);
    let nr = right.iter().map(|&x| x as usize + 1).max().unwrap_or(0);
    let mut used_l = vec![false; nl];
    let mut used_r = vec![false; nr];
    left.iter()
        .zip(right)
        .map(|(&a, &b)| {
            let ok = !used_l[a as usize] && !used_r[b as usize];
            if ok {
                used_l[a as usize] = true;
                used_r[b as usize] = true;
            }
            ok
        })
        .collect()
}

#[cfg(test)]
mod one_to_one_tests {
    use super::*;

    #[test]
    fn greedy() {
        assert_eq!(greedy_one_to_one(&[0, 0, 1, 1], &[0, 1, 0, 1]), vec![true, false, false, true]);
        assert!(greedy_one_to_one(&[], &[]).is_empty());
    }
}
