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
