//! Hostile mails of a chosen size, one per shape that once cost licgate more
//! than linear time, memory or stack (issue 8). Shared by `tests/hostile.rs`
//! (each is judged within the bounds) and `benches/hostile.rs` (time and
//! memory printed at 1 MB and 10 MB), which also share its counting
//! allocator.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// Counts the bytes allocated now and at the peak, for [`measure`].
struct Counting;

static NOW: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

// SAFETY: forwards to the system allocator; only counts.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let now = NOW.fetch_add(layout.size(), Ordering::Relaxed) + layout.size();
        PEAK.fetch_max(now, Ordering::Relaxed);
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        NOW.fetch_sub(layout.size(), Ordering::Relaxed);
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// Runs `work`; gives its result, its time and the peak of the bytes it
/// allocated. Only exact while nothing else allocates meanwhile.
pub fn measure<T>(work: impl FnOnce() -> T) -> (T, Duration, usize) {
    let base = NOW.load(Ordering::Relaxed);
    PEAK.store(base, Ordering::Relaxed);
    let started = Instant::now();
    let result = work();
    let elapsed = started.elapsed();
    (
        result,
        elapsed,
        PEAK.load(Ordering::Relaxed).saturating_sub(base),
    )
}

/// The header of a mail from an allowed sender, with a request's subject.
const HEADER: &str = "From: Jean Dupont <jean.dupont@example.test>\r\n\
To: licences@example.test\r\n\
Subject: [AJOUT] Licence Office 365 - Boulangerie Martin\r\n\
Date: Mon, 23 Nov 2026 10:00:00 +0100\r\n\
MIME-Version: 1.0\r\n";

/// Repeats `unit` (`{i}` numbered) while the mail stays within `size` bytes.
fn repeat(head: &str, unit: &str, size: usize) -> Vec<u8> {
    let mut mail = head.to_owned();
    for i in 0.. {
        let unit = unit.replace("{i}", &i.to_string());
        if mail.len() + unit.len() > size {
            break;
        }
        mail.push_str(&unit);
    }
    mail.into_bytes()
}

/// Every hostile shape at about `size` bytes: (name, mail).
pub fn shapes(size: usize) -> Vec<(&'static str, Vec<u8>)> {
    let text = format!("{HEADER}Content-Type: text/plain; charset=utf-8\r\n\r\n");
    vec![
        // Drop of the parsed message recursed once per level: stack overflow.
        (
            "nested message/rfc822",
            repeat(HEADER, "Content-Type: message/rfc822\r\n\r\n", size),
        ),
        // The same, hidden from a scan of lines opening with Content-Type
        // (mail-parser skips a form feed before a header name).
        (
            "hidden nested messages",
            repeat(
                &format!("{HEADER}Content-Type: message/rfc822\r\n\r\n"),
                "\x0cContent-Type: message/rfc822\r\n\r\n",
                size,
            ),
        ),
        (
            "nested multipart",
            repeat(
                HEADER,
                "Content-Type: multipart/mixed; boundary=\"b{i}\"\r\n\r\n--b{i}\r\n",
                size,
            ),
        ),
        // mail-parser scans the rest of the mail for the boundary of each
        // multipart part: hundreds of parts whose boundary never comes,
        // hidden (mid-line boundaries, a form feed before Content-Type).
        (
            "hidden multipart parts",
            repeat(
                &format!("{HEADER}Content-Type: multipart/mixed; boundary=b\r\n\r\n"),
                "x--b\r\n\x0cContent-Type: multipart/mixed; boundary=zz\r\n\r\n",
                size / 2,
            )
            .into_iter()
            .chain(std::iter::repeat_n(b'a', size / 2))
            .collect(),
        ),
        (
            "many multipart parts",
            [
                format!("{HEADER}Content-Type: multipart/mixed; boundary=b\r\n\r\n").into_bytes(),
                "--b\r\nContent-Type: multipart/mixed; boundary=zz\r\n\r\n"
                    .repeat(900)
                    .into_bytes(),
                vec![b'a'; size.saturating_sub(60_000)],
            ]
            .concat(),
        ),
        (
            "many parts",
            repeat(
                &format!("{HEADER}Content-Type: multipart/mixed; boundary=\"b\"\r\n\r\n"),
                "--b\r\n\r\nx\r\n",
                size,
            ),
        ),
        // distinct_values compared every value with every other.
        (
            "repeated fields",
            repeat(&text, "Quantité : +{i}\r\n", size),
        ),
        // The suggestions built a words x vocabulary matrix.
        (
            "long licence name",
            repeat(&format!("{text}Type de licence : "), "ab ", size),
        ),
        (
            "long client name",
            repeat(&format!("{text}Nom du client : "), "abcdefgh", size),
        ),
        (
            "long users list",
            repeat(
                &format!("{text}Nom Prénom de l'utilisateur : a\r\n"),
                "Jean Dupont{i}\r\n",
                size,
            ),
        ),
        (
            "many header lines",
            repeat("From: jean.dupont@example.test\r\n", "X-H{i}: v\r\n", size),
        ),
        (
            "long subject",
            repeat(
                "From: jean.dupont@example.test\r\nSubject: [AJOUT] ",
                "Licence ",
                size,
            ),
        ),
        (
            "html tags",
            repeat(
                &format!("{HEADER}Content-Type: text/html\r\n\r\n"),
                "<div><blockquote><p>&amp;<",
                size,
            ),
        ),
        // Each `message` was followed through up to 1,000 bytes of comment,
        // to see whether a `/` (a nested message type) came.
        ("message comments", repeat(&text, "message(", size)),
        (
            "control characters",
            repeat(&text, "Nom du client : \u{202E}\u{1b}[2J\r\r\n", size),
        ),
        // Issue 10 review: each colon tried every word start before it as a
        // label (template lines joined by Outlook), allocating each time.
        ("colons", repeat(&text, " a: client :", size)),
        // Final review: each colon looked back to the start of its line.
        (
            "long lines of colons",
            repeat(&text, &format!("{}\n", "x:".repeat(1020)), size),
        ),
        // Final review: the history search listed every line (16 bytes each).
        ("blank lines", repeat(&format!("{text}x"), "\n", size)),
        (
            "short lines of colons",
            repeat(&text, "Nom du client : a b client : x\r\n", size),
        ),
        // Issue 12 review: each ticket tag found was blanked by moving the
        // rest of the subject.
        (
            "subject of ticket tags",
            repeat(
                "From: jean.dupont@example.test\r\nSubject: [AJOUT] Licence Office 365 - a ",
                "#1 [GLPI #2] ",
                size,
            ),
        ),
        (
            "ticket and user lines",
            repeat(&text, "Ticket : 1\r\nUtilisateur : [x]\r\n", size),
        ),
        // Issue 10 review: each quoted reference made 40 lines be read again.
        (
            "quoted references",
            repeat(
                &format!("{HEADER}Subject: RE: x (LG-0123456789)\r\n\r\n"),
                "> Objet : a\r\n> Client : b\r\n> R\u{e9}f\u{e9}rence : LG-0123456789\r\n",
                size,
            ),
        ),
    ]
}
