//! The seed's stateless API: tokens, hashing, and single-session operations.

use std::collections::HashMap;
use std::time::{Duration, SystemTime};

use sessions::*;

fn opts(user: &str) -> CreateSessionOptions {
    CreateSessionOptions::for_user(user)
}

#[test]
fn tokens_are_long_unique_and_url_safe() {
    let a = generate_secure_token(32).unwrap();
    let b = generate_secure_token(32).unwrap();
    assert!(a.len() >= 32);
    assert_eq!(a.len(), 43);
    assert_ne!(a, b);
    assert!(a
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'));
    assert!(generate_secure_token(64).unwrap().len() >= 64);
}

#[test]
fn token_length_out_of_range_is_an_error() {
    for bytes in [
        i32::MIN,
        -1,
        0,
        MIN_TOKEN_BYTES - 1,
        MAX_TOKEN_BYTES + 1,
        i32::MAX,
    ] {
        assert!(matches!(
            generate_secure_token(bytes),
            Err(SessionError::InvalidTokenLength { .. })
        ));
    }
    assert!(generate_secure_token(MIN_TOKEN_BYTES).is_ok());
    assert!(generate_secure_token(MAX_TOKEN_BYTES).is_ok());
}

#[test]
fn hashing_is_deterministic_hex_and_differs_from_token() {
    let t = generate_secure_token(32).unwrap();
    let h = hash_token(t.clone());
    assert_eq!(h, hash_token(t.clone()));
    assert_ne!(h, t);
    assert_eq!(h.len(), 64);
    assert!(h
        .chars()
        .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase()));
}

#[test]
fn create_session_defaults_to_exactly_24_hours() {
    let s = create_session(opts("u1")).unwrap();
    assert_eq!(
        s.expires_at.duration_since(s.created_at).unwrap(),
        DEFAULT_EXPIRES_IN
    );
    assert_eq!(s.token_hash, hash_token(s.token.clone()));
    assert_eq!(s.sliding_expiration, Some(false));
    assert_eq!(s.revoked_at, None);
    assert_eq!(s.id.len(), 36);
}

#[test]
fn custom_expires_in_is_exact_and_metadata_round_trips() {
    let metadata = HashMap::from([("device".to_string(), "phone".to_string())]);
    let s = create_session(CreateSessionOptions {
        expires_in: Some(Duration::from_millis(90_123)),
        metadata: Some(metadata.clone()),
        ..opts("u1")
    })
    .unwrap();
    assert_eq!(
        s.expires_at.duration_since(s.created_at).unwrap(),
        Duration::from_millis(90_123)
    );
    assert_eq!(s.metadata, Some(metadata));
}

#[test]
fn create_session_rejects_bad_input() {
    assert!(matches!(
        create_session(opts("")),
        Err(SessionError::InvalidUserId { .. })
    ));
    assert!(matches!(
        create_session(opts(&"x".repeat(257))),
        Err(SessionError::InvalidUserId { .. })
    ));
    assert!(create_session(opts(&"x".repeat(256))).is_ok());
    let zero = CreateSessionOptions {
        expires_in: Some(Duration::ZERO),
        ..opts("u")
    };
    assert!(matches!(
        create_session(zero),
        Err(SessionError::InvalidLifetime { .. })
    ));
    let too_long = CreateSessionOptions {
        expires_in: Some(DEFAULT_MAX_LIFETIME + Duration::from_secs(1)),
        ..opts("u")
    };
    assert!(matches!(
        create_session(too_long),
        Err(SessionError::InvalidLifetime { .. })
    ));
    let many: HashMap<_, _> = (0..65)
        .map(|i| (format!("k{i}"), "v".to_string()))
        .collect();
    let big = HashMap::from([("k".to_string(), "x".repeat(8192))]);
    for metadata in [many, big] {
        let o = CreateSessionOptions {
            metadata: Some(metadata),
            ..opts("u")
        };
        assert!(matches!(
            create_session(o),
            Err(SessionError::MetadataTooLarge { .. })
        ));
    }
}

#[test]
fn validate_session_checks_token_then_revoked_then_expired() {
    let s = create_session(opts("u")).unwrap();
    let ok = validate_session(s.token.clone(), s.clone(), None);
    assert!(ok.valid);
    assert_eq!(
        ok.session.as_ref().map(|x| x.id.clone()),
        Some(s.id.clone())
    );

    let wrong = validate_session("nope".into(), s.clone(), None);
    assert_eq!(wrong.error, Some(ValidationError::InvalidToken));
    assert!(!wrong.valid && wrong.session.is_none());

    let revoked = destroy_session(s.clone());
    assert!(revoked.revoked_at.is_some());
    assert_eq!(
        validate_session(s.token.clone(), revoked, None).error,
        Some(ValidationError::SessionRevoked)
    );

    let mut expired = s.clone();
    expired.expires_at = SystemTime::now() - Duration::from_secs(1);
    assert_eq!(
        validate_session(s.token.clone(), expired, None).error,
        Some(ValidationError::SessionExpired)
    );
}

#[test]
fn validate_session_checks_user_agent_last() {
    let mut s = create_session(opts("u")).unwrap();
    s.bound_user_agent = Some("Firefox".into());
    let t = s.token.clone();
    assert!(validate_session(t.clone(), s.clone(), Some("Firefox".into())).valid);
    assert_eq!(
        validate_session(t.clone(), s.clone(), Some("Chrome".into())).error,
        Some(ValidationError::UserAgentMismatch)
    );
    assert_eq!(
        validate_session(t.clone(), s.clone(), None).error,
        Some(ValidationError::UserAgentMismatch)
    );
    // Bug 5: a revoked session reports revocation, not the user agent.
    let revoked = destroy_session(s);
    assert_eq!(
        validate_session(t, revoked, Some("Chrome".into())).error,
        Some(ValidationError::SessionRevoked)
    );
}

#[test]
fn destroy_session_keeps_the_first_revocation_time() {
    let s = destroy_session(create_session(opts("u")).unwrap());
    let again = destroy_session(s.clone());
    assert_eq!(again.revoked_at, s.revoked_at);
}

#[test]
fn refresh_session_rotates_or_slides() {
    let mut s = create_session(CreateSessionOptions {
        expires_in: Some(Duration::from_secs(60)),
        ..opts("u")
    })
    .unwrap();
    s.expires_at = SystemTime::now() + Duration::from_secs(10);
    let rotated = refresh_session(s.clone(), false).unwrap();
    assert_ne!(rotated.token, s.token);
    assert_ne!(rotated.token_hash, s.token_hash);
    assert_eq!(rotated.token_hash, hash_token(rotated.token.clone()));
    assert!(rotated.expires_at > s.expires_at);
    assert_eq!(rotated.id, s.id);

    let slid = refresh_session(s.clone(), true).unwrap();
    assert_eq!(slid.token, s.token);
    assert_eq!(slid.token_hash, s.token_hash);
    assert!(slid.expires_at > s.expires_at);
}

#[test]
fn refresh_session_refuses_revoked_expired_and_respects_the_cap() {
    let s = create_session(opts("u")).unwrap();
    assert_eq!(
        refresh_session(destroy_session(s.clone()), false),
        Err(SessionError::SessionRevoked)
    );
    let mut expired = s.clone();
    expired.expires_at = SystemTime::now() - Duration::from_millis(1);
    assert_eq!(
        refresh_session(expired, true),
        Err(SessionError::SessionExpired)
    );

    let mut near_cap = s.clone();
    near_cap.absolute_expires_at = SystemTime::now() + Duration::from_secs(5);
    let capped = refresh_session(near_cap.clone(), false).unwrap();
    assert_eq!(capped.expires_at, near_cap.absolute_expires_at);
}

#[test]
fn public_session_has_no_token_or_hash() {
    let s = create_session(opts("u")).unwrap();
    let p = to_public_session(s.clone());
    assert_eq!(p.id, s.id);
    assert_eq!(p.user_id, "u");
    let shown = format!("{p:?}");
    assert!(!shown.contains(&s.token) && !shown.contains(&s.token_hash));
}

#[test]
fn debug_output_never_shows_the_raw_token() {
    let s = create_session(opts("u")).unwrap();
    let shown = format!("{s:?}");
    assert!(!shown.contains(&s.token));
    assert!(!shown.contains(&s.token_hash));
    assert!(shown.contains("<redacted>"));
}
