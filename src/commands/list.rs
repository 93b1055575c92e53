//! `routevault list`: committed snapshots, oldest first. Uncommitted artifacts (no signature)
//! are not snapshots and are not listed. With `--keys`, each row also names the key its
//! signature file claims (verify proves it), for key rotation and incident response.

use futures::{StreamExt, TryStreamExt};
use serde::Serialize;

use crate::cli::{ListArgs, ListFormat};
use crate::sign::{MAX_SIGNATURE_BYTES, SignatureFile};
use crate::store::snapshots::{self, StoredSnapshot};
use crate::store::{ObjectStore, Store};

/// Signature files read at once with `--keys`.
const KEY_READS_IN_FLIGHT: usize = 16;

#[derive(Serialize)]
struct Row {
    #[serde(flatten)]
    snapshot: StoredSnapshot,
    #[serde(skip_serializing_if = "Option::is_none")]
    key_id: Option<String>,
}

pub async fn run(args: ListArgs) -> anyhow::Result<()> {
    if let Some(env) = &args.env {
        super::check_env(env)?;
    }
    let store = super::open_store(&args.store).await?;
    let found = snapshots::list_committed(&store, args.env.as_deref()).await?;
    let rows: Vec<Row> = if args.keys {
        futures::stream::iter(found)
            .map(|snapshot| signer(&store, snapshot))
            .buffered(KEY_READS_IN_FLIGHT)
            .try_collect()
            .await?
    } else {
        found
            .into_iter()
            .map(|snapshot| Row {
                snapshot,
                key_id: None,
            })
            .collect()
    };
    match args.output {
        ListFormat::Json => crate::output::print_json(&rows)?,
        ListFormat::Table => {
            let mut headers = vec!["ENV", "ID", "CREATED", "BYTES"];
            if args.keys {
                headers.push("KEY");
            }
            let lines: Vec<Vec<String>> = rows
                .iter()
                .map(|row| {
                    let s = &row.snapshot;
                    let mut line = vec![
                        s.env.clone(),
                        s.id.clone(),
                        s.created.clone(),
                        s.artifact_bytes.to_string(),
                    ];
                    line.extend(row.key_id.clone());
                    line
                })
                .collect();
            print!("{}", crate::output::table(&headers, &lines));
        }
    }
    Ok(())
}

/// The key id a snapshot's signature file names. A file that cannot be parsed is reported as
/// such rather than failing the whole listing: listing is how an operator finds it.
async fn signer(store: &Store, snapshot: StoredSnapshot) -> anyhow::Result<Row> {
    let key = snapshots::signature_key(&snapshot.env, &snapshot.id);
    let bytes = store.get_bytes(&key, MAX_SIGNATURE_BYTES).await?;
    let key_id = match SignatureFile::parse(&bytes, &store.location(&key)) {
        Ok(signature) => signature.key_id.to_string(),
        Err(_) => "unreadable-signature".to_string(),
    };
    Ok(Row {
        snapshot,
        key_id: Some(key_id),
    })
}
