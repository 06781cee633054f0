//! The judgement, pure: mail bytes + rules + reception time -> [`Verdict`].
//!
//! No clock, no network, no disk: the daemon and `licgate check` both call
//! [`check`], so what a technician sees offline is what the daemon decides.
//! A rejected request is a verdict like any other; nothing here fails or panics.

use jiff::Timestamp;
use sha2::{Digest, Sha256};

pub(crate) mod confirmation;
pub(crate) mod correction;
pub(crate) mod history;
pub(crate) mod reply;
pub(crate) mod request;
pub(crate) mod state_query;
pub(crate) mod ticket;
pub(crate) mod verdict;

pub use confirmation::{CommandKeys, Held};
pub use history::{CANCELLATION_DAYS, Cancellable, Movement, user_keys};
pub use reply::expiry_notice;
pub use request::{Action, Field, Request};
pub use state_query::StateQuery;
pub use verdict::{
    MASKED_CODE, Outcome, Problem, ProblemCode, Reply, Verdict, Warning, WarningCode,
};

use crate::mail::{self, Mail};
use crate::rules::{Client, LicenceMatch, Rules, Window};
use crate::text;
use confirmation::{Answer, Command};
use reply::Template;
use request::{Fields, Sign, SubjectIssue};

/// Fields with a value in a complete request: client, licence, quantity,
/// users and remote desktop (an upgrade has one more, the address is
/// optional).
const FIELDS_OF_A_REQUEST: usize = 5;

/// Bounds on what is read and accepted: with them, judging any mail costs
/// time and memory linear in its size.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Mails larger than this (in bytes) are rejected as `too_large` from their headers alone.
    pub max_message_size: usize,
    /// Mails with more MIME parts than this are `unreadable` from their
    /// headers alone: nested parts cost stack and memory beyond their size.
    pub max_mime_parts: usize,
    /// Most licences one request may add or remove (`quantity_too_large`).
    pub max_quantity: u32,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            max_message_size: 10 * 1024 * 1024,
            max_mime_parts: 1000,
            max_quantity: 1000,
        }
    }
}

/// Stack of the thread every judgement runs on, in the daemon and in
/// `licgate check` alike (so the daemon's probe process behaves as the
/// daemon): mail-parser recurses once per nested message while copying a
/// decoded part, and a default 2 MiB stack overflows at a few thousand
/// levels. Only the pages used are ever committed.
pub const JUDGEMENT_STACK: usize = 256 * 1024 * 1024;

/// Runs `work` (judgements) on a thread with [`JUDGEMENT_STACK`].
pub fn on_judgement_stack<T: Send>(work: impl FnOnce() -> T + Send) -> T {
    std::thread::scope(|scope| {
        let thread = std::thread::Builder::new()
            .name("judgement".into())
            .stack_size(JUDGEMENT_STACK)
            .spawn_scoped(scope, work);
        match thread {
            Ok(thread) => thread
                .join()
                .unwrap_or_else(|panic| std::panic::resume_unwind(panic)),
            Err(err) => panic!("no thread for the judgement: {err}"),
        }
    })
}

/// Judges one mail.
///
/// `received_at` is the reception time (the server's INTERNALDATE in the
/// daemon); without it, the mail's newest `Received:` date, else its `Date:`.
pub fn check(
    raw: &[u8],
    rules: &Rules,
    received_at: Option<Timestamp>,
    limits: &Limits,
) -> Verdict {
    Judge {
        rules,
        limits,
        history: &[],
        held: &[],
        now: None,
        keys: None,
        refusals: None,
    }
    .check(raw, received_at)
}

/// The judgement with everything it weighs a mail against, including the
/// requests accepted before (for `duplicate_request`) and those held for
/// confirmation; [`check`] judges a mail alone, as `licgate check` does
/// offline.
#[derive(Clone, Copy)]
pub struct Judge<'a> {
    /// The rules files.
    pub rules: &'a Rules,
    /// Size limit.
    pub limits: &'a Limits,
    /// The accepted and held requests so far
    /// ([`crate::records::ledger::movements`]).
    pub history: &'a [Movement],
    /// The requests waiting for their requester's confirmation.
    pub held: &'a [Held],
    /// When the daemon decides (`None` offline): a request held long after
    /// its reception (a daemon stopped over a weekend) still gets a
    /// deadline after it.
    pub now: Option<Timestamp>,
    /// The server's keys that code confirmations (`None` offline: a held
    /// request's reply then shows no code, and no command is taken).
    pub keys: Option<&'a CommandKeys>,
    /// Which request ids are refusals licgate really sent (`None` offline:
    /// any quoted refusal is taken as one).
    pub refusals: Option<&'a dyn Fn(&str) -> bool>,
}

impl Judge<'_> {
    /// Judges one mail; see [`check`].
    pub fn check(&self, raw: &[u8], received_at: Option<Timestamp>) -> Verdict {
        self.judge(raw, raw.len(), received_at, None)
    }

    /// Judges one mail under the request id `id` rather than the one of its
    /// Message-ID: the daemon's choice when another mail already came with
    /// that Message-ID (see [`id_of`]).
    pub fn check_as(&self, raw: &[u8], received_at: Option<Timestamp>, id: &str) -> Verdict {
        self.judge(raw, raw.len(), received_at, Some(id))
    }

    /// Judges a mail known only by its header and its size, as a mailbox
    /// server announces them: a mail over the size limit need not be
    /// downloaded whole. A mail within the limit gets `unreadable`: fetch it
    /// whole and call [`Judge::check`].
    pub fn check_header(
        &self,
        header: &[u8],
        size: usize,
        received_at: Option<Timestamp>,
    ) -> Verdict {
        self.judge(header, size.max(header.len()), received_at, None)
    }

    /// [`Judge::check_header`] under the request id `id` (see [`Judge::check_as`]).
    pub fn check_header_as(
        &self,
        header: &[u8],
        size: usize,
        received_at: Option<Timestamp>,
        id: &str,
    ) -> Verdict {
        self.judge(header, size.max(header.len()), received_at, Some(id))
    }

    fn judge(
        &self,
        raw: &[u8],
        size: usize,
        received_at: Option<Timestamp>,
        id: Option<&str>,
    ) -> Verdict {
        let Judge {
            rules,
            limits,
            history,
            held,
            now,
            keys,
            refusals,
        } = *self;
        let too_large = size > limits.max_message_size;
        let shape = mail::shape(raw);
        let too_complex =
            shape.parts > limits.max_mime_parts || shape.multiparts > mail::MAX_MULTIPARTS;
        let too_many_header_lines = shape.header_lines > mail::MAX_HEADER_LINES;
        let mail = if too_large || too_complex {
            mail::read_headers(&raw[..raw.len().min(mail::MAX_HEADER_BYTES)])
        } else {
            mail::read(raw)
        }
        .unwrap_or_default();
        // NOTE: a time the calendar cannot reckon with (a `Date:` of the year
        // 9999) is no reception time: the window is then not checked, said so.
        let received_at = received_at
            .or(mail.header_time)
            .filter(|at| crate::rules::reckoned(*at));
        let id = id.map_or_else(|| request_id(&mail, raw), str::to_owned);
        let mut judgement = Judgement::new(rules, limits);
        judgement.now = now;
        judgement.keys = keys;

        if too_large {
            judgement
                .problems
                .push(Problem::too_large(size, limits.max_message_size));
        } else if too_many_header_lines {
            judgement
                .problems
                .push(Problem::too_many_header_lines(mail::MAX_HEADER_LINES));
        } else if too_complex {
            judgement
                .problems
                .push(Problem::too_many_parts(limits.max_mime_parts));
        }
        // `CONFIRMER LG-…` or `ANNULER LG-…`: the second step of a held request.
        if let Some(command) = mail.body.as_deref().and_then(confirmation::command)
            && mail.automatic.is_none()
            && judgement.problems.is_empty()
        {
            return judgement.confirmation(&mail, &command, held, id, received_at);
        }
        let fields = mail.body.as_deref().map(|body| {
            let text = request::parse_fields(body);
            // Issue 19, item 2: Outlook's text part of a pasted table may
            // lose what its HTML keeps as rows; the HTML is read only then.
            match mail.alternative.as_deref() {
                Some(html) if text.filled() < FIELDS_OF_A_REQUEST => {
                    let html = request::parse_fields(html);
                    if html.filled() > text.filled() {
                        html
                    } else {
                        text
                    }
                }
                _ => text,
            }
        });
        // An answer to a refusal is judged on the template it quotes, as
        // edited; a template in the new text wins over anything quoted.
        let correction = match &fields {
            Some(fields) if fields.is_empty() => {
                let subject = mail.subject.as_deref().unwrap_or_default();
                mail.quoted
                    .as_deref()
                    .and_then(|text| correction::quoted_refusal(text, subject, &mail.references))
                    // NOTE: a made-up `(LG-…)` is no refusal: the mail is
                    // then judged on its new text alone.
                    .filter(|quoted| refusals.is_none_or(|sent| sent(&quoted.refused)))
            }
            _ => None,
        };
        // A question about a client (`[ÉTAT]`) is no request either.
        if correction.is_none() {
            judgement.state_query = state_query::recognise(
                mail.subject.as_deref().unwrap_or_default(),
                mail.body.as_deref(),
                &rules.tickets,
            );
        }
        // An answer to an acceptance (a question, a thank-you) is no request;
        // an answer to `[À CONFIRMER]` without a command is none either.
        if correction.is_none() && fields.as_ref().is_some_and(|f| f.is_empty()) {
            judgement.answers_acceptance = mail
                .quoted
                .as_deref()
                .and_then(correction::quoted_acceptance);
            let subject = mail.subject.as_deref().unwrap_or_default();
            if let Some(answered) = request::answered_hold(subject)
                && mail.automatic.is_none()
            {
                let held = held.iter().find(|h| h.request_id == answered);
                // NOTE: someone else's answer is told whose request it is,
                // not its deadline.
                let by_another = held.is_some_and(|h| {
                    mail.from.as_deref().map(str::to_lowercase).as_deref() != Some(&h.requester)
                });
                let deadline = held.filter(|_| !by_another).map(|h| h.confirm_before);
                judgement.problems = vec![if by_another {
                    Problem::confirmation_sender(&answered)
                } else {
                    Problem::confirmation_missing(&answered)
                }];
                return judgement.answer_to_hold(&mail, &answered, deadline, id, received_at);
            }
        }
        match &correction {
            Some(quoted) => {
                judgement.subject(&quoted.subject);
                judgement.fields(&request::parse_fields(&quoted.template));
                judgement.body_tickets(&quoted.template);
            }
            None => {
                judgement.subject(mail.subject.as_deref().unwrap_or_default());
                if let Some(body) = &mail.body {
                    judgement.body_tickets(body);
                }
            }
        }
        match (&fields, &correction) {
            (_, Some(_)) => {}
            (Some(fields), None) => judgement.fields(fields),
            (None, None) if !too_large && !too_complex && !too_many_header_lines => {
                judgement.problems.push(Problem::unreadable())
            }
            (None, None) => {}
        }
        match received_at {
            Some(at) => {
                judgement.window(at);
                judgement.duplicate(history, at);
            }
            None => judgement.warnings.push(Warning::reception_time_unknown()),
        }
        judgement.corrects = correction.map(|quoted| quoted.refused);
        judgement.finish(&mail, id, received_at)
    }
}

/// What is found while judging one mail.
struct Judgement<'r> {
    rules: &'r Rules,
    limits: &'r Limits,
    problems: Vec<Problem>,
    warnings: Vec<Warning>,
    request: Request,
    /// The client the request is for, once resolved.
    client: Option<&'r Client>,
    /// The client as the subject names it.
    subject_client: Option<String>,
    /// The values to put back in the template of a refusal.
    template: Template,
    /// The accepted request this mail only answers, if it does.
    answers_acceptance: Option<String>,
    /// The refused request whose quoted template this mail corrects.
    corrects: Option<String>,
    /// For a held request: until when it may be confirmed.
    confirm_before: Option<Timestamp>,
    /// When the daemon decides, if it does ([`Judge::now`]).
    now: Option<Timestamp>,
    /// Ticket references found in the subject and the body.
    tickets: Vec<String>,
    /// The question this mail asks instead of a request, if it does.
    state_query: Option<StateQuery>,
    /// The server's keys that code confirmations ([`Judge::keys`]).
    keys: Option<&'r CommandKeys>,
}

impl<'r> Judgement<'r> {
    fn new(rules: &'r Rules, limits: &'r Limits) -> Judgement<'r> {
        Judgement {
            rules,
            limits,
            problems: Vec::new(),
            warnings: Vec::new(),
            request: Request::default(),
            client: None,
            subject_client: None,
            template: Template::default(),
            answers_acceptance: None,
            corrects: None,
            confirm_before: None,
            now: None,
            tickets: Vec::new(),
            state_query: None,
            keys: None,
        }
    }

    fn subject(&mut self, subject: &str) {
        let (subject, tickets) = ticket::from_subject(subject, &self.rules.tickets);
        self.tickets.extend(tickets);
        let parsed = request::parse_subject(&subject);
        self.request.action = parsed.action;
        self.template.action = parsed.action;
        self.template.urgent = parsed.urgent;
        match parsed.issue {
            Some(SubjectIssue::NotTemplate) => self.problems.push(Problem::subject_not_template()),
            Some(SubjectIssue::ActionNotChosen) => {
                self.problems.push(Problem::subject_action_not_chosen())
            }
            Some(SubjectIssue::ClientMissing) => {
                self.problems.push(Problem::subject_client_missing())
            }
            None => {}
        }
        self.subject_client = parsed.client;
    }

    fn body_tickets(&mut self, body: &str) {
        let tickets = ticket::from_body(body, &self.rules.tickets);
        self.tickets.extend(tickets);
    }

    fn fields(&mut self, fields: &Fields) {
        // No field at all: one line saying the template is absent, not six.
        if fields.is_empty() {
            return self.problems.push(Problem::template_missing());
        }
        let first = |field: Field| fields.values(field).first().map(String::as_str);
        for field in fields.too_long() {
            self.problems.push(Problem::field_too_long(*field));
        }
        // A ticket line is read, as a ticket ([`ticket::from_body`]).
        for line in fields.ignored() {
            let label = line.split([':', '\u{FF1A}']).next().unwrap_or_default();
            if !self.rules.tickets.is_label(label) {
                self.warnings.push(Warning::line_ignored(line));
            }
        }
        let mut conflicts = Vec::new();
        for &field in Field::template(self.request.action) {
            let distinct = distinct_values(fields.values(field));
            if distinct.len() > 1 {
                self.problems
                    .push(Problem::field_duplicate(field, &distinct));
                conflicts.push((field, distinct));
            }
        }
        self.client(first(Field::Client));
        if self.request.action == Some(Action::MiseANiveau) {
            self.upgrade(first(Field::CurrentLicence), first(Field::TargetLicence));
        } else {
            self.licence(first(Field::Licence));
        }
        let count = self.quantity(first(Field::Quantity));
        self.users(first(Field::Users), first(Field::Address), count);
        self.remote_desktop(first(Field::RemoteDesktop));
        // Conflicting values go back as a question, which resending
        // unchanged cannot pass (a placeholder).
        for (field, values) in conflicts {
            let values: Vec<String> = values
                .iter()
                .take(5)
                .map(|v| text::clean_line(v, 60))
                .collect();
            let question = format!("[{} ?]", values.join(" ou "));
            match field {
                Field::Client => self.template.client = Some(question),
                field => self.template.set(field, &question),
            }
        }
    }

    fn client(&mut self, written: Option<&str>) {
        let clients = &self.rules.clients;
        let in_subject = self.subject_client.clone();
        let subject_known = in_subject.as_deref().and_then(|c| clients.lookup(c));
        let Some(written) = written else {
            self.problems
                .push(Problem::field_missing(Field::Client, self.request.action));
            if let Some(name) = &in_subject
                && subject_known.is_none()
            {
                self.problems.push(Problem::client_unknown(
                    Field::Subject,
                    name,
                    clients.suggest(name),
                ));
            }
            self.client = subject_known;
            self.request.client = subject_known.map(|c| c.name.clone()).or(in_subject);
            self.template.client = self.request.client.clone();
            return;
        };
        let known = clients.lookup(written);
        let name_of = |client: Option<&Client>, raw: &str| {
            client.map_or_else(|| raw.to_owned(), |c| c.name.clone())
        };
        let identity = |known: Option<&Client>, raw: &str| {
            known.map_or_else(|| text::words(raw), |c| text::words(&c.name))
        };
        self.template.client = Some(name_of(known, written));
        let unknown_in_body = |judgement: &mut Judgement| {
            let suggestion = clients.suggest(written);
            judgement
                .problems
                .push(Problem::client_unknown(Field::Client, written, suggestion));
        };
        match (&in_subject, subject_known, known) {
            (None, _, None) => unknown_in_body(self),
            (Some(subject), _, _)
                if identity(subject_known, subject) == identity(known, written) =>
            {
                if known.is_none() {
                    unknown_in_body(self);
                }
            }
            // One typo, one line: the known name is given back.
            (Some(_), Some(in_subject), None) => {
                unknown_in_body(self);
                self.template.client = Some(in_subject.name.clone());
            }
            (Some(subject), None, Some(_)) => {
                let suggestion = clients.suggest(subject);
                self.problems
                    .push(Problem::client_unknown(Field::Subject, subject, suggestion));
            }
            // Two names: both given back, as a question resending cannot pass.
            (Some(subject), in_subject, _) => {
                if known.is_none() {
                    unknown_in_body(self);
                }
                self.problems
                    .push(Problem::client_mismatch(subject, written));
                self.template.client = Some(format!(
                    "[{} ou {} ?]",
                    name_of(in_subject, subject),
                    name_of(known, written)
                ));
            }
            (None, _, Some(_)) => {}
        }
        self.client = known;
        self.request.client = Some(name_of(known, written));
    }

    fn licence(&mut self, written: Option<&str>) {
        let Some(written) = written else {
            return self
                .problems
                .push(Problem::field_missing(Field::Licence, self.request.action));
        };
        let official = self.official_licence(Field::Licence, written);
        self.annual(official);
        self.request.licence = Some(official.unwrap_or(written).to_owned());
        self.template
            .set(Field::Licence, official.unwrap_or(written));
    }

    /// The official name `written` in `field` stands for, if any; a problem
    /// (or, for a name only differing in case or spacing, a warning) otherwise.
    /// The target of an upgrade must be written exactly: it is copied from
    /// the client's tenant, and an irreversible order is never guessed.
    fn official_licence(&mut self, field: Field, written: &str) -> Option<&'r str> {
        match self.rules.catalog.lookup(written) {
            LicenceMatch::Exact(official) => Some(official),
            LicenceMatch::Normalised(official) if field == Field::TargetLicence => {
                self.problems
                    .push(Problem::licence_not_exact(written, official));
                Some(official)
            }
            LicenceMatch::Normalised(official) => {
                self.warnings
                    .push(Warning::licence_normalised(written, official));
                Some(official)
            }
            LicenceMatch::Internal(stands_for) => {
                self.problems
                    .push(Problem::licence_internal_name(field, written, stands_for));
                None
            }
            LicenceMatch::Unknown(suggestions) => {
                self.problems
                    .push(Problem::licence_unknown(field, written, &suggestions));
                None
            }
        }
    }

    /// The two licences of an upgrade, and whether the path is allowed.
    fn upgrade(&mut self, current: Option<&str>, target: Option<&str>) {
        let official = |judgement: &mut Self, field: Field, written: Option<&str>| {
            let Some(written) = written else {
                let action = judgement.request.action;
                judgement
                    .problems
                    .push(Problem::field_missing(field, action));
                return (None, None);
            };
            let official = judgement.official_licence(field, written);
            // A target not written exactly comes back as written: resending
            // it unchanged must not pass.
            let given_back = match official {
                Some(official) if field == Field::TargetLicence && official != written => written,
                official => official.unwrap_or(written),
            };
            judgement.template.set(field, given_back);
            (official, Some(given_back.to_owned()))
        };
        let (from, from_written) = official(self, Field::CurrentLicence, current);
        let (to, to_written) = official(self, Field::TargetLicence, target);
        self.request.from_licence = from_written;
        self.request.licence = to_written;
        if let (Some(from), Some(to)) = (from, to) {
            if from == to {
                self.problems.push(Problem::upgrade_same_licence(from));
            } else if !self.rules.upgrades.allows(from, to) {
                let targets = self.rules.upgrades.targets(from);
                self.problems
                    .push(Problem::upgrade_path_unknown(from, to, &targets));
            }
        }
        self.annual(to);
    }

    /// The warning for a licence billed yearly for the client.
    fn annual(&mut self, official: Option<&str>) {
        // NOTE: said only for a client verified: not in a refusal that
        // doubts which client is meant.
        let client_doubted = self.problems.iter().any(|p| {
            matches!(
                p.code,
                ProblemCode::ClientUnknown | ProblemCode::ClientMismatch
            )
        });
        if let (Some(official), Some(client)) = (official, self.client)
            && client.annual.iter().any(|annual| annual == official)
            && !client_doubted
        {
            let action = self.request.action;
            self.warnings
                .push(Warning::annual_licence(official, &client.name, action));
        }
    }

    /// Checks the quantity; returns the count of licences when it is readable.
    fn quantity(&mut self, written: Option<&str>) -> Option<u32> {
        let Some(written) = written else {
            self.problems
                .push(Problem::field_missing(Field::Quantity, self.request.action));
            return None;
        };
        self.template.set(Field::Quantity, written);
        let Some(quantity) = request::parse_quantity(written) else {
            self.problems
                .push(Problem::quantity_invalid(written, self.request.action));
            return None;
        };
        if quantity.count > self.limits.max_quantity {
            self.problems.push(Problem::quantity_too_large(
                quantity.count,
                self.limits.max_quantity,
            ));
        }
        let count = i64::from(quantity.count);
        let signed = match (quantity.sign, self.request.action) {
            // An upgrade moves N licences: never negative, `N` or `+N`.
            (Some(Sign::Minus), Some(Action::MiseANiveau)) => {
                self.problems
                    .push(Problem::quantity_sign(Action::MiseANiveau));
                count
            }
            (_, Some(Action::MiseANiveau)) => count,
            (Some(Sign::Minus), Some(Action::Ajout)) => {
                self.problems.push(Problem::quantity_sign(Action::Ajout));
                -count
            }
            (Some(Sign::Plus), Some(Action::Suppression)) => {
                self.problems
                    .push(Problem::quantity_sign(Action::Suppression));
                count
            }
            (Some(Sign::Minus), _) => -count,
            (Some(Sign::Plus), _) => count,
            (None, action) => {
                let signed = if action == Some(Action::Suppression) {
                    -count
                } else {
                    count
                };
                if action.is_some() {
                    self.warnings.push(Warning::quantity_unsigned(signed));
                    // Given back with the sign it was read with.
                    self.template.set(Field::Quantity, &format!("{signed:+}"));
                }
                signed
            }
        };
        self.request.quantity = Some(signed);
        Some(quantity.count)
    }

    fn users(&mut self, names: Option<&str>, address: Option<&str>, count: Option<u32>) {
        let users = names.map(request::split_users).unwrap_or_default();
        if users.is_empty() && address.is_none() {
            self.problems.push(Problem::user_missing());
        }
        // NOTE: each name is a licence bought: a note among the names, or a
        // person written twice, would be paid for as one more person.
        if let Some(note) = users.iter().find(|u| !request::names_a_person(u)) {
            self.problems.push(Problem::user_not_a_person(note));
        }
        if let Some(twice) = request::written_twice(&users) {
            self.problems.push(Problem::user_twice(twice));
        }
        if let Some(count) = count.filter(|c| !users.is_empty() && users.len() != *c as usize) {
            self.problems.push(Problem::users_count(users.len(), count));
        }
        if let Some(count) = count.filter(|c| users.is_empty() && address.is_some() && *c != 1) {
            self.problems
                .push(Problem::address_count(count, self.request.action));
        }
        self.template.set(Field::Users, &users.join(", "));
        self.request.users = users;
        let Some(address) = address else { return };
        self.template.set(Field::Address, address);
        self.request.address = Some(address.to_owned());
        if !text::is_email_address(address) {
            return self.problems.push(Problem::address_invalid(address));
        }
        let domain = address
            .rsplit('@')
            .next()
            .unwrap_or_default()
            .to_lowercase();
        if let Some(client) = self.client.filter(|c| !c.domains.is_empty())
            && !client.domains.contains(&domain)
        {
            self.problems.push(Problem::address_domain(
                address,
                &client.name,
                &client.domains,
            ));
        }
    }

    fn remote_desktop(&mut self, written: Option<&str>) {
        let Some(written) = written else {
            return self.problems.push(Problem::field_missing(
                Field::RemoteDesktop,
                self.request.action,
            ));
        };
        self.template.set(Field::RemoteDesktop, written);
        match request::parse_yes_no(written) {
            Some(yes) => {
                self.request.remote_desktop = Some(yes);
                self.template
                    .set(Field::RemoteDesktop, if yes { "OUI" } else { "NON" });
            }
            None => self.problems.push(Problem::remote_desktop_invalid(written)),
        }
    }

    fn window(&mut self, received_at: Timestamp) {
        let calendar = &self.rules.calendar;
        match calendar.window(received_at) {
            Window::Open => {}
            Window::OutsideHours { next_opening } => {
                self.warnings
                    .push(Warning::outside_office_hours(calendar, &next_opening));
            }
            Window::FirstOfMonth { resend_from } => {
                self.problems
                    .push(Problem::window_first_of_month(&resend_from));
            }
            Window::AfterCutoff {
                cutoff,
                resend_from,
            } => {
                self.problems
                    .push(Problem::window_after_cutoff(&cutoff, &resend_from));
            }
        }
    }

    /// A removal already pending for the same client, licence and user, or
    /// the same addition already accepted this month.
    fn duplicate(&mut self, history: &[Movement], received_at: Timestamp) {
        let request = &self.request;
        let (Some(client), Some(licence), Some(quantity)) =
            (self.client, &request.licence, request.quantity)
        else {
            return;
        };
        let tz = &self.rules.calendar.time_zone;
        let received_on = received_at.to_zoned(tz.clone()).date();
        let users = user_keys(&request.users);
        let earlier = history.iter().find(|m| {
            if m.client != client.name || m.licence != *licence {
                return false;
            }
            let before = &m.user_keys;
            if quantity < 0 {
                m.quantity < 0
                    && m.effective_on > received_on
                    && (*before == users || before.iter().any(|u| users.contains(u)))
            } else {
                m.quantity == quantity
                    && *before == users
                    && (m.received_on.year(), m.received_on.month())
                        == (received_on.year(), received_on.month())
            }
        });
        if let Some(first) = earlier {
            let first_received = first.received_at.to_zoned(tz.clone());
            self.problems.push(Problem::duplicate_request(
                &first.request_id,
                &first_received,
            ));
        }
    }

    fn finish(
        mut self,
        mail: &Mail,
        request_id: String,
        received_at: Option<Timestamp>,
    ) -> Verdict {
        let outcome = if let Some(reason) = &mail.automatic {
            self.problems = vec![Problem::auto_submitted(reason)];
            self.warnings.clear();
            Outcome::Ignored
        } else if let Some(accepted) = &self.answers_acceptance {
            self.problems = vec![Problem::answer_to_acceptance(accepted)];
            self.warnings.clear();
            Outcome::Ignored
        } else if let Some(query) = &self.state_query {
            self.problems = vec![Problem::state_query(&query.client)];
            self.warnings.clear();
            self.request = Request {
                client: Some(
                    self.rules
                        .clients
                        .lookup(&query.client)
                        .map_or_else(|| query.client.clone(), |c| c.name.clone()),
                ),
                users: query.user.iter().cloned().collect(),
                ..Request::default()
            };
            Outcome::Ignored
        } else if !self.problems.is_empty() {
            Outcome::Rejected
        } else if self.high_risk() {
            let calendar = &self.rules.calendar;
            // NOTE: counted from the decision when it comes long after the
            // reception: the requester must have the time to answer.
            let asked = match (received_at, self.now) {
                (Some(received), Some(now)) => Some(received.max(now)),
                (received, now) => received.or(now),
            };
            let deadline = asked.map(|at| calendar.confirmation_deadline(at));
            let upgrade = self.request.action == Some(Action::MiseANiveau);
            self.warnings
                .push(Warning::confirmation_required(upgrade, deadline.as_ref()));
            self.confirm_before = deadline.map(|d| d.timestamp());
            Outcome::Held
        } else {
            Outcome::Accepted
        };
        if self.template.client.is_none() {
            self.template.client = self.subject_client.clone();
        }
        self.request.ticket = ticket::join(&self.tickets);
        let mut verdict = Verdict {
            problems: self.problems,
            warnings: self.warnings,
            request: self.request,
            corrects: self.corrects,
            confirm_before: self.confirm_before,
            confirm_code: match outcome {
                Outcome::Held => self.keys.map(|keys| keys.code(&request_id)),
                _ => None,
            },
            ..verdict_on(mail, request_id, received_at, outcome)
        };
        if outcome != Outcome::Ignored {
            verdict.reply = Some(reply::build(&verdict, &self.template, &self.rules.calendar));
        }
        verdict
    }
}

impl Judgement<'_> {
    /// An upgrade (irreversible), or an addition of a licence billed yearly
    /// for the client (12 months): ordered only once its requester confirms.
    fn high_risk(&self) -> bool {
        match self.request.action {
            Some(Action::MiseANiveau) => true,
            Some(Action::Ajout) => self
                .warnings
                .iter()
                .any(|w| w.code == WarningCode::AnnualLicence),
            _ => false,
        }
    }

    /// The refusal of an answer to `[À CONFIRMER]` that says neither
    /// `CONFIRMER` nor `ANNULER` (its problem already pushed).
    /// `deadline` is the held request's, when it is known (not offline).
    fn answer_to_hold(
        self,
        mail: &Mail,
        held: &str,
        deadline: Option<Timestamp>,
        request_id: String,
        received_at: Option<Timestamp>,
    ) -> Verdict {
        let mut verdict = Verdict {
            problems: self.problems,
            ..verdict_on(mail, request_id, received_at, Outcome::Rejected)
        };
        verdict.reply = Some(reply::confirmation_missing(
            &verdict,
            held,
            deadline,
            &self.rules.calendar,
        ));
        verdict
    }

    /// The verdict on `CONFIRMER LG-…` or `ANNULER LG-…`: only the
    /// requester, only for a request still held, only before its deadline
    /// and inside the window.
    fn confirmation(
        mut self,
        mail: &Mail,
        command: &Command,
        held: &[Held],
        request_id: String,
        received_at: Option<Timestamp>,
    ) -> Verdict {
        let id = command.request_id.as_str();
        let sender = mail.from.as_deref().map(str::to_lowercase);
        let target = held.iter().find(|h| h.request_id == id);
        let tz = &self.rules.calendar.time_zone;
        let mut confirms = None;
        let answered = mail.subject.as_deref().and_then(request::answered_hold);
        let outcome = match target {
            // The thread is of another request: which one is meant is unsure.
            _ if answered.as_deref().is_some_and(|answered| answered != id) => {
                let answered = answered.unwrap_or_default();
                self.problems
                    .push(Problem::confirmation_mismatch(id, &answered));
                Outcome::Rejected
            }
            // Written before (or with) the request itself: never an answer
            // to its summary.
            Some(held) if received_at.is_some_and(|at| at <= held.received_at) => {
                self.problems.push(Problem::confirmation_too_early(id));
                Outcome::Rejected
            }
            None => {
                self.problems.push(Problem::confirmation_unknown(id));
                Outcome::Rejected
            }
            Some(held) if sender.as_deref() != Some(held.requester.as_str()) => {
                self.problems.push(Problem::confirmation_sender(id));
                Outcome::Rejected
            }
            // Only the `[À CONFIRMER]` mail carries the code: without it, a
            // `From:` and a computable reference would act for the requester.
            Some(_)
                if !self
                    .keys
                    .zip(command.code.as_deref())
                    .is_some_and(|(keys, code)| keys.accepts(id, code)) =>
            {
                self.problems.push(Problem::confirmation_code(id));
                Outcome::Rejected
            }
            Some(held) if received_at.is_some_and(|at| at > held.confirm_before) => {
                let deadline = held.confirm_before.to_zoned(tz.clone());
                self.problems
                    .push(Problem::confirmation_expired(id, &deadline));
                Outcome::Rejected
            }
            Some(held) => {
                self.request = held.request.clone();
                match command.answer {
                    Answer::Cancel => {
                        self.problems.push(Problem::cancelled(id));
                        confirms = Some(id.to_owned());
                        Outcome::Ignored
                    }
                    Answer::Confirm => {
                        if let Some(at) = received_at {
                            self.window(at);
                        }
                        if self.problems.is_empty() {
                            confirms = Some(id.to_owned());
                            Outcome::Accepted
                        } else {
                            Outcome::Rejected
                        }
                    }
                }
            }
        };
        let mut verdict = Verdict {
            problems: self.problems,
            warnings: self.warnings,
            request: self.request,
            confirms,
            ..verdict_on(mail, request_id, received_at, outcome)
        };
        verdict.reply = Some(reply::answer_to_confirmation(
            &verdict,
            id,
            &self.rules.calendar,
        ));
        // NOTE: the request is the held one's: its own record names the
        // client only, so that summing accepted records never counts it twice.
        verdict.request = Request {
            action: verdict.request.action,
            client: verdict.request.client.take(),
            ..Request::default()
        };
        verdict
    }
}

/// The verdict on `mail` before anything is found: what names the mail.
fn verdict_on(
    mail: &Mail,
    request_id: String,
    received_at: Option<Timestamp>,
    outcome: Outcome,
) -> Verdict {
    Verdict {
        outcome,
        request_id,
        received_at,
        from: mail.from.clone(),
        from_name: mail.from_name.clone(),
        message_id: mail.message_id.clone(),
        subject: mail.subject.clone(),
        problems: Vec::new(),
        warnings: Vec::new(),
        request: Request::default(),
        corrects: None,
        confirms: None,
        confirm_before: None,
        reply: None,
        confirm_code: None,
    }
}

/// The values given for a field, without repeats (compared loosely), in
/// order. Linear: each value is folded once.
fn distinct_values(values: &[String]) -> Vec<&str> {
    if values.len() < 2 {
        return values.iter().map(String::as_str).collect();
    }
    let mut seen = std::collections::HashSet::new();
    values
        .iter()
        .filter(|value| seen.insert(text::fold(value)))
        .map(String::as_str)
        .collect()
}

/// `LG-` and the first 10 hex digits of the SHA-256 of the Message-ID (or of
/// the whole mail when it has none): the same mail always gets the same id.
pub fn request_id(mail: &Mail, raw: &[u8]) -> String {
    match &mail.message_id {
        Some(id) => id_of(id.as_bytes()),
        None => id_of(raw),
    }
}

/// True for a request id as [`id_of`] writes it: `LG-` and 10 hex digits.
pub fn is_request_id(text: &str) -> bool {
    text.strip_prefix("LG-")
        .is_some_and(|hex| hex.len() == 10 && hex.bytes().all(|b| b.is_ascii_hexdigit()))
}

/// The request id derived from some bytes (a Message-ID, or a whole mail
/// that could not be judged).
pub fn id_of(bytes: &[u8]) -> String {
    let hex: String = Sha256::digest(bytes)
        .iter()
        .take(5)
        .map(|b| format!("{b:02X}"))
        .collect();
    format!("LG-{hex}")
}
