//! A fitted regression tree and its prediction on raw features and on bin codes.

use serde::{Deserialize, Serialize};

use super::binning::FeatureBins;
use super::Matrix;

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Node {
    pub is_leaf: bool,
    /// Leaf value (already multiplied by the learning rate); for internal nodes the
    /// value the node would have had as a leaf.
    #[serde(with = "super::json_f64")]
    pub value: f64,
    pub feature: u32,
    /// Numeric split: go left when `x <= threshold` (also `bin <= split_bin`).
    #[serde(with = "super::json_f64")]
    pub threshold: f64,
    pub split_bin: u8,
    pub categorical: bool,
    /// Categorical split: codes whose bit is set go left.
    pub cat_left: [u64; 4],
    pub missing_left: bool,
    pub left: u32,
    pub right: u32,
    #[serde(with = "super::json_f64")]
    pub gain: f64,
    /// Training cover: sum of sample weights (the row count when unweighted).
    #[serde(with = "super::json_f64")]
    pub cover: f64,
    pub count: u32,
    pub depth: u32,
}

impl Node {
    pub fn leaf(value: f64, cover: f64, count: u32, depth: u32) -> Node {
        Node {
            is_leaf: true,
            value,
            feature: 0,
            threshold: 0.0,
            split_bin: 0,
            categorical: false,
            cat_left: [0; 4],
            missing_left: false,
            left: 0,
            right: 0,
            gain: 0.0,
            cover,
            count,
            depth,
        }
    }

    /// Whether raw value `x` goes to the left child.
    #[inline]
    pub fn goes_left(&self, x: f64) -> bool {
        if x.is_nan() {
            return self.missing_left;
        }
        if self.categorical {
            // Unknown codes (never seen in training) follow the missing values.
            if x >= 0.0 && x < 256.0 && x.fract() == 0.0 {
                let c = x as usize;
                self.cat_left[c >> 6] >> (c & 63) & 1 == 1
            } else {
                self.missing_left
            }
        } else {
            x <= self.threshold
        }
    }

    /// Whether bin code `b` goes to the left child (`missing_bin` = the feature's missing bin).
    #[inline]
    pub fn bin_goes_left(&self, b: u8, missing_bin: u8) -> bool {
        if b == missing_bin {
            self.missing_left
        } else if self.categorical {
            let c = b as usize;
            self.cat_left[c >> 6] >> (c & 63) & 1 == 1
        } else {
            b <= self.split_bin
        }
    }
}

#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct Tree {
    pub nodes: Vec<Node>,
}

impl Tree {
    #[inline]
    pub fn predict_row(&self, x: &Matrix, row: usize) -> f64 {
        let mut i = 0usize;
        loop {
            let nd = &self.nodes[i];
            if nd.is_leaf {
                return nd.value;
            }
            i = if nd.goes_left(x.get(row, nd.feature as usize)) { nd.left } else { nd.right } as usize;
        }
    }

    #[inline]
    pub fn predict_binned(&self, bins: &[u8], n: usize, row: usize, fb: &[FeatureBins]) -> f64 {
        let mut i = 0usize;
        loop {
            let nd = &self.nodes[i];
            if nd.is_leaf {
                return nd.value;
            }
            let f = nd.feature as usize;
            let b = bins[f * n + row];
            i = if nd.bin_goes_left(b, fb[f].missing_bin()) { nd.left } else { nd.right } as usize;
        }
    }

    pub fn max_depth(&self) -> usize {
        self.nodes.iter().map(|n| n.depth as usize).max().unwrap_or(0)
    }

    pub fn n_leaves(&self) -> usize {
        self.nodes.iter().filter(|n| n.is_leaf).count()
    }

    /// Cover-weighted mean of the leaf values: the tree's expected output.
    pub fn expected_value(&self) -> f64 {
        self.node_expectation(0)
    }

    fn node_expectation(&self, i: usize) -> f64 {
        let nd = &self.nodes[i];
        if nd.is_leaf {
            return nd.value;
        }
        let (l, r) = (&self.nodes[nd.left as usize], &self.nodes[nd.right as usize]);
        if nd.cover <= 0.0 {
            return 0.5 * (self.node_expectation(nd.left as usize) + self.node_expectation(nd.right as usize));
        }
        (l.cover * self.node_expectation(nd.left as usize) + r.cover * self.node_expectation(nd.right as usize))
            / nd.cover
    }

    /// Checks the structure of a tree read from a file: children in range, no cycles.
    pub fn check(&self, n_features: usize) -> Result<(), String> {
        if self.nodes.is_empty() {
            return Err("a tree has no nodes".into());
        }
        for (i, nd) in self.nodes.iter().enumerate() {
            if nd.is_leaf {
                continue;
            }
            let (l, r) = (nd.left as usize, nd.right as usize);
            if l <= i || r <= i || l >= self.nodes.len() || r >= self.nodes.len() {
                return Err(format!("node {i} has children out of order ({l}, {r})"));
            }
            if nd.feature as usize >= n_features {
                return Err(format!("node {i} splits on feature {} of {n_features}", nd.feature));
            }
        }
        Ok(())
    }
}

/// A tree laid out for fast prediction of many rows: 24-byte nodes, leaves pointing at
/// themselves, so several rows can step down together without a branch per node.
pub struct FlatTree<'a> {
    tree: &'a Tree,
    nodes: Vec<FlatNode>,
    /// Steps from the root to the deepest leaf.
    depth: usize,
}

#[derive(Clone, Copy)]
struct FlatNode {
    /// Threshold (numeric split) or value (leaf).
    thr: f64,
    feature: u32,
    left: u32,
    right: u32,
    categorical: bool,
    missing_left: bool,
}

/// Rows stepped down a tree together (independent loads overlap).
const LANES: usize = 8;

impl<'a> FlatTree<'a> {
    pub fn new(tree: &'a Tree) -> FlatTree<'a> {
        let nodes = tree
            .nodes
            .iter()
            .enumerate()
            .map(|(i, nd)| FlatNode {
                thr: if nd.is_leaf { nd.value } else { nd.threshold },
                feature: if nd.is_leaf { 0 } else { nd.feature },
                left: if nd.is_leaf { i as u32 } else { nd.left },
                right: if nd.is_leaf { i as u32 } else { nd.right },
                categorical: nd.categorical,
                missing_left: nd.missing_left,
            })
            .collect();
        // Children come after their parent (checked when a model is read).
        let mut d = vec![0usize; tree.nodes.len()];
        for (i, nd) in tree.nodes.iter().enumerate() {
            if !nd.is_leaf {
                for c in [nd.left as usize, nd.right as usize] {
                    if c < d.len() {
                        d[c] = d[i] + 1;
                    }
                }
            }
        }
        let depth = d.into_iter().max().unwrap_or(0);
        FlatTree { tree, nodes, depth }
    }

    #[inline]
    fn step<G: Fn(usize, usize) -> f64>(&self, get: &G, row: usize, i: u32) -> u32 {
        let nd = &self.nodes[i as usize];
        let v = get(row, nd.feature as usize);
        let left = if nd.categorical {
            self.tree.nodes[i as usize].goes_left(v)
        } else {
            (v <= nd.thr) | (nd.missing_left & v.is_nan())
        };
        if left { nd.left } else { nd.right }
    }

    /// Adds the tree's output for rows `start..start + out.len()` to `out` (the value of
    /// `Tree::predict_row`).
    pub fn add_to(&self, x: &Matrix, start: usize, out: &mut [f64]) {
        let end = start + out.len();
        // Contiguous columns (polars, Fortran-ordered numpy) cut to this block's rows.
        let cols: Option<Vec<&[f64]>> = (0..x.n_cols()).map(|j| x.col(j).as_slice().map(|c| &c[start..end])).collect();
        match cols {
            Some(c) => self.add_rows(&|r: usize, f: usize| c[f][r], out),
            None => self.add_rows(&|r: usize, f: usize| x.get(start + r, f), out),
        }
    }

    fn add_rows<G: Fn(usize, usize) -> f64>(&self, get: &G, out: &mut [f64]) {
        let mut chunks = out.chunks_exact_mut(LANES);
        let mut row0 = 0;
        for chunk in &mut chunks {
            let mut idx = [0u32; LANES];
            // Leaves point at themselves: `depth` steps bring every row to its leaf.
            for _ in 0..self.depth {
                for (l, i) in idx.iter_mut().enumerate() {
                    *i = self.step(get, row0 + l, *i);
                }
            }
            for (o, &i) in chunk.iter_mut().zip(&idx) {
                *o += self.nodes[i as usize].thr;
            }
            row0 += LANES;
        }
        for (l, o) in chunks.into_remainder().iter_mut().enumerate() {
            let mut i = 0u32;
            for _ in 0..self.depth {
                i = self.step(get, row0 + l, i);
            }
            *o += self.nodes[i as usize].thr;
        }
    }
}

