//! `licgate check`: judges mail files (or stdin) and prints verdicts as text or JSON.

use std::fmt::Write as _;
use std::io::{Read, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use jiff::Timestamp;
use licgate::{Limits, Outcome, Rules, Verdict, check};
use serde::Serialize;

use super::{EXIT_ERROR, Format, RulesDir};

#[derive(Debug, clap::Args)]
pub struct CheckArgs {
    #[command(flatten)]
    rules: RulesDir,
    /// Reception time (RFC 3339, e.g. 2026-11-23T10:15:00+01:00). Default: the
    /// newest Received: header's date, else the Date: header.
    #[arg(long, value_name = "RFC3339")]
    at: Option<Timestamp>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    format: Format,
    /// Mails larger than this many bytes are rejected as too_large.
    #[arg(long, value_name = "BYTES", default_value_t = Limits::default().max_message_size)]
    max_size: usize,
    /// Mails with more MIME parts than this are unreadable, judged from their header.
    #[arg(long, value_name = "PARTS", default_value_t = Limits::default().max_mime_parts)]
    max_mime_parts: usize,
    /// Most licences one request may add or remove (quantity_too_large above).
    #[arg(long, value_name = "N", default_value_t = Limits::default().max_quantity)]
    max_quantity: u32,
    /// Mail files (RFC 5322, .eml); `-` reads standard input.
    #[arg(required = true, value_name = "FILE")]
    files: Vec<PathBuf>,
}

/// One line of `--format json`.
#[derive(Serialize)]
struct JsonReport<'a> {
    file: String,
    #[serde(flatten)]
    verdict: &'a Verdict,
}

pub fn run(args: CheckArgs) -> anyhow::Result<ExitCode> {
    if let Some(at) = args.at.filter(|at| !licgate::rules::reckoned(*at)) {
        let years = licgate::rules::RECKONED_YEARS;
        anyhow::bail!(
            "--at {at}\u{a0}: le calendrier ne compte qu'entre les années {} et {}\u{a0}; donnez \
             une heure de réception dans cet intervalle",
            years.start(),
            years.end()
        );
    }
    let rules = args.rules.load()?;
    let limits = Limits {
        max_message_size: args.max_size,
        max_mime_parts: args.max_mime_parts,
        max_quantity: args.max_quantity,
    };
    // NOTE: one judgement thread for the whole run: a thread with its large
    // stack per file cost more in the kernel than the judgement itself.
    licgate::judge::on_judgement_stack(|| judge_files(&args, &rules, &limits))
}

/// Judges each file in turn and prints its verdict; the exit code.
fn judge_files(args: &CheckArgs, rules: &Rules, limits: &Limits) -> anyhow::Result<ExitCode> {
    let mut stdout = std::io::stdout().lock();
    let (mut all_accepted, mut io_error) = (true, false);
    for path in &args.files {
        let name = path.display().to_string();
        let raw = match read_mail(path) {
            Ok(raw) => raw,
            Err(err) => {
                eprintln!("licgate: {name}: {err:#}");
                io_error = true;
                continue;
            }
        };
        let verdict = check(&raw, rules, args.at, limits);
        all_accepted &= verdict.outcome == Outcome::Accepted;
        let output = match args.format {
            Format::Json => {
                serde_json::to_string(&JsonReport {
                    file: name,
                    verdict: &verdict,
                })? + "\n"
            }
            Format::Text => render_text(&name, &verdict, rules),
        };
        stdout
            .write_all(output.as_bytes())
            .context("cannot write to standard output")?;
    }
    Ok(match (io_error, all_accepted) {
        (true, _) => ExitCode::from(EXIT_ERROR),
        (false, true) => ExitCode::SUCCESS,
        (false, false) => ExitCode::from(1),
    })
}

fn read_mail(path: &PathBuf) -> anyhow::Result<Vec<u8>> {
    let mut raw = Vec::new();
    if path.as_os_str() == "-" {
        std::io::stdin()
            .lock()
            .read_to_end(&mut raw)
            .context("entrée standard illisible")?;
    } else {
        raw = std::fs::read(path).map_err(|err| {
            anyhow::anyhow!(
                "{} : fichier illisible ({})",
                path.display(),
                licgate::text::io_reason(&err)
            )
        })?;
    }
    Ok(raw)
}

/// The verdict for a person: one line per fact, the reply indented below.
fn render_text(name: &str, verdict: &Verdict, rules: &Rules) -> String {
    // NOTE: the words of the replies' subjects; `--format json` gives the
    // stable codes (`accepted`…) for scripts.
    let outcome = match verdict.outcome {
        Outcome::Accepted => "ACCEPTÉE",
        Outcome::Held => "À CONFIRMER",
        Outcome::Rejected => "REFUSÉE",
        Outcome::Ignored => "IGNORÉE",
        Outcome::Quarantined => "QUARANTAINE",
    };
    let mut out = format!("{name} : {outcome} ({})\n", verdict.request_id);
    let mut line = |label: &str, value: &str| {
        let _ = writeln!(out, "  {label:<9} {value}");
    };
    if let Some(at) = verdict.received_at {
        let zone = &rules.calendar.time_zone;
        line(
            "reçue",
            &format!(
                "{} ({})",
                licgate::rules::french_date_time(&at.to_zoned(zone.clone())),
                zone.iana_name().unwrap_or("heure locale")
            ),
        );
    }
    line("de", verdict.from.as_deref().unwrap_or("-"));
    line("objet", verdict.subject.as_deref().unwrap_or("-"));
    let request = &verdict.request;
    let parts = [
        request.action.map_or("-", |a| a.tag()).to_owned(),
        request.client.clone().unwrap_or_else(|| "-".into()),
        match (&request.from_licence, &request.licence) {
            (Some(from), Some(to)) => format!("{from} -> {to}"),
            (_, licence) => licence.clone().unwrap_or_else(|| "-".into()),
        },
        request
            .quantity
            .map_or_else(|| "-".into(), |q| format!("{q:+}")),
        if request.users.is_empty() {
            "-".into()
        } else {
            request.users.join(", ")
        },
        request.address.clone().unwrap_or_else(|| "-".into()),
        match request.remote_desktop {
            Some(true) => "bureau à distance : OUI".into(),
            Some(false) => "bureau à distance : NON".into(),
            None => "bureau à distance : -".into(),
        },
    ];
    line("demande", &parts.join(" | "));
    if let Some(ticket) = &request.ticket {
        line("ticket", ticket);
    }
    if let Some(refused) = &verdict.corrects {
        line("corrige", refused);
    }
    for problem in &verdict.problems {
        let field = problem
            .field
            .map(|f| format!(" [{}]", f.label()))
            .unwrap_or_default();
        line(
            "problème",
            &format!("{}{field} : {}", problem.code.as_str(), problem.message),
        );
    }
    for warning in &verdict.warnings {
        line(
            "à noter",
            &format!("{} : {}", warning.code.as_str(), warning.message),
        );
    }
    if let Some(reply) = &verdict.reply {
        line("réponse", &reply.subject);
        for body_line in reply.body.lines() {
            let _ = writeln!(out, "  {:<9} | {body_line}", "");
        }
    }
    out.push('\n');
    licgate::text::typography(&out)
}
