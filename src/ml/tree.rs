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
