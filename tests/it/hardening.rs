//! Hostile input that needs no import: arbitrary definition JSON never panics and never
//! half-applies; every refusal is one sentence.

use proptest::prelude::*;

use crate::support::fresh_desk;

fn json_value() -> impl Strategy<Value = serde_json::Value> {
    let leaf = prop_oneof![
        Just(serde_json::Value::Null),
        any::<bool>().prop_map(serde_json::Value::from),
        any::<i64>().prop_map(serde_json::Value::from),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(serde_json::Value::from),
        "[a-z_ ]{0,12}".prop_map(serde_json::Value::from),
        prop_oneof![
            Just("random"),
            Just("sequence"),
            Just("none"),
            Just("luhn"),
            Just("digits"),
            Just("phone"),
            Just("email")
        ]
        .prop_map(serde_json::Value::from),
    ];
    leaf.prop_recursive(4, 48, 8, |inner| {
        let keys = prop_oneof![
            Just("name"),
            Just("code"),
            Just("settings"),
            Just("identifier"),
            Just("pass_code"),
            Just("authentication_code"),
            Just("method"),
            Just("alphabet"),
            Just("length"),
            Just("min_length"),
            Just("max_length"),
            Just("check_digit"),
            Just("format"),
            Just("min_digits"),
            Just("lockout_threshold"),
            Just("verification"),
            Just("custom"),
        ];
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..4).prop_map(serde_json::Value::from),
            proptest::collection::btree_map(keys.prop_map(str::to_owned), inner, 0..6)
                .prop_map(|map| serde_json::Value::Object(map.into_iter().collect())),
        ]
    })
}

#[track_caller]
fn assert_one_sentence(message: &str) {
    assert!(
        !message.is_empty() && !message.contains('\n'),
        "{message:?}"
    );
    assert!(message.ends_with('.'), "{message:?}");
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    /// Arbitrary bytes as a definition file: refused with one sentence, nothing added.
    #[test]
    fn arbitrary_bytes_as_definition_json(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
        let mut desk = fresh_desk();
        let text = String::from_utf8_lossy(&bytes);
        if let Err(err) = desk.import_definitions(&text) {
            assert_one_sentence(&err.sentence());
            prop_assert_eq!(desk.definitions().unwrap().len(), 1);
        }
    }

    /// Structured but wrong definitions: either a valid definition is added, or nothing is.
    #[test]
    fn structured_but_wrong_definition_json(value in json_value()) {
        let mut desk = fresh_desk();
        match desk.import_definitions(&value.to_string()) {
            Ok(added) => {
                for definition in &added {
                    prop_assert!(definition.settings.check().is_ok());
                }
                prop_assert_eq!(desk.definitions().unwrap().len(), 1 + added.len());
            }
            Err(err) => {
                assert_one_sentence(&err.sentence());
                prop_assert_eq!(desk.definitions().unwrap().len(), 1);
            }
        }
    }
}

mod csv_import {
    //! The CSV import path fed arbitrary bytes and structured-but-wrong rows: no panic, every
    //! rejection with a line number and a sentence, and all-or-nothing holds.

    use std::sync::atomic::{AtomicBool, Ordering};

    use proptest::prelude::*;
    use tokendesk::desk::TokenFilter;
    use tokendesk::desk::import::{
        ImportOptions, ImportOutput, ImportSource, MemoryCredentials, MemoryReport, RowOutcome,
    };

    use super::assert_one_sentence;
    use crate::support::{TestDesk, fresh_desk};

    const COLUMNS: &[&str] = &[
        "participant_number",
        "participant_name",
        "account_number",
        "account_name",
        "identifier",
        "pass_code",
        "authentication_code",
        "state",
        "token_number",
        "locked",
        " Identifier ",
        "passcode",
        "",
    ];

    const VALUES: &[&str] = &[
        "",
        " ",
        "1234",
        "ada@example.com",
        "ADA@example.com ",
        "1.23E+11",
        "'=SUM(A1)",
        "'+1",
        "RP0000000001",
        "ACR0000000001",
        "effective",
        "not_effective",
        "pending_verification",
        "Ada Lovelace",
        "\"quoted, with comma\"",
        "line\nbreak",
        "ÄÖÜ 名前",
        "\u{0}",
        "x;y\tz",
    ];

    fn import(
        desk: &mut TestDesk,
        bytes: &[u8],
        options: ImportOptions,
    ) -> (Result<(), String>, MemoryReport) {
        let mut report = MemoryReport::default();
        let mut credentials = MemoryCredentials::default();
        let cancelled = AtomicBool::new(false);
        let mut progress = |_| {};
        let is_cancelled = || cancelled.load(Ordering::SeqCst);
        let mut output = ImportOutput {
            report: &mut report,
            credentials: Some(&mut credentials),
            progress: &mut progress,
            is_cancelled: &is_cancelled,
        };
        let result = desk
            .import_csv(
                ImportSource::Bytes {
                    name: "fuzz.csv",
                    bytes,
                },
                options,
                &mut output,
            )
            .map(|_| ())
            .map_err(|err| err.sentence());
        (result, report)
    }

    fn check_outcome(
        desk: &mut TestDesk,
        bytes: &[u8],
        options: ImportOptions,
    ) -> Result<(), TestCaseError> {
        let before = desk.count_tokens(&TokenFilter::default()).unwrap();
        let (result, report) = import(desk, bytes, options);
        let after = desk.count_tokens(&TokenFilter::default()).unwrap();
        match result {
            Err(sentence) => {
                assert_one_sentence(&sentence);
                prop_assert_eq!(before, after, "a refused import changes nothing");
            }
            Ok(()) => {
                let rejected = report
                    .rows
                    .iter()
                    .filter(|r| r.outcome == RowOutcome::Rejected)
                    .count();
                let created = report
                    .rows
                    .iter()
                    .filter(|r| r.outcome == RowOutcome::Created)
                    .count() as u64;
                for row in report
                    .rows
                    .iter()
                    .filter(|r| r.outcome == RowOutcome::Rejected)
                {
                    prop_assert!(row.line >= 2, "rejections name a data line: {:?}", row);
                    assert_one_sentence(&tokendesk::desk::error_sentence(&row.message));
                }
                if rejected > 0 && !options.skip_invalid {
                    prop_assert_eq!(
                        before,
                        after,
                        "any rejected row means nothing is applied (R43)"
                    );
                } else {
                    prop_assert_eq!(after, before + created);
                }
            }
        }
        Ok(())
    }

    fn rows() -> impl Strategy<Value = (u8, Vec<usize>, Vec<Vec<usize>>)> {
        let delimiter = prop_oneof![Just(b','), Just(b';'), Just(b'\t')];
        let header = proptest::collection::vec(0..COLUMNS.len(), 1..6);
        (delimiter, header).prop_flat_map(|(delimiter, header)| {
            let width = header.len();
            let row = proptest::collection::vec(0..VALUES.len(), 0..=width + 1);
            (
                Just(delimiter),
                Just(header),
                proptest::collection::vec(row, 0..8),
            )
        })
    }

    fn render(delimiter: u8, header: &[usize], rows: &[Vec<usize>]) -> Vec<u8> {
        let mut writer = csv::WriterBuilder::new()
            .delimiter(delimiter)
            .flexible(true)
            .from_writer(Vec::new());
        writer
            .write_record(header.iter().map(|&i| COLUMNS[i]))
            .unwrap();
        for row in rows {
            writer.write_record(row.iter().map(|&i| VALUES[i])).unwrap();
        }
        writer.into_inner().unwrap()
    }

    proptest! {
        /// Arbitrary bytes: refused with one sentence, or imported row by row, never a panic.
        #[test]
        fn arbitrary_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..400), skip_invalid in any::<bool>()) {
            let mut desk = fresh_desk();
            let options = ImportOptions { skip_invalid, create_owners: true, ..ImportOptions::default() };
            check_outcome(&mut desk, &bytes, options)?;
        }

        /// Well-formed CSV with wrong columns and hostile values.
        #[test]
        fn structured_but_wrong_rows((delimiter, header, rows) in rows(), skip_invalid in any::<bool>(), create_owners in any::<bool>()) {
            let mut desk = fresh_desk();
            let options = ImportOptions { skip_invalid, create_owners, ..ImportOptions::default() };
            let bytes = render(delimiter, &header, &rows);
            check_outcome(&mut desk, &bytes, options)?;
        }
    }
}

mod hostile {
    //! Hostile environments around imports and exports: one sentence, nothing lost.

    use std::sync::atomic::AtomicBool;

    use tokendesk::desk::TokenFilter;
    use tokendesk::desk::import::{
        ImportOptions, ImportOutput, ImportSource, MemoryCredentials, MemoryReport,
    };

    use crate::support::{fresh_desk, use_definition};

    #[test]
    fn running_out_of_space_mid_import_applies_nothing_and_says_so() {
        let mut desk = fresh_desk();
        let settings = tokendesk::domain::DefinitionSettings {
            authentication_code: tokendesk::domain::CredentialRule::typed(
                tokendesk::domain::TextFormat::FreeText,
                1,
                64,
            ),
            ..Default::default()
        };
        use_definition(&mut desk, "Cards", settings);
        let before = desk.count_tokens(&TokenFilter::default()).unwrap();
        let pages = desk.store().db().page_count().unwrap();
        desk.store().set_max_page_count(pages + 20).unwrap();
        let mut csv = String::from("authentication_code\n");
        for n in 0..20_000 {
            csv.push_str(&format!("FULL-DISK-{n:08}\n"));
        }
        let mut report = MemoryReport::default();
        let mut credentials = MemoryCredentials::default();
        let cancelled = AtomicBool::new(false);
        let mut progress = |_| {};
        let is_cancelled = || cancelled.load(std::sync::atomic::Ordering::SeqCst);
        let mut output = ImportOutput {
            report: &mut report,
            credentials: Some(&mut credentials),
            progress: &mut progress,
            is_cancelled: &is_cancelled,
        };
        let source = ImportSource::Bytes {
            name: "cards.csv",
            bytes: csv.as_bytes(),
        };
        let err = desk
            .import_csv(source, ImportOptions::default(), &mut output)
            .unwrap_err();
        let sentence = err.sentence();
        assert!(
            sentence.contains("disk is full") && !sentence.contains('\n'),
            "{sentence}"
        );
        desk.store().set_max_page_count(1 << 30).unwrap();
        desk.store().integrity_check().unwrap();
        assert_eq!(
            desk.count_tokens(&TokenFilter::default()).unwrap(),
            before,
            "nothing applied"
        );
        assert!(desk.batches().unwrap().is_empty());
    }

    /// A folder nobody may create files in, even root (`chattr +i`); undone when dropped.
    struct LockedFolder(std::path::PathBuf);

    impl Drop for LockedFolder {
        fn drop(&mut self) {
            let _ = std::process::Command::new("chattr")
                .arg("-i")
                .arg(&self.0)
                .status();
        }
    }

    #[test]
    fn an_export_to_a_folder_that_cannot_be_written_is_one_sentence_and_keeps_nothing_half_done() {
        let dir = tempfile::tempdir().unwrap();
        let folder = dir.path().join("locked");
        std::fs::create_dir(&folder).unwrap();
        let immutable = std::process::Command::new("chattr")
            .arg("+i")
            .arg(&folder)
            .status()
            .is_ok_and(|s| s.success());
        if !immutable {
            let mut permissions = std::fs::metadata(&folder).unwrap().permissions();
            permissions.set_readonly(true);
            std::fs::set_permissions(&folder, permissions).unwrap();
        }
        let _guard = LockedFolder(folder.clone());
        let out = folder.join("tokens.csv");
        let output = assert_cmd::Command::new(env!("CARGO_BIN_EXE_tokendesk"))
            .args([
                "--db",
                dir.path().join("desk.sqlite3").to_str().unwrap(),
                "export",
                "tokens",
                "--out",
            ])
            .arg(&out)
            .env_remove("TOKENDESK_DB")
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(3), "{stderr}");
        assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
        assert!(
            stderr.contains("tokens.csv") && stderr.contains("ermission"),
            "{stderr}"
        );
        assert!(!out.exists());
    }
}

/// Found by the CSV fuzzer: a value with a line break, echoed in a rejection, made the message
/// two lines. Every message is one line; the break is shown as `\n`.
#[test]
fn regression_a_line_break_in_an_echoed_value_stays_on_one_line() {
    let message = tokendesk::desk::error_sentence(
        "participant number line\nbreak must be at most 40 characters",
    );
    assert_eq!(
        message,
        "Participant number line\\nbreak must be at most 40 characters."
    );
}

/// An import file that is not there (deleted between choosing and importing) is one sentence,
/// exit 3, and nothing changes.
#[test]
fn an_import_file_that_disappeared_is_one_sentence() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("desk.sqlite3");
    let missing = dir.path().join("gone.csv");
    let output = assert_cmd::Command::new(env!("CARGO_BIN_EXE_tokendesk"))
        .args([
            "--db",
            db.to_str().unwrap(),
            "import",
            missing.to_str().unwrap(),
        ])
        .env_remove("TOKENDESK_DB")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(3), "{stderr}");
    assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
    assert!(
        stderr.contains("gone.csv") && stderr.contains("does not exist"),
        "{stderr}"
    );
}
