//! The generator: one month of records at a time, each month from its own seeded stream, so
//! the output is the same whatever the number of threads.

use std::cmp::Reverse;
use std::collections::BinaryHeap;

use arrow::array::RecordBatch;
use chrono::{Datelike, NaiveDate};
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use rand_distr::{Distribution, Exp, LogNormal};
use slate_core::TzRules;
use slate_core::calendar::{day_of_ymd, ymd_of_day};
use slate_core::schema::{self, CALL_QUEUE_COLUMNS, PROMISE_COLUMNS, RecordBuilder};
use slate_core::workdays::WorkCalendar;

use crate::profile::{self, Delay};

/// What to generate.
#[derive(Debug, Clone)]
pub struct GenConfig {
    /// Total rows.
    pub rows: u64,
    /// Seed: the same seed gives the same data.
    pub seed: u64,
    /// First local day.
    pub from: NaiveDate,
    /// Number of years.
    pub years: u32,
    /// Share of rows given a defect (stop before start, duplicate id, null borough).
    pub dirty_rate: f64,
    /// Also write the wider promises' optional columns ([`schema::PROMISE_COLUMNS`]):
    /// appointments (E-graded incidents, whose attendance then follows the agreed time),
    /// replies to local-issue messages, dissatisfaction reports, road-traffic collisions and a
    /// satisfaction survey sample. Drawn from their own random stream, so every other column
    /// but `arrived` of appointments is the same as without.
    pub promises: bool,
}

impl Default for GenConfig {
    fn default() -> Self {
        GenConfig {
            rows: 100_000,
            seed: 42,
            from: NaiveDate::from_ymd_opt(2015, 1, 1).expect("valid date"),
            years: 10,
            dirty_rate: 0.0,
            promises: false,
        }
    }
}

/// Calls answered by a pool of call handlers instead of a drawn ring-to-answer delay: with it,
/// answer times, abandonment and handling times come from a first-come-first-served queue per
/// channel (999, 101 and other each have their own pool), and the records get the optional
/// `call_ended` and `abandoned` columns.
///
/// Arrivals follow the generator's hour-of-week profile (weekday x hour weights, uniform within
/// the hour, so Poisson within each hour). Each local hour is staffed by the square-root rule
/// `agents = ceil(a + beta sqrt(a))` on its expected offered load `a` (at least 1 agent), the
/// rule Erlang C staffing approximates, so the data behaves as the capacity model expects.
/// Handling times are log-normal (`profile::HANDLING`), patience exponential
/// (`profile::PATIENCE`). When staffing falls at the end of an hour, the agents who free up
/// first leave (a call in progress is finished).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CallQueue {
    /// Safety staffing factor: 0 staffs at the load (long waits), 1 to 2 gives 80% to 99%
    /// answered within 10 s at moderate loads.
    pub beta: f64,
}

impl Default for CallQueue {
    fn default() -> Self {
        CallQueue { beta: 1.0 }
    }
}

/// Agents for offered load `a` under the square-root rule.
pub fn sqrt_staffing(a: f64, beta: f64) -> u32 {
    ((a + beta * a.sqrt()).ceil() as u32).max(1)
}

/// One month's share of the work.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MonthPlan {
    /// Calendar year.
    pub year: i32,
    /// Calendar month, 1-12.
    pub month: u32,
    /// First local day generated (a month may start mid-way when `from` does).
    pub first_day: i32,
    /// Day after the last one generated.
    pub end_day: i32,
    /// Rows to generate.
    pub rows: u64,
    /// Position of the month in the plan (seeds its random stream).
    pub index: u64,
}

/// Splits the rows over the months of the period in proportion to their days.
pub fn plan(config: &GenConfig) -> Vec<MonthPlan> {
    let start = day_of_ymd(config.from.year(), config.from.month(), config.from.day());
    let end = day_of_ymd(
        config.from.year() + config.years as i32,
        config.from.month(),
        config.from.day(),
    );
    let total_days = i64::from(end - start).max(1);
    let mut out = Vec::new();
    let mut day = start;
    let mut index = 0;
    while day < end {
        let (y, m, _) = ymd_of_day(day);
        let next = if m == 12 {
            day_of_ymd(y + 1, 1, 1)
        } else {
            day_of_ymd(y, m + 1, 1)
        };
        let month_end = next.min(end);
        // Cumulative apportionment: the counts always add up to exactly `rows`.
        let share =
            |d: i32| (u128::from(config.rows) * (d - start) as u128 / total_days as u128) as u64;
        out.push(MonthPlan {
            year: y,
            month: m,
            first_day: day,
            end_day: month_end,
            rows: share(month_end) - share(day),
            index,
        });
        index += 1;
        day = month_end;
    }
    out
}

fn splitmix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^ (x >> 31)
}

/// Cumulative weights for sampling an index.
struct Weighted(Vec<f64>);

impl Weighted {
    fn new(weights: impl IntoIterator<Item = f64>) -> Self {
        let mut acc = 0.0;
        let mut c: Vec<f64> = weights
            .into_iter()
            .map(|w| {
                acc += w;
                acc
            })
            .collect();
        for x in c.iter_mut() {
            *x /= acc;
        }
        Weighted(c)
    }

    fn sample(&self, rng: &mut SmallRng) -> usize {
        let u: f64 = rng.random();
        self.0.partition_point(|&c| c <= u).min(self.0.len() - 1)
    }
}

fn lognormal(delay: Delay) -> LogNormal<f64> {
    LogNormal::new(delay.median_s.ln(), delay.sigma).expect("sigma is positive")
}

/// Seconds as whole microseconds.
fn us(s: f64) -> i64 {
    (s * 1e6) as i64
}

/// Generates one month, sorted by `call_received`.
pub fn generate_month(config: &GenConfig, plan: &MonthPlan, rules: &TzRules) -> RecordBatch {
    generate(config, plan, rules, None)
}

/// Generates one month with calls answered by a [`CallQueue`] (see there).
pub fn generate_month_queued(
    config: &GenConfig,
    plan: &MonthPlan,
    rules: &TzRules,
    queue: &CallQueue,
) -> RecordBatch {
    generate(config, plan, rules, Some(queue))
}

fn generate(
    config: &GenConfig,
    plan: &MonthPlan,
    rules: &TzRules,
    queue: Option<&CallQueue>,
) -> RecordBatch {
    let mut month = Month::new(config, plan, queue);
    let received = month
        .model
        .receipts(&mut month.rng, plan.rows as usize, rules);
    let schema = output_schema(config, queue.is_some());
    let layout = Layout {
        queue: schema.index_of(schema::CALL_ENDED).ok(),
        promises: schema.index_of(schema::APPOINTMENT_AGREED).ok(),
    };
    let mut out = RecordBuilder::new(schema, received.len())
        .expect("the generator's schema is of the canonical family");
    for (i, &(rcv, day_hour)) in received.iter().enumerate() {
        let row = month.row(i, rcv, day_hour);
        row.append(&mut out, &layout);
        month.prev_id = row.id;
    }
    out.finish().expect("every row fills every column")
}

/// The schema the generator writes: canonical, then the call queue's and the promises'
/// optional columns when asked for.
pub fn output_schema(config: &GenConfig, queue: bool) -> arrow::datatypes::SchemaRef {
    let mut extra: Vec<&str> = Vec::new();
    if queue {
        extra.extend(CALL_QUEUE_COLUMNS);
    }
    if config.promises {
        extra.extend(PROMISE_COLUMNS);
    }
    schema::schema_with(&extra)
}

/// Where [`output_schema`]'s optional columns start, when it has them: the call queue's
/// ([`CALL_QUEUE_COLUMNS`] order) and the promises' ([`PROMISE_COLUMNS`] order).
struct Layout {
    queue: Option<usize>,
    promises: Option<usize>,
}

/// What a month's records are drawn from: its days, the picks of day, hour, borough, grade
/// and channel, and the delays between clocks.
struct Model {
    days: Vec<i32>,
    day_pick: Weighted,
    hour_pick: Weighted,
    borough_pick: Weighted,
    grade_pick: Weighted,
    channel_pick: Vec<Weighted>,
    answer: Vec<Option<LogNormal<f64>>>,
    create: LogNormal<f64>,
    dispatch: Vec<LogNormal<f64>>,
    travel: Vec<LogNormal<f64>>,
    close: LogNormal<f64>,
}

impl Model {
    fn new(plan: &MonthPlan) -> Self {
        let days: Vec<i32> = (plan.first_day..plan.end_day).collect();
        Model {
            day_pick: Weighted::new(
                days.iter()
                    .map(|&d| profile::WEEKDAY[(d + 3).rem_euclid(7) as usize]),
            ),
            days,
            hour_pick: Weighted::new(profile::HOURLY),
            borough_pick: Weighted::new(profile::BOROUGHS.iter().map(|b| b.1)),
            grade_pick: Weighted::new(profile::GRADES.iter().map(|g| g.1)),
            channel_pick: profile::CHANNEL_BY_GRADE
                .iter()
                .map(|w| Weighted::new(*w))
                .collect(),
            answer: profile::ANSWER.iter().map(|a| a.map(lognormal)).collect(),
            create: lognormal(profile::CREATE),
            dispatch: profile::DISPATCH.iter().map(|&d| lognormal(d)).collect(),
            travel: profile::TRAVEL.iter().map(|&d| lognormal(d)).collect(),
            close: lognormal(profile::CLOSE),
        }
    }

    /// `n` receipt instants, drawn first and sorted so that records are emitted in time
    /// order; with each, its local (day index, hour) for the queue's staffing.
    fn receipts(&self, rng: &mut SmallRng, n: usize, rules: &TzRules) -> Vec<(i64, u32)> {
        let mut received: Vec<(i64, u32)> = (0..n)
            .map(|_| {
                let di = self.day_pick.sample(rng);
                let day = self.days[di];
                let hour = self.hour_pick.sample(rng) as i64;
                let local = i64::from(day) * 86_400 + hour * 3600 + rng.random_range(0..3600);
                let (instant, _) = rules.local_to_instant(local);
                (
                    instant * 1_000_000 + rng.random_range(0..1_000_000),
                    (di * 24) as u32 + hour as u32,
                )
            })
            .collect();
        received.sort_unstable();
        received
    }

    /// A drawn ring-to-answer delay after `rcv` on channel `c`: none where the channel has
    /// none, and a few missing.
    fn answer(&self, rng: &mut SmallRng, c: usize, rcv: i64) -> Option<i64> {
        match &self.answer[c] {
            Some(dist) if rng.random::<f64>() >= profile::ANSWER_MISSING => {
                Some(rcv + us(dist.sample(rng)))
            }
            _ => None,
        }
    }

    /// The lifecycle after the answer: created, cancelled, dispatched, arrived (which the
    /// promises may set to an appointment), closed; and the promises' clocks that follow.
    fn lifecycle(&self, rng: &mut SmallRng, row: &mut Row, mut promises: Option<&mut Promises>) {
        let g = row.grade;
        row.created = row.answered.unwrap_or(row.received) + us(self.create.sample(rng));
        row.cancelled = rng.random::<f64>() < profile::CANCELLED[g];
        row.dispatched = if g == 3 && rng.random::<f64>() >= profile::REFERRED_DISPATCHED {
            None
        } else {
            Some(row.created + us(self.dispatch[g].sample(rng)))
        };
        row.arrived = match row.dispatched {
            Some(d) if !row.cancelled && rng.random::<f64>() >= profile::ARRIVAL_MISSING => {
                Some(d + us(self.travel[g].sample(rng)))
            }
            _ => None,
        };
        if let Some(p) = promises.as_mut() {
            p.before_close(row);
        }
        row.closed = row.arrived.unwrap_or(row.created) + us(self.close.sample(rng));
        if let Some(p) = promises {
            p.after_close(row);
        }
    }
}

/// One month's generation under way: its random stream, what it draws from, the call
/// queue's pools and the promises' own stream when asked for, and the last id (for defects).
struct Month {
    rng: SmallRng,
    model: Model,
    /// Per channel, with a call queue.
    pools: Option<Vec<Option<Pool>>>,
    promises: Option<Promises>,
    year: i32,
    month: u32,
    dirty_rate: f64,
    prev_id: String,
}

impl Month {
    fn new(config: &GenConfig, plan: &MonthPlan, queue: Option<&CallQueue>) -> Self {
        let model = Model::new(plan);
        Month {
            rng: SmallRng::seed_from_u64(splitmix(config.seed ^ splitmix(plan.index))),
            pools: queue.map(|q| pools(q, plan.rows as usize, &model)),
            model,
            promises: config.promises.then(|| Promises::new(config, plan)),
            year: plan.year,
            month: plan.month,
            dirty_rate: config.dirty_rate,
            prev_id: String::new(),
        }
    }

    /// Record `i` of the month, received at `rcv` in local (day index, hour) `day_hour`.
    fn row(&mut self, i: usize, rcv: i64, day_hour: u32) -> Row {
        let rng = &mut self.rng;
        let g = self.model.grade_pick.sample(rng);
        let c = self.model.channel_pick[g].sample(rng);
        let b = self.model.borough_pick.sample(rng);
        let mut row = Row {
            id: format!("{:04}{:02}-{:07}", self.year, self.month, i),
            borough: Some(profile::BOROUGHS[b].0),
            grade: g,
            channel: c,
            received: rcv,
            ..Row::default()
        };
        row.answered = match &mut self.pools {
            Some(pools) => match pools.get_mut(c).and_then(Option::as_mut) {
                Some(pool) => pool.answer(rng, rcv, day_hour, &mut row),
                None => None,
            },
            None => self.model.answer(rng, c, rcv),
        };
        self.model.lifecycle(rng, &mut row, self.promises.as_mut());
        if self.dirty_rate > 0.0 && rng.random::<f64>() < self.dirty_rate {
            row.spoil(rng, &self.prev_id);
        }
        row
    }
}

/// One generated record, before it is appended.
#[derive(Debug, Default)]
struct Row {
    id: String,
    borough: Option<&'static str>,
    /// Index into [`profile::GRADES`].
    grade: usize,
    /// Index into [`profile::CHANNELS`].
    channel: usize,
    received: i64,
    answered: Option<i64>,
    created: i64,
    dispatched: Option<i64>,
    arrived: Option<i64>,
    closed: i64,
    cancelled: bool,
    /// call_ended and abandoned, with a call queue.
    ended: Option<i64>,
    abandoned: Option<bool>,
    promises: PromiseRow,
}

/// The promises' columns of a record, in [`PROMISE_COLUMNS`] order.
#[derive(Debug, Default)]
struct PromiseRow {
    /// The eight clocks, then surveyed.
    clocks: [Option<i64>; 9],
    satisfied: Option<bool>,
    group: Option<&'static str>,
}

impl Row {
    /// One defect: a clock keyed in wrong (arrival before the call), the previous record's
    /// id, or no borough.
    fn spoil(&mut self, rng: &mut SmallRng, prev_id: &str) {
        match rng.random_range(0..3) {
            0 => self.arrived = Some(self.received - us(60.0 + rng.random::<f64>() * 3600.0)),
            1 if !prev_id.is_empty() => prev_id.clone_into(&mut self.id),
            _ => self.borough = None,
        }
    }

    fn append(&self, b: &mut RecordBuilder, layout: &Layout) {
        b.append_canonical(
            &self.id,
            [
                self.borough,
                Some(profile::GRADES[self.grade].0),
                Some(profile::CHANNELS[self.channel]),
            ],
            [
                Some(self.received),
                self.answered,
                Some(self.created),
                self.dispatched,
                self.arrived,
                Some(self.closed),
            ],
            Some(self.cancelled),
        );
        if let Some(at) = layout.queue {
            b.append_clock(at, self.ended);
            b.append_flag(at + 1, self.abandoned);
        }
        if let Some(at) = layout.promises {
            let p = &self.promises;
            for (col, v) in (at..).zip(p.clocks) {
                b.append_clock(col, v);
            }
            b.append_flag(at + 9, p.satisfied);
            b.append_text(at + 10, p.group);
        }
    }
}

/// Per channel: the pool's agents' free times (instants, microseconds) and the staffing of
/// each (day index, hour).
struct Pool {
    free: BinaryHeap<Reverse<i64>>,
    agents: Vec<[u32; 24]>,
    handling: LogNormal<f64>,
    patience: Exp<f64>,
}

impl Pool {
    /// Brings the pool to `want` agents at instant `t`.
    fn staff(&mut self, want: u32, t: i64) {
        while self.free.len() < want as usize {
            self.free.push(Reverse(t));
        }
        while self.free.len() > want as usize {
            self.free.pop();
        }
    }

    /// Queues a call received at `rcv` in local (day index, hour) `day_hour`: when it was
    /// answered, if it was; sets the row's `ended` and `abandoned`.
    fn answer(
        &mut self,
        rng: &mut SmallRng,
        rcv: i64,
        day_hour: u32,
        row: &mut Row,
    ) -> Option<i64> {
        let want = self.agents[(day_hour / 24) as usize][(day_hour % 24) as usize];
        self.staff(want, rcv);
        let handle = us(self.handling.sample(rng));
        let patience = us(self.patience.sample(rng));
        let Reverse(earliest) = self.free.peek().copied().unwrap_or(Reverse(rcv));
        let wait = (earliest - rcv).max(0);
        if wait > patience {
            row.ended = Some(rcv + patience);
            row.abandoned = Some(true);
            None
        } else {
            self.free.pop();
            self.free.push(Reverse(rcv + wait + handle));
            row.ended = Some(rcv + wait + handle);
            row.abandoned = Some(false);
            Some(rcv + wait)
        }
    }
}

/// The promises' columns of one month, drawn from their own stream.
struct Promises {
    rng: SmallRng,
    calendar: WorkCalendar,
    london: TzRules,
    group_pick: Weighted,
}

impl Promises {
    fn new(config: &GenConfig, plan: &MonthPlan) -> Self {
        use crate::profile::promises::GROUPS;
        Promises {
            rng: SmallRng::seed_from_u64(splitmix(
                config.seed ^ splitmix(plan.index ^ 0x9e37_79b9_7f4a_7c15),
            )),
            calendar: WorkCalendar::builtin("england-and-wales").expect("built in"),
            london: TzRules::from_name("Europe/London").expect("built in"),
            group_pick: Weighted::new(GROUPS.iter().map(|g| g.1)),
        }
    }

    /// Appointments (which set `arrived`), messages, collisions: what follows from the call.
    fn before_close(&mut self, row: &mut Row) {
        use crate::profile::promises as p;
        let rng = &mut self.rng;
        let grade = profile::GRADES[row.grade].0;
        let channel = profile::CHANNELS[row.channel];
        let rcv = row.received;
        // appointment_agreed, appointment_due
        let (agreed, due) = if grade == "E" && rng.random::<f64>() < p::APPOINTMENT_SHARE_E {
            let answered = row.answered.unwrap_or(row.created);
            let agreed = answered + us(lognormal(p::APPOINTMENT_AGREE).sample(rng));
            let due = (rcv + us(lognormal(p::APPOINTMENT_LEAD).sample(rng))).max(agreed);
            // Attendance follows the agreed time, not the dispatch model.
            row.arrived = if row.cancelled || rng.random::<f64>() < p::APPOINTMENT_MISSED {
                None
            } else if rng.random::<f64>() < p::APPOINTMENT_LATE_SHARE {
                Some(due + us(lognormal(p::APPOINTMENT_LATE).sample(rng)))
            } else {
                let z: f64 = rand_distr::StandardNormal.sample(rng);
                Some(due + us(p::APPOINTMENT_EARLY_MEAN_S + p::APPOINTMENT_SPREAD_S * z))
            };
            (Some(agreed), Some(due))
        } else {
            (None, None)
        };
        // callback_requested, callback_made
        let message = (channel == "online" || channel == "other" || grade == "R")
            && rng.random::<f64>() < p::CALLBACK_SHARE;
        let (asked, replied) = if message {
            let made = (rng.random::<f64>() >= p::CALLBACK_MISSING)
                .then(|| rcv + us(lognormal(p::CALLBACK).sample(rng)));
            (Some(rcv), made)
        } else {
            (None, None)
        };
        // collision_reported, collision_contacted
        let collision = (grade == "I" || grade == "S") && rng.random::<f64>() < p::COLLISION_SHARE;
        let (reported, contacted) = if collision {
            let t = rcv + us(lognormal(p::COLLISION_CONTACT).sample(rng));
            (Some(rcv), Some(self.office_hours(t)))
        } else {
            (None, None)
        };
        let clocks = &mut row.promises.clocks;
        for (i, v) in [
            (0, agreed),
            (1, due),
            (2, asked),
            (3, replied),
            (6, reported),
            (7, contacted),
        ] {
            clocks[i] = v;
        }
    }

    /// Dissatisfaction and the survey: what follows from the close.
    fn after_close(&mut self, row: &mut Row) {
        use crate::profile::promises as p;
        let (rcv, arrived, closed) = (row.received, row.arrived, row.closed);
        let (received, acked) = if self.rng.random::<f64>() < p::COMPLAINT_SHARE {
            let r = closed + us(lognormal(p::COMPLAINT_AFTER).sample(&mut self.rng));
            let a = r + us(lognormal(p::COMPLAINT_ACK).sample(&mut self.rng));
            (Some(r), Some(self.office_hours(a)))
        } else {
            (None, None)
        };
        let out = &mut row.promises;
        out.clocks[4] = received;
        out.clocks[5] = acked;
        let surveyed = arrived.is_some() && self.rng.random::<f64>() < p::SURVEY_SHARE;
        if surveyed {
            let (lo, hi) = p::SURVEY_DAYS;
            let days = self.rng.random_range(lo..=hi);
            let at = closed
                + i64::from(days) * 86_400_000_000
                + self.rng.random_range(0..86_400_000_000);
            let gi = self.group_pick.sample(&mut self.rng);
            let slow = arrived.is_some_and(|a| a - rcv > 3_600_000_000);
            let chance = p::GROUPS[gi].2 - if slow { p::SLOW_PENALTY } else { 0.0 };
            let answer = (self.rng.random::<f64>() >= p::SURVEY_NO_ANSWER)
                .then(|| self.rng.random::<f64>() < chance);
            out.clocks[8] = Some(at);
            out.satisfied = answer;
            out.group = Some(p::GROUPS[gi].0);
        }
    }

    /// Moves an instant (UTC microseconds) that falls outside office time (09:00-17:00 UK
    /// time, on a working day) to 09:00 plus a few minutes on the next working day: replies
    /// and contacts are made by staff who work office hours.
    fn office_hours(&mut self, t: i64) -> i64 {
        let london = &self.london;
        let secs = t.div_euclid(1_000_000);
        let local = secs + i64::from(london.offset_at(secs));
        let (mut day, tod) = (local.div_euclid(86_400) as i32, local.rem_euclid(86_400));
        let working = |d: i32| self.calendar.is_working_day(d).unwrap_or(true);
        if working(day) && (9 * 3600..17 * 3600).contains(&tod) {
            return t;
        }
        if tod >= 9 * 3600 || !working(day) {
            day += 1;
        }
        while !working(day) {
            day += 1;
        }
        let minutes = self.rng.random_range(0..120);
        let local = i64::from(day) * 86_400 + 9 * 3600 + minutes * 60;
        london.local_to_instant(local).0 * 1_000_000
    }
}

/// A pool per channel that has calls to answer, staffed per (day, hour) on its expected load.
fn pools(q: &CallQueue, n: usize, model: &Model) -> Vec<Option<Pool>> {
    let share = |w: &Weighted, i: usize| w.0[i] - if i == 0 { 0.0 } else { w.0[i - 1] };
    (0..profile::CHANNELS.len())
        .map(|c| {
            let handling = profile::HANDLING[c]?;
            let channel_share: f64 = (0..profile::GRADES.len())
                .map(|g| profile::GRADES[g].1 * share(&model.channel_pick[g], c))
                .sum::<f64>()
                / profile::GRADES.iter().map(|g| g.1).sum::<f64>();
            let mean_handle = handling.median_s * (handling.sigma * handling.sigma / 2.0).exp();
            let agents = (0..model.days.len())
                .map(|d| {
                    let mut row = [0u32; 24];
                    for (h, slot) in row.iter_mut().enumerate() {
                        let calls = n as f64
                            * share(&model.day_pick, d)
                            * share(&model.hour_pick, h)
                            * channel_share;
                        *slot = sqrt_staffing(calls / 3600.0 * mean_handle, q.beta);
                    }
                    row
                })
                .collect();
            Some(Pool {
                free: BinaryHeap::new(),
                agents,
                handling: lognormal(handling),
                patience: Exp::new(1.0 / profile::PATIENCE_S[c]).expect("patience is positive"),
            })
        })
        .collect()
}

/// Generates every month in memory (for tests and small runs).
pub fn generate_all(config: &GenConfig, rules: &TzRules) -> Vec<RecordBatch> {
    plan(config)
        .iter()
        .filter(|p| p.rows > 0)
        .map(|p| generate_month(config, p, rules))
        .collect()
}

/// Generates every month in memory with calls answered by a [`CallQueue`].
pub fn generate_all_queued(
    config: &GenConfig,
    rules: &TzRules,
    queue: &CallQueue,
) -> Vec<RecordBatch> {
    plan(config)
        .iter()
        .filter(|p| p.rows > 0)
        .map(|p| generate_month_queued(config, p, rules, queue))
        .collect()
}
