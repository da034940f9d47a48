//! `hist_*(h, ...)`: figures read off a `sla_hist` value, so the aggregate can be used and
//! tested from plain SQL.

use std::sync::Arc;

use datafusion::arrow::array::{Array, ArrayRef, AsArray, Float64Builder, Int64Builder};
use datafusion::arrow::datatypes::DataType;
use datafusion::common::ScalarValue;
use datafusion::error::{DataFusionError, Result};
use datafusion::logical_expr::{
    ColumnarValue, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, Volatility,
};
use slate_core::stats::PercentileMethod;
use slate_core::{Exclusion, MeasureCell, Summary};

/// Which figure a `hist_*` function reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Stat {
    Count,
    Eligible,
    Excluded,
    Reason,
    Within,
    Quantile(PercentileMethod),
    Mean,
    Min,
    Max,
}

#[derive(Debug, PartialEq, Eq, Hash)]
struct HistStat {
    name: &'static str,
    stat: Stat,
    signature: Signature,
}

/// Every `hist_*` function.
pub fn hist_stat_udfs() -> Vec<ScalarUDF> {
    let f = |name, stat, n| {
        ScalarUDF::new_from_impl(HistStat {
            name,
            stat,
            signature: Signature::any(n, Volatility::Immutable),
        })
    };
    vec![
        f("hist_count", Stat::Count, 1),
        f("hist_eligible", Stat::Eligible, 1),
        f("hist_excluded", Stat::Excluded, 1),
        f("hist_reason", Stat::Reason, 2),
        f("hist_within", Stat::Within, 2),
        f("hist_quantile", Stat::Quantile(PercentileMethod::Linear), 2),
        f(
            "hist_quantile_disc",
            Stat::Quantile(PercentileMethod::NearestRank),
            2,
        ),
        f("hist_mean", Stat::Mean, 1),
        f("hist_min", Stat::Min, 1),
        f("hist_max", Stat::Max, 1),
    ]
}

impl ScalarUDFImpl for HistStat {
    fn name(&self) -> &str {
        self.name
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, arg_types: &[DataType]) -> Result<DataType> {
        if !matches!(arg_types.first(), Some(DataType::Binary | DataType::Null)) {
            return Err(DataFusionError::Plan(format!(
                "{} takes a sla_hist value first",
                self.name
            )));
        }
        Ok(match self.stat {
            Stat::Quantile(_) | Stat::Mean => DataType::Float64,
            _ => DataType::Int64,
        })
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let arg = match args.args.get(1) {
            None => None,
            Some(ColumnarValue::Scalar(s)) => Some(s.clone()),
            Some(ColumnarValue::Array(_)) => {
                return Err(DataFusionError::Plan(format!(
                    "{}: the second argument must be a constant",
                    self.name
                )));
            }
        };
        let arrays = ColumnarValue::values_to_arrays(&args.args[..1])?;
        let cells = arrays[0].as_binary_opt::<i32>();
        let n = arrays[0].len();
        let decode = |i: usize| -> Result<Option<MeasureCell>> {
            match cells {
                Some(c) if c.is_valid(i) => MeasureCell::decode(c.value(i))
                    .map(Some)
                    .map_err(|e| DataFusionError::External(Box::new(e))),
                _ => Ok(None),
            }
        };
        // Figures are read through `Summary`, which walks a cell's pairs as they are stored (a
        // decoded cell's are 8 bytes; `entries()` would widen a copy of them for every row).
        let summary = |c: &MeasureCell| Summary::of(&c.hist, 0, &[], PercentileMethod::Linear);
        let out: ArrayRef = match self.stat {
            Stat::Quantile(method) => {
                let p = arg_f64(self.name, arg)?;
                if !(0.0..=1.0).contains(&p) {
                    return Err(DataFusionError::Plan(format!(
                        "{}: {p} is not in [0, 1]",
                        self.name
                    )));
                }
                let mut b = Float64Builder::with_capacity(n);
                for i in 0..n {
                    b.append_option(
                        decode(i)?
                            .and_then(|c| Summary::of(&c.hist, 0, &[p], method).percentiles[0]),
                    );
                }
                Arc::new(b.finish())
            }
            Stat::Mean => {
                let mut b = Float64Builder::with_capacity(n);
                for i in 0..n {
                    b.append_option(decode(i)?.and_then(|c| summary(&c).mean_s));
                }
                Arc::new(b.finish())
            }
            stat => {
                let threshold = if stat == Stat::Within {
                    Some(arg_f64(self.name, arg.clone())? as i64)
                } else {
                    None
                };
                let reason = if stat == Stat::Reason {
                    Some(reason_of(arg)?)
                } else {
                    None
                };
                let mut b = Int64Builder::with_capacity(n);
                for i in 0..n {
                    let v = decode(i)?.and_then(|c| {
                        let v = match stat {
                            Stat::Count => c.hist.count(),
                            Stat::Eligible => c.n_eligible(),
                            Stat::Excluded => c.n_excluded(),
                            Stat::Reason => c.excluded(reason.expect("set for hist_reason")),
                            Stat::Within => {
                                let t = threshold.expect("set for hist_within");
                                Summary::of(&c.hist, t, &[], PercentileMethod::Linear).n_within
                            }
                            Stat::Min => return summary(&c).min_s,
                            Stat::Max => return summary(&c).max_s,
                            Stat::Quantile(_) | Stat::Mean => unreachable!("handled above"),
                        };
                        Some(v as i64)
                    });
                    b.append_option(v);
                }
                Arc::new(b.finish())
            }
        };
        Ok(ColumnarValue::Array(out))
    }
}

fn arg_f64(name: &str, arg: Option<ScalarValue>) -> Result<f64> {
    let bad = || DataFusionError::Plan(format!("{name}: the second argument must be a number"));
    let v = arg.ok_or_else(bad)?;
    let v = v.cast_to(&DataType::Float64).map_err(|_| bad())?;
    match v {
        ScalarValue::Float64(Some(x)) => Ok(x),
        _ => Err(bad()),
    }
}

/// `'missing_start'`, `'missing_stop'`, `'negative_duration'`, or the 1-based index of a named
/// exclusion.
fn reason_of(arg: Option<ScalarValue>) -> Result<Exclusion> {
    let bad = |what: String| DataFusionError::Plan(format!("hist_reason: unknown reason {what}"));
    match arg {
        Some(
            ScalarValue::Utf8(Some(s))
            | ScalarValue::Utf8View(Some(s))
            | ScalarValue::LargeUtf8(Some(s)),
        ) => Exclusion::BUILTIN
            .into_iter()
            .find(|e| e.builtin_name() == Some(s.as_str()))
            .ok_or_else(|| bad(s)),
        Some(v) => match v.cast_to(&DataType::Int64) {
            Ok(ScalarValue::Int64(Some(k))) if k >= 1 => Ok(Exclusion::Named(k as usize - 1)),
            _ => Err(bad(v.to_string())),
        },
        None => Err(bad("(none)".into())),
    }
}
