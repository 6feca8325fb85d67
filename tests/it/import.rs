//! Bulk CSV import (SPEC §7): data-driven checks of outcome, report lines and the database after.

use std::sync::atomic::{AtomicBool, Ordering};

use tokendesk::desk::import::{
    ImportError, ImportOptions, ImportOutput, ImportSource, ImportSummary, MemoryCredentials,
    MemoryReport, RowOutcome,
};
use tokendesk::desk::{Credentials, Desk, TokenDraft, TokenFilter};
use tokendesk::domain::{
    AccountState, Alphabet, CredentialRule, DefinitionSettings, OwnerKind, OwnerSettings, Secret,
    TextFormat, TokenState,
};

use crate::support::{TestDesk, account_with_participant, fresh_desk, use_definition};

/// What one import run produced.
struct Run {
    result: Result<ImportSummary, ImportError>,
    report: Vec<String>,
    credentials: MemoryCredentials,
}

fn import_with(
    desk: &mut Desk,
    csv: &[u8],
    options: ImportOptions,
    with_credentials: bool,
    cancel_after_rows: Option<u64>,
) -> Run {
    let mut report = MemoryReport::default();
    let mut credentials = MemoryCredentials::default();
    let cancelled = AtomicBool::new(false);
    let mut progress = |p: tokendesk::desk::import::ImportProgress| {
        if cancel_after_rows.is_some_and(|n| p.rows >= n) {
            cancelled.store(true, Ordering::SeqCst);
        }
    };
    let is_cancelled = || cancelled.load(Ordering::SeqCst);
    let result = {
        let mut output = ImportOutput {
            report: &mut report,
            credentials: if with_credentials {
                Some(&mut credentials)
            } else {
                None
            },
            progress: &mut progress,
            is_cancelled: &is_cancelled,
        };
        desk.import_csv(
            ImportSource::Bytes {
                name: "tokens.csv",
                bytes: csv,
            },
            options,
            &mut output,
        )
    };
    let report = report
        .rows
        .iter()
        .map(|row| {
            let mut text = format!("{} {}", row.line, row.outcome.as_str());
            if !row.message.is_empty() {
                text.push_str(": ");
                text.push_str(&row.message);
            }
            text
        })
        .collect();
    Run {
        result,
        report,
        credentials,
    }
}

fn import(desk: &mut Desk, csv: &str, options: ImportOptions) -> Run {
    import_with(desk, csv.as_bytes(), options, true, None)
}

/// Checks the summary (`applied 2/0/1` = created/unchanged/rejected, `not applied …`, or
/// `error: words`) and each report line (`line outcome`, optionally `: words` the message contains).
#[track_caller]
fn check(run: &Run, summary: &str, report: &[&str]) {
    let actual = match &run.result {
        Ok(s) => format!(
            "{} {}/{}/{}",
            if s.applied { "applied" } else { "not applied" },
            s.created,
            s.unchanged,
            s.rejected
        ),
        Err(err) => format!("error: {err}"),
    };
    if let Some(words) = summary.strip_prefix("error: ") {
        assert!(
            actual.starts_with("error: ") && actual.contains(words),
            "expected an error with {words:?}, got {actual}"
        );
    } else {
        assert_eq!(actual, summary, "report: {:#?}", run.report);
    }
    assert_eq!(
        run.report.len(),
        report.len(),
        "report lines: {:#?}",
        run.report
    );
    for (actual, expected) in run.report.iter().zip(report) {
        let (head, words) = expected.split_once(": ").unwrap_or((expected, ""));
        let actual_lower = actual.to_lowercase();
        let matches = actual == head
            || (actual.starts_with(&format!("{head}: "))
                && actual_lower.contains(&words.to_lowercase()));
        assert!(matches, "expected {expected:?}, got {actual:?}");
    }
}

/// The settings of a pool of pre-printed cards: typed authentication codes, otherwise Standard.
fn card_settings() -> DefinitionSettings {
    DefinitionSettings {
        authentication_code: CredentialRule::typed(TextFormat::FreeText, 1, 64),
        ..DefinitionSettings::default()
    }
}

/// A desk whose Effective definition takes typed authentication codes (pre-printed cards).
fn card_desk() -> TestDesk {
    let mut desk = fresh_desk();
    use_definition(&mut desk, "Cards", card_settings());
    desk
}

fn tokens(desk: &Desk) -> u64 {
    desk.count_tokens(&TokenFilter::default()).unwrap()
}

fn defaults() -> ImportOptions {
    ImportOptions::default()
}

fn create_owners() -> ImportOptions {
    ImportOptions {
        create_owners: true,
        ..ImportOptions::default()
    }
}

fn token_by_code(desk: &Desk, code: &str) -> tokendesk::domain::TokenRecord {
    desk.store()
        .db()
        .token_by_auth_code(code)
        .unwrap()
        .unwrap_or_else(|| panic!("no token with code {code}"))
}

fn has_token(desk: &Desk, code: &str) -> bool {
    desk.store()
        .db()
        .token_by_auth_code(code)
        .unwrap()
        .is_some()
}

#[test]
fn a_valid_file_creates_tokens_with_owners_in_one_batch() {
    let mut desk = card_desk();
    let (account, participant) = account_with_participant(&mut desk);
    let csv = format!(
        "authentication_code,identifier,pass_code,participant_number,account_number,state\n\
         CARD0001,ada@example.com,1234,{participant},{account},\n\
         CARD0002,,,,{account},not_effective\n\
         CARD0003,,,,,\n\
         CARD0004,grace@example.com,98765,{participant},,\n"
    );
    let run = import(&mut desk, &csv, defaults());
    check(
        &run,
        "applied 4/0/0",
        &["2 created", "3 created", "4 created", "5 created"],
    );
    let summary = run.result.as_ref().unwrap();
    let batch = summary.batch_id.expect("a batch");
    assert_eq!(summary.delimiter, ',');
    assert_eq!(tokens(&desk), 4);
    let first = token_by_code(&desk, "CARD0001");
    assert_eq!(
        first.participant_number.as_deref(),
        Some(participant.as_str())
    );
    assert_eq!(first.account_number.as_deref(), Some(account.as_str()));
    assert_eq!(first.import_batch, Some(batch));
    assert!(first.has_pass_code);
    assert_eq!(
        token_by_code(&desk, "CARD0002").state,
        TokenState::NotEffective
    );
    assert!(!token_by_code(&desk, "CARD0003").is_linked());
    // Typed pass codes were hashed (on the workers) and authenticate.
    desk.authenticate(&Credentials::Identifier {
        identifier: "ADA@example.com ".to_owned(),
        pass_code: Secret::new("1234"),
    })
    .expect("the imported pass code works");
    // The batch record and exactly one audit event for it.
    let batches = desk.batches().unwrap();
    assert_eq!(batches.len(), 1);
    assert_eq!(
        (
            batches[0].created,
            batches[0].unchanged,
            batches[0].rejected
        ),
        (4, 0, 0)
    );
    assert_eq!(batches[0].file_name, "tokens.csv");
    assert_eq!(batches[0].file_sha256.len(), 64);
    assert_eq!(batches[0].mode, "all_or_nothing");
    let events = desk
        .audit_events(&Default::default(), i64::MAX, 100)
        .unwrap();
    assert_eq!(
        events.iter().filter(|e| e.action == "import.batch").count(),
        1
    );
    // Typed codes appear in the report; no credentials were generated.
    assert!(run.credentials.rows.is_empty());
    // Token numbers continue after the import without gaps or reuse.
    let next = desk
        .create_token(&TokenDraft {
            authentication_code: Some("HAND1".to_owned()),
            ..TokenDraft::default()
        })
        .expect("a token by hand");
    assert_eq!(next.token.number, "AT0000000005");
}

#[test]
fn bom_crlf_and_semicolons() {
    let mut desk = card_desk();
    let csv = "\u{feff} Authentication_Code ;IDENTIFIER;pass_code\r\nCARD1;;\r\nCARD2;bob@example.com;4321\r\n";
    let run = import(&mut desk, csv, defaults());
    check(&run, "applied 2/0/0", &["2 created", "3 created"]);
    assert_eq!(run.result.as_ref().unwrap().delimiter, ';');
    assert_eq!(
        token_by_code(&desk, "CARD2").identifier.as_deref(),
        Some("bob@example.com")
    );
}

#[test]
fn tab_delimited() {
    let mut desk = card_desk();
    let run = import(
        &mut desk,
        "authentication_code\tstate\nTAB1\teffective\nTAB2\tnot_effective\n",
        defaults(),
    );
    check(&run, "applied 2/0/0", &["2 created", "3 created"]);
    assert_eq!(run.result.as_ref().unwrap().delimiter, '\t');
    assert_eq!(token_by_code(&desk, "TAB2").state, TokenState::NotEffective);
}

#[test]
fn a_quoted_field_may_span_lines_and_messages_cite_the_first_line() {
    let mut desk = card_desk();
    let csv = "authentication_code,account_number,account_name\n\
               Q1,ACR9,\"Northwind\nWarehouse\"\n\
               Q2,,\n\
               \"Q\n3\",,\n\
               Q4,,\n";
    let run = import(
        &mut desk,
        csv,
        ImportOptions {
            skip_invalid: true,
            create_owners: true,
            ..defaults()
        },
    );
    check(
        &run,
        "applied 2/0/2",
        &[
            "2 rejected: account_name must be at most 200 characters on one line",
            "4 created",
            "5 rejected: control characters",
            "7 created",
        ],
    );
}

#[test]
fn invalid_utf8_names_the_line_and_applies_nothing() {
    let mut desk = card_desk();
    let mut csv = b"authentication_code\nGOOD1\nGOOD2\n".to_vec();
    csv.extend_from_slice(b"BAD\xe9\n");
    let run = import_with(&mut desk, &csv, defaults(), true, None);
    check(&run, "error: line 4 is not valid UTF-8", &[]);
    assert!(
        run.result
            .as_ref()
            .unwrap_err()
            .to_string()
            .contains("save the file as UTF-8")
    );
    assert_eq!(tokens(&desk), 0);
    assert!(desk.batches().unwrap().is_empty());
}

#[test]
fn an_unknown_column_stops_the_import_naming_it() {
    let mut desk = card_desk();
    let run = import(
        &mut desk,
        "identifier,passcode\nada@example.com,1234\n",
        defaults(),
    );
    check(&run, "error: unknown column \"passcode\"", &[]);
    assert_eq!(run.result.as_ref().unwrap_err().exit_code(), 1);
    assert_eq!(tokens(&desk), 0);
}

#[test]
fn the_export_columns_are_known_and_the_informational_ones_ignored() {
    let mut desk = card_desk();
    let csv = "token_number,definition,state,authentication_code,identifier,participant_number,participant_name,account_number,account_name,created_at,created_by,verified_at,last_used_at,locked,import_batch\n\
               AT0000000099,STD,effective,EXP1,,,,,,2026-01-01T00:00:00Z,someone,,,false,\n";
    let run = import(&mut desk, csv, defaults());
    check(&run, "applied 1/0/0", &["2 created"]);
    assert_eq!(token_by_code(&desk, "EXP1").number, "AT0000000001");
}

#[test]
fn a_missing_header_is_refused() {
    let mut desk = card_desk();
    let run = import(&mut desk, "CARD0001,ada@example.com\n", defaults());
    check(&run, "error: unknown column \"CARD0001\"", &[]);
    assert!(
        run.result
            .as_ref()
            .unwrap_err()
            .to_string()
            .contains("first line must name the columns")
    );
    let run = import(&mut desk, "\nCARD0001\n", defaults());
    check(&run, "error: header row", &[]);
    let run = import(&mut desk, "authentication_code,,state\nA,,\n", defaults());
    check(&run, "error: column 2 of the header row has no name", &[]);
    let run = import(&mut desk, "state,STATE\neffective,effective\n", defaults());
    check(&run, "error: appears twice", &[]);
    assert_eq!(tokens(&desk), 0);
}

#[test]
fn ragged_rows_are_rejected() {
    let mut desk = card_desk();
    let csv = "authentication_code,state\nR1,effective\nR2\nR3,effective,extra\n";
    let run = import(&mut desk, csv, defaults());
    check(
        &run,
        "not applied 1/0/2",
        &[
            "2 would_create",
            "3 rejected: has 1 fields but the header row has 2",
            "4 rejected: has 3 fields",
        ],
    );
    assert_eq!(tokens(&desk), 0);
}

#[test]
fn an_empty_file_is_refused() {
    let mut desk = card_desk();
    check(
        &import(&mut desk, "", defaults()),
        "error: the file is empty",
        &[],
    );
    // A header alone is a valid file with nothing to do.
    check(
        &import(&mut desk, "authentication_code\n", defaults()),
        "applied 0/0/0",
        &[],
    );
}

#[test]
fn a_one_megabyte_field_is_rejected_without_being_echoed() {
    let mut desk = card_desk();
    let csv = format!(
        "authentication_code,identifier,pass_code\nBIG1,{},1234\nSMALL,,\n",
        "x".repeat(1 << 20)
    );
    let run = import(
        &mut desk,
        &csv,
        ImportOptions {
            skip_invalid: true,
            ..defaults()
        },
    );
    check(
        &run,
        "applied 1/0/1",
        &[
            "2 rejected: identifier must be 3–64 characters long",
            "3 created",
        ],
    );
    assert!(run.report.iter().all(|line| line.len() < 300));
}

#[test]
fn duplicates_within_the_file_name_the_other_line() {
    let mut desk = card_desk();
    let csv = "authentication_code,identifier,pass_code\n\
               D1,ada@example.com,1234\n\
               D2,,\n\
               D1,,\n\
               D3, ADA@Example.com ,5678\n";
    let run = import(&mut desk, csv, defaults());
    check(
        &run,
        "not applied 2/0/2",
        &[
            "2 would_create",
            "3 would_create",
            "4 rejected: also on line 2",
            "5 rejected: identifier is also on line 2",
        ],
    );
    assert_eq!(tokens(&desk), 0);
}

#[test]
fn duplicates_against_the_database_name_the_token() {
    let mut desk = card_desk();
    let (_, participant) = account_with_participant(&mut desk);
    let existing = desk
        .create_token(&TokenDraft {
            authentication_code: Some("OLD1".to_owned()),
            identifier: Some("+1 (555) 010-9999".to_owned()),
            pass_code: Some(Secret::new("1234")),
            participant_number: Some(participant.clone()),
            ..TokenDraft::default()
        })
        .unwrap()
        .token;
    let mail = desk
        .create_token(&TokenDraft {
            authentication_code: Some("OLD2".to_owned()),
            identifier: Some("Ada@Example.com".to_owned()),
            pass_code: Some(Secret::new("1234")),
            ..TokenDraft::default()
        })
        .unwrap()
        .token;
    let csv = "authentication_code,identifier,pass_code\n\
               OLD1,,\n\
               NEW1,+1.555.010.9999,1234\n\
               NEW2,  ada@EXAMPLE.com ,1234\n";
    let run = import(&mut desk, csv, defaults());
    check(
        &run,
        "not applied 0/0/3",
        &[
            &format!("2 rejected: belongs to token {}", existing.number),
            &format!(
                "3 rejected: identifier already belongs to token {}",
                existing.number
            ),
            &format!(
                "4 rejected: identifier already belongs to token {}",
                mail.number
            ),
        ],
    );
    assert_eq!(tokens(&desk), 2);
}

#[test]
fn r41_importing_the_same_rows_again_leaves_them_unchanged() {
    let mut desk = card_desk();
    let (account, participant) = account_with_participant(&mut desk);
    let first = format!(
        "authentication_code,identifier,pass_code,participant_number,account_number\n\
         U1,ada@example.com,1234,{participant},{account}\nU2,,,,\n"
    );
    check(
        &import(&mut desk, &first, defaults()),
        "applied 2/0/0",
        &["2 created", "3 created"],
    );
    // The same tokens in another file (no pass code needed; identifier spelt differently).
    let again = format!(
        "participant_number;account_number;identifier;authentication_code;pass_code\n\
         {participant};{account}; Ada@Example.com;U1;9999\n;;;U2;\n;;;U3;\n"
    );
    let run = import(&mut desk, &again, defaults());
    check(
        &run,
        "applied 1/2/0",
        &[
            "2 unchanged: the pass code in the file was not used",
            "3 unchanged: same owners and identifier.",
            "4 created",
        ],
    );
    desk.authenticate(&Credentials::Identifier {
        identifier: "ada@example.com".to_owned(),
        pass_code: Secret::new("1234"),
    })
    .expect("the stored pass code stays");
    assert_eq!(tokens(&desk), 3);
    // The identifier alone finds the token too.
    let by_identifier = format!(
        "identifier,participant_number,account_number\nada@example.com,{participant},{account}\n"
    );
    check(
        &import(&mut desk, &by_identifier, defaults()),
        "applied 0/1/0",
        &["2 unchanged"],
    );
}

/// SPEC §7.1's quote rule for pass codes: one `'` before `=`, `+`, `-` or `@` goes (the guard
/// a spreadsheet or the export adds). A pass code is never exported, so the export's extra
/// quote for values that begin with quotes is not undone: `''=` keeps both quotes.
#[test]
fn a_pass_code_loses_only_the_one_guarding_quote() {
    let mut desk = fresh_desk();
    use_definition(
        &mut desk,
        "Free pass codes",
        DefinitionSettings {
            pass_code: CredentialRule::typed(TextFormat::FreeText, 4, 32),
            ..card_settings()
        },
    );
    let csv = "authentication_code,identifier,pass_code\n\
               Q1,q1@example.com,'=12345\n\
               Q2,q2@example.com,''=12345\n";
    check(
        &import(&mut desk, csv, defaults()),
        "applied 2/0/0",
        &["2 created", "3 created"],
    );
    for (identifier, pass_code) in [("q1@example.com", "=12345"), ("q2@example.com", "''=12345")] {
        desk.authenticate(&Credentials::Identifier {
            identifier: identifier.to_owned(),
            pass_code: Secret::new(pass_code),
        })
        .unwrap_or_else(|err| panic!("{identifier} with {pass_code}: {err}"));
    }
}

#[test]
fn r42_a_repeated_file_is_refused_unless_allowed() {
    let mut desk = card_desk();
    let csv = "authentication_code\nREP1\nREP2\n";
    check(
        &import(&mut desk, csv, defaults()),
        "applied 2/0/0",
        &["2 created", "3 created"],
    );
    let run = import(&mut desk, csv, defaults());
    check(&run, "error: already imported as batch 1", &[]);
    assert_eq!(desk.batches().unwrap().len(), 1);
    let run = import(
        &mut desk,
        csv,
        ImportOptions {
            allow_repeat: true,
            ..defaults()
        },
    );
    check(&run, "applied 0/2/0", &["2 unchanged", "3 unchanged"]);
    assert_eq!(tokens(&desk), 2);
    assert_eq!(
        desk.batches().unwrap()[0].mode,
        "all_or_nothing,allow_repeat"
    );
}

#[test]
fn r41_the_same_code_on_another_owner_is_a_conflict() {
    let mut desk = card_desk();
    let (account, participant) = account_with_participant(&mut desk);
    let other = desk.create_account("Contoso").unwrap();
    let csv = format!(
        "authentication_code,participant_number,account_number\nC1,{participant},{account}\n"
    );
    check(
        &import(&mut desk, &csv, defaults()),
        "applied 1/0/0",
        &["2 created"],
    );
    let moved = format!("authentication_code,account_number\nC1,{}\n", other.number);
    let run = import(&mut desk, &moved, defaults());
    check(
        &run,
        "not applied 0/0/1",
        &[&format!(
            "2 rejected: already belongs to token AT0000000001 of participant {participant} of account {account}"
        )],
    );
}

#[test]
fn spreadsheet_damage_is_rejected_with_a_hint() {
    let mut desk = card_desk();
    let csv = "authentication_code,account_number\n1.23E+11,\nOK1,4.5e7\n";
    let run = import(&mut desk, csv, create_owners());
    check(
        &run,
        "not applied 0/0/2",
        &[
            "2 rejected: authentication code looks like a number a spreadsheet turned into scientific notation",
            "3 rejected: format the column as Text",
        ],
    );
}

#[test]
fn one_leading_apostrophe_before_a_formula_character_is_removed() {
    let mut desk = card_desk();
    let csv =
        "authentication_code,identifier,pass_code\n'=SUM1,'@handle,1234\n'-DASH,,\n'PLAIN,,\n";
    let run = import(&mut desk, csv, defaults());
    check(
        &run,
        "applied 3/0/0",
        &["2 created", "3 created", "4 created"],
    );
    assert_eq!(
        token_by_code(&desk, "=SUM1").identifier.as_deref(),
        Some("@handle")
    );
    assert!(has_token(&desk, "-DASH"));
    assert!(has_token(&desk, "'PLAIN"));
}

#[test]
fn every_row_follows_the_rules_of_the_effective_definition() {
    let mut desk = card_desk();
    let settings = DefinitionSettings {
        identifier: CredentialRule::typed(TextFormat::Email, 3, 64),
        authentication_code: CredentialRule::typed(TextFormat::Number, 6, 6),
        allow_without_identifier_and_pass_code: false,
        ..DefinitionSettings::default()
    };
    use_definition(&mut desk, "Strict", settings);
    let csv = "authentication_code,identifier,pass_code,state\n\
               123456,ada@example.com,1234,\n\
               12345,bob@example.com,1234,\n\
               234567,not-an-email,1234,\n\
               345678,,,\n\
               456789,cy@example.com,12,\n\
               567890,di@example.com,1234,dormant\n";
    let run = import(&mut desk, csv, defaults());
    check(
        &run,
        "not applied 1/0/5",
        &[
            "2 would_create",
            "3 rejected: authentication code must be exactly 6 characters long",
            "4 rejected: identifier must be an e-mail address",
            "5 rejected: identifier and pass code are required by this definition",
            "6 rejected: pass code must be 4–12 characters long",
            "7 rejected: state must be effective or not_effective",
        ],
    );
}

#[test]
fn unknown_owners_are_rejected_unless_create_owners() {
    let mut desk = card_desk();
    let csv = "authentication_code,participant_number,participant_name,account_number,account_name\n\
               N1,RP-EXT-1,Ada Lovelace,ACR-EXT-1,Northwind\n\
               N2,RP-EXT-2,Grace Hopper,ACR-EXT-1,Northwind\n\
               N3,,,ACR-EXT-2,Contoso\n";
    let run = import(&mut desk, csv, defaults());
    check(
        &run,
        "not applied 0/0/3",
        &[
            "2 rejected: there is no account ACR-EXT-1; allow creating owners",
            "3 rejected: there is no account ACR-EXT-1",
            "4 rejected: there is no account ACR-EXT-2",
        ],
    );
    let run = import(&mut desk, csv, create_owners());
    check(
        &run,
        "applied 3/0/0",
        &["2 created", "3 created", "4 created"],
    );
    let participant = desk.participant("RP-EXT-2").unwrap();
    assert_eq!(participant.account_number, "ACR-EXT-1");
    assert_eq!(participant.name, "Grace Hopper");
    assert_eq!(desk.account("ACR-EXT-1").unwrap().participant_count, 2);
    assert_eq!(
        token_by_code(&desk, "N1").participant_number.as_deref(),
        Some("RP-EXT-1")
    );
    // Owner numbers are at most 40 characters without spaces, and are not echoed in full.
    let long = format!(
        "authentication_code,account_number\nL1,{}\nL2,ACR 1\n",
        "9".repeat(5000)
    );
    let run = import(&mut desk, &long, create_owners());
    check(
        &run,
        "not applied 0/0/2",
        &[
            "2 rejected: account number 9999999999999999999999999999999999999999… must be at most 40 characters",
            "3 rejected: account number ACR 1 must be at most 40 characters without spaces",
        ],
    );
    // New owners need their names, and a new participant its account.
    let csv = "authentication_code,participant_number,participant_name,account_number,account_name\n\
               M1,RP-X,,ACR-EXT-1,\n\
               M2,,,ACR-Y,\n\
               M3,RP-Z,Zed,,\n";
    let run = import(&mut desk, csv, create_owners());
    check(
        &run,
        "not applied 0/0/3",
        &[
            "2 rejected: needs a participant_name",
            "3 rejected: needs an account_name",
            "4 rejected: needs the account_number",
        ],
    );
}

#[test]
fn r30_a_participant_of_another_account_is_rejected() {
    let mut desk = card_desk();
    let (account, participant) = account_with_participant(&mut desk);
    let other = desk.create_account("Contoso").unwrap();
    let csv = format!(
        "authentication_code,participant_number,account_number,account_name\n\
         P1,{participant},{},\n\
         P2,{participant},ACR-NEW,Fabrikam\n\
         P3,{participant},{account},\n",
        other.number
    );
    let run = import(&mut desk, &csv, create_owners());
    check(
        &run,
        "not applied 1/0/2",
        &[
            &format!(
                "2 rejected: participant {participant} belongs to account {account}, not to account {}",
                other.number
            ),
            "3 rejected: not to account ACR-NEW (R30)",
            "4 would_create",
        ],
    );
    assert!(desk.account("ACR-NEW").is_err(), "nothing was created");
}

#[test]
fn r34_terminated_owners_get_no_new_tokens() {
    let mut desk = card_desk();
    let (account, participant) = account_with_participant(&mut desk);
    desk.terminate_participant(&participant).unwrap();
    let closed = desk.create_account("Closed Ltd").unwrap();
    desk.set_account_state(&closed.number, AccountState::Terminated)
        .unwrap();
    let csv = format!(
        "authentication_code,participant_number,participant_name,account_number\n\
         T1,{participant},,\nT2,,,{}\nT3,RP-NEW,Newcomer,{}\nT4,,,{account}\n",
        closed.number, closed.number
    );
    let run = import(&mut desk, &csv, create_owners());
    check(
        &run,
        "not applied 1/0/3",
        &[
            "2 rejected: is terminated and gets no new tokens (R34)",
            "3 rejected: is terminated and gets no new tokens (R34)",
            "4 rejected: is terminated and gets no new participants",
            "5 would_create",
        ],
    );
}

#[test]
fn r32_max_tokens_counts_rows_of_the_same_file() {
    let mut desk = card_desk();
    let settings = DefinitionSettings {
        participants: OwnerSettings {
            max_tokens: 2,
            ..OwnerSettings::default()
        },
        ..card_settings()
    };
    use_definition(&mut desk, "Two per person", settings);
    let (_, participant) = account_with_participant(&mut desk);
    desk.create_token(&TokenDraft {
        authentication_code: Some("MX0".to_owned()),
        ..crate::support::draft_for_participant(&participant)
    })
    .unwrap();
    let csv =
        format!("authentication_code,participant_number\nMX1,{participant}\nMX2,{participant}\n");
    let run = import(
        &mut desk,
        &csv,
        ImportOptions {
            skip_invalid: true,
            ..defaults()
        },
    );
    check(
        &run,
        "applied 1/0/1",
        &[
            "2 created",
            "3 rejected: already holds 2 tokens, the most the definition allows (R32)",
        ],
    );
    // With pass codes the rows wait for the hashing threads; the maximum still holds.
    let (_, second) = {
        let account = desk.create_account("Second").unwrap();
        let p = desk.create_participant("Bob", &account.number).unwrap();
        (account.number, p.number)
    };
    let csv = format!(
        "authentication_code,identifier,pass_code,participant_number\n\
         MY1,bob1,1234,{second}\nMY2,bob2,1234,{second}\nMY3,bob3,1234,{second}\n"
    );
    let run = import(
        &mut desk,
        &csv,
        ImportOptions {
            skip_invalid: true,
            ..defaults()
        },
    );
    check(
        &run,
        "applied 2/0/1",
        &["2 created", "3 created", "4 rejected: (R32)"],
    );
}

fn generating_definition(desk: &mut Desk, verification: bool) {
    let mut settings = DefinitionSettings {
        pass_code: CredentialRule::random(Alphabet::Digits, 6),
        ..DefinitionSettings::default()
    };
    settings.verification.required = verification;
    use_definition(desk, "Generated PIN", settings);
}

#[test]
fn r44_generated_secrets_need_a_credentials_file() {
    let mut desk = fresh_desk();
    generating_definition(&mut desk, true);
    let csv = "identifier\nada@example.com\ngrace@example.com\n";
    let run = import_with(&mut desk, csv.as_bytes(), defaults(), false, None);
    check(&run, "error: no credentials file", &[]);
    assert_eq!(tokens(&desk), 0);
    // A dry run writes no secrets, so it needs no credentials file.
    let dry = import_with(
        &mut desk,
        csv.as_bytes(),
        ImportOptions {
            dry_run: true,
            ..defaults()
        },
        false,
        None,
    );
    check(
        &dry,
        "not applied 2/0/0",
        &[
            "2 would_create: pass code would be generated and verification code would be issued",
            "3 would_create",
        ],
    );
    let run = import(&mut desk, csv, defaults());
    check(
        &run,
        "applied 2/0/0",
        &[
            "2 created: pass code generated and verification code issued; see the credentials file",
            "3 created",
        ],
    );
    assert!(run.credentials.is_finished);
    assert_eq!(run.credentials.rows.len(), 2);
    let [number, code, identifier, pass_code, verification] = run.credentials.rows[0].clone();
    assert_eq!(identifier, "ada@example.com");
    assert_eq!(pass_code.len(), 6);
    assert_eq!(verification.len(), 6);
    let token = desk.token(&number).unwrap();
    assert_eq!(token.authentication_code, code);
    assert_eq!(token.state, TokenState::PendingVerification);
    desk.verify_token(&number, &Secret::new(verification))
        .expect("the verification code from the credentials file works");
    desk.authenticate(&Credentials::Identifier {
        identifier,
        pass_code: Secret::new(pass_code),
    })
    .expect("the generated pass code works");
}

#[test]
fn r44_generated_pass_codes_only_with_identifiers_need_no_credentials_file_without_them() {
    let mut desk = fresh_desk();
    let settings = DefinitionSettings {
        pass_code: CredentialRule::random(Alphabet::Digits, 6),
        authentication_code: CredentialRule::typed(TextFormat::FreeText, 1, 64),
        ..DefinitionSettings::default()
    };
    use_definition(&mut desk, "PIN on request", settings);
    // No identifier column, identifiers typed and optional: no pass code can be generated.
    let run = import_with(
        &mut desk,
        b"authentication_code\nCARD1\n",
        defaults(),
        false,
        None,
    );
    check(&run, "applied 1/0/0", &["2 created"]);
    let run = import_with(
        &mut desk,
        b"identifier\nada@example.com\n",
        defaults(),
        false,
        None,
    );
    check(&run, "error: no credentials file", &[]);
}

#[test]
fn a_dry_run_changes_nothing() {
    let mut desk = card_desk();
    let csv = "authentication_code,account_number,account_name\nDRY1,ACR-D,Dry Ltd\nDRY2,ACR-D,Dry Ltd\nDRY1,,\n";
    let run = import(
        &mut desk,
        csv,
        ImportOptions {
            dry_run: true,
            create_owners: true,
            ..defaults()
        },
    );
    check(
        &run,
        "not applied 2/0/1",
        &[
            "2 would_create",
            "3 would_create",
            "4 rejected: also on line 2",
        ],
    );
    let summary = run.result.as_ref().unwrap();
    assert!(summary.dry_run && summary.batch_id.is_none());
    assert_eq!(tokens(&desk), 0);
    assert!(desk.account("ACR-D").is_err());
    assert!(desk.batches().unwrap().is_empty());
    // A dry run leaves the file importable (no batch, so R42 does not apply).
    check(
        &import(
            &mut desk,
            "authentication_code,account_number,account_name\nDRY1,ACR-D,Dry Ltd\nDRY2,ACR-D,Dry Ltd\n",
            create_owners(),
        ),
        "applied 2/0/0",
        &["2 created", "3 created"],
    );
}

#[test]
fn r43_by_default_one_rejected_row_means_nothing_is_applied() {
    let mut desk = card_desk();
    let csv = "authentication_code,account_number,account_name,identifier,pass_code\n\
               A1,ACR-A,Alpha,alpha,1234\nA2,,,,\nA3,,,xavier,\nA4,,,,\n";
    let run = import(&mut desk, csv, create_owners());
    check(
        &run,
        "not applied 3/0/1",
        &[
            "2 would_create",
            "3 would_create",
            "4 rejected: pass code is required",
            "5 would_create",
        ],
    );
    assert_eq!(tokens(&desk), 0);
    assert!(desk.account("ACR-A").is_err());
    assert!(desk.batches().unwrap().is_empty());
    assert!(run.credentials.rows.is_empty());
}

#[test]
fn skip_invalid_applies_the_valid_rows_and_reports_the_rest() {
    let mut desk = card_desk();
    let csv = "authentication_code,account_number,account_name,identifier,pass_code\n\
               A1,ACR-A,Alpha,alpha,1234\nA2,,,,\nA3,,,xavier,\nA4,,,,\n";
    let run = import(
        &mut desk,
        csv,
        ImportOptions {
            skip_invalid: true,
            create_owners: true,
            ..defaults()
        },
    );
    check(
        &run,
        "applied 3/0/1",
        &[
            "2 created",
            "3 created",
            "4 rejected: pass code is required",
            "5 created",
        ],
    );
    assert_eq!(tokens(&desk), 3);
    assert!(!has_token(&desk, "A3"));
    let batch = &desk.batches().unwrap()[0];
    assert_eq!((batch.created, batch.rejected), (3, 1));
    assert_eq!(batch.mode, "skip_invalid,create_owners");
}

#[test]
fn cancelling_rolls_everything_back() {
    let mut desk = card_desk();
    let mut csv = String::from("authentication_code,identifier,pass_code\n");
    for n in 0..3000 {
        csv.push_str(&format!("CXL{n},user{n},1234\n"));
    }
    let run = import_with(&mut desk, csv.as_bytes(), defaults(), true, Some(1000));
    check(&run, "error: cancelled; nothing was changed", &[]);
    assert_eq!(tokens(&desk), 0);
    assert!(desk.batches().unwrap().is_empty());
}

#[test]
fn a_large_file_keeps_line_order_and_numbers_while_hashing_on_workers() {
    let mut desk = card_desk();
    let mut csv = String::from("authentication_code,identifier,pass_code\n");
    for n in 0..3000 {
        if n % 3 == 0 {
            csv.push_str(&format!("BULK{n},user{n},{:04}\n", n % 10_000));
        } else {
            csv.push_str(&format!("BULK{n},,\n"));
        }
    }
    let run = import(&mut desk, &csv, defaults());
    let summary = run.result.as_ref().unwrap();
    assert_eq!((summary.created, summary.rejected), (3000, 0));
    for (index, line) in run.report.iter().enumerate() {
        assert_eq!(line, &format!("{} created", index + 2));
    }
    assert_eq!(token_by_code(&desk, "BULK0").number, "AT0000000001");
    assert_eq!(token_by_code(&desk, "BULK2999").number, "AT0000003000");
    desk.authenticate(&Credentials::Identifier {
        identifier: "user2997".to_owned(),
        pass_code: Secret::new("2997"),
    })
    .expect("hashes belong to their own rows");
}

#[test]
fn r45_undo_removes_the_batch_and_the_owners_it_created() {
    let mut desk = card_desk();
    let (account, _) = account_with_participant(&mut desk);
    let csv = format!(
        "authentication_code,participant_number,participant_name,account_number,account_name\n\
         UN1,RP-U,Una,ACR-U,Undo Ltd\nUN2,,,{account},\n"
    );
    let run = import(&mut desk, &csv, create_owners());
    check(&run, "applied 2/0/0", &["2 created", "3 created"]);
    let batch = run.result.unwrap().batch_id.unwrap();
    let counts = desk.undo_batch(batch).unwrap();
    assert_eq!(
        (counts.tokens, counts.participants, counts.accounts),
        (2, 1, 1)
    );
    assert_eq!(tokens(&desk), 0);
    assert!(desk.participant("RP-U").is_err());
    assert!(desk.account(&account).is_ok(), "owners that existed stay");
    let undone = &desk.batches().unwrap()[0];
    assert!(undone.undone_at.is_some());
    assert_eq!(undone.undone_by.as_deref(), Some("clerk"));
    let events = desk
        .audit_events(&Default::default(), i64::MAX, 100)
        .unwrap();
    let undo = events
        .iter()
        .find(|e| e.action == "import.undo")
        .expect("one audit event for the undo");
    assert_eq!(undo.batch_id, Some(batch));
    assert!(
        undo.details
            .contains("removed 2 tokens, 1 participants, 1 accounts"),
        "{}",
        undo.details
    );
    let again = desk.undo_batch(batch).unwrap_err().to_string();
    assert!(again.contains("already undone"), "{again}");
    // An undone file may be imported again.
    check(
        &import(&mut desk, &csv, create_owners()),
        "applied 2/0/0",
        &["2 created", "3 created"],
    );
    // Token numbers are never reused.
    assert_eq!(token_by_code(&desk, "UN1").number, "AT0000000003");
}

#[test]
fn r45_undo_is_refused_when_tokens_changed_or_owners_were_used_since() {
    let mut desk = card_desk();
    let csv = "authentication_code,participant_number,participant_name,account_number,account_name\n\
               CH1,RP-C,Cleo,ACR-C,Change Ltd\nCH2,,,,\nCH3,,,,\n";
    let run = import(&mut desk, csv, create_owners());
    let batch = run.result.unwrap().batch_id.unwrap();
    let used = token_by_code(&desk, "CH2").number;
    desk.authenticate(&Credentials::AuthenticationCode("CH2".to_owned()))
        .unwrap();
    let deactivated = token_by_code(&desk, "CH3").number;
    desk.set_token_state(&deactivated, TokenState::NotEffective, "lost card")
        .unwrap();
    desk.create_token(&TokenDraft {
        account_number: Some("ACR-C".to_owned()),
        authentication_code: Some("CH4".to_owned()),
        ..TokenDraft::default()
    })
    .unwrap();
    let refusal = desk.undo_batch(batch).unwrap_err().to_string();
    for words in [
        format!("token {used} has been used"),
        format!("token {deactivated} has changed state"),
        "account ACR-C holds token AT0000000004, which is not from this import".to_owned(),
    ] {
        assert!(refusal.contains(&words), "{words} not in: {refusal}");
    }
    assert_eq!(tokens(&desk), 4, "nothing was removed");
    assert!(desk.batches().unwrap()[0].undone_at.is_none());
}

#[test]
fn report_outcomes_have_their_spec_names() {
    let names: Vec<&str> = [
        RowOutcome::Created,
        RowOutcome::Unchanged,
        RowOutcome::Rejected,
        RowOutcome::WouldCreate,
    ]
    .iter()
    .map(|o| o.as_str())
    .collect();
    assert_eq!(names, ["created", "unchanged", "rejected", "would_create"]);
}

#[test]
fn the_sample_file_imports_into_a_new_database() {
    let mut desk = fresh_desk();
    let sample = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/assets/sample_import.csv"
    ))
    .unwrap();
    let run = import_with(&mut desk, &sample, create_owners(), true, None);
    check(
        &run,
        "applied 5/0/0",
        &[
            "2 created",
            "3 created",
            "4 created",
            "5 created",
            "6 created",
        ],
    );
    assert_eq!(desk.participant("RP-1003").unwrap().name, "Hopper, Grace");
    assert_eq!(desk.account("ACR-2001").unwrap().participant_count, 2);
}

#[test]
fn blank_lines_are_skipped_and_do_not_shift_line_numbers() {
    let mut desk = card_desk();
    let run = import(
        &mut desk,
        "authentication_code\r\n\r\nB1\r\n\r\n\r\nB2\r\n",
        defaults(),
    );
    check(&run, "applied 2/0/0", &["3 created", "6 created"]);
    // Rows of bare delimiters below the data are skipped too; a row with a state is a token.
    let mut desk = fresh_desk();
    let run = import(
        &mut desk,
        "authentication_code,state\n,effective\n,\n , \n",
        defaults(),
    );
    check(&run, "applied 1/0/0", &["2 created"]);
}

/// The built binary, on a database in a temporary folder.
struct Cli {
    dir: tempfile::TempDir,
}

impl Cli {
    fn new() -> Self {
        Self {
            dir: tempfile::tempdir().unwrap(),
        }
    }

    fn path(&self, name: &str) -> std::path::PathBuf {
        self.dir.path().join(name)
    }

    fn write(&self, name: &str, text: &str) -> String {
        std::fs::write(self.path(name), text).unwrap();
        self.path(name).display().to_string()
    }

    fn command(&self) -> std::process::Command {
        let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_tokendesk"));
        command
            .arg("--db")
            .arg(self.path("desk.sqlite3"))
            .args(["--clerk", "tester"])
            .env_remove("TOKENDESK_DB");
        command
    }

    /// Runs the binary; returns exit status, standard output and standard error.
    fn run(&self, args: &[&str]) -> (i32, String, String) {
        let output = self.command().args(args).output().unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
        assert!(!stderr.contains("panicked"), "{stderr}");
        (
            output.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr,
        )
    }
}

#[test]
fn cli_import_writes_the_report_and_an_owner_only_credentials_file() {
    let cli = Cli::new();
    let definition = cli.write(
        "pin.json",
        r#"{"name": "Generated PIN", "settings": {"pass_code": {"method": "random", "alphabet": "digits", "length": 6}}}"#,
    );
    assert_eq!(cli.run(&["definition", "add", &definition]).0, 0);
    assert_eq!(cli.run(&["definition", "activate", "GP"]).0, 0);
    let file = cli.write(
        "people.csv",
        "identifier\nada@example.com\ngrace@example.com\n",
    );
    let report = cli.path("report.csv").display().to_string();
    let credentials = cli.path("secrets.csv").display().to_string();

    let (status, _, stderr) = cli.run(&["import", &file, "--report", &report]);
    assert_eq!(status, 1, "{stderr}");
    assert!(stderr.contains("--credentials FILE"), "{stderr}");
    assert!(
        !cli.path("report.csv").exists(),
        "no report of an import that did not start"
    );

    let (status, stdout, stderr) = cli.run(&[
        "import",
        &file,
        "--report",
        &report,
        "--credentials",
        &credentials,
    ]);
    assert_eq!(status, 0, "{stderr}");
    let summary: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(summary["created"], 2);
    assert_eq!(summary["generated_secrets"], 2);
    assert!(stderr.contains("Imported as batch 1"), "{stderr}");
    let report_text = std::fs::read_to_string(&report).unwrap();
    let lines: Vec<&str> = report_text.lines().collect();
    assert_eq!(
        lines[0],
        "line,outcome,token_number,authentication_code,message"
    );
    assert!(
        lines[1].starts_with("2,created,AT0000000001,"),
        "{report_text}"
    );
    assert_eq!(lines.len(), 3);
    let secrets = std::fs::read_to_string(&credentials).unwrap();
    assert!(
        secrets.starts_with(
            "token_number,authentication_code,identifier,pass_code,verification_code\n"
        )
    );
    assert!(secrets.contains(",ada@example.com,"), "{secrets}");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(&credentials)
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }

    // Refusals exit with 1, file trouble with 3.
    let unknown = cli.write("bad.csv", "identifier,passcode\nx,1\n");
    let (status, _, stderr) = cli.run(&["import", &unknown]);
    assert_eq!(status, 1);
    assert!(stderr.contains("unknown column \"passcode\""), "{stderr}");
    let (status, _, _) = cli.run(&["import", &cli.path("missing.csv").display().to_string()]);
    assert_eq!(status, 3);
    let (status, _, stderr) = cli.run(&["import", &file, "--credentials", &credentials]);
    assert_eq!(status, 1);
    assert!(stderr.contains("already imported as batch 1"), "{stderr}");

    let (status, stdout, _) = cli.run(&["batch", "list"]);
    assert_eq!(status, 0);
    let batches: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(batches[0]["created"], 2);
    let (status, stdout, _) = cli.run(&["batch", "undo", "1"]);
    assert_eq!(status, 0);
    let undone: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(undone["tokens"], 2);
    let (status, _, stderr) = cli.run(&["batch", "undo", "1"]);
    assert_eq!(status, 1, "{stderr}");
}

#[test]
fn cli_an_import_killed_part_way_leaves_the_database_as_it_was() {
    let cli = Cli::new();
    let definition = cli.write(
        "cards.json",
        r#"{"name": "Cards", "settings": {"authentication_code": {"method": "none", "min_length": 1, "max_length": 64}}}"#,
    );
    assert_eq!(cli.run(&["definition", "add", &definition]).0, 0);
    assert_eq!(cli.run(&["definition", "activate", "C"]).0, 0);
    let mut csv = String::from("authentication_code\n");
    for n in 0..200_000 {
        csv.push_str(&format!("KILL{n:08}\n"));
    }
    let file = cli.write("cards.csv", &csv);
    let report = cli.path("report.csv");
    let mut child = cli
        .command()
        .args(["import", &file, "--report"])
        .arg(&report)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    // The report grows row by row while the transaction is open, and the commit comes only
    // after the last row: once it holds a few thousand rows, pull the plug.
    let started = std::time::Instant::now();
    while std::fs::metadata(&report).map_or(0, |m| m.len()) < 256 << 10 {
        assert!(
            child.try_wait().unwrap().is_none(),
            "the import ended before it could be killed"
        );
        assert!(
            started.elapsed().as_secs() < 120,
            "the import never started writing"
        );
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    child.kill().unwrap();
    child.wait().unwrap();

    {
        let desk = Desk::new(
            tokendesk::storage::Store::open(&cli.path("desk.sqlite3")).unwrap(),
            tokendesk::domain::SecretHasher::cheap_for_tests(),
            "checker",
        );
        desk.store()
            .integrity_check()
            .expect("integrity_check is ok");
        assert_eq!(tokens(&desk), 0, "none of the batch was applied");
        assert!(desk.batches().unwrap().is_empty());
    }
    let (status, stdout, stderr) = cli.run(&["import", &file]);
    assert_eq!(status, 0, "{stderr}");
    let summary: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(summary["created"], 200_000);
}

#[test]
fn a_file_changed_during_the_import_is_not_applied() {
    let mut desk = card_desk();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("changing.csv");
    let mut csv = String::from("authentication_code\n");
    for n in 0..20_000 {
        csv.push_str(&format!("CHG{n:07}\n"));
    }
    std::fs::write(&path, &csv).unwrap();
    let mut report = MemoryReport::default();
    let mut changed = false;
    let mut progress = |_: tokendesk::desk::import::ImportProgress| {
        if !changed {
            changed = true;
            // Saved again by someone else: same length, one code different, same inode.
            use std::io::{Seek as _, Write as _};
            let mut file = std::fs::OpenOptions::new().write(true).open(&path).unwrap();
            file.seek(std::io::SeekFrom::End(-11)).unwrap();
            file.write_all(b"XHG0019999\n").unwrap();
        }
    };
    let never = || false;
    let mut output = ImportOutput {
        report: &mut report,
        credentials: None,
        progress: &mut progress,
        is_cancelled: &never,
    };
    let result = desk.import_csv(ImportSource::File(&path), defaults(), &mut output);
    let err = result.unwrap_err();
    assert!(
        err.to_string()
            .contains("the file changed while it was being imported"),
        "{err}"
    );
    assert_eq!(tokens(&desk), 0);
    assert!(
        report.rows.is_empty(),
        "the report of an import that failed is emptied"
    );
}

#[test]
fn r40_an_exported_file_imports_back_as_unchanged_rows() {
    let mut desk = fresh_desk();
    let (account, participant) = account_with_participant(&mut desk);
    let linked = TokenDraft {
        participant_number: Some(participant.clone()),
        account_number: Some(account.clone()),
        identifier: Some("+1 555 010 9999".to_owned()),
        pass_code: Some(Secret::new("4711")),
        ..TokenDraft::default()
    };
    desk.create_token(&linked).unwrap();
    desk.create_token(&TokenDraft {
        account_number: Some(account.clone()),
        identifier: Some("=formula@example.com".to_owned()),
        pass_code: Some(Secret::new("1234")),
        ..TokenDraft::default()
    })
    .unwrap();
    let loose = desk.create_token(&TokenDraft::default()).unwrap().token;
    desk.set_token_state(&loose.number, TokenState::NotEffective, "spare card")
        .unwrap();
    let mut exported = Vec::new();
    desk.export_tokens(
        &TokenFilter::default(),
        tokendesk::desk::export::ExportOptions { excel_bom: true },
        &mut exported,
        &mut |_| {},
        &|| false,
    )
    .unwrap();
    let run = import_with(&mut desk, &exported, defaults(), true, None);
    check(
        &run,
        "applied 0/3/0",
        &["2 unchanged", "3 unchanged", "4 unchanged"],
    );
    assert_eq!(tokens(&desk), 3);
}

#[test]
fn the_window_runs_an_import_on_a_named_background_thread() {
    use tokendesk::desk::import::{ImportJob, spawn_import};
    let desk = card_desk();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("cards.csv");
    let mut csv = String::from("authentication_code\n");
    for n in 0..3000 {
        csv.push_str(&format!("JOB{n:05}\n"));
    }
    csv.push_str("JOB00001\n");
    std::fs::write(&file, &csv).unwrap();
    let job = ImportJob {
        database: desk.path(),
        clerk: "window".to_owned(),
        file: file.clone(),
        options: ImportOptions {
            skip_invalid: true,
            ..defaults()
        },
        report: Some(dir.path().join("report.csv")),
        credentials: None,
    };
    // Cancelled at once: nothing applied, the report removed.
    let cancelled = spawn_import(job.clone(), || {}).unwrap();
    cancelled.request_cancel();
    let err = cancelled.wait().unwrap().unwrap_err();
    assert!(matches!(err, ImportError::Cancelled), "{err}");
    assert!(!dir.path().join("report.csv").exists());
    assert_eq!(tokens(&desk), 0);
    // Run to the end: the window's own connection sees the tokens, the grid gets the rejected row.
    let result = spawn_import(job, || {}).unwrap().wait().unwrap().unwrap();
    assert_eq!((result.summary.created, result.summary.rejected), (3000, 1));
    assert_eq!(result.rejected.len(), 1);
    assert_eq!(result.rejected[0].line, 3002);
    assert_eq!(tokens(&desk), 3000);
    assert_eq!(desk.batches().unwrap()[0].clerk, "window");
    let report = std::fs::read_to_string(dir.path().join("report.csv")).unwrap();
    assert_eq!(report.lines().count(), 3002);
}

/// Cells a clerk's file may hold: good codes, damage, guards, quotes, separators, line breaks.
fn cell() -> impl proptest::strategy::Strategy<Value = String> {
    proptest::prop_oneof![
        proptest::string::string_regex("[A-Z0-9]{1,8}").unwrap(),
        proptest::string::string_regex("[a-z]{3,6}@example\\.com").unwrap(),
        proptest::string::string_regex("[0-9]{4,6}").unwrap(),
        proptest::sample::select(vec![
            String::new(),
            "1.23E+11".to_owned(),
            "'=SUM(A1)".to_owned(),
            "\"quoted, with comma\"".to_owned(),
            "\"two\nlines\"".to_owned(),
            "ÄÖÜ ß 漢字".to_owned(),
            "effective".to_owned(),
            "not_effective".to_owned(),
            "\"".to_owned(),
            ";".to_owned(),
            "\t".to_owned(),
            " ".to_owned(),
        ]),
    ]
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig { cases: 128, ..proptest::prelude::ProptestConfig::default() })]

    /// Whatever the rows hold: no panic; either a refusal with one sentence and nothing
    /// applied, or one report line per applied or rejected row, in file order.
    #[test]
    fn arbitrary_rows_never_half_apply(
        rows in proptest::collection::vec(proptest::collection::vec(cell(), 0..5), 0..12),
        skip_invalid: bool,
        crlf: bool,
    ) {
        let mut desk = card_desk();
        let end = if crlf { "\r\n" } else { "\n" };
        let mut csv = format!("authentication_code,identifier,pass_code,state{end}");
        for row in &rows {
            csv.push_str(&row.join(","));
            csv.push_str(end);
        }
        let options = ImportOptions { skip_invalid, ..defaults() };
        let run = import_with(&mut desk, csv.as_bytes(), options, true, None);
        match &run.result {
            Ok(summary) => {
                proptest::prop_assert_eq!(
                    run.report.len() as u64,
                    summary.created + summary.unchanged + summary.rejected
                );
                let lines: Vec<u64> = run
                    .report
                    .iter()
                    .map(|line| line.split(' ').next().unwrap().parse().unwrap())
                    .collect();
                proptest::prop_assert!(lines.windows(2).all(|pair| pair[0] < pair[1]), "{:?}", lines);
                let expected = if summary.applied { summary.created } else { 0 };
                proptest::prop_assert_eq!(tokens(&desk), expected);
                proptest::prop_assert!(summary.applied || summary.rejected > 0);
            }
            Err(err) => {
                proptest::prop_assert!(err.sentence().ends_with('.'));
                proptest::prop_assert_eq!(tokens(&desk), 0);
            }
        }
    }
}

#[test]
fn progress_ends_at_the_whole_file() {
    let mut desk = card_desk();
    let csv = "authentication_code\nPR1\nPR2\n";
    let mut report = MemoryReport::default();
    let mut seen = Vec::new();
    let mut progress = |p: tokendesk::desk::import::ImportProgress| seen.push(p);
    let never = || false;
    let mut output = ImportOutput {
        report: &mut report,
        credentials: None,
        progress: &mut progress,
        is_cancelled: &never,
    };
    desk.import_csv(
        ImportSource::Bytes {
            name: "p.csv",
            bytes: csv.as_bytes(),
        },
        defaults(),
        &mut output,
    )
    .unwrap();
    let last = seen.last().copied().expect("progress was reported");
    assert_eq!((last.rows, last.done_bytes, last.total_bytes), (2, 28, 28));
}

#[test]
fn the_wizard_previews_delimiter_columns_and_first_rows() {
    use tokendesk::desk::import::preview;
    let bytes =
        "\u{feff}Authentication_Code;State\r\nP1;effective\r\n;\r\n\"P\n2\";\r\nP3;\r\n".as_bytes();
    let shown = preview(
        ImportSource::Bytes {
            name: "p.csv",
            bytes,
        },
        2,
    )
    .unwrap();
    assert_eq!(shown.delimiter, ';');
    assert_eq!(shown.columns, ["Authentication_Code", "State"]);
    assert_eq!(shown.header_problem, None);
    assert_eq!(
        shown.rows,
        [
            (2, vec!["P1".to_owned(), "effective".to_owned()]),
            (4, vec!["P\n2".to_owned(), String::new()]),
        ]
    );
    let unknown = preview(
        ImportSource::Bytes {
            name: "p.csv",
            bytes: b"identifier,passcode\nx,1\n",
        },
        5,
    )
    .unwrap();
    assert!(
        unknown
            .header_problem
            .unwrap()
            .contains("unknown column \"passcode\"")
    );
    assert!(matches!(
        preview(
            ImportSource::Bytes {
                name: "p.csv",
                bytes: b""
            },
            5
        ),
        Err(ImportError::Empty)
    ));
}

#[test]
fn r8_imported_pass_codes_reach_no_database_file_and_no_report() {
    let mut desk = card_desk();
    let csv = "authentication_code,identifier,pass_code\nSEC1,ada@example.com,73519246\nSEC2,bob@example.com,73519246\n";
    let run = import(&mut desk, csv, defaults());
    check(&run, "applied 2/0/0", &["2 created", "3 created"]);
    assert!(run.report.iter().all(|line| !line.contains("73519246")));
    assert!(!crate::support::database_files_contain(
        &desk.path(),
        b"73519246"
    ));
    let run = import(
        &mut desk,
        "authentication_code,identifier,pass_code\nSEC3,ada@example.com,73519246\n",
        defaults(),
    );
    check(
        &run,
        "not applied 0/0/1",
        &["2 rejected: identifier already belongs"],
    );
    assert!(run.report.iter().all(|line| !line.contains("73519246")));
}

/// A large file that names owners looks them up through a filter of owner numbers: it must
/// still find the owners that existed and those it created itself a few lines earlier.
#[test]
fn a_large_file_finds_existing_owners_and_those_it_created() {
    let mut desk = card_desk();
    let (account, participant) = account_with_participant(&mut desk);
    let mut csv = String::from(
        "participant_number,participant_name,account_number,account_name,authentication_code\n",
    );
    for n in 0..21_000 {
        if n == 7 {
            csv.push_str(&format!("{participant},,{account},,OWN-{n:06}\n"));
        } else {
            let group = n / 3;
            csv.push_str(&format!(
                "RPN{group:06},Participant {group},ACN{group:06},Account {group},OWN-{n:06}\n"
            ));
        }
    }
    let run = import(&mut desk, &csv, create_owners());
    let summary = run.result.as_ref().unwrap();
    assert_eq!((summary.created, summary.rejected), (21_000, 0));
    let all = tokendesk::desk::OwnerFilter::default();
    assert_eq!(
        desk.count_owners(OwnerKind::Participant, &all).unwrap(),
        7_001
    );
    assert_eq!(desk.count_owners(OwnerKind::Account, &all).unwrap(), 7_001);
    let existing = token_by_code(&desk, "OWN-000007");
    assert_eq!(
        existing.participant_number.as_deref(),
        Some(participant.as_str())
    );
    assert_eq!(existing.account_number.as_deref(), Some(account.as_str()));
    // The name indexes were built after the rows: they are there and name searches use them.
    let conn = rusqlite::Connection::open(desk.path()).unwrap();
    let named: i64 = conn
        .query_row(
            "SELECT count(*) FROM sqlite_schema WHERE name IN ('participants_name', 'accounts_name')",
            [],
            |row| row.get(0),
        )
        .unwrap();
    assert_eq!(named, 2);
    let search = tokendesk::desk::OwnerFilter {
        text: "Participant 699".to_owned(),
        ..tokendesk::desk::OwnerFilter::default()
    };
    assert_eq!(
        desk.count_owners(OwnerKind::Participant, &search).unwrap(),
        11
    );
    for code in ["OWN-000003", "OWN-000004", "OWN-000005"] {
        let token = token_by_code(&desk, code);
        assert_eq!(
            token.participant_number.as_deref(),
            Some("RPN000001"),
            "{code}"
        );
        assert_eq!(token.account_number.as_deref(), Some("ACN000001"), "{code}");
    }
}

/// The indexes of the tokens table with their definitions, as the database lists them.
fn token_indexes(desk: &TestDesk) -> Vec<String> {
    let conn = rusqlite::Connection::open(desk.path()).unwrap();
    let mut statement = conn
        .prepare(
            "SELECT l.name || ': ' || coalesce(s.sql, 'unique constraint')
             FROM pragma_index_list('tokens') l LEFT JOIN sqlite_schema s ON s.name = l.name
             ORDER BY l.name",
        )
        .unwrap();
    statement
        .query_map([], |row| row.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap()
}

/// A file that more than doubles the tokens table builds some indexes after its rows (P1):
/// whether it commits, is cancelled or is only checked, the table keeps every index, and
/// what the indexes serve (filters by state, batch undo) works.
#[test]
fn a_large_import_into_a_small_desk_keeps_every_index() {
    let mut desk = card_desk();
    let indexes = token_indexes(&desk);
    assert_eq!(indexes.len(), 8, "{indexes:?}");
    let mut csv = String::from("authentication_code,state\n");
    for n in 0..25_000 {
        let state = if n % 5 == 0 { "not_effective" } else { "" };
        csv.push_str(&format!("BIG-{n:06},{state}\n"));
    }
    // With another connection open (the window's, say), the import stays in WAL; alone, it
    // writes through a rollback journal and puts WAL back afterwards.
    let journal_mode = |conn: &rusqlite::Connection| -> String {
        conn.query_row("PRAGMA journal_mode", [], |row| row.get(0))
            .unwrap()
    };
    let other = rusqlite::Connection::open(desk.path()).unwrap();
    let dry = import(
        &mut desk,
        &csv,
        ImportOptions {
            dry_run: true,
            ..defaults()
        },
    );
    assert!(dry.result.is_ok());
    assert_eq!(journal_mode(&other), "wal");
    drop(other);
    let cancelled = import_with(&mut desk, csv.as_bytes(), defaults(), true, Some(10_000));
    assert!(matches!(cancelled.result, Err(ImportError::Cancelled)));
    assert_eq!(token_indexes(&desk), indexes);
    assert_eq!(tokens(&desk), 0);
    // One bad row without skip_invalid: the pass is checked again, then nothing is applied.
    let doomed = csv.replacen("BIG-000007,", "BIG-000007,lost", 1);
    let run = import(&mut desk, &doomed, defaults());
    assert!(!run.result.as_ref().unwrap().applied);
    assert_eq!(token_indexes(&desk), indexes);
    assert_eq!(tokens(&desk), 0);

    let run = import(&mut desk, &csv, defaults());
    assert_eq!(run.result.as_ref().unwrap().created, 25_000);
    assert_eq!(token_indexes(&desk), indexes);
    assert_eq!(
        journal_mode(&rusqlite::Connection::open(desk.path()).unwrap()),
        "wal"
    );
    desk.store().integrity_check().unwrap();
    let not_effective = TokenFilter {
        states: vec![TokenState::NotEffective],
        ..TokenFilter::default()
    };
    assert_eq!(desk.count_tokens(&not_effective).unwrap(), 5_000);
    let batch = desk.batches().unwrap()[0].id;
    assert_eq!(desk.undo_batch(batch).unwrap().tokens, 25_000);
    assert_eq!(tokens(&desk), 0);
}

/// A file large enough for the filter of existing keys still finds the rows that exist (R41)
/// and the ones that conflict.
#[test]
fn a_large_file_finds_existing_codes_through_the_key_filter() {
    let mut desk = card_desk();
    let (_, participant) = account_with_participant(&mut desk);
    let first = import(
        &mut desk,
        &format!("authentication_code,participant_number\nEXIST-1,\nEXIST-2,{participant}\n"),
        defaults(),
    );
    assert!(first.result.is_ok());
    let mut csv = String::from("authentication_code\n");
    for n in 0..25_000 {
        match n {
            100 => csv.push_str("EXIST-1\n"),
            200 => csv.push_str("EXIST-2\n"),
            _ => csv.push_str(&format!("NEW-{n:06}\n")),
        }
    }
    let run = import(
        &mut desk,
        &csv,
        ImportOptions {
            skip_invalid: true,
            ..defaults()
        },
    );
    let summary = run.result.as_ref().unwrap();
    assert_eq!(
        (summary.created, summary.unchanged, summary.rejected),
        (24_998, 1, 1)
    );
    let existing = run
        .report
        .iter()
        .find(|line| line.starts_with("102 "))
        .unwrap();
    assert!(existing.starts_with("102 unchanged"), "{existing}");
    let conflict = run
        .report
        .iter()
        .find(|line| line.starts_with("202 "))
        .unwrap();
    assert!(conflict.contains("rejected"), "{conflict}");
    assert_eq!(tokens(&desk), 25_000);
}
