//! Who may call what: the one table of access rules for every server function, enforced by
//! the server's auth middleware before the function runs (deny by default: a server function
//! missing from this table is refused, and `server/tests/access.rs` fails the build's tests).
//! Server functions additionally read the caller through [`caller`] and check ownership of
//! the data they touch; this table is about roles, not about whose record it is.

use crate::accounts::session::{AuthUser, RequestAuth};
use crate::accounts::types::Role;
use crate::error::AppError;

/// What a caller needs to be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Anyone, signed in or not.
    Public,
    /// A session that has passed the password but still owes the two-factor code.
    MfaPending,
    /// Any fully signed-in user (staff still setting up two-factor sign-in included, so that
    /// they can set it up).
    SignedIn,
    /// A fully signed-in user with one of these roles (and two-factor sign-in on, where
    /// required for staff).
    Roles(&'static [Role]),
}

pub const ADMIN: Access = Access::Roles(&[Role::Admin]);
pub const PATIENT: Access = Access::Roles(&[Role::Patient]);
pub const DOCTOR: Access = Access::Roles(&[Role::Doctor]);
pub const PATIENT_OR_DOCTOR: Access = Access::Roles(&[Role::Patient, Role::Doctor]);
pub const DOCTOR_OR_ADMIN: Access = Access::Roles(&[Role::Doctor, Role::Admin]);

/// Every server function's path and its rule.
pub static RULES: &[(&str, Access)] = &[
    ("/api/set_language", Access::Public),
    ("/api/accounts/me", Access::Public),
    ("/api/accounts/sign_up", Access::Public),
    ("/api/accounts/sign_in", Access::Public),
    ("/api/accounts/request_reset", Access::Public),
    ("/api/accounts/complete_reset", Access::Public),
    ("/api/accounts/verify_code", Access::MfaPending),
    ("/api/accounts/sign_out", Access::SignedIn),
    ("/api/accounts/sign_out_everywhere", Access::SignedIn),
    ("/api/accounts/change_password", Access::SignedIn),
    ("/api/accounts/sessions", Access::SignedIn),
    ("/api/accounts/mfa_begin", Access::SignedIn),
    ("/api/accounts/mfa_confirm", Access::SignedIn),
    ("/api/accounts/mfa_disable", Access::SignedIn),
    ("/api/admin/users", ADMIN),
    ("/api/admin/create_user", ADMIN),
    ("/api/admin/set_user_active", ADMIN),
    ("/api/admin/audit_log", ADMIN),
    ("/api/admin/emails", ADMIN),
    ("/api/admin/resend_email", ADMIN),
    ("/api/admin/email_message", ADMIN),
    ("/api/profile/get", PATIENT),
    ("/api/profile/save", PATIENT),
    ("/api/records/timeline", PATIENT),
    ("/api/records/delete_account", PATIENT),
    ("/api/consultations/request", PATIENT),
    ("/api/payments/panel", PATIENT),
    ("/api/payments/pay", PATIENT),
    ("/api/admin/payments", ADMIN),
    ("/api/consultations/list", PATIENT),
    ("/api/consultations/detail", PATIENT),
    ("/api/consultations/send", PATIENT_OR_DOCTOR),
    ("/api/consultations/queue", DOCTOR),
    ("/api/consultations/claim", DOCTOR),
    ("/api/consultations/release", DOCTOR_OR_ADMIN),
    ("/api/consultations/case", DOCTOR),
    ("/api/consultations/close", DOCTOR),
    ("/api/consultations/note", DOCTOR),
    ("/api/consultations/override", DOCTOR),
    ("/api/consultations/doctors", DOCTOR_OR_ADMIN),
    ("/api/consultations/reassign", DOCTOR_OR_ADMIN),
    ("/api/consultations/break_glass", DOCTOR),
    ("/api/consultations/break_glass_log", ADMIN),
    ("/api/consultations/typing", PATIENT_OR_DOCTOR),
    ("/api/consultations/held", ADMIN),
    ("/api/documents/list", PATIENT),
    ("/api/documents/labs", PATIENT),
    ("/api/documents/delete", PATIENT),
    ("/api/assistant/conversations", PATIENT),
    ("/api/assistant/conversation", PATIENT),
    ("/api/assistant/consent", PATIENT),
];

/// Every plain HTTP endpoint under `/api/` that is not a server function (file uploads and
/// downloads, event streams, machine callbacks): its method, its path, and its rule. A `{id}`
/// segment stands for any one path segment. The auth middleware applies these exactly like
/// [`RULES`]; handlers check the caller again and own the ownership checks.
pub static ENDPOINTS: &[(&str, &str, Access)] = &[
    ("GET", "/api/records/fhir", PATIENT),
    ("GET", "/api/events", Access::SignedIn),
    ("GET", "/api/cases/{id}/documents/{id}", DOCTOR),
    ("POST", "/api/documents", PATIENT),
    ("GET", "/api/documents/{id}", PATIENT),
    ("POST", "/api/assistant/messages", PATIENT),
    // M-Pesa has no session; see `payments::http` for how the callback is checked.
    ("POST", "/api/payments/mpesa/callback", Access::Public),
    ("GET", "/api/admin/payments.csv", ADMIN),
];

/// The rule for a server function's path; `None` means "not in the table": refuse.
pub fn rule_for(path: &str) -> Option<Access> {
    RULES.iter().find(|(p, _)| *p == path).map(|(_, a)| *a)
}

/// The rule for a request to `path` with `method`: a server function's, or an endpoint's.
pub fn rule_for_request(method: &str, path: &str) -> Option<Access> {
    rule_for(path).or_else(|| endpoint(method, path).map(|(_, _, a)| *a))
}

/// The pattern of the endpoint `method` `path` is a request to, e.g. `/api/documents/{id}`.
pub fn endpoint_pattern(method: &str, path: &str) -> Option<&'static str> {
    endpoint(method, path).map(|(_, pattern, _)| *pattern)
}

fn endpoint(method: &str, path: &str) -> Option<&'static (&'static str, &'static str, Access)> {
    ENDPOINTS
        .iter()
        .find(|(m, pattern, _)| *m == method && path_matches(pattern, path))
}

/// Whether `path` fits `pattern`, where a `{…}` segment matches any one non-empty segment.
fn path_matches(pattern: &str, path: &str) -> bool {
    let mut want = pattern.split('/');
    let mut got = path.split('/');
    loop {
        match (want.next(), got.next()) {
            (None, None) => return true,
            (Some(w), Some(g)) if w.starts_with('{') && w.ends_with('}') && !g.is_empty() => {}
            (Some(w), Some(g)) if w == g => {}
            _ => return false,
        }
    }
}

/// Whether `auth` satisfies `access`; the refusal says why (401 or 403).
pub fn check(access: Access, auth: Option<&AuthUser>) -> Result<(), AppError> {
    match (access, auth) {
        (Access::Public, _) => Ok(()),
        (Access::MfaPending, Some(user)) if user.mfa_pending => Ok(()),
        (_, None) => Err(AppError::Unauthenticated),
        (_, Some(user)) if user.mfa_pending => Err(AppError::Unauthenticated),
        (Access::MfaPending, Some(_)) => Err(AppError::Forbidden),
        (Access::SignedIn, Some(_)) => Ok(()),
        (Access::Roles(roles), Some(user)) => {
            if !roles.contains(&user.role) {
                Err(AppError::Forbidden)
            } else if user.needs_mfa_setup {
                Err(AppError::MfaSetupRequired)
            } else {
                Ok(())
            }
        }
    }
}

/// The caller of the server function being run, as the middleware found them.
pub fn caller() -> Option<AuthUser> {
    let parts = leptos::prelude::use_context::<http::request::Parts>()?;
    parts
        .extensions
        .get::<RequestAuth>()
        .and_then(|a| a.0.clone())
}

/// The caller, who must satisfy `access` (checked again here, so that a server function is
/// safe even if mounted without the middleware).
pub fn require(access: Access) -> Result<AuthUser, AppError> {
    let user = caller();
    check(access, user.as_ref()).map_err(crate::platform::reject)?;
    user.ok_or_else(|| crate::platform::reject(AppError::Unauthenticated))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user(role: Role, mfa_pending: bool, needs_mfa_setup: bool) -> AuthUser {
        AuthUser {
            user_id: "u".into(),
            role,
            name: String::new(),
            email: String::new(),
            mfa_enabled: !needs_mfa_setup,
            mfa_pending,
            needs_mfa_setup,
            session_hash: String::new(),
        }
    }

    #[test]
    fn the_rules_decide_by_role_and_session_state() {
        let patient = user(Role::Patient, false, false);
        let admin = user(Role::Admin, false, false);
        let admin_without_mfa = user(Role::Admin, false, true);
        let pending = user(Role::Admin, true, false);
        assert_eq!(check(ADMIN, None), Err(AppError::Unauthenticated));
        assert_eq!(check(ADMIN, Some(&patient)), Err(AppError::Forbidden));
        assert_eq!(check(ADMIN, Some(&admin)), Ok(()));
        assert_eq!(
            check(ADMIN, Some(&admin_without_mfa)),
            Err(AppError::MfaSetupRequired)
        );
        assert_eq!(check(Access::SignedIn, Some(&admin_without_mfa)), Ok(()));
        assert_eq!(check(ADMIN, Some(&pending)), Err(AppError::Unauthenticated));
        assert_eq!(check(Access::MfaPending, Some(&pending)), Ok(()));
        assert_eq!(
            check(Access::MfaPending, Some(&admin)),
            Err(AppError::Forbidden)
        );
        assert_eq!(check(Access::Public, None), Ok(()));
    }

    #[test]
    fn endpoint_patterns_match_one_segment_per_placeholder() {
        assert!(path_matches("/api/a/{id}/b", "/api/a/42/b"));
        assert!(!path_matches("/api/a/{id}/b", "/api/a//b"));
        assert!(!path_matches("/api/a/{id}/b", "/api/a/42/b/c"));
        assert!(!path_matches("/api/a/{id}", "/api/a"));
        assert_eq!(rule_for_request("GET", "/api/records/fhir"), Some(PATIENT));
        assert_eq!(rule_for_request("POST", "/api/records/fhir"), None);
    }

    #[test]
    fn paths_are_unique_in_the_table() {
        let mut paths: Vec<_> = RULES.iter().map(|(p, _)| *p).collect();
        paths.sort_unstable();
        let before = paths.len();
        paths.dedup();
        assert_eq!(before, paths.len());
    }
}
