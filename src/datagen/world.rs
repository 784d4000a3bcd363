//! The synthetic CRM world: people, their dirty customer records, and what they buy.
//!
//! Purchases follow the BG/NBD story exactly (Fader, Hardie & Lee 2005), in days:
//! each customer buys at rate λ ~ Gamma(r, α) while alive and, after each repeat
//! purchase, drops out with probability p ~ Beta(a, b). Spend per order follows the
//! Gamma-Gamma story: ν ~ Gamma(q, γ) per customer, each order's amount ~ Gamma(p, ν).
//! Web sessions in the last `event_days` follow a planted view → cart → checkout →
//! purchase funnel (per session); each order's buying session is preceded by sessions
//! that stop earlier, 40% of which belong to another customer, so some visitors browse
//! without ever buying. Orders contain planted product bundles.
//!
//! Work is split into fixed chunks of customers, each with its own random stream, so a
//! seed gives the same world whatever the number of threads.

use rayon::prelude::*;

use super::dirty::*;
use super::rng::{cumulative, Rng};
use super::vocab::*;
use crate::error::{CrmError, Result};

pub const MICROS_PER_DAY: i64 = 86_400_000_000;
const CHUNK: usize = 2_048;
/// Share of non-buying sessions owned by a random customer rather than the buyer.
const WINDOW_SHOPPER_SHARE: f64 = 0.4;
/// Marks the window-shopper streams apart from the chunk streams.
const BROWSER_STREAM: u64 = 1 << 48;
/// Above this the world does not fit comfortably in memory on a typical machine.
pub const MAX_CUSTOMERS: usize = 20_000_000;

#[derive(Clone, Debug)]
pub struct WorldParams {
    pub n_customers: usize,
    pub seed: u64,
    /// Observation window, days since 1970-01-01; `end_day` is exclusive.
    pub start_day: i32,
    pub end_day: i32,
    /// BG/NBD: purchase rate λ ~ Gamma(r, rate α) per day; dropout p ~ Beta(a, b).
    pub r: f64,
    pub alpha: f64,
    pub a: f64,
    pub b: f64,
    /// Gamma-Gamma: order value ~ Gamma(p, ν), ν ~ Gamma(q, rate γ).
    pub p: f64,
    pub q: f64,
    pub gamma: f64,
    /// Probabilities that a person has 1, 2, 3, 4 customer records.
    pub records_per_person: [f64; 4],
    /// Days before the end of the window covered by the web event log.
    pub event_days: i32,
    /// Session funnel: P(cart | view), P(checkout | cart), P(purchase | checkout).
    pub funnel: [f64; 3],
    pub n_products: usize,
    /// Share of orders that contain a planted bundle.
    pub bundle_rate: f64,
    pub n_bundles: usize,
}

impl Default for WorldParams {
    fn default() -> Self {
        WorldParams {
            n_customers: 5_000,
            seed: 42,
            start_day: days_from_civil(2022, 1, 1),
            end_day: days_from_civil(2026, 1, 1),
            r: 0.9,
            alpha: 30.0,
            a: 0.8,
            b: 6.0,
            p: 6.0,
            q: 4.0,
            gamma: 150.0,
            records_per_person: [0.62, 0.25, 0.09, 0.04],
            event_days: 90,
            funnel: [0.30, 0.45, 0.75],
            n_products: 500,
            bundle_rate: 0.15,
            n_bundles: 12,
        }
    }
}

impl WorldParams {
    pub fn validate(&self) -> Result<()> {
        let bad = |m: String| Err(CrmError::InvalidInput(m));
        if self.n_customers == 0 {
            return bad("n_customers must be at least 1".into());
        }
        if self.n_customers > MAX_CUSTOMERS {
            return Err(CrmError::TooLarge(format!(
                "n_customers={} is above the generator's limit of {MAX_CUSTOMERS} (about {} GB of tables); generate in parts with different seeds instead",
                self.n_customers,
                self.n_customers * 3 / 1_000_000
            )));
        }
        if self.end_day - self.start_day < 2 {
            return bad("the observation window must span at least 2 days (end after start)".into());
        }
        for (name, v) in [
            ("r", self.r),
            ("alpha", self.alpha),
            ("a", self.a),
            ("b", self.b),
            ("p", self.p),
            ("q", self.q),
            ("gamma", self.gamma),
        ] {
            if !(v.is_finite() && v > 0.0) {
                return bad(format!("parameter '{name}' must be a positive finite number, got {v}"));
            }
        }
        if self.funnel.iter().any(|&f| !(f > 0.0 && f <= 1.0)) {
            return bad(format!("funnel step probabilities must lie in (0, 1], got {:?}", self.funnel));
        }
        let total: f64 = self.records_per_person.iter().sum();
        if self.records_per_person.iter().any(|&w| !(w >= 0.0)) || !(total > 0.0) {
            return bad("records_per_person must be non-negative weights with a positive sum".into());
        }
        if self.n_products < 20 || self.n_products > 1_000_000 {
            return bad(format!("n_products must be between 20 and 1,000,000, got {}", self.n_products));
        }
        if !(0.0..=1.0).contains(&self.bundle_rate) {
            return bad(format!("bundle_rate must lie in [0, 1], got {}", self.bundle_rate));
        }
        if self.n_bundles > self.n_products / 3 {
            return bad(format!("n_bundles={} needs at least {} products", self.n_bundles, self.n_bundles * 3));
        }
        if self.event_days < 0 {
            return bad("event_days must be >= 0".into());
        }
        Ok(())
    }
}

/// The product catalogue and its planted bundles.
pub struct Catalog {
    pub names: Vec<String>,
    pub category: Vec<usize>,
    pub list_price: Vec<f64>,
    popularity_cum: Vec<f64>,
    by_category: Vec<(Vec<usize>, Vec<f64>)>,
    pub bundles: Vec<Vec<usize>>,
    /// Per-order probability of each bundle.
    pub bundle_prob: Vec<f64>,
}

impl Catalog {
    pub fn new(params: &WorldParams) -> Catalog {
        let mut rng = Rng::new(params.seed, u64::MAX - 1);
        let n = params.n_products;
        let mut names = Vec::with_capacity(n);
        let mut category = Vec::with_capacity(n);
        let mut list_price = Vec::with_capacity(n);
        let mut per_cat_count = vec![0usize; CATEGORIES.len()];
        for i in 0..n {
            let c = i % CATEGORIES.len();
            per_cat_count[c] += 1;
            names.push(format!("{}-{:03}", CATEGORIES[c].0, per_cat_count[c]));
            category.push(c);
            let price = CATEGORIES[c].1 * (0.4 * rng.normal()).exp();
            list_price.push((price.max(1.0) * 10.0).round() / 10.0);
        }
        // Zipf-like popularity over a random order of products.
        let mut order: Vec<usize> = (0..n).collect();
        for i in (1..n).rev() {
            order.swap(i, rng.below(i + 1));
        }
        let mut weight = vec![0.0; n];
        for (rank, &prod) in order.iter().enumerate() {
            weight[prod] = 1.0 / (rank as f64 + 1.0);
        }
        let popularity_cum = cumulative(&weight);
        let by_category = (0..CATEGORIES.len())
            .map(|c| {
                let ids: Vec<usize> = (0..n).filter(|&i| category[i] == c).collect();
                let w: Vec<f64> = ids.iter().map(|&i| weight[i]).collect();
                (ids, cumulative(&w))
            })
            .collect();
        // Bundles: 2 or 3 distinct products, drawn from the popular half so they read
        // like real cross-sell pairs (coffee with dairy, not with a tyre).
        let mut bundles: Vec<Vec<usize>> = Vec::new();
        let mut used = vec![false; n];
        while bundles.len() < params.n_bundles {
            let size = if rng.chance(0.6) { 2 } else { 3 };
            let mut b: Vec<usize> = Vec::new();
            let mut tries = 0;
            while b.len() < size && tries < 1000 {
                tries += 1;
                let cand = order[rng.below(n / 2)];
                if !used[cand] {
                    used[cand] = true;
                    b.push(cand);
                }
            }
            b.sort_unstable();
            bundles.push(b);
        }
        let raw: Vec<f64> = (0..bundles.len()).map(|i| 1.0 / (i as f64 + 2.0)).collect();
        let total: f64 = raw.iter().sum();
        let bundle_prob = raw.iter().map(|w| params.bundle_rate * w / total).collect();
        Catalog { names, category, list_price, popularity_cum, by_category, bundles, bundle_prob }
    }

    fn draw(&self, rng: &mut Rng, favourite: usize) -> usize {
        if rng.chance(0.5) {
            let (ids, cum) = &self.by_category[favourite];
            if !ids.is_empty() {
                return ids[rng.weighted(cum)];
            }
        }
        rng.weighted(&self.popularity_cum)
    }
}

/// Column buffers for one chunk of customers (and, merged, for the whole world).
#[derive(Default)]
pub struct WorldColumns {
    // customer records
    pub rec_customer: Vec<i64>,
    pub rec_source: Vec<&'static str>,
    pub rec_name: Vec<Option<String>>,
    pub rec_phone: Vec<Option<String>>,
    pub rec_email: Vec<Option<String>>,
    pub rec_birth: Vec<Option<String>>,
    pub rec_gender: Vec<Option<&'static str>>,
    pub rec_city: Vec<Option<String>>,
    pub rec_address: Vec<Option<String>>,
    pub rec_signup_day: Vec<i32>,
    // truth per customer
    pub cust_id: Vec<i64>,
    pub cust_rate: Vec<f64>,
    pub cust_dropout: Vec<f64>,
    pub cust_nu: Vec<f64>,
    pub cust_first_us: Vec<i64>,
    pub cust_dropout_us: Vec<Option<i64>>,
    pub cust_orders: Vec<u32>,
    pub cust_favourite: Vec<&'static str>,
    pub cust_channel: Vec<&'static str>,
    pub cust_discount_seeker: Vec<bool>,
    pub cust_name: Vec<String>,
    pub cust_phone_e164: Vec<String>,
    pub cust_email: Vec<Option<String>>,
    pub cust_birth_day: Vec<i32>,
    // orders (local order index = position)
    pub ord_customer: Vec<i64>,
    pub ord_us: Vec<i64>,
    pub ord_amount: Vec<f64>,
    pub ord_channel: Vec<&'static str>,
    pub ord_discount: Vec<f64>,
    // order lines (item_order = local order index)
    pub item_order: Vec<u64>,
    pub item_product: Vec<u32>,
    pub item_quantity: Vec<i32>,
    pub item_price: Vec<f64>,
    // events (ev_session = local session index)
    pub ev_customer: Vec<i64>,
    pub ev_session: Vec<u64>,
    pub ev_event: Vec<&'static str>,
    pub ev_us: Vec<i64>,
    pub n_sessions: u64,
}

fn new_person(rng: &mut Rng, previous: Option<&Person>, start_day: i32) -> Person {
    let chinese = rng.chance(0.8);
    let male = rng.chance(0.48);
    // Family members share a surname and an address: the hard negatives of dedupe.
    let family = previous.filter(|p| chinese && p.chinese && rng.chance(0.05));
    let (name, surname, given, surname_py, given_py) = if chinese {
        let (s, s_py) = match family {
            Some(f) => (f.surname.clone(), f.surname_py.clone()),
            None => {
                let weights: Vec<f64> = CN_SURNAMES.iter().map(|x| x.2).collect();
                let i = rng.weighted(&cumulative(&weights));
                (CN_SURNAMES[i].0.to_string(), CN_SURNAMES[i].1.to_string())
            }
        };
        let n_given = if rng.chance(0.3) { 1 } else { 2 };
        let mut g = String::new();
        let mut g_py = String::new();
        for _ in 0..n_given {
            let (c, py) = rng.pick(CN_GIVEN);
            g.push_str(c);
            g_py.push_str(py);
        }
        (format!("{s}{g}"), s, g, s_py, g_py)
    } else {
        let first = if male { rng.pick(LATIN_FIRST_MALE) } else { rng.pick(LATIN_FIRST_FEMALE) };
        let last = rng.pick(LATIN_LAST);
        (format!("{first} {last}"), last.to_string(), first.to_string(), String::new(), String::new())
    };
    let age_days = ((18.0 + 50.0 * rng.uniform().powf(1.3)) * 365.25) as i32;
    let birth = civil_from_days(start_day - age_days + rng.below(365) as i32);
    let (city, address_cn, address_latin) = match family {
        Some(f) => (f.city, f.address_cn.clone(), None),
        None => {
            let weights: Vec<f64> = CITIES.iter().map(|c| c.weight).collect();
            let city = rng.weighted(&cumulative(&weights));
            let (cn, latin) = new_addresses(rng, chinese, city);
            (city, cn, latin)
        }
    };
    let (phone_cc, phone_nsn, landline_area) = new_phone(rng, chinese, city);
    let (_, phone2_nsn, _) = new_phone(rng, chinese, city);
    let mut p = Person {
        chinese,
        male,
        name,
        surname,
        given,
        surname_py,
        given_py,
        birth,
        phone_cc,
        phone_nsn,
        landline_area,
        phone2_nsn,
        email: None,
        city,
        address_cn,
        address_latin,
    };
    p.email = new_email(rng, &p);
    p
}

const DISCOUNTS: &[f64] = &[0.0, 0.05, 0.1, 0.2, 0.3];
const DISCOUNT_W: &[f64] = &[0.55, 0.15, 0.15, 0.1, 0.05];
const DISCOUNT_SEEKER_W: &[f64] = &[0.15, 0.15, 0.3, 0.25, 0.15];
const CHANNEL_W: &[f64] = &[0.3, 0.35, 0.2, 0.15];

/// Generates one chunk of customers with its own random stream.
fn generate_chunk(params: &WorldParams, catalog: &Catalog, chunk: usize, first_id: usize, n: usize) -> WorldColumns {
    let mut rng = Rng::new(params.seed, chunk as u64);
    // A stream of its own for who browses without buying, so the other tables do not
    // depend on it.
    let mut browser_rng = Rng::new(params.seed, (chunk as u64) | BROWSER_STREAM);
    let mut out = WorldColumns::default();
    let start_us = params.start_day as i64 * MICROS_PER_DAY;
    let end_us = params.end_day as i64 * MICROS_PER_DAY;
    let events_from_us = end_us - params.event_days as i64 * MICROS_PER_DAY;
    let records_cum = cumulative(&params.records_per_person);
    let source_cum = cumulative(SOURCE_WEIGHTS);
    let discount_cum = cumulative(DISCOUNT_W);
    let seeker_cum = cumulative(DISCOUNT_SEEKER_W);
    let channel_cum = cumulative(CHANNEL_W);
    let [f_cart, f_checkout, f_purchase] = params.funnel;
    let p_session_buys = f_cart * f_checkout * f_purchase;
    // Depth of a session that does not buy: stops after view, cart or checkout.
    let fail_cum = cumulative(&[1.0 - f_cart, f_cart * (1.0 - f_checkout), f_cart * f_checkout * (1.0 - f_purchase)]);
    let mut previous: Option<Person> = None;

    for k in 0..n {
        let id = (first_id + k + 1) as i64;
        let person = new_person(&mut rng, previous.as_ref(), params.start_day);

        // --- purchases: BG/NBD in continuous time ---
        let rate = rng.gamma(params.r, params.alpha);
        let dropout = rng.beta(params.a, params.b);
        let nu = rng.gamma(params.q, params.gamma);
        let first_us = start_us + (rng.uniform() * (end_us - start_us - MICROS_PER_DAY) as f64) as i64;
        let favourite = rng.below(CATEGORIES.len());
        let channel = rng.weighted(&channel_cum);
        let seeker = rng.chance(0.1);
        let mut times = vec![first_us];
        let mut dropout_at = None;
        let mut t = first_us;
        loop {
            let gap = rng.exponential(rate) * MICROS_PER_DAY as f64;
            if !gap.is_finite() || t as f64 + gap >= end_us as f64 {
                break;
            }
            t += gap as i64;
            times.push(t);
            if rng.chance(dropout) {
                dropout_at = Some(t);
                break;
            }
        }

        for &ts in &times {
            let order_idx = out.ord_us.len() as u64;
            let amount = (rng.gamma(params.p, nu) * 100.0).round().max(1.0) / 100.0;
            let discount = DISCOUNTS[rng.weighted(if seeker { &seeker_cum } else { &discount_cum })];
            let ch = if rng.chance(0.75) { channel } else { rng.weighted(&channel_cum) };
            out.ord_customer.push(id);
            out.ord_us.push(ts);
            out.ord_amount.push(amount);
            out.ord_channel.push(CHANNELS[ch]);
            out.ord_discount.push(discount);

            // Order lines: an optional planted bundle plus ordinary lines, list prices
            // scaled so the lines add up to the gross amount.
            let mut products: Vec<u32> = Vec::with_capacity(6);
            let mut u = rng.uniform();
            for (b, &pb) in catalog.bundle_prob.iter().enumerate() {
                if u < pb {
                    products.extend(catalog.bundles[b].iter().map(|&x| x as u32));
                    break;
                }
                u -= pb;
            }
            let target = products.len() + usize::from(products.is_empty()) + rng.poisson(0.7).min(8);
            let mut tries = 0;
            while products.len() < target && tries < 50 {
                tries += 1;
                let cand = catalog.draw(&mut rng, favourite) as u32;
                if !products.contains(&cand) {
                    products.push(cand);
                }
            }
            let quantities: Vec<i32> = products.iter().map(|_| [1, 1, 1, 1, 1, 1, 1, 2, 2, 3][rng.below(10)]).collect();
            let list_total: f64 =
                products.iter().zip(&quantities).map(|(&pr, &q)| catalog.list_price[pr as usize] * q as f64).sum();
            let gross = amount / (1.0 - discount);
            let scale = if list_total > 0.0 { gross / list_total } else { 1.0 };
            for (&pr, &q) in products.iter().zip(&quantities) {
                out.item_order.push(order_idx);
                out.item_product.push(pr);
                out.item_quantity.push(q);
                out.item_price.push((catalog.list_price[pr as usize] * scale * 100.0).round() / 100.0);
            }

            // Web sessions around recent orders: browsing sessions that did not buy,
            // then the session that did.
            if ts >= events_from_us && params.event_days > 0 {
                let n_failed = rng.geometric(p_session_buys).min(200);
                for _ in 0..n_failed {
                    let depth = rng.weighted(&fail_cum); // 0 view, 1 cart, 2 checkout
                    let lo = (ts - 14 * MICROS_PER_DAY).max(events_from_us);
                    let start = lo + (rng.uniform() * (ts - lo) as f64) as i64;
                    // Some sessions that do not buy belong to another customer of the chunk:
                    // people browse without buying, so not every visitor converts.
                    let owner = if browser_rng.chance(WINDOW_SHOPPER_SHARE) {
                        (first_id + 1 + browser_rng.below(n)) as i64
                    } else {
                        id
                    };
                    push_session(&mut out, &mut rng, owner, start, depth + 1, false);
                }
                // The buying session ends with the purchase at the order's time.
                push_session(&mut out, &mut rng, id, ts, 4, true);
            }
        }

        // --- records of this person ---
        let n_records = 1 + rng.weighted(&records_cum);
        let first_day = (first_us / MICROS_PER_DAY) as i32;
        for j in 0..n_records {
            let dup = j > 0;
            let source = SOURCES[rng.weighted(&source_cum)];
            let signup = if j == 0 {
                first_day - rng.below(31) as i32
            } else {
                first_day + rng.below((params.end_day - first_day).max(1) as usize) as i32
            };
            out.rec_customer.push(id);
            out.rec_source.push(source);
            out.rec_name.push(render_name(&mut rng, &person, dup));
            out.rec_phone.push(render_phone_field(&mut rng, &person, dup));
            out.rec_email.push(render_email(&mut rng, &person, source, dup));
            out.rec_birth.push(render_birth_date(&mut rng, &person, dup));
            out.rec_gender.push(render_gender(&mut rng, &person));
            out.rec_city.push(render_city(&mut rng, &person));
            out.rec_address.push(render_address(&mut rng, &person, dup));
            out.rec_signup_day.push(signup);
        }

        out.cust_id.push(id);
        out.cust_rate.push(rate);
        out.cust_dropout.push(dropout);
        out.cust_nu.push(nu);
        out.cust_first_us.push(first_us);
        out.cust_dropout_us.push(dropout_at);
        out.cust_orders.push(times.len() as u32);
        out.cust_favourite.push(CATEGORIES[favourite].0);
        out.cust_channel.push(CHANNELS[channel]);
        out.cust_discount_seeker.push(seeker);
        out.cust_name.push(person.name.clone());
        out.cust_phone_e164.push(format!("+{}{}", person.phone_cc, person.phone_nsn));
        out.cust_email.push(person.email.clone());
        out.cust_birth_day.push(days_from_civil(person.birth.0, person.birth.1, person.birth.2));
        previous = Some(person);
    }
    out
}

/// Appends one web session. `steps` = how many of view, cart, checkout, purchase it
/// reaches; `ends_at` anchors the purchase time for buying sessions, else the start.
fn push_session(out: &mut WorldColumns, rng: &mut Rng, customer: i64, anchor: i64, steps: usize, ends_at: bool) {
    let session = out.n_sessions;
    out.n_sessions += 1;
    let mut names: Vec<&'static str> = Vec::with_capacity(8);
    if rng.chance(0.35) {
        names.push("search");
    }
    for _ in 0..(1 + rng.poisson(1.2).min(10)) {
        names.push("view");
    }
    for &e in ["cart", "checkout", "purchase"].iter().take(steps.saturating_sub(1)) {
        names.push(e);
    }
    let gaps: Vec<i64> = names.iter().map(|_| (rng.exponential(1.0 / 45.0) * 1e6) as i64 + 1_000_000).collect();
    let total: i64 = gaps.iter().skip(1).sum();
    let mut t = if ends_at { anchor - total } else { anchor };
    for (i, name) in names.into_iter().enumerate() {
        if i > 0 {
            t += gaps[i];
        }
        out.ev_customer.push(customer);
        out.ev_session.push(session);
        out.ev_event.push(name);
        out.ev_us.push(t);
    }
}

/// Generates the whole world: chunks in parallel, merged in chunk order.
pub fn generate(params: &WorldParams) -> Result<(WorldColumns, Catalog)> {
    params.validate()?;
    let catalog = Catalog::new(params);
    let n_chunks = params.n_customers.div_ceil(CHUNK);
    let chunks: Vec<WorldColumns> = (0..n_chunks)
        .into_par_iter()
        .map(|c| {
            // An interrupted call discards the world: skip the remaining chunks.
            if crate::interrupt::requested() {
                return WorldColumns::default();
            }
            let first = c * CHUNK;
            let n = CHUNK.min(params.n_customers - first);
            generate_chunk(params, &catalog, c, first, n)
        })
        .collect();
    crate::interrupt::check()?;
    Ok((merge(chunks), catalog))
}

fn merge(chunks: Vec<WorldColumns>) -> WorldColumns {
    let mut all = WorldColumns::default();
    for mut c in chunks {
        let order_offset = all.ord_us.len() as u64;
        let session_offset = all.n_sessions;
        all.item_order.extend(c.item_order.drain(..).map(|o| o + order_offset));
        all.ev_session.extend(c.ev_session.drain(..).map(|s| s + session_offset));
        all.n_sessions += c.n_sessions;
        macro_rules! take {
            ($($f:ident),*) => { $( all.$f.append(&mut c.$f); )* };
        }
        take!(
            rec_customer,
            rec_source,
            rec_name,
            rec_phone,
            rec_email,
            rec_birth,
            rec_gender,
            rec_city,
            rec_address,
            rec_signup_day,
            cust_id,
            cust_rate,
            cust_dropout,
            cust_nu,
            cust_first_us,
            cust_dropout_us,
            cust_orders,
            cust_favourite,
            cust_channel,
            cust_discount_seeker,
            cust_name,
            cust_phone_e164,
            cust_email,
            cust_birth_day,
            ord_customer,
            ord_us,
            ord_amount,
            ord_channel,
            ord_discount,
            item_product,
            item_quantity,
            item_price,
            ev_customer,
            ev_event,
            ev_us
        );
    }
    all
}

#[cfg(test)]
mod tests {
    use super::*;

    fn small(n: usize, seed: u64) -> WorldParams {
        WorldParams { n_customers: n, seed, ..WorldParams::default() }
    }

    #[test]
    fn same_seed_same_world_whatever_the_threads() {
        let p = small(5_000, 11);
        let (a, _) = generate(&p).unwrap();
        let pool = rayon::ThreadPoolBuilder::new().num_threads(1).build().unwrap();
        let (b, _) = pool.install(|| generate(&p)).unwrap();
        assert_eq!(a.ord_us, b.ord_us);
        assert_eq!(a.ord_amount, b.ord_amount);
        assert_eq!(a.rec_name, b.rec_name);
        assert_eq!(a.ev_us, b.ev_us);
        let (c, _) = generate(&small(5_000, 12)).unwrap();
        assert_ne!(a.ord_us, c.ord_us);
    }

    #[test]
    fn purchases_follow_the_bg_nbd_story() {
        let p = small(20_000, 3);
        let (w, _) = generate(&p).unwrap();
        let n = w.cust_id.len() as f64;
        let mean_rate = w.cust_rate.iter().sum::<f64>() / n;
        assert!((mean_rate / (p.r / p.alpha) - 1.0).abs() < 0.05, "mean rate {mean_rate}");
        let mean_dropout = w.cust_dropout.iter().sum::<f64>() / n;
        assert!((mean_dropout - p.a / (p.a + p.b)).abs() < 0.005);
        // Every order lies inside the window and after the customer's first purchase.
        let end = p.end_day as i64 * MICROS_PER_DAY;
        assert!(w.ord_us.iter().all(|&t| t < end));
        let total: u32 = w.cust_orders.iter().sum();
        assert_eq!(total as usize, w.ord_us.len());
        // Nobody buys after dropping out.
        let mut last = std::collections::HashMap::new();
        for (c, t) in w.ord_customer.iter().zip(&w.ord_us) {
            let e = last.entry(*c).or_insert(*t);
            *e = (*e).max(*t);
        }
        for (id, d) in w.cust_id.iter().zip(&w.cust_dropout_us) {
            if let Some(d) = d {
                assert_eq!(last[id], *d);
            }
        }
    }

    #[test]
    fn spend_follows_gamma_gamma() {
        let p = small(20_000, 5);
        let (w, _) = generate(&p).unwrap();
        let expected = p.p * p.gamma / (p.q - 1.0);
        let mean_of_means: f64 = w.cust_nu.iter().map(|nu| p.p / nu).sum::<f64>() / w.cust_nu.len() as f64;
        assert!((mean_of_means / expected - 1.0).abs() < 0.05, "{mean_of_means} vs {expected}");
        assert!(w.ord_amount.iter().all(|&a| a >= 0.01));
    }

    #[test]
    fn items_add_up_to_the_gross_amount() {
        let (w, cat) = generate(&small(2_000, 9)).unwrap();
        let mut gross = vec![0.0; w.ord_us.len()];
        let mut lines = vec![0usize; w.ord_us.len()];
        for i in 0..w.item_order.len() {
            gross[w.item_order[i] as usize] += w.item_price[i] * w.item_quantity[i] as f64;
            lines[w.item_order[i] as usize] += 1;
        }
        for o in 0..gross.len() {
            assert!(lines[o] >= 1, "order {o} has no lines");
            let expect = w.ord_amount[o] / (1.0 - w.ord_discount[o]);
            assert!(
                (gross[o] - expect).abs() <= 0.01 * (lines[o] as f64) * 3.0 + 1e-9,
                "order {o}: {} vs {expect}",
                gross[o]
            );
        }
        assert!(w.item_product.iter().all(|&p| (p as usize) < cat.names.len()));
    }

    #[test]
    fn sessions_follow_the_planted_funnel() {
        let p = small(30_000, 21);
        let (w, _) = generate(&p).unwrap();
        let mut reached = vec![[false; 4]; w.n_sessions as usize];
        for (s, e) in w.ev_session.iter().zip(&w.ev_event) {
            let step = match *e {
                "view" => 0,
                "cart" => 1,
                "checkout" => 2,
                "purchase" => 3,
                _ => continue,
            };
            reached[*s as usize][step] = true;
        }
        let count = |k: usize| reached.iter().filter(|r| r[k]).count() as f64;
        for k in 0..3 {
            let observed = count(k + 1) / count(k);
            assert!((observed - p.funnel[k]).abs() < 0.02, "step {k}: {observed} vs {}", p.funnel[k]);
        }
    }

    #[test]
    fn bad_parameters_are_refused() {
        assert!(generate(&small(0, 1)).is_err());
        assert!(matches!(generate(&small(MAX_CUSTOMERS + 1, 1)), Err(CrmError::TooLarge(_))));
        let mut p = small(10, 1);
        p.alpha = f64::NAN;
        assert!(generate(&p).is_err());
    }
}
