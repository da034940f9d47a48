//! Writing a generated dataset as hive-partitioned Parquet, months in parallel.

use std::path::Path;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use slate_core::TzRules;

use crate::generate::{
    CallQueue, GenConfig, MonthPlan, generate_month, generate_month_queued, output_schema, plan,
};

/// A generator failure.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Writing failed.
    #[error(transparent)]
    Io(#[from] slate_io::Error),
    /// A parameter of the request is out of range.
    #[error("{}", .0.render(&|p| format!("`{p}`")))]
    Parameter(slate_core::ParamMessage),
}

impl Error {
    /// The whole message of an error that names request parameters (`force`), for a front end
    /// to render with its own names for them.
    pub fn param_message(&self) -> Option<slate_core::ParamMessage> {
        match self {
            Error::Io(e) => e.param_message(),
            Error::Parameter(m) => Some(m.clone()),
        }
    }
}

/// Refuses a configuration the generator cannot honour: a defect share outside 0..=1, no
/// years, or a negative or non-finite staffing factor.
pub fn check(config: &GenConfig, queue: Option<&CallQueue>) -> Result<(), Error> {
    use slate_core::ParamMessage;
    let bad = |m: ParamMessage| Err(Error::Parameter(m));
    if !(0.0..=1.0).contains(&config.dirty_rate) {
        return bad(ParamMessage::new().param("dirty_rate").text(format!(
            " {} is not a share between 0 and 1",
            config.dirty_rate
        )));
    }
    if config.years < 1 {
        return bad(ParamMessage::new()
            .param("years")
            .text(" must be at least 1"));
    }
    if let Some(q) = queue
        && !(q.beta.is_finite() && q.beta >= 0.0)
    {
        return bad(ParamMessage::new()
            .param("beta")
            .text(format!(" {} must be a number >= 0", q.beta)));
    }
    Ok(())
}

/// What was written.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Written {
    /// Rows written.
    pub rows: u64,
    /// Files written.
    pub files: usize,
}

/// Writes `out/year=YYYY/month=MM/part-0.parquet` for every month with rows, on `threads`
/// threads; `on_month` is called with each month's row count as it completes.
pub fn write_dataset(
    config: &GenConfig,
    rules: &TzRules,
    out: &Path,
    threads: usize,
    force: bool,
    on_month: &(dyn Fn(u64) + Sync),
) -> Result<Written, Error> {
    write_dataset_with(config, None, rules, out, threads, force, on_month)
}

/// [`write_dataset`], with calls answered by a [`CallQueue`] when one is given.
pub fn write_dataset_with(
    config: &GenConfig,
    queue: Option<&CallQueue>,
    rules: &TzRules,
    out: &Path,
    threads: usize,
    force: bool,
    on_month: &(dyn Fn(u64) + Sync),
) -> Result<Written, Error> {
    check(config, queue)?;
    slate_io::prepare_output_dir(out, force, &[])?;
    let months: Vec<MonthPlan> = plan(config).into_iter().filter(|p| p.rows > 0).collect();
    let next = AtomicUsize::new(0);
    let result = Mutex::new(Ok(Written::default()));
    std::thread::scope(|s| {
        for _ in 0..threads.max(1) {
            s.spawn(|| {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(p) = months.get(i) else { break };
                    let batch = match queue {
                        Some(q) => generate_month_queued(config, p, rules, q),
                        None => generate_month(config, p, rules),
                    };
                    let dir = out.join(format!("year={:04}/month={:02}", p.year, p.month));
                    let written = std::fs::create_dir_all(&dir)
                        .map_err(|source| slate_io::Error::Io {
                            path: dir.clone(),
                            source,
                        })
                        .and_then(|()| {
                            slate_io::write_batches(
                                &dir.join("part-0.parquet"),
                                output_schema(config, queue.is_some()),
                                &[batch],
                            )
                        });
                    let mut r = result.lock().expect("no thread panics holding the lock");
                    match (written, &mut *r) {
                        (Ok(()), Ok(w)) => {
                            w.rows += p.rows;
                            w.files += 1;
                            drop(r);
                            on_month(p.rows);
                        }
                        (Err(e), r @ Ok(_)) => {
                            *r = Err(e);
                            next.store(months.len(), Ordering::Relaxed);
                        }
                        (_, Err(_)) => {}
                    }
                }
            });
        }
    });
    Ok(result.into_inner().expect("threads joined")?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn out_of_range_parameters_are_refused_by_name_before_anything_is_written() {
        let d = tempfile::tempdir().unwrap();
        let out = d.path().join("data");
        let rules = TzRules::from_name("Europe/London").unwrap();
        let name = |p: &'static str| format!("<{p}>");
        let cases: [(GenConfig, Option<CallQueue>, &str); 4] = [
            (
                GenConfig {
                    dirty_rate: 1.5,
                    ..GenConfig::default()
                },
                None,
                "<dirty_rate> 1.5 is not a share between 0 and 1",
            ),
            (
                GenConfig {
                    dirty_rate: f64::NAN,
                    ..GenConfig::default()
                },
                None,
                "<dirty_rate> NaN is not a share between 0 and 1",
            ),
            (
                GenConfig {
                    years: 0,
                    ..GenConfig::default()
                },
                None,
                "<years> must be at least 1",
            ),
            (
                GenConfig::default(),
                Some(CallQueue { beta: -1.0 }),
                "<beta> -1 must be a number >= 0",
            ),
        ];
        for (config, queue, want) in cases {
            let e = write_dataset_with(&config, queue.as_ref(), &rules, &out, 1, false, &|_| {})
                .unwrap_err();
            assert_eq!(e.param_message().unwrap().render(&name), want);
            assert!(!out.exists(), "nothing is written for a refused request");
        }
    }
}
