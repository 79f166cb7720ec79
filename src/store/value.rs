//! The values the store's SQL takes and gives, whichever database runs it: what a statement
//! binds ([`Value`], from any [`ToValue`]), one column as the database gave it ([`Cell`],
//! PostgreSQL's binary columns decoded by their type), and a result [`Row`] read as
//! [`FromColumn`] types. Below both `store::db` and `store::pg`.

use std::error::Error;

use postgres::types::{FromSql, Type};

use super::StoreError;

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
        &[] as &[&dyn $crate::store::value::ToValue]
    };
    ($($x:expr),+ $(,)?) => {
        &[$(&$x as &dyn $crate::store::value::ToValue),+] as &[&dyn $crate::store::value::ToValue]
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
                let any: AnyCell = r.try_get(i)?;
                let c = any.cell().map_err(wrong)?;
                T::from_cell(c).ok_or_else(|| wrong(c.kind()))
            }
        }
    }
}

/// Any column, read raw and decoded by its type (`Row::get`).
pub struct AnyCell<'a> {
    ty: Type,
    raw: Option<&'a [u8]>,
}

impl<'a> FromSql<'a> for AnyCell<'a> {
    fn from_sql(ty: &Type, raw: &'a [u8]) -> Result<Self, Box<dyn Error + Sync + Send>> {
        Ok(AnyCell {
            ty: ty.clone(),
            raw: Some(raw),
        })
    }

    fn from_sql_null(ty: &Type) -> Result<Self, Box<dyn Error + Sync + Send>> {
        Ok(AnyCell {
            ty: ty.clone(),
            raw: None,
        })
    }

    fn accepts(_: &Type) -> bool {
        true
    }
}

impl<'a> AnyCell<'a> {
    pub fn cell(&self) -> Result<Cell<'a>, &'static str> {
        let Some(raw) = self.raw else {
            return Ok(Cell::Null);
        };
        let bad = |_| "a malformed value";
        Ok(match self.ty {
            Type::INT8 => Cell::Int(i64::from_sql(&self.ty, raw).map_err(bad)?),
            Type::INT4 => Cell::Int(i32::from_sql(&self.ty, raw).map_err(bad)?.into()),
            Type::INT2 => Cell::Int(i16::from_sql(&self.ty, raw).map_err(bad)?.into()),
            Type::BOOL => Cell::Int(bool::from_sql(&self.ty, raw).map_err(bad)?.into()),
            Type::FLOAT8 => Cell::Real(f64::from_sql(&self.ty, raw).map_err(bad)?),
            Type::FLOAT4 => Cell::Real(f32::from_sql(&self.ty, raw).map_err(bad)?.into()),
            Type::NUMERIC => numeric(raw).ok_or("a malformed numeric")?,
            Type::BYTEA => Cell::Blob(raw),
            Type::TEXT | Type::VARCHAR | Type::BPCHAR | Type::NAME | Type::UNKNOWN => {
                Cell::Text(std::str::from_utf8(raw).map_err(|_| "non-UTF-8 text")?)
            }
            _ => return Err("a type the store does not read"),
        })
    }
}

/// PostgreSQL's binary NUMERIC (what `SUM` and `AVG` of integers return): an integer when
/// it has no fraction, a real otherwise.
fn numeric(raw: &[u8]) -> Option<Cell<'static>> {
    let word =
        |i: usize| -> Option<i16> { Some(i16::from_be_bytes([*raw.get(i)?, *raw.get(i + 1)?])) };
    let ndigits = word(0)?;
    let weight = word(2)?;
    let sign = word(4)? as u16;
    let dscale = word(6)?;
    if sign == 0xC000 {
        return Some(Cell::Real(f64::NAN));
    }
    let mut v = 0f64;
    for i in 0..ndigits.max(0) as usize {
        let d = f64::from(word(8 + 2 * i)?);
        v += d * 10000f64.powi(i32::from(weight) - i as i32);
    }
    if sign == 0x4000 {
        v = -v;
    }
    Some(if dscale == 0 && v.abs() < 9.0e15 {
        Cell::Int(v as i64)
    } else {
        Cell::Real(v)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numerics_decode() {
        // 12345 = weight 1, digits [1, 2345]
        let raw = [0, 2, 0, 1, 0, 0, 0, 0, 0, 1, 0x09, 0x29];
        assert!(matches!(numeric(&raw), Some(Cell::Int(12345))));
        // 1.5 = weight 0, digits [1, 5000], dscale 1
        let raw = [0, 2, 0, 0, 0, 0, 0, 1, 0, 1, 0x13, 0x88];
        assert!(matches!(numeric(&raw), Some(Cell::Real(v)) if (v - 1.5).abs() < 1e-9));
    }
}
