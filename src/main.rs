//! Token Desk's binary: the window, or a headless command (see `tokendesk --help`).

fn main() -> std::process::ExitCode {
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("warn")).init();
    tokendesk::cli::main_entry()
}
