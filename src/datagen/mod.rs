//! The synthetic CRM world generator: pure Rust, returns polars DataFrames.

pub mod dirty;
pub mod rng;
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

/// A permutation sorting by (time, generation index): deterministic, ties kept in order.
fn time_order(times: &[i64]) -> Vec<usize> {
    let mut idx: Vec<usize> = (0..times.len()).collect();
    idx.par_sort_unstable_by_key(|&i| (times[i], i));
    idx
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
    let record_ids: Vec<i64> = (1..=n_rec as i64).collect();
    let customers = DataFrame::new(
        n_rec,
        vec![
            i64s("record_id", record_ids.clone()),
            strs("source", perm.iter().map(|&i| w.rec_source[i])),
            strings("name", perm.iter().map(|&i| w.rec_name[i].as_deref())),
            strings("phone", perm.iter().map(|&i| w.rec_phone[i].as_deref())),
            strings("email", perm.iter().map(|&i| w.rec_email[i].as_deref())),
            strings("birth_date", perm.iter().map(|&i| w.rec_birth[i].as_deref())),
            strings("gender", perm.iter().map(|&i| w.rec_gender[i])),
            strings("city", perm.iter().map(|&i| w.rec_city[i].as_deref())),
            strings("address", perm.iter().map(|&i| w.rec_address[i].as_deref())),
            date("signup_date", perm.iter().map(|&i| w.rec_signup_day[i]).collect())?,
        ],
    )?;
    let truth_records = DataFrame::new(
        n_rec,
        vec![
            i64s("record_id", record_ids),
            i64s("customer_id", perm.iter().map(|&i| w.rec_customer[i]).collect()),
        ],
    )?;
    drop(perm);

    // Orders sorted by time; order ids follow that order.
    let n_ord = w.ord_us.len();
    let order_perm = time_order(&w.ord_us);
    let mut new_order_id = vec![0i64; n_ord];
    for (rank, &old) in order_perm.iter().enumerate() {
        new_order_id[old] = rank as i64 + 1;
    }
    let orders = DataFrame::new(
        n_ord,
        vec![
            i64s("order_id", (1..=n_ord as i64).collect()),
            i64s("customer_id", order_perm.iter().map(|&i| w.ord_customer[i]).collect()),
            datetime_us("order_date", order_perm.iter().map(|&i| w.ord_us[i]).collect())?,
            f64s("amount", order_perm.iter().map(|&i| w.ord_amount[i]).collect()),
            strs("channel", order_perm.iter().map(|&i| w.ord_channel[i])),
            f64s("discount", order_perm.iter().map(|&i| w.ord_discount[i]).collect()),
        ],
    )?;
    drop(order_perm);

    // Order lines grouped by their (new) order id, lines in generation order.
    let n_items = w.item_order.len();
    let item_oid: Vec<i64> = w.item_order.iter().map(|&o| new_order_id[o as usize]).collect();
    let mut item_perm: Vec<usize> = (0..n_items).collect();
    item_perm.par_sort_unstable_by_key(|&i| (item_oid[i], i));
    let items = DataFrame::new(
        n_items,
        vec![
            i64s("order_id", item_perm.iter().map(|&i| item_oid[i]).collect()),
            strs("product", item_perm.iter().map(|&i| catalog.names[w.item_product[i] as usize].as_str())),
            strs(
                "category",
                item_perm.iter().map(|&i| vocab::CATEGORIES[catalog.category[w.item_product[i] as usize]].0),
            ),
            Int32Chunked::from_vec("quantity".into(), item_perm.iter().map(|&i| w.item_quantity[i]).collect())
                .into_series()
                .into_column(),
            f64s("price", item_perm.iter().map(|&i| w.item_price[i]).collect()),
        ],
    )?;
    drop((item_perm, item_oid, new_order_id));

    // Events sorted by time; sessions numbered by when they start.
    let n_ev = w.ev_us.len();
    let ev_perm = time_order(&w.ev_us);
    let mut session_id = vec![0i64; w.n_sessions as usize];
    let mut next = 0i64;
    let ev_session: Vec<i64> = ev_perm
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
    let events = DataFrame::new(
        n_ev,
        vec![
            i64s("customer_id", ev_perm.iter().map(|&i| w.ev_customer[i]).collect()),
            i64s("session_id", ev_session),
            strs("event", ev_perm.iter().map(|&i| w.ev_event[i])),
            datetime_us("timestamp", ev_perm.iter().map(|&i| w.ev_us[i]).collect())?,
        ],
    )?;
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

#[cfg(test)]
mod timing {
    #[test]
    #[ignore]
    fn phases() {
        let p = super::WorldParams { n_customers: 1_000_000, seed: 7, ..Default::default() };
        let t = std::time::Instant::now();
        let (w, cat) = super::world::generate(&p).unwrap();
        eprintln!("simulate+merge {:?}", t.elapsed());
        let t = std::time::Instant::now();
        let _ = super::build_frames(&p, w, &cat).unwrap();
        eprintln!("frames {:?}", t.elapsed());
    }
}
