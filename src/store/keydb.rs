//! The key database (`database.keys_url`, `--keys-database`): each applicant's data key,
//! wrapped under the deployment key, in a PostgreSQL database of its own, so that every
//! server of a deployment reads the same keys and no backup of the main database holds
//! one. A purge deletes the key row and vacuums the table at once; what remains readable
//! afterwards is only what PostgreSQL itself still holds (WAL, replicas: README).

use std::collections::HashMap;

use super::pg::{self, Pool};
use super::StoreError;

/// Serialises the key database's schema creation between servers starting together.
const MIGRATE_LOCK: i64 = 7_418_600_010;

pub struct KeyDb {
    pool: Pool,
}

/// Whether two connection strings name the same database (same hosts, ports and name).
fn same_database(a: &str, b: &str) -> bool {
    let (Ok(a), Ok(b)) = (a.parse::<postgres::Config>(), b.parse::<postgres::Config>()) else {
        return a == b;
    };
    let hosts = |c: &postgres::Config| format!("{:?}", c.get_hosts());
    let ports = |c: &postgres::Config| {
        let p = c.get_ports();
        if p.is_empty() {
            vec![5432]
        } else {
            p.to_vec()
        }
    };
    let name = |c: &postgres::Config| {
        c.get_dbname()
            .or(c.get_user())
            .unwrap_or_default()
            .to_owned()
    };
    hosts(&a) == hosts(&b) && ports(&a) == ports(&b) && name(&a) == name(&b)
}

impl KeyDb {
    /// Connects to the key database at `url` and creates its table. Refuses the main
    /// database (`main`, or any database holding Hồ Sơ's records): keys kept beside the
    /// data they unlock would end up in the same backups.
    pub fn open(url: &str, main: Option<&str>, pool_size: u32) -> Result<Self, StoreError> {
        if main.is_some_and(|m| same_database(m, url)) {
            return Err(StoreError::Unsupported(
                "database.keys_url names the main database: the applicants' keys must live in \
                 a database of their own (it may be on the same cluster)",
            ));
        }
        let db = Self {
            pool: pg::pool_named(url, pool_size, "hoso-keys")?,
        };
        let mut c = db.conn()?;
        let c = c.raw();
        let main_here: bool = c
            .query_one("SELECT to_regclass('hoso_schema') IS NOT NULL", &[])?
            .get(0);
        if main_here {
            return Err(StoreError::Unsupported(
                "the key database holds Hồ Sơ's records (it is a main database): give the \
                 applicants' keys a database of their own",
            ));
        }
        let mut tx = c.transaction()?;
        tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATE_LOCK])?;
        tx.batch_execute(
            "CREATE TABLE IF NOT EXISTS applicant_keys (
                 applicant_id BIGINT PRIMARY KEY,
                 wrapped BYTEA NOT NULL,
                 created_at BIGINT NOT NULL)",
        )?;
        tx.commit()?;
        Ok(db)
    }

    fn conn(&self) -> Result<r2d2::PooledConnection<pg::Manager>, StoreError> {
        self.pool
            .get()
            .map_err(|e| StoreError::Unavailable(e.to_string()))
    }

    /// The wrapped key of `applicant`, if there is one.
    pub fn get(&self, applicant: i64) -> Result<Option<Vec<u8>>, StoreError> {
        let mut c = self.conn()?;
        let row = c.raw().query_opt(
            "SELECT wrapped FROM applicant_keys WHERE applicant_id = $1",
            &[&applicant],
        )?;
        Ok(row.map(|r| r.get(0)))
    }

    /// Stores `wrapped` unless `applicant` already has a key, and returns the key that
    /// is stored: two servers creating one person's key at once agree on one.
    pub fn put_if_absent(&self, applicant: i64, wrapped: &[u8]) -> Result<Vec<u8>, StoreError> {
        let mut c = self.conn()?;
        let c = c.raw();
        c.execute(
            "INSERT INTO applicant_keys (applicant_id, wrapped, created_at) VALUES ($1, $2, $3)
             ON CONFLICT (applicant_id) DO NOTHING",
            &[&applicant, &wrapped, &super::now()],
        )?;
        let row = c.query_one(
            "SELECT wrapped FROM applicant_keys WHERE applicant_id = $1",
            &[&applicant],
        )?;
        Ok(row.get(0))
    }

    /// The wrapped keys of `applicants` that exist, in one round trip.
    pub fn get_many(&self, applicants: &[i64]) -> Result<HashMap<i64, Vec<u8>>, StoreError> {
        if applicants.is_empty() {
            return Ok(HashMap::new());
        }
        let mut c = self.conn()?;
        let rows = c.raw().query(
            "SELECT applicant_id, wrapped FROM applicant_keys WHERE applicant_id = ANY($1)",
            &[&applicants],
        )?;
        Ok(rows.iter().map(|r| (r.get(0), r.get(1))).collect())
    }

    /// Deletes `applicant`'s key and vacuums the table, so the row's bytes are not left in
    /// the table's pages. Returns whether there was a key.
    pub fn delete(&self, applicant: i64) -> Result<bool, StoreError> {
        let mut c = self.conn()?;
        let c = c.raw();
        let n = c.execute(
            "DELETE FROM applicant_keys WHERE applicant_id = $1",
            &[&applicant],
        )?;
        if n > 0 {
            c.batch_execute("VACUUM applicant_keys")?;
        }
        Ok(n > 0)
    }

    /// How many keys the database holds (operators' checks and tests).
    pub fn count(&self) -> Result<i64, StoreError> {
        let mut c = self.conn()?;
        Ok(c.raw()
            .query_one("SELECT COUNT(*) FROM applicant_keys", &[])?
            .get(0))
    }
}

#[cfg(test)]
mod tests {
    use super::same_database;

    #[test]
    fn the_same_database_is_recognised_under_two_spellings() {
        assert!(same_database(
            "postgres://hoso@127.0.0.1:5432/hoso",
            "postgresql://other@127.0.0.1/hoso"
        ));
        assert!(!same_database(
            "postgres://hoso@127.0.0.1:5432/hoso",
            "postgres://hoso@127.0.0.1:5432/hoso_keys"
        ));
        assert!(!same_database(
            "postgres://hoso@127.0.0.1:5432/hoso",
            "postgres://hoso@127.0.0.1:5433/hoso"
        ));
    }
}
