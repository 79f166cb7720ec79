//! The PostgreSQL side of the store (`database.url`): a pool of synchronous clients, each
//! with its own prepared-statement cache; `?N` placeholders turned into `$N`; values bound
//! by the parameter type the server reports and read by the column type it returns; the
//! SQLite migrations translated to PostgreSQL's types. Every call runs on a blocking
//! thread (the store is never used from an async worker).

use std::cell::RefCell;
use std::collections::HashMap;
use std::error::Error;
use std::time::Duration;

use bytes::BytesMut;
use postgres::types::{to_sql_checked, IsNull, ToSql, Type};
use postgres::{NoTls, Statement};

use super::value::{Row, ToValue, Value};
use super::StoreError;

/// How long a request waits for a free connection before it is answered "unavailable".
const CHECKOUT_WAIT: Duration = Duration::from_secs(3);

/// One pooled client and the statements prepared on it.
pub struct Client {
    client: postgres::Client,
    cache: HashMap<String, Statement>,
}

impl Client {
    /// The client itself, for the key database's few fixed statements.
    pub(super) fn raw(&mut self) -> &mut postgres::Client {
        &mut self.client
    }
}

pub struct Manager {
    config: postgres::Config,
}

impl r2d2::ManageConnection for Manager {
    type Connection = Client;
    type Error = postgres::Error;

    fn connect(&self) -> Result<Client, postgres::Error> {
        Ok(Client {
            client: self.config.connect(NoTls)?,
            cache: HashMap::new(),
        })
    }

    fn is_valid(&self, c: &mut Client) -> Result<(), postgres::Error> {
        c.client.simple_query("").map(|_| ())
    }

    fn has_broken(&self, c: &mut Client) -> bool {
        c.client.is_closed()
    }
}

pub type Pool = r2d2::Pool<Manager>;

/// A pool of `size` connections to `url` (`postgres://user@host:port/db`).
pub fn pool(url: &str, size: u32) -> Result<Pool, StoreError> {
    pool_named(url, size, "hoso")
}

/// A pool whose connections show as `name` in `pg_stat_activity`.
pub fn pool_named(url: &str, size: u32, name: &str) -> Result<Pool, StoreError> {
    pool_with(url, size, name, "-c client_min_messages=warning")
}

/// A pool with the connection `options` given (`-c setting=value …`).
pub fn pool_with(url: &str, size: u32, name: &str, options: &str) -> Result<Pool, StoreError> {
    let mut config: postgres::Config = url.parse().map_err(StoreError::Pg)?;
    config.application_name(name);
    config.options(options);
    config.connect_timeout(CHECKOUT_WAIT);
    r2d2::Pool::builder()
        .max_size(size.max(2))
        .min_idle(Some(1))
        .connection_timeout(CHECKOUT_WAIT)
        .error_handler(Box::new(LogErrors))
        .build(Manager { config })
        .map_err(|e| StoreError::Unavailable(e.to_string()))
}

#[derive(Debug)]
struct LogErrors;

impl r2d2::HandleError<postgres::Error> for LogErrors {
    fn handle_error(&self, e: postgres::Error) {
        tracing::warn!(error = %describe(&e), "database connection");
    }
}

/// The server's own words for an error ("db error" alone says nothing).
pub fn describe(e: &postgres::Error) -> String {
    match e.as_db_error() {
        Some(d) => format!(
            "{} ({}): {}",
            d.message(),
            d.code().code(),
            d.detail().unwrap_or("")
        ),
        None => e.to_string(),
    }
}

/// A connection taken from the pool for one `read` or `tx`.
pub struct Session(RefCell<r2d2::PooledConnection<Manager>>);

impl Session {
    pub fn take(pool: &Pool) -> Result<Self, StoreError> {
        pool.get()
            .map(|c| Session(RefCell::new(c)))
            .map_err(|e| StoreError::Unavailable(e.to_string()))
    }

    fn statement(c: &mut Client, sql: &str) -> Result<Statement, StoreError> {
        if let Some(st) = c.cache.get(sql) {
            return Ok(st.clone());
        }
        let st = c.client.prepare(&dollar_placeholders(sql))?;
        c.cache.insert(sql.to_owned(), st.clone());
        Ok(st)
    }

    /// Runs `sql` (prepared once per connection) with `params` converted for its
    /// placeholders: through `run`, which executes or queries.
    fn run<R>(
        &self,
        sql: &str,
        params: &[&dyn ToValue],
        run: impl FnOnce(
            &mut postgres::Client,
            &Statement,
            &[&(dyn ToSql + Sync)],
        ) -> Result<R, postgres::Error>,
    ) -> Result<R, StoreError> {
        let mut g = self.0.borrow_mut();
        let st = Self::statement(&mut g, sql)?;
        let vals: Vec<Param> = params.iter().map(|p| Param(p.value())).collect();
        let refs: Vec<&(dyn ToSql + Sync)> = vals.iter().map(|v| v as _).collect();
        Ok(run(&mut g.client, &st, &refs)?)
    }

    fn rows(&self, sql: &str, params: &[&dyn ToValue]) -> Result<Vec<postgres::Row>, StoreError> {
        self.run(sql, params, |c, st, p| c.query(st, p))
    }

    pub fn execute(&self, sql: &str, params: &[&dyn ToValue]) -> Result<usize, StoreError> {
        self.run(sql, params, |c, st, p| c.execute(st, p))
            .map(|n| n as usize)
    }

    pub fn query<T>(
        &self,
        sql: &str,
        params: &[&dyn ToValue],
        mut f: impl FnMut(&Row) -> Result<T, StoreError>,
    ) -> Result<Vec<T>, StoreError> {
        let rows = self.rows(sql, params)?;
        rows.iter().map(|r| f(&Row::Pg(r))).collect()
    }

    pub fn query_one<T>(
        &self,
        sql: &str,
        params: &[&dyn ToValue],
        f: impl FnOnce(&Row) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let rows = self.rows(sql, params)?;
        match rows.first() {
            Some(r) => f(&Row::Pg(r)),
            None => Err(StoreError::NoRow),
        }
    }

    pub fn batch(&self, sql: &str) -> Result<(), StoreError> {
        Ok(self.0.borrow_mut().client.batch_execute(sql)?)
    }
}

/// A transaction begun on a session: rolled back unless committed (an error or a panic in
/// the middle never returns a connection to the pool inside a transaction).
pub struct Open<'a> {
    session: &'a Session,
    done: bool,
}

impl<'a> Open<'a> {
    pub fn begin(session: &'a Session) -> Result<Self, StoreError> {
        session.batch("BEGIN")?;
        Ok(Open {
            session,
            done: false,
        })
    }

    pub fn commit(mut self) -> Result<(), StoreError> {
        self.done = true;
        self.session.batch("COMMIT")
    }
}

impl Drop for Open<'_> {
    fn drop(&mut self) {
        if !self.done {
            if let Err(e) = self.session.batch("ROLLBACK") {
                tracing::warn!(error = %e, "rollback");
            }
        }
    }
}

/// `?N` → `$N` and `?` → `$k` (k counting), outside quoted text.
pub fn dollar_placeholders(sql: &str) -> String {
    let mut out = String::with_capacity(sql.len() + 8);
    let mut quoted = false;
    let mut next = 0;
    let mut chars = sql.chars().peekable();
    while let Some(ch) = chars.next() {
        match ch {
            '\'' => {
                quoted = !quoted;
                out.push(ch);
            }
            '?' if !quoted => {
                out.push('$');
                if chars.peek().is_some_and(|c| c.is_ascii_digit()) {
                    while let Some(d) = chars.peek().copied().filter(char::is_ascii_digit) {
                        out.push(d);
                        chars.next();
                    }
                } else {
                    next += 1;
                    out.push_str(&next.to_string());
                }
            }
            _ => out.push(ch),
        }
    }
    out
}

/// A value converted to the type the server expects for its placeholder.
#[derive(Debug)]
struct Param<'a>(Value<'a>);

impl ToSql for Param<'_> {
    fn to_sql(
        &self,
        ty: &Type,
        out: &mut BytesMut,
    ) -> Result<IsNull, Box<dyn Error + Sync + Send>> {
        match self.0 {
            Value::Null => Ok(IsNull::Yes),
            Value::Int(v) => match *ty {
                Type::INT8 => v.to_sql(ty, out),
                Type::INT4 => i32::try_from(v)?.to_sql(ty, out),
                Type::INT2 => i16::try_from(v)?.to_sql(ty, out),
                Type::FLOAT8 => (v as f64).to_sql(ty, out),
                Type::FLOAT4 => (v as f32).to_sql(ty, out),
                Type::BOOL => (v != 0).to_sql(ty, out),
                Type::TEXT | Type::VARCHAR | Type::UNKNOWN => v.to_string().to_sql(ty, out),
                _ => Err(format!("an integer cannot be bound as {ty}").into()),
            },
            Value::Real(v) => match *ty {
                Type::FLOAT8 => v.to_sql(ty, out),
                Type::FLOAT4 => (v as f32).to_sql(ty, out),
                _ => Err(format!("a real number cannot be bound as {ty}").into()),
            },
            Value::Text(s) => match *ty {
                Type::BYTEA => s.as_bytes().to_sql(ty, out),
                _ => s.to_sql(ty, out),
            },
            Value::Blob(b) => b.to_sql(ty, out),
        }
    }

    fn accepts(_: &Type) -> bool {
        true
    }

    to_sql_checked!();
}

/// The SQLite migrations in PostgreSQL's words: integer keys become identities, INTEGER
/// BIGINT, REAL DOUBLE PRECISION, BLOB BYTEA, SQLite's clock `now()`.
pub fn translate_ddl(sql: &str) -> String {
    let s = sql.replace(
        "CAST(strftime('%s', 'now') AS INTEGER)",
        "CAST(EXTRACT(EPOCH FROM now()) AS BIGINT)",
    );
    let s = s.replace(
        "INTEGER PRIMARY KEY AUTOINCREMENT",
        "BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY",
    );
    let s = s.replace(
        "INTEGER PRIMARY KEY",
        "BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY",
    );
    let words = regex::Regex::new(r"\b(INTEGER|REAL|BLOB)\b").expect("static regex");
    words
        .replace_all(&s, |c: &regex::Captures| match &c[1] {
            "INTEGER" => "BIGINT",
            "REAL" => "DOUBLE PRECISION",
            _ => "BYTEA",
        })
        .into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_become_numbered_outside_quotes() {
        assert_eq!(
            dollar_placeholders("SELECT a FROM t WHERE b = ?2 AND c = '?' AND d = ?1"),
            "SELECT a FROM t WHERE b = $2 AND c = '?' AND d = $1"
        );
        assert_eq!(dollar_placeholders("VALUES (?, ?)"), "VALUES ($1, $2)");
    }

    #[test]
    fn every_migration_translates_to_postgres_types() {
        for m in super::super::schema::MIGRATIONS {
            let t = translate_ddl(m);
            for word in ["INTEGER", " REAL", "BLOB", "strftime"] {
                assert!(!t.contains(word), "{word} left in {t}");
            }
        }
        assert!(translate_ddl("id INTEGER PRIMARY KEY, n INTEGER")
            .contains("id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY, n BIGINT"));
    }
}
