//! The `sokoul` binary: parse the subcommand, load settings, run.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use clap::{Parser, Subcommand};

use sokoul::config::Settings;
use sokoul::models::MediaRequest;
use sokoul::startup::{AppState, Application, Overrides, shutdown_signal};
use sokoul::{api, telemetry};

#[derive(Parser)]
#[command(
    name = "sokoul",
    version,
    about = "Sokoul streaming: resolve, proxy and play your films and series"
)]
struct Cli {
    /// TOML config file (also SOKOUL_CONFIG). Environment variables override it.
    #[arg(long, global = true, value_name = "FILE")]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Start the HTTP server: API, HLS proxy and the dashboard on one origin.
    Serve {
        /// Seconds to let requests in flight finish after SIGTERM/Ctrl-C.
        #[arg(long, default_value_t = 10)]
        drain_seconds: u64,
    },
    /// Resolve one title with every enabled provider and print the JSON answer.
    Resolve {
        /// `movie` or `tv`.
        media_type: String,
        /// The TMDB id.
        tmdb_id: String,
        /// Season number (tv).
        #[arg(long)]
        season: Option<String>,
        /// Episode number (tv).
        #[arg(long)]
        episode: Option<String>,
    },
    /// Scan the library folders (SOKOUL_LIBRARY) into the database and print the summary.
    /// Incremental: unchanged files are not probed again.
    Scan,
    /// Write a small demo library (synthetic videos made by ffmpeg, named by the convention)
    /// into DIR. Then: SOKOUL_LIBRARY=DIR sokoul serve
    DemoLibrary {
        /// Folder to create the demo library in.
        dir: PathBuf,
        /// Length of each video, seconds.
        #[arg(long, default_value_t = 30)]
        seconds: u32,
    },
    /// Check what the server needs here (ffmpeg, data dir, library, providers, Redis, secret,
    /// exposure) and explain what is wrong. Exit status 0 when every needed check passes.
    Doctor {
        /// Print `{"ok":…,"checks":[{"id","status","message","hint"}]}` instead of lines.
        #[arg(long)]
        json: bool,
    },
    /// Manage accounts: add, list, passwd, remove (the dashboard's first-run page creates the
    /// first admin too). Passwords are read from the terminal, or one line of stdin.
    User {
        #[command(subcommand)]
        command: UserCommand,
    },
    /// Print the environment variables this program reads.
    Env,
    /// Print the OpenAPI document of the HTTP API (what `GET /api/openapi.json` serves).
    Openapi,
}

#[derive(Subcommand)]
enum UserCommand {
    /// Create an account (a member unless --admin).
    Add {
        username: String,
        /// An admin: accounts, library scans, settings, API docs.
        #[arg(long)]
        admin: bool,
    },
    /// List the accounts and their roles.
    List,
    /// Set a new password; the account's sessions end.
    Passwd { username: String },
    /// Delete an account and its sessions.
    Remove { username: String },
}

impl From<UserCommand> for sokoul::accounts::cli::UserCommand {
    fn from(c: UserCommand) -> Self {
        use sokoul::accounts::cli::UserCommand as U;
        match c {
            UserCommand::Add { username, admin } => U::Add { username, admin },
            UserCommand::List => U::List,
            UserCommand::Passwd { username } => U::Passwd { username },
            UserCommand::Remove { username } => U::Remove { username },
        }
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let (settings, warnings) = match Settings::load(cli.config.as_deref()) {
        Ok(loaded) => loaded,
        Err(e) => {
            eprintln!("sokoul: configuration error: {e}");
            return ExitCode::from(2);
        }
    };
    telemetry::init(&settings.log, settings.log_format);
    for w in warnings {
        tracing::warn!("{w}");
    }
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("sokoul: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    if let Command::Doctor { json } = cli.command {
        return runtime.block_on(doctor(&settings, json));
    }
    match runtime.block_on(run(cli.command, settings)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("sokoul: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// Prints the doctor's report; the exit status says whether every needed check passed.
async fn doctor(settings: &Settings, json: bool) -> ExitCode {
    let env = sokoul::doctor::Environment::from_process();
    let report = sokoul::doctor::run(settings, &env).await;
    if json {
        match serde_json::to_string_pretty(&report) {
            Ok(text) => println!("{text}"),
            Err(e) => {
                eprintln!("sokoul: {e}");
                return ExitCode::FAILURE;
            }
        }
    } else {
        print!("{}", report.render_text(env.lang));
    }
    if report.ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

async fn run(command: Command, settings: Settings) -> anyhow::Result<()> {
    match command {
        Command::Serve { drain_seconds } => serve(settings, drain_seconds).await,
        Command::Resolve {
            media_type,
            tmdb_id,
            season,
            episode,
        } => {
            let request =
                MediaRequest::parse(&media_type, &tmdb_id, season.as_deref(), episode.as_deref())?;
            resolve_once(settings, request).await
        }
        Command::Scan => {
            let library = sokoul::library::Library::open(&settings)?;
            let summary = library.scan().await?;
            println!("{}", serde_json::to_string_pretty(&*summary)?);
            Ok(())
        }
        Command::DemoLibrary { dir, seconds } => demo_library(&settings, &dir, seconds).await,
        Command::Doctor { .. } => unreachable!("handled in main: it sets the exit status"),
        Command::User { command } => sokoul::accounts::cli::run(&settings, command.into()).await,
        Command::Env => {
            for (name, meaning) in sokoul::config::ENV_VARS {
                println!("{name:<36} {meaning}");
            }
            Ok(())
        }
        Command::Openapi => {
            println!("{}", api::openapi::openapi().to_pretty_json()?);
            Ok(())
        }
    }
}

async fn serve(settings: Settings, drain_seconds: u64) -> anyhow::Result<()> {
    // Every client connection holds a descriptor; the usual soft limit (1024) is far below the
    // hard one, and running out stops `accept` for everyone.
    match rlimit::increase_nofile_limit(u64::MAX) {
        Ok(limit) => tracing::info!(limit, "open-file limit"),
        Err(e) => tracing::warn!(error = %e, "cannot raise the open-file limit"),
    }
    let app = Application::build(settings, Overrides::default()).await?;
    tracing::info!(address = %app.local_addr(), "listening on http://{}", app.local_addr());
    app.run_until_stopped(shutdown_signal(), Duration::from_secs(drain_seconds))
        .await
        .context("serving HTTP")?;
    tracing::info!("stopped");
    Ok(())
}

/// `sokoul resolve`: one resolve, printed as the API would answer it (unsigned media URLs).
async fn resolve_once(settings: Settings, request: MediaRequest) -> anyhow::Result<()> {
    let state = AppState::build(settings, Overrides::default()).await?;
    let resolved = state
        .resolver
        .resolve(request, sokoul::cache::Scope::All)
        .await?;
    let response = api::present::present(
        &resolved.resolution,
        resolved.cached,
        api::present::Signing {
            proxy: &state.signer,
            security: None,
            binding: None,
        },
        state.clock.unix() + state.settings.proxy.url_ttl,
    );
    println!("{}", serde_json::to_string_pretty(&response)?);
    Ok(())
}

async fn demo_library(
    settings: &Settings,
    dir: &std::path::Path,
    seconds: u32,
) -> anyhow::Result<()> {
    let options = sokoul::library::demo::DemoOptions {
        seconds: seconds.clamp(2, 600),
        ..Default::default()
    };
    eprintln!("generating the demo library in {} …", dir.display());
    let created = sokoul::library::demo::generate(&settings.library.ffmpeg, dir, options).await?;
    for path in &created {
        println!("{}", path.display());
    }
    eprintln!(
        "{} files created. Play them with: SOKOUL_LIBRARY={} sokoul serve",
        created.len(),
        dir.display()
    );
    Ok(())
}
