//! What the store remembers of licgate's own IMAP folders, to tell a store
//! restored from a backup: per folder, up to which message every mail filed
//! there was found decided in the store; and the mails found filed there
//! that the store does not know (shown by `licgate status`, put back by
//! `licgate recover`).
//!
//! The marks live in the store itself, so restoring an older copy takes them
//! back too: the next look covers every mail filed since that copy.

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use super::Store;

/// A mail filed in one of licgate's folders that the store does not know.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UnknownMail {
    /// The folder, as configured (`licgate/acceptees`).
    pub folder: String,
    /// The folder's UIDVALIDITY when it was looked at.
    pub uid_validity: u32,
    /// Its UID in that folder.
    pub uid: u32,
    /// Its INTERNALDATE: when the server received it.
    pub received_at: Option<Timestamp>,
    /// Its Message-ID, cleaned and shortened to be shown (written by the sender).
    pub message_id: Option<String>,
}

/// Key of the list of [`UnknownMail`] in the meta tree.
const UNKNOWN_MAILS: &str = "unknown_mails";

fn mark_key(folder: &str) -> String {
    format!("folder|{folder}")
}

impl Store {
    /// Up to which UID (with the folder's UIDVALIDITY) every mail filed in
    /// `folder` was found known, if it was ever looked at.
    pub fn folder_mark(&self, folder: &str) -> anyhow::Result<Option<(u32, u32)>> {
        let Some(value) = self.meta.get(mark_key(folder))? else {
            return Ok(None);
        };
        let text = String::from_utf8_lossy(&value);
        Ok(text
            .split_once(':')
            .and_then(|(validity, uid)| Some((validity.parse().ok()?, uid.parse().ok()?))))
    }

    /// Notes that every mail of `folder` up to `uid` is known.
    pub fn set_folder_mark(&self, folder: &str, uid_validity: u32, uid: u32) -> anyhow::Result<()> {
        self.meta
            .insert(mark_key(folder), format!("{uid_validity}:{uid}").as_bytes())?;
        Ok(())
    }

    /// The mails last found in licgate's folders that the store does not know.
    pub fn unknown_mails(&self) -> anyhow::Result<Vec<UnknownMail>> {
        match self.meta.get(UNKNOWN_MAILS)? {
            Some(json) => Ok(serde_json::from_slice(&json)?),
            None => Ok(Vec::new()),
        }
    }

    /// Replaces the list of mails found unknown, and flushes.
    pub async fn set_unknown_mails(&self, mails: &[UnknownMail]) -> anyhow::Result<()> {
        if mails.is_empty() {
            self.meta.remove(UNKNOWN_MAILS)?;
        } else {
            self.meta
                .insert(UNKNOWN_MAILS, serde_json::to_vec(mails)?)?;
        }
        self.flush().await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn marks_and_unknown_mails_survive_reopening() {
        let dir = std::env::temp_dir().join(format!("licgate-folders-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let unknown = UnknownMail {
            folder: "licgate/acceptees".into(),
            uid_validity: 7,
            uid: 3,
            received_at: Some("2026-11-16T09:00:00Z".parse().unwrap()),
            message_id: Some("<a@example.test>".into()),
        };
        {
            let store = Store::open(&dir).unwrap();
            assert_eq!(store.folder_mark("licgate/acceptees").unwrap(), None);
            store.set_folder_mark("licgate/acceptees", 7, 2).unwrap();
            store
                .set_unknown_mails(std::slice::from_ref(&unknown))
                .await
                .unwrap();
        }
        let store = Store::open(&dir).unwrap();
        assert_eq!(
            store.folder_mark("licgate/acceptees").unwrap(),
            Some((7, 2))
        );
        assert_eq!(store.unknown_mails().unwrap(), [unknown]);
        store.set_unknown_mails(&[]).await.unwrap();
        assert!(store.unknown_mails().unwrap().is_empty());
        drop(store);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
