//! FP-growth frequent-itemset mining straight from long (basket, item) pairs.
//!
//! Input: one dense basket code and one dense item code per row (pairs may repeat
//! and need not be sorted). No one-hot matrix is ever built: baskets become
//! transactions of frequent items ranked by frequency, which are sorted and loaded
//! into an FP-tree without any hashing (a lexicographic sort makes every shared
//! prefix contiguous). Conditional trees are built the same way. The top level is
//! mined in parallel, one first item per task, and the results are concatenated in
//! item order and sorted, so the output is the same for any thread count.

use std::sync::atomic::{AtomicUsize, Ordering};

use rayon::prelude::*;

use crate::error::{CrmError, Result};

/// Frequent itemsets as flat arrays: itemset `k` holds
/// `items[offsets[k]..offsets[k + 1]]` (item codes, ascending) and occurs in
/// `counts[k]` baskets.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Itemsets {
    pub offsets: Vec<i64>,
    pub items: Vec<u32>,
    pub counts: Vec<u64>,
}

impl Itemsets {
    pub fn len(&self) -> usize {
        self.counts.len()
    }
    pub fn is_empty(&self) -> bool {
        self.counts.is_empty()
    }
    pub fn get(&self, k: usize) -> &[u32] {
        &self.items[self.offsets[k] as usize..self.offsets[k + 1] as usize]
    }
}

#[derive(Debug, Clone, Copy)]
pub struct Options {
    /// An itemset is frequent when it occurs in at least this many baskets (>= 1).
    pub min_count: u64,
    /// Longest itemset to report; 0 means no limit.
    pub max_len: usize,
    /// Stop with `CrmError::TooLarge` once more itemsets than this are found.
    pub max_itemsets: usize,
}

/// An FP-tree over local item ids `0..n_items` (0 = most frequent, nearest the root).
struct Tree {
    /// (item, parent) per node, packed so a walk to the root touches one cache line per step.
    link: Vec<[u32; 2]>,
    count: Vec<u64>,
    /// Nodes holding each local item.
    header: Vec<Vec<u32>>,
    /// Local item id -> original item code.
    code: Vec<u32>,
}

const ROOT: u32 = 0;

impl Tree {
    /// Builds the tree from weighted paths (local ids ascending inside each path).
    fn build(flat: &[u32], paths: &mut [(u32, u32, u64)], code: Vec<u32>) -> Tree {
        let key = |p: &(u32, u32, u64)| &flat[p.0 as usize..(p.0 + p.1) as usize];
        if paths.len() > 50_000 {
            paths.par_sort_unstable_by(|a, b| key(a).cmp(key(b)));
        } else {
            paths.sort_unstable_by(|a, b| key(a).cmp(key(b)));
        }
        let n_items = code.len();
        let mut tree = Tree { link: vec![[u32::MAX, ROOT]], count: vec![0], header: vec![Vec::new(); n_items], code };
        let mut stack: Vec<u32> = Vec::new();
        let mut prev: &[u32] = &[];
        for &(start, len, weight) in paths.iter() {
            let path = &flat[start as usize..(start + len) as usize];
            if path.is_empty() {
                continue;
            }
            let common = path.iter().zip(prev.iter()).take_while(|(a, b)| a == b).count();
            for &node in &stack[..common] {
                tree.count[node as usize] += weight;
            }
            stack.truncate(common);
            let mut parent = if common == 0 { ROOT } else { stack[common - 1] };
            for &it in &path[common..] {
                let node = tree.link.len() as u32;
                tree.link.push([it, parent]);
                tree.count.push(weight);
                tree.header[it as usize].push(node);
                stack.push(node);
                parent = node;
            }
            prev = path;
        }
        tree
    }

    /// True when the tree is one chain (nodes are created along the chain in order).
    fn is_single_path(&self) -> bool {
        (1..self.link.len()).all(|k| self.link[k][1] as usize == k - 1)
    }
}

struct Miner<'a> {
    opts: Options,
    found: &'a AtomicUsize,
}

#[derive(Default)]
struct Out {
    offsets: Vec<i64>,
    items: Vec<u32>,
    counts: Vec<u64>,
}

impl Out {
    fn new() -> Self {
        Out { offsets: vec![0], ..Default::default() }
    }
}

impl Miner<'_> {
    fn too_large(&self) -> CrmError {
        CrmError::TooLarge(format!(
            "more than max_itemsets={} frequent itemsets at this min_support; raise min_support, \
             set max_len, or raise max_itemsets if you really need them all",
            self.opts.max_itemsets
        ))
    }

    fn emit(&self, out: &mut Out, prefix: &[u32], last: u32, count: u64) -> Result<()> {
        if self.found.fetch_add(1, Ordering::Relaxed) >= self.opts.max_itemsets {
            return Err(self.too_large());
        }
        let start = out.items.len();
        out.items.extend_from_slice(prefix);
        out.items.push(last);
        out.items[start..].sort_unstable();
        out.offsets.push(out.items.len() as i64);
        out.counts.push(count);
        Ok(())
    }

    fn room(&self, prefix_len: usize) -> usize {
        if self.opts.max_len == 0 {
            usize::MAX
        } else {
            self.opts.max_len.saturating_sub(prefix_len)
        }
    }

    /// Every combination of a single chain, each with the count of its deepest node.
    fn mine_path(&self, tree: &Tree, prefix: &mut Vec<u32>, out: &mut Out) -> Result<()> {
        let n = tree.link.len() - 1;
        let room = self.room(prefix.len());
        // Fail before enumerating when the combinations alone exceed the cap.
        let mut total: u128 = 0;
        let mut binom: u128 = 1;
        for k in 1..=n.min(room) {
            binom = binom * (n - k + 1) as u128 / k as u128;
            total += binom;
            if total > self.opts.max_itemsets as u128 {
                return Err(self.too_large());
            }
        }
        // Depth-first: choose nodes in chain order; the deepest chosen node sets the count.
        fn rec(m: &Miner, tree: &Tree, from: usize, room: usize, prefix: &mut Vec<u32>, out: &mut Out) -> Result<()> {
            if room == 0 {
                return Ok(());
            }
            for node in from..tree.link.len() {
                let code = tree.code[tree.link[node][0] as usize];
                m.emit(out, prefix, code, tree.count[node])?;
                prefix.push(code);
                rec(m, tree, node + 1, room - 1, prefix, out)?;
                prefix.pop();
            }
            Ok(())
        }
        rec(self, tree, 1, room, prefix, out)
    }

    /// Mines all itemsets ending (in tree order) with local item `it`.
    fn mine_item(&self, tree: &Tree, it: usize, prefix: &mut Vec<u32>, out: &mut Out) -> Result<()> {
        let nodes = &tree.header[it];
        let support: u64 = nodes.iter().map(|&n| tree.count[n as usize]).sum();
        let code = tree.code[it];
        self.emit(out, prefix, code, support)?;
        if self.room(prefix.len() + 1) == 0 {
            return Ok(());
        }
        // Conditional pattern base: the prefix path of every node of `it`.
        let mut cond_count = vec![0u64; it];
        let mut flat: Vec<u32> = Vec::new();
        let mut paths: Vec<(u32, u32, u64)> = Vec::with_capacity(nodes.len());
        for &n in nodes {
            let w = tree.count[n as usize];
            let start = flat.len();
            let mut p = tree.link[n as usize][1];
            while p != ROOT {
                let [pi, up] = tree.link[p as usize];
                flat.push(pi);
                cond_count[pi as usize] += w;
                p = up;
            }
            paths.push((start as u32, (flat.len() - start) as u32, w));
        }
        // Frequent items of the base, most frequent first.
        let mut keep: Vec<u32> = (0..it as u32).filter(|&j| cond_count[j as usize] >= self.opts.min_count).collect();
        if keep.is_empty() {
            return Ok(());
        }
        keep.sort_by(|&a, &b| cond_count[b as usize].cmp(&cond_count[a as usize]).then(a.cmp(&b)));
        let mut remap = vec![u32::MAX; it];
        for (new, &old) in keep.iter().enumerate() {
            remap[old as usize] = new as u32;
        }
        let codes: Vec<u32> = keep.iter().map(|&j| tree.code[j as usize]).collect();
        // Rewrite the paths in place: keep frequent items, new ids, ascending.
        let mut new_flat: Vec<u32> = Vec::with_capacity(flat.len());
        for path in paths.iter_mut() {
            let start = new_flat.len();
            for &x in &flat[path.0 as usize..(path.0 + path.1) as usize] {
                let r = remap[x as usize];
                if r != u32::MAX {
                    new_flat.push(r);
                }
            }
            new_flat[start..].sort_unstable();
            *path = (start as u32, (new_flat.len() - start) as u32, path.2);
        }
        drop(flat);
        let cond = Tree::build(&new_flat, &mut paths, codes);
        drop(new_flat);
        drop(paths);
        prefix.push(code);
        let r = self.mine_tree(&cond, prefix, out);
        prefix.pop();
        r
    }

    fn mine_tree(&self, tree: &Tree, prefix: &mut Vec<u32>, out: &mut Out) -> Result<()> {
        if tree.link.len() <= 1 {
            return Ok(());
        }
        if tree.is_single_path() {
            return self.mine_path(tree, prefix, out);
        }
        for it in 0..tree.header.len() {
            if !tree.header[it].is_empty() {
                self.mine_item(tree, it, prefix, out)?;
            }
        }
        Ok(())
    }
}

/// Smallest basket count `c` with `c / n_baskets >= min_support` in float64, the
/// same comparison a user (and mlxtend) makes on the support column.
pub fn min_count_for(min_support: f64, n_baskets: usize) -> u64 {
    let n = n_baskets as f64;
    let mut c = (min_support * n).ceil().max(1.0) as u64;
    while c > 1 && ((c - 1) as f64 / n) >= min_support {
        c -= 1;
    }
    while (c as f64 / n) < min_support {
        c += 1;
    }
    c
}

/// Number of distinct basket codes among `basket` (codes below `n_slots`).
pub fn count_baskets(basket: &[u32], n_slots: usize) -> Result<usize> {
    let mut seen = vec![false; n_slots];
    for &b in basket {
        let slot = seen
            .get_mut(b as usize)
            .ok_or_else(|| CrmError::invalid(format!("basket code {b} is not below n_baskets={n_slots}")))?;
        *slot = true;
    }
    Ok(seen.iter().filter(|&&x| x).count())
}

/// Frequent itemsets of the baskets given as (basket code, item code) pairs.
pub fn frequent_itemsets(
    basket: &[u32],
    item: &[u32],
    n_baskets: usize,
    n_items: usize,
    opts: Options,
) -> Result<Itemsets> {
    if basket.len() != item.len() {
        return Err(CrmError::invalid(format!(
            "basket codes ({}) and item codes ({}) differ in length",
            basket.len(),
            item.len()
        )));
    }
    if opts.min_count == 0 {
        return Err(CrmError::invalid("min_count must be at least 1"));
    }
    if let Some(&b) = basket.iter().find(|&&b| b as usize >= n_baskets) {
        return Err(CrmError::invalid(format!("basket code {b} is not below n_baskets={n_baskets}")));
    }
    if let Some(&i) = item.iter().find(|&&i| i as usize >= n_items) {
        return Err(CrmError::invalid(format!("item code {i} is not below n_items={n_items}")));
    }
    // Group the pairs by basket (counting sort), then dedupe items inside each basket.
    let mut start = vec![0usize; n_baskets + 1];
    for &b in basket {
        start[b as usize + 1] += 1;
    }
    for k in 0..n_baskets {
        start[k + 1] += start[k];
    }
    let mut fill = start.clone();
    let mut grouped = vec![0u32; item.len()];
    for (&b, &i) in basket.iter().zip(item) {
        grouped[fill[b as usize]] = i;
        fill[b as usize] += 1;
    }
    drop(fill);
    // Sort and dedupe every basket's items, in parallel over baskets.
    let mut segments: Vec<&mut [u32]> = Vec::with_capacity(n_baskets);
    let mut rest: &mut [u32] = &mut grouped;
    for k in 0..n_baskets {
        let (head, tail) = rest.split_at_mut(start[k + 1] - start[k]);
        segments.push(head);
        rest = tail;
    }
    let lens: Vec<usize> = segments
        .par_iter_mut()
        .map(|seg| {
            seg.sort_unstable();
            let mut w = 0;
            for r in 0..seg.len() {
                if r == 0 || seg[r] != seg[r - 1] {
                    seg[w] = seg[r];
                    w += 1;
                }
            }
            w
        })
        .collect();
    drop(segments);
    let mut item_count = vec![0u64; n_items];
    for k in 0..n_baskets {
        for &i in &grouped[start[k]..start[k] + lens[k]] {
            item_count[i as usize] += 1;
        }
    }
    // Frequent items ranked by count (descending), ties by code.
    let mut frequent: Vec<u32> = (0..n_items as u32).filter(|&i| item_count[i as usize] >= opts.min_count).collect();
    frequent.sort_by(|&a, &b| item_count[b as usize].cmp(&item_count[a as usize]).then(a.cmp(&b)));
    let mut rank = vec![u32::MAX; n_items];
    for (r, &i) in frequent.iter().enumerate() {
        rank[i as usize] = r as u32;
    }
    // Transactions as ranks, ascending.
    let mut flat: Vec<u32> = Vec::new();
    let mut paths: Vec<(u32, u32, u64)> = Vec::new();
    for k in 0..n_baskets {
        let s = flat.len();
        for &i in &grouped[start[k]..start[k] + lens[k]] {
            let r = rank[i as usize];
            if r != u32::MAX {
                flat.push(r);
            }
        }
        if flat.len() > s {
            flat[s..].sort_unstable();
            if flat.len() > u32::MAX as usize {
                return Err(CrmError::TooLarge("more than 4 billion (basket, frequent item) pairs".to_string()));
            }
            paths.push((s as u32, (flat.len() - s) as u32, 1));
        }
    }
    drop(grouped);
    drop(start);
    let tree = Tree::build(&flat, &mut paths, frequent.clone());
    drop(flat);
    drop(paths);

    let found = AtomicUsize::new(0);
    let miner = Miner { opts, found: &found };
    let parts: Vec<Result<Out>> = if tree.is_single_path() {
        let mut out = Out::new();
        vec![miner.mine_path(&tree, &mut Vec::new(), &mut out).map(|_| out)]
    } else {
        (0..tree.header.len())
            .into_par_iter()
            .map(|it| {
                let mut out = Out::new();
                if !tree.header[it].is_empty() {
                    miner.mine_item(&tree, it, &mut Vec::new(), &mut out)?;
                }
                Ok(out)
            })
            .collect()
    };
    let mut all = Out::new();
    for part in parts {
        let part = part?;
        let base = all.items.len() as i64;
        all.items.extend_from_slice(&part.items);
        all.offsets.extend(part.offsets[1..].iter().map(|o| o + base));
        all.counts.extend_from_slice(&part.counts);
    }
    // Deterministic order: count descending, then length, then items.
    let n = all.counts.len();
    let seg = |k: usize| &all.items[all.offsets[k] as usize..all.offsets[k + 1] as usize];
    let mut order: Vec<usize> = (0..n).collect();
    order.par_sort_unstable_by(|&a, &b| {
        all.counts[b].cmp(&all.counts[a]).then(seg(a).len().cmp(&seg(b).len())).then(seg(a).cmp(seg(b)))
    });
    let mut result = Itemsets {
        offsets: Vec::with_capacity(n + 1),
        items: Vec::with_capacity(all.items.len()),
        counts: Vec::with_capacity(n),
    };
    result.offsets.push(0);
    for k in order {
        result.items.extend_from_slice(seg(k));
        result.offsets.push(result.items.len() as i64);
        result.counts.push(all.counts[k]);
    }
    Ok(result)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    fn brute(baskets: &[Vec<u32>], n_items: usize, min_count: u64, max_len: usize) -> BTreeMap<Vec<u32>, u64> {
        let mut out = BTreeMap::new();
        for mask in 1u64..(1 << n_items) {
            let set: Vec<u32> = (0..n_items as u32).filter(|i| mask >> i & 1 == 1).collect();
            if max_len > 0 && set.len() > max_len {
                continue;
            }
            let c = baskets.iter().filter(|b| set.iter().all(|i| b.contains(i))).count() as u64;
            if c >= min_count {
                out.insert(set, c);
            }
        }
        out
    }

    fn run(baskets: &[Vec<u32>], n_items: usize, min_count: u64, max_len: usize) -> BTreeMap<Vec<u32>, u64> {
        let mut b = Vec::new();
        let mut i = Vec::new();
        for (k, items) in baskets.iter().enumerate() {
            for &x in items {
                b.push(k as u32);
                i.push(x);
            }
        }
        let opts = Options { min_count, max_len, max_itemsets: 1 << 30 };
        let r = frequent_itemsets(&b, &i, baskets.len(), n_items, opts).unwrap();
        let mut out = BTreeMap::new();
        for k in 0..r.len() {
            assert!(r.get(k).windows(2).all(|w| w[0] < w[1]));
            assert!(out.insert(r.get(k).to_vec(), r.counts[k]).is_none(), "duplicate itemset");
        }
        out
    }

    #[test]
    fn equals_brute_force_on_random_baskets() {
        let mut rng = crate::rng::Rng::new(12345, 0);
        let mut next = || rng.next_u64();
        for trial in 0..60 {
            let n_items = 3 + (trial % 9);
            let n_baskets = 1 + (next() % 40) as usize;
            let mut baskets = Vec::new();
            for _ in 0..n_baskets {
                let mut items: Vec<u32> = (0..n_items as u32).filter(|_| next() % 3 == 0).collect();
                if next() % 4 == 0 {
                    items.extend(items.clone()); // repeated pairs count once
                }
                baskets.push(items);
            }
            let dedup: Vec<Vec<u32>> = baskets
                .iter()
                .map(|b| {
                    let mut b = b.clone();
                    b.sort();
                    b.dedup();
                    b
                })
                .collect();
            for min_count in [1, 2, 3, 5] {
                for max_len in [0, 1, 2, 3] {
                    assert_eq!(
                        run(&baskets, n_items, min_count, max_len),
                        brute(&dedup, n_items, min_count, max_len),
                        "trial {trial} min_count {min_count} max_len {max_len}"
                    );
                }
            }
        }
    }

    #[test]
    fn cap_stops_explosion() {
        let basket: Vec<Vec<u32>> = vec![(0..40).collect()];
        let mut b = Vec::new();
        let mut i = Vec::new();
        for &x in &basket[0] {
            b.push(0);
            i.push(x);
        }
        let opts = Options { min_count: 1, max_len: 0, max_itemsets: 1000 };
        assert!(matches!(frequent_itemsets(&b, &i, 1, 40, opts), Err(CrmError::TooLarge(_))));
        let opts = Options { min_count: 1, max_len: 2, max_itemsets: 1000 };
        assert_eq!(frequent_itemsets(&b, &i, 1, 40, opts).unwrap().len(), 40 + 780);
    }

    #[test]
    fn min_count_matches_float_comparison() {
        for n in [1usize, 3, 7, 10, 100, 999, 100_000] {
            for s in [0.001, 0.01, 0.1, 0.3, 1.0 / 3.0, 0.5, 0.7, 1.0] {
                let c = min_count_for(s, n);
                assert!(c as f64 / n as f64 >= s);
                assert!(c == 1 || ((c - 1) as f64 / n as f64) < s);
            }
        }
    }

    #[test]
    fn rejects_bad_codes() {
        let opts = Options { min_count: 1, max_len: 0, max_itemsets: 10 };
        assert!(frequent_itemsets(&[0, 5], &[0, 1], 2, 2, opts).is_err());
        assert!(frequent_itemsets(&[0], &[0, 1], 2, 2, opts).is_err());
        assert!(frequent_itemsets(&[], &[], 0, 0, opts).unwrap().is_empty());
    }
}
