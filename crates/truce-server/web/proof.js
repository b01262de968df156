// Checks a log proof in the browser, trusting nothing the server says without checking it:
// the entry's leaf hash and its inclusion proof up to the checkpoint's root (RFC 6962 / RFC 9162
// §2.1.3.2, SHA-256 through WebCrypto), and the checkpoint's Ed25519 signature (C2SP
// signed-note) with the log's verifier key, through WebCrypto's Ed25519 where the browser has
// it. Where it has not, the result says the signature was not checked: never a green tick.

const te = new TextEncoder();

export function b64decode(s) {
  const bin = atob(s.trim());
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

function concat(...parts) {
  const n = parts.reduce((a, p) => a + p.length, 0);
  const out = new Uint8Array(n);
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

async function sha256(bytes) {
  return new Uint8Array(await crypto.subtle.digest('SHA-256', bytes));
}

function equal(a, b) {
  if (a.length !== b.length) return false;
  let d = 0;
  for (let i = 0; i < a.length; i++) d |= a[i] ^ b[i];
  return d === 0;
}

const hex = (b) => Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');

/** SHA-256(0x00 ‖ entry): an RFC 6962 leaf. */
export const leafHash = (entry) => sha256(concat(new Uint8Array([0]), entry));
/** SHA-256(0x01 ‖ left ‖ right): an RFC 6962 interior node. */
export const nodeHash = (l, r) => sha256(concat(new Uint8Array([1]), l, r));

/** The root an inclusion proof leads to from `leaf` at `index` in a tree of `size`, or null. */
export async function rootFromInclusion(index, size, leaf, proof) {
  if (index >= size) return null;
  let fn = index;
  let sn = size - 1;
  let r = leaf;
  for (const p of proof) {
    if (sn === 0) return null;
    if (fn % 2 === 1 || fn === sn) {
      r = await nodeHash(p, r);
      while (fn % 2 === 0 && fn !== 0) {
        fn = Math.floor(fn / 2);
        sn = Math.floor(sn / 2);
      }
    } else {
      r = await nodeHash(r, p);
    }
    fn = Math.floor(fn / 2);
    sn = Math.floor(sn / 2);
  }
  return sn === 0 ? r : null;
}

/** A C2SP checkpoint note: its signed text, origin, size, root and signature lines. */
export function parseCheckpoint(note) {
  const cut = note.lastIndexOf('\n\n');
  if (cut < 0) throw new Error('not a signed note');
  const text = note.slice(0, cut + 1);
  const lines = text.split('\n');
  const sigs = note
    .slice(cut + 2)
    .split('\n')
    .filter((l) => l.startsWith('\u2014 '))
    .map((l) => {
      const [name, b64] = l.slice(2).split(' ');
      return { name, sig: b64decode(b64) };
    });
  return { text, origin: lines[0], size: Number(lines[1]), root: lines[2], sigs };
}

/** A verifier key `name+keyid+base64(0x01 ‖ key)`; its key id is recomputed and checked. */
export async function parseVerifierKey(vkey) {
  const s = vkey.trim();
  const a = s.indexOf('+');
  const b = s.indexOf('+', a + 1);
  if (a < 0 || b < 0) throw new Error('not a verifier key');
  const name = s.slice(0, a);
  const id = s.slice(a + 1, b).toLowerCase();
  const material = b64decode(s.slice(b + 1));
  if (material.length !== 33 || material[0] !== 1) throw new Error('not an Ed25519 log key');
  const digest = await sha256(concat(te.encode(name + '\n'), material));
  if (hex(digest.slice(0, 4)) !== id) throw new Error('the key id does not match the key');
  return { name, id, key: material.slice(1) };
}

/** Whether WebCrypto here verifies Ed25519. */
export async function ed25519Available() {
  try {
    await crypto.subtle.importKey('raw', new Uint8Array(32).fill(1), { name: 'Ed25519' }, false, [
      'verify',
    ]);
    return true;
  } catch (_) {
    return false;
  }
}

/**
 * The checkpoint's signature by `vkey`: 'verified', 'failed' (with a reason) or 'unchecked'
 * (no Ed25519 in this browser, or no key to check against).
 */
export async function checkSignature(cp, vkey) {
  if (!vkey) return { status: 'unchecked', reason: 'no-key' };
  let k;
  try {
    k = await parseVerifierKey(vkey);
  } catch (e) {
    return { status: 'failed', reason: e.message };
  }
  if (cp.origin !== k.name) return { status: 'failed', reason: 'origin is not the key name' };
  const line = cp.sigs.find((s) => s.name === k.name && hex(s.sig.slice(0, 4)) === k.id);
  if (!line) return { status: 'failed', reason: 'not signed by the log key' };
  if (line.sig.length !== 68) return { status: 'failed', reason: 'malformed signature' };
  let key;
  try {
    key = await crypto.subtle.importKey('raw', k.key, { name: 'Ed25519' }, false, ['verify']);
  } catch (_) {
    return { status: 'unchecked', reason: 'no-ed25519' };
  }
  const ok = await crypto.subtle.verify({ name: 'Ed25519' }, key, line.sig.slice(4), te.encode(cp.text));
  return ok ? { status: 'verified' } : { status: 'failed', reason: 'bad signature' };
}

/**
 * Checks a proof document (`GET /api/log/proof/{seq}`): the entry's leaf leads through the
 * inclusion proof to the root the signed checkpoint states, and the checkpoint is signed. The
 * leaf is hashed here from the entry's bytes; where the server withheld them from this role
 * (`withheld` says why), the document's `leaf_hash` is all there is: the check then proves
 * that entry `leaf_index` is in the log, not what it holds — the answer's `withheld` says so.
 * Answers { inclusion: bool, signature: {status, reason}, reason, withheld }.
 */
export async function checkProof(doc, vkey) {
  let cp;
  try {
    cp = parseCheckpoint(doc.checkpoint);
  } catch (e) {
    return { inclusion: false, signature: { status: 'failed', reason: e.message }, reason: e.message };
  }
  const signature = await checkSignature(cp, vkey);
  if (cp.size !== doc.tree_size) {
    return { inclusion: false, signature, reason: 'tree size differs from the checkpoint' };
  }
  const withheld = doc.entry == null ? doc.withheld || 'withheld' : null;
  let root;
  try {
    let leaf;
    if (withheld) {
      leaf = b64decode(doc.leaf_hash || '');
      if (leaf.length !== 32) throw new Error('no entry and no leaf hash');
    } else {
      leaf = await leafHash(b64decode(doc.entry));
      if (doc.leaf_hash && !equal(leaf, b64decode(doc.leaf_hash))) {
        return { inclusion: false, signature, reason: 'the entry is not what its leaf hash says', withheld };
      }
    }
    root = await rootFromInclusion(doc.leaf_index, doc.tree_size, leaf, doc.inclusion.map(b64decode));
  } catch (e) {
    return { inclusion: false, signature, reason: e.message, withheld };
  }
  const inclusion = root !== null && equal(root, b64decode(cp.root));
  return { inclusion, signature, reason: inclusion ? '' : 'the entry does not lead to the signed root', withheld };
}
