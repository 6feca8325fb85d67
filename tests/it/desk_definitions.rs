//! Definition use cases: R10–R13, JSON export and import, rule checks.

use tokendesk::desk::{DefinitionDraft, TokenDraft};
use tokendesk::domain::{Alphabet, CheckDigit, CredentialRule, DefinitionSettings};

use crate::support::{fresh_desk, use_definition};

#[test]
fn r13_a_new_database_has_the_effective_standard_definition() {
    let desk = fresh_desk();
    let definitions = desk.definitions().unwrap();
    assert_eq!(definitions.len(), 1);
    let standard = &definitions[0];
    assert_eq!(
        (
            standard.name.as_str(),
            standard.code.as_str(),
            standard.number.as_str()
        ),
        ("Standard", "STD", "ATD000001")
    );
    assert!(standard.is_effective);
    assert_eq!(standard.settings, DefinitionSettings::default());
}

#[test]
fn r10_activating_one_definition_makes_the_previous_not_effective() {
    let mut desk = fresh_desk();
    let gold = desk
        .create_definition(&DefinitionDraft {
            name: "Gold card".into(),
            ..DefinitionDraft::default()
        })
        .unwrap();
    assert_eq!(gold.code, "GC", "the code defaults to the initials");
    assert!(!gold.is_effective, "a new definition starts Not Effective");
    desk.activate_definition("gc").unwrap();
    let effective: Vec<String> = desk
        .definitions()
        .unwrap()
        .into_iter()
        .filter(|d| d.is_effective)
        .map(|d| d.code)
        .collect();
    assert_eq!(effective, vec!["GC".to_owned()]);
}

#[test]
fn r11_tokens_keep_the_definition_they_were_created_under() {
    let mut desk = fresh_desk();
    let number = desk
        .create_token(&TokenDraft::default())
        .unwrap()
        .token
        .number;
    use_definition(&mut desk, "Gold card", DefinitionSettings::default());
    assert_eq!(desk.token(&number).unwrap().definition, "STD");
    assert_eq!(
        desk.create_token(&TokenDraft::default())
            .unwrap()
            .token
            .definition,
        "GC"
    );
}

#[test]
fn r12_only_unused_not_effective_definitions_can_be_deleted() {
    let mut desk = fresh_desk();
    desk.create_token(&TokenDraft::default()).unwrap();
    let err = desk.delete_definition("STD").unwrap_err().sentence();
    assert!(err.contains("Effective"), "{err}");
    use_definition(&mut desk, "Gold card", DefinitionSettings::default());
    let err = desk.delete_definition("STD").unwrap_err().sentence();
    assert!(err.contains("used by 1 tokens"), "{err}");
    desk.create_definition(&DefinitionDraft {
        name: "Spare".into(),
        ..DefinitionDraft::default()
    })
    .unwrap();
    desk.delete_definition("S").unwrap();
    assert!(desk.definition("S").is_err());
}

#[test]
fn definitions_with_impossible_rules_are_refused() {
    let mut desk = fresh_desk();
    let cases = [
        (
            CredentialRule {
                check_digit: CheckDigit::Luhn,
                ..CredentialRule::random(Alphabet::Unambiguous, 8)
            },
            "Luhn",
        ),
        (
            CredentialRule {
                min_length: 5,
                max_length: 3,
                ..CredentialRule::default()
            },
            "minimum length",
        ),
        (
            CredentialRule::random(Alphabet::Custom("A".into()), 8),
            "at least 2 different characters",
        ),
        (
            CredentialRule {
                min_digits: 3,
                ..CredentialRule::random(Alphabet::Custom("ABC".into()), 8)
            },
            "character classes",
        ),
    ];
    for (rule, words) in cases {
        let settings = DefinitionSettings {
            authentication_code: rule,
            ..DefinitionSettings::default()
        };
        let draft = DefinitionDraft {
            name: "Broken".into(),
            settings,
            ..DefinitionDraft::default()
        };
        let err = desk.create_definition(&draft).unwrap_err().sentence();
        assert!(err.contains(words), "expected {words:?} in {err:?}");
    }
    let duplicate = DefinitionDraft {
        name: "standard".into(),
        code: "X".into(),
        ..DefinitionDraft::default()
    };
    assert!(
        desk.create_definition(&duplicate)
            .unwrap_err()
            .sentence()
            .contains("definition with this name")
    );
}

#[test]
fn definitions_copy_from_one_desk_to_another_as_json() {
    let mut source = fresh_desk();
    let settings = DefinitionSettings {
        authentication_code: CredentialRule::random(Alphabet::Digits, 10),
        lockout_threshold: 3,
        ..DefinitionSettings::default()
    };
    source
        .create_definition(&DefinitionDraft {
            name: "Gold card".into(),
            description: "For gold members".into(),
            settings: settings.clone(),
            ..DefinitionDraft::default()
        })
        .unwrap();
    let json = source.export_definitions().unwrap();
    let mut target = fresh_desk();
    let imported = target
        .import_definitions(
            &json
                .replace("\"Standard\"", "\"Standard copy\"")
                .replace("\"STD\"", "\"STC\""),
        )
        .unwrap();
    assert_eq!(imported.len(), 2);
    let gold = target.definition("GC").unwrap();
    assert_eq!(gold.settings, settings);
    assert_eq!(gold.description, "For gold members");
    assert!(
        !gold.is_effective,
        "imported definitions arrive Not Effective"
    );
    let err = target
        .import_definitions("{ not json")
        .unwrap_err()
        .sentence();
    assert!(err.contains("not valid JSON"), "{err}");
    let before = target.definitions().unwrap().len();
    let err = target
        .import_definitions(
            r#"[{"name": "Fine"}, {"name": "Bad", "settings": {"pass_code": {"min_length": 0}}}]"#,
        )
        .unwrap_err()
        .sentence();
    assert!(err.contains("Definition 2 in the file"), "{err}");
    assert_eq!(
        target.definitions().unwrap().len(),
        before,
        "nothing is imported when one definition is wrong"
    );
}

#[test]
fn r7_editing_a_definition_does_not_touch_existing_tokens() {
    let mut desk = fresh_desk();
    let token = desk.create_token(&TokenDraft::default()).unwrap().token;
    let mut draft = DefinitionDraft::from_record(&desk.definition("STD").unwrap());
    draft.settings.authentication_code = CredentialRule::random(Alphabet::Digits, 16);
    desk.edit_definition("STD", &draft).unwrap();
    assert_eq!(
        desk.token(&token.number).unwrap().authentication_code,
        token.authentication_code
    );
    assert_eq!(
        desk.create_token(&TokenDraft::default())
            .unwrap()
            .token
            .authentication_code
            .len(),
        16
    );
}

#[test]
fn sample_values_follow_the_rules() {
    let settings = DefinitionSettings::default();
    let samples = tokendesk::desk::sample_values(&settings, 3);
    assert_eq!(
        samples.len(),
        1,
        "only the authentication code is generated under Standard"
    );
    assert_eq!(samples[0].1.len(), 3);
    assert!(samples[0].1.iter().all(|v| v.len() == 12));
}
