//! Deterministic synthetic CAD records in slate's canonical schema.
//!
//! The same [`GenConfig`] (seed included) gives the same records on any machine and with any
//! number of threads: each month is drawn from its own random stream. The data is shaped like
//! a large urban police service (see [`profile`]): 32 London boroughs with skewed volumes,
//! daily and weekly cycles, a grade mix of about 18% I, 27% S, 35% E and 20% R, log-normal
//! timings by grade, missing clocks and cancellations, and optional defects for tests.
//!
//! ```
//! use slate_datagen::{GenConfig, generate_all};
//! let rules = slate_core::TzRules::from_name("Europe/London")?;
//! let config = GenConfig { rows: 1000, years: 1, ..GenConfig::default() };
//! let rows: usize = generate_all(&config, &rules).iter().map(|b| b.num_rows()).sum();
//! assert_eq!(rows, 1000);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod generate;
pub mod profile;
mod write;

pub use generate::{
    CallQueue, GenConfig, MonthPlan, generate_all, generate_all_queued, generate_month,
    generate_month_queued, output_schema, plan, sqrt_staffing,
};
pub use write::{Error, Written, check, write_dataset, write_dataset_with};
