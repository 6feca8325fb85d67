//! Token use cases through the desk, on a real SQLite file: rules R1–R8, R20–R24, R30–R34, R50–R54.

use tokendesk::desk::{
    AuthFailure, Credentials, DeskError, SortDirection, TokenDraft, TokenFilter, TokenSort,
};
use tokendesk::domain::definition::GenerationMethod;
use tokendesk::domain::{
    Alphabet, CheckDigit, CredentialRule, DefinitionSettings, OwnerKind, Secret, TokenState,
    VerificationSettings,
};
use tokendesk::storage::AuditFilter;

use crate::support::{
    account_with_participant, database_files_contain, draft_for_participant, fresh_desk,
    use_definition, with_login,
};

fn login(identifier: &str, pass_code: &str) -> Credentials {
    Credentials::Identifier {
        identifier: identifier.to_owned(),
        pass_code: Secret::new(pass_code),
    }
}

#[track_caller]
fn refused_with(result: Result<impl std::fmt::Debug, DeskError>, words: &str) {
    let err = result.expect_err("the desk should refuse").sentence();
    assert!(
        err.to_lowercase().contains(&words.to_lowercase()),
        "expected {words:?} in {err:?}"
    );
}

#[test]
fn r1_authentication_code_is_generated_by_the_standard_definition() {
    let mut desk = fresh_desk();
    let token = desk.create_token(&TokenDraft::default()).unwrap().token;
    assert_eq!(token.number, "AT0000000001");
    assert_eq!(token.authentication_code.len(), 12);
    assert!(
        token
            .authentication_code
            .chars()
            .all(|c| "23456789ABCDEFGHJKMNPQRSTUVWXYZ".contains(c))
    );
    assert_eq!(token.state, TokenState::Effective);
    assert_eq!(token.definition, "STD");
}

#[test]
fn r2_an_identifier_needs_a_pass_code_and_the_reverse() {
    let mut desk = fresh_desk();
    let draft = TokenDraft {
        identifier: Some("ada".into()),
        ..TokenDraft::default()
    };
    refused_with(desk.create_token(&draft), "pass code is required");
    let draft = TokenDraft {
        pass_code: Some(Secret::new("1234")),
        ..TokenDraft::default()
    };
    refused_with(desk.create_token(&draft), "identifier is required");
}

#[test]
fn r3_definition_may_require_identifier_and_pass_code() {
    let mut desk = fresh_desk();
    let settings = DefinitionSettings {
        allow_without_identifier_and_pass_code: false,
        ..DefinitionSettings::default()
    };
    use_definition(&mut desk, "Strict", settings);
    refused_with(
        desk.create_token(&TokenDraft::default()),
        "identifier and pass code are required",
    );
    assert!(
        desk.create_token(&with_login(TokenDraft::default(), "ada", "1234"))
            .is_ok()
    );
}

#[test]
fn r4_authentication_codes_are_unique_after_trimming() {
    let mut desk = fresh_desk();
    let settings = DefinitionSettings {
        authentication_code: CredentialRule::typed(tokendesk::domain::TextFormat::FreeText, 4, 20),
        ..DefinitionSettings::default()
    };
    use_definition(&mut desk, "Cards", settings);
    let draft = TokenDraft {
        authentication_code: Some("CARD-0001".into()),
        ..TokenDraft::default()
    };
    desk.create_token(&draft).unwrap();
    let again = TokenDraft {
        authentication_code: Some("  CARD-0001 ".into()),
        ..TokenDraft::default()
    };
    refused_with(
        desk.create_token(&again),
        "already has this authentication code",
    );
    refused_with(
        desk.create_token(&TokenDraft::default()),
        "authentication code is required: this definition does not generate it",
    );
    let other_case = TokenDraft {
        authentication_code: Some("card-0001".into()),
        ..TokenDraft::default()
    };
    assert!(
        desk.create_token(&other_case).is_ok(),
        "authentication codes compare exactly"
    );
}

#[test]
fn r5_identifiers_are_unique_case_and_space_insensitively_and_stored_as_entered() {
    let mut desk = fresh_desk();
    let token = desk
        .create_token(&with_login(
            TokenDraft::default(),
            "  Ada@Example.com ",
            "1234",
        ))
        .unwrap()
        .token;
    assert_eq!(token.identifier.as_deref(), Some("Ada@Example.com"));
    refused_with(
        desk.create_token(&with_login(
            TokenDraft::default(),
            "ada@example.COM",
            "5678",
        )),
        "already has this identifier",
    );
    desk.create_token(&with_login(
        TokenDraft::default(),
        "+1 (555) 010-9999",
        "1234",
    ))
    .unwrap();
    refused_with(
        desk.create_token(&with_login(
            TokenDraft::default(),
            "+1.555.010.9999",
            "1234",
        )),
        "identifier",
    );
}

#[test]
fn r6_generated_credentials_cannot_be_typed_and_typed_ones_follow_their_rules() {
    let mut desk = fresh_desk();
    let draft = TokenDraft {
        authentication_code: Some("MYOWNCODE123".into()),
        ..TokenDraft::default()
    };
    refused_with(desk.create_token(&draft), "generated on save");
    refused_with(
        desk.create_token(&with_login(TokenDraft::default(), "ada", "12")),
        "pass code must be 4–12 characters long",
    );
    refused_with(
        desk.create_token(&with_login(TokenDraft::default(), "ad", "1234")),
        "identifier must be 3–64",
    );
}

#[test]
fn r8_generated_pass_codes_are_shown_once_and_never_stored_in_clear() {
    let mut desk = fresh_desk();
    let settings = DefinitionSettings {
        pass_code: CredentialRule {
            min_digits: 2,
            min_letters: 2,
            ..CredentialRule::random(Alphabet::Alphanumeric, 10)
        },
        ..DefinitionSettings::default()
    };
    use_definition(&mut desk, "Generated pass codes", settings);
    let created = desk
        .create_token(&TokenDraft {
            identifier: Some("grace".into()),
            ..TokenDraft::default()
        })
        .unwrap();
    let pass_code = created
        .pass_code
        .expect("a generated pass code is returned once");
    assert_eq!(pass_code.expose().len(), 10);
    assert!(
        pass_code
            .expose()
            .chars()
            .filter(char::is_ascii_digit)
            .count()
            >= 2
    );
    assert!(
        desk.authenticate(&login("grace", pass_code.expose()))
            .is_ok()
    );
    let path = desk.path().to_owned();
    assert!(!database_files_contain(
        &path,
        pass_code.expose().as_bytes()
    ));
    let shown = serde_json::to_string(&desk.token(&created.token.number).unwrap()).unwrap();
    assert!(!shown.contains(pass_code.expose()) && !shown.contains("argon2"));
}

#[test]
fn sequences_never_repeat_and_carry_a_luhn_check_digit() {
    let mut desk = fresh_desk();
    let settings = DefinitionSettings {
        authentication_code: CredentialRule {
            method: GenerationMethod::Sequence,
            prefix: "9".into(),
            length: 8,
            check_digit: CheckDigit::Luhn,
            ..CredentialRule::default()
        },
        ..DefinitionSettings::default()
    };
    use_definition(&mut desk, "Printed cards", settings);
    let codes: Vec<String> = (0..30)
        .map(|_| {
            desk.create_token(&TokenDraft::default())
                .unwrap()
                .token
                .authentication_code
        })
        .collect();
    assert_eq!(codes[0], "9000000019");
    let mut unique = codes.clone();
    unique.dedup();
    assert_eq!(unique.len(), 30);
    assert!(
        codes
            .iter()
            .all(|code| tokendesk::domain::rules::luhn_is_valid(code))
    );
}

#[test]
fn a_crowded_code_space_fails_with_a_clear_error() {
    let mut desk = fresh_desk();
    let settings = DefinitionSettings {
        authentication_code: CredentialRule::random(Alphabet::Custom("AB".into()), 1),
        ..DefinitionSettings::default()
    };
    use_definition(&mut desk, "Tiny", settings);
    desk.create_token(&TokenDraft::default()).unwrap();
    desk.create_token(&TokenDraft::default()).unwrap();
    let err = desk
        .create_token(&TokenDraft::default())
        .unwrap_err()
        .sentence();
    assert!(
        err.contains("too crowded") && err.contains("definition T") && err.contains("lengthen"),
        "{err}"
    );
}

#[test]
fn r20_deactivation_refused_while_linked_to_an_active_owner() {
    let mut desk = fresh_desk();
    let (_, participant) = account_with_participant(&mut desk);
    let token = desk
        .create_token(&draft_for_participant(&participant))
        .unwrap()
        .token;
    refused_with(
        desk.set_token_state(&token.number, TokenState::NotEffective, "lost card"),
        &format!("remove the token from participant {participant}"),
    );
    desk.terminate_participant(&participant).unwrap();
    let token = desk
        .set_token_state(&token.number, TokenState::NotEffective, "lost card")
        .unwrap();
    assert_eq!(token.state, TokenState::NotEffective);
    refused_with(
        desk.set_token_state(&token.number, TokenState::Effective, "  "),
        "reason is required",
    );
}

#[test]
fn r21_deletion_only_without_owner_links_and_the_audit_event_stays() {
    let mut desk = fresh_desk();
    let (_, participant) = account_with_participant(&mut desk);
    let number = desk
        .create_token(&draft_for_participant(&participant))
        .unwrap()
        .token
        .number;
    refused_with(desk.delete_token(&number), "Effective");
    desk.remove_token_from_owner(OwnerKind::Participant, &participant, &number)
        .unwrap();
    desk.delete_token(&number).unwrap();
    refused_with(desk.token(&number).map(|_| ()), "there is no token");
    let history = desk.token_history(&number).unwrap();
    assert_eq!(
        history.first().map(|e| e.action.as_str()),
        Some("token.delete")
    );
}

#[test]
fn r21_linked_not_effective_token_cannot_be_deleted() {
    let mut desk = fresh_desk();
    let (_, participant) = account_with_participant(&mut desk);
    let number = desk
        .create_token(&draft_for_participant(&participant))
        .unwrap()
        .token
        .number;
    desk.terminate_participant(&participant).unwrap();
    desk.set_token_state(&number, TokenState::NotEffective, "closed")
        .unwrap();
    refused_with(desk.delete_token(&number), "still linked");
}

#[test]
fn r24_removing_the_last_link_deactivates_the_token() {
    let mut desk = fresh_desk();
    let (account, participant) = account_with_participant(&mut desk);
    let draft = TokenDraft {
        account_number: Some(account.clone()),
        ..draft_for_participant(&participant)
    };
    let number = desk.create_token(&draft).unwrap().token.number;
    let token = desk
        .remove_token_from_owner(OwnerKind::Participant, &participant, &number)
        .unwrap();
    assert_eq!(
        token.state,
        TokenState::Effective,
        "still linked to the account"
    );
    let token = desk
        .remove_token_from_owner(OwnerKind::Account, &account, &number)
        .unwrap();
    assert_eq!(token.state, TokenState::NotEffective);
    let history = desk.token_history(&number).unwrap();
    assert!(
        history
            .iter()
            .any(|e| e.details.contains("last owner link removed (R24)"))
    );
}

#[test]
fn r30_participant_must_belong_to_the_token_account() {
    let mut desk = fresh_desk();
    let (_, participant) = account_with_participant(&mut desk);
    let other = desk.create_account("Contoso").unwrap().number;
    let draft = TokenDraft {
        account_number: Some(other.clone()),
        ..draft_for_participant(&participant)
    };
    refused_with(desk.create_token(&draft), "R30");
    let number = desk
        .create_token(&TokenDraft {
            account_number: Some(other),
            ..TokenDraft::default()
        })
        .unwrap()
        .token
        .number;
    refused_with(
        desk.add_token_to_owner(OwnerKind::Participant, &participant, &number),
        "R30",
    );
}

#[test]
fn r31_only_effective_unlinked_tokens_can_be_added() {
    let mut desk = fresh_desk();
    let (_, participant) = account_with_participant(&mut desk);
    let (_, other) = {
        let account = desk.create_account("Fabrikam").unwrap();
        (
            (),
            desk.create_participant("Alan Turing", &account.number)
                .unwrap()
                .number,
        )
    };
    let free = desk
        .create_token(&TokenDraft::default())
        .unwrap()
        .token
        .number;
    let token = desk
        .add_token_to_owner(OwnerKind::Participant, &participant, &free)
        .unwrap();
    assert_eq!(
        token.participant_number.as_deref(),
        Some(participant.as_str())
    );
    refused_with(
        desk.add_token_to_owner(OwnerKind::Participant, &other, &free),
        "already belongs to participant",
    );
    let inactive = desk
        .create_token(&TokenDraft::default())
        .unwrap()
        .token
        .number;
    desk.set_token_state(&inactive, TokenState::NotEffective, "spare")
        .unwrap();
    refused_with(
        desk.add_token_to_owner(OwnerKind::Participant, &other, &inactive),
        "only Effective",
    );
    let eligible = TokenFilter {
        states: vec![TokenState::Effective],
        unlocked_only: true,
        without_owner: Some(OwnerKind::Participant),
        ..TokenFilter::default()
    };
    assert_eq!(desk.count_tokens(&eligible).unwrap(), 0);
}

#[test]
fn r32_max_tokens_and_require_at_least_one() {
    let mut desk = fresh_desk();
    let mut settings = DefinitionSettings::default();
    settings.participants.max_tokens = 1;
    settings.participants.require_at_least_one = true;
    use_definition(&mut desk, "One card each", settings);
    let (_, participant) = account_with_participant(&mut desk);
    let number = desk
        .create_token(&draft_for_participant(&participant))
        .unwrap()
        .token
        .number;
    refused_with(
        desk.create_token(&draft_for_participant(&participant)),
        "R32",
    );
    refused_with(
        desk.remove_token_from_owner(OwnerKind::Participant, &participant, &number),
        "must keep at least one",
    );
}

#[test]
fn r34_terminated_owners_get_no_new_tokens() {
    let mut desk = fresh_desk();
    let (account, participant) = account_with_participant(&mut desk);
    desk.terminate_participant(&participant).unwrap();
    refused_with(
        desk.create_token(&draft_for_participant(&participant)),
        "R34",
    );
    desk.set_account_state(&account, tokendesk::domain::AccountState::Terminated)
        .unwrap();
    refused_with(
        desk.create_token(&TokenDraft {
            account_number: Some(account),
            ..TokenDraft::default()
        }),
        "terminated",
    );
}

#[test]
fn allow_create_is_enforced_per_owner_kind() {
    let mut desk = fresh_desk();
    let mut settings = DefinitionSettings::default();
    settings.accounts.allow_create = false;
    use_definition(&mut desk, "Participants only", settings);
    let (account, participant) = account_with_participant(&mut desk);
    refused_with(
        desk.create_token(&TokenDraft {
            account_number: Some(account),
            ..TokenDraft::default()
        }),
        "does not allow",
    );
    assert!(
        desk.create_token(&draft_for_participant(&participant))
            .is_ok()
    );
}

#[test]
fn r50_authenticate_by_code_or_identifier_returns_token_and_owners() {
    let mut desk = fresh_desk();
    let (_, participant) = account_with_participant(&mut desk);
    let created = desk
        .create_token(&with_login(
            draft_for_participant(&participant),
            "Ada.Lovelace",
            "4711",
        ))
        .unwrap()
        .token;
    let by_code = desk
        .authenticate(&Credentials::AuthenticationCode(format!(
            " {} ",
            created.authentication_code
        )))
        .unwrap();
    assert_eq!(
        by_code.participant_number.as_deref(),
        Some(participant.as_str())
    );
    assert!(by_code.last_used_at.is_some());
    let by_identifier = desk
        .authenticate(&login("  ada.lovelace ", "4711"))
        .unwrap();
    assert_eq!(by_identifier.number, created.number);
    let err = desk
        .authenticate(&Credentials::AuthenticationCode("NOPE".into()))
        .unwrap_err();
    assert!(matches!(
        err,
        DeskError::AuthenticationFailed(AuthFailure::UnknownAuthCode)
    ));
    let err = desk.authenticate(&login("nobody", "4711")).unwrap_err();
    assert!(matches!(
        err,
        DeskError::AuthenticationFailed(AuthFailure::UnknownIdentifier)
    ));
}

#[test]
fn r23_only_effective_tokens_authenticate() {
    let mut desk = fresh_desk();
    let token = desk.create_token(&TokenDraft::default()).unwrap().token;
    desk.set_token_state(&token.number, TokenState::NotEffective, "spare")
        .unwrap();
    let err = desk
        .authenticate(&Credentials::AuthenticationCode(token.authentication_code))
        .unwrap_err();
    assert!(
        err.sentence().contains("Not Effective"),
        "{}",
        err.sentence()
    );
}

#[test]
fn r51_five_wrong_pass_codes_lock_the_token_until_a_clerk_unlocks_it() {
    let mut desk = fresh_desk();
    let number = desk
        .create_token(&with_login(TokenDraft::default(), "grace", "4711"))
        .unwrap()
        .token
        .number;
    for attempt in 1..=4 {
        let err = desk.authenticate(&login("grace", "0000")).unwrap_err();
        assert!(
            err.sentence().contains(&format!("{} attempt", 5 - attempt)),
            "{}",
            err.sentence()
        );
    }
    let err = desk.authenticate(&login("grace", "0000")).unwrap_err();
    assert!(matches!(
        err,
        DeskError::AuthenticationFailed(AuthFailure::NowLocked)
    ));
    let err = desk.authenticate(&login("grace", "4711")).unwrap_err();
    assert!(
        matches!(err, DeskError::AuthenticationFailed(AuthFailure::Locked)),
        "the right code does not open a locked token"
    );
    refused_with(desk.unlock_token(&number, ""), "reason is required");
    let token = desk.unlock_token(&number, "customer called").unwrap();
    assert!(!token.locked && token.failed_attempts == 0);
    assert!(desk.authenticate(&login("grace", "4711")).is_ok());
}

#[test]
fn r51_a_success_resets_the_failed_attempts() {
    let mut desk = fresh_desk();
    desk.create_token(&with_login(TokenDraft::default(), "grace", "4711"))
        .unwrap();
    for _ in 0..3 {
        let _ = desk.authenticate(&login("grace", "0000"));
    }
    assert_eq!(
        desk.authenticate(&login("grace", "4711"))
            .unwrap()
            .failed_attempts,
        0
    );
}

fn verification_desk() -> crate::support::TestDesk {
    let mut desk = fresh_desk();
    let settings = DefinitionSettings {
        verification: VerificationSettings {
            required: true,
            code_length: 6,
            valid_hours: 72,
        },
        lockout_threshold: 3,
        ..DefinitionSettings::default()
    };
    use_definition(&mut desk, "Verified", settings);
    desk
}

#[test]
fn r52_verification_moves_pending_tokens_to_effective() {
    let mut desk = verification_desk();
    let created = desk.create_token(&TokenDraft::default()).unwrap();
    assert_eq!(created.token.state, TokenState::PendingVerification);
    let code = created
        .verification_code
        .expect("a verification code is issued");
    assert_eq!(code.expose().len(), 6);
    assert!(code.expose().chars().all(|c| c.is_ascii_digit()));
    let err = desk
        .authenticate(&Credentials::AuthenticationCode(
            created.token.authentication_code.clone(),
        ))
        .unwrap_err();
    assert!(err.sentence().contains("Pending Verification"));
    let token = desk.verify_token(&created.token.number, &code).unwrap();
    assert_eq!(token.state, TokenState::Effective);
    assert!(token.verified_at.is_some());
}

#[test]
fn r52_wrong_codes_count_and_lock_and_expired_codes_are_refused() {
    let mut desk = verification_desk();
    let created = desk.create_token(&TokenDraft::default()).unwrap();
    let number = created.token.number.clone();
    let wrong = Secret::new(
        if created.verification_code.as_ref().unwrap().expose() == "000000" {
            "111111"
        } else {
            "000000"
        },
    );
    let err = desk.verify_token(&number, &wrong).unwrap_err();
    assert!(matches!(
        err,
        DeskError::AuthenticationFailed(AuthFailure::WrongVerificationCode {
            attempts_left: Some(2)
        })
    ));
    desk.advance_hours(73);
    let err = desk
        .verify_token(&number, created.verification_code.as_ref().unwrap())
        .unwrap_err();
    assert!(matches!(
        err,
        DeskError::AuthenticationFailed(AuthFailure::VerificationExpired)
    ));
    let fresh = desk.reissue_verification_code(&number).unwrap();
    let err = desk
        .verify_token(&number, created.verification_code.as_ref().unwrap())
        .unwrap_err();
    assert!(
        matches!(err, DeskError::AuthenticationFailed(_)),
        "the old code stops working"
    );
    let err = desk.verify_token(&number, &wrong).unwrap_err();
    assert!(
        matches!(err, DeskError::AuthenticationFailed(AuthFailure::NowLocked)),
        "{err:?}"
    );
    refused_with(desk.verify_token(&number, &fresh), "locked");
    desk.unlock_token(&number, "customer verified by phone")
        .unwrap();
    assert_eq!(
        desk.verify_token(&number, &fresh).unwrap().state,
        TokenState::Effective
    );
}

#[test]
fn r53_reset_pass_code_typed_or_generated_effective_tokens_only() {
    let mut desk = fresh_desk();
    let number = desk
        .create_token(&with_login(TokenDraft::default(), "grace", "4711"))
        .unwrap()
        .token
        .number;
    assert!(
        desk.reset_pass_code(&number, Some(Secret::new("9999")))
            .unwrap()
            .is_none()
    );
    assert!(desk.authenticate(&login("grace", "9999")).is_ok());
    refused_with(
        desk.reset_pass_code(&number, Some(Secret::new("12"))),
        "4–12",
    );
    refused_with(desk.reset_pass_code(&number, None), "typed by the clerk");
    desk.set_token_state(&number, TokenState::NotEffective, "closed")
        .unwrap();
    refused_with(
        desk.reset_pass_code(&number, Some(Secret::new("5555"))),
        "only Effective",
    );
}

#[test]
fn r54_every_attempt_is_audited_without_the_secret() {
    let mut desk = fresh_desk();
    let token = desk
        .create_token(&with_login(TokenDraft::default(), "grace", "4711"))
        .unwrap()
        .token;
    let _ = desk.authenticate(&login("grace", "8642"));
    let _ = desk.authenticate(&login("grace", "4711"));
    let _ = desk.authenticate(&login("nobody", "4711"));
    let _ = desk.authenticate(&Credentials::AuthenticationCode(
        token.authentication_code.clone(),
    ));
    let filter = AuditFilter {
        action_prefix: "token.authenticate".into(),
        ..AuditFilter::default()
    };
    let events = desk.audit_events(&filter, i64::MAX, 100).unwrap();
    assert_eq!(events.len(), 4);
    for event in &events {
        assert!(
            !event.details.contains("4711") && !event.details.contains("8642"),
            "{event:?}"
        );
        assert!(!event.details.contains(&token.authentication_code));
        assert_eq!(event.clerk, "clerk");
    }
    assert!(
        events
            .iter()
            .any(|e| e.details.starts_with("failed: wrong pass code"))
    );
    assert!(
        events
            .iter()
            .any(|e| e.details == "failed: unknown identifier")
    );
}

#[test]
fn weaker_hashes_are_upgraded_on_successful_authentication() {
    let mut desk = fresh_desk();
    desk.create_token(&with_login(TokenDraft::default(), "grace", "4711"))
        .unwrap();
    let path = desk.path().to_owned();
    let crate::support::TestDesk {
        desk: cheap_desk,
        dir: _kept,
        ..
    } = desk;
    drop(cheap_desk);
    let stronger =
        tokendesk::domain::SecretHasher::with_params(argon2::Params::new(64, 2, 1, None).unwrap());
    let mut desk = tokendesk::desk::Desk::new(
        tokendesk::storage::Store::open(&path).unwrap(),
        stronger,
        "clerk",
    );
    desk.authenticate(&login("grace", "4711")).unwrap();
    let token = desk.authenticate(&login("grace", "4711")).unwrap();
    let secrets = desk.store().db().token_secrets(token.id).unwrap();
    assert!(secrets.pass_code_hash.unwrap().contains("m=64,t=2"));
}

#[test]
fn keyset_pages_cover_every_token_once_in_each_sort() {
    let mut desk = fresh_desk();
    desk.fill_demo_data(250, 40).unwrap();
    for sort in [
        TokenSort::Number,
        TokenSort::AuthenticationCode,
        TokenSort::State,
        TokenSort::Definition,
    ] {
        for direction in [SortDirection::Ascending, SortDirection::Descending] {
            let mut seen = Vec::new();
            let mut cursor = None;
            loop {
                let page = desk
                    .list_tokens(
                        &TokenFilter::default(),
                        sort,
                        direction,
                        cursor.as_ref(),
                        60,
                    )
                    .unwrap();
                let Some(last) = page.last() else { break };
                cursor = Some(tokendesk::desk::TokenCursor::after(last, sort));
                seen.extend(page.iter().map(|t| t.id));
            }
            let mut unique = seen.clone();
            unique.sort_unstable();
            unique.dedup();
            assert_eq!(
                (seen.len(), unique.len()),
                (250, 250),
                "{sort:?} {direction:?}"
            );
        }
    }
    let anchors = desk
        .store()
        .db()
        .counted_token_anchors(
            &TokenFilter::default(),
            TokenSort::Number,
            SortDirection::Ascending,
            100,
            &|| false,
        )
        .unwrap()
        .0;
    assert_eq!(anchors.len(), 3);
    let page = desk
        .list_tokens(
            &TokenFilter::default(),
            TokenSort::Number,
            SortDirection::Ascending,
            anchors[2].as_ref(),
            100,
        )
        .unwrap();
    assert_eq!(
        page.first().map(|t| t.number.as_str()),
        Some("AT0000000201")
    );
    assert_eq!(page.len(), 50);
}

/// The window's scroll bar and "N tokens shown" come from the token index, which counts the
/// rows in the same pass that collects the page anchors: it must agree with a plain count.
#[test]
fn the_token_index_counts_what_the_filter_shows() {
    let mut desk = fresh_desk();
    let (_, participant) = account_with_participant(&mut desk);
    for n in 0..25 {
        let draft = if n % 3 == 0 {
            draft_for_participant(&participant)
        } else {
            TokenDraft::default()
        };
        let token = desk.create_token(&draft).unwrap().token;
        // Only unassigned tokens may leave Effective here (R20).
        if n % 4 == 0 && n % 3 != 0 {
            desk.set_token_state(&token.number, TokenState::NotEffective, "test")
                .unwrap();
        }
    }
    let filters = [
        TokenFilter::default(),
        TokenFilter {
            states: vec![TokenState::NotEffective],
            ..TokenFilter::default()
        },
        TokenFilter {
            text: "ada lov".to_owned(),
            ..TokenFilter::default()
        },
        TokenFilter {
            text: "nobody".to_owned(),
            ..TokenFilter::default()
        },
    ];
    for filter in filters {
        let index = desk
            .token_index(&tokendesk::desk::views::TokenIndexRequest {
                filter: filter.clone(),
                sort: TokenSort::Number,
                direction: SortDirection::Descending,
                stride: 4,
            })
            .unwrap();
        let count = desk.count_tokens(&filter).unwrap();
        assert_eq!(index.count, count, "{filter:?}");
        assert_eq!(index.anchors.len() as u64, count / 4 + 1, "{filter:?}");
    }
}

#[test]
fn text_search_finds_tokens_by_number_code_identifier_and_owner() {
    let mut desk = fresh_desk();
    let (account, participant) = account_with_participant(&mut desk);
    let token = desk
        .create_token(&with_login(
            draft_for_participant(&participant),
            "Ada@Example.com",
            "4711",
        ))
        .unwrap()
        .token;
    desk.create_token(&TokenDraft {
        account_number: Some(account.clone()),
        ..TokenDraft::default()
    })
    .unwrap();
    desk.create_token(&TokenDraft::default()).unwrap();
    let search = |desk: &crate::support::TestDesk, text: &str| {
        let filter = TokenFilter {
            text: text.into(),
            ..TokenFilter::default()
        };
        desk.list_tokens(
            &filter,
            TokenSort::Number,
            SortDirection::Ascending,
            None,
            50,
        )
        .unwrap()
        .into_iter()
        .map(|t| t.number)
        .collect::<Vec<_>>()
    };
    assert_eq!(search(&desk, "at0000000001"), vec![token.number.clone()]);
    assert_eq!(
        search(&desk, &token.authentication_code[..5]),
        vec![token.number.clone()]
    );
    assert_eq!(search(&desk, "ADA@ex"), vec![token.number.clone()]);
    assert_eq!(search(&desk, "ada lov"), vec![token.number.clone()]);
    assert_eq!(search(&desk, &participant), vec![token.number.clone()]);
    assert_eq!(
        search(&desk, "northw").len(),
        1,
        "account name finds the account's token"
    );
    assert_eq!(search(&desk, "AT00000000").len(), 3);
    assert!(search(&desk, "zzz").is_empty());
}
