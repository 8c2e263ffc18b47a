//! `portrait serve --pg ADDR`: the store over the PostgreSQL wire protocol (pgwire), for psql,
//! BI tools and notebooks.
//!
//! The user name and an API token are the credentials (the token is the password). Each
//! connection reads a session of its role ([`portrait_engine::session::masked_session`]): every
//! table is a view whose personal columns are masked by their meaning, so no query, alias or join
//! sees more than the role may. Every query is audited (`pg.query`, literals hashed, rows sent).
//! The server is read-only: what would change the store or write a file is refused with
//! SQLSTATE 25006. Transaction control, `SET` and `SHOW` are answered so that drivers work; the
//! catalog queries tools send on connect are answered from [`crate::pg_catalog`].

use std::collections::HashMap;
use std::fmt::Debug;
use std::net::SocketAddr;
use std::sync::{Arc, OnceLock};

use async_trait::async_trait;
use datafusion::arrow::array::{Array, ArrayRef, AsArray, RecordBatch};
use datafusion::arrow::datatypes::{DataType, Schema, TimeUnit};
use datafusion::dataframe::DataFrame;
use datafusion::prelude::SessionContext;
use futures::{Sink, StreamExt, stream};
use pgwire::api::auth::cleartext::CleartextPasswordAuthStartupHandler;
use pgwire::api::auth::{AuthSource, DefaultServerParameterProvider, LoginInfo, Password};
use pgwire::api::portal::{Format, Portal};
use pgwire::api::query::{ExtendedQueryHandler, SimpleQueryHandler};
use pgwire::api::results::{
    DataRowEncoder, DescribePortalResponse, DescribeStatementResponse, FieldFormat, FieldInfo,
    QueryResponse, Response, Tag,
};
use pgwire::api::stmt::{QueryParser, StoredStatement};
use pgwire::api::store::PortalStore;
use pgwire::api::{ClientInfo, ClientPortalStore, PgWireServerHandlers, Type};
use pgwire::error::{ErrorInfo, PgWireError, PgWireResult};
use pgwire::messages::PgWireBackendMessage;
use pgwire::messages::data::DataRow;
use portrait_privacy::{NewAudit, Role, TokenUser};

use crate::state::{AppState, Login, Snapshot};

/// The PostgreSQL version the server says it speaks (`server_version`, `version()`): the
/// protocol and catalog shape it imitates, not a PostgreSQL inside.
pub const PG_VERSION: &str = "16.6";

/// Connections served at once; more are closed as they come, so that idle sockets cannot take
/// every file descriptor of the process (and with them the HTTP API).
const MAX_CONNECTIONS: usize = 256;

/// Serves the store on `addr` over the PostgreSQL protocol until the process is stopped.
pub async fn serve_pg(state: AppState, addr: SocketAddr) -> std::io::Result<()> {
    let listener = tokio::net::TcpListener::bind(addr).await?;
    serve_pg_on(state, listener).await
}

/// [`serve_pg`] on a bound listener. A connection that fails to be accepted (out of file
/// descriptors, a client gone before it was) is logged and the server goes on.
pub async fn serve_pg_on(
    state: AppState,
    listener: tokio::net::TcpListener,
) -> std::io::Result<()> {
    let server = Arc::new(PgServer {
        state,
        sessions: tokio::sync::Mutex::new(HashMap::new()),
    });
    let slots = Arc::new(tokio::sync::Semaphore::new(MAX_CONNECTIONS));
    loop {
        let (socket, peer) = match listener.accept().await {
            Ok(c) => c,
            Err(e) => {
                tracing::warn!(error = %e, "cannot accept a PostgreSQL connection");
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                continue;
            }
        };
        let Ok(slot) = slots.clone().try_acquire_owned() else {
            tracing::warn!(%peer, "{MAX_CONNECTIONS} PostgreSQL connections are open; closed a new one");
            continue;
        };
        let handlers = Handlers::new(server.clone(), peer);
        tokio::spawn(async move {
            let _slot = slot;
            if let Err(e) = pgwire::tokio::process_socket(socket, None, handlers).await {
                tracing::debug!(%peer, error = %e, "PostgreSQL connection ended");
            }
        });
    }
}

/// What every connection shares: the API's state (tokens, audit, snapshots) and one masked
/// session per role over the current store version.
struct PgServer {
    state: AppState,
    sessions: tokio::sync::Mutex<HashMap<Role, (Arc<Snapshot>, Arc<SessionContext>)>>,
}

impl PgServer {
    /// The session of `role` over the current snapshot of the store, and the snapshot (whose
    /// table versions stay in place while it is held). Sessions of older versions are dropped.
    async fn session(&self, role: Role) -> PgWireResult<(Arc<Snapshot>, Arc<SessionContext>)> {
        let mut sessions = self.sessions.lock().await;
        let snap = self
            .state
            .snapshot()
            .await
            .map_err(|e| internal(format!("{e:?}")))?;
        sessions.retain(|_, (s, _)| s.version == snap.version);
        if let Some((s, ctx)) = sessions.get(&role) {
            return Ok((s.clone(), ctx.clone()));
        }
        let names: Vec<String> = snap.store.manifest().tables.keys().cloned().collect();
        let ctx = portrait_engine::session::masked_session(&snap.ctx, &names, role)
            .await
            .map_err(|e| internal(e.to_string()))?;
        crate::pg_catalog::install(&ctx, &names)
            .await
            .map_err(|e| internal(e.to_string()))?;
        let ctx = Arc::new(ctx);
        sessions.insert(role, (snap.clone(), ctx.clone()));
        Ok((snap, ctx))
    }
}

/// A planned query and the snapshot it reads.
struct Planned {
    df: DataFrame,
    snap: Arc<Snapshot>,
}

/// One connection: who logged in, with which token, and the handlers pgwire calls.
struct Conn {
    server: Arc<PgServer>,
    peer: SocketAddr,
    login: OnceLock<(TokenUser, String)>,
}

impl Conn {
    /// The logged-in user, whose token is checked again (a revoked or expired token, or a
    /// changed role, ends the connection within the token cache's 5 seconds).
    async fn user(&self) -> PgWireResult<&TokenUser> {
        let Some((login, token)) = self.login.get() else {
            return Err(fatal("28000", "not logged in".into()));
        };
        match self.server.state.authenticate(token).await {
            Ok(Login::Valid(u)) if u.user == login.user && u.role == login.role => Ok(login),
            Ok(_) => Err(fatal(
                "28000",
                "the token of this connection was revoked or has expired; connect again with a valid token".into(),
            )),
            Err(e) => Err(internal(format!("{e:?}"))),
        }
    }

    fn audit(&self, params: serde_json::Value, rows: u64, status: u16) {
        if let Some((u, _)) = self.login.get() {
            record(&self.server, u, params, rows, status);
        }
    }

    fn query_params(&self, sql: &str, protocol: &str) -> serde_json::Value {
        serde_json::json!({
            "query": portrait_privacy::db::redact_query(self.server.state.privacy(), sql),
            "protocol": protocol,
            "client": self.peer.ip().to_string(),
        })
    }

    /// Plans a query of the logged-in user, read-only.
    async fn plan(&self, sql: &str) -> PgWireResult<Planned> {
        let login = self.user().await?;
        if login.role != Role::Admin && !plain_explain(sql) {
            return Err(user_error(
                "42501",
                "EXPLAIN VERBOSE, EXPLAIN ANALYZE and EXPLAIN FORMAT are for admins: their statistics show stored values".into(),
            ));
        }
        let (snap, ctx) = self.server.session(login.role).await?;
        let mut rewritten = crate::pg_catalog::rewrite(sql, &login.user);
        if crate::pg_catalog::reads_empty_catalog(&rewritten)
            && let Some(q) = crate::pg_catalog::empty_subqueries_to_null(&rewritten)
        {
            rewritten = q;
        }
        let df = match portrait_engine::session::read_only_sql(&ctx, &rewritten).await {
            Ok(df) => df,
            Err(e) if !is_refusal(&e) && crate::pg_catalog::provably_empty(&rewritten) => {
                tracing::debug!(error = %e, "a query over an empty catalog answered with no rows");
                // No rows (`read_empty` has one row of no columns, which psql reads from).
                let plan = datafusion::logical_expr::LogicalPlanBuilder::empty(false)
                    .build()
                    .map_err(|e| engine_error(e.into()))?;
                DataFrame::new(ctx.state(), plan)
            }
            Err(e) => return Err(engine_error(e)),
        };
        Ok(Planned { df, snap })
    }

    /// Runs a planned query and answers its rows in `format`; the audit record is written when
    /// the last row has been taken (or the client went away), with the rows sent.
    async fn run(
        &self,
        planned: Planned,
        format: &Format,
        params: serde_json::Value,
    ) -> PgWireResult<Response> {
        let login = self.user().await?;
        if !self.server.state.allow(&login.token_id) {
            let e = user_error(
                "53400",
                "too many queries for this token at once; try again shortly".into(),
            );
            self.audit(params, 0, status_of(&e));
            return Err(e);
        }
        let Planned { df, snap } = planned;
        let fields = Arc::new(fields(df.schema().as_arrow(), format));
        let batches = match df.execute_stream().await {
            Ok(s) => s,
            Err(e) => {
                let e = engine_error(e.into());
                self.audit(params, 0, status_of(&e));
                return Err(e);
            }
        };
        let end = AuditOnEnd {
            server: self.server.clone(),
            user: login.clone(),
            params: Some(params),
            rows: 0,
            failed: false,
            _snap: snap,
        };
        let encode_fields = fields.clone();
        let rows = futures::stream::unfold(
            (batches, std::collections::VecDeque::<DataRow>::new(), end),
            move |(mut batches, mut queue, mut end)| {
                let encode_fields = encode_fields.clone();
                async move {
                    if end.params.is_none() {
                        return None;
                    }
                    loop {
                        if let Some(row) = queue.pop_front() {
                            end.rows += 1;
                            return Some((Ok(row), (batches, queue, end)));
                        }
                        let e = match batches.next().await {
                            Some(Ok(batch)) => match encode(&batch, &encode_fields) {
                                Ok(rs) => {
                                    queue.extend(rs);
                                    continue;
                                }
                                Err(e) => e,
                            },
                            Some(Err(e)) => engine_error(e.into()),
                            None => {
                                end.finish();
                                return None;
                            }
                        };
                        end.failed = true;
                        end.finish();
                        return Some((Err(e), (batches, queue, end)));
                    }
                }
            },
        );
        Ok(Response::Query(QueryResponse::new(fields, rows)))
    }

    /// Answers one statement of a simple query.
    async fn simple(&self, sql: &str) -> PgWireResult<Response> {
        match classify(sql) {
            Kind::Command(r) => Ok(r.response()),
            Kind::Show(name) => show(&name),
            Kind::Query => {
                let params = self.query_params(sql, "simple");
                let planned = match self.plan(sql).await {
                    Ok(p) => p,
                    Err(e) => {
                        self.audit(params, 0, status_of(&e));
                        return Err(e);
                    }
                };
                self.run(planned, &Format::UnifiedText, params).await
            }
        }
    }
}

/// Whether `sql` is no EXPLAIN, or a plain `EXPLAIN` of a query: the verbose, analyzed and
/// formatted plans print the statistics of stored columns (their minimum and maximum values).
fn plain_explain(sql: &str) -> bool {
    let w = first_words(sql, 2);
    match w.first().map(String::as_str) {
        Some("EXPLAIN") => matches!(w.get(1).map(String::as_str), Some("SELECT" | "WITH")),
        _ => true,
    }
}

/// Appends the `pg.query` record of a query of `user`.
fn record(server: &PgServer, user: &TokenUser, params: serde_json::Value, rows: u64, status: u16) {
    let r = server.state.privacy().audit(&NewAudit {
        user: &user.user,
        role: user.role.as_str(),
        action: "pg.query",
        params,
        rows,
        status,
        export_id: None,
        request_id: None,
    });
    if let Err(e) = r {
        tracing::error!(error = %e, "cannot write the audit record of a PostgreSQL query");
    }
}

/// The audit record of a query whose rows are being sent, written when the row stream ends or
/// is dropped (the client went away, or fetched part of a portal and closed it); it holds the
/// snapshot the query reads, so its files stay in place until then.
struct AuditOnEnd {
    server: Arc<PgServer>,
    user: TokenUser,
    params: Option<serde_json::Value>,
    rows: u64,
    failed: bool,
    _snap: Arc<Snapshot>,
}

impl AuditOnEnd {
    /// Writes the record, once.
    fn finish(&mut self) {
        if let Some(params) = self.params.take() {
            let status = if self.failed { 500 } else { 200 };
            record(&self.server, &self.user, params, self.rows, status);
        }
    }
}

impl Drop for AuditOnEnd {
    fn drop(&mut self) {
        self.finish();
    }
}

/// The handlers of one connection.
struct Handlers {
    conn: Arc<ConnHandler>,
    startup: Arc<CleartextPasswordAuthStartupHandler<TokenAuth, DefaultServerParameterProvider>>,
}

impl Handlers {
    fn new(server: Arc<PgServer>, peer: SocketAddr) -> Self {
        let conn = Arc::new(Conn {
            server,
            peer,
            login: OnceLock::new(),
        });
        let mut params = DefaultServerParameterProvider::default();
        params.server_version = PG_VERSION.to_string();
        params.is_superuser = false;
        params.default_transaction_read_only = true;
        let startup = Arc::new(CleartextPasswordAuthStartupHandler::new(
            TokenAuth { conn: conn.clone() },
            params,
        ));
        Handlers {
            conn: Arc::new(ConnHandler {
                parser: Arc::new(Parser { conn: conn.clone() }),
                conn,
            }),
            startup,
        }
    }
}

impl PgWireServerHandlers for Handlers {
    fn simple_query_handler(&self) -> Arc<impl SimpleQueryHandler> {
        self.conn.clone()
    }

    fn extended_query_handler(&self) -> Arc<impl ExtendedQueryHandler> {
        self.conn.clone()
    }

    fn startup_handler(&self) -> Arc<impl pgwire::api::auth::StartupHandler> {
        self.startup.clone()
    }
}

/// Checks the user name and token of a connection.
struct TokenAuth {
    conn: Arc<Conn>,
}

impl Debug for TokenAuth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TokenAuth")
    }
}

#[async_trait]
impl AuthSource for TokenAuth {
    async fn get_password(&self, _login: &LoginInfo) -> PgWireResult<Password> {
        // Tokens are stored hashed: they are verified, never read back.
        Err(user_error(
            "28000",
            "password authentication is by token".into(),
        ))
    }

    async fn verify_password(
        &self,
        login: &LoginInfo,
        presented: &[u8],
    ) -> PgWireResult<Option<()>> {
        let user = login.user().unwrap_or_default().to_string();
        let token = std::str::from_utf8(presented).unwrap_or_default().trim();
        let state = &self.conn.server.state;
        let id = portrait_privacy::db::token_id(token)
            .unwrap_or("-")
            .to_string();
        // The user name tried is kept as a keyed hash, like a search term: people type
        // their token in the wrong field.
        let tried = state.privacy().search_term(&user);
        let refuse = |who: &str, role: &str, status: u16, err: PgWireError| {
            let _ = state.privacy().audit(&NewAudit {
                user: who,
                role,
                action: "pg.login",
                params: serde_json::json!({ "user": tried, "client": self.conn.peer.ip().to_string() }),
                rows: 0,
                status,
                export_id: None,
                request_id: None,
            });
            Err(err)
        };
        let who = match state
            .authenticate(token)
            .await
            .map_err(|e| internal(format!("{e:?}")))?
        {
            Login::Valid(who) if who.user == user => who,
            Login::Throttled => {
                return refuse(
                    &id,
                    "-",
                    429,
                    fatal(
                        "28P01",
                        "too many failed logins with this token; wait a minute".into(),
                    ),
                );
            }
            _ => {
                return refuse(
                    &id,
                    "-",
                    401,
                    fatal(
                        "28P01",
                        format!(
                            "password authentication failed for user \"{user}\": the password is the user's API token (`portrait user add` or `portrait user rotate` prints it)"
                        ),
                    ),
                );
            }
        };
        if who.role == Role::Auditor {
            return refuse(
                &who.user,
                who.role.as_str(),
                403,
                fatal(
                    "42501",
                    "the auditor role reads the audit log only (`portrait audit`, `/api/audit`), not the store".into(),
                ),
            );
        }
        let _ = state.privacy().audit(&NewAudit {
            user: &who.user,
            role: who.role.as_str(),
            action: "pg.login",
            params: serde_json::json!({ "client": self.conn.peer.ip().to_string() }),
            rows: 0,
            status: 200,
            export_id: None,
            request_id: None,
        });
        let _ = self.conn.login.set((who, token.to_string()));
        Ok(None)
    }
}

struct ConnHandler {
    conn: Arc<Conn>,
    parser: Arc<Parser>,
}

#[async_trait]
impl SimpleQueryHandler for ConnHandler {
    async fn do_query<C>(&self, _client: &mut C, query: &str) -> PgWireResult<Vec<Response>>
    where
        C: ClientInfo + ClientPortalStore + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::PortalStore: PortalStore,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        let mut out = Vec::new();
        for statement in split_statements(query) {
            match self.conn.simple(&statement).await {
                Ok(r) => out.push(r),
                // A revoked token ends the connection.
                Err(e) if e.is_fatal() => return Err(e),
                Err(e) => {
                    // The rest of the query string is not run, as in PostgreSQL.
                    out.push(Response::Error(Box::new(error_info(e))));
                    break;
                }
            }
        }
        Ok(out)
    }
}

/// A statement of the extended protocol, parsed (and, for a query, planned) once.
#[derive(Clone, Debug)]
pub struct Prepared {
    sql: String,
    kind: PreparedKind,
}

#[derive(Clone, Debug)]
enum PreparedKind {
    Command(Command),
    Show(String),
    Query {
        df: Box<DataFrame>,
        params: Vec<Option<DataType>>,
        /// The store version it was planned over: a statement prepared before a `run` or an
        /// erasure is planned again, so it never reads what the store no longer holds.
        version: u64,
    },
    /// Planning failed: the error is answered when the statement runs or is described.
    Failed(String, String),
}

struct Parser {
    conn: Arc<Conn>,
}

#[async_trait]
impl QueryParser for Parser {
    type Statement = Prepared;

    async fn parse_sql<C>(
        &self,
        _client: &C,
        sql: &str,
        _types: &[Option<Type>],
    ) -> PgWireResult<Option<Prepared>>
    where
        C: ClientInfo + Unpin + Send + Sync,
    {
        let kind = match classify(sql) {
            Kind::Command(c) => PreparedKind::Command(c),
            Kind::Show(n) => PreparedKind::Show(n),
            Kind::Query => match self.conn.plan(sql).await {
                Ok(planned) => {
                    let params = param_types(&planned.df);
                    PreparedKind::Query {
                        df: Box::new(planned.df),
                        params,
                        version: planned.snap.version,
                    }
                }
                Err(e) if e.is_fatal() => return Err(e),
                Err(e) => {
                    let info = error_info(e);
                    PreparedKind::Failed(info.code, info.message)
                }
            },
        };
        Ok(Some(Prepared {
            sql: sql.to_string(),
            kind,
        }))
    }

    fn get_parameter_types(&self, stmt: &Prepared) -> PgWireResult<Vec<Type>> {
        Ok(match &stmt.kind {
            PreparedKind::Query { params, .. } => params
                .iter()
                .map(|t| t.as_ref().map(pg_type).unwrap_or(Type::UNKNOWN))
                .collect(),
            _ => Vec::new(),
        })
    }

    fn get_result_schema(
        &self,
        stmt: &Prepared,
        format: Option<&Format>,
    ) -> PgWireResult<Vec<FieldInfo>> {
        let format = format.cloned().unwrap_or_default();
        match &stmt.kind {
            PreparedKind::Query { df, .. } => Ok(fields(df.schema().as_arrow(), &format)),
            PreparedKind::Show(name) => Ok(vec![FieldInfo::new(
                name.clone(),
                None,
                None,
                Type::TEXT,
                format.format_for(0),
            )]),
            PreparedKind::Command(_) => Ok(Vec::new()),
            PreparedKind::Failed(code, message) => Err(user_error(code, message.clone())),
        }
    }
}

#[async_trait]
impl ExtendedQueryHandler for ConnHandler {
    type Statement = Prepared;
    type QueryParser = Parser;

    fn query_parser(&self) -> Arc<Parser> {
        self.parser.clone()
    }

    async fn do_describe_statement<C>(
        &self,
        _client: &mut C,
        target: &StoredStatement<Prepared>,
    ) -> PgWireResult<DescribeStatementResponse>
    where
        C: ClientInfo + ClientPortalStore + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::PortalStore: PortalStore<Statement = Prepared>,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        let server = self.parser.get_parameter_types(&target.statement)?;
        let params = (0..target.parameter_types.len().max(server.len()))
            .map(|i| {
                target
                    .parameter_types
                    .get(i)
                    .cloned()
                    .flatten()
                    .filter(|t| *t != Type::UNKNOWN)
                    .or_else(|| server.get(i).cloned())
                    .unwrap_or(Type::UNKNOWN)
            })
            .collect();
        let fields = self
            .parser
            .get_result_schema(&target.statement, Some(&Format::UnifiedBinary))?;
        Ok(DescribeStatementResponse::new(params, fields))
    }

    async fn do_describe_portal<C>(
        &self,
        _client: &mut C,
        target: &Portal<Prepared>,
    ) -> PgWireResult<DescribePortalResponse>
    where
        C: ClientInfo + ClientPortalStore + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::PortalStore: PortalStore<Statement = Prepared>,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        let fields = self.parser.get_result_schema(
            &target.statement.statement,
            Some(&target.result_column_format),
        )?;
        Ok(DescribePortalResponse::new(fields))
    }

    async fn do_query<C>(
        &self,
        _client: &mut C,
        portal: &Portal<Prepared>,
        _max_rows: usize,
    ) -> PgWireResult<Response>
    where
        C: ClientInfo + ClientPortalStore + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::PortalStore: PortalStore<Statement = Prepared>,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        let stmt = &portal.statement.statement;
        match &stmt.kind {
            PreparedKind::Command(c) => Ok(c.response()),
            PreparedKind::Show(name) => show(name),
            PreparedKind::Failed(code, message) => {
                let params = self.conn.query_params(&stmt.sql, "extended");
                let e = user_error(code, message.clone());
                self.conn.audit(params, 0, status_of(&e));
                Err(e)
            }
            PreparedKind::Query {
                df,
                params,
                version,
            } => {
                let mut audit = self.conn.query_params(&stmt.sql, "extended");
                let values = match bind_values(portal, params) {
                    Ok(v) => v,
                    Err(e) => {
                        self.conn.audit(audit, 0, 400);
                        return Err(e);
                    }
                };
                // Bound values are on record as keyed hashes, like the query's literals.
                let privacy = self.conn.server.state.privacy();
                audit["parameters"] = values
                    .iter()
                    .map(|v| {
                        if v.is_null() {
                            serde_json::Value::Null
                        } else {
                            privacy.search_term(&v.to_string()).into()
                        }
                    })
                    .collect();
                let role = self.conn.user().await?.role;
                let (snap, _) = self.conn.server.session(role).await?;
                let planned = if snap.version == *version {
                    Planned {
                        df: (**df).clone(),
                        snap,
                    }
                } else {
                    match self.conn.plan(&stmt.sql).await {
                        Ok(p) => p,
                        Err(e) => {
                            self.conn.audit(audit, 0, status_of(&e));
                            return Err(e);
                        }
                    }
                };
                let planned = if values.is_empty() {
                    planned
                } else {
                    match planned.df.with_param_values(values) {
                        Ok(df) => Planned {
                            df,
                            snap: planned.snap,
                        },
                        Err(e) => {
                            let e = engine_error(e.into());
                            self.conn.audit(audit, 0, status_of(&e));
                            return Err(e);
                        }
                    }
                };
                self.conn
                    .run(planned, &portal.result_column_format, audit)
                    .await
            }
        }
    }
}

/// What a statement is, from its first words.
#[derive(Debug)]
enum Kind {
    /// Answered with a command tag alone (transaction control, `SET`, …): the server is
    /// read-only and has no transactions to keep.
    Command(Command),
    Show(String),
    Query,
}

#[derive(Clone, Debug)]
enum Command {
    Begin,
    End(&'static str),
    Tag(&'static str),
}

impl Command {
    fn response(&self) -> Response {
        match self {
            Command::Begin => Response::TransactionStart(Tag::new("BEGIN")),
            Command::End(t) => Response::TransactionEnd(Tag::new(t)),
            Command::Tag(t) => Response::Execution(Tag::new(t)),
        }
    }
}

/// The statement's words before its first literal or punctuation, upper-cased.
fn first_words(sql: &str, n: usize) -> Vec<String> {
    use sqlparser::dialect::PostgreSqlDialect;
    use sqlparser::tokenizer::{Token, Tokenizer};
    let Ok(tokens) = Tokenizer::new(&PostgreSqlDialect {}, sql).tokenize() else {
        return Vec::new();
    };
    tokens
        .into_iter()
        .filter(|t| !matches!(t, Token::Whitespace(_)))
        .take(n)
        .map_while(|t| match t {
            Token::Word(w) => Some(w.value.to_uppercase()),
            _ => None,
        })
        .collect()
}

fn classify(sql: &str) -> Kind {
    let w = first_words(sql, 3);
    let w: Vec<&str> = w.iter().map(String::as_str).collect();
    let tag = |t| Kind::Command(Command::Tag(t));
    match w.as_slice() {
        ["BEGIN", ..] | ["START", "TRANSACTION", ..] => Kind::Command(Command::Begin),
        ["COMMIT", ..] | ["END", ..] => Kind::Command(Command::End("COMMIT")),
        ["ROLLBACK", "TO", ..] => tag("ROLLBACK"),
        ["ROLLBACK", ..] | ["ABORT", ..] => Kind::Command(Command::End("ROLLBACK")),
        ["SAVEPOINT", ..] => tag("SAVEPOINT"),
        ["RELEASE", ..] => tag("RELEASE"),
        // Session settings are accepted and have no effect: dates, numbers and text are
        // always written as the parameters of the startup say (ISO dates, UTF-8).
        ["SET", ..] => tag("SET"),
        ["RESET", ..] => tag("RESET"),
        ["DISCARD", ..] => tag("DISCARD ALL"),
        ["DEALLOCATE", ..] => tag("DEALLOCATE"),
        ["CLOSE", ..] => tag("CLOSE CURSOR"),
        ["UNLISTEN", ..] => tag("UNLISTEN"),
        ["SHOW", rest @ ..] if !rest.is_empty() => {
            let name = first_raw_word_after_show(sql).unwrap_or_else(|| rest[0].to_lowercase());
            Kind::Show(name)
        }
        _ => Kind::Query,
    }
}

/// The setting named by `SHOW name` as written (`SHOW TRANSACTION ISOLATION LEVEL` as
/// `transaction_isolation`).
fn first_raw_word_after_show(sql: &str) -> Option<String> {
    let w = first_words(sql, 5);
    let rest = &w[1..];
    if rest.len() >= 3 && rest[0] == "TRANSACTION" && rest[1] == "ISOLATION" {
        return Some("transaction_isolation".into());
    }
    rest.first().map(|s| s.to_lowercase())
}

/// The value of a setting drivers ask for.
pub(crate) fn setting(name: &str) -> Option<String> {
    Some(
        match name.to_lowercase().as_str() {
            "server_version" => PG_VERSION,
            "server_version_num" => "160006",
            "server_encoding" | "client_encoding" => "UTF8",
            "standard_conforming_strings"
            | "integer_datetimes"
            | "default_transaction_read_only"
            | "transaction_read_only" => "on",
            "is_superuser" => "off",
            "datestyle" => "ISO, YMD",
            "intervalstyle" => "postgres",
            "timezone" => "Etc/UTC",
            "search_path" => "public",
            "transaction_isolation" | "default_transaction_isolation" => "read committed",
            "max_identifier_length" => "63",
            "lc_collate" | "lc_ctype" | "lc_messages" | "lc_monetary" | "lc_numeric"
            | "lc_time" => "C.UTF-8",
            "application_name" => "",
            "bytea_output" => "hex",
            "extra_float_digits" => "1",
            _ => return None,
        }
        .to_string(),
    )
}

fn show(name: &str) -> PgWireResult<Response> {
    let value = setting(name).ok_or_else(|| {
        user_error(
            "42704",
            format!("unrecognized configuration parameter \"{name}\""),
        )
    })?;
    let fields = Arc::new(vec![FieldInfo::new(
        name.to_string(),
        None,
        None,
        Type::TEXT,
        FieldFormat::Text,
    )]);
    let mut enc = DataRowEncoder::new(fields.clone());
    enc.encode_field(&value)?;
    let row = enc.take_row();
    let mut r = QueryResponse::new(fields, stream::iter(vec![Ok(row)]));
    r.set_command_tag("SHOW");
    Ok(Response::Query(r))
}

/// The statements of a simple query, split at top-level semicolons (not those in literals or
/// comments), each as written; a part with nothing but blanks and comments is no statement.
fn split_statements(sql: &str) -> Vec<String> {
    use sqlparser::tokenizer::Token;
    let Some(tokens) = crate::pg_catalog::tokens_with_ranges(sql) else {
        // Let the planner report what it cannot read.
        return vec![sql.to_string()];
    };
    let mut out = Vec::new();
    let mut start = 0;
    let mut solid = false;
    for (t, r) in &tokens {
        match t {
            Token::SemiColon => {
                if solid {
                    out.push(sql[start..r.start].to_string());
                }
                start = r.end;
                solid = false;
            }
            Token::Whitespace(_) => {}
            _ => solid = true,
        }
    }
    if solid {
        out.push(sql[start..].to_string());
    }
    out
}

/// The PostgreSQL type a column is sent as.
pub(crate) fn pg_type(dt: &DataType) -> Type {
    match dt {
        DataType::Boolean => Type::BOOL,
        DataType::Int8 | DataType::Int16 | DataType::UInt8 => Type::INT2,
        DataType::Int32 | DataType::UInt16 => Type::INT4,
        DataType::Int64 | DataType::UInt32 => Type::INT8,
        DataType::UInt64
        | DataType::Decimal32(..)
        | DataType::Decimal64(..)
        | DataType::Decimal128(..) => Type::NUMERIC,
        DataType::Float16 | DataType::Float32 => Type::FLOAT4,
        DataType::Float64 => Type::FLOAT8,
        DataType::Date32 | DataType::Date64 => Type::DATE,
        DataType::Timestamp(_, None) => Type::TIMESTAMP,
        DataType::Timestamp(_, Some(_)) => Type::TIMESTAMPTZ,
        DataType::Binary | DataType::LargeBinary | DataType::BinaryView => Type::BYTEA,
        DataType::Dictionary(_, v) => pg_type(v),
        _ => Type::TEXT,
    }
}

fn fields(schema: &Schema, format: &Format) -> Vec<FieldInfo> {
    schema
        .fields()
        .iter()
        .enumerate()
        .map(|(i, f)| {
            FieldInfo::new(
                f.name().clone(),
                None,
                None,
                pg_type(f.data_type()),
                format.format_for(i),
            )
        })
        .collect()
}

/// A column in the shape it is encoded from.
fn normalise(c: &ArrayRef) -> PgWireResult<ArrayRef> {
    use datafusion::arrow::compute::cast;
    let to = match c.data_type() {
        DataType::Boolean
        | DataType::Int16
        | DataType::Int32
        | DataType::Int64
        | DataType::Float32
        | DataType::Float64
        | DataType::Date32
        | DataType::Utf8
        | DataType::Binary
        | DataType::Decimal128(..) => return Ok(c.clone()),
        DataType::Timestamp(TimeUnit::Microsecond, _) => return Ok(c.clone()),
        DataType::Int8 | DataType::UInt8 => DataType::Int16,
        DataType::UInt16 => DataType::Int32,
        DataType::UInt32 => DataType::Int64,
        DataType::UInt64 => DataType::Decimal128(20, 0),
        DataType::Decimal32(p, s) | DataType::Decimal64(p, s) => DataType::Decimal128(*p, *s),
        DataType::Float16 => DataType::Float32,
        DataType::Date64 => DataType::Date32,
        DataType::Timestamp(_, tz) => DataType::Timestamp(TimeUnit::Microsecond, tz.clone()),
        DataType::LargeBinary | DataType::BinaryView => DataType::Binary,
        DataType::Dictionary(_, v) => return normalise(&cast(c, v).map_err(api_error)?),
        DataType::LargeUtf8 | DataType::Utf8View => DataType::Utf8,
        _ => {
            // Lists, structs, intervals, times: as Arrow displays them.
            let fmt = datafusion::arrow::util::display::ArrayFormatter::try_new(
                c.as_ref(),
                &Default::default(),
            )
            .map_err(api_error)?;
            let s: datafusion::arrow::array::StringArray = (0..c.len())
                .map(|i| c.is_valid(i).then(|| fmt.value(i).to_string()))
                .collect();
            return Ok(Arc::new(s));
        }
    };
    cast(c, &to).map_err(api_error)
}

/// The rows of `batch` as DataRows of `fields`.
fn encode(batch: &RecordBatch, fields: &Arc<Vec<FieldInfo>>) -> PgWireResult<Vec<DataRow>> {
    use datafusion::arrow::datatypes as t;
    let cols: Vec<ArrayRef> = batch
        .columns()
        .iter()
        .map(normalise)
        .collect::<PgWireResult<_>>()?;
    let mut enc = DataRowEncoder::new(fields.clone());
    let mut out = Vec::with_capacity(batch.num_rows());
    for row in 0..batch.num_rows() {
        for c in &cols {
            let null = c.is_null(row);
            macro_rules! prim {
                ($t:ty) => {{
                    let v = c.as_primitive::<$t>();
                    enc.encode_field(&(!null).then(|| v.value(row)))?
                }};
            }
            match c.data_type() {
                DataType::Boolean => {
                    let v = c.as_boolean();
                    enc.encode_field(&(!null).then(|| v.value(row)))?
                }
                DataType::Int16 => prim!(t::Int16Type),
                DataType::Int32 => prim!(t::Int32Type),
                DataType::Int64 => prim!(t::Int64Type),
                DataType::Float32 => prim!(t::Float32Type),
                DataType::Float64 => prim!(t::Float64Type),
                DataType::Date32 => {
                    let v = c.as_primitive::<t::Date32Type>();
                    let d = (!null)
                        .then(|| {
                            v.value(row)
                                .checked_add(719_163)
                                .and_then(chrono::NaiveDate::from_num_days_from_ce_opt)
                        })
                        .flatten();
                    enc.encode_field(&d)?
                }
                DataType::Timestamp(_, tz) => {
                    let v = c.as_primitive::<t::TimestampMicrosecondType>();
                    let ts = (!null)
                        .then(|| chrono::DateTime::from_timestamp_micros(v.value(row)))
                        .flatten();
                    if tz.is_some() {
                        enc.encode_field(&ts)?
                    } else {
                        enc.encode_field(&ts.map(|t| t.naive_utc()))?
                    }
                }
                DataType::Decimal128(_, s) => {
                    let v = c.as_primitive::<t::Decimal128Type>();
                    let d = if null {
                        None
                    } else {
                        Some(decimal(v.value(row), *s)?)
                    };
                    enc.encode_field(&d)?
                }
                DataType::Binary => {
                    let v = c.as_binary::<i32>();
                    enc.encode_field(&(!null).then(|| v.value(row)))?
                }
                _ => {
                    let v = c.as_string::<i32>();
                    enc.encode_field(&(!null).then(|| v.value(row)))?
                }
            }
        }
        out.push(enc.take_row());
    }
    Ok(out)
}

/// A decimal as PostgreSQL's numeric carries it (28 significant digits at most).
fn decimal(v: i128, scale: i8) -> PgWireResult<rust_decimal::Decimal> {
    let r = if scale >= 0 {
        rust_decimal::Decimal::try_from_i128_with_scale(v, scale as u32).ok()
    } else {
        10i128
            .checked_pow(u32::from(scale.unsigned_abs()))
            .and_then(|m| v.checked_mul(m))
            .and_then(|v| rust_decimal::Decimal::try_from_i128_with_scale(v, 0).ok())
    };
    r.ok_or_else(|| {
        user_error(
            "22003",
            "a decimal of more than 28 digits cannot be sent as numeric; cast it to double or text in the query".into(),
        )
    })
}

/// The parameters' types as the plan infers them, `$1` first.
fn param_types(df: &DataFrame) -> Vec<Option<DataType>> {
    let Ok(types) = df.logical_plan().get_parameter_types() else {
        return Vec::new();
    };
    let n = types
        .keys()
        .filter_map(|k| k.trim_start_matches('$').parse::<usize>().ok())
        .max()
        .unwrap_or(0);
    (1..=n)
        .map(|i| types.get(&format!("${i}")).cloned().flatten())
        .collect()
}

/// The values bound to a portal, as the plan's parameter types.
fn bind_values(
    portal: &Portal<Prepared>,
    types: &[Option<DataType>],
) -> PgWireResult<Vec<datafusion::scalar::ScalarValue>> {
    use datafusion::scalar::ScalarValue as S;
    let declared = &portal.statement.parameter_types;
    (0..portal.parameter_len())
        .map(|i| {
            // The type the client named at Parse, else the one the plan infers (what Describe
            // answered, which drivers such as pgjdbc and asyncpg bind with).
            let ty = declared
                .get(i)
                .cloned()
                .flatten()
                .filter(|t| *t != Type::UNKNOWN)
                .or_else(|| types.get(i).cloned().flatten().as_ref().map(pg_type))
                .unwrap_or(Type::UNKNOWN);
            let value = if portal.parameter_format.is_binary(i) {
                match ty {
                    Type::BOOL => S::Boolean(portal.parameter::<bool>(i, &ty)?),
                    Type::INT2 => S::Int64(portal.parameter::<i16>(i, &ty)?.map(i64::from)),
                    Type::INT4 => S::Int64(portal.parameter::<i32>(i, &ty)?.map(i64::from)),
                    Type::INT8 => S::Int64(portal.parameter::<i64>(i, &ty)?),
                    Type::FLOAT4 => S::Float64(portal.parameter::<f32>(i, &ty)?.map(f64::from)),
                    Type::FLOAT8 => S::Float64(portal.parameter::<f64>(i, &ty)?),
                    Type::DATE => S::Date32(
                        portal
                            .parameter::<chrono::NaiveDate>(i, &ty)?
                            .map(|d| d.num_days_from_ce_i32() - 719_163),
                    ),
                    Type::TIMESTAMP => S::TimestampMicrosecond(
                        portal
                            .parameter::<chrono::NaiveDateTime>(i, &ty)?
                            .map(|t| t.and_utc().timestamp_micros()),
                        None,
                    ),
                    Type::TIMESTAMPTZ => S::TimestampMicrosecond(
                        portal
                            .parameter::<chrono::DateTime<chrono::FixedOffset>>(i, &ty)?
                            .map(|t| t.timestamp_micros()),
                        Some("UTC".into()),
                    ),
                    Type::NUMERIC => S::Utf8(
                        portal
                            .parameter::<rust_decimal::Decimal>(i, &ty)?
                            .map(|d| d.to_string()),
                    ),
                    _ => S::Utf8(portal.parameter::<String>(i, &Type::TEXT)?),
                }
            } else {
                S::Utf8(portal.parameter::<String>(i, &Type::TEXT)?)
            };
            // A value comes as the type the client named or as text; the plan says what it is.
            match types.get(i).cloned().flatten() {
                Some(t) if t != value.data_type() => value.cast_to(&t).map_err(|e| {
                    user_error("22P02", format!("parameter ${} is not a {t}: {e}", i + 1))
                }),
                _ => Ok(value),
            }
        })
        .collect()
}

trait DaysFromCe {
    fn num_days_from_ce_i32(&self) -> i32;
}

impl DaysFromCe for chrono::NaiveDate {
    fn num_days_from_ce_i32(&self) -> i32 {
        chrono::Datelike::num_days_from_ce(self)
    }
}

/// An error that ends the connection (a failed login, a revoked token).
fn fatal(code: &str, message: String) -> PgWireError {
    PgWireError::UserError(Box::new(ErrorInfo::new(
        "FATAL".to_string(),
        code.to_string(),
        message,
    )))
}

fn user_error(code: &str, message: String) -> PgWireError {
    PgWireError::UserError(Box::new(ErrorInfo::new(
        "ERROR".to_string(),
        code.to_string(),
        message,
    )))
}

fn internal(e: impl std::fmt::Display) -> PgWireError {
    user_error("XX000", e.to_string())
}

fn api_error(e: impl std::fmt::Display) -> PgWireError {
    internal(e)
}

/// Whether the engine refused a statement for writing.
fn is_refusal(e: &portrait_engine::EngineError) -> bool {
    e.to_string().contains("read-only")
}

/// A query's failure as PostgreSQL reports it.
fn engine_error(e: portrait_engine::EngineError) -> PgWireError {
    let msg = e.to_string();
    let code = if msg.contains("read-only") {
        "25006"
    } else if msg.contains("not found") && msg.contains("table") {
        "42P01"
    } else if e.is_user_error() {
        "42601"
    } else {
        "XX000"
    };
    let msg = msg
        .replace(
            "`sql` is read-only",
            "the PostgreSQL interface of portrait is read-only",
        )
        .replace("Error during planning: ", "");
    user_error(code, msg)
}

fn error_info(e: PgWireError) -> ErrorInfo {
    match e {
        PgWireError::UserError(info) => *info,
        other => ErrorInfo::new("ERROR".into(), "XX000".into(), other.to_string()),
    }
}

/// The HTTP-like status of a failure, for the audit log.
fn status_of(e: &PgWireError) -> u16 {
    match e {
        PgWireError::UserError(info) => match info.code.as_str() {
            "XX000" => 500,
            "25006" | "42501" => 403,
            "53400" => 429,
            _ => 400,
        },
        _ => 500,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statements_split_outside_literals_and_comments() {
        let s = split_statements("BEGIN; select 'a;b', 'O''Brien' as x -- c;d\n; ;COMMIT; -- done");
        assert_eq!(s.len(), 3, "{s:?}");
        assert_eq!(s[1], " select 'a;b', 'O''Brien' as x -- c;d\n");
        assert_eq!(s[2].trim(), "COMMIT");
        assert_eq!(split_statements("SELECT 1"), ["SELECT 1"]);
    }

    #[test]
    fn commands_are_told_from_queries() {
        assert!(matches!(classify("begin"), Kind::Command(Command::Begin)));
        assert!(matches!(
            classify("  ROLLBACK TO SAVEPOINT a"),
            Kind::Command(Command::Tag("ROLLBACK"))
        ));
        assert!(matches!(
            classify("SET datestyle = 'ISO'"),
            Kind::Command(Command::Tag("SET"))
        ));
        assert!(
            matches!(classify("show transaction isolation level"), Kind::Show(n) if n == "transaction_isolation")
        );
        assert!(
            matches!(classify("SHOW standard_conforming_strings"), Kind::Show(n) if n == "standard_conforming_strings")
        );
        assert!(matches!(classify("select 1"), Kind::Query));
        assert!(matches!(classify("insert into t values (1)"), Kind::Query));
        assert!(matches!(
            classify("with x as (select 1) select * from x"),
            Kind::Query
        ));
    }

    #[test]
    fn decimals_keep_their_digits() {
        assert_eq!(decimal(123456, 2).unwrap().to_string(), "1234.56");
        assert_eq!(decimal(12, -2).unwrap().to_string(), "1200");
        assert!(decimal(i128::MAX, 0).is_err());
    }
}
