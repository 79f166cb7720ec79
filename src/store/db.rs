//! The store's one way of speaking SQL, whichever database holds the data: SQLite (the
//! embedded default, one office) or PostgreSQL (a deployment of many servers; `store::pg`).
//! Statements are written once, in SQL both understand, with `?N` placeholders; values go
//! in as [`ToValue`] (`p![…]`) and come out of a [`Row`] as [`FromColumn`] types. A [`Tx`]
//! is a [`Conn`] inside a transaction.

use std::ops::Deref;

use super::pg;
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

/// A value bound to a statement.
#[derive(Clone, Copy, Debug)]
pub enum Value<'a> {
    Null,
    Int(i64),
    Real(f64),
    Text(&'a str),
    Blob(&'a [u8]),
}

/// What can be bound to a statement.
pub trait ToValue {
    fn value(&self) -> Value<'_>;
}

macro_rules! int_value {
    ($($t:ty),*) => {$(
        impl ToValue for $t {
            fn value(&self) -> Value<'_> {
                Value::Int(*self as i64)
            }
        }
    )*};
}
int_value!(i64, i32, u32, u16, u8, usize);

impl ToValue for bool {
    fn value(&self) -> Value<'_> {
        Value::Int(i64::from(*self))
    }
}
impl ToValue for f64 {
    fn value(&self) -> Value<'_> {
        Value::Real(*self)
    }
}
impl ToValue for f32 {
    fn value(&self) -> Value<'_> {
        Value::Real(f64::from(*self))
    }
}
impl ToValue for str {
    fn value(&self) -> Value<'_> {
        Value::Text(self)
    }
}
impl ToValue for String {
    fn value(&self) -> Value<'_> {
        Value::Text(self)
    }
}
impl ToValue for [u8] {
    fn value(&self) -> Value<'_> {
        Value::Blob(self)
    }
}
impl ToValue for Vec<u8> {
    fn value(&self) -> Value<'_> {
        Value::Blob(self)
    }
}
impl<const N: usize> ToValue for [u8; N] {
    fn value(&self) -> Value<'_> {
        Value::Blob(self)
    }
}
impl<T: ToValue + ?Sized> ToValue for &T {
    fn value(&self) -> Value<'_> {
        (**self).value()
    }
}
impl<T: ToValue> ToValue for Option<T> {
    fn value(&self) -> Value<'_> {
        match self {
            Some(v) => v.value(),
            None => Value::Null,
        }
    }
}

/// The values of a statement's placeholders, in order: `p![a, b]`.
#[macro_export]
macro_rules! p {
    () => {
        &[] as &[&dyn $crate::store::db::ToValue]
    };
    ($($x:expr),+ $(,)?) => {
        &[$(&$x as &dyn $crate::store::db::ToValue),+] as &[&dyn $crate::store::db::ToValue]
    };
}

/// One column of a result row as the database gave it.
#[derive(Clone, Copy, Debug)]
pub enum Cell<'a> {
    Null,
    Int(i64),
    Real(f64),
    Text(&'a str),
    Blob(&'a [u8]),
}

impl Cell<'_> {
    fn kind(&self) -> &'static str {
        match self {
            Cell::Null => "NULL",
            Cell::Int(_) => "integer",
            Cell::Real(_) => "real",
            Cell::Text(_) => "text",
            Cell::Blob(_) => "blob",
        }
    }
}

/// What can be read out of a column.
pub trait FromColumn: Sized {
    /// `None` when the cell cannot be this type.
    fn from_cell(c: Cell<'_>) -> Option<Self>;
    const NAME: &'static str;
}

impl FromColumn for i64 {
    fn from_cell(c: Cell<'_>) -> Option<Self> {
        match c {
            Cell::Int(v) => Some(v),
            _ => None,
        }
    }
    const NAME: &'static str = "integer";
}
macro_rules! narrow_int {
    ($($t:ty),*) => {$(
        impl FromColumn for $t {
            fn from_cell(c: Cell<'_>) -> Option<Self> {
                i64::from_cell(c).and_then(|v| <$t>::try_from(v).ok())
            }
            const NAME: &'static str = stringify!($t);
        }
    )*};
}
narrow_int!(i32, u32, u8, usize);

impl FromColumn for bool {
    fn from_cell(c: Cell<'_>) -> Option<Self> {
        i64::from_cell(c).map(|v| v != 0)
    }
    const NAME: &'static str = "boolean";
}
impl FromColumn for f64 {
    fn from_cell(c: Cell<'_>) -> Option<Self> {
        match c {
            Cell::Real(v) => Some(v),
            Cell::Int(v) => Some(v as f64),
            _ => None,
        }
    }
    const NAME: &'static str = "real";
}
impl FromColumn for f32 {
    fn from_cell(c: Cell<'_>) -> Option<Self> {
        f64::from_cell(c).map(|v| v as f32)
    }
    const NAME: &'static str = "real";
}
impl FromColumn for String {
    fn from_cell(c: Cell<'_>) -> Option<Self> {
        match c {
            Cell::Text(s) => Some(s.to_owned()),
            _ => None,
        }
    }
    const NAME: &'static str = "text";
}
impl FromColumn for Vec<u8> {
    fn from_cell(c: Cell<'_>) -> Option<Self> {
        match c {
            Cell::Blob(b) => Some(b.to_vec()),
            _ => None,
        }
    }
    const NAME: &'static str = "blob";
}
impl<T: FromColumn> FromColumn for Option<T> {
    fn from_cell(c: Cell<'_>) -> Option<Self> {
        match c {
            Cell::Null => Some(None),
            c => T::from_cell(c).map(Some),
        }
    }
    const NAME: &'static str = T::NAME;
}

/// A column index (`row.get(0)`).
pub trait ColIndex {
    fn index(self) -> usize;
}
impl ColIndex for usize {
    fn index(self) -> usize {
        self
    }
}

/// One row of a result.
pub enum Row<'a> {
    Lite(&'a rusqlite::Row<'a>),
    Pg(&'a postgres::Row),
}

impl Row<'_> {
    pub fn get<I: ColIndex, T: FromColumn>(&self, i: I) -> Result<T, StoreError> {
        let i = i.index();
        let wrong = |found: &'static str| StoreError::Column {
            index: i,
            expected: T::NAME,
            found,
        };
        match self {
            Row::Lite(r) => {
                let v = r.get_ref(i)?;
                let c = match v {
                    rusqlite::types::ValueRef::Null => Cell::Null,
                    rusqlite::types::ValueRef::Integer(n) => Cell::Int(n),
                    rusqlite::types::ValueRef::Real(f) => Cell::Real(f),
                    rusqlite::types::ValueRef::Text(t) => {
                        Cell::Text(std::str::from_utf8(t).map_err(|_| wrong("non-UTF-8 text"))?)
                    }
                    rusqlite::types::ValueRef::Blob(b) => Cell::Blob(b),
                };
                T::from_cell(c).ok_or_else(|| wrong(c.kind()))
            }
            Row::Pg(r) => {
                let any: pg::AnyCell = r.try_get(i)?;
                let c = any.cell().map_err(wrong)?;
                T::from_cell(c).ok_or_else(|| wrong(c.kind()))
            }
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
