//! The foundation's commands: definitions, owners, tokens, authentication, demo data.

use std::io::BufRead as _;
use std::path::PathBuf;

use clap::{Args, Subcommand};
use serde::Serialize;

use super::{CliError, CliResult, exit, print_json};
use crate::desk::{Credentials, Desk, DeskError, TokenDraft};
use crate::domain::{AccountState, OwnerKind, Secret, TokenRecord, TokenState};

#[derive(Debug, Subcommand)]
pub enum DefinitionCommand {
    /// Lists every definition.
    List,
    /// Shows one definition with all its settings.
    Show { code: String },
    /// Adds the definitions of a JSON file (one object, or an array of objects).
    Add { file: PathBuf },
    /// Makes a definition the Effective one.
    Activate { code: String },
    /// Deletes a Not Effective definition no token uses.
    Delete { code: String },
    /// Writes every definition as JSON.
    Export {
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
    },
}

#[derive(Debug, Subcommand)]
pub enum AccountCommand {
    Create {
        #[arg(long)]
        name: String,
    },
    Suspend {
        number: String,
    },
    Activate {
        number: String,
    },
    Terminate {
        number: String,
    },
    Show {
        number: String,
    },
    /// Links an existing Effective token to the account.
    AddToken {
        number: String,
        token: String,
    },
    /// Removes a token from the account.
    RemoveToken {
        number: String,
        token: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum ParticipantCommand {
    Create {
        #[arg(long)]
        name: String,
        #[arg(long)]
        account: String,
    },
    Terminate {
        number: String,
    },
    Show {
        number: String,
    },
    /// Links an existing Effective token to the participant.
    AddToken {
        number: String,
        token: String,
    },
    /// Removes a token from the participant.
    RemoveToken {
        number: String,
        token: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum TokenCommand {
    /// Creates a token under the Effective definition; prints it with generated secrets, once.
    Create {
        #[arg(long)]
        participant: Option<String>,
        #[arg(long)]
        account: Option<String>,
        #[arg(long)]
        identifier: Option<String>,
        #[arg(long = "auth-code")]
        auth_code: Option<String>,
        /// Read the pass code from standard input (one line).
        #[arg(long)]
        pass_code_stdin: bool,
    },
    Show {
        number: String,
    },
    /// Makes a token `effective` or `not_effective`, with a reason.
    SetState {
        number: String,
        state: String,
        #[arg(long)]
        reason: String,
    },
    Delete {
        number: String,
    },
    /// Sets a typed pass code (standard input) or generates one, printed once.
    ResetPassCode {
        number: String,
        #[arg(long)]
        pass_code_stdin: bool,
    },
    Unlock {
        number: String,
        #[arg(long)]
        reason: String,
    },
    /// Verifies a Pending Verification token; the code is read from standard input.
    Verify {
        number: String,
    },
    /// Issues a new verification code, printed once; the old one stops working.
    ReissueVerification {
        number: String,
    },
    /// The token's history from the audit log.
    History {
        number: String,
    },
}

#[derive(Debug, Args)]
#[group(required = true, multiple = false)]
pub struct AuthenticateArgs {
    #[arg(long = "auth-code")]
    auth_code: Option<String>,
    /// The pass code is read from standard input, never from the arguments.
    #[arg(long)]
    identifier: Option<String>,
}

#[derive(Debug, Args)]
pub struct DemoDataArgs {
    #[arg(long)]
    tokens: u64,
    #[arg(long, default_value_t = 0)]
    participants: u64,
}

/// Reads one line from standard input as a secret; a terminal gets a prompt on standard error.
fn read_secret(prompt: &str) -> Result<Secret, CliError> {
    use std::io::IsTerminal as _;
    if std::io::stdin().is_terminal() {
        eprint!("{prompt}: ");
    }
    let mut line = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut line)
        .map_err(|err| {
            CliError::new(
                exit::FILE_OR_DATABASE,
                format!("standard input could not be read: {err}"),
            )
        })?;
    let secret = Secret::new(line.trim_end_matches(['\r', '\n']));
    line.clear();
    if secret.expose().is_empty() {
        return Err(CliError::new(
            exit::USAGE,
            format!("no {} was given on standard input", prompt.to_lowercase()),
        ));
    }
    Ok(secret)
}

fn done(message: &str) -> CliResult {
    eprintln!("{message}");
    Ok(exit::SUCCESS)
}

pub fn definition(desk: &mut Desk, command: &DefinitionCommand) -> CliResult {
    match command {
        DefinitionCommand::List => print_json(&desk.definitions()?)?,
        DefinitionCommand::Show { code } => print_json(&desk.definition(code)?)?,
        DefinitionCommand::Add { file } => {
            let json = std::fs::read_to_string(file).map_err(|err| CliError::file(file, &err))?;
            print_json(&desk.import_definitions(&json)?)?;
        }
        DefinitionCommand::Activate { code } => {
            let definition = desk.activate_definition(code)?;
            return done(&format!("Definition {} is now Effective.", definition.code));
        }
        DefinitionCommand::Delete { code } => {
            desk.delete_definition(code)?;
            return done(&format!("Definition {} was deleted.", code.trim()));
        }
        DefinitionCommand::Export { out } => {
            let json = desk.export_definitions()?;
            match out {
                Some(path) => std::fs::write(path, format!("{json}\n"))
                    .map_err(|err| CliError::file(path, &err))?,
                None => super::write_stdout(&format!("{json}\n"))?,
            }
        }
    }
    Ok(exit::SUCCESS)
}

/// An owner with the numbers of its tokens.
#[derive(Serialize)]
struct OwnerView<T: Serialize> {
    #[serde(flatten)]
    owner: T,
    tokens: Vec<String>,
}

fn token_numbers(desk: &Desk, kind: OwnerKind, id: i64) -> Result<Vec<String>, DeskError> {
    Ok(desk
        .tokens_of(kind, id)?
        .into_iter()
        .map(|t| t.number)
        .collect())
}

pub fn account(desk: &mut Desk, command: &AccountCommand) -> CliResult {
    let state_change = |desk: &mut Desk, number: &str, state| -> CliResult {
        print_json(&desk.set_account_state(number, state)?)?;
        Ok(exit::SUCCESS)
    };
    match command {
        AccountCommand::Create { name } => print_json(&desk.create_account(name)?)?,
        AccountCommand::Suspend { number } => {
            return state_change(desk, number, AccountState::Suspended);
        }
        AccountCommand::Activate { number } => {
            return state_change(desk, number, AccountState::Active);
        }
        AccountCommand::Terminate { number } => {
            return state_change(desk, number, AccountState::Terminated);
        }
        AccountCommand::Show { number } => {
            let account = desk.account(number)?;
            let tokens = token_numbers(desk, OwnerKind::Account, account.id)?;
            print_json(&OwnerView {
                owner: account,
                tokens,
            })?;
        }
        AccountCommand::AddToken { number, token } => {
            print_json(&desk.add_token_to_owner(OwnerKind::Account, number, token)?)?;
        }
        AccountCommand::RemoveToken { number, token } => {
            print_json(&desk.remove_token_from_owner(OwnerKind::Account, number, token)?)?;
        }
    }
    Ok(exit::SUCCESS)
}

pub fn participant(desk: &mut Desk, command: &ParticipantCommand) -> CliResult {
    match command {
        ParticipantCommand::Create { name, account } => {
            print_json(&desk.create_participant(name, account)?)?;
        }
        ParticipantCommand::Terminate { number } => {
            print_json(&desk.terminate_participant(number)?)?;
        }
        ParticipantCommand::Show { number } => {
            let participant = desk.participant(number)?;
            let tokens = token_numbers(desk, OwnerKind::Participant, participant.id)?;
            print_json(&OwnerView {
                owner: participant,
                tokens,
            })?;
        }
        ParticipantCommand::AddToken { number, token } => {
            print_json(&desk.add_token_to_owner(OwnerKind::Participant, number, token)?)?;
        }
        ParticipantCommand::RemoveToken { number, token } => {
            print_json(&desk.remove_token_from_owner(OwnerKind::Participant, number, token)?)?;
        }
    }
    Ok(exit::SUCCESS)
}

/// A token with the secrets generated for it, shown by the command that generated them only.
#[derive(Serialize)]
struct TokenWithSecrets<'a> {
    #[serde(flatten)]
    token: &'a TokenRecord,
    #[serde(skip_serializing_if = "Option::is_none")]
    pass_code: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    verification_code: Option<&'a str>,
}

#[derive(Serialize)]
struct GeneratedSecret<'a> {
    number: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pass_code: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    verification_code: Option<&'a str>,
}

pub fn token(desk: &mut Desk, command: &TokenCommand) -> CliResult {
    match command {
        TokenCommand::Create {
            participant,
            account,
            identifier,
            auth_code,
            pass_code_stdin,
        } => {
            let pass_code = if *pass_code_stdin {
                Some(read_secret("Pass code")?)
            } else {
                None
            };
            let draft = TokenDraft {
                participant_number: participant.clone(),
                account_number: account.clone(),
                identifier: identifier.clone(),
                authentication_code: auth_code.clone(),
                pass_code,
                state: None,
            };
            let created = desk.create_token(&draft)?;
            print_json(&TokenWithSecrets {
                token: &created.token,
                pass_code: created.pass_code.as_ref().map(Secret::expose),
                verification_code: created.verification_code.as_ref().map(Secret::expose),
            })?;
        }
        TokenCommand::Show { number } => print_json(&desk.token(number)?)?,
        TokenCommand::SetState {
            number,
            state,
            reason,
        } => {
            let target = TokenState::parse(state)
                .filter(|s| *s != TokenState::PendingVerification)
                .ok_or_else(|| {
                    CliError::new(
                        exit::USAGE,
                        format!("state must be effective or not_effective, not {state:?}"),
                    )
                })?;
            print_json(&desk.set_token_state(number, target, reason)?)?;
        }
        TokenCommand::Delete { number } => {
            desk.delete_token(number)?;
            return done(&format!(
                "Token {} was deleted.",
                number.trim().to_uppercase()
            ));
        }
        TokenCommand::ResetPassCode {
            number,
            pass_code_stdin,
        } => {
            let typed = if *pass_code_stdin {
                Some(read_secret("Pass code")?)
            } else {
                None
            };
            match desk.reset_pass_code(number, typed)? {
                Some(generated) => print_json(&GeneratedSecret {
                    number,
                    pass_code: Some(generated.expose()),
                    verification_code: None,
                })?,
                None => return done("The pass code was changed."),
            }
        }
        TokenCommand::Unlock { number, reason } => print_json(&desk.unlock_token(number, reason)?)?,
        TokenCommand::Verify { number } => {
            let code = read_secret("Verification code")?;
            print_json(&desk.verify_token(number, &code)?)?;
        }
        TokenCommand::ReissueVerification { number } => {
            let code = desk.reissue_verification_code(number)?;
            print_json(&GeneratedSecret {
                number,
                pass_code: None,
                verification_code: Some(code.expose()),
            })?;
        }
        TokenCommand::History { number } => {
            let history = desk.token_history(number)?;
            if history.is_empty() {
                desk.token(number)?;
            }
            print_json(&history)?;
        }
    }
    Ok(exit::SUCCESS)
}

pub fn authenticate(desk: &mut Desk, args: &AuthenticateArgs) -> CliResult {
    let credentials = match (&args.auth_code, &args.identifier) {
        (Some(code), _) => Credentials::AuthenticationCode(code.clone()),
        (None, Some(identifier)) => Credentials::Identifier {
            identifier: identifier.clone(),
            pass_code: read_secret("Pass code")?,
        },
        (None, None) => {
            return Err(CliError::new(
                exit::USAGE,
                "give --auth-code or --identifier",
            ));
        }
    };
    print_json(&desk.authenticate(&credentials)?)?;
    Ok(exit::SUCCESS)
}

pub fn demo_data(desk: &mut Desk, args: &DemoDataArgs) -> CliResult {
    let summary = desk.fill_demo_data(args.tokens, args.participants)?;
    done(&format!(
        "Added {} accounts, {} participants and {} tokens of sample data.",
        summary.accounts, summary.participants, summary.tokens
    ))
}

/// The action of `tokendesk bulk`.
#[derive(Clone, Copy, Debug, clap::ValueEnum)]
pub enum BulkActionArg {
    Effective,
    NotEffective,
    Unlock,
    RemoveFromParticipant,
    RemoveFromAccount,
}

#[derive(Debug, Args)]
pub struct BulkArgs {
    action: BulkActionArg,
    #[arg(long)]
    reason: String,
    /// Show what would happen; change nothing.
    #[arg(long)]
    preview: bool,
}

/// `tokendesk bulk ACTION --reason TEXT [--preview] < list`: every line checked by the single
/// action's rules; prints the report as JSON; exit 1 when any line was refused.
pub fn bulk(desk: &mut Desk, args: &BulkArgs) -> CliResult {
    use crate::desk::bulk::BulkAction;
    use std::io::Read as _;
    let action = match args.action {
        BulkActionArg::Effective => BulkAction::SetState(TokenState::Effective),
        BulkActionArg::NotEffective => BulkAction::SetState(TokenState::NotEffective),
        BulkActionArg::Unlock => BulkAction::Unlock,
        BulkActionArg::RemoveFromParticipant => BulkAction::RemoveFromOwner(OwnerKind::Participant),
        BulkActionArg::RemoveFromAccount => BulkAction::RemoveFromOwner(OwnerKind::Account),
    };
    let mut list = String::new();
    std::io::stdin().read_to_string(&mut list).map_err(|err| {
        CliError::new(
            exit::FILE_OR_DATABASE,
            format!("standard input could not be read: {err}"),
        )
    })?;
    let report = if args.preview {
        desk.preview_bulk(action, &list, &args.reason)?
    } else {
        desk.apply_bulk(action, &list, &args.reason)?
    };
    print_json(&report)?;
    eprintln!(
        "{} {}, {} refused.",
        report.succeeded(),
        if report.is_applied {
            "changed"
        } else {
            "would change"
        },
        report.refused()
    );
    Ok(if report.refused() > 0 {
        exit::REFUSED
    } else {
        exit::SUCCESS
    })
}
