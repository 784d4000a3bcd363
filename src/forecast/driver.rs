//! Runs models over many series in parallel. A task is (series, training length): the
//! forecast for series `s` from its first `len` points, so one entry point serves both
//! `forecast` (len = n) and `cross_validation` (one task per window).
//!
//! A model that cannot fit a series (too short, degenerate, a kernel error) never stops
//! the run: the series gets the Naive forecast for that model and a note saying why, so
//! the user sees which series fell back. Each task is independent and written to its
//! own slot, so results do not depend on the number of threads.

use rayon::prelude::*;

use super::model::{ForecastOutput, Forecaster};
use super::simple::Naive;
use crate::error::{CrmError, Result};

/// One model's result for one task, with the fallback recorded.
pub struct TaskResult {
    pub output: ForecastOutput,
    pub fell_back: bool,
}

/// `values` holds the series back to back; series `s` is `values[offsets[s]..offsets[s+1]]`.
pub struct Panel<'a> {
    pub values: &'a [f64],
    pub offsets: &'a [usize],
}

impl Panel<'_> {
    pub fn n_series(&self) -> usize {
        self.offsets.len().saturating_sub(1)
    }
    pub fn series(&self, s: usize) -> &[f64] {
        &self.values[self.offsets[s]..self.offsets[s + 1]]
    }
}

fn run_one(model: &dyn Forecaster, y: &[f64], h: usize, levels: &[f64]) -> TaskResult {
    let attempt = model.forecast(y, h, levels).and_then(|out| {
        out.check(h, levels)?;
        if out.mean.iter().any(|v| !v.is_finite()) {
            return Err(CrmError::invalid(format!("{} produced non-finite forecasts", out.description)));
        }
        Ok(out)
    });
    match attempt {
        Ok(output) => TaskResult { output, fell_back: false },
        Err(e) => {
            // Naive needs one point, which the driver guarantees.
            let mut output = match Naive.forecast(y, h, levels) {
                Ok(o) => o,
                Err(_) => ForecastOutput::point(vec![f64::NAN; h], levels, "none"),
            };
            output.note = Some(format!("{} could not be fitted ({e}); Naive used", model.name()));
            TaskResult { output, fell_back: true }
        }
    }
}

/// Runs every model on every task; result index = task * models.len() + model.
pub fn run(panel: &Panel<'_>, tasks: &[(usize, usize)], models: &[Box<dyn Forecaster>], h: usize, levels: &[f64]) -> Result<Vec<TaskResult>> {
    if h == 0 {
        return Err(CrmError::invalid("h must be >= 1"));
    }
    for lv in levels {
        if !(*lv > 0.0 && *lv < 100.0) {
            return Err(CrmError::invalid(format!("level must lie strictly between 0 and 100, got {lv}")));
        }
    }
    for &(s, len) in tasks {
        if s >= panel.n_series() {
            return Err(CrmError::invalid(format!("internal: task refers to series {s} of {}", panel.n_series())));
        }
        let y = panel.series(s);
        if len == 0 || len > y.len() {
            return Err(CrmError::invalid(format!("internal: task length {len} for a series of {}", y.len())));
        }
        if let Some(v) = y[..len].iter().find(|v| !v.is_finite()) {
            return Err(CrmError::invalid(format!("series {s} holds a non-finite value ({v})")));
        }
    }
    let per_task: Vec<Vec<TaskResult>> = tasks
        .par_iter()
        .with_min_len(1)
        .map(|&(s, len)| {
            // An interrupted call discards the results: skip the remaining series.
            if crate::interrupt::requested() {
                return Vec::new();
            }
            let y = &panel.series(s)[..len];
            models.iter().map(|m| run_one(m.as_ref(), y, h, levels)).collect()
        })
        .collect();
    crate::interrupt::check()?;
    Ok(per_task.into_iter().flatten().collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::forecast::build_model;

    #[test]
    fn short_series_fall_back_with_a_note() {
        let values = [1.0, 2.0, 3.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0, 10.0];
        let offsets = [0, 3, 13];
        let panel = Panel { values: &values, offsets: &offsets };
        let models = vec![build_model("AutoETS", &serde_json::json!({"season_length": 1})).unwrap()];
        let out = run(&panel, &[(0, 3), (1, 10)], &models, 2, &[95.0]).unwrap();
        assert!(out[0].fell_back);
        assert_eq!(out[0].output.mean, vec![3.0, 3.0]);
        assert!(out[0].output.note.as_deref().unwrap_or("").contains("AutoETS"));
        assert!(!out[1].fell_back, "{:?}", out[1].output.note);
    }
}
