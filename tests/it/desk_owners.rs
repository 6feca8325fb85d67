//! Accounts and participants: create, suspend, activate, terminate (R33).

use tokendesk::domain::{AccountState, ParticipantState};

use crate::support::{account_with_participant, fresh_desk};

#[test]
fn numbers_are_zero_padded_and_never_reused() {
    let mut desk = fresh_desk();
    let (account, participant) = account_with_participant(&mut desk);
    assert_eq!(
        (account.as_str(), participant.as_str()),
        ("ACR0000000001", "RP0000000001")
    );
    assert_eq!(
        desk.create_account("Contoso").unwrap().number,
        "ACR0000000002"
    );
}

#[test]
fn r33_accounts_can_be_suspended_reactivated_and_terminated() {
    let mut desk = fresh_desk();
    let (account, _) = account_with_participant(&mut desk);
    assert_eq!(
        desk.set_account_state(&account, AccountState::Suspended)
            .unwrap()
            .state,
        AccountState::Suspended
    );
    assert_eq!(
        desk.set_account_state(&account, AccountState::Active)
            .unwrap()
            .state,
        AccountState::Active
    );
    assert_eq!(
        desk.set_account_state(&account, AccountState::Terminated)
            .unwrap()
            .state,
        AccountState::Terminated
    );
    let err = desk
        .set_account_state(&account, AccountState::Active)
        .unwrap_err()
        .sentence();
    assert!(
        err.contains("is Terminated and cannot become Active"),
        "{err}"
    );
    let err = desk
        .create_participant("Late", &account)
        .unwrap_err()
        .sentence();
    assert!(err.contains("terminated"), "{err}");
}

#[test]
fn r33_terminating_a_participant_keeps_its_tokens() {
    let mut desk = fresh_desk();
    let (_, participant) = account_with_participant(&mut desk);
    let token = desk
        .create_token(&crate::support::draft_for_participant(&participant))
        .unwrap()
        .token;
    assert_eq!(
        desk.terminate_participant(&participant).unwrap().state,
        ParticipantState::Terminated
    );
    let after = desk.token(&token.number).unwrap();
    assert_eq!(
        (after.state, after.participant_number),
        (token.state, token.participant_number)
    );
    assert!(
        desk.terminate_participant(&participant)
            .unwrap_err()
            .sentence()
            .contains("already terminated")
    );
}

#[test]
fn owner_names_are_required_and_owners_must_exist() {
    let mut desk = fresh_desk();
    assert!(
        desk.create_account("   ")
            .unwrap_err()
            .sentence()
            .contains("Name must not be empty.")
    );
    assert!(
        desk.create_participant("Ada", "ACR0000000099")
            .unwrap_err()
            .sentence()
            .contains("There is no account ACR0000000099")
    );
    assert!(
        desk.participant("RP404")
            .unwrap_err()
            .sentence()
            .contains("no participant")
    );
}

#[test]
fn every_change_is_audited_with_the_clerk() {
    let mut desk = fresh_desk();
    let (account, participant) = account_with_participant(&mut desk);
    desk.set_account_state(&account, AccountState::Suspended)
        .unwrap();
    let events = desk
        .audit_events(&Default::default(), i64::MAX, 50)
        .unwrap();
    let actions: Vec<&str> = events.iter().map(|e| e.action.as_str()).collect();
    assert_eq!(
        &actions[..3],
        ["account.suspend", "participant.create", "account.create"]
    );
    assert!(events.iter().all(|e| !e.clerk.is_empty()));
    assert_eq!(events[1].record_number, participant);
}
