//! How slate's functions travel with a plan.
//!
//! Ballista sends plans as DataFusion protobuf. A function crosses by name, and the other side
//! looks the name up in its registry, unless the codec writes a definition beside the name.
//! slate's `sla_bucket` and `sla_hist*` are parameterised per run (zone, grain, period, measure
//! kind with its working-day calendar), so a registry entry by name would be the wrong
//! function: these codecs write the parameters (JSON) and rebuild the very same function on the
//! scheduler and the executors. Everything else goes to Ballista's own codecs.
//!
//! The aggregate's partial state is a `Binary` column (one serialised [`slate_core::MeasureCell`]
//! per group), so it crosses Ballista's shuffle as bytes in Arrow IPC with nothing to add here.

use std::sync::Arc;

use ballista_core::serde::{BallistaLogicalExtensionCodec, BallistaPhysicalExtensionCodec};
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::catalog::TableProvider;
use datafusion::common::{DataFusionError, Result, TableReference};
use datafusion::datasource::file_format::FileFormatFactory;
use datafusion::execution::TaskContext;
use datafusion::logical_expr::{AggregateUDF, Extension, LogicalPlan, ScalarUDF};
use datafusion::physical_plan::ExecutionPlan;
use datafusion_proto::logical_plan::LogicalExtensionCodec;
use datafusion_proto::physical_plan::{PhysicalExtensionCodec, PhysicalProtoConverterExtension};
use serde_json::{Value, json};
use slate_core::policy::MeasureKind;
use slate_core::workdays::WorkCalendar;
use slate_core::{Grain, TzRules};
use slate_engine::udf::{BucketUdf, SlaHist};

/// Logical plans (client to scheduler): Ballista's codec, with slate's functions by value.
#[derive(Debug, Default)]
pub struct SlateLogicalCodec {
    inner: BallistaLogicalExtensionCodec,
}

/// Physical plans (scheduler to executors): Ballista's codec, with slate's functions by value.
#[derive(Debug, Default)]
pub struct SlatePhysicalCodec {
    inner: BallistaPhysicalExtensionCodec,
}

/// The codecs as Ballista's configuration takes them.
pub fn codecs() -> (
    Arc<dyn LogicalExtensionCodec>,
    Arc<dyn PhysicalExtensionCodec>,
) {
    (
        Arc::new(SlateLogicalCodec::default()),
        Arc::new(SlatePhysicalCodec::default()),
    )
}

/// Writes a slate scalar function's definition; false for any other function.
fn encode_udf(node: &ScalarUDF, buf: &mut Vec<u8>) -> Result<bool> {
    let Some(b) = node.inner().downcast_ref::<BucketUdf>() else {
        return Ok(false);
    };
    let grain = match b.grain() {
        Grain::Day => "day",
        Grain::Week => "week",
        Grain::Month => "month",
    };
    let v = json!({
        "slate": 1,
        "tz": b.tz().name(),
        "grain": grain,
        "period": b.period().map(|(a, z)| [a, z]),
    });
    write(&v, buf)?;
    Ok(true)
}

fn decode_udf(name: &str, buf: &[u8]) -> Result<Option<Arc<ScalarUDF>>> {
    let Some(v) = read(name, buf)? else {
        return Ok(None);
    };
    let tz = tz_of(name, &v)?;
    let grain = match v["grain"].as_str() {
        Some("day") => Grain::Day,
        Some("week") => Grain::Week,
        Some("month") => Grain::Month,
        g => return Err(bad(name, &format!("grain {g:?}"))),
    };
    let period = match &v["period"] {
        Value::Null => None,
        p => {
            let day = |i: usize| {
                p[i].as_i64()
                    .and_then(|d| i32::try_from(d).ok())
                    .ok_or_else(|| bad(name, "period"))
            };
            Some((day(0)?, day(1)?))
        }
    };
    Ok(Some(Arc::new(ScalarUDF::new_from_impl(BucketUdf::new(
        tz, grain, period,
    )))))
}

/// Writes a slate aggregate's definition; false for any other aggregate.
fn encode_udaf(node: &AggregateUDF, buf: &mut Vec<u8>) -> Result<bool> {
    let Some(h) = node.inner().downcast_ref::<SlaHist>() else {
        return Ok(false);
    };
    let kind = match h.kind() {
        MeasureKind::Duration => json!({"kind": "duration"}),
        MeasureKind::Deadline => json!({"kind": "deadline"}),
        MeasureKind::Share { success_sql } => json!({"kind": "share", "success": success_sql}),
        MeasureKind::WorkingDays(c) => json!({
            "kind": "working_days",
            "calendar": c.name(),
            "holidays": c.holidays().collect::<Vec<i32>>(),
        }),
    };
    let v = json!({"slate": 1, "tz": h.tz().name(), "measure": kind});
    write(&v, buf)?;
    Ok(true)
}

fn decode_udaf(name: &str, buf: &[u8]) -> Result<Option<Arc<AggregateUDF>>> {
    let Some(v) = read(name, buf)? else {
        return Ok(None);
    };
    let tz = tz_of(name, &v)?;
    let m = &v["measure"];
    let kind = match m["kind"].as_str() {
        Some("duration") => MeasureKind::Duration,
        Some("deadline") => MeasureKind::Deadline,
        Some("share") => MeasureKind::Share {
            success_sql: m["success"].as_str().unwrap_or_default().to_string(),
        },
        Some("working_days") => {
            let holidays = m["holidays"]
                .as_array()
                .ok_or_else(|| bad(name, "holidays"))?
                .iter()
                .map(|d| {
                    d.as_i64()
                        .and_then(|d| i32::try_from(d).ok())
                        .ok_or_else(|| bad(name, "holiday"))
                })
                .collect::<Result<Vec<i32>>>()?;
            let cal = m["calendar"].as_str().unwrap_or("calendar");
            MeasureKind::WorkingDays(Arc::new(WorkCalendar::from_holidays(cal, holidays)))
        }
        k => return Err(bad(name, &format!("measure kind {k:?}"))),
    };
    let f = AggregateUDF::new_from_impl(SlaHist::of_kind(tz, kind));
    if f.name() != name {
        return Err(bad(name, &format!("a definition of {}", f.name())));
    }
    Ok(Some(Arc::new(f)))
}

fn write(v: &Value, buf: &mut Vec<u8>) -> Result<()> {
    serde_json::to_writer(buf, v).map_err(|e| DataFusionError::External(Box::new(e)))
}

/// A slate definition, or `None` when `buf` is not one (another codec's, or empty).
fn read(name: &str, buf: &[u8]) -> Result<Option<Value>> {
    if !(name == "sla_bucket" || name.starts_with("sla_hist")) || buf.is_empty() {
        return Ok(None);
    }
    let v: Value = serde_json::from_slice(buf).map_err(|e| bad(name, &e.to_string()))?;
    if v["slate"] != json!(1) {
        return Err(bad(name, "definition version"));
    }
    Ok(Some(v))
}

fn tz_of(name: &str, v: &Value) -> Result<Arc<TzRules>> {
    let tz = v["tz"].as_str().ok_or_else(|| bad(name, "zone"))?;
    TzRules::from_name(tz)
        .map(Arc::new)
        .map_err(|e| DataFusionError::External(Box::new(e)))
}

fn bad(name: &str, what: &str) -> DataFusionError {
    DataFusionError::Internal(format!(
        "the plan's definition of {name} is unreadable ({what}): are client, scheduler and \
         executors the same slate version?"
    ))
}

impl LogicalExtensionCodec for SlateLogicalCodec {
    fn try_decode(
        &self,
        buf: &[u8],
        inputs: &[LogicalPlan],
        ctx: &TaskContext,
    ) -> Result<Extension> {
        self.inner.try_decode(buf, inputs, ctx)
    }

    fn try_encode(&self, node: &Extension, buf: &mut Vec<u8>) -> Result<()> {
        self.inner.try_encode(node, buf)
    }

    fn try_decode_table_provider(
        &self,
        buf: &[u8],
        table_ref: &TableReference,
        schema: SchemaRef,
        ctx: &TaskContext,
    ) -> Result<Arc<dyn TableProvider>> {
        self.inner
            .try_decode_table_provider(buf, table_ref, schema, ctx)
    }

    fn try_encode_table_provider(
        &self,
        table_ref: &TableReference,
        node: Arc<dyn TableProvider>,
        buf: &mut Vec<u8>,
    ) -> Result<()> {
        self.inner.try_encode_table_provider(table_ref, node, buf)
    }

    fn try_decode_file_format(
        &self,
        buf: &[u8],
        ctx: &TaskContext,
    ) -> Result<Arc<dyn FileFormatFactory>> {
        self.inner.try_decode_file_format(buf, ctx)
    }

    fn try_encode_file_format(
        &self,
        buf: &mut Vec<u8>,
        node: Arc<dyn FileFormatFactory>,
    ) -> Result<()> {
        self.inner.try_encode_file_format(buf, node)
    }

    fn try_decode_udf(&self, name: &str, buf: &[u8]) -> Result<Arc<ScalarUDF>> {
        match decode_udf(name, buf)? {
            Some(f) => Ok(f),
            None => self.inner.try_decode_udf(name, buf),
        }
    }

    fn try_encode_udf(&self, node: &ScalarUDF, buf: &mut Vec<u8>) -> Result<()> {
        if encode_udf(node, buf)? {
            return Ok(());
        }
        self.inner.try_encode_udf(node, buf)
    }

    fn try_decode_udaf(&self, name: &str, buf: &[u8]) -> Result<Arc<AggregateUDF>> {
        match decode_udaf(name, buf)? {
            Some(f) => Ok(f),
            None => self.inner.try_decode_udaf(name, buf),
        }
    }

    fn try_encode_udaf(&self, node: &AggregateUDF, buf: &mut Vec<u8>) -> Result<()> {
        if encode_udaf(node, buf)? {
            return Ok(());
        }
        self.inner.try_encode_udaf(node, buf)
    }
}

impl PhysicalExtensionCodec for SlatePhysicalCodec {
    fn try_decode(
        &self,
        buf: &[u8],
        inputs: &[Arc<dyn ExecutionPlan>],
        ctx: &TaskContext,
        proto_converter: &dyn PhysicalProtoConverterExtension,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        self.inner.try_decode(buf, inputs, ctx, proto_converter)
    }

    fn try_encode(
        &self,
        node: Arc<dyn ExecutionPlan>,
        buf: &mut Vec<u8>,
        proto_converter: &dyn PhysicalProtoConverterExtension,
    ) -> Result<()> {
        self.inner.try_encode(node, buf, proto_converter)
    }

    fn try_decode_udf(&self, name: &str, buf: &[u8]) -> Result<Arc<ScalarUDF>> {
        match decode_udf(name, buf)? {
            Some(f) => Ok(f),
            None => self.inner.try_decode_udf(name, buf),
        }
    }

    fn try_encode_udf(&self, node: &ScalarUDF, buf: &mut Vec<u8>) -> Result<()> {
        if encode_udf(node, buf)? {
            return Ok(());
        }
        self.inner.try_encode_udf(node, buf)
    }

    fn try_decode_udaf(&self, name: &str, buf: &[u8]) -> Result<Arc<AggregateUDF>> {
        match decode_udaf(name, buf)? {
            Some(f) => Ok(f),
            None => self.inner.try_decode_udaf(name, buf),
        }
    }

    fn try_encode_udaf(&self, node: &AggregateUDF, buf: &mut Vec<u8>) -> Result<()> {
        if encode_udaf(node, buf)? {
            return Ok(());
        }
        self.inner.try_encode_udaf(node, buf)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn functions_round_trip_with_their_parameters() {
        let tz = Arc::new(TzRules::from_name("Europe/London").unwrap());
        let b = ScalarUDF::new_from_impl(BucketUdf::new(tz.clone(), Grain::Week, Some((3, 9))));
        let mut buf = Vec::new();
        assert!(encode_udf(&b, &mut buf).unwrap());
        let back = decode_udf("sla_bucket", &buf).unwrap().unwrap();
        assert_eq!(back.as_ref(), &b);

        let cal = WorkCalendar::builtin("scotland").unwrap();
        for kind in [
            MeasureKind::Duration,
            MeasureKind::Deadline,
            MeasureKind::Share {
                success_sql: "satisfied".into(),
            },
            MeasureKind::WorkingDays(Arc::new(cal.clone())),
        ] {
            let h = AggregateUDF::new_from_impl(SlaHist::of_kind(tz.clone(), kind.clone()));
            let mut buf = Vec::new();
            assert!(encode_udaf(&h, &mut buf).unwrap());
            let back = decode_udaf(h.name(), &buf).unwrap().unwrap();
            let back = back.inner().downcast_ref::<SlaHist>().unwrap();
            assert_eq!(back.kind(), &kind);
            assert_eq!(back.tz().name(), "Europe/London");
        }
        // Not ours: left to the other codecs.
        assert!(decode_udf("abs", b"x").unwrap().is_none());
        assert!(decode_udaf("sla_hist", b"").unwrap().is_none());
        assert!(decode_udaf("sla_hist", b"{").is_err());
    }
}
