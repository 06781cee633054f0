//! The server's secret keys that code the commands a mail may carry
//! (`CONFIRMER LG-… CODE`): a small file beside the sled database, outside
//! every record, readable by the daemon's user only.
//!
//! The daemon creates it at its first start; `licgate keys rotate` draws a
//! new key and keeps the one before it, so that the codes already given
//! still hold until their requests are closed. The file holds one key per
//! line, in hexadecimal: the current one, then the previous one.

use std::io::{Read as _, Write as _};
use std::os::unix::fs::{OpenOptionsExt as _, PermissionsExt as _};
use std::path::{Path, PathBuf};

use anyhow::{Context as _, bail};

use crate::judge::CommandKeys;
use crate::records::audit::hex;

/// The key file of the store at `store`.
pub fn path(store: &Path) -> PathBuf {
    store.join("command-keys")
}

/// The keys of the store at `store`, created on first use.
pub fn load_or_create(store: &Path) -> anyhow::Result<CommandKeys> {
    match load(store) {
        Ok(Some(keys)) => Ok(keys),
        Ok(None) => {
            let keys = CommandKeys {
                current: random_key()?,
                previous: None,
            };
            write(store, &keys)?;
            Ok(keys)
        }
        Err(err) => Err(err),
    }
}

/// The keys of the store at `store`; `None` when the file does not exist yet.
pub fn load(store: &Path) -> anyhow::Result<Option<CommandKeys>> {
    let path = path(store);
    let text = match std::fs::read_to_string(&path) {
        Ok(text) => text,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(err) => {
            return Err(err).with_context(|| format!("{} : lecture impossible", path.display()));
        }
    };
    let mut lines = text.lines().map(str::trim).filter(|l| !l.is_empty());
    let current = lines.next().map(parse_key);
    let previous = lines.next().map(parse_key);
    match (current, previous) {
        (Some(Some(current)), None) => Ok(Some(CommandKeys {
            current,
            previous: None,
        })),
        (Some(Some(current)), Some(Some(previous))) => Ok(Some(CommandKeys {
            current,
            previous: Some(previous),
        })),
        _ => bail!(
            "{} : fichier de clés illisible (attendu : une ou deux lignes de 64 chiffres \
             hexadécimaux) ; restaurez-le depuis la sauvegarde, ou supprimez-le pour en créer \
             un nouveau au prochain démarrage (les codes déjà envoyés ne seront plus reconnus)",
            path.display()
        ),
    }
}

/// Draws a new current key and keeps the current one as the previous one
/// (the one before it is forgotten: codes given under it no longer hold).
pub fn rotate(store: &Path) -> anyhow::Result<CommandKeys> {
    let old = load(store)?;
    let keys = CommandKeys {
        current: random_key()?,
        previous: old.map(|keys| keys.current),
    };
    write(store, &keys)?;
    Ok(keys)
}

fn parse_key(line: &str) -> Option<[u8; 32]> {
    if line.len() != 64 || !line.is_ascii() {
        return None;
    }
    let mut key = [0u8; 32];
    for (i, byte) in key.iter_mut().enumerate() {
        *byte = u8::from_str_radix(&line[2 * i..2 * i + 2], 16).ok()?;
    }
    Some(key)
}

/// 32 bytes from the kernel's random source.
fn random_key() -> anyhow::Result<[u8; 32]> {
    let mut key = [0u8; 32];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut random| random.read_exact(&mut key))
        .context("/dev/urandom : lecture impossible")?;
    Ok(key)
}

/// Writes the file whole (a temporary file, synced, then renamed), mode 0600.
fn write(store: &Path, keys: &CommandKeys) -> anyhow::Result<()> {
    std::fs::create_dir_all(store)
        .with_context(|| format!("{} : création impossible", store.display()))?;
    let path = path(store);
    let partial = path.with_extension("new");
    let mut text = hex(&keys.current);
    if let Some(previous) = &keys.previous {
        text.push('\n');
        text.push_str(&hex(previous));
    }
    text.push('\n');
    let _ = std::fs::remove_file(&partial);
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&partial)
        .with_context(|| format!("{} : écriture impossible", partial.display()))?;
    // NOTE: under umask 000 `mode` alone could leave it readable by others.
    file.set_permissions(std::fs::Permissions::from_mode(0o600))?;
    file.write_all(text.as_bytes())?;
    file.sync_all()?;
    std::fs::rename(&partial, &path)
        .with_context(|| format!("{} : écriture impossible", path.display()))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_created_private_then_rotated_keeping_the_one_before() {
        let dir = std::env::temp_dir().join(format!("licgate-keys-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        assert_eq!(load(&dir).unwrap(), None);
        let first = load_or_create(&dir).unwrap();
        assert_eq!(load_or_create(&dir).unwrap(), first, "created once");
        let mode = std::fs::metadata(path(&dir)).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        let code = first.code("LG-0A1B2C3D4E").replace('-', "");
        let rotated = rotate(&dir).unwrap();
        assert_ne!(rotated.current, first.current);
        assert_eq!(rotated.previous, Some(first.current));
        assert!(load(&dir).unwrap().unwrap().accepts("LG-0A1B2C3D4E", &code));
        rotate(&dir).unwrap();
        assert!(!load(&dir).unwrap().unwrap().accepts("LG-0A1B2C3D4E", &code));
        std::fs::write(path(&dir), "pas une clé\n").unwrap();
        let err = load(&dir).unwrap_err().to_string();
        assert!(err.contains("fichier de clés illisible"), "{err}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
