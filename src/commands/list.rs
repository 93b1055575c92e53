//! `routevault list`: committed snapshots, oldest first. Uncommitted artifacts (no signature)
//! are not snapshots and are not listed.

use crate::cli::{ListArgs, ListFormat};
use crate::store::snapshots;

pub async fn run(args: ListArgs) -> anyhow::Result<()> {
    if let Some(env) = &args.env {
        super::check_env(env)?;
    }
    let store = super::open_store(&args.store).await?;
    let found = snapshots::list_committed(&store, args.env.as_deref()).await?;
    match args.output {
        ListFormat::Json => crate::output::print_json(&found)?,
        ListFormat::Table => {
            let rows: Vec<Vec<String>> = found
                .iter()
                .map(|s| {
                    vec![
                        s.env.clone(),
                        s.id.clone(),
                        s.created.clone(),
                        s.artifact_bytes.to_string(),
                    ]
                })
                .collect();
            print!(
                "{}",
                crate::output::table(&["ENV", "ID", "CREATED", "BYTES"], &rows)
            );
        }
    }
    Ok(())
}
