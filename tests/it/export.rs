//! Token export, summary report, worklists and bulk actions (SPEC §8, R7, R60–R62), on a known
//! data set built through the desk's own use cases.

use std::sync::{Arc, Mutex};

use chrono::{DateTime, TimeZone as _, Utc};
use sha2::{Digest as _, Sha256};
use tokendesk::desk::bulk::{BulkAction, BulkOutcome};
use tokendesk::desk::export::{
    ExportOptions, ExportSummary, TOKEN_EXPORT_COLUMNS, guard_cell, token_export_cells,
};
use tokendesk::desk::reports::{PARTICIPANT_WORKLIST_COLUMNS, Worklist, credential_problems};
use tokendesk::desk::{Credentials, DefinitionDraft, Desk, DeskError, TokenDraft, TokenFilter};
use tokendesk::domain::{
    CheckDigit, CredentialRule, DefinitionSettings, GenerationMethod, OwnerKind, Secret,
    SecretHasher, TextFormat, TokenState,
};
use tokendesk::storage::{AuditFilter, Store};

/// A clock the test moves by hand.
#[derive(Clone)]
struct Clock(Arc<Mutex<DateTime<Utc>>>);

impl Clock {
    fn set(&self, year: i32, month: u32, day: u32) {
        *self.0.lock().unwrap() = Utc.with_ymd_and_hms(year, month, day, 0, 0, 0).unwrap();
    }
}

/// Everything the tests need to know about the known data set.
struct Known {
    desk: Desk,
    clock: Clock,
    /// Token numbers t1..t8 (index 0 is t1).
    t: Vec<String>,
    auth: Vec<String>,
    participants: Vec<String>,
    accounts: Vec<String>,
    /// Every pass code and verification code the data set holds, in clear.
    secrets: Vec<String>,
}

fn draft(
    participant: Option<&str>,
    account: Option<&str>,
    identifier: Option<&str>,
    pass_code: Option<&str>,
) -> TokenDraft {
    TokenDraft {
        participant_number: participant.map(str::to_owned),
        account_number: account.map(str::to_owned),
        identifier: identifier.map(str::to_owned),
        pass_code: pass_code.map(Secret::new),
        ..TokenDraft::default()
    }
}

/// The known data set (clock ends at 2026-03-01):
///
/// | token | created    | definition | state         | owners      | identifier        | notes                       |
/// |-------|------------|------------|---------------|-------------|-------------------|-----------------------------|
/// | t1    | 2026-01-15 | STD        | effective     | P1 + A1     | ada@example.com   | used 2026-02-20             |
/// | t2    | 2026-01-15 | STD        | effective     | P2          | -minus-sign       |                             |
/// | t3    | 2026-01-15 | STD        | effective     | —           | @home             | used 2026-01-15; id too short |
/// | t4    | 2026-01-15 | STD        | effective     | —           | —                 |                             |
/// | t5    | 2026-01-15 | STD        | effective     | —           | locked.user       | locked by 5 wrong pass codes |
/// | t6    | 2026-01-15 | STD        | not_effective | P3 + A2     | =1+2              | id too short                |
/// | t7    | 2026-02-20 | VER        | pending       | —           | pending.one       |                             |
/// | t8    | 2026-02-20 | VER        | pending       | A1          | —                 |                             |
///
/// P1 "Ada Lovelace" and P2 "+Grace Hopper" belong to A1 "Northwind Ltd"; P3 "'=Alan Turing" (a value that itself begins with a quote) to
/// A2 "=HYPERLINK(...)"; A3 "Idle Corp" has nothing. VER (Effective at the end) requires
/// verification and identifiers of at least 6 characters.
fn known() -> Known {
    let clock = Clock(Arc::new(Mutex::new(Utc::now())));
    clock.set(2026, 1, 15);
    let mut desk = Desk::new(
        Store::open_in_memory().unwrap(),
        SecretHasher::cheap_for_tests(),
        "clerk",
    );
    let shared = clock.clone();
    desk.set_clock(Arc::new(move || *shared.0.lock().unwrap()));

    let a1 = desk.create_account("Northwind Ltd").unwrap().number;
    let a2 = desk
        .create_account("=HYPERLINK(\"http://evil.example\")")
        .unwrap()
        .number;
    let a3 = desk.create_account("Idle Corp").unwrap().number;
    let p1 = desk.create_participant("Ada Lovelace", &a1).unwrap().number;
    let p2 = desk
        .create_participant("+Grace Hopper", &a1)
        .unwrap()
        .number;
    let p3 = desk
        .create_participant("'=Alan Turing", &a2)
        .unwrap()
        .number;

    let pass_codes = [
        "918273645",
        "564738291",
        "192837465",
        "837261945",
        "615243789",
        "748392615",
    ];
    let mut created = Vec::new();
    let drafts = [
        draft(
            Some(&p1),
            Some(&a1),
            Some("ada@example.com"),
            Some(pass_codes[0]),
        ),
        draft(Some(&p2), None, Some("-minus-sign"), Some(pass_codes[1])),
        draft(None, None, Some("@home"), Some(pass_codes[2])),
        draft(None, None, None, None),
        draft(None, None, Some("locked.user"), Some(pass_codes[3])),
        TokenDraft {
            state: Some(TokenState::NotEffective),
            ..draft(Some(&p3), Some(&a2), Some("=1+2"), Some(pass_codes[4]))
        },
    ];
    for draft in &drafts {
        created.push(desk.create_token(draft).unwrap());
    }
    let mut secrets: Vec<String> = pass_codes.iter().map(|s| (*s).to_owned()).collect();

    // t3 is used on its first day; t5 gets locked by wrong pass codes.
    desk.authenticate(&Credentials::AuthenticationCode(
        created[2].token.authentication_code.clone(),
    ))
    .unwrap();
    for _ in 0..5 {
        let wrong = Credentials::Identifier {
            identifier: "locked.user".to_owned(),
            pass_code: Secret::new("000000"),
        };
        assert!(desk.authenticate(&wrong).is_err());
    }

    clock.set(2026, 2, 20);
    let mut settings = DefinitionSettings::default();
    settings.verification.required = true;
    settings.identifier = CredentialRule::typed(TextFormat::FreeText, 6, 64);
    desk.create_definition(&DefinitionDraft {
        name: "Verified".to_owned(),
        code: "VER".to_owned(),
        description: String::new(),
        settings,
    })
    .unwrap();
    desk.activate_definition("VER").unwrap();
    for draft in [
        draft(None, None, Some("pending.one"), Some(pass_codes[5])),
        draft(None, Some(&a1), None, None),
    ] {
        let token = desk.create_token(&draft).unwrap();
        secrets.push(
            token
                .verification_code
                .as_ref()
                .unwrap()
                .expose()
                .to_owned(),
        );
        created.push(token);
    }
    desk.authenticate(&Credentials::AuthenticationCode(
        created[0].token.authentication_code.clone(),
    ))
    .unwrap();

    clock.set(2026, 3, 1);
    Known {
        desk,
        clock,
        t: created.iter().map(|c| c.token.number.clone()).collect(),
        auth: created
            .iter()
            .map(|c| c.token.authentication_code.clone())
            .collect(),
        participants: vec![p1, p2, p3],
        accounts: vec![a1, a2, a3],
        secrets,
    }
}

fn export(desk: &mut Desk, filter: &TokenFilter, excel_bom: bool) -> (Vec<u8>, ExportSummary) {
    let mut out = Vec::new();
    let summary = desk
        .export_tokens(
            filter,
            ExportOptions { excel_bom },
            &mut out,
            &mut |_| {},
            &|| false,
        )
        .unwrap();
    (out, summary)
}

fn parse(bytes: &[u8]) -> (Vec<String>, Vec<Vec<String>>) {
    let mut reader = csv::Reader::from_reader(bytes);
    let header = reader
        .headers()
        .unwrap()
        .iter()
        .map(str::to_owned)
        .collect();
    let rows = reader
        .records()
        .map(|r| r.unwrap().iter().map(str::to_owned).collect())
        .collect();
    (header, rows)
}

fn column(name: &str) -> usize {
    TOKEN_EXPORT_COLUMNS
        .iter()
        .position(|c| *c == name)
        .unwrap()
}

fn row_of<'r>(rows: &'r [Vec<String>], number: &str) -> &'r Vec<String> {
    rows.iter().find(|row| row[0] == number).unwrap()
}

#[test]
fn export_has_the_spec_columns_in_order_and_the_values() {
    let mut k = known();
    let (bytes, summary) = export(&mut k.desk, &TokenFilter::default(), false);
    let (header, rows) = parse(&bytes);
    assert_eq!(
        header.join(","),
        "token_number,definition,state,authentication_code,identifier,participant_number,\
         participant_name,account_number,account_name,created_at,created_by,verified_at,\
         last_used_at,locked,import_batch"
    );
    assert_eq!(TOKEN_EXPORT_COLUMNS.len(), header.len());
    assert_eq!(rows.len(), 8);
    assert_eq!(summary.rows, 8);
    assert!(!summary.was_cancelled);
    let t1 = row_of(&rows, &k.t[0]);
    assert_eq!(
        t1,
        &vec![
            k.t[0].clone(),
            "STD".to_owned(),
            "effective".to_owned(),
            k.auth[0].clone(),
            "ada@example.com".to_owned(),
            k.participants[0].clone(),
            "Ada Lovelace".to_owned(),
            k.accounts[0].clone(),
            "Northwind Ltd".to_owned(),
            "2026-01-15T00:00:00Z".to_owned(),
            "clerk".to_owned(),
            String::new(),
            "2026-02-20T00:00:00Z".to_owned(),
            "false".to_owned(),
            String::new(),
        ]
    );
    assert_eq!(row_of(&rows, &k.t[4])[column("locked")], "true");
    assert_eq!(
        row_of(&rows, &k.t[6])[column("state")],
        "pending_verification"
    );
    assert_eq!(row_of(&rows, &k.t[6])[column("definition")], "VER");
    // Rows come in token-number order.
    let numbers: Vec<&str> = rows.iter().map(|r| r[0].as_str()).collect();
    let mut sorted = numbers.clone();
    sorted.sort_unstable();
    assert_eq!(numbers, sorted);
}

#[test]
fn export_follows_the_filter() {
    let mut k = known();
    let filter = TokenFilter {
        states: vec![TokenState::PendingVerification, TokenState::NotEffective],
        ..TokenFilter::default()
    };
    let (bytes, _) = export(&mut k.desk, &filter, false);
    let (_, rows) = parse(&bytes);
    let numbers: Vec<&str> = rows.iter().map(|r| r[0].as_str()).collect();
    assert_eq!(numbers, [&k.t[5], &k.t[6], &k.t[7]]);
    let ver = k.desk.definition("VER").unwrap();
    let filter = TokenFilter {
        definition_id: Some(ver.id),
        ..TokenFilter::default()
    };
    let (bytes, summary) = export(&mut k.desk, &filter, false);
    assert_eq!(parse(&bytes).1.len(), 2);
    assert_eq!(summary.rows, 2);
    let event = &k
        .desk
        .audit_events(&AuditFilter::default(), i64::MAX, 1)
        .unwrap()[0];
    assert!(
        event.details.contains(&format!(
            r#"{{"definition_id":{}}} (definition VER)"#,
            ver.id
        )),
        "{}",
        event.details
    );
}

/// The audit events whose action starts with `prefix`, newest first.
fn export_events(desk: &Desk, prefix: &str) -> Vec<tokendesk::domain::AuditEvent> {
    desk.audit_events(
        &AuditFilter {
            action_prefix: prefix.to_owned(),
            ..AuditFilter::default()
        },
        i64::MAX,
        10,
    )
    .unwrap()
}

#[test]
fn guard_prefixes_formula_cells_in_the_export() {
    let mut k = known();
    let (bytes, _) = export(&mut k.desk, &TokenFilter::default(), false);
    let (_, rows) = parse(&bytes);
    let identifier = column("identifier");
    assert_eq!(row_of(&rows, &k.t[1])[identifier], "'-minus-sign");
    assert_eq!(row_of(&rows, &k.t[2])[identifier], "'@home");
    assert_eq!(row_of(&rows, &k.t[5])[identifier], "'=1+2");
    assert_eq!(row_of(&rows, &k.t[0])[identifier], "ada@example.com");
    assert_eq!(
        row_of(&rows, &k.t[1])[column("participant_name")],
        "'+Grace Hopper"
    );
    assert_eq!(
        row_of(&rows, &k.t[5])[column("account_name")],
        "'=HYPERLINK(\"http://evil.example\")"
    );
}

/// SPEC §7.1: the import removes one leading `'` before `=`, `+`, `-` or `@` (and, so that
/// the round trip is exact, before `'` followed by one of them).
fn unguard(cell: &str) -> &str {
    tokendesk::desk::export::unguard_cell(cell)
}

#[test]
fn exported_cells_read_back_as_the_stored_values() {
    let mut k = known();
    let (bytes, _) = export(&mut k.desk, &TokenFilter::default(), false);
    let (_, rows) = parse(&bytes);
    for row in &rows {
        let token = k.desk.token(&row[0]).unwrap();
        let stored: Vec<String> = token_export_cells(&token)
            .iter()
            .map(|cell| cell.to_string())
            .collect();
        let read_back: Vec<&str> = row.iter().map(|cell| unguard(cell)).collect();
        assert_eq!(read_back, stored);
    }
}

#[test]
fn participants_without_an_effective_token_export() {
    let mut k = known();
    let mut out = Vec::new();
    let summary = k
        .desk
        .export_participants_without_effective_token(
            ExportOptions::default(),
            &mut out,
            &mut |_| {},
            &|| false,
        )
        .unwrap();
    assert_eq!(summary.rows, 1);
    let (header, rows) = parse(&out);
    assert_eq!(header, PARTICIPANT_WORKLIST_COLUMNS);
    assert_eq!(rows[0][0], k.participants[2]);
    assert_eq!(rows[0][3], "'=HYPERLINK(\"http://evil.example\")");
    assert_eq!(rows[0][6], "1");
    let events = export_events(&k.desk, "export.participants");
    assert!(events[0].details.contains(&summary.sha256));
    assert!(events[0].details.contains("; 1 rows;"));
}

#[test]
fn guard_covers_equals_plus_minus_at_tab_and_cr() {
    for (value, guarded) in [
        ("=SUM(A1)", "'=SUM(A1)"),
        ("+1 555 0100", "'+1 555 0100"),
        ("-1", "'-1"),
        ("@cmd", "'@cmd"),
        ("\tx", "'\tx"),
        ("\rx", "'\rx"),
        ("plain", "plain"),
        ("a=b", "a=b"),
        ("", ""),
        ("'plain", "'plain"),
        ("'=already quoted", "''=already quoted"),
        ("'-1", "''-1"),
        ("''@x", "'''@x"),
        ("''plain", "''plain"),
        (" =x", " =x"),
    ] {
        assert_eq!(guard_cell(value), guarded, "{value:?}");
    }
}

#[test]
fn excel_option_adds_a_bom_and_the_hash_covers_it() {
    let mut k = known();
    let (plain, plain_summary) = export(&mut k.desk, &TokenFilter::default(), false);
    let (excel, excel_summary) = export(&mut k.desk, &TokenFilter::default(), true);
    assert!(!plain.starts_with(b"\xEF\xBB\xBF"));
    assert_eq!(&excel[..3], b"\xEF\xBB\xBF");
    assert_eq!(&excel[3..], &plain[..]);
    assert_eq!(
        excel_summary.sha256,
        format!("{:x}", Sha256::digest(&excel))
    );
    assert_eq!(
        plain_summary.sha256,
        format!("{:x}", Sha256::digest(&plain))
    );
    assert_eq!(excel_summary.bytes, excel.len() as u64);
}

#[test]
fn no_secret_in_any_export() {
    let mut k = known();
    let mut outputs = Vec::new();
    outputs.push(export(&mut k.desk, &TokenFilter::default(), false).0);
    outputs.push(export(&mut k.desk, &TokenFilter::default(), true).0);
    for worklist in Worklist::ALL.into_iter().filter(|w| w.lists_tokens()) {
        let mut out = Vec::new();
        k.desk
            .export_worklist(
                worklist,
                ExportOptions::default(),
                &mut out,
                &mut |_| {},
                &|| false,
            )
            .unwrap();
        outputs.push(out);
    }
    let mut summary = Vec::new();
    k.desk
        .export_summary_report(ExportOptions::default(), &mut summary)
        .unwrap();
    outputs.push(summary);
    assert_eq!(k.secrets.len(), 8, "6 pass codes and 2 verification codes");
    for output in &outputs {
        let text = String::from_utf8_lossy(output);
        for secret in &k.secrets {
            assert!(
                !text.contains(secret.as_str()),
                "a secret leaked into:\n{text}"
            );
        }
        assert!(!text.contains("argon2"), "a hash leaked into:\n{text}");
    }
    // Nor do the audit events of the exports carry one.
    let events = k
        .desk
        .audit_events(&AuditFilter::default(), i64::MAX, 1000)
        .unwrap();
    for event in events {
        for secret in &k.secrets {
            assert!(!event.details.contains(secret.as_str()), "{event:?}");
        }
    }
}

#[test]
fn every_export_is_audited_with_filter_row_count_and_sha256() {
    let mut k = known();
    let filter = TokenFilter {
        states: vec![TokenState::Effective],
        ..TokenFilter::default()
    };
    let (bytes, summary) = export(&mut k.desk, &filter, false);
    assert_eq!(summary.rows, 5);
    let events = export_events(&k.desk, "export.");
    assert_eq!(events.len(), 1);
    let event = &events[0];
    assert_eq!(event.action, "export.tokens");
    assert_eq!(event.clerk, "clerk");
    assert!(
        event.details.contains(r#"{"states":["effective"]}"#),
        "{}",
        event.details
    );
    assert!(event.details.contains("; 5 rows;"), "{}", event.details);
    let sha = format!("{:x}", Sha256::digest(&bytes));
    assert!(
        event.details.contains(&format!("sha256 {sha}")),
        "{}",
        event.details
    );
}

#[test]
fn cancelled_export_stops_and_is_audited_as_cancelled() {
    let mut k = known();
    let mut out = Vec::new();
    let mut reports = 0;
    let summary = k
        .desk
        .export_tokens(
            &TokenFilter::default(),
            ExportOptions::default(),
            &mut out,
            &mut |_| reports += 1,
            &|| true,
        )
        .unwrap();
    assert!(summary.was_cancelled);
    assert_eq!(summary.rows, 0);
    assert_eq!(reports, 0);
    let (header, rows) = parse(&out);
    assert_eq!(header.len(), 15);
    assert!(rows.is_empty());
    let events = export_events(&k.desk, "export.");
    assert!(
        events[0].details.contains("cancelled"),
        "{}",
        events[0].details
    );
}

#[test]
fn export_reports_progress() {
    let mut k = known();
    let mut seen = Vec::new();
    k.desk
        .export_tokens(
            &TokenFilter::default(),
            ExportOptions::default(),
            &mut Vec::new(),
            &mut |p| seen.push(p),
            &|| false,
        )
        .unwrap();
    let last = seen.last().unwrap();
    assert_eq!((last.rows_written, last.total_rows), (8, 8));
    assert!((last.fraction() - 1.0).abs() < f32::EPSILON);
}

#[test]
fn summary_numbers_on_the_known_data_set() {
    let k = known();
    let report = k.desk.summary_report().unwrap();
    assert_eq!(report.total_tokens, 8);
    let cells: Vec<(&str, TokenState, u64)> = report
        .by_definition_and_state
        .iter()
        .map(|c| (c.definition_code.as_str(), c.state, c.count))
        .collect();
    assert_eq!(
        cells,
        [
            ("STD", TokenState::Effective, 5),
            ("STD", TokenState::NotEffective, 1),
            ("VER", TokenState::PendingVerification, 2),
        ]
    );
    assert_eq!(
        (
            report.participants.with_effective_token,
            report.participants.without_effective_token
        ),
        (2, 1)
    );
    assert_eq!(
        (
            report.accounts.with_effective_token,
            report.accounts.without_effective_token
        ),
        (1, 2)
    );
    let months: Vec<(&str, u64)> = report
        .created_per_month
        .iter()
        .map(|m| (m.month.as_str(), m.count))
        .collect();
    assert_eq!(months, [("2026-01", 6), ("2026-02", 2)]);
    assert_eq!(report.pending_verification, 2);
    assert_eq!(report.locked, 1);
}

#[test]
fn summary_csv_and_its_audit_event() {
    let mut k = known();
    let mut out = Vec::new();
    k.desk
        .export_summary_report(ExportOptions::default(), &mut out)
        .unwrap();
    let text = String::from_utf8(out.clone()).unwrap();
    let expected = "\
section,label,state,count
total_tokens,,,8
tokens_by_definition_and_state,STD,effective,5
tokens_by_definition_and_state,STD,not_effective,1
tokens_by_definition_and_state,VER,pending_verification,2
participants,with_effective_token,,2
participants,without_effective_token,,1
accounts,with_effective_token,,1
accounts,without_effective_token,,2
tokens_created_per_month,2026-01,,6
tokens_created_per_month,2026-02,,2
pending_verification,,pending_verification,2
locked,,,1
";
    assert_eq!(text, expected);
    let events = export_events(&k.desk, "export.summary");
    let sha = format!("{:x}", Sha256::digest(&out));
    assert!(events[0].details.contains(&sha), "{}", events[0].details);

    // R61's Excel-friendly option holds for the summary too: a BOM, then the same text.
    let mut excel = Vec::new();
    k.desk
        .export_summary_report(ExportOptions { excel_bom: true }, &mut excel)
        .unwrap();
    assert_eq!(
        excel,
        [b"\xEF\xBB\xBF".as_slice(), expected.as_bytes()].concat()
    );
    let events = export_events(&k.desk, "export.summary");
    let sha = format!("{:x}", Sha256::digest(&excel));
    assert!(events[0].details.contains(&sha), "{}", events[0].details);
    assert!(
        events[0].details.contains("with BOM"),
        "{}",
        events[0].details
    );
}

/// The token numbers of a worklist, read page by page (2 per page, to cross page borders).
fn members(k: &Known, worklist: Worklist) -> Vec<String> {
    let mut numbers = Vec::new();
    let mut after = None;
    loop {
        let page = k.desk.worklist_page(worklist, after.as_ref(), 2).unwrap();
        numbers.extend(page.items.iter().map(|item| item.token.number.clone()));
        match page.next {
            Some(next) => after = Some(next),
            None => return numbers,
        }
    }
}

fn numbers(k: &Known, which: &[usize]) -> Vec<String> {
    which.iter().map(|n| k.t[n - 1].clone()).collect()
}

#[test]
fn worklist_membership_on_the_known_data_set() {
    let k = known();
    let cases = [
        (Worklist::PendingVerification, vec![7, 8]),
        (Worklist::Unassigned, vec![3, 4, 5, 7]),
        (Worklist::Locked, vec![5]),
        (Worklist::NeverUsed, vec![2, 4, 5, 6, 7, 8]),
        (Worklist::NotUsedForDays(30), vec![2, 3, 4, 5, 6]),
        (Worklist::NotValidUnderEffectiveDefinition, vec![3, 6]),
    ];
    for (worklist, expected) in cases {
        assert_eq!(
            members(&k, worklist),
            numbers(&k, &expected),
            "{worklist:?}"
        );
        if worklist != Worklist::NotValidUnderEffectiveDefinition {
            assert_eq!(
                k.desk.worklist_count(worklist).unwrap(),
                Some(expected.len() as u64),
                "{worklist:?}"
            );
        }
    }
    let participants: Vec<String> = k
        .desk
        .participants_without_effective_token(0, 100)
        .unwrap()
        .into_iter()
        .map(|p| p.number)
        .collect();
    assert_eq!(participants, [k.participants[2].clone()]);
    assert_eq!(
        k.desk
            .worklist_count(Worklist::ParticipantsWithoutEffectiveToken)
            .unwrap(),
        Some(1)
    );
    assert!(
        k.desk
            .worklist_page(Worklist::ParticipantsWithoutEffectiveToken, None, 10)
            .is_err()
    );
}

#[test]
fn pending_verification_worklist_shows_the_code_age() {
    let k = known();
    let page = k
        .desk
        .worklist_page(Worklist::PendingVerification, None, 10)
        .unwrap();
    let item = &page.items[0];
    assert_eq!(item.code_issued_at.as_deref(), Some("2026-02-20T00:00:00Z"));
    assert_eq!(item.code_age_hours, Some(9 * 24));
    assert!(item.is_code_expired, "72 hours have passed");
    k.clock.set(2026, 2, 21);
    let page = k
        .desk
        .worklist_page(Worklist::PendingVerification, None, 10)
        .unwrap();
    assert_eq!(page.items[0].code_age_hours, Some(24));
    assert!(!page.items[0].is_code_expired);
}

#[test]
fn r7_worklist_names_the_problems_and_says_pass_codes_cannot_be_checked() {
    let k = known();
    let page = k
        .desk
        .worklist_page(Worklist::NotValidUnderEffectiveDefinition, None, 10)
        .unwrap();
    assert_eq!(
        page.items[0].problems,
        ["identifier must be 6–64 characters long"]
    );
    let note = Worklist::NotValidUnderEffectiveDefinition.note().unwrap();
    assert!(
        note.contains("Pass codes") && note.contains("hashes"),
        "{note}"
    );
}

#[test]
fn r7_generated_credentials_are_checked_for_their_generated_shape() {
    let k = known();
    let mut token = k.desk.token(&k.t[3]).unwrap();
    let mut settings = DefinitionSettings {
        authentication_code: CredentialRule {
            method: GenerationMethod::Sequence,
            prefix: "77".to_owned(),
            length: 6,
            check_digit: CheckDigit::Luhn,
            ..CredentialRule::default()
        },
        ..DefinitionSettings::default()
    };
    let expect = |settings: &DefinitionSettings,
                  token: &tokendesk::domain::TokenRecord,
                  problem: Option<&str>| {
        let problems = credential_problems(settings, token);
        match problem {
            None => assert!(problems.is_empty(), "{problems:?}"),
            Some(text) => assert!(
                problems.len() == 1 && problems[0].contains(text),
                "{problems:?}"
            ),
        }
    };
    let check = tokendesk::domain::rules::luhn_check_digit("77000001");
    token.authentication_code = format!("77000001{check}");
    expect(&settings, &token, None);
    let wrong = if check == '0' { '1' } else { '0' };
    token.authentication_code = format!("77000001{wrong}");
    expect(&settings, &token, Some("check digit"));
    token.authentication_code = "88000001".to_owned();
    expect(&settings, &token, Some("prefix"));
    token.authentication_code = "7700000018".to_owned();
    expect(
        &settings,
        &token,
        Some("10 characters long; the definition generates 9"),
    );
    token.authentication_code = "7700A0018".to_owned();
    expect(
        &settings,
        &token,
        Some("characters the definition does not generate"),
    );
    // R3: a definition that requires identifier and pass code lists tokens without them.
    settings.authentication_code = DefinitionSettings::default().authentication_code;
    settings.allow_without_identifier_and_pass_code = false;
    token.authentication_code = k.auth[3].clone();
    expect(&settings, &token, Some("(R3)"));
}

#[test]
fn worklists_export_with_the_token_columns() {
    let mut k = known();
    let mut out = Vec::new();
    let summary = k
        .desk
        .export_worklist(
            Worklist::NotValidUnderEffectiveDefinition,
            ExportOptions::default(),
            &mut out,
            &mut |_| {},
            &|| false,
        )
        .unwrap();
    let (header, rows) = parse(&out);
    assert_eq!(header, TOKEN_EXPORT_COLUMNS);
    assert_eq!(summary.rows, 2);
    let exported: Vec<String> = rows.iter().map(|r| r[0].clone()).collect();
    assert_eq!(exported, numbers(&k, &[3, 6]));
    let events = export_events(&k.desk, "export.");
    assert!(
        events[0]
            .details
            .contains("Not valid under the Effective definition")
    );
    assert!(events[0].details.contains("; 2 rows;"));
}

fn audit_count(desk: &Desk) -> usize {
    desk.audit_events(&AuditFilter::default(), i64::MAX, 100_000)
        .unwrap()
        .len()
}

fn refusal(outcome: &BulkOutcome) -> &str {
    match outcome {
        BulkOutcome::Refused(sentence) => sentence,
        BulkOutcome::Succeeds => panic!("expected a refusal"),
    }
}

#[test]
fn bulk_set_state_previews_then_applies_mixed_items() {
    let mut k = known();
    let pasted = format!(
        "{}\nada@example.com\n  {}  \n\nno-such-token\n{}\n",
        k.t[2],
        k.auth[5],
        k.t[2].to_lowercase()
    );
    let action = BulkAction::SetState(TokenState::NotEffective);
    let before = audit_count(&k.desk);
    let preview = k.desk.preview_bulk(action, &pasted, "card lost").unwrap();
    assert!(!preview.is_applied);
    assert_eq!(audit_count(&k.desk), before, "a preview writes nothing");
    assert_eq!(k.desk.token(&k.t[2]).unwrap().state, TokenState::Effective);

    let lines: Vec<usize> = preview.items.iter().map(|i| i.line).collect();
    assert_eq!(lines, [1, 2, 3, 5, 6]);
    assert_eq!(preview.items[0].outcome, BulkOutcome::Succeeds);
    assert_eq!(preview.items[0].state_after, Some(TokenState::NotEffective));
    assert!(
        refusal(&preview.items[1].outcome).contains(&format!("participant {}", k.participants[0])),
        "R20: {:?}",
        preview.items[1]
    );
    assert_eq!(
        preview.items[1].token_number.as_deref(),
        Some(k.t[0].as_str())
    );
    assert_eq!(
        preview.items[2].token_number.as_deref(),
        Some(k.t[5].as_str())
    );
    assert!(
        refusal(&preview.items[2].outcome).contains("Not Effective cannot be made Not Effective")
    );
    assert!(refusal(&preview.items[3].outcome).starts_with("No token has"));
    assert!(refusal(&preview.items[4].outcome).contains("already listed on line 1"));
    assert_eq!((preview.succeeded(), preview.refused()), (1, 4));

    let applied = k.desk.apply_bulk(action, &pasted, "card lost").unwrap();
    assert!(applied.is_applied);
    assert_eq!(
        applied.items, preview.items,
        "apply does what the preview showed"
    );
    assert_eq!(applied.refusals().count(), 4);
    assert_eq!(
        k.desk.token(&k.t[2]).unwrap().state,
        TokenState::NotEffective
    );
    assert_eq!(k.desk.token(&k.t[0]).unwrap().state, TokenState::Effective);
    let history = k.desk.token_history(&k.t[2]).unwrap();
    assert_eq!(history[0].action, "token.state");
    assert_eq!(history[0].details, "effective → not_effective: card lost");
    // One event for the token, one summary of the bulk action; refused items leave nothing.
    assert_eq!(audit_count(&k.desk), before + 2);
    assert!(k.desk.token_history(&k.t[0]).unwrap()[0].action != "token.state");
}

#[test]
fn bulk_unlock_and_remove_from_owner_use_the_single_action_rules() {
    let mut k = known();
    let pasted = format!("{}\n{}\n", k.t[4], k.t[3]);
    let report = k
        .desk
        .apply_bulk(BulkAction::Unlock, &pasted, "customer called")
        .unwrap();
    assert_eq!(report.items[0].outcome, BulkOutcome::Succeeds);
    assert!(refusal(&report.items[1].outcome).contains("is not locked"));
    assert!(!k.desk.token(&k.t[4]).unwrap().locked);
    assert!(
        k.desk.token_history(&k.t[4]).unwrap()[0]
            .details
            .ends_with(": customer called")
    );

    let pasted = format!("{}\n{}\n{}\n", k.t[0], k.t[1], k.t[3]);
    let action = BulkAction::RemoveFromOwner(OwnerKind::Participant);
    let report = k.desk.apply_bulk(action, &pasted, "moved away").unwrap();
    assert_eq!(report.items[0].outcome, BulkOutcome::Succeeds);
    // t1 keeps its account, so it stays Effective; t2 loses its last link (R24).
    assert_eq!(report.items[0].state_after, Some(TokenState::Effective));
    assert_eq!(report.items[1].state_after, Some(TokenState::NotEffective));
    assert!(refusal(&report.items[2].outcome).contains("belongs to no participant"));
    let t2 = k.desk.token(&k.t[1]).unwrap();
    assert!(t2.participant_number.is_none());
    let history = k.desk.token_history(&k.t[1]).unwrap();
    assert!(history.iter().any(|e| e.action == "token.unlink"
        && e.details == format!("removed from participant {}: moved away", k.participants[1])));
}

#[test]
fn bulk_preview_sees_earlier_items_like_the_real_run() {
    // An owner that must keep one token: of two listed tokens, only the first may go.
    let mut k = known();
    let mut settings = DefinitionSettings::default();
    settings.accounts.require_at_least_one = true;
    k.desk
        .create_definition(&DefinitionDraft {
            name: "Keep one".to_owned(),
            code: "KEEP".to_owned(),
            description: String::new(),
            settings,
        })
        .unwrap();
    k.desk.activate_definition("KEEP").unwrap();
    let a3 = k.accounts[2].clone();
    let first = k
        .desk
        .create_token(&draft(None, Some(&a3), None, None))
        .unwrap();
    let second = k
        .desk
        .create_token(&draft(None, Some(&a3), None, None))
        .unwrap();
    let pasted = format!("{}\n{}", first.token.number, second.token.number);
    let action = BulkAction::RemoveFromOwner(OwnerKind::Account);
    let preview = k.desk.preview_bulk(action, &pasted, "cleanup").unwrap();
    assert_eq!(preview.items[0].outcome, BulkOutcome::Succeeds);
    assert!(refusal(&preview.items[1].outcome).contains("(R32)"));
    let applied = k.desk.apply_bulk(action, &pasted, "cleanup").unwrap();
    assert_eq!(applied.items, preview.items);
}

#[test]
fn bulk_actions_need_a_reason() {
    let mut k = known();
    let pasted = k.t[2].clone();
    for result in [
        k.desk.preview_bulk(BulkAction::Unlock, &pasted, "  "),
        k.desk.apply_bulk(BulkAction::Unlock, &pasted, ""),
    ] {
        assert!(matches!(result, Err(DeskError::Invalid(_))), "{result:?}");
    }
}

#[test]
fn cli_export_tokens_writes_the_file_and_report_summary_too() {
    use tokendesk::cli::export::{
        ExportTokensArgs, ReportSummaryArgs, run_export_tokens, run_report_summary,
    };
    let mut k = known();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("tokens.csv");
    let args = ExportTokensArgs {
        states: vec![TokenState::PendingVerification],
        definition: Some("VER".to_owned()),
        excel: true,
        out: Some(path.clone()),
    };
    assert_eq!(run_export_tokens(&mut k.desk, &args).unwrap(), 0);
    let bytes = std::fs::read(&path).unwrap();
    assert_eq!(&bytes[..3], b"\xEF\xBB\xBF");
    assert_eq!(parse(&bytes[3..]).1.len(), 2);

    let missing = dir.path().join("no/such/folder/tokens.csv");
    let args = ExportTokensArgs {
        out: Some(missing),
        ..args
    };
    let err = run_export_tokens(&mut k.desk, &args).unwrap_err();
    assert_eq!(err.exit, 3);
    assert!(
        err.message.ends_with('.') && err.message.contains("does not exist"),
        "{}",
        err.message
    );

    let unknown = ExportTokensArgs {
        definition: Some("NOPE".to_owned()),
        out: Some(path.clone()),
        ..args
    };
    assert_eq!(
        run_export_tokens(&mut k.desk, &unknown).unwrap_err().exit,
        1
    );

    let summary_path = dir.path().join("summary.csv");
    let args = ReportSummaryArgs {
        excel: false,
        out: Some(summary_path.clone()),
    };
    assert_eq!(run_report_summary(&mut k.desk, &args).unwrap(), 0);
    let text = std::fs::read_to_string(&summary_path).unwrap();
    assert!(
        text.starts_with("section,label,state,count\ntotal_tokens,,,8\n"),
        "{text}"
    );
}

#[test]
fn background_jobs_export_count_and_list_on_their_own_connection() {
    use tokendesk::desk::export::{ExportJob, ExportTarget, spawn_export};
    let mut desk = crate::support::fresh_desk();
    for _ in 0..3 {
        desk.create_token(&TokenDraft::default()).unwrap();
    }
    let out_path = desk.dir.path().join("tokens.csv");
    let job = ExportJob {
        database: desk.path(),
        clerk: "night clerk".to_owned(),
        target: ExportTarget::Tokens(TokenFilter::default()),
        options: ExportOptions { excel_bom: true },
        out_path: out_path.clone(),
    };
    let summary = spawn_export(job.clone(), || {})
        .unwrap()
        .wait()
        .unwrap()
        .unwrap();
    let bytes = std::fs::read(&out_path).unwrap();
    assert_eq!(summary.rows, 3);
    assert_eq!(summary.sha256, format!("{:x}", Sha256::digest(&bytes)));
    assert_eq!(parse(&bytes[3..]).1.len(), 3);
    let events = export_events(&desk, "export.");
    assert_eq!(events[0].clerk, "night clerk");

    for target in [
        ExportTarget::Summary,
        ExportTarget::Worklist(Worklist::NeverUsed),
        ExportTarget::Worklist(Worklist::ParticipantsWithoutEffectiveToken),
    ] {
        let job = ExportJob {
            target,
            ..job.clone()
        };
        let summary = spawn_export(job, || {}).unwrap().wait().unwrap().unwrap();
        let bytes = std::fs::read(&out_path).unwrap();
        assert_eq!(summary.sha256, format!("{:x}", Sha256::digest(&bytes)));
    }

    let report = tokendesk::desk::reports::spawn_summary(
        desk.path(),
        "clerk".to_owned(),
        desk.clock(),
        || {},
    )
    .unwrap()
    .wait()
    .unwrap()
    .unwrap();
    assert_eq!(report.total_tokens, 3);
    let page = tokendesk::desk::reports::spawn_worklist_page(
        desk.path(),
        "clerk".to_owned(),
        Worklist::NeverUsed,
        None,
        10,
        desk.clock(),
        || {},
    )
    .unwrap()
    .wait()
    .unwrap()
    .unwrap();
    assert_eq!(page.items.len(), 3);

    let nowhere = desk.dir.path().join("missing/folder/tokens.csv");
    let job = ExportJob {
        out_path: nowhere.clone(),
        ..job
    };
    let err = spawn_export(job, || {})
        .unwrap()
        .wait()
        .unwrap()
        .unwrap_err();
    assert!(matches!(err, DeskError::File(_)), "{err:?}");
    assert!(err.to_string().contains("does not exist"), "{err}");
    assert!(!nowhere.exists());
}

#[test]
fn export_crosses_page_borders_in_bounded_pages() {
    let mut desk = Desk::new(
        Store::open_in_memory().unwrap(),
        SecretHasher::cheap_for_tests(),
        "clerk",
    );
    desk.fill_demo_data(4_500, 100).unwrap();
    let mut out = Vec::new();
    let mut pages = Vec::new();
    let summary = desk
        .export_tokens(
            &TokenFilter::default(),
            ExportOptions::default(),
            &mut out,
            &mut |p| pages.push(p.rows_written),
            &|| false,
        )
        .unwrap();
    assert_eq!(summary.rows, 4_500);
    assert_eq!(pages, [2_000, 4_000, 4_500]);
    let (_, rows) = parse(&out);
    let numbers: Vec<&str> = rows.iter().map(|r| r[0].as_str()).collect();
    assert_eq!(numbers.len(), 4_500);
    assert!(
        numbers.windows(2).all(|pair| pair[0] < pair[1]),
        "ascending, no repeats"
    );

    // The worklist that reads whole records pages the same way.
    let mut out = Vec::new();
    let summary = desk
        .export_worklist(
            Worklist::NotValidUnderEffectiveDefinition,
            ExportOptions::default(),
            &mut out,
            &mut |_| {},
            &|| false,
        )
        .unwrap();
    assert_eq!(
        summary.rows, 0,
        "demo data satisfies the Standard definition"
    );
    let unassigned = desk.worklist_count(Worklist::Unassigned).unwrap().unwrap();
    let mut out = Vec::new();
    let summary = desk
        .export_worklist(
            Worklist::Unassigned,
            ExportOptions::default(),
            &mut out,
            &mut |_| {},
            &|| false,
        )
        .unwrap();
    assert_eq!(summary.rows, unassigned);
    assert!(unassigned > 2_000);
}

#[test]
fn export_is_one_snapshot_while_another_connection_writes() {
    let mut desk = crate::support::fresh_desk();
    desk.fill_demo_data(2_500, 10).unwrap();
    let mut other = Desk::new(
        Store::open(&desk.path()).unwrap(),
        SecretHasher::cheap_for_tests(),
        "other clerk",
    );
    let mut out = Vec::new();
    let mut added = 0;
    let summary = desk
        .export_tokens(
            &TokenFilter::default(),
            ExportOptions::default(),
            &mut out,
            &mut |_| {
                if added == 0 {
                    other.create_token(&TokenDraft::default()).unwrap();
                    added += 1;
                }
            },
            &|| false,
        )
        .unwrap();
    assert_eq!(added, 1);
    assert_eq!(
        summary.rows, 2_500,
        "the token added meanwhile is not in this export"
    );
    assert_eq!(desk.token_count().unwrap(), 2_501);
}

#[test]
fn a_worklist_page_feeds_a_bulk_action() {
    let mut k = known();
    let page = k.desk.worklist_page(Worklist::Locked, None, 100).unwrap();
    assert_eq!(page.bulk_input(), k.t[4]);
    assert!(
        Worklist::Locked
            .bulk_actions()
            .contains(&BulkAction::Unlock)
    );
    assert!(Worklist::PendingVerification.bulk_actions().is_empty());
    let report = k
        .desk
        .apply_bulk(BulkAction::Unlock, &page.bulk_input(), "checked by phone")
        .unwrap();
    assert_eq!((report.succeeded(), report.refused()), (1, 0));
    assert_eq!(k.desk.worklist_count(Worklist::Locked).unwrap(), Some(0));
}

/// Runs the built binary on `db`; returns exit status, standard output and standard error.
fn tokendesk(db: &std::path::Path, args: &[&str]) -> (i32, String, String) {
    let output = assert_cmd::Command::new(env!("CARGO_BIN_EXE_tokendesk"))
        .args(["--db", db.to_str().unwrap(), "--clerk", "tester"])
        .args(args)
        .env_remove("TOKENDESK_DB")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    assert!(!stderr.contains("panicked"), "{stderr}");
    (
        output.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr,
    )
}

#[test]
fn command_line_export_tokens_and_report_summary() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("desk.sqlite3");
    let (code, _, stderr) = tokendesk(
        &db,
        &["demo-data", "--tokens", "40", "--participants", "10"],
    );
    assert_eq!(code, 0, "{stderr}");

    let (code, stdout, stderr) = tokendesk(&db, &["export", "tokens", "--state", "effective"]);
    assert_eq!(code, 0, "{stderr}");
    let (header, rows) = parse(stdout.as_bytes());
    assert_eq!(header, TOKEN_EXPORT_COLUMNS);
    assert!(!rows.is_empty() && rows.len() < 40);
    assert!(rows.iter().all(|row| row[2] == "effective"));
    assert!(
        stderr.starts_with(&format!("Exported {} tokens", rows.len())),
        "{stderr}"
    );

    let out = dir.path().join("all.csv");
    let (code, stdout, _) = tokendesk(
        &db,
        &[
            "export",
            "tokens",
            "--definition",
            "STD",
            "--state",
            "effective",
            "--state",
            "not_effective",
            "--state",
            "pending_verification",
            "--excel",
            "--out",
            out.to_str().unwrap(),
        ],
    );
    assert_eq!(code, 0);
    assert!(stdout.is_empty());
    let bytes = std::fs::read(&out).unwrap();
    assert_eq!(&bytes[..3], b"\xEF\xBB\xBF");
    assert_eq!(parse(&bytes[3..]).1.len(), 40);

    let (code, _, stderr) = tokendesk(&db, &["export", "tokens", "--state", "revoked"]);
    assert_eq!(code, 2, "{stderr}");
    let nowhere = dir.path().join("no/such/folder/x.csv");
    let (code, _, stderr) = tokendesk(
        &db,
        &["export", "tokens", "--out", nowhere.to_str().unwrap()],
    );
    assert_eq!(code, 3, "{stderr}");
    assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
    assert!(stderr.contains("does not exist"), "{stderr}");
    let (code, _, stderr) = tokendesk(&db, &["export", "tokens", "--definition", "NOPE"]);
    assert_eq!(code, 1, "{stderr}");

    let (code, stdout, stderr) = tokendesk(&db, &["report", "summary"]);
    assert_eq!(code, 0, "{stderr}");
    assert!(
        stdout.starts_with("section,label,state,count\ntotal_tokens,,,40\n"),
        "{stdout}"
    );
}

#[test]
fn an_exported_file_imports_back_as_unchanged_rows() {
    use tokendesk::desk::import::{
        ImportOptions, ImportOutput, ImportSource, MemoryCredentials, MemoryReport, RowOutcome,
    };
    let mut k = known();
    for excel_bom in [false, true] {
        let (bytes, _) = export(&mut k.desk, &TokenFilter::default(), excel_bom);
        let mut report = MemoryReport::default();
        // The Effective definition issues verification codes, so the import wants a place for them.
        let mut credentials = MemoryCredentials::default();
        let summary = k
            .desk
            .import_csv(
                ImportSource::Bytes {
                    name: "export.csv",
                    bytes: &bytes,
                },
                ImportOptions {
                    allow_repeat: true,
                    ..ImportOptions::default()
                },
                &mut ImportOutput {
                    report: &mut report,
                    credentials: Some(&mut credentials),
                    progress: &mut |_| {},
                    is_cancelled: &|| false,
                },
            )
            .unwrap();
        let problems: Vec<String> = report
            .rows
            .iter()
            .filter(|row| row.outcome != RowOutcome::Unchanged)
            .map(|row| format!("line {}: {}", row.line, row.message))
            .collect();
        assert!(problems.is_empty(), "{problems:?}");
        assert_eq!(
            (summary.created, summary.unchanged, summary.rejected),
            (0, 8, 0)
        );
        assert!(credentials.rows.is_empty());
    }
    assert_eq!(k.desk.token_count().unwrap(), 8);
}

#[test]
fn export_follows_a_text_search() {
    let mut k = known();
    let filter = TokenFilter {
        text: "northwind".to_owned(),
        ..TokenFilter::default()
    };
    let (bytes, summary) = export(&mut k.desk, &filter, false);
    let numbers: Vec<String> = parse(&bytes).1.into_iter().map(|r| r[0].clone()).collect();
    assert_eq!(numbers, self::numbers(&k, &[1, 8]));
    assert_eq!(summary.rows, 2);
}

/// A writer whose disk fills up after `room` bytes.
struct FullDisk {
    room: usize,
}

impl std::io::Write for FullDisk {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if self.room == 0 {
            return Err(std::io::Error::from(std::io::ErrorKind::StorageFull));
        }
        let n = buf.len().min(self.room);
        self.room -= n;
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[test]
fn a_failed_export_says_why_in_one_sentence_and_is_audited() {
    let mut k = known();
    let err = k
        .desk
        .export_tokens(
            &TokenFilter::default(),
            ExportOptions::default(),
            &mut FullDisk { room: 300 },
            &mut |_| {},
            &|| false,
        )
        .unwrap_err();
    assert!(matches!(err, DeskError::File(_)), "{err:?}");
    assert_eq!(
        err.sentence(),
        "The export could not be written: the disk is full; free some space and try again."
    );
    assert_eq!(err.exit_code(), 3);
    let events = export_events(&k.desk, "export.");
    assert!(
        events[0].details.contains("failed"),
        "{}",
        events[0].details
    );
    assert!(
        events[0].details.contains("sha256 "),
        "{}",
        events[0].details
    );
}

proptest::proptest! {
    /// R61 for any text: a guarded cell never starts a formula, and the import's rule (one `'`
    /// removed before `=`, `+`, `-`, `@`) gives back the value, even one that began with `'`.
    #[test]
    fn guarded_cells_never_start_a_formula_and_read_back(value in "[=+@'\\t\\r a-z0-9-]{0,8}") {
        let guarded = guard_cell(&value);
        proptest::prop_assert!(!guarded.starts_with(['=', '+', '-', '@', '\t', '\r']));
        proptest::prop_assert_eq!(
            if value.starts_with(['\t', '\r']) { &guarded[1..] } else { unguard(&guarded) },
            value.as_str()
        );
    }
}
