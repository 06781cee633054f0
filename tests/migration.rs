//! Stores written by an older licgate open, migrate, and tell the same story.
//!
//! `tests/fixtures/store-v1/` is a store written by licgate 0.1 (records of
//! schema 1: untyped verdicts, `accepted` tree of audit entries) with
//! `tests/fixtures/make-store-v1.rs` run against that version; the `.txt`
//! and `.csv` files beside it are what that version's `licgate audit list`
//! and `licgate ledger --at 2026-11-20` printed for it.

use std::path::{Path, PathBuf};

use licgate::Rules;
use licgate::judge::Outcome;
use licgate::query::{self, Answer, ExportFormat, ListFormat, Query};
use licgate::records::audit::Filter;
use licgate::records::{Accepted, Decision, SCHEMA};
use licgate::store::{Decided, Store};

/// The head of the fixture's audit trail, as licgate 0.1 verified it.
const V1_HEAD: &str = "39c6d65c6d3d4fdfccdf62323aa1d012becb42765e2ddbdd25902ad73c5bbfc8";

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

/// A copy of the version 1 store, so that the fixture itself never changes.
fn copy_of_v1_store(name: &str) -> Copy {
    let dir = std::env::temp_dir().join(format!("licgate-migration-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    for file in std::fs::read_dir(fixtures().join("store-v1")).unwrap() {
        let file = file.unwrap();
        if file.file_type().unwrap().is_file() {
            std::fs::copy(file.path(), dir.join(file.file_name())).unwrap();
        } else {
            std::fs::create_dir_all(dir.join(file.file_name())).unwrap();
        }
    }
    Copy(dir)
}

/// A copied store's folder, removed when the test passes (kept to look at
/// when it fails).
struct Copy(PathBuf);

impl std::ops::Deref for Copy {
    type Target = Path;

    fn deref(&self) -> &Path {
        &self.0
    }
}

impl AsRef<Path> for Copy {
    fn as_ref(&self) -> &Path {
        &self.0
    }
}

impl Drop for Copy {
    fn drop(&mut self) {
        if !std::thread::panicking() {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}

fn ask(store: &Store, query: Query) -> String {
    let rules = Rules::load(&Path::new(env!("CARGO_MANIFEST_DIR")).join("rules")).unwrap();
    let now = "2026-11-20T12:00:00Z".parse().unwrap();
    let Answer { code, output } = query::answer(store, &rules, &query, now).unwrap();
    assert_eq!(code, 0);
    String::from_utf8(output).unwrap()
}

fn expected(name: &str) -> String {
    std::fs::read_to_string(fixtures().join(name)).unwrap()
}

#[test]
fn a_version_1_store_migrates_and_reads_the_same() {
    let dir = copy_of_v1_store("same");
    let store = Store::open(&dir).unwrap();
    assert_eq!(store.schema().unwrap(), SCHEMA);
    // The trail is not rewritten: same records, same head, still intact.
    assert_eq!(store.verify_audit().unwrap(), 9);
    assert_eq!(store.audit_head().unwrap().hash, V1_HEAD);
    let list = Query::AuditList {
        filter: Filter::default(),
        format: ListFormat::Text,
        separator: ',',
    };
    assert_eq!(ask(&store, list), expected("store-v1.list.txt"));
    let csv = Query::AuditExport {
        format: ExportFormat::Csv,
        separator: ',',
    };
    assert_eq!(ask(&store, csv), expected("store-v1.list.csv"));
    let ledger = Query::Ledger {
        client: None,
        at: Some("2026-11-20".parse().unwrap()),
        json: false,
    };
    assert_eq!(ask(&store, ledger), expected("store-v1.ledger.txt"));
    // Every decision reads typed: outcomes, codes and requests.
    let decisions: Vec<Decision> = store.decisions().map(Result::unwrap).collect();
    assert_eq!(decisions.len(), 5);
    let outcomes: Vec<Outcome> = decisions.iter().map(|d| d.outcome).collect();
    // (Version 1 knew every outcome but `held`.)
    for outcome in Outcome::ALL.into_iter().filter(|o| *o != Outcome::Held) {
        assert!(outcomes.contains(&outcome), "{outcome} in {outcomes:?}");
    }
    let accepted: Vec<Accepted> = store.accepted().map(Result::unwrap).collect();
    assert_eq!(accepted.len(), 2);
    assert!(accepted.iter().all(|a| a.request.quantity == Some(2)));
}

#[tokio::test]
async fn the_chain_goes_on_across_the_migration_and_reopening() {
    let dir = copy_of_v1_store("chain");
    {
        let store = Store::open(&dir).unwrap();
        let accepted = store.accepted().next().unwrap().unwrap();
        let mut decision = store.decision(&accepted.request_id).unwrap().unwrap();
        decision.request_id = "LG-0000000001".into();
        decision.mailbox_key = "1700000000:20".into();
        let decided = Decided {
            decision,
            raw: b"Subject: x\r\n\r\nx\r\n".to_vec(),
            reply: None,
            notice: None,
        };
        store.record(&[decided], &[]).await.unwrap();
        assert_eq!(store.verify_audit().unwrap(), 10);
        store.flush().await.unwrap();
    }
    let store = Store::open(&dir).unwrap();
    assert_eq!(store.verify_audit().unwrap(), 10);
    assert_eq!(store.accepted().count(), 3);
}

#[test]
fn a_store_of_a_newer_version_is_refused() {
    let dir = copy_of_v1_store("newer");
    {
        let db = sled::open(&dir).unwrap();
        db.open_tree("meta")
            .unwrap()
            .insert("schema", &(SCHEMA + 1).to_be_bytes())
            .unwrap();
        db.flush().unwrap();
    }
    let err = format!("{:#}", Store::open(&dir).err().expect("refused"));
    assert!(err.contains("newer licgate"), "{err}");
    assert!(err.contains(&dir.display().to_string()), "{err}");
}

// Found by review: the old `accepted` index was carried over key by key, so
// an entry whose decision is no longer an acceptance (or has none) stayed.
#[test]
fn the_accepted_index_is_rebuilt_from_the_decisions() {
    let dir = copy_of_v1_store("index");
    {
        let db = sled::open(&dir).unwrap();
        let accepted = db.open_tree("accepted").unwrap();
        for stale in ["LG-2E5D58E812", "LG-0000000000"] {
            accepted.insert(stale, b"{\"not\": \"an entry\"}").unwrap();
        }
        db.flush().unwrap();
    }
    let store = Store::open(&dir).unwrap();
    let ids: Vec<String> = store.accepted().map(|a| a.unwrap().request_id).collect();
    assert_eq!(ids, ["LG-3D7C336E26", "LG-7C1ADADCC1"]);
}
