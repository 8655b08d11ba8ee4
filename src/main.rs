//! The `gpd-gateway` command: `serve` runs the gateway, `replay` runs fixtures against one,
//! `import` loads positions in bulk, `deliveries` inspects the broadcast outbox, `aca` the
//! mirror to the central notices archive, `notices` renders payment notices, `keys`
//! manages API keys and `store copy` moves a data directory into PostgreSQL; they work on a
//! data directory.

use std::io::IsTerminal;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use clap::{Arg, Args, Parser, Subcommand};
use gpd_gateway::clock::Clock;
use gpd_gateway::config::{Config, DEFAULT_CONNECTIONS, PostgresUrl, StoreSection};
use gpd_gateway::context::Context;
use gpd_gateway::domain::FiscalCodePA;
use gpd_gateway::import;
use gpd_gateway::observe::log_writer;
use gpd_gateway::replay::ReplayOptions;
use gpd_gateway::store::copy;
use gpd_gateway::store::postgres::PgStore;
use gpd_gateway::store::sqlite::SqliteStore;
use gpd_gateway::store::{PageRequest, Store};

// Measured: see docs/decisions.md (allocator).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(
    name = "gpd-gateway",
    version,
    about = "Creditor-side gateway for pagoPA"
)]
struct Cli {
    /// How log lines are written to standard error: text, or one JSON object a line.
    #[arg(long, global = true, value_enum, default_value_t = LogFormat::Text)]
    log_format: LogFormat,
    #[command(subcommand)]
    command: Command,
}

#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum LogFormat {
    Text,
    Json,
}

/// Logs to standard error through a buffer a thread of its own drains, so that no request waits
/// on the terminal or a pipe: a line that finds the buffer full is dropped and counted
/// (docs/decisions.md). The guard flushes what is buffered when dropped, at exit.
fn init_logs(format: LogFormat) -> log_writer::Flush {
    let (writer, guard) = log_writer::batch_writer(std::io::stderr());
    let counted = writer.clone();
    gpd_gateway::observe::set_dropped_log_lines(move || counted.dropped());
    gpd_gateway::observe::access::set_sink(writer.clone(), format == LogFormat::Json);
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(writer);
    match format {
        LogFormat::Json => builder.json().init(),
        // Colour codes only for a person at a terminal, never into files or log collectors.
        LogFormat::Text => builder.with_ansi(std::io::stderr().is_terminal()).init(),
    }
    guard
}

/// `--data` and `--store`: where every command that opens the store finds it.
#[derive(Args)]
struct DataDir {
    /// Directory of the embedded store (created if missing).
    #[arg(long, default_value = "./data")]
    data: PathBuf,
    /// A PostgreSQL database instead (a postgres:// URL or a libpq connection string); it
    /// overrides [store] url. The password may come from PGPASSWORD.
    #[arg(long, value_name = "URL")]
    store: Option<String>,
}

impl DataDir {
    /// The store `--store`, else `[store] url`, else `--data` names, created if missing; and
    /// where it is, for the log (never a password).
    async fn open_at(&self, section: &StoreSection) -> Result<(Arc<dyn Store>, String), String> {
        // Read here rather than by clap, whose errors repeat the value (and its password).
        let given = self
            .store
            .as_deref()
            .map(|s| PostgresUrl::parse(s).map_err(|e| format!("--store: {e}")))
            .transpose()?;
        match given.as_ref().or(section.url.as_ref()) {
            Some(url) => {
                let config = url.connection(section.password_file.as_deref())?;
                let connections = section.max_connections.unwrap_or(DEFAULT_CONNECTIONS);
                let store = PgStore::open(config, connections)
                    .await
                    .map_err(|e| format!("store {url}: {e}"))?;
                Ok((Arc::new(store), url.to_string()))
            }
            None => {
                let store = SqliteStore::open(&self.data).map_err(|e| e.to_string())?;
                let path = store.path().display().to_string();
                Ok((Arc::new(store), path))
            }
        }
    }

    /// [`DataDir::open_at`], for commands that do not say where.
    async fn open(&self, section: &StoreSection) -> Result<Arc<dyn Store>, String> {
        Ok(self.open_at(section).await?.0)
    }

    /// The store of an existing data directory, or the database `--store` names.
    async fn open_existing(&self) -> Result<Arc<dyn Store>, String> {
        if self.store.is_none() && !self.data.join(SqliteStore::FILE_NAME).exists() {
            return Err(format!("no store in {}", self.data.display()));
        }
        self.open(&StoreSection::default()).await
    }
}

/// How `--data` reads for the commands that only open a store already there.
fn existing_store(data: Arg) -> Arg {
    data.help("Directory of the embedded store")
}

/// The creditor `--org` names.
fn org_arg(org: &str) -> Result<FiscalCodePA, String> {
    FiscalCodePA::parse(org).map_err(|e| format!("--org must {e}"))
}

/// The end of a command that used a store: the store closed, then the command's output printed
/// (or its error returned).
async fn close_then_print(
    store: Arc<dyn Store>,
    output: Result<String, String>,
) -> Result<ExitCode, String> {
    store.close().await.map_err(|e| e.to_string())?;
    print!("{}", output?);
    Ok(ExitCode::SUCCESS)
}

/// `--config`: the gateway's configuration file.
#[derive(Args)]
struct ConfigFile {
    /// Configuration file (TOML); without it, the built-in example configuration.
    #[arg(long)]
    config: Option<PathBuf>,
}

impl ConfigFile {
    /// The configuration the file gives, or the built-in example without one.
    fn load(&self) -> Result<Config, String> {
        match &self.config {
            Some(path) => Config::load(path).map_err(|e| e.to_string()),
            None => Ok(Config::example()),
        }
    }
}

#[derive(Subcommand)]
enum Command {
    /// Run the gateway: SOAP for the pagoPA Node on /partner, REST for creditors.
    Serve {
        /// Address to listen on.
        #[arg(long, default_value = "127.0.0.1:8080")]
        listen: SocketAddr,
        #[command(flatten)]
        data: DataDir,
        #[command(flatten)]
        config: ConfigFile,
        /// Seed example positions for the example creditors, and print an API key for them.
        #[arg(long)]
        demo: bool,
    },
    /// Replay fixtures (request, expected response, positions) against a running gateway.
    Replay(ReplayOptions),
    /// Import debt positions in bulk from JSON lines or CSV (README, "Bulk import").
    #[command(mut_arg("config", |a| a.help(
        "Configuration file (TOML) naming the creditors; without it, the built-in example"
    )))]
    Import {
        /// The file: .jsonl / .ndjson (one position per line) or .csv; `-` for standard input.
        file: PathBuf,
        /// Fiscal code of the creditor the positions belong to.
        #[arg(long)]
        org: String,
        /// jsonl or csv, instead of what the file's extension says.
        #[arg(long)]
        format: Option<import::Format>,
        #[command(flatten)]
        data: DataDir,
        #[command(flatten)]
        config: ConfigFile,
        /// Import the positions published (VALID) rather than as drafts.
        #[arg(long)]
        publish: bool,
        /// Positions committed per transaction.
        #[arg(long, default_value_t = 1000, value_parser = clap::value_parser!(u32).range(1..=100_000))]
        batch_size: u32,
        /// Write the rejected positions to this CSV file (line,iupd,reason) instead of listing them.
        #[arg(long)]
        rejects: Option<PathBuf>,
    },
    /// Inspect and re-queue receipt deliveries to broadcast stations.
    Deliveries {
        #[command(subcommand)]
        action: DeliveriesAction,
    },
    /// The mirror of positions to the central notices archive (ACA).
    Aca {
        #[command(subcommand)]
        action: AcaAction,
    },
    /// Create, list and revoke the API keys of the REST API.
    Keys {
        #[command(subcommand)]
        action: KeysAction,
    },
    /// Recover receipts the Node never delivered from the platform's receipts service.
    Receipts {
        #[command(subcommand)]
        action: ReceiptsAction,
    },
    /// Reporting flows: fetch a creditor's new flows now, or take one from a file.
    Fdr {
        #[command(subcommand)]
        action: FdrAction,
    },
    /// Payment notices: one position's notice as a PDF.
    Notices {
        #[command(subcommand)]
        action: NoticesAction,
    },
    /// Copy the embedded store into PostgreSQL.
    Store {
        #[command(subcommand)]
        action: StoreAction,
    },
}

#[derive(Subcommand)]
enum NoticesAction {
    /// Render the payment notice of a debt position, or of one of its options, as a PDF; a
    /// position that cannot be paid is refused with the reason and exit status 1.
    Render {
        /// The creditor's fiscal code (a creditor of the configuration with [creditor.notice]).
        #[arg(long)]
        org: String,
        /// The position's IUPD.
        #[arg(long)]
        iupd: String,
        /// Only this payment option (its notice number).
        #[arg(long)]
        nav: Option<String>,
        /// Write the PDF to this file; without it, to standard output.
        #[arg(short, long, value_name = "FILE")]
        output: Option<PathBuf>,
        #[command(flatten)]
        data: DataDir,
        #[command(flatten)]
        config: ConfigFile,
    },
    /// Make the notices of many positions in one job and write them as a zip, with a progress
    /// bar; the job is in the store, as one started over REST.
    Batch(NoticeBatch),
}

#[derive(Subcommand)]
enum StoreAction {
    /// Copy a data directory's SQLite store into an empty PostgreSQL database.
    #[command(
        long_about = "Copy a data directory's SQLite store into an empty PostgreSQL \
        database: every row of every table as it is (positions, receipts with their raw XML, \
        deliveries and their requests, broadcast stations, API key hashes, IUV sequences, \
        uploads), ids included, in one transaction. Stop the gateway first: the data file is \
        only read, and what is written to it during the copy is not copied. A database with \
        data in any table is refused. Before committing, each table is read back and its row \
        count and SHA-256 over its rows compared with the data file's; on any difference \
        nothing is written and the exit status is 1."
    )]
    Copy {
        /// The data directory whose store is copied (its gateway stopped).
        #[arg(long, value_name = "DIR")]
        from: PathBuf,
        /// The PostgreSQL database: a postgres:// URL or a libpq connection string. The password
        /// may come from --password-file or PGPASSWORD instead.
        #[arg(long, value_name = "URL")]
        to: String,
        /// A file holding the database password (its first line), as [store] password_file.
        #[arg(long, value_name = "FILE")]
        password_file: Option<PathBuf>,
    },
}

#[derive(Subcommand)]
enum ReceiptsAction {
    /// Fetch one receipt from the platform's receipts service (by IUR, or IUR and IUV), store
    /// it as recovered, apply it and queue its deliveries for the running gateway's worker.
    Recover {
        /// The creditor's fiscal code; its [creditor.bizevents] access is used.
        #[arg(long)]
        org: String,
        /// The receipt's id (IUR).
        #[arg(long)]
        iur: String,
        /// The notice's IUV, when known.
        #[arg(long)]
        iuv: Option<String>,
        #[command(flatten)]
        data: DataDir,
        #[command(flatten)]
        config: ConfigFile,
    },
}

#[derive(Subcommand)]
enum FdrAction {
    /// Fetch the creditor's newly published flows from its [creditor.fdr] service and
    /// reconcile each; prints what was done as JSON.
    Fetch {
        /// The creditor's fiscal code.
        #[arg(long)]
        org: String,
        #[command(flatten)]
        data: DataDir,
        #[command(flatten)]
        config: ConfigFile,
    },
    /// Take a flow from a file (the service's SingleFlowResponse with a `payments` array of
    /// its Payment objects) and reconcile it as a fetched one; prints the outcome as JSON.
    Import {
        /// The JSON file.
        file: PathBuf,
        /// The creditor the flow was published to.
        #[arg(long)]
        org: String,
        #[command(flatten)]
        data: DataDir,
        #[command(flatten)]
        config: ConfigFile,
    },
}

#[derive(Subcommand)]
enum KeysAction {
    /// Create a key and print its secret: the only time it is shown.
    #[command(mut_arg("config", |a| a.value_name("FILE").help(
        "The gateway's configuration (TOML): when given, each --org must be one of its \
         creditors (and each segregation code one of theirs)"
    )))]
    Create {
        #[command(flatten)]
        data: DataDir,
        /// An organization (fiscal code) the key may act for; repeat for several.
        #[arg(long = "org", value_name = "FISCAL_CODE")]
        orgs: Vec<String>,
        /// The key acts for every organization, including those configured later.
        #[arg(long)]
        all_organizations: bool,
        /// Only the notices of these segregation codes of the --org creditors (the first two
        /// digits of their IUVs), such as 01,02: others are refused with 403 and left out of lists.
        #[arg(long, value_name = "CODES")]
        segregation_codes: Option<String>,
        #[command(flatten)]
        config: ConfigFile,
        /// A note shown by `keys list` (up to 70 characters).
        #[arg(long)]
        label: Option<String>,
    },
    /// List the keys (id, dates, organizations, label), never their secrets.
    #[command(mut_arg("data", existing_store))]
    List {
        #[command(flatten)]
        data: DataDir,
    },
    /// Revoke a key: it is refused from its next request on.
    #[command(mut_arg("data", existing_store))]
    Revoke {
        /// The key's id, as listed.
        id: String,
        #[command(flatten)]
        data: DataDir,
    },
}

#[derive(Subcommand)]
enum DeliveriesAction {
    /// List deliveries, newest first.
    #[command(mut_arg("data", existing_store))]
    List {
        #[command(flatten)]
        data: DataDir,
        /// Only deliveries to this creditor's stations.
        #[arg(long)]
        org: Option<String>,
        /// Only deliveries in this state: PENDING, DELIVERED, REJECTED, UNDELIVERABLE, FAILED.
        #[arg(long)]
        state: Option<String>,
        /// Page to show, from 0.
        #[arg(long, default_value_t = 0)]
        page: u32,
        /// Deliveries per page (1..=100).
        #[arg(long, default_value_t = 50, value_parser = clap::value_parser!(u32).range(1..=100))]
        limit: u32,
    },
    /// Make a delivery PENDING again, due now, with a fresh attempt count.
    #[command(mut_arg("data", existing_store))]
    Redeliver {
        /// The delivery's id, as listed.
        id: i64,
        #[command(flatten)]
        data: DataDir,
    },
}

/// `--org` and the page of a listing of mirrors.
#[derive(Args)]
struct AcaListing {
    #[command(flatten)]
    data: DataDir,
    /// Only this creditor's positions.
    #[arg(long)]
    org: Option<String>,
    /// Page to show, from 0.
    #[arg(long, default_value_t = 0)]
    page: u32,
    /// Positions per page (1..=100).
    #[arg(long, default_value_t = 50, value_parser = clap::value_parser!(u32).range(1..=100))]
    limit: u32,
}

#[derive(Subcommand)]
enum AcaAction {
    /// List positions' mirrors, latest change first.
    #[command(mut_arg("data", existing_store))]
    List {
        #[command(flatten)]
        listing: AcaListing,
        /// Only mirrors in this state: PENDING, FAILED or DONE.
        #[arg(long)]
        state: Option<String>,
    },
    /// List the mirrors not yet in the archive (due, or waiting for their next attempt).
    #[command(mut_arg("data", existing_store))]
    Pending {
        #[command(flatten)]
        listing: AcaListing,
    },
    /// List the mirrors given up, with why.
    #[command(mut_arg("data", existing_store))]
    Failed {
        #[command(flatten)]
        listing: AcaListing,
    },
    /// Make a FAILED mirror due again, with a fresh attempt count.
    #[command(mut_arg("data", existing_store))]
    Retry {
        /// The position's IUPD.
        iupd: String,
        #[arg(long)]
        org: String,
        #[command(flatten)]
        data: DataDir,
    },
    /// Compare the archive with the store and mend what differs (create, update, delete).
    Sync {
        #[arg(long)]
        org: String,
        /// Only count what would be done; nothing is sent or written.
        #[arg(long)]
        dry_run: bool,
        #[command(flatten)]
        data: DataDir,
        #[command(flatten)]
        config: ConfigFile,
    },
}

/// `notices batch`: which positions, and where the zip goes.
#[derive(Args)]
struct NoticeBatch {
    /// Fiscal code of the creditor.
    #[arg(long)]
    org: String,
    /// A position, by IUPD (repeat for more).
    #[arg(long = "iupd", value_name = "IUPD")]
    iupds: Vec<String>,
    /// A file of IUPDs, one a line (blank lines skipped).
    #[arg(long, value_name = "FILE", conflicts_with = "iupds")]
    iupds_file: Option<PathBuf>,
    /// The positions list's filter instead: status in force (VALID, PUBLISHED, …).
    #[arg(long, conflicts_with_all = ["iupds", "iupds_file"])]
    status: Option<String>,
    /// Due from this date (2026-01-01) or date-time; the window spans at most 30 days.
    #[arg(long, conflicts_with_all = ["iupds", "iupds_file"])]
    due_from: Option<String>,
    #[arg(long, conflicts_with_all = ["iupds", "iupds_file"])]
    due_to: Option<String>,
    /// Paid from this date or date-time (PAID positions).
    #[arg(long, conflicts_with_all = ["iupds", "iupds_file"])]
    paid_from: Option<String>,
    #[arg(long, conflicts_with_all = ["iupds", "iupds_file"])]
    paid_to: Option<String>,
    /// Only positions whose every option has one of these segregation codes (01,02).
    #[arg(long, conflicts_with_all = ["iupds", "iupds_file"])]
    segregation_codes: Option<String>,
    /// The zip to write.
    #[arg(short = 'o', long = "output", value_name = "ZIP")]
    output: PathBuf,
    /// The same key makes no second job: the first one's zip is written again.
    #[arg(long)]
    idempotency_key: Option<String>,
    /// Wait for a running gateway's worker instead of making the notices here.
    #[arg(long)]
    wait: bool,
    #[command(flatten)]
    data: DataDir,
    #[command(flatten)]
    config: ConfigFile,
}

async fn notices_batch(batch: NoticeBatch) -> Result<ExitCode, String> {
    use gpd_gateway::notice_jobs::{Selection, cli};
    let config = batch.config.load()?;
    let organization = org_arg(&batch.org)?;
    if !config.creditors.contains_key(&organization) {
        return Err(format!(
            "creditor {organization} is not in the configuration"
        ));
    }
    let mut iupds = batch.iupds;
    if let Some(file) = &batch.iupds_file {
        let text = std::fs::read_to_string(file).map_err(|e| format!("{}: {e}", file.display()))?;
        iupds.extend(
            text.lines()
                .map(str::trim)
                .filter(|l| !l.is_empty())
                .map(str::to_owned),
        );
    }
    let filters = [
        ("status", batch.status),
        ("due_date_from", batch.due_from),
        ("due_date_to", batch.due_to),
        ("payment_date_from", batch.paid_from),
        ("payment_date_to", batch.paid_to),
        ("segregationCodes", batch.segregation_codes),
    ];
    let pairs: Vec<(String, String)> = filters
        .into_iter()
        .filter_map(|(k, v)| Some((k.to_owned(), v?)))
        .collect();
    let selection = match (iupds.is_empty(), pairs.is_empty()) {
        (false, _) => Selection::Iupds(
            iupds
                .iter()
                .map(|i| {
                    gpd_gateway::domain::position::Iupd::parse(i)
                        .map_err(|m| format!("IUPD '{i}': {m}"))
                })
                .collect::<Result<_, _>>()?,
        ),
        (true, false) => Selection::Filter(gpd_gateway::api::notice_jobs::filter_of(pairs)?),
        (true, true) => {
            return Err("name the positions: --iupd, --iupds-file or a filter (--status…)".into());
        }
    };
    let store = batch.data.open(&config.store).await?;
    let ctx = Arc::new(Context::new(config, store.clone(), Clock::system()));
    let request = cli::Batch {
        organization,
        selection,
        idempotency_key: batch.idempotency_key,
        wait: batch.wait,
    };
    let result = cli::batch(
        ctx,
        gpd_gateway::notice_jobs::renderer(),
        request,
        &batch.output,
    )
    .await;
    close_then_print(store, result).await
}

async fn aca(action: AcaAction) -> Result<ExitCode, String> {
    use gpd_gateway::aca::{cli, mirror::Mirror, sync};
    let (store, output) = match action {
        AcaAction::List { listing, state } => aca_list(listing, state.as_deref()).await?,
        AcaAction::Pending { listing } => aca_list(listing, Some("PENDING")).await?,
        AcaAction::Failed { listing } => aca_list(listing, Some("FAILED")).await?,
        AcaAction::Retry { iupd, org: o, data } => {
            let o = org_arg(&o)?;
            let store = data.open_existing().await?;
            let out = cli::retry(store.as_ref(), o, iupd).await;
            (store, out)
        }
        AcaAction::Sync {
            org: o,
            dry_run,
            data,
            config,
        } => {
            let o = org_arg(&o)?;
            let config = config.load()?;
            let store = data.open(&config.store).await?;
            let clock = Clock::system();
            let mirror = Mirror::new(&config, store.clone(), clock);
            let mut progress = copy::Progress::new(std::io::stderr().is_terminal());
            let done = match mirror.prepare().await {
                Ok(()) => {
                    sync::sync(&mirror, store.as_ref(), clock, &o, dry_run, &mut progress).await
                }
                Err(e) => Err(e.to_string()),
            };
            (store, done.map(|s| format!("{s}\n")))
        }
    };
    close_then_print(store, output).await
}

/// The store and the page of mirrors `aca list` (`pending`, `failed`) shows, in `state`.
async fn aca_list(
    listing: AcaListing,
    state: Option<&str>,
) -> Result<(Arc<dyn Store>, Result<String, String>), String> {
    use gpd_gateway::aca::cli;
    let org = listing.org.as_deref().map(org_arg).transpose()?;
    let state = cli::mirror_state(state)?;
    let page = PageRequest {
        page: listing.page,
        limit: listing.limit,
    };
    let store = listing.data.open_existing().await?;
    let out = cli::list(store.as_ref(), org, state, page).await;
    Ok((store, out))
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let guard = init_logs(cli.log_format);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    let result = match cli.command {
        Command::Serve {
            listen,
            data,
            config,
            demo,
        } => runtime.block_on(serve(listen, data, config, demo)),
        Command::Replay(options) => runtime.block_on(replay(options)),
        Command::Import {
            file,
            org,
            format,
            data,
            config,
            publish,
            batch_size,
            rejects,
        } => runtime.block_on(import(
            import::Options {
                file,
                format,
                org,
                config: config.config,
                publish,
                batch_size: batch_size as usize,
                rejects,
            },
            data,
        )),
        Command::Deliveries { action } => runtime.block_on(deliveries(action)),
        Command::Aca { action } => runtime.block_on(aca(action)),
        Command::Keys { action } => runtime.block_on(keys(action)),
        Command::Receipts { action } => runtime.block_on(receipts(action)),
        Command::Fdr { action } => runtime.block_on(fdr(action)),
        Command::Store { action } => runtime.block_on(store(action)),
        Command::Notices { action } => runtime.block_on(notices(action)),
    };
    drop(runtime);
    // Every line logged so far written out before the process ends.
    drop(guard);
    match result {
        Ok(code) => code,
        Err(message) => {
            eprintln!("gpd-gateway: {message}");
            ExitCode::FAILURE
        }
    }
}

async fn serve(
    listen: SocketAddr,
    data: DataDir,
    config: ConfigFile,
    demo: bool,
) -> Result<ExitCode, String> {
    let config = config.load()?;
    // The TLS files are read before anything else is opened: a bad one stops the start at once.
    let tls = match &config.tls {
        Some(files) => Some(Arc::new(gpd_gateway::http::tls::Tls::load(files)?)),
        None => None,
    };
    match gpd_gateway::http::limits::raise_open_files_limit() {
        Some((soft, hard)) => tracing::info!(soft, hard, "open-files limit"),
        None => tracing::warn!("the open-files limit could not be read"),
    }
    let (store, location) = data.open_at(&config.store).await?;
    tracing::info!(store = %location, "store opened");
    let ctx = Arc::new(Context::new(config, store.clone(), Clock::system()));
    ctx.broadcaster.seed_stations().await?;
    // Before any position is written: the store records the changes of these creditors.
    let aca = gpd_gateway::aca::mirror::Mirror::new(&ctx.config, ctx.store.clone(), ctx.clock);
    aca.prepare().await.map_err(|e| e.to_string())?;
    let filled = gpd_gateway::primitives::send_rt::fill_in_digests(ctx.store.as_ref())
        .await
        .map_err(|e| e.to_string())?;
    if filled > 0 {
        tracing::info!(
            receipts = filled,
            "content digests given to receipts stored before them"
        );
    }
    if demo {
        for line in gpd_gateway::demo::seed(&ctx).await? {
            tracing::info!("demo position {line}");
        }
        let (key, secret) = gpd_gateway::demo::api_key(&ctx).await?;
        tracing::info!(key = %key.id, "demo API key for {}", key.scope);
        // Printed, not logged: no log line ever carries a secret.
        eprintln!("demo API key: {}", secret.reveal());
    }
    // Installed before the port opens: SIGHUP's default action would end the process.
    #[cfg(unix)]
    if let Some(tls) = &tls {
        let hangup = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup())
            .map_err(|e| format!("no SIGHUP handler: {e}"))?;
        tokio::spawn(reload_on_hangup(hangup, tls.clone()));
    }
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .map_err(|e| format!("cannot listen on {listen}: {e}"))?;
    let scheme = if tls.is_some() { "https" } else { "http" };
    tracing::info!(address = %listen, scheme, "gpd-gateway listening");

    let worker = ctx.broadcaster.spawn_worker();
    let uploads = gpd_gateway::import::upload::spawn_worker(ctx.clone());
    let aca = aca.spawn();
    let sweeper = gpd_gateway::sweeper::spawn(
        ctx.store.clone(),
        ctx.clock,
        ctx.config.lifecycle.sweep_interval,
        ctx.config.retention.receipts,
        ctx.config.journal.retention_months,
    );
    let reporting = gpd_gateway::reporting::spawn(ctx.clone());
    let notice_jobs = gpd_gateway::notice_jobs::spawn(ctx.clone());
    let journal = ctx.journal.clone();
    gpd_gateway::http::serve_with(listener, ctx, tls, shutdown_signal())
        .await
        .map_err(|e| e.to_string())?;
    sweeper.stop().await;
    reporting.stop().await;
    if let Some(aca) = aca {
        aca.stop().await;
    }
    uploads.stop().await;
    notice_jobs.stop().await;
    worker.stop().await;
    // What the server and the workers journaled last is written before the store closes.
    journal.flush().await;
    store.close().await.map_err(|e| e.to_string())?;
    tracing::info!("store closed, bye");
    Ok(ExitCode::SUCCESS)
}

/// Completes on SIGINT or SIGTERM.
async fn shutdown_signal() {
    let interrupt = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            .expect("SIGTERM handler");
        tokio::select! {
            _ = interrupt => {},
            _ = term.recv() => {},
        }
    }
    #[cfg(not(unix))]
    let _ = interrupt.await;
}

/// On each SIGHUP, reads the TLS files again; new connections get them, open ones keep theirs.
#[cfg(unix)]
async fn reload_on_hangup(
    mut hangup: tokio::signal::unix::Signal,
    tls: Arc<gpd_gateway::http::tls::Tls>,
) {
    while hangup.recv().await.is_some() {
        match tls.reload() {
            Ok(()) => tracing::info!("TLS certificate, key and client CAs reloaded"),
            Err(e) => {
                tracing::error!(error = %e, "TLS reload failed; the previous files stay in use")
            }
        }
    }
}

async fn deliveries(action: DeliveriesAction) -> Result<ExitCode, String> {
    use gpd_gateway::broadcast::cli;
    let (store, output) = match action {
        DeliveriesAction::List {
            data,
            org,
            state,
            page,
            limit,
        } => {
            let org = org.as_deref().map(org_arg).transpose()?;
            let state = gpd_gateway::api::broadcast::delivery_state(state.as_deref())?;
            let store = data.open_existing().await?;
            let out = cli::list(store.as_ref(), org, state, PageRequest { page, limit }).await;
            (store, out)
        }
        DeliveriesAction::Redeliver { id, data } => {
            let store = data.open_existing().await?;
            let out = cli::redeliver(store.as_ref(), id, Clock::system().now()).await;
            (store, out)
        }
    };
    close_then_print(store, output).await
}

async fn fdr(action: FdrAction) -> Result<ExitCode, String> {
    use gpd_gateway::reporting;
    let clock = Clock::system();
    let (org, data, config) = match &action {
        FdrAction::Fetch { org, data, config }
        | FdrAction::Import {
            org, data, config, ..
        } => (org, data, config.load()?),
    };
    let org = org_arg(org)?;
    let creditor = config
        .creditors
        .get(&org)
        .ok_or_else(|| format!("--org {org} is not a creditor of the configuration"))?;
    let store = data.open(&config.store).await?;
    let output = match &action {
        FdrAction::Fetch { .. } => reporting::fetch(store.as_ref(), clock, &config.fdr, creditor)
            .await
            .map(|report| serde_json::to_string(&report).expect("serializable"))
            .map_err(|e| e.to_string()),
        FdrAction::Import { file, .. } => match std::fs::read(file) {
            Ok(bytes) => reporting::import(store.as_ref(), clock, org.clone(), &bytes)
                .await
                .map(|r| gpd_gateway::api::reporting::recorded_json(&r).to_string()),
            Err(e) => Err(format!("{}: {e}", file.display())),
        },
    };
    close_then_print(store, output.map(|o| format!("{o}\n"))).await
}

async fn keys(action: KeysAction) -> Result<ExitCode, String> {
    use gpd_gateway::keys::cli;
    let now = Clock::system().now();
    let (store, output) = match action {
        KeysAction::Create {
            data,
            orgs,
            all_organizations,
            segregation_codes,
            config,
            label,
        } => {
            let scope = cli::scope(&orgs, all_organizations)?;
            let segregation = cli::segregation(segregation_codes.as_deref(), &scope)?;
            if config.config.is_some() {
                let config = config.load()?;
                cli::served(&scope, &config)?;
                cli::codes_served(&scope, &segregation, &config)?;
            }
            let label = cli::label(label)?;
            let section = match &config.config {
                Some(_) => config.load()?.store,
                None => StoreSection::default(),
            };
            let store = data.open(&section).await?;
            let out = cli::create(store.as_ref(), scope, segregation, label, now)
                .await
                .map(|c| {
                    eprintln!("{}", c.note);
                    format!("{}\n", c.secret)
                });
            (store, out)
        }
        KeysAction::List { data } => {
            let store = data.open_existing().await?;
            let out = cli::list(store.as_ref()).await;
            (store, out)
        }
        KeysAction::Revoke { id, data } => {
            let store = data.open_existing().await?;
            let out = cli::revoke(store.as_ref(), &id, now)
                .await
                .map(|l| l + "\n");
            (store, out)
        }
    };
    close_then_print(store, output).await
}

/// `receipts recover`: one line on what was done; exit status 1 when nothing could be.
async fn receipts(action: ReceiptsAction) -> Result<ExitCode, String> {
    use gpd_gateway::primitives::recover::{Missing, recover};
    let ReceiptsAction::Recover {
        org,
        iur,
        iuv,
        data,
        config,
    } = action;
    let organization = org_arg(&org)?;
    let config = config.load()?;
    if config.creditor(organization.as_str()).is_none() {
        return Err(format!(
            "--org {org} is not a creditor of the configuration"
        ));
    }
    let store = data.open(&config.store).await?;
    let ctx = gpd_gateway::context::Context::new(config, store.clone(), Clock::system());
    let missing = Missing {
        organization,
        iur,
        iuv,
    };
    let outcome = recover(&ctx, &missing, false).await;
    store.close().await.map_err(|e| e.to_string())?;
    let r = outcome.map_err(|e| format!("receipt {}: {e}", missing.iur))?;
    println!(
        "{} receipt {} notice {} IUV {} status {}",
        r.outcome.label(),
        r.receipt_id,
        r.notice_number,
        r.iuv,
        r.outcome.status().as_str()
    );
    Ok(ExitCode::SUCCESS)
}

/// `notices render`: the PDF to the file or standard output; the reason on standard error and
/// exit status 1 when no notice is made.
async fn notices(action: NoticesAction) -> Result<ExitCode, String> {
    use gpd_gateway::domain::NoticeNumber;
    use gpd_gateway::domain::api_key::SegregationScope;
    use gpd_gateway::domain::position::Iupd;
    let (org, iupd, nav, output, data, config) = match action {
        NoticesAction::Render {
            org,
            iupd,
            nav,
            output,
            data,
            config,
        } => (org, iupd, nav, output, data, config),
        NoticesAction::Batch(batch) => return notices_batch(batch).await,
    };
    let organization = org_arg(&org)?;
    let iupd = Iupd::parse(&iupd).map_err(|e| format!("--iupd {e}"))?;
    let nav = nav
        .map(|n| NoticeNumber::parse(&n).map_err(|e| format!("--nav must {e}")))
        .transpose()?;
    let config = config.load()?;
    if !config.creditors.contains_key(&organization) {
        return Err(format!(
            "--org {org} is not a creditor of the configuration"
        ));
    }
    let store = match config.store.url {
        Some(_) => data.open(&config.store).await?,
        None => data.open_existing().await?,
    };
    let ctx = Context::new(config, store.clone(), Clock::system());
    let creditor = &ctx.config.creditors[&organization];
    let made = gpd_gateway::notice::position_notice(
        &ctx,
        creditor,
        &SegregationScope::All,
        &iupd,
        nav.as_ref(),
    )
    .await;
    store.close().await.map_err(|e| e.to_string())?;
    let made = made.map_err(|e| format!("no notice: {e}"))?;
    match output {
        Some(path) => {
            std::fs::write(&path, &made.bytes).map_err(|e| format!("{}: {e}", path.display()))?;
            eprintln!(
                "{} ({} bytes) written to {}",
                made.file_name,
                made.bytes.len(),
                path.display()
            );
        }
        None => {
            use std::io::Write;
            let mut out = std::io::stdout().lock();
            out.write_all(&made.bytes)
                .and_then(|()| out.flush())
                .map_err(|e| format!("standard output: {e}"))?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

async fn store(action: StoreAction) -> Result<ExitCode, String> {
    let StoreAction::Copy {
        from,
        to,
        password_file,
    } = action;
    // Read here rather than by clap, whose errors repeat the value (and its password).
    let url = PostgresUrl::parse(&to).map_err(|e| format!("--to: {e}"))?;
    let config = url.connection(password_file.as_deref())?;
    eprintln!("copying the store of {} into {url}", from.display());
    let mut progress = copy::Progress::new(std::io::stderr().is_terminal());
    let report = copy::run(&from, config, &mut progress).await?;
    print!("{}", report.render());
    if report.committed {
        Ok(ExitCode::SUCCESS)
    } else {
        Err(format!(
            "the copy of {} differs from the data file: nothing was written",
            report.mismatched().join(", ")
        ))
    }
}

async fn import(opts: import::Options, data: DataDir) -> Result<ExitCode, String> {
    let open: import::OpenStore =
        Box::new(move |section| Box::pin(async move { data.open(&section).await }));
    let summary = import::run(&opts, open).await?;
    import::report::write_summary(&mut std::io::stderr().lock(), &summary)
        .map_err(|e| e.to_string())?;
    Ok(ExitCode::from(summary.exit_code()))
}

async fn replay(opts: ReplayOptions) -> Result<ExitCode, String> {
    let summary = gpd_gateway::replay::run(&opts, &mut std::io::stdout())
        .await
        .map_err(|e| e.to_string())?;
    Ok(if summary.failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}
