//! Every kind of entry the audit log records, with its stable code (what the log stores,
//! the admin's filter matches and the exports show).

/// An audited action.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Action {
    ApplicantCreate,
    ConsentGrant,
    ConsentWithdraw,
    ConsentPrint,
    FaceEnrol,
    BiometricsPurge,
    RetentionPurge,
    RetentionRun,
    DossierCreate,
    DossierStatus,
    StatusImport,
    ReceiptPrint,
    ApologyPrint,
    RequestCreate,
    RequestAcknowledge,
    RequestComplete,
    RequestReject,
    RequestPurge,
    RequestExport,
    UserCreate,
    UserUpdate,
    Login,
    LoginFailed,
    TokenIssue,
    TokenRevoke,
    DevicePair,
    SettingsChange,
    BackupCreate,
    AuditExport,
    KioskMatch,
    KioskAttackSuspected,
    KioskLookupCode,
    KioskLookupMiss,
    KioskLookupQr,
    KioskHelpCall,
    KioskSecondStep,
    KioskSecondStepMiss,
    HelpAnswer,
    BackupRestore,
    FaceDiscard,
    FaceReenrol,
    DuplicateView,
    DuplicateResolve,
    NameReveal,
    OfficeCreate,
    ApplicantLink,
    CodeUnlock,
}

impl Action {
    pub const ALL: &'static [Action] = &[
        Action::ApplicantCreate,
        Action::ConsentGrant,
        Action::ConsentWithdraw,
        Action::ConsentPrint,
        Action::FaceEnrol,
        Action::BiometricsPurge,
        Action::RetentionPurge,
        Action::RetentionRun,
        Action::DossierCreate,
        Action::DossierStatus,
        Action::StatusImport,
        Action::ReceiptPrint,
        Action::ApologyPrint,
        Action::RequestCreate,
        Action::RequestAcknowledge,
        Action::RequestComplete,
        Action::RequestReject,
        Action::RequestPurge,
        Action::RequestExport,
        Action::UserCreate,
        Action::UserUpdate,
        Action::Login,
        Action::LoginFailed,
        Action::TokenIssue,
        Action::TokenRevoke,
        Action::DevicePair,
        Action::SettingsChange,
        Action::BackupCreate,
        Action::AuditExport,
        Action::KioskMatch,
        Action::KioskAttackSuspected,
        Action::KioskLookupCode,
        Action::KioskLookupMiss,
        Action::KioskLookupQr,
        Action::KioskHelpCall,
        Action::KioskSecondStep,
        Action::KioskSecondStepMiss,
        Action::HelpAnswer,
        Action::BackupRestore,
        Action::FaceDiscard,
        Action::FaceReenrol,
        Action::DuplicateView,
        Action::DuplicateResolve,
        Action::NameReveal,
        Action::OfficeCreate,
        Action::ApplicantLink,
        Action::CodeUnlock,
    ];

    /// The code stored in the log.
    pub fn code(self) -> &'static str {
        match self {
            Action::ApplicantCreate => "applicant.create",
            Action::ConsentGrant => "consent.grant",
            Action::ConsentWithdraw => "consent.withdraw",
            Action::ConsentPrint => "consent.print",
            Action::FaceEnrol => "face.enrol",
            Action::BiometricsPurge => "biometrics.purge",
            Action::RetentionPurge => "retention.purge",
            Action::RetentionRun => "retention.run",
            Action::DossierCreate => "dossier.create",
            Action::DossierStatus => "dossier.status",
            Action::StatusImport => "status.import",
            Action::ReceiptPrint => "receipt.print",
            Action::ApologyPrint => "apology.print",
            Action::RequestCreate => "request.create",
            Action::RequestAcknowledge => "request.acknowledge",
            Action::RequestComplete => "request.complete",
            Action::RequestReject => "request.reject",
            Action::RequestPurge => "request.purge",
            Action::RequestExport => "request.export",
            Action::UserCreate => "user.create",
            Action::UserUpdate => "user.update",
            Action::Login => "login",
            Action::LoginFailed => "login.failed",
            Action::TokenIssue => "token.issue",
            Action::TokenRevoke => "token.revoke",
            Action::DevicePair => "device.pair",
            Action::SettingsChange => "settings.change",
            Action::BackupCreate => "backup.create",
            Action::AuditExport => "audit.export",
            Action::KioskMatch => "kiosk.match",
            Action::KioskAttackSuspected => "kiosk.attack_suspected",
            Action::KioskLookupCode => "kiosk.lookup_code",
            Action::KioskLookupMiss => "kiosk.lookup_miss",
            Action::KioskLookupQr => "kiosk.lookup_qr",
            Action::KioskHelpCall => "kiosk.help_call",
            Action::KioskSecondStep => "kiosk.second_step",
            Action::KioskSecondStepMiss => "kiosk.second_step_miss",
            Action::HelpAnswer => "help.answer",
            Action::BackupRestore => "backup.restore",
            Action::FaceDiscard => "face.discard",
            Action::FaceReenrol => "face.reenrol",
            Action::DuplicateView => "face.duplicate_view",
            Action::DuplicateResolve => "face.duplicate_resolve",
            Action::NameReveal => "applicant.reveal",
            Action::OfficeCreate => "office.create",
            Action::ApplicantLink => "applicant.link",
            Action::CodeUnlock => "dossier.unlock",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Action;

    #[test]
    fn codes_are_distinct_and_dotted_families() {
        let mut seen = std::collections::HashSet::new();
        for a in Action::ALL {
            assert!(seen.insert(a.code()), "{a:?} repeats {}", a.code());
            assert!(a
                .code()
                .chars()
                .all(|c| c.is_ascii_lowercase() || "._".contains(c)));
        }
        assert_eq!(seen.len(), Action::ALL.len());
    }
}
