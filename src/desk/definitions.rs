//! Definition use cases: create, edit, activate, delete, JSON export and import (SPEC §4).

use serde::{Deserialize, Serialize};

use super::{Desk, DeskError};
use crate::domain::definition::default_code;
use crate::domain::{CredentialKind, DefinitionRecord, DefinitionSettings, ValidationError};
use crate::storage::DefinitionValues;

/// A definition as typed in the editor, or as one object of a JSON export.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct DefinitionDraft {
    pub name: String,
    /// Empty means the upper-cased initials of the name.
    pub code: String,
    pub description: String,
    pub settings: DefinitionSettings,
}

/// One definition in a JSON export: everything but the database's own bookkeeping.
pub type DefinitionExport = DefinitionDraft;

impl DefinitionDraft {
    pub fn from_record(record: &DefinitionRecord) -> Self {
        Self {
            name: record.name.clone(),
            code: record.code.clone(),
            description: record.description.clone(),
            settings: record.settings.clone(),
        }
    }

    /// Trims, fills the default code and checks every rule.
    fn checked(&self) -> Result<Self, ValidationError> {
        let name = self.name.trim().to_owned();
        if name.is_empty() || name.chars().count() > 100 {
            return Err(ValidationError::new(
                "definition name",
                "must be 1–100 characters",
            ));
        }
        let code = if self.code.trim().is_empty() {
            default_code(&name)
        } else {
            self.code.trim().to_uppercase()
        };
        if code.is_empty() || code.chars().count() > 20 || code.contains(char::is_whitespace) {
            return Err(ValidationError::new(
                "alternative code",
                "must be 1–20 characters without spaces",
            ));
        }
        self.settings.check()?;
        Ok(Self {
            name,
            code,
            description: self.description.trim().to_owned(),
            settings: self.settings.clone(),
        })
    }
}

/// A few values each generated credential rule would produce, for the editor's preview.
pub fn sample_values(
    settings: &DefinitionSettings,
    count: usize,
) -> Vec<(CredentialKind, Vec<String>)> {
    [
        CredentialKind::Identifier,
        CredentialKind::PassCode,
        CredentialKind::AuthenticationCode,
    ]
    .into_iter()
    .filter(|kind| settings.rule(*kind).is_generated())
    .map(|kind| {
        let rule = settings.rule(kind);
        let values = (1..=count as u64)
            .filter_map(|n| rule.generate(kind, n).ok())
            .collect();
        (kind, values)
    })
    .collect()
}

impl Desk {
    pub fn definitions(&self) -> Result<Vec<DefinitionRecord>, DeskError> {
        Ok(self.store.db().definitions()?)
    }

    /// A definition by its alternative code or number.
    pub fn definition(&self, code: &str) -> Result<DefinitionRecord, DeskError> {
        self.store
            .db()
            .definition_by_code(code)?
            .ok_or_else(|| DeskError::not_found("definition", code.trim()))
    }

    pub fn effective_definition(&self) -> Result<DefinitionRecord, DeskError> {
        self.store.db().effective_definition()?.ok_or_else(|| {
            DeskError::refused("there is no Effective definition; activate one first")
        })
    }

    /// How many tokens refer to a definition (the capacity meter's "used").
    pub fn definition_usage(&self, definition_id: i64) -> Result<u64, DeskError> {
        Ok(self.store.db().count_tokens_of_definition(definition_id)?)
    }

    /// Creates a Not Effective definition; the first one of a database becomes Effective (R10).
    pub fn create_definition(
        &mut self,
        draft: &DefinitionDraft,
    ) -> Result<DefinitionRecord, DeskError> {
        let draft = draft.checked()?;
        self.change(|tx, audit| add_definition(tx, audit, &draft, "definition.create", "created"))
    }

    /// Changes a definition. Existing tokens are not re-validated (R7).
    pub fn edit_definition(
        &mut self,
        code: &str,
        draft: &DefinitionDraft,
    ) -> Result<DefinitionRecord, DeskError> {
        let draft = draft.checked()?;
        self.change(|tx, audit| {
            let existing = tx
                .definition_by_code(code)?
                .ok_or_else(|| DeskError::not_found("definition", code.trim()))?;
            let values = DefinitionValues {
                name: &draft.name,
                code: &draft.code,
                description: &draft.description,
                settings: &draft.settings,
            };
            tx.update_definition(existing.id, &values, audit.at, audit.clerk)?;
            audit.record(
                tx,
                "definition.edit",
                "definition",
                &existing.number,
                format!("edited {} ({})", draft.name, draft.code),
            )?;
            tx.definition_by_id(existing.id)?
                .ok_or_else(|| DeskError::not_found("definition", code))
        })
    }

    /// Makes a definition the Effective one; the previous one becomes Not Effective (R10).
    pub fn activate_definition(&mut self, code: &str) -> Result<DefinitionRecord, DeskError> {
        self.change(|tx, audit| {
            let definition = tx
                .definition_by_code(code)?
                .ok_or_else(|| DeskError::not_found("definition", code.trim()))?;
            let previous = tx.effective_definition()?;
            tx.make_definition_effective(definition.id, audit.at, audit.clerk)?;
            let details = match previous {
                Some(previous) if previous.id != definition.id => {
                    format!("made Effective; {} is now Not Effective", previous.code)
                }
                _ => "made Effective".to_owned(),
            };
            audit.record(
                tx,
                "definition.activate",
                "definition",
                &definition.number,
                details,
            )?;
            tx.definition_by_id(definition.id)?
                .ok_or_else(|| DeskError::not_found("definition", code))
        })
    }

    /// Deletes a Not Effective definition that no token refers to (R12).
    pub fn delete_definition(&mut self, code: &str) -> Result<(), DeskError> {
        self.change(|tx, audit| {
            let definition = tx
                .definition_by_code(code)?
                .ok_or_else(|| DeskError::not_found("definition", code.trim()))?;
            if definition.is_effective {
                return Err(DeskError::refused(format!(
                    "definition {} is Effective; activate another one first (R12)",
                    definition.code
                )));
            }
            let used = tx.count_tokens_of_definition(definition.id)?;
            if used > 0 {
                return Err(DeskError::refused(format!(
                    "definition {} is used by {used} tokens and cannot be deleted (R12)",
                    definition.code
                )));
            }
            tx.delete_definition(definition.id)?;
            audit.record(
                tx,
                "definition.delete",
                "definition",
                &definition.number,
                format!("deleted {} ({})", definition.name, definition.code),
            )?;
            Ok(())
        })
    }

    /// Every definition as a JSON array, one object per definition.
    pub fn export_definitions(&self) -> Result<String, DeskError> {
        let drafts: Vec<DefinitionExport> = self
            .definitions()?
            .iter()
            .map(DefinitionDraft::from_record)
            .collect();
        serde_json::to_string_pretty(&drafts).map_err(|err| DeskError::File(err.to_string()))
    }

    /// Adds the definitions of a JSON export (an object or an array of objects), all or none.
    /// They arrive Not Effective, unless the database has no Effective definition.
    pub fn import_definitions(&mut self, json: &str) -> Result<Vec<DefinitionRecord>, DeskError> {
        let value: serde_json::Value = serde_json::from_str(json).map_err(|err| {
            DeskError::refused(format!(
                "the file is not valid JSON (line {}, column {})",
                err.line(),
                err.column()
            ))
        })?;
        let items = match value {
            serde_json::Value::Array(items) => items,
            object => vec![object],
        };
        let mut drafts = Vec::with_capacity(items.len());
        for (index, item) in items.into_iter().enumerate() {
            let draft: DefinitionDraft = serde_json::from_value(item).map_err(|err| {
                DeskError::refused(format!(
                    "definition {} in the file is not a definition: {err}",
                    index + 1
                ))
            })?;
            drafts.push(draft.checked().map_err(|err| {
                DeskError::refused(format!("definition {} in the file: {err}", index + 1))
            })?);
        }
        self.change(|tx, audit| {
            let mut created = Vec::with_capacity(drafts.len());
            for draft in &drafts {
                created.push(add_definition(
                    tx,
                    audit,
                    draft,
                    "definition.import",
                    "imported",
                )?);
            }
            Ok(created)
        })
    }
}

/// Inserts a checked definition and audits it as `action`; the database's first definition
/// becomes Effective (R10).
fn add_definition(
    tx: &crate::storage::Tx<'_>,
    audit: &super::Audit<'_>,
    draft: &DefinitionDraft,
    action: &str,
    verb: &str,
) -> Result<DefinitionRecord, DeskError> {
    let number = format!("ATD{:06}", tx.next_counter("definition")?);
    let values = DefinitionValues {
        name: &draft.name,
        code: &draft.code,
        description: &draft.description,
        settings: &draft.settings,
    };
    let id = tx.insert_definition(&number, &values, audit.at, audit.clerk)?;
    if tx.effective_definition()?.is_none() {
        tx.make_definition_effective(id, audit.at, audit.clerk)?;
    }
    audit.record(
        tx,
        action,
        "definition",
        &number,
        format!("{verb} {} ({})", draft.name, draft.code),
    )?;
    tx.definition_by_id(id)?
        .ok_or_else(|| DeskError::not_found("definition", &number))
}
