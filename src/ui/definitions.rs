//! The Definitions place: the list, and an editor for every setting of SPEC §4 with live
//! sample values and a capacity meter.

use super::{Command, Data, UiState, group_digits, labelled_text};
use crate::desk::{DefinitionDraft, sample_values};
use crate::domain::{
    Alphabet, CheckDigit, CredentialKind, CredentialRule, DefinitionSettings, GenerationMethod,
    OwnerSettings, TextFormat,
};

/// Sample values for the settings they were drawn for.
type Samples = (DefinitionSettings, Vec<(CredentialKind, Vec<String>)>);

/// The definition being edited (`editing` names an existing one; `None` means a new one).
#[derive(Debug, Default)]
pub struct Editor {
    pub is_open: bool,
    pub editing: Option<String>,
    pub draft: DefinitionDraft,
    samples: Option<Samples>,
}

impl Editor {
    pub fn close(&mut self) {
        *self = Self::default();
    }
}

pub fn definitions_ui(
    ui: &mut egui::Ui,
    state: &mut UiState,
    data: &Data,
    commands: &mut Vec<Command>,
) {
    let editor = &mut state.definition_editor;
    if editor.is_open {
        egui::Panel::right("definition-editor")
            .default_size(560.0)
            .min_size(460.0)
            .show(ui, |ui| {
                egui::ScrollArea::vertical()
                    .id_salt("editor-scroll")
                    .show(ui, |ui| editor_ui(ui, editor, data, commands));
            });
    }
    egui::CentralPanel::default().show(ui, |ui| {
        ui.horizontal(|ui| {
            ui.heading("Access token definitions");
            if ui.button("New definition…").clicked() {
                *editor = Editor {
                    is_open: true,
                    ..Editor::default()
                };
                editor.draft.settings = DefinitionSettings::default();
            }
        });
        ui.add_space(6.0);
        egui::Grid::new("definitions")
            .num_columns(6)
            .striped(true)
            .show(ui, |ui| {
                for heading in ["Number", "Name", "Code", "State", "Tokens", ""] {
                    ui.strong(heading);
                }
                ui.end_row();
                for definition in &data.definitions {
                    ui.label(&definition.number);
                    ui.label(&definition.name);
                    ui.label(&definition.code);
                    ui.label(if definition.is_effective {
                        "Effective"
                    } else {
                        "Not Effective"
                    });
                    ui.label(group_digits(
                        data.definition_usage
                            .get(&definition.id)
                            .copied()
                            .unwrap_or(0),
                    ));
                    ui.horizontal(|ui| {
                        if ui.button(format!("Edit {}", definition.code)).clicked() {
                            *editor = Editor {
                                is_open: true,
                                editing: Some(definition.code.clone()),
                                draft: DefinitionDraft::from_record(definition),
                                samples: None,
                            };
                        }
                        if !definition.is_effective {
                            if ui.button(format!("Activate {}", definition.code)).clicked() {
                                commands.push(Command::ActivateDefinition(definition.code.clone()));
                            }
                            if ui
                                .button(format!("Delete {}", definition.code))
                                .on_hover_text(
                                    "Only a Not Effective definition no token refers to (R12)",
                                )
                                .clicked()
                            {
                                commands.push(Command::DeleteDefinition(definition.code.clone()));
                            }
                        }
                    });
                    ui.end_row();
                }
            });
    });
}

fn editor_ui(ui: &mut egui::Ui, editor: &mut Editor, data: &Data, commands: &mut Vec<Command>) {
    let title = match &editor.editing {
        Some(code) => format!("Edit definition {code}"),
        None => "New definition".to_owned(),
    };
    ui.heading(title);
    labelled_text(ui, "Definition name", &mut editor.draft.name);
    labelled_text(ui, "Alternative code", &mut editor.draft.code)
        .on_hover_text("Empty: the upper-cased initials of the name");
    labelled_text(ui, "Description", &mut editor.draft.description);
    preview_ui(ui, editor, data);
    let problem = editor
        .draft
        .settings
        .check()
        .err()
        .map(|err| crate::desk::error_sentence(&err.to_string()));
    if let Some(problem) = &problem {
        ui.colored_label(ui.visuals().error_fg_color, problem);
    }
    ui.horizontal(|ui| {
        let label = if editor.editing.is_some() {
            "Save definition"
        } else {
            "Create definition"
        };
        if ui
            .add_enabled(problem.is_none(), egui::Button::new(label))
            .clicked()
        {
            commands.push(match &editor.editing {
                Some(code) => Command::EditDefinition {
                    code: code.clone(),
                    draft: editor.draft.clone(),
                },
                None => Command::CreateDefinition(editor.draft.clone()),
            });
        }
        if ui.button("Close editor").clicked() {
            editor.close();
        }
    });
    ui.separator();
    let settings = &mut editor.draft.settings;
    for kind in [
        CredentialKind::Identifier,
        CredentialKind::PassCode,
        CredentialKind::AuthenticationCode,
    ] {
        let rule = match kind {
            CredentialKind::Identifier => &mut settings.identifier,
            CredentialKind::PassCode => &mut settings.pass_code,
            CredentialKind::AuthenticationCode => &mut settings.authentication_code,
        };
        egui::CollapsingHeader::new(format!("{} rule", capitalised(kind.label())))
            .default_open(true)
            .show(ui, |ui| rule_ui(ui, kind, rule));
    }
    egui::CollapsingHeader::new("Automation, owners, verification, lockout")
        .default_open(true)
        .show(ui, |ui| {
            ui.checkbox(
                &mut settings.allow_without_identifier_and_pass_code,
                "Allow tokens without identifier and pass code (R3)",
            );
            ui.checkbox(
                &mut settings.deactivate_on_last_unlink,
                "Deactivate on last unlink (R24)",
            );
            owner_settings_ui(ui, "Participants", &mut settings.participants);
            owner_settings_ui(ui, "Accounts", &mut settings.accounts);
            ui.checkbox(
                &mut settings.verification.required,
                "Require verification of new tokens",
            );
            number_ui(
                ui,
                "Verification code digits",
                &mut settings.verification.code_length,
                4..=12,
            );
            number_ui(
                ui,
                "Verification code valid for (hours)",
                &mut settings.verification.valid_hours,
                1..=10_000,
            );
            number_ui(
                ui,
                "Lock after failed attempts (0 = never)",
                &mut settings.lockout_threshold,
                0..=100,
            );
        });
}

fn capitalised(text: &str) -> String {
    let mut chars = text.chars();
    chars
        .next()
        .map(|first| first.to_uppercase().chain(chars).collect())
        .unwrap_or_default()
}

fn rule_ui(ui: &mut egui::Ui, kind: CredentialKind, rule: &mut CredentialRule) {
    let id = kind.column();
    egui::Grid::new(("rule", id)).num_columns(2).show(ui, |ui| {
        ui.label("Method");
        egui::ComboBox::from_id_salt(("method", id))
            .selected_text(method_label(rule.method))
            .show_ui(ui, |ui| {
                for method in [
                    GenerationMethod::None,
                    GenerationMethod::Sequence,
                    GenerationMethod::Random,
                ] {
                    ui.selectable_value(&mut rule.method, method, method_label(method));
                }
            });
        ui.end_row();
        if rule.is_generated() {
            ui.label("Prefix");
            ui.text_edit_singleline(&mut rule.prefix);
            ui.end_row();
            ui.label("Length");
            ui.add(egui::DragValue::new(&mut rule.length).range(1..=64));
            ui.end_row();
            if rule.method == GenerationMethod::Random {
                ui.label("Alphabet");
                alphabet_ui(ui, id, &mut rule.alphabet);
                ui.end_row();
            }
        } else {
            ui.label("Format");
            egui::ComboBox::from_id_salt(("format", id))
                .selected_text(rule.format.label())
                .show_ui(ui, |ui| {
                    for format in [
                        TextFormat::FreeText,
                        TextFormat::Email,
                        TextFormat::Phone,
                        TextFormat::Number,
                    ] {
                        ui.selectable_value(&mut rule.format, format, format.label());
                    }
                });
            ui.end_row();
            ui.label("Length from");
            ui.horizontal(|ui| {
                ui.add(egui::DragValue::new(&mut rule.min_length).range(1..=1000));
                ui.label("to");
                ui.add(egui::DragValue::new(&mut rule.max_length).range(1..=1000));
            });
            ui.end_row();
        }
        ui.label("Check digit");
        ui.horizontal(|ui| {
            ui.radio_value(&mut rule.check_digit, CheckDigit::None, "none");
            ui.radio_value(&mut rule.check_digit, CheckDigit::Luhn, "Luhn");
        });
        ui.end_row();
        ui.label("At least");
        ui.horizontal(|ui| {
            ui.add(egui::DragValue::new(&mut rule.min_letters).range(0..=64));
            ui.label("letters");
            ui.add(egui::DragValue::new(&mut rule.min_digits).range(0..=64));
            ui.label("digits");
            ui.add(egui::DragValue::new(&mut rule.min_other).range(0..=64));
            ui.label("others");
        });
        ui.end_row();
    });
    ui.weak(rule.describe());
}

fn method_label(method: GenerationMethod) -> &'static str {
    match method {
        GenerationMethod::None => "typed by the clerk",
        GenerationMethod::Sequence => "sequence",
        GenerationMethod::Random => "random",
    }
}

fn alphabet_ui(ui: &mut egui::Ui, id: &str, alphabet: &mut Alphabet) {
    ui.horizontal(|ui| {
        let current = match alphabet {
            Alphabet::Digits => "digits",
            Alphabet::Unambiguous => "unambiguous",
            Alphabet::Alphanumeric => "alphanumeric",
            Alphabet::Custom(_) => "custom",
        };
        egui::ComboBox::from_id_salt(("alphabet", id))
            .selected_text(current)
            .show_ui(ui, |ui| {
                ui.selectable_value(alphabet, Alphabet::Digits, "digits");
                ui.selectable_value(alphabet, Alphabet::Unambiguous, "unambiguous");
                ui.selectable_value(alphabet, Alphabet::Alphanumeric, "alphanumeric");
                if ui
                    .selectable_label(matches!(alphabet, Alphabet::Custom(_)), "custom")
                    .clicked()
                    && !matches!(alphabet, Alphabet::Custom(_))
                {
                    *alphabet = Alphabet::Custom("ABC123".to_owned());
                }
            });
        if let Alphabet::Custom(characters) = alphabet {
            ui.text_edit_singleline(characters);
        }
    });
}

fn owner_settings_ui(ui: &mut egui::Ui, title: &str, settings: &mut OwnerSettings) {
    ui.horizontal(|ui| {
        ui.strong(title);
        ui.checkbox(&mut settings.allow_create, "may create tokens");
        ui.checkbox(&mut settings.require_at_least_one, "need at least one");
        ui.label("max tokens (0 = no limit)");
        ui.add(egui::DragValue::new(&mut settings.max_tokens).range(0..=1000));
    });
}

fn number_ui(
    ui: &mut egui::Ui,
    label: &str,
    value: &mut u32,
    range: std::ops::RangeInclusive<u32>,
) {
    ui.horizontal(|ui| {
        ui.label(label);
        ui.add(egui::DragValue::new(value).range(range));
    });
}

fn preview_ui(ui: &mut egui::Ui, editor: &mut Editor, data: &Data) {
    let settings = &editor.draft.settings;
    // Random samples are drawn once per change of the settings, not every frame.
    if editor
        .samples
        .as_ref()
        .is_none_or(|(seen, _)| seen != settings)
    {
        editor.samples = Some((settings.clone(), sample_values(settings, 3)));
    }
    ui.strong("Sample values");
    let samples = editor
        .samples
        .as_ref()
        .map(|(_, samples)| samples.as_slice())
        .unwrap_or_default();
    if samples.is_empty() {
        ui.weak("Every credential is typed by the clerk; nothing is generated.");
    }
    for (kind, values) in samples {
        ui.horizontal(|ui| {
            ui.label(format!("{}:", capitalised(kind.label())));
            for value in values {
                ui.monospace(value);
            }
        });
    }
    ui.add_space(4.0);
    ui.strong("Capacity");
    let used = editor
        .editing
        .as_ref()
        .and_then(|code| data.definitions.iter().find(|d| &d.code == code))
        .and_then(|definition| data.definition_usage.get(&definition.id).copied())
        .unwrap_or(0);
    for kind in [
        CredentialKind::Identifier,
        CredentialKind::PassCode,
        CredentialKind::AuthenticationCode,
    ] {
        let rule = settings.rule(kind);
        let Some(capacity) = rule.capacity() else {
            continue;
        };
        #[allow(clippy::cast_precision_loss)]
        let fraction = if capacity > 0.0 {
            used as f64 / capacity
        } else {
            1.0
        };
        ui.horizontal(|ui| {
            ui.label(format!(
                "{}: {} of {} values used",
                capitalised(kind.label()),
                group_digits(used),
                format_capacity(capacity)
            ));
            #[allow(clippy::cast_possible_truncation)]
            ui.add(
                egui::ProgressBar::new(fraction.min(1.0) as f32)
                    .desired_width(120.0)
                    .text(format_share(fraction)),
            );
        });
        if rule.method == GenerationMethod::Random && fraction > 0.01 {
            ui.colored_label(ui.visuals().warn_fg_color, "More than 1 % of this random code space is used: collisions and guessing get easier; use a longer code.");
        }
    }
}

fn format_capacity(capacity: f64) -> String {
    if capacity < 1e19 {
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
        group_digits(capacity as u64)
    } else {
        format!("about 10^{:.0}", capacity.log10().floor())
    }
}

/// A share as a clerk reads it: "12.5 %", or "less than 0.01 %".
fn format_share(fraction: f64) -> String {
    let percent = fraction * 100.0;
    if percent > 0.0 && percent < 0.01 {
        "less than 0.01 %".to_owned()
    } else {
        format!("{percent:.2} %")
    }
}
