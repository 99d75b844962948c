//! `standbyctl notifications`: the notification center, newest first.

use clap::Args;
use standby_core::catalog::Catalog;
use standby_core::notifications::NotificationFilter;
use standby_core::paths::DataPaths;

#[derive(Args)]
pub struct NotificationsArgs {
    /// Only those not read yet.
    #[arg(long)]
    unread: bool,
    /// Only those whose title or message contains this.
    #[arg(long)]
    search: Option<String>,
    /// How many (newest first).
    #[arg(long, default_value_t = 50)]
    limit: u32,
    /// Mark the listed ones as read.
    #[arg(long)]
    mark_read: bool,
    #[arg(long)]
    json: bool,
}

pub fn run(args: NotificationsArgs, paths: &DataPaths) -> anyhow::Result<()> {
    let catalog = Catalog::open(&paths.catalog)?;
    let list = catalog.list_notifications(&NotificationFilter {
        level: None,
        account_id: None,
        unread_only: args.unread,
        search: args.search,
        limit: Some(args.limit),
        before_id: None,
    })?;
    if args.mark_read {
        let ids: Vec<_> = list.iter().map(|n| n.id).collect();
        catalog.mark_read(&ids)?;
    }
    if args.json {
        println!("{}", serde_json::to_string_pretty(&list)?);
        return Ok(());
    }
    if list.is_empty() {
        println!("No notifications.");
    }
    for n in &list {
        println!(
            "{}  {:<7} {}{}\n    {}",
            n.at,
            format!("{:?}", n.level).to_lowercase(),
            n.title,
            n.account_name
                .as_deref()
                .map(|a| format!("  [{a}]"))
                .unwrap_or_default(),
            n.body
        );
    }
    Ok(())
}
