//! The Flight SQL protocol over a [`Catalog`]: statements, prepared statements (what JDBC
//! uses), and the metadata calls BI drivers make on connect.
//!
//! Stateless: a statement's ticket and a prepared statement's handle carry the SQL itself, so
//! nothing is kept between calls and any number of clients can come and go.

use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;

use arrow_flight::encode::FlightDataEncoderBuilder;
use arrow_flight::error::FlightError;
use arrow_flight::flight_service_server::{FlightService, FlightServiceServer};
use arrow_flight::sql::metadata::{SqlInfoData, SqlInfoDataBuilder};
use arrow_flight::sql::server::{FlightSqlService, PeekableFlightDataStream};
use arrow_flight::sql::{
    ActionClosePreparedStatementRequest, ActionCreatePreparedStatementRequest,
    ActionCreatePreparedStatementResult, CommandGetCatalogs, CommandGetDbSchemas,
    CommandGetSqlInfo, CommandGetTableTypes, CommandGetTables, CommandPreparedStatementQuery,
    CommandPreparedStatementUpdate, CommandStatementIngest, CommandStatementQuery,
    CommandStatementSubstraitPlan, CommandStatementUpdate, DoPutPreparedStatementResult,
    ProstMessageExt, SqlInfo, SqlSupportedTransaction, TicketStatementQuery,
};
use arrow_flight::{
    FlightDescriptor, FlightEndpoint, FlightInfo, HandshakeRequest, HandshakeResponse, IpcMessage,
    SchemaAsIpc, Ticket,
};
use datafusion::arrow::array::{RecordBatch, StringArray};
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use datafusion::arrow::ipc::writer::IpcWriteOptions;
use datafusion::datasource::TableType;
use datafusion::error::DataFusionError;
use datafusion::execution::SendableRecordBatchStream;
use datafusion::execution::context::SQLOptions;
use datafusion::logical_expr::LogicalPlan;
use datafusion::prelude::SessionContext;
use futures::{Stream, StreamExt, TryStreamExt};
use prost::Message;
use prost::bytes::Bytes;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::time::Instant;
use tonic::transport::Server;
use tonic::transport::server::TcpIncoming;
use tonic::{Request, Response, Status, Streaming};

use crate::ServeOptions;
use crate::auth::BearerAuth;
use crate::catalog::Catalog;

/// Errors that stop the server.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// A non-loopback address without a token.
    #[error("{}", open_bind_message(.0))]
    OpenBind(SocketAddr),
    /// The server's SQL info (GetSqlInfo) could not be built.
    #[error("building the server's SQL info: {0}")]
    SqlInfo(String),
    /// The gRPC transport failed.
    #[error("Flight SQL transport: {0}")]
    Transport(#[from] tonic::transport::Error),
    /// The token file cannot be read.
    #[error("reading the token file {path}")]
    TokenRead {
        /// The file.
        path: String,
        /// Why not.
        source: std::io::Error,
    },
    /// The token file holds too short a token.
    #[error("{path}: {reason}")]
    Token {
        /// The file.
        path: String,
        /// What is wrong.
        reason: String,
    },
    /// A served table could not be set up.
    #[error(transparent)]
    Catalog(#[from] crate::CatalogError),
    /// The server's task ended abnormally (it panicked or was cancelled).
    #[error("the server stopped: {0}")]
    Task(String),
}

impl ServeError {
    /// The whole message of an error that names request parameters (`token`, `allow_open`),
    /// for a front end to render with its own names for them.
    pub fn param_message(&self) -> Option<slate_core::ParamMessage> {
        match self {
            ServeError::OpenBind(addr) => Some(open_bind_message(addr)),
            _ => None,
        }
    }
}

fn open_bind_message(addr: &SocketAddr) -> slate_core::ParamMessage {
    slate_core::ParamMessage::new()
        .text(format!(
            "refusing to listen on {addr} without a token: anyone who can reach it could read \
             the records. Pass "
        ))
        .param("token")
        .text(", bind to 127.0.0.1, or pass ")
        .param("allow_open")
        .text(" if another layer controls who connects")
}

/// Serves `catalog` on `listener` until `shutdown` completes.
pub async fn serve(
    catalog: Arc<Catalog>,
    listener: tokio::net::TcpListener,
    opts: ServeOptions,
    shutdown: impl Future<Output = ()>,
) -> Result<(), ServeError> {
    let auth = BearerAuth::new(opts.token.as_deref());
    let service = SlateFlightSql::new(catalog, opts)?;
    let incoming = TcpIncoming::from(listener).with_nodelay(Some(true));
    Server::builder()
        .add_service(FlightServiceServer::with_interceptor(service, auth))
        .serve_with_incoming_shutdown(incoming, shutdown)
        .await?;
    Ok(())
}

type DoGetStream = <SlateFlightSql as FlightService>::DoGetStream;

/// The Flight SQL service.
pub(crate) struct SlateFlightSql {
    catalog: Arc<Catalog>,
    opts: ServeOptions,
    slots: Arc<Semaphore>,
    sql_info: SqlInfoData,
}

impl SlateFlightSql {
    fn new(catalog: Arc<Catalog>, opts: ServeOptions) -> Result<Self, ServeError> {
        let mut b = SqlInfoDataBuilder::new();
        b.append(SqlInfo::FlightSqlServerName, "slate");
        b.append(SqlInfo::FlightSqlServerVersion, env!("CARGO_PKG_VERSION"));
        // The Arrow format version (Schema.fbs MetadataVersion V5 is format 1.x).
        b.append(SqlInfo::FlightSqlServerArrowVersion, "1.5");
        b.append(SqlInfo::FlightSqlServerReadOnly, true);
        b.append(SqlInfo::FlightSqlServerSql, true);
        b.append(SqlInfo::FlightSqlServerSubstrait, false);
        b.append(
            SqlInfo::FlightSqlServerTransaction,
            SqlSupportedTransaction::None as i32,
        );
        b.append(SqlInfo::FlightSqlServerCancel, false);
        b.append(
            SqlInfo::FlightSqlServerStatementTimeout,
            i32::try_from(opts.query_timeout.as_secs()).unwrap_or(i32::MAX),
        );
        b.append(SqlInfo::SqlIdentifierQuoteChar, "\"");
        b.append(SqlInfo::SqlDdlCatalog, false);
        b.append(SqlInfo::SqlDdlSchema, false);
        b.append(SqlInfo::SqlDdlTable, false);
        let sql_info = b.build().map_err(|e| ServeError::SqlInfo(e.to_string()))?;
        let slots = Arc::new(Semaphore::new(opts.max_concurrent.max(1)));
        Ok(SlateFlightSql {
            catalog,
            opts,
            slots,
            sql_info,
        })
    }

    /// Plans `sql` and refuses anything that writes or changes the session.
    async fn plan(ctx: &SessionContext, sql: &str) -> Result<LogicalPlan, Status> {
        let plan = ctx
            .state()
            .create_logical_plan(sql)
            .await
            .map_err(df_status)?;
        SQLOptions::new()
            .with_allow_ddl(false)
            .with_allow_dml(false)
            .with_allow_statements(false)
            .verify_plan(&plan)
            .map_err(|e| {
                Status::permission_denied(format!(
                    "slate serve is read-only: {}",
                    e.strip_backtrace()
                        .trim_start_matches("Error during planning: ")
                ))
            })?;
        Ok(plan)
    }

    /// The FlightInfo of a query: its schema, and a ticket that carries `ticket`.
    async fn info(
        &self,
        sql: &str,
        ticket: Vec<u8>,
        descriptor: FlightDescriptor,
    ) -> Result<Response<FlightInfo>, Status> {
        let ctx = self.catalog.query_context(self.opts.memory_limit);
        let deadline = Instant::now() + self.opts.query_timeout;
        // Planning `scorecard(...)` reads nothing (it is computed when scanned), but a table
        // scan may list files: keep planning within the timeout too.
        let plan = tokio::time::timeout_at(deadline, Self::plan(&ctx, sql))
            .await
            .map_err(|_| self.timed_out())??;
        let schema = flight_schema(plan.schema().as_arrow().clone().into());
        let info = FlightInfo::new()
            .try_with_schema(&schema)
            .map_err(|e| Status::internal(format!("encoding the schema: {e}")))?
            .with_endpoint(FlightEndpoint::new().with_ticket(Ticket::new(ticket)))
            .with_descriptor(descriptor);
        Ok(Response::new(info))
    }

    /// Runs `sql` under the query's memory pool and deadline, holding an execution slot until
    /// the last batch is sent (or the client goes away, which cancels the query).
    async fn execute(&self, sql: &str) -> Result<Response<DoGetStream>, Status> {
        let deadline = Instant::now() + self.opts.query_timeout;
        let permit = tokio::time::timeout_at(deadline, self.slots.clone().acquire_owned())
            .await
            .map_err(|_| {
                Status::resource_exhausted(format!(
                    "slate serve: no query slot came free within {} s ({} queries run at once)",
                    self.opts.query_timeout.as_secs(),
                    self.opts.max_concurrent
                ))
            })?
            .map_err(|_| Status::unavailable("slate serve is shutting down"))?;
        let ctx = self
            .catalog
            .query_context_until(self.opts.memory_limit, Some(deadline));
        let start = async {
            let plan = Self::plan(&ctx, sql).await?;
            let schema = flight_schema(plan.schema().as_arrow().clone().into());
            let df = ctx.execute_logical_plan(plan).await.map_err(df_status)?;
            let stream = df.execute_stream().await.map_err(df_status)?;
            Ok::<_, Status>((schema, stream))
        };
        let started = tokio::time::timeout_at(deadline, start)
            .await
            .map_err(|_| self.timed_out())?;
        // Work that does not yield (a function over a batch, `scorecard(...)`'s report) can
        // finish past the deadline: it is late all the same.
        if Instant::now() >= deadline {
            return Err(self.timed_out());
        }
        let (schema, stream) = started?;
        let batches = with_deadline(stream, deadline, permit, self.timed_out());
        let flight = FlightDataEncoderBuilder::new()
            .with_schema(schema)
            .build(batches)
            .map_err(Status::from);
        Ok(Response::new(Box::pin(flight)))
    }

    fn timed_out(&self) -> Status {
        Status::deadline_exceeded(format!(
            "slate serve: query cancelled after {} s (the server's query timeout)",
            self.opts.query_timeout.as_secs_f64()
        ))
    }
}

/// Ends `stream` with a deadline error when it runs past `deadline` (dropping DataFusion's
/// stream cancels the query's tasks); the slot is released when the stream ends or is dropped.
fn with_deadline(
    stream: SendableRecordBatchStream,
    deadline: Instant,
    permit: OwnedSemaphorePermit,
    timeout: Status,
) -> impl Stream<Item = Result<RecordBatch, FlightError>> + Send {
    futures::stream::unfold(Some((stream, permit, timeout)), move |state| async move {
        let (mut s, permit, timeout) = state?;
        match tokio::time::timeout_at(deadline, s.next()).await {
            // A batch that was ready only after the deadline is not sent.
            Ok(Some(Ok(_))) if Instant::now() >= deadline => {
                Some((Err(FlightError::from(timeout)), None))
            }
            Ok(Some(Ok(b))) => Some((Ok(b), Some((s, permit, timeout)))),
            Ok(Some(Err(e))) => Some((Err(FlightError::from(df_status(e))), None)),
            Ok(None) => None,
            Err(_) => Some((Err(FlightError::from(timeout)), None)),
        }
    })
}

/// The schema clients receive: the logical plan's (strict clients, ADBC among them, compare
/// the FlightInfo schema with the data's), with dictionaries as the encoder sends them.
fn flight_schema(schema: SchemaRef) -> SchemaRef {
    let encoder = FlightDataEncoderBuilder::new()
        .with_schema(schema.clone())
        .build(futures::stream::iter([]));
    encoder.known_schema().unwrap_or(schema)
}

/// A DataFusion error as a gRPC status: the client's mistakes (SQL, unknown tables and
/// columns, bad arguments to slate's functions) are invalid arguments; a query over its
/// memory limit is resource-exhausted.
fn df_status(e: DataFusionError) -> Status {
    let msg = e.strip_backtrace();
    // DataFusion's message names its own setting, which a client cannot change.
    if msg.contains("used disk space during the spilling process has exceeded") {
        return Status::resource_exhausted(format!(
            "slate serve: the query would spill more to disk than the server's spill limit \
allows: {msg}"
        ));
    }
    match e.find_root() {
        DataFusionError::ResourcesExhausted(_) => Status::resource_exhausted(format!(
            "slate serve: the query needs more memory than the server's per-query memory limit \
allows: {msg}"
        )),
        DataFusionError::SQL(..)
        | DataFusionError::Plan(_)
        | DataFusionError::SchemaError(..)
        | DataFusionError::NotImplemented(_) => Status::invalid_argument(msg),
        _ => Status::internal(msg),
    }
}

fn one_batch<E: std::fmt::Display>(
    batch: Result<RecordBatch, E>,
) -> Result<Response<DoGetStream>, Status> {
    let batch = batch.map_err(|e| Status::internal(e.to_string()))?;
    let schema = batch.schema();
    let stream = FlightDataEncoderBuilder::new()
        .with_schema(schema)
        .build(futures::stream::once(async { Ok(batch) }))
        .map_err(Status::from);
    Ok(Response::new(Box::pin(stream)))
}

fn metadata_info(
    ticket: Vec<u8>,
    schema: &Schema,
    descriptor: FlightDescriptor,
) -> Result<Response<FlightInfo>, Status> {
    let info = FlightInfo::new()
        .try_with_schema(schema)
        .map_err(|e| Status::internal(e.to_string()))?
        .with_endpoint(FlightEndpoint::new().with_ticket(Ticket::new(ticket)))
        .with_descriptor(descriptor);
    Ok(Response::new(info))
}

fn table_types_schema() -> Schema {
    Schema::new(vec![Field::new("table_type", DataType::Utf8, false)])
}

fn utf8(bytes: &[u8], what: &str) -> Result<String, Status> {
    String::from_utf8(bytes.to_vec())
        .map_err(|_| Status::invalid_argument(format!("{what} is not UTF-8")))
}

fn read_only(what: &str) -> Status {
    Status::permission_denied(format!("slate serve is read-only: {what} is refused"))
}

#[tonic::async_trait]
impl FlightSqlService for SlateFlightSql {
    type FlightService = SlateFlightSql;

    /// The bearer token was checked before this is reached; clients that handshake first
    /// (some JDBC configurations) get an empty answer and go on with the same header.
    async fn do_handshake(
        &self,
        _request: Request<Streaming<HandshakeRequest>>,
    ) -> Result<
        Response<Pin<Box<dyn Stream<Item = Result<HandshakeResponse, Status>> + Send>>>,
        Status,
    > {
        let reply = HandshakeResponse {
            protocol_version: 0,
            payload: Bytes::new(),
        };
        Ok(Response::new(Box::pin(futures::stream::once(async {
            Ok(reply)
        }))))
    }

    async fn get_flight_info_statement(
        &self,
        query: CommandStatementQuery,
        request: Request<FlightDescriptor>,
    ) -> Result<Response<FlightInfo>, Status> {
        let ticket = TicketStatementQuery {
            statement_handle: Bytes::from(query.query.clone().into_bytes()),
        };
        self.info(
            &query.query,
            ticket.as_any().encode_to_vec(),
            request.into_inner(),
        )
        .await
    }

    async fn do_get_statement(
        &self,
        ticket: TicketStatementQuery,
        _request: Request<Ticket>,
    ) -> Result<Response<DoGetStream>, Status> {
        let sql = utf8(&ticket.statement_handle, "the statement handle")?;
        self.execute(&sql).await
    }

    async fn do_action_create_prepared_statement(
        &self,
        query: ActionCreatePreparedStatementRequest,
        _request: Request<arrow_flight::Action>,
    ) -> Result<ActionCreatePreparedStatementResult, Status> {
        let ctx = self.catalog.query_context(self.opts.memory_limit);
        let plan = Self::plan(&ctx, &query.query).await?;
        let schema = flight_schema(plan.schema().as_arrow().clone().into());
        let IpcMessage(dataset_schema) = SchemaAsIpc::new(&schema, &IpcWriteOptions::default())
            .try_into()
            .map_err(|e: datafusion::arrow::error::ArrowError| Status::internal(e.to_string()))?;
        Ok(ActionCreatePreparedStatementResult {
            prepared_statement_handle: Bytes::from(query.query.into_bytes()),
            dataset_schema,
            parameter_schema: Bytes::new(),
        })
    }

    async fn do_action_close_prepared_statement(
        &self,
        _query: ActionClosePreparedStatementRequest,
        _request: Request<arrow_flight::Action>,
    ) -> Result<(), Status> {
        Ok(())
    }

    async fn get_flight_info_prepared_statement(
        &self,
        cmd: CommandPreparedStatementQuery,
        request: Request<FlightDescriptor>,
    ) -> Result<Response<FlightInfo>, Status> {
        let sql = utf8(
            &cmd.prepared_statement_handle,
            "the prepared statement handle",
        )?;
        self.info(&sql, cmd.as_any().encode_to_vec(), request.into_inner())
            .await
    }

    async fn do_get_prepared_statement(
        &self,
        cmd: CommandPreparedStatementQuery,
        _request: Request<Ticket>,
    ) -> Result<Response<DoGetStream>, Status> {
        let sql = utf8(
            &cmd.prepared_statement_handle,
            "the prepared statement handle",
        )?;
        self.execute(&sql).await
    }

    async fn do_put_prepared_statement_query(
        &self,
        _query: CommandPreparedStatementQuery,
        _request: Request<PeekableFlightDataStream>,
    ) -> Result<DoPutPreparedStatementResult, Status> {
        Err(Status::unimplemented(
            "slate serve: bound parameters are not supported; write the values into the SQL",
        ))
    }

    async fn do_put_statement_update(
        &self,
        _ticket: CommandStatementUpdate,
        _request: Request<PeekableFlightDataStream>,
    ) -> Result<i64, Status> {
        Err(read_only("an update statement"))
    }

    async fn do_put_prepared_statement_update(
        &self,
        _query: CommandPreparedStatementUpdate,
        _request: Request<PeekableFlightDataStream>,
    ) -> Result<i64, Status> {
        Err(read_only("an update statement"))
    }

    async fn do_put_statement_ingest(
        &self,
        _ticket: CommandStatementIngest,
        _request: Request<PeekableFlightDataStream>,
    ) -> Result<i64, Status> {
        Err(read_only("bulk ingestion"))
    }

    async fn do_put_substrait_plan(
        &self,
        _query: CommandStatementSubstraitPlan,
        _request: Request<PeekableFlightDataStream>,
    ) -> Result<i64, Status> {
        Err(read_only("a Substrait plan"))
    }

    async fn get_flight_info_catalogs(
        &self,
        query: CommandGetCatalogs,
        request: Request<FlightDescriptor>,
    ) -> Result<Response<FlightInfo>, Status> {
        let ticket = query.as_any().encode_to_vec();
        metadata_info(ticket, &query.into_builder().schema(), request.into_inner())
    }

    async fn do_get_catalogs(
        &self,
        query: CommandGetCatalogs,
        _request: Request<Ticket>,
    ) -> Result<Response<DoGetStream>, Status> {
        let mut b = query.into_builder();
        for c in self.catalog.context().catalog_names() {
            b.append(c);
        }
        one_batch(b.build())
    }

    async fn get_flight_info_schemas(
        &self,
        query: CommandGetDbSchemas,
        request: Request<FlightDescriptor>,
    ) -> Result<Response<FlightInfo>, Status> {
        let ticket = query.as_any().encode_to_vec();
        metadata_info(ticket, &query.into_builder().schema(), request.into_inner())
    }

    async fn do_get_schemas(
        &self,
        query: CommandGetDbSchemas,
        _request: Request<Ticket>,
    ) -> Result<Response<DoGetStream>, Status> {
        let ctx = self.catalog.context();
        // Every catalog and schema; the builder applies the request's filters.
        let mut b = query.into_builder();
        for c in ctx.catalog_names() {
            if let Some(cat) = ctx.catalog(&c) {
                for s in cat.schema_names() {
                    b.append(&c, s);
                }
            }
        }
        one_batch(b.build())
    }

    async fn get_flight_info_tables(
        &self,
        query: CommandGetTables,
        request: Request<FlightDescriptor>,
    ) -> Result<Response<FlightInfo>, Status> {
        let ticket = query.as_any().encode_to_vec();
        metadata_info(ticket, &query.into_builder().schema(), request.into_inner())
    }

    async fn do_get_tables(
        &self,
        query: CommandGetTables,
        _request: Request<Ticket>,
    ) -> Result<Response<DoGetStream>, Status> {
        let ctx = self.catalog.context();
        let mut b = query.into_builder();
        for c in ctx.catalog_names() {
            let Some(cat) = ctx.catalog(&c) else { continue };
            for s in cat.schema_names() {
                let Some(schema) = cat.schema(&s) else {
                    continue;
                };
                let mut names = schema.table_names();
                names.sort();
                for t in names {
                    if let Some(table) = schema.table(&t).await.map_err(df_status)? {
                        b.append(&c, &s, &t, table.table_type().to_string(), &table.schema())
                            .map_err(|e| Status::internal(e.to_string()))?;
                    }
                }
            }
        }
        one_batch(b.build())
    }

    async fn get_flight_info_table_types(
        &self,
        query: CommandGetTableTypes,
        request: Request<FlightDescriptor>,
    ) -> Result<Response<FlightInfo>, Status> {
        metadata_info(
            query.as_any().encode_to_vec(),
            &table_types_schema(),
            request.into_inner(),
        )
    }

    async fn do_get_table_types(
        &self,
        _query: CommandGetTableTypes,
        _request: Request<Ticket>,
    ) -> Result<Response<DoGetStream>, Status> {
        let types: Vec<String> = [TableType::Base, TableType::View, TableType::Temporary]
            .iter()
            .map(ToString::to_string)
            .collect();
        one_batch(RecordBatch::try_new(
            Arc::new(table_types_schema()),
            vec![Arc::new(StringArray::from(types))],
        ))
    }

    async fn get_flight_info_sql_info(
        &self,
        query: CommandGetSqlInfo,
        request: Request<FlightDescriptor>,
    ) -> Result<Response<FlightInfo>, Status> {
        let ticket = query.as_any().encode_to_vec();
        metadata_info(
            ticket,
            query.into_builder(&self.sql_info).schema().as_ref(),
            request.into_inner(),
        )
    }

    async fn do_get_sql_info(
        &self,
        query: CommandGetSqlInfo,
        _request: Request<Ticket>,
    ) -> Result<Response<DoGetStream>, Status> {
        one_batch(query.into_builder(&self.sql_info).build())
    }

    async fn register_sql_info(&self, _id: i32, _result: &SqlInfo) {}
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn memory_errors_are_resource_exhausted_and_sql_errors_invalid_arguments() {
        let s = df_status(DataFusionError::ResourcesExhausted("x".into()));
        assert_eq!(s.code(), tonic::Code::ResourceExhausted);
        let s = df_status(DataFusionError::Plan("table 'nope' not found".into()));
        assert_eq!(s.code(), tonic::Code::InvalidArgument);
        assert!(s.message().contains("nope"));
    }

    #[tokio::test]
    async fn writes_are_refused_before_they_run() {
        let ctx = SessionContext::new();
        for sql in [
            "CREATE TABLE t AS SELECT 1",
            "CREATE EXTERNAL TABLE t STORED AS PARQUET LOCATION '/tmp/x.parquet'",
            "COPY (SELECT 1) TO '/tmp/slate-serve-copy.parquet'",
            "SET datafusion.execution.batch_size = 1",
            "CREATE VIEW v AS SELECT 1",
        ] {
            let e = SlateFlightSql::plan(&ctx, sql).await.err();
            let e = e.unwrap_or_else(|| panic!("{sql} was allowed"));
            assert_eq!(e.code(), tonic::Code::PermissionDenied, "{sql}: {e}");
            assert!(e.message().contains("read-only"), "{sql}: {e}");
        }
        assert!(!std::path::Path::new("/tmp/slate-serve-copy.parquet").exists());
        assert!(SlateFlightSql::plan(&ctx, "SELECT 1").await.is_ok());
    }
}
