//! slate's DataFusion functions.
//!
//! | name | kind | what |
//! |---|---|---|
//! | `sla_hist(start, stop, status)` | aggregate | exact duration histogram + exclusion counts (Binary) |
//! | `sla_bucket(ts)` | scalar | grain unit of a clock's local day (Int32) |
//! | `sla_secs(start, stop)` | scalar | a duration as `sla_hist` measures it, NULL where it would not (Int64) |
//! | `hist_count`, `hist_eligible`, `hist_excluded`, `hist_reason`, `hist_within`, `hist_quantile`, `hist_quantile_disc`, `hist_mean`, `hist_min`, `hist_max` | scalar | figures read off a `sla_hist` value |

mod bucket;
mod capped;
mod hist_agg;
mod hist_stats;
mod secs;
mod timestamps;

use std::collections::HashMap;
use std::sync::Arc;

use datafusion::logical_expr::expr_rewriter::FunctionRewrite;
use datafusion::logical_expr::registry::FunctionRegistry;
use datafusion::logical_expr::{AggregateUDF, ScalarUDF};
use datafusion::prelude::SessionContext;
use slate_core::TzRules;

pub use bucket::{BucketUdf, DaysSeen, OUTSIDE_PERIOD};
pub use capped::{
    Capped, ConcatOp, ConcatRewrite, MAX_BATCH_BYTES, MAX_VALUE_BYTES, capped_list_udfs,
    capped_udfs,
};
pub use hist_agg::SlaHist;
pub(crate) use hist_agg::{RowFold, row_cells};
pub use hist_stats::hist_stat_udfs;
pub use secs::SlaSecs;
pub use timestamps::ticks_per_second;

/// Every scalar function, for a zone and grain (the bucket function is parameterised).
pub fn scalar_udfs() -> Vec<ScalarUDF> {
    hist_stat_udfs()
}

/// slate's functions: one list for every registry that must know them, a session
/// ([`register_all`]) and a cluster's scheduler and executors, which find a plan's functions by
/// name (as DataFusion's `functions-aggregate` keeps one list of its own).
#[derive(Debug)]
pub struct Functions {
    /// `sla_secs`, a day-grain `sla_bucket`, the `hist_*` readers, the capped string and list
    /// functions (under DataFusion's names) and `slate_string_concat`.
    pub scalars: Vec<ScalarUDF>,
    /// `sla_hist`.
    pub aggregates: Vec<AggregateUDF>,
}

/// slate's functions with naive clocks read in `tz`. `existing` are the scalar functions the
/// registry already has: the capped list functions wrap those present ([`capped_list_udfs`]).
pub fn functions(tz: Arc<TzRules>, existing: &HashMap<String, Arc<ScalarUDF>>) -> Functions {
    let mut scalars = vec![
        ScalarUDF::new_from_impl(SlaSecs::new(tz.clone())),
        ScalarUDF::new_from_impl(BucketUdf::new(tz.clone(), slate_core::Grain::Day, None)),
        // `a || b` on strings becomes the capped `slate_string_concat` ([`ConcatRewrite`]); it is
        // a function by name too, so a plan sent to a cluster's executors finds it.
        ScalarUDF::new_from_impl(ConcatOp::default()),
    ];
    scalars.extend(scalar_udfs());
    scalars.extend(capped_udfs());
    scalars.extend(capped_list_udfs(existing));
    Functions {
        scalars,
        aggregates: vec![AggregateUDF::new_from_impl(SlaHist::new(tz))],
    }
}

/// Registers [`functions`] (the capped string and list functions in place of DataFusion's,
/// [`MAX_VALUE_BYTES`] per value, [`MAX_BATCH_BYTES`] per batch) and the rewrite of `||` on
/// strings to the capped concatenation.
pub fn register_all(ctx: &SessionContext, tz: Arc<TzRules>) {
    let Functions {
        scalars,
        aggregates,
    } = functions(tz, ctx.state_ref().read().scalar_functions());
    for f in scalars {
        ctx.register_udf(f);
    }
    for f in aggregates {
        ctx.register_udaf(f);
    }
    let rewrite: Arc<dyn FunctionRewrite + Send + Sync> = Arc::new(ConcatRewrite);
    // Registering a rewrite cannot fail (DataFusion's `Result` is for other registries).
    let _ = ctx.state_ref().write().register_function_rewrite(rewrite);
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn function_names_do_not_clash() {
        let ctx = SessionContext::new();
        let tz = Arc::new(TzRules::from_name("UTC").unwrap());
        let before: HashSet<String> = ctx.state().scalar_functions().keys().cloned().collect();
        let before_agg: HashSet<String> =
            ctx.state().aggregate_functions().keys().cloned().collect();
        let ours: Vec<String> = scalar_udfs().iter().map(|f| f.name().to_string()).collect();
        let unique: HashSet<&String> = ours.iter().collect();
        assert_eq!(unique.len(), ours.len());
        for n in &ours {
            assert!(!before.contains(n), "{n} shadows a DataFusion function");
        }
        assert!(!before_agg.contains("sla_hist"));
        assert!(!before.contains("sla_secs"));
        register_all(&ctx, tz);
        assert!(ctx.state().aggregate_functions().contains_key("sla_hist"));
        // The capped string functions replace DataFusion's, under the same names.
        for f in capped_udfs() {
            assert!(
                before.contains(f.name()),
                "{} is not DataFusion's",
                f.name()
            );
            let registered = ctx.state().scalar_functions().get(f.name()).cloned();
            let ours = registered.is_some_and(|r| {
                let any: &dyn std::any::Any = &**r.inner();
                any.is::<Capped>()
            });
            assert!(ours, "{} is not slate's", f.name());
        }
    }
}
