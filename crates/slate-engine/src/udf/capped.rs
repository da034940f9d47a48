//! DataFusion's string functions whose result can be far longer than their input (`repeat`,
//! `lpad`, `rpad`, `replace`, `regexp_replace`) or than any one argument (`concat`,
//! `concat_ws`), with a cap on what one call may return.
//!
//! `repeat('x', 2100000000)` asks DataFusion for a 2 GB string; over a column, a few KB per
//! row times a batch of 8,192 rows is gigabytes. Such memory is outside DataFusion's memory
//! pool (a function's result is not accounted), so a query limit does not stop it, and an
//! allocation that fails aborts the process. Each function here works out, from its arguments
//! alone, an upper bound of the bytes it would return, and fails with an error naming itself
//! and the cap before allocating anything; under the caps it is DataFusion's own function.
//! [`super::register_all`] registers them in place of DataFusion's, so every session slate
//! makes (runs, policies, the server) has them.

use std::sync::Arc;

use datafusion::arrow::array::{Array, ArrayRef, AsArray};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{DataType, FieldRef, Int64Type};
use datafusion::common::DFSchema;
use datafusion::common::config::ConfigOptions;
use datafusion::common::tree_node::Transformed;
use datafusion::error::{DataFusionError, Result};
use datafusion::logical_expr::expr::BinaryExpr;
use datafusion::logical_expr::expr_rewriter::FunctionRewrite;
use datafusion::logical_expr::{
    ColumnarValue, Documentation, Expr, ExprSchemable, Operator, ReturnFieldArgs,
    ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, Volatility,
};

/// The longest string one call of a capped function may return for one row, in bytes (1 MiB).
pub const MAX_VALUE_BYTES: usize = 1 << 20;

/// The most bytes of strings one call of a capped function may return for one batch of rows
/// (64 MiB).
pub const MAX_BATCH_BYTES: usize = 64 << 20;

/// Which function, and so how its result's size is bounded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Kind {
    /// `repeat(s, n)`: `len(s) * n`.
    Repeat,
    /// `lpad(s, n [, fill])`, `rpad(...)`: `len(s) + n * width(fill)`.
    Pad,
    /// `replace(s, from, to)`.
    Replace,
    /// `regexp_replace(s, pattern, replacement [, flags])`.
    RegexpReplace,
    /// `concat(a, b, ...)`: the sum of the arguments (a long argument list of capped values
    /// would otherwise multiply the cap).
    Concat,
    /// `concat_ws(sep, a, b, ...)`.
    ConcatWs,
    /// `array_repeat(element, n)`: `n` elements of the element's size (8 bytes at least).
    ListRepeat,
    /// `range(stop)`, `range(start, stop [, step])`, `generate_series(...)` over integers:
    /// 8 bytes an element.
    ListRange,
    /// `array_resize(list, n [, value])`: `n` elements of 8 bytes at least.
    ListResize,
}

impl Kind {
    fn is_list(self) -> bool {
        matches!(self, Kind::ListRepeat | Kind::ListRange | Kind::ListResize)
    }
}

/// DataFusion's list-producing functions whose length comes from an argument, by name: present
/// only where the build registers DataFusion's nested functions (its default features, which
/// the `cluster` feature turns on), so they are wrapped by name in [`capped_list_udfs`].
const LIST_FUNCTIONS: [(&str, Kind); 4] = [
    ("array_repeat", Kind::ListRepeat),
    ("range", Kind::ListRange),
    ("generate_series", Kind::ListRange),
    ("array_resize", Kind::ListResize),
];

/// Capped versions of those of DataFusion's list functions in `existing`, to register in
/// their place: `array_repeat('x', 2000000000)` would otherwise allocate gigabytes outside the
/// memory pool, as `repeat` would.
pub fn capped_list_udfs(
    existing: &std::collections::HashMap<String, std::sync::Arc<ScalarUDF>>,
) -> Vec<ScalarUDF> {
    LIST_FUNCTIONS
        .iter()
        .filter_map(|(name, kind)| {
            let f = existing.get(*name)?;
            Some(ScalarUDF::new_from_impl(Capped {
                inner: f.as_ref().clone(),
                kind: *kind,
            }))
        })
        .collect()
}

/// A DataFusion string function with a cap on its result (see the module docs).
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct Capped {
    inner: ScalarUDF,
    kind: Kind,
}

/// The capped functions, to register in place of DataFusion's functions of the same names.
pub fn capped_udfs() -> Vec<ScalarUDF> {
    use datafusion::functions::{regex, string, unicode};
    [
        (string::repeat(), Kind::Repeat),
        (unicode::lpad(), Kind::Pad),
        (unicode::rpad(), Kind::Pad),
        (string::replace(), Kind::Replace),
        (regex::regexp_replace(), Kind::RegexpReplace),
        (string::concat(), Kind::Concat),
        (string::concat_ws(), Kind::ConcatWs),
    ]
    .into_iter()
    .map(|(f, kind)| {
        ScalarUDF::new_from_impl(Capped {
            inner: f.as_ref().clone(),
            kind,
        })
    })
    .collect()
}

/// A string argument, row by row (a scalar is the same on every row).
struct Strs(Option<ArrayRef>);

impl Strs {
    fn of(v: Option<&ColumnarValue>) -> Result<Self> {
        let Some(v) = v else { return Ok(Strs(None)) };
        let a = match v {
            ColumnarValue::Array(a) => a.clone(),
            ColumnarValue::Scalar(s) => s.to_array_of_size(1)?,
        };
        Ok(Strs(Some(a)))
    }

    fn get(&self, row: usize) -> Option<&str> {
        let a = self.0.as_ref()?;
        let i = if a.len() == 1 { 0 } else { row };
        if i >= a.len() || a.is_null(i) {
            return None;
        }
        match a.data_type() {
            DataType::Utf8 => Some(a.as_string::<i32>().value(i)),
            DataType::LargeUtf8 => Some(a.as_string::<i64>().value(i)),
            DataType::Utf8View => Some(a.as_string_view().value(i)),
            _ => None,
        }
    }

    fn len(&self, row: usize) -> usize {
        self.get(row).map_or(0, str::len)
    }
}

/// An integer argument, row by row.
struct Ints(Option<ArrayRef>);

impl Ints {
    fn of(v: Option<&ColumnarValue>) -> Result<Self> {
        let Some(v) = v else { return Ok(Ints(None)) };
        let a = match v {
            ColumnarValue::Array(a) => a.clone(),
            ColumnarValue::Scalar(s) => s.to_array_of_size(1)?,
        };
        let a = match a.data_type() {
            DataType::Int64 => a,
            t if t.is_integer() || t.is_null() => cast(&a, &DataType::Int64)?,
            _ => return Ok(Ints(None)),
        };
        Ok(Ints(Some(a)))
    }

    fn get(&self, row: usize) -> i64 {
        let Some(a) = self.0.as_ref() else { return 0 };
        let i = if a.len() == 1 { 0 } else { row };
        if i >= a.len() || a.is_null(i) {
            return 0;
        }
        a.as_primitive::<Int64Type>().value(i)
    }
}

fn positive(n: i64) -> usize {
    usize::try_from(n.max(0)).unwrap_or(usize::MAX)
}

impl Capped {
    /// An upper bound of the bytes of each row's result.
    fn bounds(&self, args: &[ColumnarValue], rows: usize) -> Result<Vec<usize>> {
        let s = Strs::of(args.first())?;
        let mut out = Vec::with_capacity(rows);
        match self.kind {
            Kind::Repeat => {
                let n = Ints::of(args.get(1))?;
                for r in 0..rows {
                    out.push(s.len(r).saturating_mul(positive(n.get(r))));
                }
            }
            Kind::Pad => {
                let n = Ints::of(args.get(1))?;
                let fill = Strs::of(args.get(2))?;
                for r in 0..rows {
                    // `n` characters, at most 4 bytes each unless the fill is ASCII; a longer
                    // string is cut to `n` characters.
                    let width = match fill.get(r) {
                        Some(f) if !f.is_ascii() => 4,
                        _ => 1,
                    };
                    out.push(
                        s.len(r)
                            .saturating_add(positive(n.get(r)).saturating_mul(width)),
                    );
                }
            }
            Kind::Replace => {
                let from = Strs::of(args.get(1))?;
                let to = Strs::of(args.get(2))?;
                for r in 0..rows {
                    let (len, from, to) = (s.len(r), from.len(r), to.len(r));
                    // At most one match per `from` bytes (per character and at the ends when
                    // `from` is empty), each adding `to` in place of `from`.
                    let matches = len.checked_div(from).unwrap_or(len.saturating_add(1));
                    out.push(len.saturating_add(matches.saturating_mul(to)));
                }
            }
            Kind::RegexpReplace => {
                let repl = Strs::of(args.get(2))?;
                let flags = Strs::of(args.get(3))?;
                for r in 0..rows {
                    let len = s.len(r);
                    let repl_text = repl.get(r).unwrap_or("");
                    // Each group reference (`$1`, `\1`) expands to at most its match, and
                    // matches do not overlap: all of them hold at most `len` bytes.
                    let refs = repl_text.matches(['$', '\\']).count();
                    let global = flags.get(r).is_some_and(|f| f.contains('g'));
                    let matches = if global { len.saturating_add(1) } else { 1 };
                    out.push(
                        len.saturating_mul(refs.saturating_add(1))
                            .saturating_add(matches.saturating_mul(repl_text.len())),
                    );
                }
            }
            Kind::Concat | Kind::ConcatWs => {
                let all = args
                    .iter()
                    .map(|a| Strs::of(Some(a)))
                    .collect::<Result<Vec<_>>>()?;
                let (sep, values) = match self.kind {
                    Kind::ConcatWs => (all.first(), all.get(1..).unwrap_or_default()),
                    _ => (None, all.as_slice()),
                };
                for r in 0..rows {
                    let seps = sep.map_or(0, |s| s.len(r).saturating_mul(values.len()));
                    out.push(
                        values
                            .iter()
                            .fold(seps, |acc, v| acc.saturating_add(v.len(r))),
                    );
                }
            }
            Kind::ListRepeat => {
                let n = Ints::of(args.get(1))?;
                for r in 0..rows {
                    out.push(positive(n.get(r)).saturating_mul(s.len(r).max(8)));
                }
            }
            Kind::ListResize => {
                let n = Ints::of(args.get(1))?;
                for r in 0..rows {
                    out.push(positive(n.get(r)).saturating_mul(8));
                }
            }
            Kind::ListRange => {
                let ints = args
                    .iter()
                    .map(|a| Ints::of(Some(a)))
                    .collect::<Result<Vec<_>>>()?;
                for r in 0..rows {
                    let (start, stop, step) = match ints.as_slice() {
                        [stop] => (0, stop.get(r), 1),
                        [start, stop] => (start.get(r), stop.get(r), 1),
                        [start, stop, step, ..] => (start.get(r), stop.get(r), step.get(r)),
                        [] => (0, 0, 1),
                    };
                    let span = (i128::from(stop) - i128::from(start)).unsigned_abs();
                    let step = i128::from(step).unsigned_abs().max(1);
                    let elements = usize::try_from(span / step + 1).unwrap_or(usize::MAX);
                    out.push(elements.saturating_mul(8));
                }
            }
        }
        Ok(out)
    }

    fn check(&self, args: &[ColumnarValue], rows: usize) -> Result<()> {
        let rows = if args.iter().all(|a| matches!(a, ColumnarValue::Scalar(_))) {
            1
        } else {
            rows
        };
        let bounds = self.bounds(args, rows)?;
        let what = if self.kind.is_list() {
            "list"
        } else {
            "string"
        };
        check_bounds(&format!("{}()", self.inner.name()), what, &bounds, rows)
    }
}

/// Refuses results past the caps: `bounds` are each row's result's bytes at most; `what` is
/// "string" or "list".
fn check_bounds(name: &str, what: &str, bounds: &[usize], rows: usize) -> Result<()> {
    if let Some(&max) = bounds.iter().max()
        && max > MAX_VALUE_BYTES
    {
        return Err(DataFusionError::Execution(format!(
            "{name} would return a {what} of up to {max} bytes; slate caps a {what} \
function's result at {MAX_VALUE_BYTES} bytes (1 MiB) per value"
        )));
    }
    let total = bounds.iter().fold(0usize, |a, b| a.saturating_add(*b));
    if total > MAX_BATCH_BYTES {
        return Err(DataFusionError::Execution(format!(
            "{name} would return up to {total} bytes of {what}s for {rows} rows; slate caps \
a {what} function's result at {MAX_BATCH_BYTES} bytes (64 MiB) per batch of rows"
        )));
    }
    Ok(())
}

impl ScalarUDFImpl for Capped {
    fn name(&self) -> &str {
        self.inner.name()
    }

    fn aliases(&self) -> &[String] {
        self.inner.aliases()
    }

    fn schema_name(&self, args: &[Expr]) -> Result<String> {
        self.inner.inner().schema_name(args)
    }

    fn signature(&self) -> &Signature {
        self.inner.signature()
    }

    fn return_type(&self, arg_types: &[DataType]) -> Result<DataType> {
        self.inner.inner().return_type(arg_types)
    }

    fn return_field_from_args(&self, args: ReturnFieldArgs) -> Result<FieldRef> {
        self.inner.inner().return_field_from_args(args)
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        self.inner.inner().coerce_types(arg_types)
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        self.check(&args.args, args.number_rows)?;
        self.inner.invoke_with_args(args)
    }

    fn documentation(&self) -> Option<&Documentation> {
        self.inner.documentation()
    }
}

/// `a || b` on strings, with the cap of [`capped_udfs`]: what [`ConcatRewrite`] turns the
/// operator into. Same result as DataFusion's operator (NULL if either side is NULL), of the
/// type the operator gives (a string view if either side is one, else a large string if either
/// is one, else a string).
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct ConcatOp {
    signature: Signature,
}

impl Default for ConcatOp {
    fn default() -> Self {
        ConcatOp {
            signature: Signature::user_defined(Volatility::Immutable),
        }
    }
}

/// The type `a || b` has for string sides `a` and `b`.
fn concat_type(types: &[DataType]) -> DataType {
    if types.contains(&DataType::Utf8View) {
        DataType::Utf8View
    } else if types.contains(&DataType::LargeUtf8) {
        DataType::LargeUtf8
    } else {
        DataType::Utf8
    }
}

fn is_string(t: &DataType) -> bool {
    matches!(t, DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View)
}

impl ScalarUDFImpl for ConcatOp {
    fn name(&self) -> &str {
        "slate_string_concat"
    }

    fn schema_name(&self, args: &[Expr]) -> Result<String> {
        match args {
            [a, b] => Ok(format!("{} || {}", a.schema_name(), b.schema_name())),
            _ => Ok("||".into()),
        }
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        let to = concat_type(arg_types);
        Ok(vec![to; arg_types.len()])
    }

    fn return_type(&self, arg_types: &[DataType]) -> Result<DataType> {
        Ok(concat_type(arg_types))
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let [a, b] = args.args.as_slice() else {
            return Err(DataFusionError::Internal("|| takes 2 arguments".into()));
        };
        let scalar = matches!((a, b), (ColumnarValue::Scalar(_), ColumnarValue::Scalar(_)));
        let rows = if scalar { 1 } else { args.number_rows };
        let (sa, sb) = (Strs::of(Some(a))?, Strs::of(Some(b))?);
        let bounds: Vec<usize> = (0..rows)
            .map(|r| sa.len(r).saturating_add(sb.len(r)))
            .collect();
        check_bounds("||", "string", &bounds, rows)?;
        // Within the caps, so a scalar side may be repeated over the rows.
        let (a, b) = (a.to_array(rows)?, b.to_array(rows)?);
        let out =
            datafusion::arrow::compute::kernels::concat_elements::concat_elements_dyn(&a, &b)?;
        if scalar {
            Ok(ColumnarValue::Scalar(
                datafusion::common::ScalarValue::try_from_array(&out, 0)?,
            ))
        } else {
            Ok(ColumnarValue::Array(out))
        }
    }
}

/// Turns `a || b` on strings into [`ConcatOp`], so a chain of concatenations is capped as
/// `concat` is (registered by [`super::register_all`]; names of output columns are kept).
#[derive(Debug, Default)]
pub struct ConcatRewrite;

impl FunctionRewrite for ConcatRewrite {
    fn name(&self) -> &str {
        "slate_capped_string_concat"
    }

    fn rewrite(
        &self,
        expr: Expr,
        schema: &DFSchema,
        _config: &ConfigOptions,
    ) -> Result<Transformed<Expr>> {
        if let Expr::BinaryExpr(BinaryExpr {
            left,
            op: Operator::StringConcat,
            right,
        }) = &expr
            && is_string(&left.get_type(schema)?)
            && is_string(&right.get_type(schema)?)
        {
            let f = Arc::new(ScalarUDF::new_from_impl(ConcatOp::default()));
            return Ok(Transformed::yes(Expr::ScalarFunction(
                datafusion::logical_expr::expr::ScalarFunction::new_udf(
                    f,
                    vec![left.as_ref().clone(), right.as_ref().clone()],
                ),
            )));
        }
        Ok(Transformed::no(expr))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::logical_expr::registry::FunctionRegistry;
    use datafusion::prelude::SessionContext;

    async fn one(ctx: &SessionContext, sql: &str) -> Result<String> {
        let batches = ctx.sql(sql).await?.collect().await?;
        Ok(datafusion::arrow::util::pretty::pretty_format_batches(&batches)?.to_string())
    }

    fn ctx() -> SessionContext {
        let ctx = SessionContext::new();
        for f in capped_udfs() {
            ctx.register_udf(f);
        }
        ctx.state_ref()
            .write()
            .register_function_rewrite(Arc::new(ConcatRewrite))
            .unwrap_or_else(|e| panic!("{e}"));
        ctx
    }

    #[tokio::test]
    async fn a_result_past_the_cap_is_an_error_naming_the_function() {
        let ctx = ctx();
        for (sql, name) in [
            ("SELECT length(repeat('x', 2100000000))", "repeat"),
            ("SELECT length(repeat('x', 1048577))", "repeat"),
            ("SELECT length(lpad('x', 1048577))", "lpad"),
            ("SELECT length(rpad('x', 1048577, 'ab'))", "rpad"),
            ("SELECT length(lpad('x', 300000, 'é'))", "lpad"),
            (
                "SELECT length(replace(repeat('a', 1000), 'a', repeat('b', 2000)))",
                "replace",
            ),
            (
                "SELECT length(regexp_replace(repeat('a', 1000), 'a', repeat('b', 2000), 'g'))",
                "regexp_replace",
            ),
            (
                "SELECT length(concat(repeat('a', 600000), repeat('b', 600000)))",
                "concat",
            ),
            (
                "SELECT length(repeat('a', 600000) || repeat('b', 600000))",
                "||",
            ),
            (
                "SELECT length(concat_ws(',', repeat('a', 600000), repeat('b', 600000)))",
                "concat_ws",
            ),
        ] {
            let e = one(&ctx, sql).await.err().map(|e| e.to_string());
            let e = e.unwrap_or_else(|| panic!("{sql} was allowed"));
            let name = if name == "||" {
                name.to_string()
            } else {
                format!("{name}()")
            };
            assert!(
                e.contains(&format!("{name} would return")) && e.contains("1048576 bytes"),
                "{sql}: {e}"
            );
        }
        // A column: 8,192 rows of 10 KB each is past the batch cap, not the value cap.
        let e = one(
            &ctx,
            "SELECT max(length(repeat('x', 10000 + (value % 2)))) FROM generate_series(1, 8192)",
        )
        .await
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
        assert!(e.contains("67108864 bytes"), "{e}");
    }

    /// DataFusion's list functions that take their length from an argument are capped where
    /// the build has them, and absent where it does not: never there uncapped.
    #[tokio::test]
    async fn list_functions_are_capped_or_absent() {
        let ctx = SessionContext::new();
        let present: Vec<&str> = LIST_FUNCTIONS
            .iter()
            .map(|(n, _)| *n)
            .filter(|n| ctx.state().scalar_functions().contains_key(*n))
            .collect();
        for f in capped_list_udfs(ctx.state().scalar_functions()) {
            ctx.register_udf(f);
        }
        for (sql, name) in [
            (
                "SELECT array_length(array_repeat('x', 2000000000))",
                "array_repeat",
            ),
            (
                "SELECT array_length(array_repeat(1, 200000))",
                "array_repeat",
            ),
            ("SELECT array_length(range(1, 10000000000))", "range"),
            (
                "SELECT array_length(generate_series(0, 1000000, 1))",
                "generate_series",
            ),
            (
                "SELECT array_length(array_resize([1], 1000000000))",
                "array_resize",
            ),
        ] {
            let e = one(&ctx, sql).await.err().map(|e| e.to_string());
            if present.contains(&name) {
                let e = e.unwrap_or_else(|| panic!("{sql} was allowed"));
                assert!(
                    e.contains(&format!("{name}() would return a list of up to")),
                    "{sql}: {e}"
                );
            } else {
                let e = e.unwrap_or_else(|| panic!("{sql} ran, but {name} was not found"));
                assert!(e.contains(name), "{sql}: {e}");
            }
        }
        if present.contains(&"array_repeat") {
            let out = one(
                &ctx,
                "SELECT array_length(array_repeat('ab', 3)) AS n, array_length(range(1, 11)) AS m",
            )
            .await
            .unwrap_or_else(|e| panic!("{e}"));
            assert!(out.contains("| 3 | 10 |"), "{out}");
        }
    }

    #[tokio::test]
    async fn under_the_cap_they_are_datafusions_functions() {
        let ctx = ctx();
        let out = one(
            &ctx,
            "SELECT length(repeat('x', 1048576)) AS a, lpad('7', 3, '0') AS b, \
             rpad('ab', 4) AS c, replace('a.b', '.', '--') AS d, \
             regexp_replace('a1b22', '([0-9]+)', '<$1>', 'g') AS e, repeat('ab', -1) AS f, \
             concat('a', NULL, 1) AS g, concat_ws('-', 'a', 'b') AS h, \
             'x' || 'y' || arrow_cast('z', 'Utf8View') AS i, ('x' || NULL) IS NULL AS j",
        )
        .await
        .unwrap_or_else(|e| panic!("{e}"));
        assert!(out.contains("| 1048576 | 007 |"), "{out}");
        assert!(out.contains("| a--b | a<1>b<22> |"), "{out}");
        assert!(out.contains("| a1 | a-b | xyz | true |"), "{out}");
        // Column names and types are the operator's.
        let df = ctx
            .sql("SELECT 'x' || arrow_cast('z', 'Utf8View') FROM (VALUES (1))")
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        let field = df.schema().field(0).clone();
        assert_eq!(field.data_type(), &DataType::Utf8View);
        assert!(field.name().contains("||"), "{}", field.name());
        let batches = df.collect().await.unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            batches[0].schema().field(0).data_type(),
            &DataType::Utf8View
        );
    }
}
