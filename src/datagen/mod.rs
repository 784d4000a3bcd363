//! The synthetic CRM world generator: pure Rust, returns polars DataFrames.

pub mod campaigns;
pub mod dirty;
pub mod opportunities;
pub mod surveys;
pub use crate::rng;
pub mod vocab;
pub mod world;

use polars::prelude::*;
use rayon::prelude::*;

use crate::error::Result;
pub use world::WorldParams;
use world::{Catalog, WorldColumns};

/// The generated tables, the truth behind them, and the planted patterns.
pub struct World {
    pub customers: DataFrame,
    pub orders: DataFrame,
    pub items: DataFrame,
    pub events: DataFrame,
    pub truth_records: DataFrame,
    pub truth_customers: DataFrame,
    /// Planted bundles: product names and per-order probability.
    pub bundles: Vec<(Vec<String>, f64)>,
}

fn datetime_us(name: &str, values: Vec<i64>) -> Result<Column> {
    Ok(Int64Chunked::from_vec(name.into(), values)
        .into_series()
        .cast(&DataType::Datetime(TimeUnit::Microseconds, None))?
        .into_column())
}

fn date(name: &str, days: Vec<i32>) -> Result<Column> {
    Ok(Int32Chunked::from_vec(name.into(), days).into_series().cast(&DataType::Date)?.into_column())
}

fn strings<'a>(name: &str, values: impl Iterator<Item = Option<&'a str>>) -> Column {
    StringChunked::from_iter_options(name.into(), values).into_series().into_column()
}

fn strs<'a>(name: &str, values: impl Iterator<Item = &'a str>) -> Column {
    StringChunked::from_iter_values(name.into(), values).into_series().into_column()
}

fn f64s(name: &str, values: Vec<f64>) -> Column {
    Float64Chunked::from_vec(name.into(), values).into_series().into_column()
}

fn i64s(name: &str, values: Vec<i64>) -> Column {
    Int64Chunked::from_vec(name.into(), values).into_series().into_column()
}

/// A string column drawn from a small vocabulary: gathering from a dictionary array shares
/// its bytes instead of copying a string per row.
fn vocab_column<'a>(name: &str, vocab: &[&str], values: impl Iterator<Item = &'a str>) -> Result<Column> {
    let dict = StringChunked::from_iter_values(name.into(), vocab.iter().copied());
    let codes: Vec<IdxSize> =
        values.map(|v| vocab.iter().position(|&x| x == v).unwrap_or(vocab.len()) as IdxSize).collect();
    Ok(dict.take(&IdxCa::from_vec(name.into(), codes))?.into_series().into_column())
}

type ColumnJob<'a> = Box<dyn Fn() -> Result<Column> + Send + Sync + 'a>;

/// Builds a frame's columns in parallel; each job gathers one column.
fn frame(height: usize, jobs: Vec<ColumnJob<'_>>) -> Result<DataFrame> {
    let columns = jobs
        .par_iter()
        .map(|job| {
            crate::interrupt::check()?;
            job()
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(DataFrame::new(height, columns)?)
}

/// A permutation sorting by (time, generation index): deterministic, ties kept in order.
/// Sorting contiguous (time, index) pairs avoids a random memory access per comparison.
fn time_order(times: &[i64]) -> Vec<usize> {
    let mut keyed: Vec<(i64, u32)> = times.iter().enumerate().map(|(i, &t)| (t, i as u32)).collect();
    keyed.par_sort_unstable();
    keyed.into_iter().map(|(_, i)| i as usize).collect()
}

pub fn generate(params: &WorldParams) -> Result<World> {
    let (w, catalog) = world::generate(params)?;
    build_frames(params, w, &catalog)
}

fn build_frames(params: &WorldParams, mut w: WorldColumns, catalog: &Catalog) -> Result<World> {
    // Customer records in a shuffled order with fresh ids, as an export would list them.
    let n_rec = w.rec_customer.len();
    let mut perm: Vec<usize> = (0..n_rec).collect();
    let mut rng = rng::Rng::new(params.seed, u64::MAX);
    for i in (1..n_rec).rev() {
        perm.swap(i, rng.below(i + 1));
    }
    let w = &mut w;
    let (customers, truth_records) = {
        let (w, perm) = (&*w, &perm);
        let customers = frame(
            n_rec,
            vec![
                Box::new(|| Ok(i64s("record_id", (1..=n_rec as i64).collect()))),
                Box::new(|| vocab_column("source", vocab::SOURCES, perm.iter().map(|&i| w.rec_source[i]))),
                Box::new(|| Ok(strings("name", perm.iter().map(|&i| w.rec_name[i].as_deref())))),
                Box::new(|| Ok(strings("phone", perm.iter().map(|&i| w.rec_phone[i].as_deref())))),
                Box::new(|| Ok(strings("email", perm.iter().map(|&i| w.rec_email[i].as_deref())))),
                Box::new(|| Ok(strings("birth_date", perm.iter().map(|&i| w.rec_birth[i].as_deref())))),
                Box::new(|| Ok(strings("gender", perm.iter().map(|&i| w.rec_gender[i])))),
                Box::new(|| Ok(strings("city", perm.iter().map(|&i| w.rec_city[i].as_deref())))),
                Box::new(|| Ok(strings("address", perm.iter().map(|&i| w.rec_address[i].as_deref())))),
                Box::new(|| date("signup_date", perm.iter().map(|&i| w.rec_signup_day[i]).collect())),
            ],
        )?;
        let truth_records = DataFrame::new(
            n_rec,
            vec![
                i64s("record_id", (1..=n_rec as i64).collect()),
                i64s("customer_id", perm.iter().map(|&i| w.rec_customer[i]).collect()),
            ],
        )?;
        (customers, truth_records)
    };
    drop(perm);

    // Orders sorted by time; order ids follow that order.
    let n_ord = w.ord_us.len();
    let order_perm = time_order(&w.ord_us);
    let orders = {
        let (w, perm) = (&*w, &order_perm);
        frame(
            n_ord,
            vec![
                Box::new(|| Ok(i64s("order_id", (1..=n_ord as i64).collect()))),
                Box::new(|| Ok(i64s("customer_id", perm.iter().map(|&i| w.ord_customer[i]).collect()))),
                Box::new(|| datetime_us("order_date", perm.iter().map(|&i| w.ord_us[i]).collect())),
                Box::new(|| Ok(f64s("amount", perm.iter().map(|&i| w.ord_amount[i]).collect()))),
                Box::new(|| vocab_column("channel", vocab::CHANNELS, perm.iter().map(|&i| w.ord_channel[i]))),
                Box::new(|| Ok(f64s("discount", perm.iter().map(|&i| w.ord_discount[i]).collect()))),
            ],
        )?
    };

    // Order lines grouped by their (new) order id, lines in generation order. Lines of
    // one order are contiguous and in old-order sequence, so no sort is needed.
    let n_items = w.item_order.len();
    let mut line_start = vec![0usize; n_ord + 1];
    for &o in &w.item_order {
        line_start[o as usize + 1] += 1;
    }
    for i in 0..n_ord {
        line_start[i + 1] += line_start[i];
    }
    let mut item_perm: Vec<usize> = Vec::with_capacity(n_items);
    let mut item_oid: Vec<i64> = Vec::with_capacity(n_items);
    for (rank, &old) in order_perm.iter().enumerate() {
        for line in line_start[old]..line_start[old + 1] {
            item_perm.push(line);
            item_oid.push(rank as i64 + 1);
        }
    }
    drop((order_perm, line_start));
    let items = {
        let (w, perm) = (&*w, &item_perm);
        let product_names: Vec<&str> = catalog.names.iter().map(|s| s.as_str()).collect();
        let category_of: Vec<u32> = catalog.category.iter().map(|&c| c as u32).collect();
        let category_names: Vec<&str> = vocab::CATEGORIES.iter().map(|c| c.0).collect();
        let gather = |name: &str, dict: &[&str], codes: Vec<IdxSize>| -> Result<Column> {
            let dict = StringChunked::from_iter_values(name.into(), dict.iter().copied());
            Ok(dict.take(&IdxCa::from_vec(name.into(), codes))?.into_series().into_column())
        };
        let order_id = i64s("order_id", item_oid);
        frame(
            n_items,
            vec![
                Box::new(|| Ok(order_id.clone())),
                Box::new(|| {
                    gather("product", &product_names, perm.iter().map(|&i| w.item_product[i] as IdxSize).collect())
                }),
                Box::new(|| {
                    let codes = perm.iter().map(|&i| category_of[w.item_product[i] as usize] as IdxSize).collect();
                    gather("category", &category_names, codes)
                }),
                Box::new(|| {
                    Ok(Int32Chunked::from_vec("quantity".into(), perm.iter().map(|&i| w.item_quantity[i]).collect())
                        .into_series()
                        .into_column())
                }),
                Box::new(|| Ok(f64s("price", perm.iter().map(|&i| w.item_price[i]).collect()))),
            ],
        )?
    };
    drop(item_perm);

    // Events sorted by time; sessions numbered by when they start.
    let n_ev = w.ev_us.len();
    let ev_perm = time_order(&w.ev_us);
    let events = {
        let (w, perm) = (&*w, &ev_perm);
        frame(
            n_ev,
            vec![
                Box::new(|| Ok(i64s("customer_id", perm.iter().map(|&i| w.ev_customer[i]).collect()))),
                Box::new(|| {
                    let mut session_id = vec![0i64; w.n_sessions as usize];
                    let mut next = 0i64;
                    let ids = perm
                        .iter()
                        .map(|&i| {
                            let s = w.ev_session[i] as usize;
                            if session_id[s] == 0 {
                                next += 1;
                                session_id[s] = next;
                            }
                            session_id[s]
                        })
                        .collect();
                    Ok(i64s("session_id", ids))
                }),
                Box::new(|| vocab_column("event", vocab::FUNNEL_EVENTS, perm.iter().map(|&i| w.ev_event[i]))),
                Box::new(|| datetime_us("timestamp", perm.iter().map(|&i| w.ev_us[i]).collect())),
            ],
        )?
    };
    drop(ev_perm);

    let n_cust = w.cust_id.len();
    let mean_spend: Vec<f64> = w.cust_nu.iter().map(|nu| params.p / nu).collect();
    let alive: Vec<bool> = w.cust_dropout_us.iter().map(|d| d.is_none()).collect();
    let dropout_us = Int64Chunked::from_iter_options("dropout_date".into(), w.cust_dropout_us.iter().copied())
        .into_series()
        .cast(&DataType::Datetime(TimeUnit::Microseconds, None))?
        .into_column();
    let truth_customers = DataFrame::new(
        n_cust,
        vec![
            i64s("customer_id", std::mem::take(&mut w.cust_id)),
            f64s("purchase_rate", std::mem::take(&mut w.cust_rate)),
            f64s("dropout_prob", std::mem::take(&mut w.cust_dropout)),
            f64s("spend_rate", std::mem::take(&mut w.cust_nu)),
            f64s("mean_spend", mean_spend),
            datetime_us("first_purchase", std::mem::take(&mut w.cust_first_us))?,
            dropout_us,
            BooleanChunked::from_iter_values("alive".into(), alive.into_iter()).into_series().into_column(),
            i64s("n_orders", w.cust_orders.iter().map(|&n| n as i64).collect()),
            strs("favourite_category", w.cust_favourite.iter().copied()),
            strs("preferred_channel", w.cust_channel.iter().copied()),
            BooleanChunked::from_iter_values("discount_seeker".into(), w.cust_discount_seeker.iter().copied())
                .into_series()
                .into_column(),
            strs("name", w.cust_name.iter().map(|s| s.as_str())),
            strs("phone", w.cust_phone_e164.iter().map(|s| s.as_str())),
            strings("email", w.cust_email.iter().map(|s| s.as_deref())),
            date("birth_date", std::mem::take(&mut w.cust_birth_day))?,
        ],
    )?;

    let bundles = catalog
        .bundles
        .iter()
        .zip(&catalog.bundle_prob)
        .map(|(b, &p)| (b.iter().map(|&i| catalog.names[i].clone()).collect(), p))
        .collect();
    Ok(World { customers, orders, items, events, truth_records, truth_customers, bundles })
}
