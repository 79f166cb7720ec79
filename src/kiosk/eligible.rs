//! Who a kiosk may identify: the applicants with a running consent and an open dossier,
//! by office (DESIGN.md §9). A kiosk of an office searches that office's applicants; a
//! province-wide search (`kiosk.scope = "province"`) searches all of them.

use std::collections::{HashMap, HashSet};

/// The searchable applicants, by office.
#[derive(Debug, Default)]
pub struct Eligible {
    by_office: HashMap<i64, HashSet<i64>>,
    any: HashSet<i64>,
}

impl Eligible {
    /// From (applicant, office) pairs: one per open dossier.
    pub fn new(pairs: impl IntoIterator<Item = (i64, i64)>) -> Self {
        let mut e = Eligible::default();
        for (applicant, office) in pairs {
            e.by_office.entry(office).or_default().insert(applicant);
            e.any.insert(applicant);
        }
        e
    }

    /// The applicants a search within `office` covers (None: every office).
    pub fn within(&self, office: Option<i64>) -> &HashSet<i64> {
        static NONE: std::sync::OnceLock<HashSet<i64>> = std::sync::OnceLock::new();
        match office {
            None => &self.any,
            Some(o) => self
                .by_office
                .get(&o)
                .unwrap_or_else(|| NONE.get_or_init(HashSet::new)),
        }
    }

    /// Applicants eligible anywhere.
    pub fn len(&self) -> usize {
        self.any.len()
    }

    pub fn is_empty(&self) -> bool {
        self.any.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_office_sees_its_own_applicants_and_the_province_sees_all() {
        // Applicant 1 at office 1; 2 at office 2; 3 at both.
        let e = Eligible::new([(1, 1), (2, 2), (3, 1), (3, 2)]);
        assert!(e.within(Some(1)).contains(&1) && !e.within(Some(1)).contains(&2));
        assert!(e.within(Some(2)).contains(&2) && !e.within(Some(2)).contains(&1));
        assert!(e.within(Some(1)).contains(&3) && e.within(Some(2)).contains(&3));
        assert_eq!(e.within(None).len(), 3);
        assert!(e.within(Some(9)).is_empty());
        assert_eq!(e.len(), 3);
    }
}
