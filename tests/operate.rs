//! The binary as an operator meets it (issue 13): `config check` reports
//! every problem at once with file, line and key; `status` and `audit
//! verify` exit codes; read commands never create a store nor need a
//! secret; output to a closed pipe ends quietly; `LICGATE_RULES`; and
//! `config check --connect` against the real mail stack.

mod support;

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use licgate::store::status::Status;

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// A fresh folder, removed when the test passes (kept to look at otherwise).
struct Place(PathBuf);

impl Place {
    fn new(name: &str) -> Place {
        let dir = std::env::temp_dir().join(format!("licgate-op-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        Place(dir)
    }

    /// The example configuration with `edit` applied, its secrets in files,
    /// its store and rules here; written as `licgate.toml`.
    fn config(&self, edit: impl Fn(String) -> String) -> PathBuf {
        std::fs::write(self.0.join("secret"), "p@ss-w0rd\n").unwrap();
        let text = std::fs::read_to_string(root().join("config/licgate.example.toml"))
            .unwrap()
            .replace(
                "password-env = \"LICGATE_IMAP_PASSWORD\"",
                "password-file = \"secret\"",
            )
            .replace(
                "password-env = \"LICGATE_SMTP_PASSWORD\"",
                "password-file = \"secret\"",
            )
            .replace("/var/lib/licgate/store", "store")
            .replace(
                "/etc/licgate/rules",
                &root().join("rules").display().to_string(),
            );
        let path = self.0.join("licgate.toml");
        std::fs::write(&path, edit(text)).unwrap();
        path
    }
}

impl Drop for Place {
    fn drop(&mut self) {
        if !std::thread::panicking() {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}

fn licgate(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_licgate"))
        .current_dir(root())
        .env_remove("LICGATE_RULES")
        .env_remove("LICGATE_CONFIG")
        .args(args)
        .output()
        .unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8(bytes.to_vec()).unwrap()
}

fn config_check(config: &Path) -> (i32, String, String) {
    let output = licgate(&["config", "check", "--config", config.to_str().unwrap()]);
    (
        output.status.code().unwrap(),
        text(&output.stdout),
        text(&output.stderr),
    )
}

/// The line (from 1) of `path` that starts with `start`.
fn line_of(path: &Path, start: &str) -> usize {
    let text = std::fs::read_to_string(path).unwrap();
    text.lines().position(|l| l.starts_with(start)).unwrap() + 1
}

#[test]
fn a_valid_configuration_prints_its_effective_toml_without_secrets() {
    let place = Place::new("valid");
    let config = place.config(|t| t);
    let (code, out, err) = config_check(&config);
    assert_eq!(code, 0, "{err}");
    assert!(err.ends_with(": configuration valide\n"), "{err}");
    assert!(!out.contains("p@ss-w0rd"), "a secret printed: {out}");
    assert!(!out.contains("Config {"), "a Debug dump: {out}");
    let effective: toml::Table = toml::from_str(&out).expect("TOML");
    assert_eq!(effective["imap"]["port"].as_integer(), Some(993));
    assert_eq!(
        effective["store"]["path"].as_str(),
        Some(place.0.join("store").to_str().unwrap()),
        "relative paths resolved"
    );
    assert!(!place.0.join("store").exists(), "nothing created");
    let quiet = licgate(&[
        "config",
        "check",
        "--quiet",
        "--config",
        config.to_str().unwrap(),
    ]);
    assert_eq!(quiet.status.code(), Some(0));
    assert!(quiet.stdout.is_empty());
}

#[test]
fn every_problem_is_reported_at_once_with_file_line_and_key() {
    let place = Place::new("many");
    let config = place.config(|t| {
        t.replace("port = 993", "port = 0")
            .replace("allow = [\"*@infogerance.example\"]", "allow = []")
            .replacen(
                "password-file = \"secret\"",
                "password-env = \"LICGATE_NOT_SET\"",
                1,
            )
            .replace("path = \"store\"", "path = \"missing/store\"")
            .replace(
                &root().join("rules").display().to_string(),
                "/nonexistent/rules",
            )
    });
    let (code, out, err) = config_check(&config);
    assert_eq!(code, 1, "{err}");
    assert!(
        out.is_empty(),
        "no configuration printed when refused: {out}"
    );
    let file = config.display().to_string();
    let expected = [
        format!(
            "erreur\u{a0}: {file}:{}: imap.port: ce n'est pas un port\u{a0}: donnez un nombre entier de 1 à 65535",
            line_of(&config, "port = 0")
        ),
        format!(
            "erreur\u{a0}: {file}:{}: imap.auth.password-env: la variable d'environnement LICGATE_NOT_SET n'est pas définie\u{a0}: définissez-la, ou écrivez plutôt password-file = \"/run/credentials/licgate.service/imap-password\" (l'unité systemd remet le fichier avec LoadCredential=imap-password:",
            line_of(&config, "password-env")
        ),
        format!(
            "erreur\u{a0}: {file}:{}: senders.allow: vide\u{a0}: tout courriel irait en quarantaine",
            line_of(&config, "allow = []")
        ),
        format!(
            "erreur\u{a0}: {file}:{}: store.path: {}\u{a0}: le dossier qui tiendra la base de données n'existe pas",
            line_of(&config, "path = \"missing/store\""),
            place.0.join("missing").display()
        ),
        format!(
            "erreur\u{a0}: {file}:{}: rules.dir: /nonexistent/rules\u{a0}: dossier absent",
            line_of(&config, "dir = \"/nonexistent/rules\"")
        ),
    ];
    let lines: Vec<&str> = err.lines().collect();
    assert_eq!(lines.len(), expected.len() + 1, "{err}");
    for (line, expected) in lines.iter().zip(&expected) {
        assert!(
            line.starts_with(expected.as_str()),
            "{line}\nexpected {expected}"
        );
    }
    assert!(
        err.ends_with(": configuration refusée, 5 erreurs\u{a0}: corrigez les erreurs ci-dessus\n"),
        "{err}"
    );
    assert!(!place.0.join("missing").exists(), "nothing created");
}

// Issue 20: a value of the wrong type stopped the check, so the README's
// own examples reported one problem each time.
#[test]
fn ports_durations_and_addresses_are_explained_all_at_once() {
    let place = Place::new("words");
    let config = place.config(|t| {
        t.replace("port = 993", "port = 70000")
            .replace("poll-interval = 60", "poll-interval = \"60s\"")
            .replace(
                "from = \"licences@infogerance.example\"",
                "from = \"not-an-address\"",
            )
    });
    let (code, _, err) = config_check(&config);
    assert_eq!(code, 1, "{err}");
    let file = config.display();
    let expected = [
        format!(
            "erreur\u{a0}: {file}:{}: imap.port: ce n'est pas un port\u{a0}: donnez un nombre entier de 1 à 65535",
            line_of(&config, "port = 70000")
        ),
        format!(
            "erreur\u{a0}: {file}:{}: imap.poll-interval: ce n'est pas un nombre de secondes\u{a0}: écrivez un nombre entier, sans unité (60, pas \"60s\")",
            line_of(&config, "poll-interval")
        ),
        format!(
            "erreur\u{a0}: {file}:{}: smtp.from: «\u{a0}not-an-address\u{a0}» n'est pas une adresse électronique",
            line_of(&config, "from = \"not-an-address\"")
        ),
    ];
    let lines: Vec<&str> = err.lines().collect();
    assert_eq!(lines.len(), expected.len() + 1, "{err}");
    for (line, expected) in lines.iter().zip(&expected) {
        assert!(
            line.starts_with(expected.as_str()),
            "{line}\nexpected {expected}"
        );
    }
    assert!(
        err.contains("configuration refusée, 3 erreurs\u{a0}: corrigez les erreurs"),
        "{err}"
    );
}

#[test]
fn an_empty_allow_when_meant_and_an_empty_purchasing_are_only_warned_of() {
    let place = Place::new("meant");
    let config = place.config(|t| {
        t.replace(
            "allow = [\"*@infogerance.example\"]",
            "allow = []\nallow-none = true",
        )
        .replace("to = [\"achats@infogerance.example\"]", "to = []")
    });
    let (code, _, err) = config_check(&config);
    assert_eq!(code, 0, "{err}");
    assert!(
        err.starts_with(&format!(
            "avertissement\u{a0}: {}:{}: purchasing.to: vide alors que [digest] times est donné",
            config.display(),
            line_of(&config, "to = []")
        )),
        "{err}"
    );
    assert!(
        err.ends_with("configuration valide (1 avertissement)\n"),
        "{err}"
    );
}

// Issue 18: every right rests on From:; the package ships the check on,
// and while an operator turns it off, `config check` and `status` say so.
#[test]
fn senders_not_authenticated_are_warned_of() {
    let place = Place::new("auth-off");
    let on = place.config(|t| t);
    let (code, _, err) = config_check(&on);
    assert_eq!(code, 0, "{err}");
    assert!(!err.contains("require-authentication"), "{err}");
    let status = text(&licgate(&["status", "--config", on.to_str().unwrap()]).stdout);
    assert!(!status.contains("AVERTISSEMENT"), "{status}");
    let off = place.config(|t| {
        t.replace(
            "require-authentication = \"exchange-online\"",
            "require-authentication = \"off\"",
        )
    });
    let (code, _, err) = config_check(&off);
    assert_eq!(code, 0, "a warning, not an error: {err}");
    assert!(
        err.contains(&format!(
            "avertissement\u{a0}: {}:{}: senders.require-authentication: désactivée\u{a0}: n'importe quel expéditeur peut écrire",
            off.display(),
            line_of(&off, "require-authentication = \"off\"")
        )),
        "{err}"
    );
    let status = text(&licgate(&["status", "--config", off.to_str().unwrap()]).stdout);
    assert!(
        status.contains("AVERTISSEMENT\u{a0}: les expéditeurs ne sont pas authentifiés"),
        "{status}"
    );
}

// Issue 18: the operator rotates the server's key that codes the
// confirmations; the codes already given still hold until the next one.
#[test]
fn the_confirmation_key_is_rotated_keeping_the_one_before() {
    use std::os::unix::fs::PermissionsExt as _;
    let place = Place::new("keys");
    let config = place.config(|t| t);
    let config = config.to_str().unwrap();
    let first = licgate(&["keys", "rotate", "--config", config]);
    assert_eq!(first.status.code(), Some(0), "{}", text(&first.stderr));
    assert!(
        text(&first.stdout).contains("aucune clé n'existait"),
        "{}",
        text(&first.stdout)
    );
    let file = place.0.join("store/command-keys");
    let before = std::fs::read_to_string(&file).unwrap();
    let second = licgate(&["keys", "rotate", "--config", config]);
    assert!(
        text(&second.stdout).contains("les codes déjà envoyés restent valables"),
        "{}",
        text(&second.stdout)
    );
    let after = std::fs::read_to_string(&file).unwrap();
    let lines: Vec<&str> = after.lines().collect();
    assert_eq!(lines.len(), 2, "{after}");
    assert_eq!(lines[1], before.trim(), "the previous key kept second");
    let mode = std::fs::metadata(&file).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600);
    // Found by review: a second rotation at once dropped the key of codes
    // still waiting to be used, and the requests could only expire.
    let third = licgate(&["keys", "rotate", "--config", config]);
    let err = text(&third.stderr);
    assert_eq!(third.status.code(), Some(2), "{err}");
    assert!(
        err.contains("la dernière rotation date du ") && err.contains("--force"),
        "{err}"
    );
    assert_eq!(
        std::fs::read_to_string(&file).unwrap(),
        after,
        "nothing rotated"
    );
    let forced = licgate(&["keys", "rotate", "--force", "--config", config]);
    assert_eq!(forced.status.code(), Some(0), "{}", text(&forced.stderr));
    assert_ne!(std::fs::read_to_string(&file).unwrap(), after);
}

// Issue 20: every command needed --config; the file is found as postconf
// and doveconf find theirs: /etc/licgate/licgate.toml, else LICGATE_CONFIG.
#[test]
fn the_configuration_is_found_by_default_or_from_licgate_config() {
    let place = Place::new("default-config");
    let config = place.config(|t| t);
    let by_env = Command::new(env!("CARGO_BIN_EXE_licgate"))
        .env("LICGATE_CONFIG", &config)
        .args(["config", "check", "--quiet"])
        .output()
        .unwrap();
    assert_eq!(by_env.status.code(), Some(0), "{}", text(&by_env.stderr));
    let missing = place.0.join("absent.toml");
    let output = licgate(&["ledger", "--config", missing.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(2));
    assert_eq!(
        text(&output.stderr),
        format!(
            "licgate: {}\u{a0}: configuration illisible (fichier absent)\u{a0}; donnez le fichier \
             avec --config FICHIER ou la variable LICGATE_CONFIG\n",
            missing.display()
        )
    );
    let help = text(&licgate(&["status", "--help"]).stdout);
    assert!(
        help.contains("[default: /etc/licgate/licgate.toml]"),
        "{help}"
    );
}

#[test]
fn a_broken_rules_file_is_named_as_rules_check_names_it() {
    let place = Place::new("rules");
    let rules = place.0.join("rules");
    std::fs::create_dir_all(&rules).unwrap();
    for file in ["licences.toml", "clients.toml", "calendar.toml"] {
        std::fs::copy(root().join("rules").join(file), rules.join(file)).unwrap();
    }
    let calendar = std::fs::read_to_string(rules.join("calendar.toml")).unwrap();
    let broken = calendar.replacen("cutoff = \"17:30\"", "cutoff = \"17h30\"", 1);
    assert_ne!(broken, calendar);
    std::fs::write(rules.join("calendar.toml"), broken).unwrap();
    let config = place.config(|t| t.replace(&root().join("rules").display().to_string(), "rules"));
    let (code, _, err) = config_check(&config);
    assert_eq!(code, 1, "{err}");
    let rules_check = licgate(&["rules", "check", "--rules", rules.to_str().unwrap()]);
    let rules_error = text(&rules_check.stderr);
    let rules_error = rules_error.trim_start_matches("licgate: ").trim_end();
    assert!(
        rules_error.contains("cutoff: «\u{a0}17h30\u{a0}» is not a time of day"),
        "{rules_error}"
    );
    assert!(
        err.contains(&format!("rules.dir: {rules_error}")),
        "{err}\n{rules_error}"
    );
}

#[test]
fn status_exits_one_unless_the_daemon_is_healthy() {
    let place = Place::new("status");
    let config = place.config(|t| t);
    let config = config.to_str().unwrap();
    // No status file: first install, or a wrong store path.
    let output = licgate(&["status", "--config", config]);
    assert_eq!(output.status.code(), Some(1), "{}", text(&output.stderr));
    assert!(text(&output.stdout).starts_with("PROBLÈME\u{a0}: aucun état lisible"));
    let now = jiff::Timestamp::now();
    let mut status = Status {
        updated_at: now,
        last_poll: Some(now),
        outbox_depth: 0,
        oldest_queued: None,
        today: vec![2, 1, 0, 1],
        awaiting_digest: 2,
        last_digest: None,
        outbox_paused: None,
        stopped_at: None,
        started_at: None,
        unknown_mails: Vec::new(),
        owed: Vec::new(),
        rules_refused: None,
        rules_refusals: 0,
        time_zone: None,
    };
    std::fs::create_dir_all(place.0.join("store")).unwrap();
    status.write(&Status::file(&place.0.join("store"))).unwrap();
    let output = licgate(&["status", "--config", config]);
    let out = text(&output.stdout);
    assert_eq!(output.status.code(), Some(0), "{out}");
    assert!(
        // (A status file written before `held` counts four outcomes.)
        out.contains(
            "aujourd'hui       2 acceptées, 1 refusée, 0 ignorée, 1 en quarantaine, 0 à confirmer\n"
        ),
        "{out}"
    );
    assert!(
        out.contains(
            "synthèse          2 demandes acceptées pour la prochaine, dernier créneau jamais\n"
        ),
        "{out}"
    );
    status.updated_at = now - jiff::SignedDuration::from_mins(5);
    status.write(&Status::file(&place.0.join("store"))).unwrap();
    let output = licgate(&["status", "--config", config]);
    let out = text(&output.stdout);
    assert_eq!(output.status.code(), Some(1), "{out}");
    assert!(
        out.contains("PROBLÈME\u{a0}: le démon ne tourne pas"),
        "{out}"
    );
    // Broken rules: the daemon keeps the previous ones, but the next start
    // fails; status says so (exit 1), and still reports the rest, its times
    // in the zone of the daemon's calendar, named (issue 18, item 9: they
    // were UTC, read as Paris).
    status.updated_at = jiff::Timestamp::now();
    status.time_zone = Some("Europe/Paris".into());
    status.write(&Status::file(&place.0.join("store"))).unwrap();
    let broken =
        place.config(|t| t.replace(&root().join("rules").display().to_string(), "/nonexistent"));
    let output = licgate(&["status", "--config", broken.to_str().unwrap()]);
    let out = text(&output.stdout);
    assert_eq!(output.status.code(), Some(1), "{out}");
    assert!(out.contains("aujourd'hui       2 acceptées"), "{out}");
    assert!(
        out.contains("PROBLÈME\u{a0}: le prochain démarrage échouera\u{a0}: "),
        "{out}"
    );
    assert!(out.contains("(Europe/Paris)\n"), "{out}");
    status.time_zone = None;
    // Issue 20: right after a start, before the first listing, status said
    // « la boîte n'a jamais été relevée » and exited 1 for about 15 s.
    let config = place.config(|t| t);
    let config = config.to_str().unwrap();
    status.last_poll = None;
    status.started_at = Some(now - jiff::SignedDuration::from_secs(10));
    status.write(&Status::file(&place.0.join("store"))).unwrap();
    let output = licgate(&["status", "--config", config]);
    let out = text(&output.stdout);
    assert_eq!(output.status.code(), Some(0), "{out}");
    assert!(
        out.contains("dernier relevé    pas encore\u{a0}: démarrage en cours (démarré le "),
        "{out}"
    );
    // Still not read minutes after the start: something is wrong.
    status.started_at = Some(now - jiff::SignedDuration::from_mins(5));
    status.write(&Status::file(&place.0.join("store"))).unwrap();
    let output = licgate(&["status", "--config", config]);
    assert_eq!(output.status.code(), Some(1));
    assert!(text(&output.stdout).contains("la boîte n'a jamais été relevée"));
}

#[test]
fn read_commands_never_create_a_store_nor_need_a_secret() {
    let place = Place::new("nostore");
    // Secrets from variables that are not set: only `run` needs them.
    let config = place.config(|t| {
        t.replace(
            "password-file = \"secret\"",
            "password-env = \"LICGATE_NOT_SET\"",
        )
    });
    let config = config.to_str().unwrap();
    let store = place.0.join("store");
    for args in [
        &["audit", "verify"][..],
        &["audit", "list"],
        &["audit", "export", "--format", "csv"],
        &["audit", "show", "LG-0000000000"],
        &["ledger"],
        &["digest"],
    ] {
        let output = licgate(&[args, &["--config", config]].concat());
        let err = text(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{args:?}: {err}");
        assert!(
            err.contains(&format!(
                "{}\u{a0}: aucune base de données à cet endroit ([store] path de la configuration)",
                store.display()
            )),
            "{args:?}: {err}"
        );
        assert!(!store.exists(), "{args:?} created the store");
    }
    // An empty store, made as the daemon makes it, verifies (exit 0).
    drop(licgate::store::Store::open(&store).unwrap());
    let output = licgate(&["audit", "verify", "--config", config]);
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    assert!(text(&output.stdout).starts_with("journal d'audit intact\u{a0}: 0 enregistrement"));
    let output = licgate(&["ledger", "--format", "json", "--config", config]);
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    assert_eq!(text(&output.stdout), "[]\n");
}

/// Every file under `dir`: its bytes, owner, group and mode.
fn files_of(dir: &Path) -> std::collections::BTreeMap<PathBuf, (Vec<u8>, u32, u32, u32)> {
    use std::os::unix::fs::MetadataExt;
    let mut files = std::collections::BTreeMap::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let entry = entry.unwrap();
        let meta = entry.metadata().unwrap();
        if meta.is_dir() {
            files.extend(files_of(&entry.path()));
            files.insert(
                entry.path(),
                (Vec::new(), meta.uid(), meta.gid(), meta.mode()),
            );
        } else {
            let bytes = std::fs::read(entry.path()).unwrap();
            files.insert(entry.path(), (bytes, meta.uid(), meta.gid(), meta.mode()));
        }
    }
    files
}

// Issue 18, low item: `licgate audit verify` run as root with the daemon
// stopped wrote a snapshot file owned by root into the store (opening sled
// writes). A read command reads a private copy: not a byte of the store
// changes, no file is created in it, no owner changes.
#[tokio::test]
async fn read_commands_leave_the_store_byte_for_byte_as_it_was() {
    let place = Place::new("readonly");
    let config = place.config(|t| t);
    let config = config.to_str().unwrap();
    let store = place.0.join("store");
    {
        let opened = licgate::store::Store::open(&store).unwrap();
        let mails = root().join("tests/golden/plain-text-accepted.eml");
        let raw = std::fs::read(mails).unwrap();
        let rules = licgate::Rules::load(&root().join("rules")).unwrap();
        let at = "2026-11-16T09:00:00Z".parse().unwrap();
        let verdict = licgate::check(&raw, &rules, Some(at), &licgate::Limits::default());
        let decision = licgate::records::Decision {
            schema: licgate::records::SCHEMA,
            request_id: verdict.request_id.clone(),
            mailbox_key: "7:1".into(),
            decided_at: at,
            received_at: Some(at),
            sender: verdict.from.clone(),
            outcome: verdict.outcome,
            folder: "licgate/acceptees".into(),
            note: None,
            verdict: Some(verdict.clone()),
            reply_queued: false,
            closed_by: None,
        };
        let decided = licgate::store::Decided {
            decision,
            raw,
            reply: None,
            notice: None,
        };
        opened.record(&[decided], &[]).await.unwrap();
    }
    let before = files_of(&store);
    let id = text(&licgate(&["audit", "list", "--format", "json", "--config", config]).stdout)
        .split("\"request_id\":\"")
        .nth(1)
        .map(|rest| rest.split('"').next().unwrap().to_owned())
        .expect("one request listed");
    for args in [
        &["audit", "verify"][..],
        &["audit", "list"],
        &["audit", "export", "--format", "csv"],
        &["audit", "show", &id],
        &["audit", "show", "--raw", &id],
        &["ledger"],
        &["digest"],
        &["status"],
    ] {
        let output = licgate(&[args, &["--config", config]].concat());
        assert!(
            output.status.code().is_some_and(|code| code < 2),
            "{args:?}: {}",
            text(&output.stderr)
        );
        let after = files_of(&store);
        assert_eq!(
            before.keys().collect::<Vec<_>>(),
            after.keys().collect::<Vec<_>>(),
            "{args:?} created or removed a file in the store"
        );
        assert!(
            before == after,
            "{args:?} changed a byte or an owner in the store"
        );
    }
}

// Reviewers' note: `licgate audit list | head` panicked on the closed pipe.
#[test]
fn output_to_a_closed_pipe_ends_quietly() {
    let place = Place::new("pipe");
    let config = place.config(|t| t);
    let config = config.to_str().unwrap();
    for args in [
        &["rules", "check", "--rules", "rules"][..],
        &["config", "check", "--config", config],
        &[
            "check",
            "--format",
            "json",
            "tests/golden/plain-text-accepted.eml",
        ],
        &["--help"],
    ] {
        let mut child = Command::new(env!("CARGO_BIN_EXE_licgate"))
            .current_dir(root())
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        drop(child.stdout.take());
        let output = child.wait_with_output().unwrap();
        let err = text(&output.stderr);
        assert!(!err.contains("panicked"), "{args:?}: {err}");
        assert!(!err.contains("Broken pipe"), "{args:?}: {err}");
        use std::os::unix::process::ExitStatusExt as _;
        assert!(
            output.status.signal() == Some(libc::SIGPIPE) || output.status.code() == Some(0),
            "{args:?}: {:?}",
            output.status
        );
    }
}

#[test]
fn check_says_how_to_name_the_rules_folder_and_reads_licgate_rules() {
    let place = Place::new("rulesenv");
    let mail = root().join("tests/golden/plain-text-accepted.eml");
    let run = |env: Option<&Path>| {
        let mut command = Command::new(env!("CARGO_BIN_EXE_licgate"));
        command.current_dir(&place.0).env_remove("LICGATE_RULES");
        if let Some(dir) = env {
            command.env("LICGATE_RULES", dir);
        }
        command.arg("check").arg(&mail).output().unwrap()
    };
    let output = run(None);
    assert_eq!(output.status.code(), Some(2));
    assert_eq!(
        text(&output.stderr),
        "licgate: rules: no rules folder here; pass --rules DIR or set LICGATE_RULES to the \
         folder holding licences.toml, clients.toml, calendar.toml and upgrades.toml\n"
    );
    let output = run(Some(&root().join("rules")));
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
}

#[test]
fn connect_tries_each_step_and_names_the_one_that_failed() {
    let stack = support::Stack::start();
    let config = stack.config("");
    let connect = |config: &Path| {
        licgate(&[
            "config",
            "check",
            "--quiet",
            "--connect",
            "--config",
            config.to_str().unwrap(),
        ])
    };
    let output = connect(&config);
    let err = text(&output.stderr);
    assert_eq!(output.status.code(), Some(0), "{err}");
    for step in [
        format!("ok\u{a0}: connexion IMAP à 127.0.0.1:{}\n", stack.imap_port),
        "ok\u{a0}: ouverture du dossier IMAP «\u{a0}INBOX\u{a0}»\n".to_owned(),
        format!(
            "ok\u{a0}: connexion SMTP à 127.0.0.1:{} (aucun courriel envoyé)\n",
            stack.submission_port
        ),
    ] {
        assert!(err.contains(&step), "{step}\n{err}");
    }
    assert!(!stack.run.join("store").exists(), "nothing created");
    // The SMTP server down: the IMAP steps pass, the SMTP one is named.
    stack.stop_smtp();
    let output = connect(&config);
    let err = text(&output.stderr);
    stack.start_smtp();
    assert_eq!(output.status.code(), Some(1), "{err}");
    assert!(
        err.contains("ok\u{a0}: ouverture du dossier IMAP «\u{a0}INBOX\u{a0}»\n"),
        "{err}"
    );
    assert!(
        err.contains(&format!(
            "échec\u{a0}: connexion SMTP à 127.0.0.1:{}\u{a0}: ",
            stack.submission_port
        )) && !err.contains("aucun courriel envoyé")
            && err.contains("mais cette étape a échoué\u{a0}: connexion SMTP à"),
        "{err}"
    );
    // A wrong password (the same for both servers here): each login is
    // tried and named, in words an operator reads.
    let wrong = stack.run.join("wrong-password");
    std::fs::write(&wrong, "wrong\n").unwrap();
    let config = stack.config_with_auth(
        &format!(
            "method = \"password\"\npassword-file = \"{}\"",
            wrong.display()
        ),
        "",
    );
    let output = connect(&config);
    let err = text(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{err}");
    assert!(
        err.contains(&format!(
            "échec\u{a0}: connexion IMAP à 127.0.0.1:{}\u{a0}: ",
            stack.imap_port
        )),
        "{err}"
    );
    assert!(
        err.contains(&format!(
            "échec\u{a0}: connexion SMTP à 127.0.0.1:{}\u{a0}: ",
            stack.submission_port
        )),
        "{err}"
    );
    assert!(
        err.contains("ces étapes ont échoué\u{a0}: connexion IMAP"),
        "{err}"
    );
    for debug_dump in ["Some(", "code: None", "(reason unavailable): 5.7.8"] {
        assert!(!err.contains(debug_dump), "{err}");
    }
}

// The runbook's configuration reads its secrets from systemd credentials,
// which exist only inside the service: run by the operator, `config check`
// warns instead of refusing; `run` still needs them.
#[test]
fn a_systemd_credential_is_only_warned_of_outside_the_service() {
    let place = Place::new("credential");
    let credential = "/run/credentials/licgate.service/imap-password";
    let config = place.config(|t| {
        t.replacen(
            "password-file = \"secret\"",
            &format!("password-file = \"{credential}\""),
            1,
        )
    });
    let output = Command::new(env!("CARGO_BIN_EXE_licgate"))
        .env_remove("CREDENTIALS_DIRECTORY")
        .args(["config", "check", "--quiet", "--config"])
        .arg(&config)
        .output()
        .unwrap();
    let err = text(&output.stderr);
    assert_eq!(output.status.code(), Some(0), "{err}");
    assert!(
        err.starts_with(&format!(
            "avertissement\u{a0}: {}:{}: imap.auth.password-file: {credential}\u{a0}: un secret remis \
             par systemd (LoadCredential), au seul service, n'est pas lu ici",
            config.display(),
            line_of(&config, &format!("password-file = \"{credential}\""))
        )),
        "{err}"
    );
    // Issue 20: the operator points at the folder LoadCredential= takes the
    // secrets from, as the service would see them.
    let folder = place.0.join("credstore");
    std::fs::create_dir_all(&folder).unwrap();
    let check_with_credentials = || {
        let output = Command::new(env!("CARGO_BIN_EXE_licgate"))
            .env_remove("CREDENTIALS_DIRECTORY")
            .args(["config", "check", "--quiet", "--credentials"])
            .arg(&folder)
            .arg("--config")
            .arg(&config)
            .output()
            .unwrap();
        (output.status.code(), text(&output.stderr))
    };
    std::fs::write(folder.join("imap-password"), "secret\n").unwrap();
    let (code, err) = check_with_credentials();
    assert_eq!(code, Some(0), "{err}");
    assert!(!err.contains("remis par systemd"), "{err}");
    // Found by review: the package creates the credential files empty.
    std::fs::write(folder.join("imap-password"), "").unwrap();
    let (code, err) = check_with_credentials();
    assert_eq!(code, Some(1), "{err}");
    assert!(
        err.contains("imap-password est vide\u{a0}: écrivez-y le secret"),
        "{err}"
    );
    std::fs::remove_file(folder.join("imap-password")).unwrap();
    let (code, err) = check_with_credentials();
    assert_eq!(code, Some(1), "{err}");
    assert!(
        err.contains("imap-password illisible (fichier absent)"),
        "{err}"
    );
    let err = licgate::config::Config::load(&config).unwrap_err();
    assert!(
        format!("{err:#}").contains("un secret remis par systemd n'existe que dans le service"),
        "{err:#}"
    );
}

/// The daemon's log file, once it holds `decided` lines for `count` mails.
async fn log_once_decided(config: &Path, count: usize) -> String {
    let path = config.with_extension("log");
    support::eventually(
        std::time::Duration::from_secs(30),
        "the decisions logged",
        || async {
            std::fs::read_to_string(&path)
                .unwrap_or_default()
                .matches(" décidé ")
                .count()
                >= count
        },
    )
    .await;
    std::fs::read_to_string(&path).unwrap()
}

// Issue 13: the log did not say what was decided, nor which version started
// with which configuration; LICGATE_LOG=debug was drowned in sled's lines.
#[tokio::test]
async fn the_log_says_what_started_and_what_was_decided() {
    use support::*;
    let stack = Stack::start();
    let config = stack.config("");
    stack.append(GATEWAY, &ajout("log-ok"), MONDAY_10H).await;
    stack
        .append(
            GATEWAY,
            &request("log-refused", AJOUT, "Business Premium", ""),
            MONDAY_10H,
        )
        .await;
    let daemon = Daemon::start_with(&config, "debug", None);
    let log = log_once_decided(&config, 2).await;
    assert!(daemon.terminate());
    let start = log
        .lines()
        .find(|l| l.contains(" démarrage "))
        .expect("a start line");
    for field in [
        format!("version={}", env!("CARGO_PKG_VERSION")),
        format!("config={}", config.display()),
        format!("imap=127.0.0.1:{}", stack.imap_port),
        "mailbox=INBOX".to_owned(),
        "licences=555".to_owned(),
        "clients=".to_owned(),
    ] {
        assert!(start.contains(&field), "{field} not in {start}");
    }
    let decided: Vec<&str> = log.lines().filter(|l| l.contains(" décidé ")).collect();
    let accepted = decided
        .iter()
        .find(|l| l.contains("outcome=accepted"))
        .expect("{log}");
    for field in [
        "sender=\"tech@example.test\"",
        "client=\"Boulangerie Martin\"",
        "action=ajout",
        "licence=\"Microsoft 365 Business Standard\"",
        "quantity=1",
        "problems= ",
    ] {
        assert!(accepted.contains(field), "{field} not in {accepted}");
    }
    let refused = decided
        .iter()
        .find(|l| l.contains("outcome=rejected"))
        .expect("{log}");
    assert!(refused.contains("problems=licence_unknown "), "{refused}");
    assert!(!log.contains(PASSWORD), "a secret in the log");
    assert!(!log.contains("Nom du client"), "a mail's body in the log");
    assert!(!log.contains("sled::"), "sled's debug lines without asking");
    // Asked for, they are there.
    stack.append(GATEWAY, &ajout("log-again"), MONDAY_10H).await;
    let daemon = Daemon::start_with(&config, "debug,sled=debug", None);
    let log = log_once_decided(&config, 3).await;
    assert!(daemon.terminate());
    assert!(log.contains("sled::"), "{log}");
}

// The store's folder must be writable by the user the daemon runs as; root
// writes anywhere, so the check runs as `nobody` (setpriv, util-linux).
#[test]
fn a_store_folder_the_user_cannot_write_is_refused() {
    let place = Place::new("readonly");
    let config = place.config(|t| t);
    let output = Command::new("setpriv")
        .args(["--reuid=65534", "--regid=65534", "--clear-groups"])
        .arg(env!("CARGO_BIN_EXE_licgate"))
        .args(["config", "check", "--quiet", "--config"])
        .arg(&config)
        .output()
        .expect("setpriv (util-linux) runs");
    let err = text(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{err}");
    assert!(
        err.starts_with(&format!(
            "erreur\u{a0}: {}:{}: store.path: {}\u{a0}: le dossier qui tiendra la base de données n'est \
             pas accessible en écriture à cet utilisateur\u{a0}: lancez la commande en tant que \
             l'utilisateur du démon (runuser -u licgate -- licgate …), ou donnez-lui le dossier",
            config.display(),
            line_of(&config, "path = \"store\""),
            place.0.display()
        )),
        "{err}"
    );
}

// Issue 18, low items and item 9: the unit handed no `oauth-client-secret`
// although the README and the example point to one; a configuration refused
// at start restarted the unit every 10 s for ever; a purge left
// /var/lib/licgate (raw mails) to a freed UID.
#[test]
fn the_unit_hands_every_credential_named_stops_retrying_and_a_purge_removes_the_store() {
    let read = |path: &str| std::fs::read_to_string(root().join(path)).unwrap();
    let unit = read("deploy/licgate.service");
    let postinst = read("deploy/debian/postinst");
    let prefix = "/run/credentials/licgate.service/";
    let named: std::collections::BTreeSet<String> =
        [read("config/licgate.example.toml"), read("README.md")]
            .iter()
            .flat_map(|text| {
                text.split(prefix)
                    .skip(1)
                    .map(str::to_owned)
                    .collect::<Vec<_>>()
            })
            .map(|rest| {
                rest.chars()
                    .take_while(|c| c.is_ascii_alphanumeric() || *c == '-')
                    .collect()
            })
            .filter(|name: &String| !name.is_empty())
            .collect();
    assert!(named.contains("oauth-client-secret"), "{named:?}");
    for name in &named {
        let line = format!("LoadCredential={name}:/etc/licgate/credentials/{name}\n");
        assert!(unit.contains(&line), "the unit lacks {line}");
        assert!(
            postinst.contains(name.as_str()),
            "postinst does not create {name}"
        );
    }
    assert!(unit.contains("\nStartLimitIntervalSec="), "{unit}");
    assert!(unit.contains("\nStartLimitBurst="), "{unit}");
    let postrm = read("deploy/debian/postrm");
    let purge = postrm.split("\"$1\" = purge").nth(1).unwrap();
    assert!(purge.contains("rm -rf /var/lib/licgate\n"), "{postrm}");
}
