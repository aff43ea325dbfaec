//! The sub-commands behind `main.rs`, as a library so tests can call them too.

use crate::config::Settings;
use crate::core::wall_ms;
use crate::server;
use crate::store::Store;
use anyhow::Context;
use std::io::Write;
use std::path::PathBuf;

/// A parsed sub-command.
pub enum Command {
    /// Run the PBX until SIGINT/SIGTERM.
    Run(Box<Settings>),
    /// Print call records.
    Cdr {
        /// JSON lines instead of a table.
        json: bool,
        /// Only the last N.
        last: Option<i64>,
    },
    /// Print the registered locations.
    Locations,
    /// Create the demo data.
    SeedDemo,
    /// Add a SIP account to an extension.
    AddAccount {
        /// Extension number.
        extension: String,
        /// SIP username.
        username: String,
        /// SIP password.
        password: String,
    },
    /// Change SIP account settings.
    SetAccount {
        /// SIP username.
        username: String,
        /// `field=value` pairs.
        settings: Vec<String>,
    },
    /// Change user settings.
    SetUser {
        /// Username.
        username: String,
        /// `field=value` pairs.
        settings: Vec<String>,
    },
    /// Set the licence seats of a product for the default tenant.
    SetSeats {
        /// `cti_pro`, `cti_phone` or `call_center`.
        product: String,
        /// Number of seats.
        seats: i64,
    },
    /// Set a user's password, read from standard input.
    SetPassword {
        /// Username.
        username: String,
        /// Tenant domain.
        domain: String,
    },
    /// Change extension settings.
    SetExtension {
        /// Extension number.
        number: String,
        /// `field=value` pairs.
        settings: Vec<String>,
    },
    /// Create or change a ring group (`name=`, `enabled=`, `overflow=hangup|extension:<n>`).
    SetRingGroup {
        /// Group number.
        number: String,
        /// `field=value` pairs.
        settings: Vec<String>,
    },
    /// Put an extension in a tier of a ring group.
    SetRingGroupMember {
        /// Group number.
        group: String,
        /// Extension number.
        extension: String,
        /// Tier (1 rings first).
        tier: i64,
        /// Seconds the tier rings.
        ring_s: i64,
    },
    /// Replace the pickup groups of an extension.
    SetPickupGroups {
        /// Extension number.
        extension: String,
        /// Groups it is a member of.
        member: Vec<String>,
        /// Groups it may pick up calls from.
        picker: Vec<String>,
    },
    /// Change the code of a numbering-plan service (e.g. `park 888`).
    SetFeatureCode {
        /// Service name (see docs/pbx-core.md, feature codes).
        service: String,
        /// The new code.
        code: String,
    },
    /// Create or change a queue.
    SetQueue {
        /// Queue number.
        number: String,
        /// `field=value` pairs.
        settings: Vec<String>,
    },
    /// Make an extension a configured member of a queue (or change its penalty), or remove it.
    SetQueueMember {
        /// Queue number.
        queue: String,
        /// Extension number.
        extension: String,
        /// Lower rings first; `None` removes the member.
        penalty: Option<i64>,
    },
}

fn url(data_dir: &std::path::Path, database_url: &Option<String>) -> String {
    match database_url {
        Some(u) => u.clone(),
        None => format!(
            "sqlite://{}?mode=rwc",
            data_dir.join("centralino.db").display()
        ),
    }
}

/// Opens the store of a data dir (creating the dir) for a one-shot command.
async fn open(data_dir: &std::path::Path, database_url: &Option<String>) -> anyhow::Result<Store> {
    std::fs::create_dir_all(data_dir)?;
    Ok(Store::connect(&url(data_dir, database_url)).await?)
}

/// `field=value` arguments; an empty value means "back to the template" (`None`).
fn field_values(settings: &[String]) -> anyhow::Result<Vec<(&str, Option<&str>)>> {
    settings
        .iter()
        .map(|kv| {
            let (k, v) = kv
                .split_once('=')
                .with_context(|| format!("expected field=value, got {kv:?}"))?;
            Ok((k, (!v.is_empty()).then_some(v)))
        })
        .collect()
}

/// Runs a command.
pub async fn dispatch(
    data_dir: PathBuf,
    database_url: Option<String>,
    cmd: Command,
) -> anyhow::Result<()> {
    match cmd {
        Command::Run(mut s) => {
            s.data_dir = data_dir;
            s.database_url = database_url;
            run(*s).await
        }
        Command::Cdr { json, last } => {
            let store = open(&data_dir, &database_url).await?;
            let mut records = store.cdr_list(None).await?;
            if let Some(n) = last {
                let n = usize::try_from(n.max(0)).unwrap_or(0);
                let skip = records.len().saturating_sub(n);
                records.drain(..skip);
            }
            let mut out = std::io::stdout().lock();
            for r in records {
                if json {
                    writeln!(out, "{}", r.to_json())?;
                } else {
                    writeln!(
                        out,
                        "{}\t{}\t{}\t{}\t{}\t{}\t{}s",
                        r.unique_id,
                        r.status.as_deref().unwrap_or("(open)"),
                        r.caller,
                        r.called,
                        r.answered_by.as_deref().unwrap_or("-"),
                        r.start_ms,
                        r.duration_s.unwrap_or(0)
                    )?;
                }
            }
            Ok(())
        }
        Command::Locations => {
            let store = open(&data_dir, &database_url).await?;
            let mut out = std::io::stdout().lock();
            for l in store.load_locations(wall_ms()).await? {
                let v = serde_json::json!({
                    "account_id": l.account_id,
                    "contact": l.contact,
                    "source": format!("{}:{}", l.source_ip, l.source_port),
                    "transport": l.transport,
                    "expires_at_ms": l.expires_at_ms,
                    "user_agent": l.user_agent,
                });
                writeln!(out, "{v}")?;
            }
            Ok(())
        }
        Command::SeedDemo => {
            let store = open(&data_dir, &database_url).await?;
            store.seed_demo().await?;
            store.ensure_predefined_users().await?;
            Ok(())
        }
        Command::SetSeats { product, seats } => {
            let store = open(&data_dir, &database_url).await?;
            store
                .set_licence_seats(&product, seats)
                .await
                .with_context(|| format!("setting {product} seats"))?;
            Ok(())
        }
        Command::SetPassword { username, domain } => {
            let mut line = String::new();
            std::io::stdin()
                .read_line(&mut line)
                .context("reading the password from standard input")?;
            let password = line.trim_end_matches(['\r', '\n']);
            anyhow::ensure!(
                password.chars().count() >= 8,
                "the password must have at least 8 characters"
            );
            anyhow::ensure!(
                password != crate::store::DEFAULT_ADMIN_PASSWORD,
                "the password must differ from the factory one"
            );
            let store = open(&data_dir, &database_url).await?;
            store.ensure_predefined_users().await?;
            store
                .set_password_by_username(&domain, &username, password)
                .await
                .with_context(|| format!("setting the password of {username}@{domain}"))?;
            Ok(())
        }
        Command::AddAccount {
            extension,
            username,
            password,
        } => {
            let store = open(&data_dir, &database_url).await?;
            store
                .add_account_to_extension(&extension, &username, &password)
                .await
                .with_context(|| format!("adding account {username} to extension {extension}"))?;
            Ok(())
        }
        Command::SetAccount { username, settings } => {
            let store = open(&data_dir, &database_url).await?;
            for (k, v) in field_values(&settings)? {
                store
                    .set_account_field(&username, k, v)
                    .await
                    .with_context(|| format!("setting {k} on account {username}"))?;
            }
            Ok(())
        }
        Command::SetUser { username, settings } => {
            let store = open(&data_dir, &database_url).await?;
            for (k, v) in field_values(&settings)? {
                store
                    .set_user_field(&username, k, v.unwrap_or(""))
                    .await
                    .with_context(|| format!("setting {k} on user {username}"))?;
            }
            Ok(())
        }
        Command::SetExtension { number, settings } => {
            let store = open(&data_dir, &database_url).await?;
            for (k, v) in field_values(&settings)? {
                store
                    .set_extension_field(&number, k, v)
                    .await
                    .with_context(|| format!("setting {k} on extension {number}"))?;
            }
            Ok(())
        }
        Command::SetRingGroup { number, settings } => {
            let store = open(&data_dir, &database_url).await?;
            for (k, v) in field_values(&settings)? {
                store
                    .set_ring_group_field(&number, k, v.unwrap_or_default())
                    .await
                    .with_context(|| format!("setting {k} on ring group {number}"))?;
            }
            Ok(())
        }
        Command::SetRingGroupMember {
            group,
            extension,
            tier,
            ring_s,
        } => {
            let store = open(&data_dir, &database_url).await?;
            store
                .set_ring_group_member(&group, &extension, tier, ring_s)
                .await
                .with_context(|| format!("putting {extension} in ring group {group}"))?;
            Ok(())
        }
        Command::SetPickupGroups {
            extension,
            member,
            picker,
        } => {
            let store = open(&data_dir, &database_url).await?;
            store
                .set_pickup_groups(&extension, &member, &picker)
                .await
                .with_context(|| format!("setting the pickup groups of {extension}"))?;
            Ok(())
        }
        Command::SetFeatureCode { service, code } => {
            let store = open(&data_dir, &database_url).await?;
            store
                .set_feature_code(&service, &code)
                .await
                .with_context(|| format!("setting the code of {service}"))?;
            Ok(())
        }
        Command::SetQueue { number, settings } => {
            let store = open(&data_dir, &database_url).await?;
            for (k, v) in field_values(&settings)? {
                store
                    .set_queue_field(&number, k, v.unwrap_or_default())
                    .await
                    .with_context(|| format!("setting {k} on queue {number}"))?;
            }
            Ok(())
        }
        Command::SetQueueMember {
            queue,
            extension,
            penalty,
        } => {
            let store = open(&data_dir, &database_url).await?;
            match penalty {
                Some(p) => store.set_queue_member(&queue, &extension, p).await,
                None => store.remove_queue_member(&queue, &extension).await,
            }
            .with_context(|| format!("member {extension} of queue {queue}"))?;
            Ok(())
        }
    }
}

async fn run(settings: Settings) -> anyhow::Result<()> {
    let (tx, rx) = tokio::sync::watch::channel(false);
    let (bound, handle) = server::start(settings, rx).await?;
    // One machine-readable line on stdout: tests and scripts read the ports from it.
    println!(
        "READY sip={} http={} cti={} https={} cti_tls={}",
        bound.sip, bound.http, bound.cti, bound.https, bound.cti_tls
    );
    tracing::info!(sip = %bound.sip, http = %bound.http, "Centralino PBX running");
    let _ = std::io::stdout().flush();
    wait_for_signal().await;
    tracing::info!("shutting down");
    let _ = tx.send(true);
    let _ = handle.await;
    Ok(())
}

async fn wait_for_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}
