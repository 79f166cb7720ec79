//! Synthetic applicants for `hoso bench` (numbered ids, no real person): each with a
//! running consent and an open dossier, and, when given, one sealed template under its
//! own data key — written straight to the store as a large office's database would be.

use super::{App, AppError};
use crate::applicant::ApplicantId;

impl App {
    /// Applicants `first..first + templates.len()`, each with one template (raw
    /// little-endian f32). Data keys are written and synced one by one, as at the desk, on
    /// `threads` threads.
    pub fn seed_synthetic(
        &self,
        first: usize,
        count: usize,
        templates: Option<&[Vec<u8>]>,
        threads: usize,
    ) -> Result<(), AppError> {
        let sealed = match templates {
            Some(t) => self.seal_synthetic(first, t, threads)?,
            None => Vec::new(),
        };
        let now = crate::store::now();
        self.store.tx(|tx| {
            crate::store::dossiers::seed_synthetic(
                tx,
                crate::consent::PURPOSE,
                first as i64,
                count as i64,
                now,
            )?;
            for (i, s) in sealed.iter().enumerate() {
                let id = (first + i) as i64;
                crate::store::people::insert_template(tx, id, &self.model_id, s, 1.0, now)?;
            }
            Ok(())
        })?;
        Ok(())
    }

    fn seal_synthetic(
        &self,
        first: usize,
        templates: &[Vec<u8>],
        threads: usize,
    ) -> Result<Vec<Vec<u8>>, AppError> {
        let per = templates.len().div_ceil(threads.max(1)).max(1);
        let sealed = std::thread::scope(|s| {
            let hs: Vec<_> = templates
                .chunks(per)
                .enumerate()
                .map(|(k, chunk)| {
                    s.spawn(move || {
                        chunk
                            .iter()
                            .enumerate()
                            .map(|(i, t)| {
                                let who = ApplicantId((first + k * per + i) as i64);
                                let key = self.keys.applicant_key(who.0)?;
                                Ok(crate::crypto::seal(&key, t, who.template_aad().as_bytes())?)
                            })
                            .collect::<Result<Vec<_>, AppError>>()
                    })
                })
                .collect();
            hs.into_iter()
                .map(|h| {
                    h.join()
                        .map_err(|_| AppError::Internal("a seeding thread panicked".into()))?
                })
                .collect::<Result<Vec<_>, AppError>>()
        })?;
        Ok(sealed.into_iter().flatten().collect())
    }
}
