//! The store's one way of speaking SQL, whichever database holds the data: SQLite (the
//! embedded default, one office) or PostgreSQL (a deployment of many servers; `store::pg`).
//! Statements are written once, in SQL both understand, with `?N` placeholders; values go
//! in as [`ToValue`] (`p![…]`) and come out of a [`Row`] as [`FromColumn`] types. A [`Tx`]
//! is a [`Conn`] inside a transaction.

use std::ops::Deref;

use super::pg;
pub use super::value::{Cell, ColIndex, FromColumn, Row, ToValue, Value};
use super::StoreError;

/// Which SQL the connection speaks, for the few statements that differ (`Dialect` helpers).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Dialect {
    Sqlite,
    Postgres,
}

impl Dialect {
    /// The calendar day (`YYYY-MM-DD`) of `secs`, an expression of unix seconds (already
    /// shifted to local time).
    pub fn day(self, secs: &str) -> String {
        match self {
            Dialect::Sqlite => format!("date({secs}, 'unixepoch')"),
            Dialect::Postgres => {
                format!("to_char(to_timestamp({secs}) AT TIME ZONE 'UTC', 'YYYY-MM-DD')")
            }
        }
    }

    /// The Monday (`YYYY-MM-DD`) of the week of `secs` (as for [`Dialect::day`]).
    pub fn week(self, secs: &str) -> String {
        match self {
            Dialect::Sqlite => format!("date({secs}, 'unixepoch', 'weekday 0', '-6 days')"),
            Dialect::Postgres => format!(
                "to_char(date_trunc('week', to_timestamp({secs}) AT TIME ZONE 'UTC'), 'YYYY-MM-DD')"
            ),
        }
    }

    /// The largest of several values (SQLite's many-argument `max`, PostgreSQL's `GREATEST`).
    pub fn greatest(self, items: &[&str]) -> String {
        let items = items.join(", ");
        match self {
            Dialect::Sqlite => format!("max({items})"),
            Dialect::Postgres => format!("GREATEST({items})"),
        }
    }
}

/// Turns "no row" into `None` (`query_row(..).optional()`).
pub trait OptionalRow<T> {
    fn optional(self) -> Result<Option<T>, StoreError>;
}

impl<T> OptionalRow<T> for Result<T, StoreError> {
    fn optional(self) -> Result<Option<T>, StoreError> {
        match self {
            Ok(v) => Ok(Some(v)),
            Err(StoreError::NoRow) => Ok(None),
            Err(e) => Err(e),
        }
    }
}

type Params<'p> = &'p [&'p dyn ToValue];

struct LiteParam<'a>(&'a dyn ToValue);

impl rusqlite::ToSql for LiteParam<'_> {
    fn to_sql(&self) -> rusqlite::Result<rusqlite::types::ToSqlOutput<'_>> {
        use rusqlite::types::{ToSqlOutput, ValueRef};
        Ok(ToSqlOutput::Borrowed(match self.0.value() {
            Value::Null => ValueRef::Null,
            Value::Int(v) => ValueRef::Integer(v),
            Value::Real(v) => ValueRef::Real(v),
            Value::Text(s) => ValueRef::Text(s.as_bytes()),
            Value::Blob(b) => ValueRef::Blob(b),
        }))
    }
}

fn lite_params<'a>(params: Params<'a>) -> impl rusqlite::Params + 'a {
    rusqlite::params_from_iter(params.iter().map(|p| LiteParam(*p)))
}

/// A connection to the store's database: SQLite's one connection or a pooled PostgreSQL one.
#[derive(Clone, Copy)]
pub enum Conn<'a> {
    Lite(&'a rusqlite::Connection),
    Pg(&'a pg::Session),
}

impl<'a> Conn<'a> {
    pub fn dialect(&self) -> Dialect {
        match self {
            Conn::Lite(_) => Dialect::Sqlite,
            Conn::Pg(_) => Dialect::Postgres,
        }
    }

    /// Runs one statement; the number of rows it changed.
    pub fn execute(&self, sql: &str, params: Params) -> Result<usize, StoreError> {
        match self {
            Conn::Lite(c) => Ok(c.prepare_cached(sql)?.execute(lite_params(params))?),
            Conn::Pg(s) => s.execute(sql, params),
        }
    }

    /// Runs an `INSERT` into a table with an `id` key; the new row's id.
    pub fn insert(&self, sql: &str, params: Params) -> Result<i64, StoreError> {
        match self {
            Conn::Lite(c) => {
                c.prepare_cached(sql)?.execute(lite_params(params))?;
                Ok(c.last_insert_rowid())
            }
            Conn::Pg(s) => {
                let sql = format!("{sql} RETURNING id");
                s.query_one(&sql, params, |r| r.get(0))
            }
        }
    }

    /// Runs several statements without parameters.
    pub fn execute_batch(&self, sql: &str) -> Result<(), StoreError> {
        match self {
            Conn::Lite(c) => Ok(c.execute_batch(sql)?),
            Conn::Pg(s) => s.batch(sql),
        }
    }

    /// The first row of a query, mapped by `f`; `StoreError::NoRow` when there is none.
    pub fn query_row<T>(
        &self,
        sql: &str,
        params: Params,
        f: impl FnOnce(&Row) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        match self {
            Conn::Lite(c) => {
                let mut st = c.prepare_cached(sql)?;
                let mut rows = st.query(lite_params(params))?;
                match rows.next()? {
                    Some(r) => f(&Row::Lite(r)),
                    None => Err(StoreError::NoRow),
                }
            }
            Conn::Pg(s) => s.query_one(sql, params, f),
        }
    }

    /// Every row of a query, each mapped by `f`.
    pub fn query_map<T>(
        &self,
        sql: &str,
        params: Params,
        mut f: impl FnMut(&Row) -> Result<T, StoreError>,
    ) -> Result<Vec<T>, StoreError> {
        match self {
            Conn::Lite(c) => {
                let mut st = c.prepare_cached(sql)?;
                let mut rows = st.query(lite_params(params))?;
                let mut out = Vec::new();
                while let Some(r) = rows.next()? {
                    out.push(f(&Row::Lite(r))?);
                }
                Ok(out)
            }
            Conn::Pg(s) => s.query(sql, params, f),
        }
    }

    /// A statement to run later (kept for the code that prepares once and runs in a loop).
    pub fn prepare(&self, sql: &str) -> Result<Stmt<'a>, StoreError> {
        Ok(Stmt {
            conn: *self,
            sql: sql.to_owned(),
        })
    }
}

/// A prepared statement (cached by the connection).
pub struct Stmt<'a> {
    conn: Conn<'a>,
    sql: String,
}

impl Stmt<'_> {
    pub fn query_map<T>(
        &mut self,
        params: Params,
        f: impl FnMut(&Row) -> Result<T, StoreError>,
    ) -> Result<impl Iterator<Item = Result<T, StoreError>>, StoreError> {
        Ok(self
            .conn
            .query_map(&self.sql, params, f)?
            .into_iter()
            .map(Ok))
    }

    pub fn execute(&mut self, params: Params) -> Result<usize, StoreError> {
        self.conn.execute(&self.sql, params)
    }
}

/// A connection inside a transaction: everything done through it is committed together or
/// not at all (see `Store::tx`).
pub struct Tx<'a>(pub(super) Conn<'a>);

impl<'a> Deref for Tx<'a> {
    type Target = Conn<'a>;
    fn deref(&self) -> &Conn<'a> {
        &self.0
    }
}

/// A store result (what row mappers return).
pub type DbResult<T> = Result<T, StoreError>;
