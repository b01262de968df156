//! C2SP signed notes against Go's `golang.org/x/mod/sumdb/note` vectors, and
//! quorum verification of checkpoints.

use truce_log::note::MAX_NOTE_SIGNATURES;
use truce_log::{
    Checkpoint, KeyError, KeyType, Note, NoteError, QuorumError, SignerKey, VerifierKey,
    empty_root, open_note, sign_note, verify_checkpoint, verify_quorum,
};

const PETER_VKEY: &str = include_str!("../vectors/signed-note/peter-neumann.vkey");
const PETER_SKEY: &str = include_str!("../vectors/signed-note/peter-neumann.skey");
const ENOCH_VKEY: &str = include_str!("../vectors/signed-note/enoch-root.vkey");
const TEXT: &str = include_str!("../vectors/signed-note/text.txt");
const TWO_SIGNATURES: &str = include_str!("../vectors/signed-note/two-signatures.note");

fn line(text: &str) -> &str {
    text.strip_suffix('\n').expect("key files end in a newline")
}

fn peter() -> VerifierKey {
    VerifierKey::parse(line(PETER_VKEY)).unwrap()
}

fn enoch() -> VerifierKey {
    VerifierKey::parse(line(ENOCH_VKEY)).unwrap()
}

fn signature_lines() -> (&'static str, &'static str) {
    let block = TWO_SIGNATURES
        .strip_prefix(TEXT)
        .unwrap()
        .strip_prefix('\n')
        .unwrap();
    let (peter, enoch) = block.split_at(block.find("\n").unwrap() + 1);
    (peter, enoch)
}

#[test]
fn go_keys_parse_and_reformat_identically() {
    let peter = peter();
    assert_eq!(peter.name(), "PeterNeumann");
    assert_eq!(peter.key_id(), 0xc74f20a3);
    assert_eq!(peter.key_type(), KeyType::Ed25519);
    assert_eq!(peter.to_string(), line(PETER_VKEY));
    assert_eq!(enoch().to_string(), line(ENOCH_VKEY));
    let signer = SignerKey::parse(line(PETER_SKEY)).unwrap();
    assert_eq!(signer.verifier_key(), peter);
    assert_eq!(signer.to_key_string(), line(PETER_SKEY));
}

#[test]
fn signing_reproduces_go_signature_exactly() {
    let signer = SignerKey::parse(line(PETER_SKEY)).unwrap();
    let (peter_line, _) = signature_lines();
    assert_eq!(
        sign_note(TEXT, &[&signer]).unwrap(),
        format!("{TEXT}\n{peter_line}")
    );
    // Re-signing replaces the existing signature by the same key.
    let mut note = Note::parse(&format!("{TEXT}\n{peter_line}")).unwrap();
    let mut bad = note.signatures[0].clone();
    bad.signature[0] ^= 1;
    note.signatures = vec![bad];
    note.add_signature(signer.sign(TEXT).unwrap());
    assert_eq!(note.to_message(), format!("{TEXT}\n{peter_line}"));
}

#[test]
fn verifier_key_manglings_are_rejected() {
    let key = line(PETER_VKEY);
    let bytes = key.as_bytes();
    for start in 0..=bytes.len() {
        for end in start + 1..=bytes.len() {
            if start == 0 && end == bytes.len() {
                continue;
            }
            let part = &key[start..end];
            assert!(
                VerifierKey::parse(part).is_err(),
                "accepted substring {part:?}"
            );
        }
    }
    for i in 0..bytes.len() {
        let mut mangled = bytes.to_vec();
        mangled[i] += 1;
        let mangled = String::from_utf8(mangled).unwrap();
        assert!(
            VerifierKey::parse(&mangled).is_err(),
            "accepted {mangled:?}"
        );
    }
    // Wrong key length and unknown algorithm, each with a matching key id.
    // (Go accepts the non-canonical trailing bits of the first one's base64
    // and then rejects the length; this crate's base64 decoding is strict.)
    assert_eq!(
        VerifierKey::parse(
            "PeterNeumann+cc469956+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TWBADKEY=="
        ),
        Err(KeyError::InvalidBase64)
    );
    assert_eq!(
        VerifierKey::parse("PeterNeumann+173116ae+ZRpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"),
        Err(KeyError::UnknownKeyType { type_byte: 0x65 })
    );
}

#[test]
fn signer_key_manglings_are_rejected() {
    let key = line(PETER_SKEY);
    let bytes = key.as_bytes();
    for start in 0..=bytes.len() {
        for end in start + 1..=bytes.len() {
            if start == 0 && end == bytes.len() {
                continue;
            }
            let part = &key[start..end];
            assert!(
                SignerKey::parse(part).is_err(),
                "accepted substring {part:?}"
            );
        }
    }
    for i in 0..bytes.len() {
        let mut mangled = bytes.to_vec();
        mangled[i] += 1;
        let mangled = String::from_utf8(mangled).unwrap();
        assert!(
            SignerKey::parse(&mangled).is_err(),
            "accepted a mangled key"
        );
    }
}

#[test]
fn open_verifies_known_and_ignores_unknown_signatures() {
    let (peter_line, enoch_line) = signature_lines();
    let only_peter = open_note(TWO_SIGNATURES, &[peter()]).unwrap();
    assert_eq!(only_peter.text, TEXT);
    assert_eq!(only_peter.verified.len(), 1);
    assert_eq!(only_peter.verified[0].key, peter());
    assert_eq!(only_peter.verified[0].signature.to_line(), peter_line);
    assert_eq!(only_peter.verified[0].time_unix_s, None);
    assert_eq!(only_peter.unverified.len(), 1);
    assert_eq!(only_peter.unverified[0].to_line(), enoch_line);

    let both = open_note(TWO_SIGNATURES, &[peter(), enoch()]).unwrap();
    assert_eq!(both.verified.len(), 2);
    assert!(both.unverified.is_empty());
    assert!(both.signature_by("EnochRoot").is_some());

    assert_eq!(
        open_note(TWO_SIGNATURES, &[]),
        Err(NoteError::NoKnownSignature {
            signers: "PeterNeumann+c74f20a3, EnochRoot+af0cfe78".into()
        })
    );
}

#[test]
fn a_bad_signature_by_a_known_key_rejects_the_note() {
    let (peter_line, enoch_line) = signature_lines();
    // Splice "ABCD" into the base64, as Go's tests do.
    let bad_peter = format!("{}ABCD{}", &peter_line[..60], &peter_line[60..]);
    assert_eq!(
        open_note(&format!("{TEXT}\n{bad_peter}"), &[peter()]),
        Err(NoteError::InvalidSignature {
            name: "PeterNeumann".into(),
            key_id: 0xc74f20a3
        })
    );
    // A bad signature by an unknown key is merely unverified; duplicate
    // signatures by one known key are checked once; identical unknown
    // signature lines are listed once.
    let bad_enoch = format!("{}ABCD{}", &enoch_line[..60], &enoch_line[60..]);
    let message = format!("{TEXT}\n{peter_line}{peter_line}{enoch_line}{enoch_line}{bad_enoch}");
    let opened = open_note(&message, &[peter()]).unwrap();
    assert_eq!(opened.verified.len(), 1);
    assert_eq!(opened.unverified.len(), 2);
    // The same key listed twice is a configuration error.
    assert_eq!(
        open_note(
            &format!("{TEXT}\n{enoch_line}"),
            &[enoch(), peter(), enoch()]
        ),
        Err(NoteError::AmbiguousKey {
            name: "EnochRoot".into(),
            key_id: 0xaf0cfe78
        })
    );
    // Unknown keys sharing only the name, or only the key id, are ignored.
    let renamed = peter_line.replace("PeterNeumann", "CarmenSandiego");
    assert!(matches!(
        open_note(&format!("{TEXT}\n{renamed}"), &[peter()]),
        Err(NoteError::NoKnownSignature { .. })
    ));
}

#[test]
fn malformed_notes_are_rejected_with_reason() {
    let (peter_line, _) = signature_lines();
    let known = [peter()];
    let cases = [
        (TEXT.to_owned(), NoteError::MissingSignatureBlock),
        (format!("{TEXT}\n"), NoteError::UnterminatedSignatureBlock),
        (
            format!("{TEXT}\n{}", peter_line.trim_end()),
            NoteError::UnterminatedSignatureBlock,
        ),
        (
            format!("\u{1}{TEXT}\n{peter_line}"),
            NoteError::ControlCharacter {
                code: 1,
                offset_bytes: 0,
            },
        ),
    ];
    for (message, expected) in cases {
        assert_eq!(open_note(&message, &known), Err(expected), "{message:?}");
    }
    let bad_name = format!("{TEXT}\n{}", peter_line.replace("PeterNeumann", "Bad Name"));
    assert!(matches!(
        open_note(&bad_name, &known),
        Err(NoteError::MalformedSignatureLine { .. })
    ));
    let unexpected = format!("{TEXT}\n{peter_line}Unexpected line.\n");
    assert!(matches!(
        open_note(&unexpected, &known),
        Err(NoteError::MalformedSignatureLine { .. })
    ));
    let too_many = format!("{TEXT}\n{}", peter_line.repeat(MAX_NOTE_SIGNATURES + 1));
    assert_eq!(
        open_note(&too_many, &known),
        Err(NoteError::TooManySignatures)
    );
    // At the limit it is accepted.
    let at_limit = format!("{TEXT}\n{}", peter_line.repeat(MAX_NOTE_SIGNATURES));
    assert!(open_note(&at_limit, &known).is_ok());
}

#[test]
fn note_text_may_contain_blank_lines() {
    let signer = SignerKey::from_seed("n", KeyType::Ed25519, [9; 32]).unwrap();
    let text = "first\n\nthird\n\n";
    let message = sign_note(text, &[&signer]).unwrap();
    let opened = open_note(&message, &[signer.verifier_key()]).unwrap();
    assert_eq!(opened.text, text);
}

struct Parties {
    log: SignerKey,
    ua: SignerKey,
    ru: SignerKey,
    observer: SignerKey,
}

fn parties() -> Parties {
    Parties {
        log: SignerKey::from_seed("truce.example/log", KeyType::Ed25519, [1; 32]).unwrap(),
        ua: SignerKey::from_seed("ua.example/witness", KeyType::CosignatureV1, [2; 32]).unwrap(),
        ru: SignerKey::from_seed("ru.example/witness", KeyType::CosignatureV1, [3; 32]).unwrap(),
        observer: SignerKey::from_seed("observer.example", KeyType::CosignatureV1, [4; 32])
            .unwrap(),
    }
}

fn cosigned(p: &Parties, cosigners: &[&SignerKey]) -> String {
    let checkpoint = Checkpoint::new("truce.example/log", 5, empty_root());
    let mut note = Note::parse(&checkpoint.sign(&p.log).unwrap()).unwrap();
    for cosigner in cosigners {
        note.add_signature(cosigner.cosign(&note.text, 1_700_000_000).unwrap());
    }
    note.to_message()
}

#[test]
fn quorum_needs_the_log_and_every_required_witness() {
    let p = parties();
    let witnesses = [
        p.ua.verifier_key(),
        p.ru.verifier_key(),
        p.observer.verifier_key(),
    ];
    let required = ["ua.example/witness", "ru.example/witness"];
    let log_key = p.log.verifier_key();

    let full = cosigned(&p, &[&p.ua, &p.ru, &p.observer]);
    let verified = verify_quorum(&full, &log_key, &witnesses, &required).unwrap();
    assert_eq!(verified.checkpoint.size, 5);
    assert_eq!(verified.log_signature.key, log_key);
    assert_eq!(verified.cosignatures.len(), 3);
    assert!(
        verified
            .cosignatures
            .iter()
            .all(|c| c.time_unix_s == Some(1_700_000_000))
    );

    let missing_ru = cosigned(&p, &[&p.ua, &p.observer]);
    assert_eq!(
        verify_quorum(&missing_ru, &log_key, &witnesses, &required),
        Err(QuorumError::MissingCosignatures {
            missing: vec!["ru.example/witness".into()]
        })
    );
    // Without a policy on RU, the same checkpoint is fine.
    assert!(verify_quorum(&missing_ru, &log_key, &witnesses, &required[..1]).is_ok());

    // Witness cosignatures without the log's signature are not enough.
    let checkpoint_text = Checkpoint::new("truce.example/log", 5, empty_root()).to_text();
    let mut unsigned_by_log = Note::new(&checkpoint_text).unwrap();
    unsigned_by_log.add_signature(p.ua.cosign(&checkpoint_text, 1).unwrap());
    unsigned_by_log.add_signature(p.ru.cosign(&checkpoint_text, 1).unwrap());
    assert_eq!(
        verify_quorum(
            &unsigned_by_log.to_message(),
            &log_key,
            &witnesses,
            &required
        ),
        Err(QuorumError::MissingLogSignature {
            log_key: format!("truce.example/log+{:08x}", log_key.key_id())
        })
    );

    // A tampered cosignature by a known witness rejects the checkpoint.
    let mut tampered = Note::parse(&full).unwrap();
    tampered.signatures[1].signature[20] ^= 1;
    assert!(matches!(
        verify_quorum(&tampered.to_message(), &log_key, &witnesses, &required),
        Err(QuorumError::Note(NoteError::InvalidSignature { .. }))
    ));

    // A cosignature's time is signed: changing it breaks the signature.
    let mut retimed = Note::parse(&full).unwrap();
    retimed.signatures[1].signature[7] ^= 1;
    assert!(matches!(
        verify_quorum(&retimed.to_message(), &log_key, &witnesses, &required),
        Err(QuorumError::Note(NoteError::InvalidSignature { .. }))
    ));

    assert_eq!(
        verify_quorum(&full, &log_key, &witnesses[..1], &required),
        Err(QuorumError::RequiredWitnessNotConfigured {
            name: "ru.example/witness".into()
        })
    );
}

#[test]
fn checkpoint_origin_must_be_the_log_key_name() {
    let p = parties();
    let other = SignerKey::from_seed("other.example/log", KeyType::Ed25519, [5; 32]).unwrap();
    let signed = Checkpoint::new("truce.example/log", 1, empty_root())
        .sign(&other)
        .unwrap();
    assert_eq!(
        verify_checkpoint(&signed, &other.verifier_key()),
        Err(QuorumError::OriginMismatch {
            origin: "truce.example/log".into(),
            log_key_name: "other.example/log".into()
        })
    );
    // The signature is by a key the verifier does not know.
    assert!(matches!(
        verify_checkpoint(&signed, &p.log.verifier_key()),
        Err(QuorumError::Note(NoteError::NoKnownSignature { .. }))
    ));
}

#[test]
fn signed_text_that_is_not_a_checkpoint_is_rejected() {
    let p = parties();
    let message = sign_note("just a note\n", &[&p.log]).unwrap();
    assert!(matches!(
        verify_checkpoint(&message, &p.log.verifier_key()),
        Err(QuorumError::Checkpoint(_))
    ));
}
