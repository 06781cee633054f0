//! The verdict on one mail: its outcome, the problems and warnings with their
//! stable codes, and the French wording of each, which the reply quotes.
//!
//! The codes are a contract (tests and other tools match on them); the
//! wording may improve freely.

use jiff::{Timestamp, Zoned};
use serde::{Deserialize, Serialize};

use super::request::{Action, Field};
use crate::rules::{Calendar, french_date_time, french_time};
use crate::text;

/// What happens to a mail: the one outcome type of the judgement, the
/// stored records, the counters and the queries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    /// A correct request, inside the window: purchasing orders it.
    Accepted,
    /// A correct request of high risk (an upgrade, an annual licence): it
    /// waits for the requester's `CONFIRMER LG-…`, unseen by purchasing.
    Held,
    /// The technician must fix and resend it.
    Rejected,
    /// Sent by a machine: never answered.
    Ignored,
    /// Never given by the judgement: the daemon's decision for a mail it
    /// would not or could not judge (sender not allowed, judgement failed).
    /// Kept aside, never answered.
    Quarantined,
}

impl Outcome {
    /// Every outcome, in the order reports list them (the newest last, so
    /// that counts listed by position before it keep their meaning).
    pub const ALL: [Outcome; 5] = [
        Outcome::Accepted,
        Outcome::Rejected,
        Outcome::Ignored,
        Outcome::Quarantined,
        Outcome::Held,
    ];

    /// The stable name, as in JSON and on the command line.
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Accepted => "accepted",
            Outcome::Held => "held",
            Outcome::Rejected => "rejected",
            Outcome::Ignored => "ignored",
            Outcome::Quarantined => "quarantined",
        }
    }
}

impl std::fmt::Display for Outcome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for Outcome {
    type Err = String;

    fn from_str(s: &str) -> Result<Outcome, String> {
        Outcome::ALL
            .into_iter()
            .find(|o| o.as_str().eq_ignore_ascii_case(s.trim()))
            .ok_or_else(|| format!("{s:?} is not accepted, held, rejected, ignored or quarantined"))
    }
}

/// Declares a code enum whose variants serialise as the given stable strings.
macro_rules! codes {
    ($(#[$meta:meta])* $name:ident { $($(#[$vmeta:meta])* $variant:ident => $code:literal,)* }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub enum $name {
            $($(#[$vmeta])* $variant,)*
        }

        impl $name {
            /// Every code, in declaration order.
            pub const ALL: &[$name] = &[$($name::$variant,)*];

            /// The stable code, as in JSON.
            pub fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $code,)*
                }
            }
        }

        impl Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.serialize_str(self.as_str())
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                let code = String::deserialize(deserializer)?;
                $name::ALL
                    .iter()
                    .copied()
                    .find(|c| c.as_str() == code)
                    .ok_or_else(|| serde::de::Error::custom(format!("unknown code {code:?}")))
            }
        }
    };
}

codes! {
    /// Why a mail is rejected or ignored.
    ProblemCode {
        SubjectFormat => "subject_format",
        FieldMissing => "field_missing",
        FieldDuplicate => "field_duplicate",
        ClientUnknown => "client_unknown",
        ClientMismatch => "client_mismatch",
        LicenceUnknown => "licence_unknown",
        LicenceInternalName => "licence_internal_name",
        QuantityInvalid => "quantity_invalid",
        QuantitySign => "quantity_sign",
        /// More licences than `max-quantity` in one request.
        QuantityTooLarge => "quantity_too_large",
        /// A generic address (one account) with a quantity other than 1.
        AddressCount => "address_count",
        /// A value longer than a real one can be: it was cut.
        FieldTooLong => "field_too_long",
        UserMissing => "user_missing",
        UsersCount => "users_count",
        AddressInvalid => "address_invalid",
        AddressDomain => "address_domain",
        RemoteDesktopInvalid => "remote_desktop_invalid",
        WindowFirstOfMonth => "window_first_of_month",
        WindowAfterCutoff => "window_after_cutoff",
        /// Same as a request accepted before (pending removal, or same addition this month).
        DuplicateRequest => "duplicate_request",
        Unreadable => "unreadable",
        TooLarge => "too_large",
        /// Sent by a machine: an ignored mail.
        AutoSubmitted => "auto_submitted",
        /// An answer to an acceptance (a question, a thank-you): an ignored
        /// mail, never a request.
        AnswerToAcceptance => "answer_to_acceptance",
        /// An upgrade between two licences that `upgrades.toml` does not allow.
        UpgradePathUnknown => "upgrade_path_unknown",
        /// An upgrade whose two licences are the same.
        UpgradeSameLicence => "upgrade_same_licence",
        /// A target licence that differs from its official name in case or spacing.
        LicenceNotExact => "licence_not_exact",
        /// `CONFIRMER`/`ANNULER` for a request that is not held (unknown, or
        /// closed already).
        ConfirmationUnknown => "confirmation_unknown",
        /// `CONFIRMER`/`ANNULER` from another address than the requester's.
        ConfirmationSender => "confirmation_sender",
        /// `CONFIRMER`/`ANNULER` without the code of the `[À CONFIRMER]`
        /// mail, or with another: the request stays held.
        ConfirmationCode => "confirmation_code",
        /// A held request not confirmed in time: closed, nothing ordered.
        ConfirmationExpired => "confirmation_expired",
        /// An answer to `[À CONFIRMER]` with neither `CONFIRMER LG-…` nor
        /// `ANNULER LG-…` on its first lines.
        ConfirmationMissing => "confirmation_missing",
        /// `CONFIRMER LG-A` in answer to the `[À CONFIRMER]` of another
        /// request, `LG-B`: which one is meant is not guessed.
        ConfirmationMismatch => "confirmation_mismatch",
        /// A held request cancelled by its requester (`ANNULER`): an ignored
        /// mail, nothing ordered.
        Cancelled => "cancelled",
        /// A question about a client (`[ÉTAT]`): an ignored mail, never a
        /// request; the daemon answers it from what it recorded.
        StateQuery => "state_query",
    }
}

codes! {
    /// What a person should know about an accepted request.
    WarningCode {
        LicenceNormalised => "licence_normalised",
        QuantityUnsigned => "quantity_unsigned",
        OutsideOfficeHours => "outside_office_hours",
        AnnualLicence => "annual_licence",
        /// No `--at`, `Received:` nor `Date:`: the window could not be checked.
        ReceptionTimeUnknown => "reception_time_unknown",
        /// An upgrade or an annual licence: held until the requester confirms.
        ConfirmationRequired => "confirmation_required",
        /// A `Label : value` line right after a field, whose label is none
        /// of the template's: it ended the field and was not read.
        LineIgnored => "line_ignored",
    }
}

/// One reason to reject or ignore a mail.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Problem {
    /// Stable code.
    pub code: ProblemCode,
    /// The template field at fault, when there is one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub field: Option<Field>,
    /// What is wrong and how to fix it, in French.
    pub message: String,
}

/// One thing to know about a request that is still accepted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Warning {
    /// Stable code.
    pub code: WarningCode,
    /// The explanation, in French.
    pub message: String,
}

/// The judgement of one mail.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Verdict {
    /// Accepted, rejected or ignored.
    #[serde(rename = "verdict")]
    pub outcome: Outcome,
    /// Stable id of the request, quoted in replies (`LG-` and 10 hex digits).
    pub request_id: String,
    /// The reception time the window was judged on.
    pub received_at: Option<Timestamp>,
    /// Sender address.
    pub from: Option<String>,
    /// The name written beside the sender's address, for purchasing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from_name: Option<String>,
    /// Message-ID of the mail.
    pub message_id: Option<String>,
    /// Decoded subject.
    pub subject: Option<String>,
    /// Why the mail is rejected or ignored; empty when accepted.
    pub problems: Vec<Problem>,
    /// Remarks that do not prevent acceptance.
    pub warnings: Vec<Warning>,
    /// What could be read of the request.
    pub request: super::request::Request,
    /// The refused request this mail answers with a corrected template (see
    /// `correction`), if it does.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub corrects: Option<String>,
    /// The held request this mail confirms or cancels, if it does.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub confirms: Option<String>,
    /// For a held request: the last moment it may be confirmed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub confirm_before: Option<Timestamp>,
    /// The answer to send; `None` for an ignored mail.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reply: Option<Reply>,
    /// For a held request: the code its reply gives to confirm or cancel it.
    /// Never written to a record: the stored reply has it masked
    /// ([`Verdict::masked`]).
    #[serde(skip)]
    pub confirm_code: Option<String>,
}

/// What a masked code reads as in the stored reply.
pub const MASKED_CODE: &str = "••••-••••";

impl Verdict {
    /// This verdict as it is recorded: the confirmation code, which only
    /// the requester's mail may carry, masked in the reply.
    pub fn masked(mut self) -> Verdict {
        if let (Some(code), Some(reply)) = (self.confirm_code.take(), self.reply.as_mut()) {
            reply.body = reply.body.replace(&code, MASKED_CODE);
        }
        self
    }
}

/// Subject and plain-text body of a reply.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reply {
    /// `[REFUSÉE] <original subject>` or `[ACCEPTÉE] <original subject>`.
    pub subject: String,
    /// French text, lines separated by `\n`.
    pub body: String,
}

/// `1 licence`, `2 licences`, `1 000 licences`.
fn licences(n: u32) -> String {
    text::count(u64::from(n), "licence", "licences")
}

/// Most items a list in a message names; the others are `…`.
const LISTED: usize = 5;

/// `« a », « b »`, at most [`LISTED`] of them.
fn quoted_list(items: &[&str]) -> String {
    let mut list: Vec<String> = items
        .iter()
        .take(LISTED)
        .map(|s| format!("« {} »", crate::text::cap(s, crate::text::MAX_VALUE_CHARS)))
        .collect();
    if items.len() > LISTED {
        list.push("…".to_owned());
    }
    list.join(", ")
}

fn problem(code: ProblemCode, field: Option<Field>, message: String) -> Problem {
    Problem {
        code,
        field,
        message: text::typography(&message),
    }
}

impl Problem {
    pub fn subject_not_template() -> Problem {
        let message = "L'objet doit suivre le modèle « [AJOUT] Licence Office 365 - <Client> », \
                       « [SUPPRESSION] Licence Office 365 - <Client> » \
                       ou « [MISE À NIVEAU] Licence Office 365 - <Client> »."
            .to_owned();
        problem(ProblemCode::SubjectFormat, Some(Field::Subject), message)
    }

    pub fn subject_action_not_chosen() -> Problem {
        let message =
            "L'objet doit indiquer une seule action : [AJOUT], [SUPPRESSION] ou [MISE À NIVEAU]."
                .to_owned();
        problem(ProblemCode::SubjectFormat, Some(Field::Subject), message)
    }

    pub fn subject_client_missing() -> Problem {
        let message =
            "L'objet ne nomme pas le client : ajoutez son nom après « Licence Office 365 - »."
                .to_owned();
        problem(ProblemCode::SubjectFormat, Some(Field::Subject), message)
    }

    pub fn field_missing(field: Field, action: Option<Action>) -> Problem {
        let hint = match (field, action) {
            (Field::RemoteDesktop, _) => " (OUI ou NON)",
            (Field::Quantity, Some(Action::MiseANiveau)) => " (nombre de licences à faire évoluer)",
            (Field::Quantity, Some(Action::Suppression)) => {
                " (-N, le nombre de licences à supprimer : par exemple -1)"
            }
            (Field::Quantity, Some(Action::Ajout)) => {
                " (+N, le nombre de licences à ajouter : par exemple +1)"
            }
            (Field::Quantity, None) => " (+N pour un ajout, -N pour une suppression)",
            (Field::CurrentLicence, _) => {
                " (nom officiel Microsoft complet ; une mise à niveau nomme la licence actuelle \
                 et la licence cible à la place de « Type de licence »)"
            }
            (Field::Licence, _) => " (nom officiel Microsoft complet)",
            (Field::TargetLicence, _) => " (nom officiel exact, copié depuis le tenant du client)",
            _ => "",
        };
        let message = format!(
            "Le champ « {} » est absent ou vide : remplissez-le{hint}.",
            field.label()
        );
        problem(ProblemCode::FieldMissing, Some(field), message)
    }

    pub fn answer_to_acceptance(accepted: &str) -> Problem {
        let message = format!(
            "Ce message répond à l'acceptation de la demande {accepted}, qui reste acceptée : \
             il n'est pas lu comme une demande."
        );
        problem(ProblemCode::AnswerToAcceptance, None, message)
    }

    pub fn template_missing() -> Problem {
        let message = "Le modèle de demande est absent du message : écrivez-le rempli en haut du \
                       message, ou répondez au refus de la demande en corrigeant le modèle qu'il \
                       contient."
            .to_owned();
        problem(ProblemCode::FieldMissing, None, message)
    }

    pub fn field_duplicate(field: Field, values: &[&str]) -> Problem {
        // NOTE: two licences or two clients are two requests: keeping one
        // would leave the other user without a licence.
        let what_to_do = match field {
            Field::Client => {
                "une demande ne porte que sur un client : gardez-en un ici, et envoyez une \
                 demande séparée pour l'autre"
            }
            Field::Licence | Field::CurrentLicence | Field::TargetLicence => {
                "une demande ne porte que sur une licence : gardez-en une ici, et envoyez une \
                 demande séparée pour l'autre"
            }
            Field::Users => "écrivez tous les noms sur une seule ligne, séparés par des virgules",
            _ => "n'en gardez qu'une",
        };
        let message = format!(
            "Le champ « {} » est donné plusieurs fois avec des valeurs différentes ({}) : {what_to_do}.",
            field.label(),
            quoted_list(values)
        );
        problem(ProblemCode::FieldDuplicate, Some(field), message)
    }

    pub fn client_unknown(field: Field, written: &str, suggestion: Option<&str>) -> Problem {
        let hint = match suggestion {
            Some(name) => {
                format!("Vouliez-vous dire « {name} » ? Indiquez le nom exact du client.")
            }
            None => "Vérifiez le nom, ou demandez son ajout à la liste des clients.".to_owned(),
        };
        let message = match field {
            Field::Subject => format!(
                "L'objet nomme le client « {written} », qui n'est pas dans la liste des clients. {hint}"
            ),
            _ => format!("Le client « {written} » n'est pas dans la liste des clients. {hint}"),
        };
        problem(ProblemCode::ClientUnknown, Some(field), message)
    }

    pub fn client_mismatch(in_subject: &str, in_body: &str) -> Problem {
        let message = format!(
            "L'objet nomme le client « {in_subject} » mais le champ « Nom du client » nomme « {in_body} » : \
             indiquez le même client aux deux endroits."
        );
        problem(ProblemCode::ClientMismatch, Some(Field::Client), message)
    }

    pub fn licence_unknown(field: Field, written: &str, suggestions: &[&str]) -> Problem {
        let hint = match suggestions {
            [] => {
                "Indiquez le nom officiel complet, par exemple « Microsoft 365 Business Standard »."
                    .to_owned()
            }
            [one] => format!(
                "Nom officiel le plus proche : « {one} ». Indiquez le nom officiel complet."
            ),
            many => format!(
                "Noms officiels proches : {}. Indiquez le nom officiel complet.",
                quoted_list(many)
            ),
        };
        let message =
            format!("« {written} » n'est pas un nom officiel de licence Microsoft. {hint}");
        problem(ProblemCode::LicenceUnknown, Some(field), message)
    }

    pub fn licence_internal_name(field: Field, written: &str, stands_for: &[String]) -> Problem {
        let names: Vec<&str> = stands_for.iter().map(String::as_str).collect();
        let official = match names.as_slice() {
            [one] => format!("le nom officiel « {one} »"),
            many => format!("le nom officiel voulu parmi {}", quoted_list(many)),
        };
        let message = format!(
            "« {written} » est le nom utilisé avec les clients, pas celui de la licence : indiquez {official}."
        );
        problem(ProblemCode::LicenceInternalName, Some(field), message)
    }

    pub fn licence_not_exact(written: &str, official: &str) -> Problem {
        let message = format!(
            "« {written} » n'est pas écrit exactement comme le nom officiel « {official} » \
             (majuscules ou espaces) : écrivez « {official} » dans « Licence cible »."
        );
        problem(
            ProblemCode::LicenceNotExact,
            Some(Field::TargetLicence),
            message,
        )
    }

    pub fn upgrade_same_licence(licence: &str) -> Problem {
        let message = format!(
            "La licence actuelle et la licence cible sont identiques, « {licence} » : indiquez dans \
             « Licence cible » la licence vers laquelle passer."
        );
        problem(
            ProblemCode::UpgradeSameLicence,
            Some(Field::TargetLicence),
            message,
        )
    }

    pub fn upgrade_path_unknown(from: &str, to: &str, targets: &[&str]) -> Problem {
        let allowed = match targets {
            [] => format!(
                "Aucune mise à niveau n'est prévue depuis « {from} » : vérifiez la licence actuelle."
            ),
            [one] => format!(
                "Depuis « {from} », la seule licence cible prévue est « {one} » : indiquez-la, \
                 ou vérifiez la licence actuelle."
            ),
            many => format!(
                "Depuis « {from} », les licences cibles prévues sont {} : indiquez l'une d'elles, \
                 ou vérifiez la licence actuelle.",
                quoted_list(many)
            ),
        };
        let message = format!(
            "Le passage de « {from} » à « {to} » n'est pas une mise à niveau autorisée. {allowed}"
        );
        problem(
            ProblemCode::UpgradePathUnknown,
            Some(Field::TargetLicence),
            message,
        )
    }

    pub fn confirmation_unknown(id: &str) -> Problem {
        let message = format!(
            "La demande {id} n'attend aucune confirmation : elle est inconnue, ou déjà confirmée, \
             annulée ou expirée. Rien n'est commandé par ce message ; si la commande est \
             toujours voulue, envoyez une nouvelle demande."
        );
        problem(ProblemCode::ConfirmationUnknown, None, message)
    }

    pub fn confirmation_sender(id: &str) -> Problem {
        let message = format!(
            "Seul l'auteur de la demande {id} peut la confirmer ou l'annuler, depuis l'adresse \
             qui l'a envoyée : demandez-lui de répondre lui-même. La demande reste en attente."
        );
        problem(ProblemCode::ConfirmationSender, None, message)
    }

    pub fn confirmation_code(id: &str) -> Problem {
        let message = format!(
            "Le code de confirmation de la demande {id} manque ou ne correspond pas : rien \
             n'est fait et la demande reste en attente. Répondez au message [À CONFIRMER] de \
             cette demande en recopiant sa ligne CONFIRMER (ou ANNULER) telle quelle, \
             référence et code compris."
        );
        problem(ProblemCode::ConfirmationCode, None, message)
    }

    pub fn confirmation_expired(id: &str, deadline: &Zoned) -> Problem {
        let message = format!(
            "La demande {id} n'a pas été confirmée avant le {} : elle est close et rien n'est \
             commandé. Si la commande est toujours voulue, envoyez une nouvelle demande.",
            french_date_time(deadline)
        );
        problem(ProblemCode::ConfirmationExpired, None, message)
    }

    pub fn confirmation_mismatch(named: &str, answered: &str) -> Problem {
        let message = format!(
            "Ce message répond à la demande {answered} à confirmer, mais nomme la demande {named} : \
             rien n'est fait. Répondez au message [À CONFIRMER] de la demande voulue, avec sa \
             propre référence."
        );
        problem(ProblemCode::ConfirmationMismatch, None, message)
    }

    pub fn confirmation_too_early(id: &str) -> Problem {
        let message = format!(
            "La demande {id} n'attendait pas encore de confirmation à l'envoi de ce message : \
             rien n'est fait. Confirmez-la en répondant au message [À CONFIRMER] qu'elle a reçu."
        );
        problem(ProblemCode::ConfirmationUnknown, None, message)
    }

    pub fn confirmation_missing(id: &str) -> Problem {
        let message = format!(
            "Ce message répond à la demande {id} à confirmer, sans « CONFIRMER {id} » ni \
             « ANNULER {id} » en première ligne : rien n'est fait, la demande reste en attente. \
             Répondez au message [À CONFIRMER] en recopiant en première ligne l'une de ses deux \
             lignes, code compris."
        );
        problem(ProblemCode::ConfirmationMissing, None, message)
    }

    pub fn cancelled(id: &str) -> Problem {
        let message = format!("La demande {id} est annulée par son auteur : rien n'est commandé.");
        problem(ProblemCode::Cancelled, None, message)
    }

    pub fn quantity_invalid(written: &str, action: Option<Action>) -> Problem {
        let message = match action {
            Some(Action::MiseANiveau) => format!(
                "La quantité « {written} » n'est pas un nombre entier non nul : écrivez le nombre \
                 de licences à faire évoluer (par exemple 1)."
            ),
            Some(Action::Suppression) => format!(
                "La quantité « {written} » n'est pas un nombre entier non nul : pour une \
                 suppression, écrivez -N, le nombre de licences à supprimer (par exemple -1)."
            ),
            Some(Action::Ajout) => format!(
                "La quantité « {written} » n'est pas un nombre entier non nul : pour un ajout, \
                 écrivez +N, le nombre de licences à ajouter (par exemple +1)."
            ),
            None => format!(
                "La quantité « {written} » n'est pas un nombre entier non nul : écrivez +N pour un \
                 ajout ou -N pour une suppression (par exemple +1 ou -1)."
            ),
        };
        problem(ProblemCode::QuantityInvalid, Some(Field::Quantity), message)
    }

    pub fn quantity_too_large(count: u32, max: u32) -> Problem {
        let message = format!(
            "La quantité {} dépasse le maximum de {} par demande : vérifiez le nombre, \
             ou répartissez la commande en plusieurs demandes.",
            text::french_number(count),
            licences(max)
        );
        problem(
            ProblemCode::QuantityTooLarge,
            Some(Field::Quantity),
            message,
        )
    }

    pub fn address_count(quantity: u32, action: Option<Action>) -> Problem {
        let one = match action {
            Some(Action::Suppression) => "-1",
            Some(Action::MiseANiveau) => "1",
            _ => "+1",
        };
        let message = format!(
            "Une adresse générique correspond à un seul compte, mais la quantité est de {} : \
             écrivez {one}, ou faites une demande par adresse.",
            text::french_number(quantity)
        );
        problem(ProblemCode::AddressCount, Some(Field::Quantity), message)
    }

    pub fn field_too_long(field: Field) -> Problem {
        let message = format!(
            "Le champ « {} » dépasse {} caractères : il n'a pas été lu en entier. \
             Vérifiez sa valeur, ou répartissez la commande en plusieurs demandes.",
            field.label(),
            text::french_number(field.max_chars() as u32)
        );
        problem(ProblemCode::FieldTooLong, Some(field), message)
    }

    pub fn quantity_sign(action: Action) -> Problem {
        let message = match action {
            Action::Ajout => {
                "La quantité est négative alors que l'objet demande un [AJOUT] : \
                              écrivez +N, ou mettez [SUPPRESSION] dans l'objet."
            }
            Action::Suppression => {
                "La quantité est positive alors que l'objet demande une [SUPPRESSION] : \
                                    écrivez -N, ou mettez [AJOUT] dans l'objet."
            }
            Action::MiseANiveau => {
                "La quantité est négative alors que l'objet demande une [MISE À NIVEAU] : \
                 écrivez le nombre de licences à faire évoluer (N ou +N)."
            }
        };
        problem(
            ProblemCode::QuantitySign,
            Some(Field::Quantity),
            message.to_owned(),
        )
    }

    pub fn user_missing() -> Problem {
        let message =
            "Ni utilisateur ni adresse générique : indiquez le Nom Prénom de l'utilisateur, \
                       ou l'adresse à créer s'il s'agit d'un compte non nominatif."
                .to_owned();
        problem(ProblemCode::UserMissing, Some(Field::Users), message)
    }

    pub fn user_not_a_person(written: &str) -> Problem {
        let message = format!(
            "« {} » n'est pas le nom d'une personne : indiquez le Nom Prénom de chaque \
             utilisateur (ou, pour un compte non nominatif, l'adresse à créer), et rien d'autre \
             dans ce champ.",
            text::cap(written, 80)
        );
        problem(ProblemCode::UserMissing, Some(Field::Users), message)
    }

    pub fn user_twice(name: &str) -> Problem {
        let message = format!(
            "« {} » figure deux fois parmi les utilisateurs : chaque personne n'a qu'une \
             licence ; indiquez-la une seule fois, et la quantité qui correspond.",
            text::cap(name, 80)
        );
        problem(ProblemCode::UsersCount, Some(Field::Users), message)
    }

    pub fn users_count(names: usize, quantity: u32) -> Problem {
        let names = text::count(
            names as u64,
            "nom d'utilisateur indiqué",
            "noms d'utilisateur indiqués",
        );
        let message = format!(
            "{names} pour une quantité de {} : indiquez un utilisateur par licence.",
            text::french_number(quantity)
        );
        problem(ProblemCode::UsersCount, Some(Field::Users), message)
    }

    pub fn address_invalid(written: &str) -> Problem {
        let message = format!(
            "« {written} » n'est pas une adresse e-mail valide : écrivez-la sous la forme nom@domaine.fr."
        );
        problem(ProblemCode::AddressInvalid, Some(Field::Address), message)
    }

    pub fn address_domain(address: &str, client: &str, domains: &[String]) -> Problem {
        let known: Vec<&str> = domains.iter().map(String::as_str).collect();
        let message = format!(
            "Le domaine de l'adresse « {address} » n'est pas un domaine du client {client} \
             (domaines connus : {}) : corrigez l'adresse.",
            known.join(", ")
        );
        problem(ProblemCode::AddressDomain, Some(Field::Address), message)
    }

    pub fn remote_desktop_invalid(written: &str) -> Problem {
        let message = format!("« {written} » n'est pas une réponse valide : écrivez OUI ou NON.");
        problem(
            ProblemCode::RemoteDesktopInvalid,
            Some(Field::RemoteDesktop),
            message,
        )
    }

    pub fn window_first_of_month(resend_from: &Zoned) -> Problem {
        let message = format!(
            "Aucune modification n'est possible le 1er du mois : c'est le jour où la console renouvelle \
             toutes les licences. Renvoyez la demande à partir du {}.",
            french_date_time(resend_from)
        );
        problem(ProblemCode::WindowFirstOfMonth, None, message)
    }

    pub fn window_after_cutoff(cutoff: &Zoned, resend_from: &Zoned) -> Problem {
        let message = format!(
            "Les commandes du mois sont closes depuis le {} (dernier jour ouvré du mois). \
             Renvoyez la demande à partir du {}.",
            french_date_time(cutoff),
            french_date_time(resend_from)
        );
        problem(ProblemCode::WindowAfterCutoff, None, message)
    }

    pub fn duplicate_request(first: &str, received: &Zoned) -> Problem {
        let message = format!(
            "Cette demande fait doublon avec la demande {first}, reçue le {} et déjà acceptée : elle n'est pas \
             commandée une seconde fois. S'il s'agit d'une autre demande, précisez-le (utilisateurs).",
            french_date_time(received)
        );
        problem(ProblemCode::DuplicateRequest, None, message)
    }

    pub fn unreadable() -> Problem {
        let message = "Le message ne contient aucun texte lisible (pièce jointe seule ou format non reconnu) : \
                       écrivez la demande dans le corps du message, en suivant le modèle."
            .to_owned();
        problem(ProblemCode::Unreadable, None, message)
    }

    pub fn too_many_parts(limit: usize) -> Problem {
        let message = format!(
            "Le message compte plus de {limit} parties MIME (pièces jointes ou messages imbriqués) : \
             il n'a pas été lu. Écrivez la demande dans un nouveau message, sans pièce jointe."
        );
        problem(ProblemCode::Unreadable, None, message)
    }

    pub fn too_many_header_lines(limit: usize) -> Problem {
        let message = format!(
            "L'en-tête du message compte plus de {limit} lignes : il n'a pas été lu. \
             Écrivez la demande dans un nouveau message."
        );
        problem(ProblemCode::Unreadable, None, message)
    }

    pub fn too_large(size: usize, limit: usize) -> Problem {
        let mib = |bytes: usize| bytes as f64 / (1024.0 * 1024.0);
        let message = format!(
            "Le message fait {} Mo, au-delà de la limite de {:.0} Mo : renvoyez la demande sans pièce jointe.",
            format!("{:.1}", mib(size)).replace('.', ","),
            mib(limit)
        );
        problem(ProblemCode::TooLarge, None, message)
    }

    pub fn state_query(client: &str) -> Problem {
        problem(
            ProblemCode::StateQuery,
            None,
            format!(
                "Question sur l'état des licences de « {client} » : ce n'est pas une commande, \
                 rien n'est commandé ; le service licgate y répond par mail avec ce qu'il a enregistré."
            ),
        )
    }

    pub fn auto_submitted(reason: &str) -> Problem {
        let message = format!("Message automatique ({reason}) : il n'est ni traité ni répondu.");
        problem(ProblemCode::AutoSubmitted, None, message)
    }
}

fn warning(code: WarningCode, message: String) -> Warning {
    let message = text::typography(&message);
    Warning { code, message }
}

impl Warning {
    pub fn licence_normalised(written: &str, official: &str) -> Warning {
        let message = format!(
            "« {written} » a été lu comme le nom officiel « {official} » (majuscules ou espaces différents)."
        );
        warning(WarningCode::LicenceNormalised, message)
    }

    pub fn quantity_unsigned(signed: i64) -> Warning {
        let message = format!(
            "La quantité n'a pas de signe : elle est lue comme {signed:+} d'après l'objet. \
             Écrivez le signe la prochaine fois."
        );
        warning(WarningCode::QuantityUnsigned, message)
    }

    pub fn outside_office_hours(calendar: &Calendar, next_opening: &Zoned) -> Warning {
        let message = format!(
            "Demande reçue hors des heures de bureau (de {} à {}, les jours ouvrés) : \
             elle sera traitée le {}.",
            french_time(calendar.office_start),
            french_time(calendar.office_end),
            french_date_time(next_opening)
        );
        warning(WarningCode::OutsideOfficeHours, message)
    }

    pub fn annual_licence(licence: &str, client: &str, action: Option<Action>) -> Warning {
        let message = match action {
            Some(Action::Suppression) => format!(
                "« {licence} » est facturée à l'année pour {client} : la réduction ne prend effet \
                 qu'à l'échéance de l'engagement annuel ; vérifiez-la avec les achats."
            ),
            _ => format!(
                "« {licence} » est facturée à l'année pour {client} : la commande engage pour 12 mois."
            ),
        };
        warning(WarningCode::AnnualLicence, message)
    }

    pub fn confirmation_required(upgrade: bool, deadline: Option<&Zoned>) -> Warning {
        let why = if upgrade {
            "Une mise à niveau est irréversible dans la console"
        } else {
            "Une licence annuelle engage pour 12 mois"
        };
        let until = match deadline {
            Some(deadline) => format!(", avant le {}", french_date_time(deadline)),
            None => String::new(),
        };
        let message = format!(
            "{why} : la demande n'est commandée qu'après la confirmation de son auteur{until}."
        );
        warning(WarningCode::ConfirmationRequired, message)
    }

    pub fn line_ignored(line: &str) -> Warning {
        let message = format!(
            "La ligne « {line} » n'est pas un champ du modèle : elle n'a pas été lue, \
             ni comme utilisateur ni comme consigne pour les achats."
        );
        warning(WarningCode::LineIgnored, message)
    }

    pub fn reception_time_unknown() -> Warning {
        let message =
            "Heure de réception inconnue : la période de commande n'a pas été vérifiée.".to_owned();
        warning(WarningCode::ReceptionTimeUnknown, message)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_and_plurals_in_french() {
        assert_eq!(text::french_number(5u32), "5");
        assert_eq!(text::french_number(1000u32), "1\u{202F}000");
        assert_eq!(text::french_number(1234567u32), "1\u{202F}234\u{202F}567");
        assert_eq!(licences(1), "1 licence");
        assert_eq!(licences(1000), "1\u{202F}000 licences");
    }
}
