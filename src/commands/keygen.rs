//! `routevault keygen`: a signing key pair (ed25519, PKCS#8 PEM) and a sealing key pair (age
//! X25519). Private files are created 0600; nothing existing is ever overwritten.

use std::fs::{self, OpenOptions};
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::PathBuf;

use anyhow::{Context, bail};

use crate::cli::KeygenArgs;
use routevault::seal;
use routevault::sign;

pub fn run(args: KeygenArgs) -> anyhow::Result<()> {
    if !routevault::object::is_valid_name(&args.name) {
        bail!(
            "key name {:?} is not valid: use lowercase letters, digits, '-' and '.'",
            args.name
        );
    }
    let file = |suffix: &str| args.out.join(format!("{}.{suffix}", args.name));
    let paths = [
        file("sign.key"),
        file("sign.pub"),
        file("seal.key"),
        file("seal.pub"),
    ];
    if let Some(existing) = paths.iter().find(|p| p.exists()) {
        bail!(
            "{} already exists; keygen never overwrites keys (pick another --name or --out)",
            existing.display()
        );
    }
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(&args.out)
        .with_context(|| format!("creating {}", args.out.display()))?;

    let signing = sign::generate_signing_key();
    let (sign_private, sign_public) = sign::encode_key_pair(&signing);
    let (seal_identity, recipient) = seal::generate_identity();
    let created = jiff::Timestamp::now().to_string();
    let seal_private =
        format!("# created: {created}\n# public key: {recipient}\n{seal_identity}\n");

    let contents = [
        (&paths[0], sign_private.as_str(), 0o600),
        (&paths[1], sign_public.as_str(), 0o644),
        (&paths[2], seal_private.as_str(), 0o600),
        (&paths[3], &*format!("{recipient}\n"), 0o644),
    ];
    let mut written: Vec<PathBuf> = Vec::new();
    for (path, text, mode) in contents {
        let result = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(mode)
            .open(path)
            .and_then(|mut f| f.write_all(text.as_bytes()).and_then(|_| f.sync_all()));
        if let Err(e) = result {
            for done in &written {
                let _ = fs::remove_file(done);
            }
            return Err(e).with_context(|| format!("writing {}", path.display()));
        }
        written.push(path.clone());
    }
    let key_id = sign::key_id(&signing.verifying_key());
    let report = serde_json::json!({
        "signing_key": paths[0],
        "verify_key": paths[1],
        "key_id": key_id.to_string(),
        "unseal_key": paths[2],
        "seal_recipient_file": paths[3],
        "seal_recipient": recipient,
    });
    super::emit(args.output, &report, |_| {
        outln!("signing key:   {} (private, 0600)", paths[0].display());
        outln!(
            "verify key:    {} (key id {key_id}; put it in the trust folder of every restorer)",
            paths[1].display()
        );
        outln!(
            "unseal key:    {} (private, 0600; keep it offline, it opens every sealed snapshot)",
            paths[2].display()
        );
        outln!("seal recipient: {} ({recipient})", paths[3].display());
    })?;
    Ok(())
}
