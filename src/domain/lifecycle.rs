//! The life cycle of a token (SPEC §5): states, actions and the table of allowed transitions.

use serde::{Deserialize, Serialize};

/// Where a token stands in its life cycle.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TokenState {
    Effective,
    NotEffective,
    PendingVerification,
}

impl TokenState {
    pub const ALL: [Self; 3] = [
        Self::Effective,
        Self::NotEffective,
        Self::PendingVerification,
    ];

    /// The snake_case name used in the database, CSV and JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Effective => "effective",
            Self::NotEffective => "not_effective",
            Self::PendingVerification => "pending_verification",
        }
    }

    /// The name a clerk reads.
    pub fn label(self) -> &'static str {
        match self {
            Self::Effective => "Effective",
            Self::NotEffective => "Not Effective",
            Self::PendingVerification => "Pending Verification",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        let text = text.trim().to_ascii_lowercase().replace([' ', '-'], "_");
        Self::ALL.into_iter().find(|state| state.as_str() == text)
    }
}

impl std::fmt::Display for TokenState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Something that can happen to an existing token.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TokenAction {
    /// The right, unexpired verification code was entered.
    Verify,
    /// A new verification code replaces the old one.
    ReissueVerification,
    /// The clerk deactivates the token, with a reason (R20 applies).
    Deactivate,
    /// The last owner link was removed and the definition says to deactivate (R24).
    DeactivateOnLastUnlink,
    /// The clerk makes the token Effective again, with a reason.
    Activate,
    /// The clerk deletes the token (R21 applies).
    Delete,
}

/// Facts about a token's owners that the guards of §5 need.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LinkFacts {
    /// The first linked owner that is not Terminated, as the clerk would name it ("participant RP…").
    pub active_owner: Option<String>,
    /// Whether the token is linked to any owner at all.
    pub is_linked: bool,
}

/// Where a token goes after an allowed action.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Transition {
    To(TokenState),
    Deleted,
}

/// Why the life-cycle table refuses an action.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum LifecycleError {
    #[error("a token that is {from} cannot be {action}")]
    NotAllowed {
        from: &'static str,
        action: &'static str,
    },
    #[error(
        "the token is linked to {owner}, which is not terminated; remove the token from {owner} instead (R20)"
    )]
    LinkedToActiveOwner { owner: String },
    #[error("the token is still linked to an owner; remove it from its owners first (R21)")]
    StillLinked,
}

impl TokenAction {
    fn past_tense(self) -> &'static str {
        match self {
            Self::Verify => "verified",
            Self::ReissueVerification => "given a new verification code",
            Self::Deactivate | Self::DeactivateOnLastUnlink => "made Not Effective",
            Self::Activate => "made Effective",
            Self::Delete => "deleted",
        }
    }
}

/// The table of §5. Returns where the token goes, or why it may not.
pub fn transition(
    from: TokenState,
    action: TokenAction,
    links: &LinkFacts,
) -> Result<Transition, LifecycleError> {
    use TokenAction as A;
    use TokenState as S;
    match (from, action) {
        (S::PendingVerification, A::Verify) => Ok(Transition::To(S::Effective)),
        (S::PendingVerification, A::ReissueVerification) => {
            Ok(Transition::To(S::PendingVerification))
        }
        (S::Effective, A::Deactivate) => match &links.active_owner {
            Some(owner) => Err(LifecycleError::LinkedToActiveOwner {
                owner: owner.clone(),
            }),
            None => Ok(Transition::To(S::NotEffective)),
        },
        (S::Effective, A::DeactivateOnLastUnlink) => Ok(Transition::To(S::NotEffective)),
        (S::NotEffective, A::Activate) => Ok(Transition::To(S::Effective)),
        (S::NotEffective, A::Delete) if links.is_linked => Err(LifecycleError::StillLinked),
        (S::NotEffective, A::Delete) => Ok(Transition::Deleted),
        (from, action) => Err(LifecycleError::NotAllowed {
            from: from.label(),
            action: action.past_tense(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn free() -> LinkFacts {
        LinkFacts::default()
    }

    #[test]
    fn the_table_of_section_5() {
        use TokenAction as A;
        use TokenState as S;
        let allowed = [
            (
                S::PendingVerification,
                A::Verify,
                Transition::To(S::Effective),
            ),
            (
                S::PendingVerification,
                A::ReissueVerification,
                Transition::To(S::PendingVerification),
            ),
            (S::Effective, A::Deactivate, Transition::To(S::NotEffective)),
            (
                S::Effective,
                A::DeactivateOnLastUnlink,
                Transition::To(S::NotEffective),
            ),
            (S::NotEffective, A::Activate, Transition::To(S::Effective)),
            (S::NotEffective, A::Delete, Transition::Deleted),
        ];
        let actions = [
            A::Verify,
            A::ReissueVerification,
            A::Deactivate,
            A::DeactivateOnLastUnlink,
            A::Activate,
            A::Delete,
        ];
        for from in S::ALL {
            for action in actions {
                let expected = allowed
                    .iter()
                    .find(|(f, a, _)| *f == from && *a == action)
                    .map(|(_, _, to)| *to);
                assert_eq!(
                    transition(from, action, &free()).ok(),
                    expected,
                    "{from:?} {action:?}"
                );
            }
        }
    }

    #[test]
    fn r20_deactivation_refused_while_linked_to_an_active_owner() {
        let links = LinkFacts {
            active_owner: Some("participant RP0000000001".to_owned()),
            is_linked: true,
        };
        let err = transition(TokenState::Effective, TokenAction::Deactivate, &links).unwrap_err();
        assert!(
            err.to_string().contains("participant RP0000000001"),
            "{err}"
        );
        assert!(err.to_string().contains("remove the token"), "{err}");
    }

    #[test]
    fn r21_deletion_refused_while_linked() {
        let links = LinkFacts {
            active_owner: None,
            is_linked: true,
        };
        assert_eq!(
            transition(TokenState::NotEffective, TokenAction::Delete, &links),
            Err(LifecycleError::StillLinked)
        );
        assert!(transition(TokenState::Effective, TokenAction::Delete, &free()).is_err());
    }

    #[test]
    fn states_parse_from_their_names_and_labels() {
        for state in TokenState::ALL {
            assert_eq!(TokenState::parse(state.as_str()), Some(state));
            assert_eq!(TokenState::parse(state.label()), Some(state));
        }
        assert_eq!(TokenState::parse("revoked"), None);
    }
}

#[cfg(test)]
mod properties {
    use proptest::prelude::*;

    use super::*;

    fn action() -> impl Strategy<Value = TokenAction> {
        prop_oneof![
            Just(TokenAction::Verify),
            Just(TokenAction::ReissueVerification),
            Just(TokenAction::Deactivate),
            Just(TokenAction::DeactivateOnLastUnlink),
            Just(TokenAction::Activate),
            Just(TokenAction::Delete),
        ]
    }

    proptest! {
        /// Whatever actions are applied, a token only ever moves along the table of §5.
        #[test]
        fn no_sequence_of_actions_leaves_the_table(
            start_pending in any::<bool>(),
            steps in proptest::collection::vec((action(), any::<bool>(), any::<bool>()), 0..40),
        ) {
            let mut state = if start_pending { TokenState::PendingVerification } else { TokenState::Effective };
            for (action, linked, active) in steps {
                let links = LinkFacts { active_owner: (linked && active).then(|| "participant RP1".to_owned()), is_linked: linked };
                match transition(state, action, &links) {
                    Ok(Transition::To(next)) => {
                        let allowed = matches!(
                            (state, next),
                            (TokenState::PendingVerification, TokenState::Effective | TokenState::PendingVerification)
                                | (TokenState::Effective, TokenState::NotEffective)
                                | (TokenState::NotEffective, TokenState::Effective)
                        );
                        prop_assert!(allowed, "{:?} -> {:?}", state, next);
                        prop_assert!(!(action == TokenAction::Deactivate && links.active_owner.is_some()));
                        state = next;
                    }
                    Ok(Transition::Deleted) => {
                        prop_assert_eq!(state, TokenState::NotEffective);
                        prop_assert!(!links.is_linked);
                        break;
                    }
                    Err(_) => {}
                }
            }
        }
    }
}
