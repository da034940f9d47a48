//! Random predicates that exist both as SQL (for slate) and as a Rust evaluator with SQL's
//! three-valued logic (for the oracle).

use rand::Rng;
use rand::rngs::SmallRng;

use crate::records::Rec;

/// A predicate over a canonical record.
#[derive(Debug, Clone)]
pub enum Pred {
    /// `col = 'value'` on a text column.
    Eq(&'static str, String),
    /// `col IN ('a', 'b')`.
    In(&'static str, Vec<String>),
    /// `cancelled`.
    Cancelled,
    /// `NOT p`.
    Not(Box<Pred>),
    /// `p AND q`.
    And(Box<Pred>, Box<Pred>),
    /// `p OR q`.
    Or(Box<Pred>, Box<Pred>),
}

impl Pred {
    /// The SQL text.
    pub fn sql(&self) -> String {
        match self {
            Pred::Eq(c, v) => format!("{c} = '{v}'"),
            Pred::In(c, vs) => {
                let list: Vec<String> = vs.iter().map(|v| format!("'{v}'")).collect();
                format!("{c} IN ({})", list.join(", "))
            }
            Pred::Cancelled => "cancelled".into(),
            Pred::Not(p) => format!("NOT ({})", p.sql()),
            Pred::And(a, b) => format!("({}) AND ({})", a.sql(), b.sql()),
            Pred::Or(a, b) => format!("({}) OR ({})", a.sql(), b.sql()),
        }
    }

    /// SQL's value: `None` is NULL.
    pub fn eval(&self, r: &Rec) -> Option<bool> {
        match self {
            Pred::Eq(c, v) => r.text(c).map(|x| x == v),
            Pred::In(c, vs) => r.text(c).map(|x| vs.iter().any(|v| v == x)),
            Pred::Cancelled => r.cancelled,
            Pred::Not(p) => p.eval(r).map(|b| !b),
            Pred::And(a, b) => match (a.eval(r), b.eval(r)) {
                (Some(false), _) | (_, Some(false)) => Some(false),
                (Some(true), Some(true)) => Some(true),
                _ => None,
            },
            Pred::Or(a, b) => match (a.eval(r), b.eval(r)) {
                (Some(true), _) | (_, Some(true)) => Some(true),
                (Some(false), Some(false)) => Some(false),
                _ => None,
            },
        }
    }

    /// A random predicate of depth at most `depth` over the generator's values.
    pub fn random(rng: &mut SmallRng, depth: u32) -> Pred {
        let grades = ["I", "S", "E", "R"];
        let channels = ["999", "101", "online", "other"];
        let boroughs = ["Westminster", "Lambeth", "Croydon", "Sutton"];
        let pick = |rng: &mut SmallRng, xs: &[&str]| xs[rng.random_range(0..xs.len())].to_string();
        let leaf = rng.random_range(0..5);
        if depth == 0 || rng.random_bool(0.5) {
            return match leaf {
                0 => Pred::Eq("grade", pick(rng, &grades)),
                1 => Pred::In("channel", vec![pick(rng, &channels), pick(rng, &channels)]),
                2 => Pred::Eq("borough", pick(rng, &boroughs)),
                3 => Pred::Cancelled,
                _ => Pred::In("grade", vec![pick(rng, &grades), pick(rng, &grades)]),
            };
        }
        match rng.random_range(0..3) {
            0 => Pred::Not(Box::new(Pred::random(rng, depth - 1))),
            1 => Pred::And(
                Box::new(Pred::random(rng, depth - 1)),
                Box::new(Pred::random(rng, depth - 1)),
            ),
            _ => Pred::Or(
                Box::new(Pred::random(rng, depth - 1)),
                Box::new(Pred::random(rng, depth - 1)),
            ),
        }
    }
}
